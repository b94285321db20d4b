//! Enqueueing a run on SQLite (the rest of runs is written once, in `crate::ops::runs`).
//!
//! At most one run per (integration, sync type) is open (invariant I5): the partial unique
//! index `sync_runs_one_open` (migration 0003) enforces it. [`enqueue_in`] runs under SQLite's
//! write lock, so its insert-or-read cannot interleave with another writer (see
//! <https://www.sqlite.org/lang_upsert.html> for the partial-index conflict target).

use sqlx::{SqliteConnection, SqlitePool};
use tributary_model::SyncType;

use super::write_lock;
use crate::ops::rows::sqlite as rows;
use crate::ops::run_queries::sqlite::{insert_open, open};
use crate::{StoreError, SyncRun};

pub(crate) async fn enqueue(
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
    let inserted = insert_open(&mut *conn, integration_id, sync_type)
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
pub(crate) fn insert_error(e: sqlx::Error, integration_id: &str, sync_type: SyncType) -> StoreError {
    match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict(format!(
            "an open {} run of integration {integration_id}",
            sync_type.as_str()
        )),
        _ => StoreError::Database(e),
    }
}
