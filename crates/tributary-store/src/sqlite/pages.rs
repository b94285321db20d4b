//! A page write's steps that Postgres does in one statement each and SQLite, without
//! data-modifying CTEs, in several: the edge work and the bookkeeping (the rest of the write is
//! written once, `crate::ops::mirror_writes` and `crate::ops::pages`). Id lists travel as one
//! JSON array parameter read with `json_each`, so every statement is static.

use serde_json::{Value, json};
use sqlx::SqliteConnection;
use tributary_model::{Model, Timestamp};

use crate::dialect::sqlite::{json, strings};
use crate::ops::change_log::sqlite as change_log;
use crate::ops::dependents::sqlite as ops;
use crate::ops::events::sqlite as events;
use crate::page::{self, Edge, PagePlan};
use crate::{ChangeKind, RunWrite, StoreError};

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

/// The batch's bookkeeping: its change-log entries, its seen ids (one row for the whole batch),
/// the run's counters and checkpoint, then its changed models and joins. Returns how many runs
/// it updated (0: no such run, and nothing more is written; the caller rolls back).
pub(crate) async fn bookkeeping(
    conn: &mut SqliteConnection,
    run: &RunWrite,
    plan: &PagePlan,
    checkpoint: &Value,
    now: Timestamp,
) -> Result<u64, StoreError> {
    let entries: Vec<(Model, &str, ChangeKind)> = plan
        .changes
        .iter()
        .map(|(model, id, kind)| (*model, id.as_str(), *kind))
        .collect();
    change_log::append(&mut *conn, &run.integration_id, &run.run_id, &entries, now).await?;
    sqlx::query("INSERT INTO run_seen (run_id, integration_id, ids) VALUES ($1, $2, $3)")
        .bind(&run.run_id)
        .bind(&run.integration_id)
        .bind(strings(&plan.seen_ids)?)
        .execute(&mut *conn)
        .await?;
    let outcome = &plan.outcome;
    let done = sqlx::query(concat!(
        "UPDATE sync_runs SET pages_fetched = pages_fetched + $7, created_count = created_count + $3, ",
        "updated_count = updated_count + $4, unchanged_count = unchanged_count + $5, checkpoint = $6 ",
        "WHERE id = $1 AND integration_id = $2"
    ))
    .bind(&run.run_id)
    .bind(&run.integration_id)
    .bind(outcome.created)
    .bind(outcome.updated)
    .bind(outcome.unchanged)
    .bind(json(checkpoint)?)
    .bind(plan.pages)
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() == 0 {
        return Ok(0);
    }
    events::note_changed_models(
        conn,
        &run.run_id,
        &run.integration_id,
        &outcome.changed_models,
        &plan.changed_joins,
    )
    .await?;
    Ok(done.rows_affected())
}
