//! Sync schedules and the scheduler's exactly-once claim.
//!
//! SQLite has no `SKIP LOCKED`, and needs none: a claim is a `BEGIN IMMEDIATE` transaction, so
//! claims (from any task or process sharing the file) run one after another, and each sees the
//! rows its predecessors moved forward. New `next_due_at` values are computed in Rust
//! (`crate::schedules`), because SQLite's date functions keep only milliseconds.

use std::time::Duration;

use sqlx::{Row, SqliteConnection, SqlitePool};
use tributary_model::{SyncType, Timestamp};

use super::{runs, write_lock};
use crate::codec::parse_sync_type;
use crate::schedules::{effective_secs, next_after_claim, not_found, pulled_in, to_secs};
use crate::{ClaimedRun, DueSync, StoreError, clock};

pub(crate) async fn set_interval(
    pool: &SqlitePool,
    integration_id: &str,
    sync_type: SyncType,
    every: Option<Duration>,
) -> Result<(), StoreError> {
    let every = every.map(to_secs).transpose()?;
    let mut tx = write_lock::begin(pool).await?;
    let schedule = read(&mut tx, integration_id, Some(sync_type))
        .await?
        .pop()
        .ok_or_else(|| not_found(integration_id, sync_type))?;
    let every_secs = effective_secs(schedule.default_secs, every, schedule.webhooks_active);
    let next_due_at = pulled_in(schedule.next_due_at, schedule.last_claimed_at, every_secs)?;
    sqlx::query(concat!(
        "UPDATE sync_schedules SET override_every_seconds = ?3, next_due_at = ?4 ",
        "WHERE integration_id = ?1 AND sync_type = ?2"
    ))
    .bind(integration_id)
    .bind(sync_type.as_str())
    .bind(every)
    .bind(clock::to_text(next_due_at))
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// `Schedules::set_webhooks_active` inside the caller's write transaction (setting the inbound
/// secret flips the flag atomically with it).
pub(crate) async fn set_webhooks_active_in(
    tx: &mut SqliteConnection,
    integration_id: &str,
    active: bool,
) -> Result<(), StoreError> {
    let done = sqlx::query("UPDATE integrations SET webhooks_active = ?2 WHERE id = ?1")
        .bind(integration_id)
        .bind(active)
        .execute(&mut *tx)
        .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound(format!("integration {integration_id}")));
    }
    // Only a shorter interval moves anything: pull in what is now due sooner.
    for schedule in read(&mut *tx, integration_id, None).await? {
        let every_secs = effective_secs(schedule.default_secs, schedule.override_secs, active);
        let next_due_at = pulled_in(schedule.next_due_at, schedule.last_claimed_at, every_secs)?;
        if next_due_at != schedule.next_due_at {
            move_due(&mut *tx, integration_id, schedule.sync_type, next_due_at).await?;
        }
    }
    Ok(())
}

pub(crate) async fn claim_due(
    pool: &SqlitePool,
    now: Timestamp,
    owner: &str,
    limit: i64,
) -> Result<Vec<DueSync>, StoreError> {
    let mut tx = write_lock::begin(pool).await?;
    let claimed = claim_due_in(&mut tx, now, owner, limit).await?;
    tx.commit().await?;
    Ok(claimed)
}

/// The open run of each claimed (integration, type), enqueued one by one inside
/// `claim_due_runs`'s write transaction.
pub(crate) async fn enqueue_claimed(
    conn: &mut SqliteConnection,
    due: Vec<DueSync>,
) -> Result<Vec<ClaimedRun>, StoreError> {
    let mut claimed = Vec::with_capacity(due.len());
    for due in due {
        let (run, created) = runs::enqueue_in(&mut *conn, &due.integration_id, due.sync_type).await?;
        claimed.push(ClaimedRun { due, run, created });
    }
    Ok(claimed)
}

