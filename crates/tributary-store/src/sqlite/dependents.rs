//! A page's dependency edges replaced on SQLite (the rest is `crate::ops::dependents`). Id lists
//! travel as one JSON array parameter read with `json_each`, so every statement is static.

use serde_json::json;
use sqlx::SqliteConnection;

use tributary_model::Timestamp;

use crate::StoreError;
use crate::ops::dependents::sqlite as ops;
use crate::page::{self, Edge};

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

/// A page's edge work: the edges the `changed` records declare become exactly `new_edges`, and
/// the dependents under the old edges (read before they go) or the new ones move their
/// `updated_at`. Three statements: SQLite has no data-modifying CTEs.
pub(crate) async fn replace_edges(
    conn: &mut SqliteConnection,
    integration_id: &str,
    changed: &[String],
    replaced: &[String],
    new_edges: &[Edge],
    now: Timestamp,
) -> Result<(), StoreError> {
    let old_dependents = ops::of(&mut *conn, integration_id, changed).await?;
    replace(&mut *conn, integration_id, replaced, new_edges).await?;
    let bump = page::dependents_to_bump(changed, old_dependents, new_edges);
    ops::bump(conn, integration_id, &bump, now).await
}
