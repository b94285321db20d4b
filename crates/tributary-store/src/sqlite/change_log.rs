//! Appends to the change log, in the same transaction as the change.

use serde_json::json;
use sqlx::SqliteConnection;
use tributary_model::{Model, Timestamp};

use crate::codec::kind_str;
use crate::{ChangeKind, StoreError, clock};

pub(crate) async fn append(
    conn: &mut SqliteConnection,
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
        "SELECT ?1, value ->> 0, value ->> 1, value ->> 2, ?3, ?4 FROM json_each(?2) ORDER BY key"
    ))
    .bind(integration_id)
    .bind(serde_json::to_string(&rows)?)
    .bind(run_id)
    .bind(clock::to_text(at))
    .execute(conn)
    .await?;
    Ok(())
}
