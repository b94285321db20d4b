//! Sync runs: their life cycle, counts and checkpoints.
//!
//! At most one run per (integration, sync type) is open (invariant I5): the partial unique
//! index `sync_runs_one_open` (migration 0003) enforces it, and [`enqueue_in`] inserts against
//! it with `ON CONFLICT ... DO NOTHING`. A conflicting insert waits for the transaction that
//! wrote the other open run and then does nothing, so concurrent callers end up with one run. See
//! <https://www.postgresql.org/docs/current/sql-insert.html#SQL-ON-CONFLICT>.

use sqlx::{PgConnection, PgExecutor, PgPool};
use tributary_model::{PauseReason, RunState, SyncType, Timestamp};

use super::{webhooks, write_lock};
use crate::ops::rows::postgres as rows;
use crate::page;
use crate::{PauseInfo, RunWrite, StoreError, SyncRun, clock, ids};

macro_rules! columns {
    () => {
        "id, integration_id, sync_type, state, created_at, started_at, ended_at, pages_fetched, created_count, \
         updated_count, deleted_count, unchanged_count, checkpoint, error, fence, worker_id, attempts, \
         pause_reason, preempted_by, resume_at, unconfirmed_deletions"
    };
}

/// The open states, spelled exactly as the predicate of `sync_runs_one_open`: an `ON CONFLICT`
/// target names a partial index by repeating (or implying) its predicate.
macro_rules! open_states {
    () => {
        "state IN ('QUEUED', 'RUNNING', 'PAUSED')"
    };
}

/// Inserts a new QUEUED run of an existing integration (no row when it does not exist); the
/// callers add their conflict clause and `RETURNING`.
macro_rules! insert_queued {
    () => {
        concat!(
            "INSERT INTO sync_runs (id, integration_id, sync_type, state, created_at) ",
            "SELECT $1, id, $3, 'QUEUED', $4 FROM integrations WHERE id = $2 "
        )
    };
}

/// How often [`enqueue_in`] tries again when the open run its insert collided with ended before
/// it could read that run. Each retry needs another caller to have opened and ended a run of
/// the same pair in between, so a handful is plenty.
const ENQUEUE_ATTEMPTS: usize = 4;

/// A plain insert: fails with `Conflict` while another run of the pair is open.
pub(super) async fn create(pool: &PgPool, integration_id: &str, sync_type: SyncType) -> Result<SyncRun, StoreError> {
    let row = sqlx::query(concat!(insert_queued!(), "RETURNING ", columns!()))
        .bind(ids::random_id())
        .bind(integration_id)
        .bind(sync_type.as_str())
        .bind(clock::now())
        .fetch_optional(pool)
        .await
        .map_err(|e| insert_error(e, integration_id, sync_type))?;
    match row {
        Some(row) => rows::run(&row),
        None => Err(StoreError::NotFound(format!("integration {integration_id}"))),
    }
}

