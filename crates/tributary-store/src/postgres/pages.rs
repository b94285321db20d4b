//! A page write's steps that Postgres does in one statement each, with data-modifying CTEs
//! that SQLite lacks: the edge work and the bookkeeping (the rest of the write is written once,
//! `crate::ops::mirror_writes` and `crate::ops::pages`). A page costs a fixed number of round
//! trips whatever its size: lock, fence, existing hashes, upsert, edges, bookkeeping, commit.

use serde_json::Value;
use sqlx::PgConnection;
use tributary_model::Timestamp;

use crate::codec::kind_str;
use crate::page::{self, Edge, PagePlan};
use crate::{RunWrite, StoreError};

/// apply_page's edge work in one statement: moves `updated_at` of every dependent of `changed`
/// under the old edges (read from the statement's snapshot, i.e. before the delete) or the new
/// ones, except the changed records themselves; and makes the edges `changed` declare exactly
/// `new_edges`. Only the `replaced` ones among them (which existed before) can have stored
/// edges to drop; in a first FULL that is none, and the delete probes nothing.
pub(crate) async fn replace_edges(
    conn: &mut PgConnection,
    integration_id: &str,
    changed: &[String],
    replaced: &[String],
    new_edges: &[Edge],
    now: Timestamp,
) -> Result<(), StoreError> {
    let new_dependents = page::dependents_to_bump(changed, Vec::new(), new_edges);
    let mut declared_by = Vec::with_capacity(new_edges.len());
    let mut dependent = Vec::with_capacity(new_edges.len());
    let mut source = Vec::with_capacity(new_edges.len());
    for e in new_edges {
        declared_by.push(e.declared_by.as_str());
        dependent.push(e.dependent.as_str());
        source.push(e.source.as_str());
    }
    sqlx::query(concat!(
        // CTEs share one snapshot: deleting an edge and re-inserting it in the same statement
        // would lose it (the insert sees the old row and skips), so only edges that are no
        // longer declared are deleted, and the insert skips those that stay.
        "WITH declared AS (SELECT * FROM UNNEST($3::text[], $4::text[], $5::text[]) AS u(d, p, s)), ",
        "dropped AS (DELETE FROM record_deps r WHERE r.integration_id = $1 AND r.declared_by = ANY($8) ",
        "  AND NOT EXISTS (SELECT 1 FROM declared WHERE d = r.declared_by AND p = r.dependent_id AND s = r.source_id)), ",
        "added AS (INSERT INTO record_deps (integration_id, declared_by, dependent_id, source_id) ",
        "  SELECT $1, d, p, s FROM declared ON CONFLICT DO NOTHING) ",
        // ARRAY(...) keeps the target set small and explicit, so Postgres walks the
        // (integration_id, id) index instead of filtering every record of the integration.
        "UPDATE records SET updated_at = $7 WHERE integration_id = $1 AND id = ANY(ARRAY(",
        "  SELECT dependent_id FROM record_deps WHERE integration_id = $1 AND source_id = ANY($2) ",
        "  UNION SELECT unnest($6::text[]))) ",
        "AND id <> ALL($2) AND updated_at < $7"
    ))
    .bind(integration_id)
    .bind(changed)
    .bind(declared_by)
    .bind(dependent)
    .bind(source)
    .bind(new_dependents)
    .bind(now)
    .bind(replaced)
    .execute(conn)
    .await?;
    Ok(())
}

/// The batch's bookkeeping in one statement: its change-log entries, its seen ids (one row for
/// the whole batch) and the run's counters, changed models and joins, and checkpoint. Returns
/// how many runs it updated (0: no such run, and the caller rolls back).
pub(crate) async fn bookkeeping(
    conn: &mut PgConnection,
    run: &RunWrite,
    plan: &PagePlan,
    checkpoint: &Value,
    now: Timestamp,
) -> Result<u64, StoreError> {
    let outcome = &plan.outcome;
    let models: Vec<&str> = plan.changes.iter().map(|(m, _, _)| m.as_str()).collect();
    let ids: Vec<&str> = plan.changes.iter().map(|(_, id, _)| id.as_str()).collect();
    let kinds: Vec<&str> = plan.changes.iter().map(|(_, _, k)| kind_str(*k)).collect();
    let done = sqlx::query(concat!(
        "WITH logged AS (",
        "  INSERT INTO changes (integration_id, model, record_id, kind, run_id, at) ",
        "  SELECT $2, m, r, k, $1, $11 FROM UNNEST($8::text[], $9::text[], $10::text[]) WITH ORDINALITY AS u(m, r, k, n) ",
        "  ORDER BY n), ",
        "seen AS (INSERT INTO run_seen (run_id, integration_id, ids) VALUES ($1, $2, $7)) ",
        "UPDATE sync_runs SET pages_fetched = pages_fetched + $14, created_count = created_count + $3, ",
        "updated_count = updated_count + $4, unchanged_count = unchanged_count + $5, checkpoint = $6, ",
        // The models this run changed, for finish_run's data-changed event (sorted, distinct).
        "changed_models = CASE WHEN cardinality($12::text[]) = 0 THEN changed_models ELSE ",
        crate::dialect::postgres::sorted_union!("changed_models", "$12"),
        " END, ",
        // The join tables whose memberships it changed, likewise.
        "changed_joins = CASE WHEN cardinality($13::text[]) = 0 THEN changed_joins ELSE ",
        crate::dialect::postgres::sorted_union!("changed_joins", "$13"),
        " END WHERE id = $1 AND integration_id = $2"
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
    .bind(plan.pages)
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}
