//! Appends to the change log, in the same transaction as the change.

use sqlx::PgConnection;
use tributary_model::{Model, Timestamp};

use crate::codec::kind_str;
use crate::{ChangeKind, StoreError};

pub(crate) async fn append(
    conn: &mut PgConnection,
    integration_id: &str,
    run_id: &str,
    entries: &[(Model, &str, ChangeKind)],
    at: Timestamp,
) -> Result<(), StoreError> {
    if entries.is_empty() {
        return Ok(());
    }
    let models: Vec<&str> = entries.iter().map(|(m, _, _)| m.as_str()).collect();
    let ids: Vec<&str> = entries.iter().map(|(_, id, _)| *id).collect();
    let kinds: Vec<&str> = entries.iter().map(|(_, _, k)| kind_str(*k)).collect();
    sqlx::query(concat!(
        "INSERT INTO changes (integration_id, model, record_id, kind, run_id, at) ",
        "SELECT $1, m, r, k, $5, $6 FROM UNNEST($2::text[], $3::text[], $4::text[]) WITH ORDINALITY AS u(m, r, k, n) ",
        "ORDER BY n"
    ))
    .bind(integration_id)
    .bind(models)
    .bind(ids)
    .bind(kinds)
    .bind(run_id)
    .bind(at)
    .execute(conn)
    .await?;
    Ok(())
}