pub(super) async fn enqueue(
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
        columns!()
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
        .bind(clock::now())
        .fetch_optional(&mut *conn)
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
fn insert_error(e: sqlx::Error, integration_id: &str, sync_type: SyncType) -> StoreError {
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

pub(super) async fn get(conn: impl PgExecutor<'_>, run_id: &str) -> Result<Option<SyncRun>, StoreError> {
    let row = sqlx::query(concat!("SELECT ", columns!(), " FROM sync_runs WHERE id = $1"))
        .bind(run_id)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(rows::run).transpose()
}

pub(super) async fn open(
    conn: impl PgExecutor<'_>,
    integration_id: &str,
    sync_type: SyncType,
) -> Result<Option<SyncRun>, StoreError> {
    let row = sqlx::query(concat!(
        "SELECT ",
        columns!(),
        " FROM sync_runs WHERE integration_id = $1 AND sync_type = $2 AND ",
        open_states!(),
        " ORDER BY created_at DESC, id DESC LIMIT 1"
    ))
    .bind(integration_id)
    .bind(sync_type.as_str())
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(rows::run).transpose()
}

pub(super) async fn list_open(pool: &PgPool, limit: i64) -> Result<Vec<SyncRun>, StoreError> {
    let found = sqlx::query(concat!(
        "SELECT ",
        columns!(),
        " FROM sync_runs WHERE ",
        open_states!(),
        " ORDER BY created_at, id LIMIT $1"
    ))
    .bind(limit.max(0))
    .fetch_all(pool)
    .await?;
    found.iter().map(rows::run).collect()
}

/// RUNNING under `fence` by `worker_id`. `started_at` is set only the first time: a resumed run
/// keeps its original start, which is what protects records written during its pauses from the
/// sweep. The pause fields go: they describe a pause that is over.
pub(super) async fn start(pool: &PgPool, run_id: &str, fence: i64, worker_id: &str) -> Result<SyncRun, StoreError> {
    let row = sqlx::query(concat!(
        "UPDATE sync_runs SET state = 'RUNNING', fence = $2, started_at = COALESCE(started_at, $3), worker_id = $4, ",
        // The scope version of the run's pass is taken once, at its first start: a run resumed
        // after a scope change keeps the older one, so its pages are refused and it restarts.
        "scope_version = COALESCE(scope_version, (SELECT i.scope_version FROM integrations i WHERE i.id = sync_runs.integration_id)), ",
        "pause_reason = NULL, preempted_by = NULL, resume_at = NULL WHERE id = $1 AND pause_reason IS DISTINCT FROM 'OPERATOR' AND ",
        open_states!(),
        " RETURNING ",
        columns!()
    ))
    .bind(run_id)
    .bind(fence)
    .bind(clock::now())
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

/// PAUSED with why. `error` becomes `info.error` (also when `None`), so a stale error does not
/// outlive the pause it explained. Only an open run pauses: reopening an ended one could break I5.
pub(super) async fn pause(pool: &PgPool, run: &RunWrite, info: &PauseInfo) -> Result<(), StoreError> {
    let mut tx = pool.begin().await?;
    write_lock::lock_fenced(&mut tx, &run.integration_id, run.fence).await?;
    let done = sqlx::query(concat!(
        "UPDATE sync_runs SET state = 'PAUSED', pause_reason = $3, preempted_by = $4, resume_at = $5, error = $6, ",
        "attempts = attempts + $7 WHERE id = $1 AND integration_id = $2 AND ",
        open_states!()
    ))
    .bind(&run.run_id)
    .bind(&run.integration_id)
    .bind(info.reason.as_str())
    .bind(&info.preempted_by)
    .bind(info.resume_at.map(clock::truncate))
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

/// CANCELLED with `reason`, unless a worker executes the run or it has ended.
pub(super) async fn cancel_idle(pool: &PgPool, run_id: &str, reason: &str) -> Result<bool, StoreError> {
    let mut tx = pool.begin().await?;
    let row = sqlx::query(concat!(
        "UPDATE sync_runs SET state = 'CANCELLED', error = $2, ended_at = $3, pause_reason = NULL, ",
        "preempted_by = NULL, resume_at = NULL WHERE id = $1 AND state IN ('QUEUED', 'PAUSED') RETURNING ",
        columns!()
    ))
    .bind(run_id)
    .bind(reason)
    .bind(clock::now())
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

pub(super) async fn pause_idle(pool: &PgPool, run_id: &str) -> Result<bool, StoreError> {
    let done = sqlx::query(concat!(
        "UPDATE sync_runs SET state = 'PAUSED', pause_reason = $2, preempted_by = NULL, resume_at = NULL ",
        "WHERE id = $1 AND (state = 'QUEUED' OR (state = 'PAUSED' AND pause_reason IS DISTINCT FROM $2))"
    ))
    .bind(run_id)
    .bind(PauseReason::Operator.as_str())
    .execute(pool)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// Ready to resume: no reason, and with it no preempting run or retry instant.
pub(super) async fn resume_paused(pool: &PgPool, run_id: &str) -> Result<bool, StoreError> {
    let done = sqlx::query(concat!(
        "UPDATE sync_runs SET pause_reason = NULL, preempted_by = NULL, resume_at = NULL ",
        "WHERE id = $1 AND state = 'PAUSED'"
    ))
    .bind(run_id)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// Why a conditional update of an open run matched nothing, once the run was found.
/// Why `start` matched nothing: the run ended, or an operator paused it (a worker that read it
/// just before the pause must not override the operator).
pub(super) fn not_startable(run: &SyncRun) -> StoreError {
    if run.pause_reason == Some(tributary_model::PauseReason::Operator) {
        return StoreError::Invalid(format!("run {} is paused by an operator; resume it first", run.id));
    }
    already_ended(run)
}

pub(super) fn already_ended(run: &SyncRun) -> StoreError {
    StoreError::Invalid(format!("run {} already ended as {}", run.id, run.state.as_str()))
}

pub(super) async fn finish(
    pool: &PgPool,
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
    let mut tx = pool.begin().await?;
    let scope_version = write_lock::lock_fenced_scope(&mut tx, &run.integration_id, run.fence).await?;
    let previous: Option<(String, Option<i64>)> =
        sqlx::query_as("SELECT state, scope_version FROM sync_runs WHERE id = $1 AND integration_id = $2")
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
        // A complete run ends SUCCEEDED only if its pass rewrote every record under the scope
        // in force now.
        page::check_scope(run, scope_version, scope_version, pass)?;
    }
    let row = sqlx::query(concat!(
        "UPDATE sync_runs SET state = $3, error = $4, ended_at = $5 WHERE id = $1 AND integration_id = $2 RETURNING ",
        columns!()
    ))
    .bind(&run.run_id)
    .bind(&run.integration_id)
    .bind(state.as_str())
    .bind(error)
    .bind(clock::now())
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

/// See [`crate::MirrorWrites::restart_pass`].
pub(crate) async fn restart_pass(
    pool: &PgPool,
    run: &RunWrite,
    checkpoint: &serde_json::Value,
    scope_version: i64,
) -> Result<(), StoreError> {
    let mut tx = pool.begin().await?;
    let current = write_lock::lock_fenced_scope(&mut tx, &run.integration_id, run.fence).await?;
    page::check_scope(run, scope_version, current, None)?;
    let done = sqlx::query(concat!(
        "UPDATE sync_runs SET checkpoint = $3, scope_version = $4 WHERE id = $1 AND integration_id = $2 AND ",
        open_states!()
    ))
    .bind(&run.run_id)
    .bind(&run.integration_id)
    .bind(checkpoint)
    .bind(scope_version)
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound(format!("open run {}", run.run_id)));
    }
    tx.commit().await?;
    Ok(())
}

pub(super) async fn list(pool: &PgPool, integration_id: &str, limit: i64) -> Result<Vec<SyncRun>, StoreError> {
    let found = sqlx::query(concat!(
        "SELECT ",
        columns!(),
        " FROM sync_runs WHERE integration_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2"
    ))
    .bind(integration_id)
    .bind(limit.max(0))
    .fetch_all(pool)
    .await?;
    found.iter().map(rows::run).collect()
}

pub(super) async fn last_complete_success(
    pool: &PgPool,
    integration_id: &str,
) -> Result<Option<Timestamp>, StoreError> {
    let at: Option<Timestamp> = sqlx::query_scalar(
        "SELECT max(COALESCE(started_at, created_at)) FROM sync_runs \
         WHERE integration_id = $1 AND state = 'SUCCEEDED' AND sync_type IN ('FULL', 'DEFAULT')",
    )
    .bind(integration_id)
    .fetch_one(pool)
    .await?;
    Ok(at)
}

pub(super) async fn last_succeeded(pool: &PgPool, integration_id: &str) -> Result<Option<SyncRun>, StoreError> {
    let row = sqlx::query(concat!(
        "SELECT ",
        columns!(),
        " FROM sync_runs WHERE integration_id = $1 AND state = 'SUCCEEDED' ",
        "ORDER BY started_at DESC NULLS LAST, created_at DESC LIMIT 1"
    ))
    .bind(integration_id)
    .fetch_optional(pool)
    .await?;
    row.as_ref().map(rows::run).transpose()
}
