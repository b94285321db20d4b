//! Sync runs: their life cycle, counts and checkpoints.
//!
//! At most one run per (integration, sync type) is open (invariant I5): the partial unique
//! index `sync_runs_one_open` (migration 0003) enforces it. [`enqueue_in`] runs under SQLite's
//! write lock, so its insert-or-read cannot interleave with another writer (see
//! <https://www.sqlite.org/lang_upsert.html> for the partial-index conflict target).

use sqlx::{SqliteConnection, SqliteExecutor, SqlitePool};
use tributary_model::{PauseReason, RunState, SyncType, Timestamp};

use super::{webhooks, write_lock};
use crate::ops::rows::sqlite as rows;
use crate::page;
use crate::{PauseInfo, RunWrite, StoreError, SyncRun, clock, ids};

macro_rules! columns {
    () => {
        "id, integration_id, sync_type, state, created_at, started_at, ended_at, pages_fetched, created_count, \
         updated_count, deleted_count, unchanged_count, checkpoint, error, fence, worker_id, attempts, \
         pause_reason, preempted_by, resume_at, unconfirmed_deletions"
    };
}

/// The open states, spelled exactly as the predicate of `sync_runs_one_open`: SQLite matches an
/// `ON CONFLICT ... WHERE` target to a partial index by comparing the expressions.
macro_rules! open_states {
    () => {
        "state IN ('QUEUED', 'RUNNING', 'PAUSED')"
    };
}

/// Inserts a new QUEUED run of an existing integration (no row when it does not exist); the
/// callers add their conflict clause and `RETURNING`. The SELECT's WHERE also keeps SQLite from
/// parsing a following `ON CONFLICT` as a join constraint.
macro_rules! insert_queued {
    () => {
        concat!(
            "INSERT INTO sync_runs (id, integration_id, sync_type, state, created_at) ",
            "SELECT ?1, id, ?3, 'QUEUED', ?4 FROM integrations WHERE id = ?2 "
        )
    };
}

/// A plain insert: fails with `Conflict` while another run of the pair is open.
pub(super) async fn create(
    pool: &SqlitePool,
    integration_id: &str,
    sync_type: SyncType,
) -> Result<SyncRun, StoreError> {
    let row = sqlx::query(concat!(insert_queued!(), "RETURNING ", columns!()))
        .bind(ids::random_id())
        .bind(integration_id)
        .bind(sync_type.as_str())
        .bind(clock::to_text(clock::now()))
        .fetch_optional(pool)
        .await
        .map_err(|e| insert_error(e, integration_id, sync_type))?;
    match row {
        Some(row) => rows::run(&row),
        None => Err(StoreError::NotFound(format!("integration {integration_id}"))),
    }
}

pub(super) async fn enqueue(
    pool: &SqlitePool,
    integration_id: &str,
    sync_type: SyncType,
) -> Result<(SyncRun, bool), StoreError> {
    let mut tx = write_lock::begin(pool).await?;
    let enqueued = enqueue_in(&mut tx, integration_id, sync_type).await?;
    tx.commit().await?;
    Ok(enqueued)
}

/// The open run of the pair, or a new QUEUED one (`true`). Called inside a [`write_lock::begin`]
/// transaction (alone, or `claim_due_runs`'s), so nothing changes between the insert and the read.
pub(super) async fn enqueue_in(
    conn: &mut SqliteConnection,
    integration_id: &str,
    sync_type: SyncType,
) -> Result<(SyncRun, bool), StoreError> {
    let inserted = sqlx::query(concat!(
        insert_queued!(),
        "ON CONFLICT (integration_id, sync_type) WHERE ",
        open_states!(),
        " DO NOTHING RETURNING ",
        columns!()
    ))
    .bind(ids::random_id())
    .bind(integration_id)
    .bind(sync_type.as_str())
    .bind(clock::to_text(clock::now()))
    .fetch_optional(&mut *conn)
    .await
    .map_err(|e| insert_error(e, integration_id, sync_type))?;
    if let Some(row) = inserted {
        return Ok((rows::run(&row)?, true));
    }
    // Under the write lock, an insert that did nothing met an open run or no integration.
    match open(&mut *conn, integration_id, sync_type).await? {
        Some(open) => Ok((open, false)),
        None => Err(StoreError::NotFound(format!("integration {integration_id}"))),
    }
}

