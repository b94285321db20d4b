//! A page write's batch statements (the write itself is `write_page` in
//! `crate::ops::mirror_writes`).
//!
//! A page costs a fixed number of statements whatever its size (lock, fence, existing hashes,
//! upsert, edges, change log, seen ids, counters, changed models, commit): changed records go in
//! one `INSERT ... SELECT` from the page's rows (`page_records!`: `UNNEST` of an array per
//! column on Postgres, `json_each` of one JSON array of rows on SQLite), and the edge work is one
//! statement on Postgres (`replace_edges`).

use serde_json::Value;
use tributary_model::{Model, Timestamp};

use crate::page::PagePlan;
use crate::{ChangeKind, PreparedRecord, RunWrite, StoreError};

per_backend! {
    with [change_log, events]

    /// One statement for the whole batch; `changed_at = updated_at = now`, and a reappearing
    /// record is undeleted. `join_digests` (parallel to `writes`) replace the stored ones: the
    /// join change was already decided from the digests the existing read returned. `WHERE
    /// true`: without a WHERE, SQLite would read ON CONFLICT as a join constraint.
    pub(crate) async fn upsert(
        conn: &mut Conn,
        integration_id: &str,
        writes: &[(PreparedRecord, ChangeKind)],
        join_digests: &[Option<String>],
        scope_version: i64,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let query = sqlx::query(concat!(
            "INSERT INTO records (integration_id, model, id, remote_id, parent_id, data, remote_data, content_hash, ",
            "remote_created_at, changed_at, updated_at, remote_deleted_at, join_digest, scope_version) ",
            "SELECT CAST($1 AS TEXT), u.model, u.id, u.remote_id, u.parent_id, u.data, u.remote_data, u.content_hash, ",
            "u.remote_created_at, $2, $2, NULL, u.join_digest, $3 FROM ",
            page_records!(),
            " WHERE true ON CONFLICT (integration_id, model, id) DO UPDATE SET remote_id = excluded.remote_id, ",
            "parent_id = excluded.parent_id, data = excluded.data, remote_data = excluded.remote_data, ",
            "content_hash = excluded.content_hash, remote_created_at = excluded.remote_created_at, ",
            "changed_at = excluded.changed_at, updated_at = excluded.updated_at, remote_deleted_at = NULL, ",
            "join_digest = excluded.join_digest, scope_version = excluded.scope_version"
        ))
        .bind(integration_id)
        .bind(time(now))
        .bind(scope_version);
        bind_page_records(query, writes, join_digests)?.execute(conn).await?;
        Ok(())
    }

    /// What a write does besides its rows: replace the changed records' edges, move their
    /// dependents, and log the changes.
    pub(crate) async fn written(conn: &mut Conn, run: &RunWrite, plan: &PagePlan, now: Timestamp) -> Result<(), StoreError> {
        let integration_id = run.integration_id.as_str();
        let changed = plan.written_ids();
        backend::dependents::replace_edges(&mut *conn, integration_id, &changed, &plan.replaced_ids(), &plan.new_edges(), now).await?;
        let entries: Vec<(Model, &str, ChangeKind)> = plan
            .writes
            .iter()
            .map(|(r, kind)| (r.model, r.id.as_str(), *kind))
            .collect();
        change_log::append(conn, integration_id, &run.run_id, &entries, now).await
    }

    /// The page's bookkeeping: its seen ids (one row for the whole page), the run's counters
    /// and checkpoint, then its changed models and joins. Returns how many runs it updated (0:
    /// no such run, and nothing more is written).
    pub(crate) async fn finish(conn: &mut Conn, run: &RunWrite, plan: &PagePlan, checkpoint: &Value) -> Result<u64, StoreError> {
        sqlx::query("INSERT INTO run_seen (run_id, integration_id, ids) VALUES ($1, $2, $3)")
            .bind(&run.run_id)
            .bind(&run.integration_id)
            .bind(strings(&plan.seen_ids)?)
            .execute(&mut *conn)
            .await?;
        let outcome = &plan.outcome;
        let done = sqlx::query(concat!(
            "UPDATE sync_runs SET pages_fetched = pages_fetched + 1, created_count = created_count + $3, ",
            "updated_count = updated_count + $4, unchanged_count = unchanged_count + $5, checkpoint = $6 ",
            "WHERE id = $1 AND integration_id = $2"
        ))
        .bind(&run.run_id)
        .bind(&run.integration_id)
        .bind(outcome.created)
        .bind(outcome.updated)
        .bind(outcome.unchanged)
        .bind(json(checkpoint)?)
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
}
