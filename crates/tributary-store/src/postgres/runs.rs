//! Enqueueing a run on Postgres (the rest of runs is written once, in `crate::ops::runs`).
//!
//! At most one run per (integration, sync type) is open (invariant I5): the partial unique
//! index `sync_runs_one_open` (migration 0003) enforces it, and [`enqueue_in`] inserts against
//! it with `ON CONFLICT ... DO NOTHING`. A conflicting insert waits for the transaction that
//! wrote the other open run and then does nothing, so concurrent callers end up with one run. See
//! <https://www.postgresql.org/docs/current/sql-insert.html#SQL-ON-CONFLICT>.

use sqlx::{PgConnection, PgPool};
use tributary_model::SyncType;

use crate::ops::rows::postgres as rows;
use crate::ops::run_queries::postgres::{insert_open, open};
use crate::ops::run_queries::{open_states, run_columns};
use crate::{StoreError, SyncRun, clock, ids};

/// How often [`enqueue_in`] tries again when the open run its insert collided with ended before
/// it could read that run. Each retry needs another caller to have opened and ended a run of
/// the same pair in between, so a handful is plenty.
const ENQUEUE_ATTEMPTS: usize = 4;

pub(crate) async fn enqueue(
    pool: &PgPool,
    integration_id: &str,
    sync_type: SyncType,
) -> Result<(SyncRun, bool), StoreError> {
    let mut conn = pool.acquire().await?;
    enqueue_in(&mut conn, integration_id, sync_type).await
}

/// [`enqueue_in`] for many pairs: one INSERT for all of them (the scheduler claims a thousand
/// at a time, and a round trip per run made the claim the slow part of a tick); the pairs that
/// already had an open run take [`enqueue_in`]'s path, which reads it.
pub(super) async fn enqueue_many_in(
    conn: &mut PgConnection,
    pairs: &[(String, SyncType)],
) -> Result<Vec<(SyncRun, bool)>, StoreError> {
    let ids: Vec<String> = pairs.iter().map(|_| ids::random_id()).collect();
    let integrations: Vec<&str> = pairs.iter().map(|(i, _)| i.as_str()).collect();
    let types: Vec<&str> = pairs.iter().map(|(_, t)| t.as_str()).collect();
    let inserted = sqlx::query(concat!(
        "INSERT INTO sync_runs (id, integration_id, sync_type, state, created_at) ",
        "SELECT u.id, u.integration_id, u.sync_type, 'QUEUED', $4 ",
        "FROM UNNEST($1::text[], $2::text[], $3::text[]) AS u(id, integration_id, sync_type) ",
        "JOIN integrations i ON i.id = u.integration_id ",
        "ON CONFLICT (integration_id, sync_type) WHERE ",
        open_states!(),
        " DO NOTHING RETURNING ",
        run_columns!()
    ))
    .bind(&ids)
    .bind(&integrations)
    .bind(&types)
    .bind(clock::now())
    .fetch_all(&mut *conn)
    .await?;
    let mut created: std::collections::HashMap<(String, SyncType), SyncRun> = std::collections::HashMap::new();
    for row in &inserted {
        let run = rows::run(row)?;
        created.insert((run.integration_id.clone(), run.sync_type), run);
    }
    let mut out = Vec::with_capacity(pairs.len());
    for (integration_id, sync_type) in pairs {
        match created.remove(&(integration_id.clone(), *sync_type)) {
            Some(run) => out.push((run, true)),
            None => out.push(enqueue_in(&mut *conn, integration_id, *sync_type).await?),
        }
    }
    Ok(out)
}

/// The open run of the pair, or a new QUEUED one (`true`), on the caller's connection, so
/// `claim_due_runs` can enqueue inside its claim transaction. Each statement reads the latest
/// commits (READ COMMITTED), so after a conflict the next statement sees the run that caused it.
pub(super) async fn enqueue_in(
    conn: &mut PgConnection,
    integration_id: &str,
    sync_type: SyncType,
) -> Result<(SyncRun, bool), StoreError> {
    for _ in 0..ENQUEUE_ATTEMPTS {
        let inserted = insert_open(&mut *conn, integration_id, sync_type)
            .await
            .map_err(|e| insert_error(e, integration_id, sync_type))?;
        if let Some(row) = inserted {
            return Ok((rows::run(&row)?, true));
        }
        if let Some(open) = open(&mut *conn, integration_id, sync_type).await? {
            return Ok((open, false));
        }
        // Nothing inserted and nothing open: the integration is missing, or the run we collided
        // with has ended since; then the next insert succeeds (or meets a newer open run).
        let exists: Option<i32> = sqlx::query_scalar("SELECT 1 FROM integrations WHERE id = $1")
            .bind(integration_id)
            .fetch_optional(&mut *conn)
            .await?;
        if exists.is_none() {
            return Err(StoreError::NotFound(format!("integration {integration_id}")));
        }
    }
    Err(StoreError::Conflict(format!(
        "a {} run of integration {integration_id} that kept ending while it was enqueued",
        sync_type.as_str()
    )))
}

/// A second open run of the pair (the index of I5) is the caller's conflict, and a missing
/// integration (deleted while we inserted: the foreign key) is not found; neither is a database
/// failure.
pub(crate) fn insert_error(e: sqlx::Error, integration_id: &str, sync_type: SyncType) -> StoreError {
    match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() && db.constraint() == Some("sync_runs_one_open") => {
            StoreError::Conflict(format!(
                "an open {} run of integration {integration_id}",
                sync_type.as_str()
            ))
        }
        sqlx::Error::Database(db) if db.is_foreign_key_violation() => {
            StoreError::NotFound(format!("integration {integration_id}"))
        }
        _ => StoreError::Database(e),
    }
}