/// A second open run of the pair (the index of I5) is the caller's conflict, not a database
/// failure. SQLite names no constraint; the only other unique key is the random run id.
fn insert_error(e: sqlx::Error, integration_id: &str, sync_type: SyncType) -> StoreError {
    match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict(format!(
            "an open {} run of integration {integration_id}",
            sync_type.as_str()
        )),
        _ => StoreError::Database(e),
    }
}

pub(super) async fn get(conn: impl SqliteExecutor<'_>, run_id: &str) -> Result<Option<SyncRun>, StoreError> {
    let row = sqlx::query(concat!("SELECT ", columns!(), " FROM sync_runs WHERE id = ?1"))
        .bind(run_id)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(rows::run).transpose()
}

pub(super) async fn open(
    conn: impl SqliteExecutor<'_>,
    integration_id: &str,
    sync_type: SyncType,
) -> Result<Option<SyncRun>, StoreError> {
    let row = sqlx::query(concat!(
        "SELECT ",
        columns!(),
        " FROM sync_runs WHERE integration_id = ?1 AND sync_type = ?2 AND ",
        open_states!(),
        " ORDER BY created_at DESC, id DESC LIMIT 1"
    ))
    .bind(integration_id)
    .bind(sync_type.as_str())
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(rows::run).transpose()
}

pub(super) async fn list_open(pool: &SqlitePool, limit: i64) -> Result<Vec<SyncRun>, StoreError> {
    let found = sqlx::query(concat!(
        "SELECT ",
        columns!(),
        " FROM sync_runs WHERE ",
        open_states!(),
        " ORDER BY created_at, id LIMIT ?1"
    ))
    .bind(limit.max(0))
    .fetch_all(pool)
    .await?;
    found.iter().map(rows::run).collect()
}

/// RUNNING under `fence` by `worker_id`; `started_at` is kept from the first start and the
/// pause fields go (see the Postgres twin).
pub(super) async fn start(pool: &SqlitePool, run_id: &str, fence: i64, worker_id: &str) -> Result<SyncRun, StoreError> {
    let row = sqlx::query(concat!(
        "UPDATE sync_runs SET state = 'RUNNING', fence = ?2, started_at = COALESCE(started_at, ?3), worker_id = ?4, ",
        // Taken once, at the first start (see the Postgres twin).
        "scope_version = COALESCE(scope_version, (SELECT i.scope_version FROM integrations i WHERE i.id = sync_runs.integration_id)), ",
        "pause_reason = NULL, preempted_by = NULL, resume_at = NULL WHERE id = ?1 AND pause_reason IS NOT 'OPERATOR' AND ",
        open_states!(),
        " RETURNING ",
        columns!()
    ))
    .bind(run_id)
    .bind(fence)
    .bind(clock::to_text(clock::now()))
    .bind(worker_id)
    .fetch_optional(pool)
    .await?;
    match row {
        Some(row) => rows::run(&row),
        None => match get(pool, run_id).await? {
            Some(run) => Err(not_startable(&run)),
            None => Err(StoreError::NotFound(format!("run {run_id}"))),
        },
    }
}

/// See [`crate::MirrorWrites::restart_pass`].
pub(crate) async fn restart_pass(
    pool: &SqlitePool,
    run: &RunWrite,
    checkpoint: &serde_json::Value,
    scope_version: i64,
) -> Result<(), StoreError> {
    let mut tx = write_lock::begin(pool).await?;
    let current = write_lock::check_fence_scope(&mut tx, &run.integration_id, run.fence).await?;
    page::check_scope(run, scope_version, current, None)?;
    let done = sqlx::query(concat!(
        "UPDATE sync_runs SET checkpoint = ?3, scope_version = ?4 WHERE id = ?1 AND integration_id = ?2 AND ",
        open_states!()
    ))
    .bind(&run.run_id)
    .bind(&run.integration_id)
    .bind(serde_json::to_string(checkpoint)?)
    .bind(scope_version)
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound(format!("open run {}", run.run_id)));
    }
    tx.commit().await?;
    Ok(())
}

