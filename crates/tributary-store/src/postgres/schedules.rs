//! Sync schedules and the scheduler's exactly-once claim.
//!
//! A claim selects due rows `FOR UPDATE SKIP LOCKED` and moves them forward in the same
//! statement: a replica never waits for another's claim and never sees a row another replica
//! holds. Should a claim commit between another's snapshot and its lock attempt, Postgres
//! re-checks `next_due_at <= now` on the committed row version, which no longer matches. See
//! <https://www.postgresql.org/docs/current/sql-select.html#SQL-FOR-UPDATE-SHARE> and
//! <https://www.postgresql.org/docs/current/transaction-iso.html#XACT-READ-COMMITTED>.

use std::time::Duration;

use sqlx::{PgConnection, PgPool, Row};
use tributary_model::{SyncType, Timestamp};

use super::runs;
use crate::codec::parse_sync_type;
use crate::schedules::{not_found, to_secs, webhook_poll_secs};
use crate::{ClaimedRun, DueSync, StoreError, clock};

/// The interval a schedule runs at (`crate::schedules::effective_secs` in SQL), with the webhook
/// polling seconds bound at parameter `$p`. Needs `s` (the schedule) and `i` (its integration).
macro_rules! effective_every {
    ($p:literal) => {
        concat!(
            "COALESCE(s.override_every_seconds, CASE WHEN i.webhooks_active THEN ",
            $p,
            "::bigint ELSE s.every_seconds END)"
        )
    };
}

pub(crate) async fn set_interval(
    pool: &PgPool,
    integration_id: &str,
    sync_type: SyncType,
    every: Option<Duration>,
) -> Result<(), StoreError> {
    let every = every.map(to_secs).transpose()?;
    let done = sqlx::query(concat!(
        "UPDATE sync_schedules s SET override_every_seconds = $3, next_due_at = LEAST(s.next_due_at, ",
        "COALESCE(s.last_claimed_at + COALESCE($3::bigint, CASE WHEN i.webhooks_active THEN $4::bigint ",
        "ELSE s.every_seconds END) * interval '1 second', s.next_due_at)) ",
        "FROM integrations i WHERE i.id = s.integration_id AND s.integration_id = $1 AND s.sync_type = $2"
    ))
    .bind(integration_id)
    .bind(sync_type.as_str())
    .bind(every)
    .bind(webhook_poll_secs())
    .execute(pool)
    .await?;
    if done.rows_affected() == 0 {
        return Err(not_found(integration_id, sync_type));
    }
    Ok(())
}

/// `Schedules::set_webhooks_active` inside the caller's transaction (setting the inbound
/// secret flips the flag atomically with it).
pub(crate) async fn set_webhooks_active_in(
    tx: &mut sqlx::PgConnection,
    integration_id: &str,
    active: bool,
) -> Result<(), StoreError> {
    let done = sqlx::query("UPDATE integrations SET webhooks_active = $2 WHERE id = $1")
        .bind(integration_id)
        .bind(active)
        .execute(&mut *tx)
        .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound(format!("integration {integration_id}")));
    }
    // Only a shorter interval moves anything: pull in what is now due sooner.
    sqlx::query(concat!(
        "UPDATE sync_schedules s SET next_due_at = s.last_claimed_at + ",
        effective_every!("$2"),
        " * interval '1 second' FROM integrations i WHERE i.id = s.integration_id AND s.integration_id = $1 ",
        "AND s.last_claimed_at + ",
        effective_every!("$2"),
        " * interval '1 second' < s.next_due_at"
    ))
    .bind(integration_id)
    .bind(webhook_poll_secs())
    .execute(&mut *tx)
    .await?;
    Ok(())
}

pub(crate) async fn claim_due(
    pool: &PgPool,
    now: Timestamp,
    owner: &str,
    limit: i64,
) -> Result<Vec<DueSync>, StoreError> {
    let mut conn = pool.acquire().await?;
    claim_due_in(&mut conn, now, owner, limit).await
}

/// The open run of each claimed (integration, type), enqueued together on the claim's
/// connection (inside `claim_due_runs`'s transaction).
pub(crate) async fn enqueue_claimed(conn: &mut PgConnection, due: Vec<DueSync>) -> Result<Vec<ClaimedRun>, StoreError> {
    let pairs: Vec<(String, SyncType)> = due.iter().map(|d| (d.integration_id.clone(), d.sync_type)).collect();
    let runs = runs::enqueue_many_in(conn, &pairs).await?;
    Ok(due
        .into_iter()
        .zip(runs)
        .map(|(due, (run, created))| ClaimedRun { due, run, created })
        .collect())
}

/// The claim itself, on the caller's connection (alone, or inside `claim_due_runs`'s
/// transaction, which then holds the claimed rows until it commits).
///
/// The integration rows are locked `FOR KEY SHARE` with the schedules: it costs nothing against
/// everyday updates (a fence bump, webhooks) but keeps the integration from being deleted until
/// the claim commits. Without it `claim_due_runs` could deadlock with `delete_integration`, whose
/// cascade waits for our schedule lock while our run insert's foreign-key check waits for its
/// row lock. An integration being deleted is skipped like a schedule another replica holds.
pub(crate) async fn claim_due_in(
    conn: &mut PgConnection,
    now: Timestamp,
    owner: &str,
    limit: i64,
) -> Result<Vec<DueSync>, StoreError> {
    if limit <= 0 {
        return Ok(Vec::new());
    }
    let now = clock::truncate(now);
    let claimed = sqlx::query(concat!(
        "WITH due AS (SELECT s.integration_id, s.sync_type, s.next_due_at, ",
        effective_every!("$4"),
        " AS every FROM sync_schedules s JOIN integrations i ON i.id = s.integration_id ",
        "WHERE s.next_due_at <= $1 ORDER BY s.next_due_at, s.integration_id, s.sync_type LIMIT $3 ",
        "FOR UPDATE OF s SKIP LOCKED FOR KEY SHARE OF i SKIP LOCKED) ",
        "UPDATE sync_schedules s SET next_due_at = GREATEST(due.next_due_at, $1) + due.every * interval '1 second', ",
        "last_claimed_at = $1, claimed_by = $2 FROM due ",
        "WHERE s.integration_id = due.integration_id AND s.sync_type = due.sync_type ",
        "RETURNING s.integration_id, s.sync_type, due.next_due_at AS due_at"
    ))
    .bind(now)
    .bind(owner)
    .bind(limit)
    .bind(webhook_poll_secs())
    .fetch_all(conn)
    .await?;
    let mut due = claimed
        .iter()
        .map(|row| {
            Ok(DueSync {
                integration_id: row.try_get("integration_id")?,
                sync_type: parse_sync_type(row.try_get("sync_type")?)?,
                due_at: row.try_get("due_at")?,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    // RETURNING has no order; hand the most overdue out first, as selected.
    due.sort_by(|a, b| {
        (a.due_at, &a.integration_id, a.sync_type.as_str()).cmp(&(b.due_at, &b.integration_id, b.sync_type.as_str()))
    });
    Ok(due)
}
