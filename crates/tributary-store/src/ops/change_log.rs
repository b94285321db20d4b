//! Appends to the change log, in the same transaction as the change. Leaf code
//! (`per_dialect!`): the backends' page writes use it too.

use serde_json::json;
use tributary_model::{Model, Timestamp};

use crate::codec::kind_str;
use crate::dialect::per_dialect;
use crate::{ChangeKind, StoreError};

per_dialect! {
    pub(crate) async fn append(
        conn: &mut Conn,
        integration_id: &str,
        run_id: &str,
        entries: &[(Model, &str, ChangeKind)],
        at: Timestamp,
    ) -> Result<(), StoreError> {
        if entries.is_empty() {
            return Ok(());
        }
        let rows: Vec<_> = entries
            .iter()
            .map(|(m, id, k)| json!([m.as_str(), id, kind_str(*k)]))
            .collect();
        sqlx::query(concat!(
            "INSERT INTO changes (integration_id, model, record_id, kind, run_id, at) ",
            "SELECT $1, u.value ->> 0, u.value ->> 1, u.value ->> 2, $3, $4 FROM ",
            json_rows!("$2"),
            " ORDER BY u.key"
        ))
        .bind(integration_id)
        .bind(json(&rows)?)
        .bind(run_id)
        .bind(time(at))
        .execute(conn)
        .await?;
        Ok(())
    }
}