/// PAUSED with why; `error` becomes `info.error` (see the Postgres twin).
pub(super) async fn pause(pool: &SqlitePool, run: &RunWrite, info: &PauseInfo) -> Result<(), StoreError> {
    let mut tx = write_lock::begin_fenced(pool, &run.integration_id, run.fence).await?;
    let done = sqlx::query(concat!(
        "UPDATE sync_runs SET state = 'PAUSED', pause_reason = ?3, preempted_by = ?4, resume_at = ?5, error = ?6, ",
        "attempts = attempts + ?7 WHERE id = ?1 AND integration_id = ?2 AND ",
        open_states!()
    ))
    .bind(&run.run_id)
    .bind(&run.integration_id)
    .bind(info.reason.as_str())
    .bind(&info.preempted_by)
    .bind(info.resume_at.map(clock::to_text))
    .bind(&info.error)
    .bind(i32::from(info.reason == PauseReason::Retry))
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() == 0 {
        return Err(match get(&mut *tx, &run.run_id).await? {
            Some(found) if found.integration_id == run.integration_id => already_ended(&found),
            _ => StoreError::NotFound(format!("run {}", run.run_id)),
        });
    }
    tx.commit().await?;
    Ok(())
}

pub(super) async fn cancel_idle(pool: &SqlitePool, run_id: &str, reason: &str) -> Result<bool, StoreError> {
    let mut tx = write_lock::begin(pool).await?;
    let row = sqlx::query(concat!(
        "UPDATE sync_runs SET state = 'CANCELLED', error = ?2, ended_at = ?3, pause_reason = NULL, ",
        "preempted_by = NULL, resume_at = NULL WHERE id = ?1 AND state IN ('QUEUED', 'PAUSED') RETURNING ",
        columns!()
    ))
    .bind(run_id)
    .bind(reason)
    .bind(clock::to_text(clock::now()))
    .fetch_optional(&mut *tx)
    .await?;
    let Some(row) = row else {
        return Ok(false);
    };
    let cancelled = rows::run(&row)?;
    // A paused run has committed pages: its changes are announced like any ended run's, in
    // this transaction (I7). A run cancelled while still queued never ran and announces nothing.
    if cancelled.started_at.is_some() {
        webhooks::emit_run_finished(&mut tx, &cancelled).await?;
    }
    tx.commit().await?;
    Ok(true)
}

pub(super) async fn pause_idle(pool: &SqlitePool, run_id: &str) -> Result<bool, StoreError> {
    let done = sqlx::query(concat!(
        "UPDATE sync_runs SET state = 'PAUSED', pause_reason = ?2, preempted_by = NULL, resume_at = NULL ",
        "WHERE id = ?1 AND (state = 'QUEUED' OR (state = 'PAUSED' AND pause_reason IS NOT ?2))"
    ))
    .bind(run_id)
    .bind(PauseReason::Operator.as_str())
    .execute(pool)
    .await?;
    Ok(done.rows_affected() > 0)
}

