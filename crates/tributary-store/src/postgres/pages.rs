//! `apply_page`: one page of a run, written atomically with its checkpoint.
//!
//! A page costs a fixed number of round trips whatever its size (lock, fence, existing hashes,
//! upsert, edges, bookkeeping, commit): changed records go in one
//! `INSERT ... SELECT FROM UNNEST(...)`, and the statements after it chain their steps in
//! data-modifying CTEs.

use std::collections::HashMap;

use serde_json::Value;
use sqlx::types::Json;
use sqlx::{PgConnection, PgPool, Row};
use tributary_model::{Model, Timestamp};

use super::{dependents, write_lock};
use crate::codec::{kind_str, parse_model};
use crate::page::{self, Existing, PagePlan};
use crate::{ChangeKind, PageWrite, PreparedRecord, RunWrite, StoreError, WriteOutcome, clock};

pub(super) async fn apply(pool: &PgPool, run: &RunWrite, page: PageWrite) -> Result<WriteOutcome, StoreError> {
    let records = page::dedupe(page.records);
    let integration_id = run.integration_id.as_str();
    let mut tx = pool.begin().await?;
    let current = write_lock::lock_fenced_scope(&mut tx, integration_id, run.fence).await?;
    // Under the lock, in this transaction: a scope change cannot slip between check and write.
    let pass: Option<i64> = sqlx::query_scalar("SELECT scope_version FROM sync_runs WHERE id = $1")
        .bind(&run.run_id)
        .fetch_optional(&mut *tx)
        .await?
        .flatten();
    page::check_scope(run, page.scope_version, current, pass)?;
    // Only now, holding the lock, is the write's instant taken (invariant I3).
    let now = clock::now();

    let ids: Vec<&str> = records.iter().map(|r| r.id.as_str()).collect();
    let existing = existing(&mut tx, integration_id, &ids).await?;
    let plan = page::plan(records, &existing, page.scope_version);

    if !plan.restamped.is_empty() {
        sqlx::query("UPDATE records SET scope_version = $3 WHERE integration_id = $1 AND id = ANY($2)")
            .bind(integration_id)
            .bind(&plan.restamped)
            .bind(page.scope_version)
            .execute(&mut *tx)
            .await?;
    }
    if !plan.writes.is_empty() {
        upsert(
            &mut tx,
            integration_id,
            &plan.writes,
            &plan.join_digests,
            page.scope_version,
            now,
        )
        .await?;
        let changed = plan.written_ids();
        let replaced = plan.replaced_ids();
        dependents::replace_and_bump(&mut tx, integration_id, &changed, &replaced, &plan.new_edges(), now).await?;
    }
    finish_page(&mut tx, run, &plan, &page.checkpoint, now).await?;
    tx.commit().await?;
    Ok(plan.outcome)
}