/// The claim itself, inside the caller's [`write_lock::begin`] transaction.
pub(crate) async fn claim_due_in(
    conn: &mut SqliteConnection,
    now: Timestamp,
    owner: &str,
    limit: i64,
) -> Result<Vec<DueSync>, StoreError> {
    if limit <= 0 {
        return Ok(Vec::new());
    }
    let now = clock::truncate(now);
    let now_text = clock::to_text(now);
    let found = sqlx::query(concat!(
        "SELECT s.integration_id, s.sync_type, s.next_due_at, s.every_seconds, s.override_every_seconds, ",
        "i.webhooks_active FROM sync_schedules s JOIN integrations i ON i.id = s.integration_id ",
        "WHERE s.next_due_at <= ?1 ORDER BY s.next_due_at, s.integration_id, s.sync_type LIMIT ?2"
    ))
    .bind(&now_text)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    let mut claimed = Vec::with_capacity(found.len());
    for row in &found {
        let due = DueSync {
            integration_id: row.try_get("integration_id")?,
            sync_type: parse_sync_type(row.try_get("sync_type")?)?,
            due_at: clock::from_text(row.try_get("next_due_at")?)?,
        };
        let every_secs = effective_secs(
            row.try_get("every_seconds")?,
            row.try_get("override_every_seconds")?,
            row.try_get("webhooks_active")?,
        );
        let next_due_at = next_after_claim(due.due_at, now, every_secs)?;
        sqlx::query(concat!(
            "UPDATE sync_schedules SET next_due_at = ?3, last_claimed_at = ?4, claimed_by = ?5 ",
            "WHERE integration_id = ?1 AND sync_type = ?2"
        ))
        .bind(&due.integration_id)
        .bind(due.sync_type.as_str())
        .bind(clock::to_text(next_due_at))
        .bind(&now_text)
        .bind(owner)
        .execute(&mut *conn)
        .await?;
        claimed.push(due);
    }
    Ok(claimed)
}

/// What rescheduling needs of a row, read inside the caller's write transaction.
struct Timing {
    sync_type: SyncType,
    default_secs: i64,
    override_secs: Option<i64>,
    webhooks_active: bool,
    next_due_at: Timestamp,
    last_claimed_at: Option<Timestamp>,
}

/// The integration's schedules (one type, or all), for a read-modify-write under the lock.
async fn read(
    conn: &mut SqliteConnection,
    integration_id: &str,
    sync_type: Option<SyncType>,
) -> Result<Vec<Timing>, StoreError> {
    let found = sqlx::query(concat!(
        "SELECT s.sync_type, s.every_seconds, s.override_every_seconds, i.webhooks_active, s.next_due_at, ",
        "s.last_claimed_at FROM sync_schedules s JOIN integrations i ON i.id = s.integration_id ",
        "WHERE s.integration_id = ?1 AND (?2 IS NULL OR s.sync_type = ?2)"
    ))
    .bind(integration_id)
    .bind(sync_type.map(SyncType::as_str))
    .fetch_all(conn)
    .await?;
    found
        .iter()
        .map(|row| {
            Ok(Timing {
                sync_type: parse_sync_type(row.try_get("sync_type")?)?,
                default_secs: row.try_get("every_seconds")?,
                override_secs: row.try_get("override_every_seconds")?,
                webhooks_active: row.try_get("webhooks_active")?,
                next_due_at: clock::from_text(row.try_get("next_due_at")?)?,
                last_claimed_at: clock::opt_from_text(row.try_get("last_claimed_at")?)?,
            })
        })
        .collect()
}

async fn move_due(
    conn: &mut SqliteConnection,
    integration_id: &str,
    sync_type: SyncType,
    next_due_at: Timestamp,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE sync_schedules SET next_due_at = ?3 WHERE integration_id = ?1 AND sync_type = ?2")
        .bind(integration_id)
        .bind(sync_type.as_str())
        .bind(clock::to_text(next_due_at))
        .execute(conn)
        .await?;
    Ok(())
}