pub(super) async fn resume_paused(pool: &SqlitePool, run_id: &str) -> Result<bool, StoreError> {
    let done = sqlx::query(concat!(
        "UPDATE sync_runs SET pause_reason = NULL, preempted_by = NULL, resume_at = NULL ",
        "WHERE id = ?1 AND state = 'PAUSED'"
    ))
    .bind(run_id)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// Why `start` matched nothing (see the Postgres twin).
fn not_startable(run: &SyncRun) -> StoreError {
    if run.pause_reason == Some(PauseReason::Operator) {
        return StoreError::Invalid(format!("run {} is paused by an operator; resume it first", run.id));
    }
    already_ended(run)
}

fn already_ended(run: &SyncRun) -> StoreError {
    StoreError::Invalid(format!("run {} already ended as {}", run.id, run.state.as_str()))
}

pub(super) async fn finish(
    pool: &SqlitePool,
    run: &RunWrite,
    state: RunState,
    error: Option<&str>,
) -> Result<SyncRun, StoreError> {
    if !state.is_terminal() {
        return Err(StoreError::Invalid(format!(
            "{} is not a terminal state",
            state.as_str()
        )));
    }
    let mut tx = write_lock::begin(pool).await?;
    let scope_version = write_lock::check_fence_scope(&mut tx, &run.integration_id, run.fence).await?;
    let previous: Option<(String, Option<i64>)> =
        sqlx::query_as("SELECT state, scope_version FROM sync_runs WHERE id = ?1 AND integration_id = ?2")
            .bind(&run.run_id)
            .bind(&run.integration_id)
            .fetch_optional(&mut *tx)
            .await?;
    let (previous, pass) = previous.map_or((None, None), |(state, pass)| (Some(state), pass));
    if state == RunState::Succeeded
        && !previous
            .as_deref()
            .and_then(RunState::parse)
            .is_some_and(RunState::is_terminal)
    {
        // See the Postgres twin: SUCCEEDED only for a pass under the scope in force now.
        page::check_scope(run, scope_version, scope_version, pass)?;
    }
    let row = sqlx::query(concat!(
        "UPDATE sync_runs SET state = ?3, error = ?4, ended_at = ?5 WHERE id = ?1 AND integration_id = ?2 RETURNING ",
        columns!()
    ))
    .bind(&run.run_id)
    .bind(&run.integration_id)
    .bind(state.as_str())
    .bind(error)
    .bind(clock::to_text(clock::now()))
    .fetch_optional(&mut *tx)
    .await?;
    let row = row.ok_or_else(|| StoreError::NotFound(format!("run {}", run.run_id)))?;
    let finished = rows::run(&row)?;
    // The outbox, in this transaction: a fenced or failed finish writes no event, and a run
    // that had ended already announced its end then (a repeated finish sends nothing twice).
    let had_ended = previous
        .as_deref()
        .and_then(RunState::parse)
        .is_some_and(RunState::is_terminal);
    if !had_ended {
        webhooks::emit_run_finished(&mut tx, &finished).await?;
    }
    tx.commit().await?;
    Ok(finished)
}

pub(super) async fn list(pool: &SqlitePool, integration_id: &str, limit: i64) -> Result<Vec<SyncRun>, StoreError> {
    let found = sqlx::query(concat!(
        "SELECT ",
        columns!(),
        " FROM sync_runs WHERE integration_id = ?1 ORDER BY created_at DESC, id DESC LIMIT ?2"
    ))
    .bind(integration_id)
    .bind(limit.max(0))
    .fetch_all(pool)
    .await?;
    found.iter().map(rows::run).collect()
}

pub(super) async fn last_complete_success(
    pool: &SqlitePool,
    integration_id: &str,
) -> Result<Option<Timestamp>, StoreError> {
    // Timestamps are fixed-width RFC 3339 text in UTC (`crate::clock`), so text order is time order.
    let at: Option<String> = sqlx::query_scalar(
        "SELECT max(COALESCE(started_at, created_at)) FROM sync_runs \
         WHERE integration_id = ?1 AND state = 'SUCCEEDED' AND sync_type IN ('FULL', 'DEFAULT')",
    )
    .bind(integration_id)
    .fetch_one(pool)
    .await?;
    clock::opt_from_text(at)
}

pub(super) async fn last_succeeded(pool: &SqlitePool, integration_id: &str) -> Result<Option<SyncRun>, StoreError> {
    let row = sqlx::query(concat!(
        "SELECT ",
        columns!(),
        " FROM sync_runs WHERE integration_id = ?1 AND state = 'SUCCEEDED' ",
        "ORDER BY started_at DESC NULLS LAST, created_at DESC LIMIT 1"
    ))
    .bind(integration_id)
    .fetch_optional(pool)
    .await?;
    row.as_ref().map(rows::run).transpose()
}
