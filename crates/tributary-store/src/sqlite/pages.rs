//! A page write's statements that differ on SQLite (the write itself is
//! `crate::ops::mirror_writes`). Changed records go through one prepared upsert executed per
//! record: inside a transaction on a local file that costs microseconds each, and it keeps the
//! SQL plain.

use serde_json::Value;
use sqlx::SqliteConnection;
use tributary_model::{Model, Timestamp};

use super::dependents::replace;
use crate::ops::change_log::sqlite as change_log;
use crate::ops::dependents::sqlite as dependents;
use crate::ops::events::sqlite::note_changed_models;
use crate::page::{self, PagePlan};
use crate::{ChangeKind, PreparedRecord, RunWrite, StoreError, WriteOutcome, clock};

/// The page's changed records, one statement each. `join_digests` is parallel to `writes`.
pub(crate) async fn upsert(
    conn: &mut SqliteConnection,
    integration_id: &str,
    writes: &[(PreparedRecord, ChangeKind)],
    join_digests: &[Option<String>],
    scope_version: i64,
    now: Timestamp,
) -> Result<(), StoreError> {
    for ((record, _), digest) in writes.iter().zip(join_digests) {
        upsert_one(conn, integration_id, record, digest.as_deref(), scope_version, now).await?;
    }
    Ok(())
}

/// What a write does besides its rows: replace the changed records' edges, move their
/// dependents, and log the changes.
pub(crate) async fn written(
    conn: &mut SqliteConnection,
    run: &RunWrite,
    plan: &PagePlan,
    now: Timestamp,
) -> Result<(), StoreError> {
    let integration_id = run.integration_id.as_str();
    let changed = plan.written_ids();
    let new_edges = plan.new_edges();
    let old_dependents = dependents::of(&mut *conn, integration_id, &changed).await?;
    replace(&mut *conn, integration_id, &plan.replaced_ids(), &new_edges).await?;
    let bump = page::dependents_to_bump(&changed, old_dependents, &new_edges);
    dependents::bump(&mut *conn, integration_id, &bump, now).await?;
    let entries: Vec<(Model, &str, ChangeKind)> = plan
        .writes
        .iter()
        .map(|(r, kind)| (r.model, r.id.as_str(), *kind))
        .collect();
    change_log::append(conn, integration_id, &run.run_id, &entries, now).await
}

/// The page's bookkeeping: its seen ids (one row for the whole page), the run's counters and
/// checkpoint, then its changed models and joins. Returns how many runs it updated (0: no such
/// run, and nothing more is written). `_now` is Postgres's instant for the change log, which
/// [`written`] logs here.
pub(crate) async fn finish(
    conn: &mut SqliteConnection,
    run: &RunWrite,
    plan: &PagePlan,
    checkpoint: &Value,
    _now: Timestamp,
) -> Result<u64, StoreError> {
    sqlx::query("INSERT INTO run_seen (run_id, integration_id, ids) VALUES (?1, ?2, ?3)")
        .bind(&run.run_id)
        .bind(&run.integration_id)
        .bind(serde_json::to_string(&plan.seen_ids)?)
        .execute(&mut *conn)
        .await?;
    let updated = record_progress(&mut *conn, run, &plan.outcome, checkpoint).await?;
    if updated == 0 {
        return Ok(0);
    }
    note_changed_models(
        conn,
        &run.run_id,
        &run.integration_id,
        &plan.outcome.changed_models,
        &plan.changed_joins,
    )
    .await?;
    Ok(updated)
}

async fn upsert_one(
    conn: &mut SqliteConnection,
    integration_id: &str,
    r: &PreparedRecord,
    join_digest: Option<&str>,
    scope_version: i64,
    now: Timestamp,
) -> Result<(), StoreError> {
    let now = clock::to_text(now);
    sqlx::query(concat!(
        "INSERT INTO records (integration_id, model, id, remote_id, parent_id, data, remote_data, content_hash, ",
        "remote_created_at, changed_at, updated_at, remote_deleted_at, join_digest, scope_version) ",
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10, NULL, ?11, ?12) ",
        "ON CONFLICT (integration_id, model, id) DO UPDATE SET remote_id = excluded.remote_id, ",
        "parent_id = excluded.parent_id, data = excluded.data, remote_data = excluded.remote_data, ",
        "content_hash = excluded.content_hash, remote_created_at = excluded.remote_created_at, ",
        "changed_at = excluded.changed_at, updated_at = excluded.updated_at, remote_deleted_at = NULL, ",
        "join_digest = excluded.join_digest, scope_version = excluded.scope_version"
    ))
    .bind(integration_id)
    .bind(r.model.as_str())
    .bind(&r.id)
    .bind(&r.remote_id)
    .bind(r.parent_id.as_deref())
    .bind(serde_json::to_string(&r.data)?)
    .bind(r.remote_data.as_ref().map(serde_json::to_string).transpose()?)
    .bind(r.hash.to_vec())
    .bind(r.remote_created_at.map(clock::to_text))
    .bind(now)
    .bind(join_digest)
    .bind(scope_version)
    .execute(conn)
    .await?;
    Ok(())
}

async fn record_progress(
    conn: &mut SqliteConnection,
    run: &RunWrite,
    outcome: &WriteOutcome,
    checkpoint: &Value,
) -> Result<u64, StoreError> {
    let done = sqlx::query(concat!(
        "UPDATE sync_runs SET pages_fetched = pages_fetched + 1, created_count = created_count + ?3, ",
        "updated_count = updated_count + ?4, unchanged_count = unchanged_count + ?5, checkpoint = ?6 ",
        "WHERE id = ?1 AND integration_id = ?2"
    ))
    .bind(&run.run_id)
    .bind(&run.integration_id)
    .bind(outcome.created)
    .bind(outcome.updated)
    .bind(outcome.unchanged)
    .bind(serde_json::to_string(checkpoint)?)
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}
