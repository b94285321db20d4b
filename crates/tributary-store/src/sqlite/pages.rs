//! `apply_page` on SQLite: the same steps as on Postgres inside one `BEGIN IMMEDIATE`
//! transaction. Changed records go through one prepared upsert executed per record: inside a
//! transaction on a local file that costs microseconds each, and it keeps the SQL plain.

use std::collections::HashMap;

use serde_json::Value;
use sqlx::{Row, SqliteConnection, SqlitePool};
use tributary_model::{Model, Timestamp};

use super::{change_log, dependents, webhooks, write_lock};
use crate::codec::parse_model;
use crate::page::{self, Existing};
use crate::{ChangeKind, PageWrite, PreparedRecord, RunWrite, StoreError, WriteOutcome, clock};

pub(super) async fn apply(pool: &SqlitePool, run: &RunWrite, page: PageWrite) -> Result<WriteOutcome, StoreError> {
    let records = page::dedupe(page.records);
    let integration_id = run.integration_id.as_str();
    let mut tx = write_lock::begin(pool).await?;
    let current = write_lock::check_fence_scope(&mut tx, integration_id, run.fence).await?;
    // Under the write lock, in this transaction: a scope change cannot slip between check and
    // write.
    let pass: Option<i64> = sqlx::query_scalar("SELECT scope_version FROM sync_runs WHERE id = ?1")
        .bind(&run.run_id)
        .fetch_optional(&mut *tx)
        .await?
        .flatten();
    page::check_scope(run, page.scope_version, current, pass)?;
    // Only now, holding the write lock, is the write's instant taken (invariant I3).
    let now = clock::now();

    let ids: Vec<&str> = records.iter().map(|r| r.id.as_str()).collect();
    let existing = existing(&mut tx, integration_id, &ids).await?;
    let plan = page::plan(records, &existing, page.scope_version);

    if !plan.restamped.is_empty() {
        sqlx::query(concat!(
            "UPDATE records SET scope_version = ?3 WHERE integration_id = ?1 ",
            "AND id IN (SELECT value FROM json_each(?2))"
        ))
        .bind(integration_id)
        .bind(serde_json::to_string(&plan.restamped)?)
        .bind(page.scope_version)
        .execute(&mut *tx)
        .await?;
    }
    if !plan.writes.is_empty() {
        for ((record, _), digest) in plan.writes.iter().zip(&plan.join_digests) {
            upsert(
                &mut tx,
                integration_id,
                record,
                digest.as_deref(),
                page.scope_version,
                now,
            )
            .await?;
        }
        let changed = plan.written_ids();
        let new_edges = plan.new_edges();
        let old_dependents = dependents::of(&mut tx, integration_id, &changed).await?;
        dependents::replace(&mut tx, integration_id, &plan.replaced_ids(), &new_edges).await?;
        let bump = page::dependents_to_bump(&changed, old_dependents, &new_edges);
        dependents::bump(&mut tx, integration_id, &bump, now).await?;
        let entries: Vec<(Model, &str, ChangeKind)> = plan
            .writes
            .iter()
            .map(|(r, kind)| (r.model, r.id.as_str(), *kind))
            .collect();
        change_log::append(&mut tx, integration_id, &run.run_id, &entries, now).await?;
    }

    sqlx::query("INSERT INTO run_seen (run_id, integration_id, ids) VALUES (?1, ?2, ?3)")
        .bind(&run.run_id)
        .bind(integration_id)
        .bind(serde_json::to_string(&plan.seen_ids)?)
        .execute(&mut *tx)
        .await?;
    record_progress(&mut tx, run, &plan.outcome, &page.checkpoint).await?;
    webhooks::note_changed_models(
        &mut tx,
        &run.run_id,
        integration_id,
        &plan.outcome.changed_models,
        &plan.changed_joins,
    )
    .await?;
    tx.commit().await?;
    Ok(plan.outcome)
}

async fn existing(
    conn: &mut SqliteConnection,
    integration_id: &str,
    ids: &[&str],
) -> Result<HashMap<(Model, String), Existing>, StoreError> {
    let found = sqlx::query(concat!(
        "SELECT model, id, content_hash, remote_deleted_at IS NOT NULL AS deleted, join_digest, scope_version ",
        "FROM records WHERE integration_id = ?1 AND id IN (SELECT value FROM json_each(?2))"
    ))
    .bind(integration_id)
    .bind(serde_json::to_string(ids)?)
    .fetch_all(conn)
    .await?;
    let mut out = HashMap::with_capacity(found.len());
    for row in found {
        let model = parse_model(row.try_get("model")?)?;
        out.insert(
            (model, row.try_get("id")?),
            Existing {
                hash: row.try_get("content_hash")?,
                deleted: row.try_get("deleted")?,
                join_digest: row.try_get("join_digest")?,
                scope_version: row.try_get("scope_version")?,
            },
        );
    }
    Ok(out)
}

async fn upsert(
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
) -> Result<(), StoreError> {
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
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound(format!(
            "run {} of integration {}",
            run.run_id, run.integration_id
        )));
    }
    Ok(())
}
