//! A page's dependency edges replaced on Postgres (the rest is `crate::ops::dependents`).

use sqlx::PgConnection;
use tributary_model::Timestamp;

use crate::StoreError;
use crate::page::{self, Edge};

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
