//! Sync runs: their life cycle, counts and checkpoints.

use sqlx::PgPool;
use tributary_model::{RunState, SyncType};

use super::{rows, write_lock};
use crate::{RunWrite, StoreError, SyncRun, clock, ids};

macro_rules! columns {
    () => {
        "id, integration_id, sync_type, state, created_at, started_at, ended_at, pages_fetched, created_count, \
         updated_count, deleted_count, unchanged_count, checkpoint, error, fence"
    };
}

pub(super) async fn create(pool: &PgPool, integration_id: &str, sync_type: SyncType) -> Result<SyncRun, StoreError> {
    let row = sqlx::query(concat!(
        "INSERT INTO sync_runs (id, integration_id, sync_type, state, created_at) ",
        "SELECT $1, id, $3, 'QUEUED', $4 FROM integrations WHERE id = $2 RETURNING ",
        columns!()
    ))
    .bind(ids::random_id())
    .bind(integration_id)
    .bind(sync_type.as_str())
    .bind(clock::now())
    .fetch_optional(pool)
    .await?;
    match row {
        Some(row) => rows::run(&row),
        None => Err(StoreError::NotFound(format!("integration {integration_id}"))),
    }
}

pub(super) async fn get(pool: &PgPool, run_id: &str) -> Result<Option<SyncRun>, StoreError> {
    let row = sqlx::query(concat!("SELECT ", columns!(), " FROM sync_runs WHERE id = $1"))
        .bind(run_id)
        .fetch_optional(pool)
        .await?;
    row.as_ref().map(rows::run).transpose()
}

pub(super) async fn open(
    pool: &PgPool,
    integration_id: &str,
    sync_type: SyncType,
) -> Result<Option<SyncRun>, StoreError> {
    let row = sqlx::query(concat!(
        "SELECT ",
        columns!(),
        " FROM sync_runs WHERE integration_id = $1 AND sync_type = $2 ",
        "AND state IN ('QUEUED', 'RUNNING', 'PAUSED') ORDER BY created_at DESC, id DESC LIMIT 1"
    ))
    .bind(integration_id)
    .bind(sync_type.as_str())
    .fetch_optional(pool)
    .await?;
    row.as_ref().map(rows::run).transpose()
}

/// RUNNING under `fence`. `started_at` is set only the first time: a resumed run keeps its
/// original start, which is what protects records written during its pauses from the sweep.
pub(super) async fn start(pool: &PgPool, run_id: &str, fence: i64) -> Result<SyncRun, StoreError> {
    let row = sqlx::query(concat!(
        "UPDATE sync_runs SET state = 'RUNNING', fence = $2, started_at = COALESCE(started_at, $3) ",
        "WHERE id = $1 AND state IN ('QUEUED', 'RUNNING', 'PAUSED') RETURNING ",
        columns!()
    ))
    .bind(run_id)
    .bind(fence)
    .bind(clock::now())
    .fetch_optional(pool)
    .await?;
    match row {
        Some(row) => rows::run(&row),
        None => match get(pool, run_id).await? {
            Some(run) => Err(StoreError::Invalid(format!(
                "run {run_id} already ended as {}",
                run.state.as_str()
            ))),
            None => Err(StoreError::NotFound(format!("run {run_id}"))),
        },
    }
}

pub(super) async fn pause(pool: &PgPool, run: &RunWrite) -> Result<(), StoreError> {
    let mut tx = pool.begin().await?;
    write_lock::lock_fenced(&mut tx, &run.integration_id, run.fence).await?;
    let done = sqlx::query("UPDATE sync_runs SET state = 'PAUSED' WHERE id = $1 AND integration_id = $2")
        .bind(&run.run_id)
        .bind(&run.integration_id)
        .execute(&mut *tx)
        .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound(format!("run {}", run.run_id)));
    }
    tx.commit().await?;
    Ok(())
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
    write_lock::lock_fenced(&mut tx, &run.integration_id, run.fence).await?;
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
    tx.commit().await?;
    Ok(finished)
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
