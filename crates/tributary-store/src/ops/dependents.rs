//! The dependency edges that move a record's `updated_at` when nested or linked records change.
//! Leaf code (`per_dialect!`): the backends' page writes use it too; replacing a page's edges
//! stays with them (`backend::dependents`: one statement on Postgres, three on SQLite).

use tributary_model::Timestamp;

use crate::StoreError;
use crate::dialect::per_dialect;

per_dialect! {
    /// Dependents of `sources` under the edges stored now.
    pub(crate) async fn of(conn: &mut Conn, integration_id: &str, sources: &[String]) -> Result<Vec<String>, StoreError> {
        if sources.is_empty() {
            return Ok(Vec::new());
        }
        let found = sqlx::query_scalar(concat!(
            "SELECT DISTINCT dependent_id FROM record_deps WHERE integration_id = $1 AND source_id ",
            in_list!("$2")
        ))
        .bind(integration_id)
        .bind(str_list(sources)?)
        .fetch_all(conn)
        .await?;
        Ok(found)
    }

    /// Moves `updated_at` (not `changed_at`) of the given records to `now`.
    pub(crate) async fn bump(conn: &mut Conn, integration_id: &str, ids: &[String], now: Timestamp) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        sqlx::query(concat!(
            "UPDATE records SET updated_at = $3 WHERE integration_id = $1 AND id ",
            in_list!("$2"),
            " AND updated_at < $3"
        ))
        .bind(integration_id)
        .bind(str_list(ids)?)
        .bind(time(now))
        .execute(conn)
        .await?;
        Ok(())
    }
}
