//! The dependency edges that move a record's `updated_at` (see the Postgres twin). Id lists
//! travel as one JSON array parameter read with `json_each`, so every statement is static.

use serde_json::json;
use sqlx::SqliteConnection;
use tributary_model::Timestamp;

use crate::page::Edge;
use crate::{StoreError, clock};

pub(crate) async fn of(
    conn: &mut SqliteConnection,
    integration_id: &str,
    sources: &[String],
) -> Result<Vec<String>, StoreError> {
    if sources.is_empty() {
        return Ok(Vec::new());
    }
    let found = sqlx::query_scalar(concat!(
        "SELECT DISTINCT dependent_id FROM record_deps ",
        "WHERE integration_id = ?1 AND source_id IN (SELECT value FROM json_each(?2))"
    ))
    .bind(integration_id)
    .bind(serde_json::to_string(sources)?)
    .fetch_all(conn)
    .await?;
    Ok(found)
}

pub(crate) async fn replace(
    conn: &mut SqliteConnection,
    integration_id: &str,
    declarers: &[String],
    edges: &[Edge],
) -> Result<(), StoreError> {
    sqlx::query(
        "DELETE FROM record_deps WHERE integration_id = ?1 AND declared_by IN (SELECT value FROM json_each(?2))",
    )
    .bind(integration_id)
    .bind(serde_json::to_string(declarers)?)
    .execute(&mut *conn)
    .await?;
    if edges.is_empty() {
        return Ok(());
    }
    let triples: Vec<_> = edges
        .iter()
        .map(|e| json!([e.declared_by, e.dependent, e.source]))
        .collect();
    sqlx::query(concat!(
        "INSERT OR IGNORE INTO record_deps (integration_id, declared_by, dependent_id, source_id) ",
        "SELECT ?1, value ->> 0, value ->> 1, value ->> 2 FROM json_each(?2)"
    ))
    .bind(integration_id)
    .bind(serde_json::to_string(&triples)?)
    .execute(conn)
    .await?;
    Ok(())
}

pub(crate) async fn bump(
    conn: &mut SqliteConnection,
    integration_id: &str,
    ids: &[String],
    now: Timestamp,
) -> Result<(), StoreError> {
    if ids.is_empty() {
        return Ok(());
    }
    let now = clock::to_text(now);
    sqlx::query(concat!(
        "UPDATE records SET updated_at = ?3 ",
        "WHERE integration_id = ?1 AND id IN (SELECT value FROM json_each(?2)) AND updated_at < ?3"
    ))
    .bind(integration_id)
    .bind(serde_json::to_string(ids)?)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}
