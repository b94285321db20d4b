//! A page write's batch statements on Postgres (the write itself is `crate::ops::mirror_writes`).
//!
//! A page costs a fixed number of round trips whatever its size (lock, fence, existing hashes,
//! upsert, edges, bookkeeping, commit): changed records go in one
//! `INSERT ... SELECT FROM UNNEST(...)`, and the statements after it chain their steps in
//! data-modifying CTEs.

use serde_json::Value;
use sqlx::PgConnection;
use sqlx::types::Json;
use tributary_model::Timestamp;

use super::dependents;
use crate::codec::kind_str;
use crate::page::PagePlan;
use crate::{ChangeKind, PreparedRecord, RunWrite, StoreError};

/// What a write does besides its rows: replace the changed records' edges and move their
/// dependents (the change log goes with [`finish`]'s statement).
pub(crate) async fn written(
    conn: &mut PgConnection,
    run: &RunWrite,
    plan: &PagePlan,
    now: Timestamp,
) -> Result<(), StoreError> {
    let changed = plan.written_ids();
    let replaced = plan.replaced_ids();
    dependents::replace_and_bump(conn, &run.integration_id, &changed, &replaced, &plan.new_edges(), now).await
}

/// One statement for the whole batch; `changed_at = updated_at = now`, and a reappearing record
/// is undeleted. `join_digests` (parallel to `writes`) replace the stored ones: the join change
/// was already decided from the digests the existing read returned.
pub(crate) async fn upsert(
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
/// the whole page) and the run's counters, changed models and joins, and checkpoint. Returns
/// how many runs it updated (0: no such run).
pub(crate) async fn finish(
    conn: &mut PgConnection,
    run: &RunWrite,
    plan: &PagePlan,
    checkpoint: &Value,
    now: Timestamp,
) -> Result<u64, StoreError> {
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
    Ok(done.rows_affected())
}