async fn existing(
    conn: &mut PgConnection,
    integration_id: &str,
    ids: &[&str],
) -> Result<HashMap<(Model, String), Existing>, StoreError> {
    let found = sqlx::query(concat!(
        "SELECT model, id, content_hash, remote_deleted_at IS NOT NULL AS deleted, join_digest, scope_version ",
        "FROM records WHERE integration_id = $1 AND id = ANY($2)"
    ))
    .bind(integration_id)
    .bind(ids)
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

/// One statement for the whole batch; `changed_at = updated_at = now`, and a reappearing record
/// is undeleted. `join_digests` (parallel to `writes`) replace the stored ones: the join change
/// was already decided from the digests the existing read returned.
async fn upsert(
    conn: &mut PgConnection,
    integration_id: &str,
    writes: &[(PreparedRecord, ChangeKind)],
    join_digests: &[Option<String>],
    scope_version: i64,
    now: Timestamp,
) -> Result<(), StoreError> {
    let n = writes.len();
    let mut models = Vec::with_capacity(n);
    let mut ids = Vec::with_capacity(n);
    let mut remote_ids = Vec::with_capacity(n);
    let mut parents = Vec::with_capacity(n);
    let mut data = Vec::with_capacity(n);
    let mut remote_data = Vec::with_capacity(n);
    let mut hashes = Vec::with_capacity(n);
    let mut created = Vec::with_capacity(n);
    for (r, _) in writes {
        models.push(r.model.as_str());
        ids.push(r.id.as_str());
        remote_ids.push(r.remote_id.as_str());
        parents.push(r.parent_id.as_deref());
        // Bound as references: sqlx serialises them straight into the argument buffer, where
        // binding `Value`s would first deep-copy every record's JSON.
        data.push(Json(&r.data));
        remote_data.push(r.remote_data.as_ref().map(Json));
        hashes.push(r.hash.to_vec());
        created.push(r.remote_created_at);
    }
    sqlx::query(concat!(
        "INSERT INTO records (integration_id, model, id, remote_id, parent_id, data, remote_data, content_hash, ",
        "remote_created_at, changed_at, updated_at, remote_deleted_at, join_digest, scope_version) ",
        "SELECT $1::text, u.model, u.id, u.remote_id, u.parent_id, u.data, u.remote_data, u.content_hash, ",
        "u.remote_created_at, $2, $2, NULL, u.join_digest, $12 ",
        "FROM UNNEST($3::text[], $4::text[], $5::text[], $6::text[], $7::jsonb[], $8::jsonb[], $9::bytea[], ",
        "$10::timestamptz[], $11::text[]) ",
        "AS u(model, id, remote_id, parent_id, data, remote_data, content_hash, remote_created_at, join_digest) ",
        "ON CONFLICT (integration_id, model, id) DO UPDATE SET remote_id = EXCLUDED.remote_id, ",
        "parent_id = EXCLUDED.parent_id, data = EXCLUDED.data, remote_data = EXCLUDED.remote_data, ",
        "content_hash = EXCLUDED.content_hash, remote_created_at = EXCLUDED.remote_created_at, ",
        "changed_at = EXCLUDED.changed_at, updated_at = EXCLUDED.updated_at, remote_deleted_at = NULL, ",
        "join_digest = EXCLUDED.join_digest, scope_version = EXCLUDED.scope_version"
    ))
    .bind(integration_id)
    .bind(now)
    .bind(models)
    .bind(ids)
    .bind(remote_ids)
    .bind(parents)
    .bind(data)
    .bind(remote_data)
    .bind(hashes)
    .bind(created)
    .bind(join_digests)
    .bind(scope_version)
    .execute(conn)
    .await?;
    Ok(())
}

/// The page's bookkeeping in one statement: its change-log entries, its seen ids (one row for
/// the whole page) and the run's counters, changed models and joins, and checkpoint.
async fn finish_page(
    conn: &mut PgConnection,
    run: &RunWrite,
    plan: &PagePlan,
    checkpoint: &Value,
    now: Timestamp,
) -> Result<(), StoreError> {
    let outcome = &plan.outcome;
    let models: Vec<&str> = plan.writes.iter().map(|(r, _)| r.model.as_str()).collect();
    let ids: Vec<&str> = plan.writes.iter().map(|(r, _)| r.id.as_str()).collect();
    let kinds: Vec<&str> = plan.writes.iter().map(|(_, k)| kind_str(*k)).collect();
    let done = sqlx::query(concat!(
        "WITH logged AS (",
        "  INSERT INTO changes (integration_id, model, record_id, kind, run_id, at) ",
        "  SELECT $2, m, r, k, $1, $11 FROM UNNEST($8::text[], $9::text[], $10::text[]) WITH ORDINALITY AS u(m, r, k, n) ",
        "  ORDER BY n), ",
        "seen AS (INSERT INTO run_seen (run_id, integration_id, ids) VALUES ($1, $2, $7)) ",
        "UPDATE sync_runs SET pages_fetched = pages_fetched + 1, created_count = created_count + $3, ",
        "updated_count = updated_count + $4, unchanged_count = unchanged_count + $5, checkpoint = $6, ",
        // The models this run changed, for finish_run's data-changed event (sorted, distinct).
        "changed_models = CASE WHEN cardinality($12::text[]) = 0 THEN changed_models ELSE ",
        "ARRAY(SELECT DISTINCT m FROM UNNEST(changed_models || $12::text[]) AS m ORDER BY m) END, ",
        // The join tables whose memberships it changed, likewise.
        "changed_joins = CASE WHEN cardinality($13::text[]) = 0 THEN changed_joins ELSE ",
        "ARRAY(SELECT DISTINCT j FROM UNNEST(changed_joins || $13::text[]) AS j ORDER BY j) END ",
        "WHERE id = $1 AND integration_id = $2"
    ))
    .bind(&run.run_id)
    .bind(&run.integration_id)
    .bind(outcome.created)
    .bind(outcome.updated)
    .bind(outcome.unchanged)
    .bind(checkpoint)
    .bind(&plan.seen_ids)
    .bind(models)
    .bind(ids)
    .bind(kinds)
    .bind(now)
    .bind(outcome.changed_models.iter().map(|m| m.as_str()).collect::<Vec<_>>())
    .bind(&plan.changed_joins)
    .execute(conn)
    .await?;
    if done.rows_affected() == 0 {
        // Nothing was committed: the error rolls the transaction back.
        return Err(StoreError::NotFound(format!(
            "run {} of integration {}",
            run.run_id, run.integration_id
        )));
    }
    Ok(())
}
