//! Sync schedules and the scheduler's exactly-once claim.
//!
//! A claim selects due rows and moves them forward in the caller's write transaction. On
//! Postgres it selects them `FOR UPDATE SKIP LOCKED` (`claim_locks!`): a replica never waits for
//! another's claim and never sees a row another replica holds. Should a claim commit between
//! another's snapshot and its lock attempt, Postgres re-checks `next_due_at <= now` on the
//! committed row version, which no longer matches. See
//! <https://www.postgresql.org/docs/current/sql-select.html#SQL-FOR-UPDATE-SHARE> and
//! <https://www.postgresql.org/docs/current/transaction-iso.html#XACT-READ-COMMITTED>. SQLite
//! has no `SKIP LOCKED`, and needs none: a claim is a `BEGIN IMMEDIATE` transaction, so claims
//! (from any task or process sharing the file) run one after another, and each sees the rows
//! its predecessors moved forward.
//!
//! Due times are computed in SQL (`plus_secs!`: whole seconds on microsecond instants, exact on
//! both dialects), by the rules `crate::schedules` states.

use std::time::Duration;

use async_trait::async_trait;
use tributary_model::{SyncType, Timestamp};

use crate::codec::parse_sync_type;
use crate::schedules::{checked_intervals, not_found, to_secs, webhook_poll_secs};
use crate::{ClaimedRun, DueSync, Schedules, StoreError, SyncSchedule, clock};

/// The interval a schedule runs at (`crate::schedules::effective_secs` in SQL): the override
/// `$over`, else the webhook polling seconds bound at `$poll` while webhooks are active, else the
/// tool's default. Needs `s` (the schedule) and `i` (its integration).
macro_rules! effective_every {
    ($over:literal, $poll:literal) => {
        concat!(
            "COALESCE(",
            $over,
            ", CASE WHEN i.webhooks_active THEN CAST(",
            $poll,
            " AS BIGINT) ELSE s.every_seconds END)"
        )
    };
}

/// A schedule row as `rows::schedule` reads it, from `s` (the schedule) and `i` (its integration).
macro_rules! schedule_columns {
    () => {
        "s.integration_id, s.sync_type, s.every_seconds, s.override_every_seconds, i.webhooks_active, \
         s.next_due_at, s.last_claimed_at, s.claimed_by, s.paused_at"
    };
}
pub(crate) use schedule_columns;

per_backend! {
    with [runs]

    use sqlx::Row as _;

    /// `Schedules::set_webhooks_active` inside the caller's write transaction (setting the
    /// inbound secret flips the flag atomically with it).
    pub(crate) async fn set_webhooks_active_in(
        conn: &mut Conn,
        integration_id: &str,
        active: bool,
    ) -> Result<(), StoreError> {
        let done = sqlx::query("UPDATE integrations SET webhooks_active = $2 WHERE id = $1")
            .bind(integration_id)
            .bind(active)
            .execute(&mut *conn)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("integration {integration_id}")));
        }
        // Only a shorter interval moves anything: pull in what is now due sooner.
        sqlx::query(concat!(
            "UPDATE sync_schedules AS s SET next_due_at = ",
            plus_secs!("s.last_claimed_at", effective_every!("s.override_every_seconds", "$2")),
            " FROM integrations i WHERE i.id = s.integration_id AND s.integration_id = $1 AND ",
            plus_secs!("s.last_claimed_at", effective_every!("s.override_every_seconds", "$2")),
            " < s.next_due_at"
        ))
        .bind(integration_id)
        .bind(webhook_poll_secs())
        .execute(&mut *conn)
        .await?;
        Ok(())
    }

    /// Pauses (`Some(now)`) or resumes (`None`) one schedule: `true` when that changed it. A
    /// second pause keeps the first pause's time.
    async fn set_paused(
        pool: &Pool,
        integration_id: &str,
        sync_type: SyncType,
        paused_at: Option<Timestamp>,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE sync_schedules SET paused_at = $3 WHERE integration_id = $1 AND sync_type = $2 \
             AND ((CAST($3 AS TEXT) IS NULL) <> (paused_at IS NULL))",
        )
        .bind(integration_id)
        .bind(sync_type.as_str())
        .bind(paused_at.map(time))
        .execute(pool)
        .await?;
        if done.rows_affected() > 0 {
            return Ok(true);
        }
        let exists: Option<i32> = sqlx::query_scalar("SELECT 1 FROM sync_schedules WHERE integration_id = $1 AND sync_type = $2")
            .bind(integration_id)
            .bind(sync_type.as_str())
            .fetch_optional(pool)
            .await?;
        match exists {
            Some(_) => Ok(false),
            None => Err(not_found(integration_id, sync_type)),
        }
    }

    /// The claim itself, in the caller's write transaction (alone, or `claim_due_runs`'s), which
    /// holds the claimed rows until it commits.
    ///
    /// On Postgres the integration rows are locked `FOR KEY SHARE` with the schedules
    /// (`claim_locks!`): it costs nothing against everyday updates (a fence bump, webhooks) but
    /// keeps the integration from being deleted until the claim commits. Without it
    /// `claim_due_runs` could deadlock with `delete_integration`, whose cascade waits for our
    /// schedule lock while our run insert's foreign-key check waits for its row lock. An
    /// integration being deleted is skipped like a schedule another replica holds.
    async fn claim_due_in(conn: &mut Conn, now: Timestamp, owner: &str, limit: i64) -> Result<Vec<DueSync>, StoreError> {
        if limit <= 0 {
            return Ok(Vec::new());
        }
        let now = clock::truncate(now);
        let found = sqlx::query(concat!(
            "SELECT s.integration_id, s.sync_type, s.next_due_at FROM sync_schedules s ",
            "JOIN integrations i ON i.id = s.integration_id ",
            "WHERE s.next_due_at <= $1 AND s.paused_at IS NULL ORDER BY s.next_due_at, s.integration_id, s.sync_type LIMIT $2",
            claim_locks!()
        ))
        .bind(time(now))
        .bind(limit)
        .fetch_all(&mut *conn)
        .await?;
        let due = found
            .iter()
            .map(|row| {
                Ok(DueSync {
                    integration_id: row.try_get("integration_id")?,
                    sync_type: parse_sync_type(row.try_get("sync_type")?)?,
                    due_at: get_time(row, "next_due_at")?,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        if due.is_empty() {
            return Ok(due);
        }
        let integrations: Vec<&str> = due.iter().map(|d| d.integration_id.as_str()).collect();
        let types: Vec<&str> = due.iter().map(|d| d.sync_type.as_str()).collect();
        // One interval after now (every claimed row was due by now), so a backlog fires once
        // instead of once per missed interval.
        sqlx::query(concat!(
            "UPDATE sync_schedules AS s SET next_due_at = ",
            plus_secs!("$1", effective_every!("s.override_every_seconds", "$3")),
            ", last_claimed_at = $1, claimed_by = $2 FROM integrations i, ",
            text_rows!("c": "$4" as "integration_id", "$5" as "sync_type"),
            " WHERE i.id = s.integration_id AND s.integration_id = c.integration_id AND s.sync_type = c.sync_type"
        ))
        .bind(time(now))
        .bind(owner)
        .bind(webhook_poll_secs())
        .bind(strings(&integrations)?)
        .bind(strings(&types)?)
        .execute(&mut *conn)
        .await?;
        Ok(due)
    }

    #[async_trait]
    impl Schedules for Store {
        async fn ensure_schedules(
            &self,
            integration_id: &str,
            intervals: &[(SyncType, Duration)],
        ) -> Result<u64, StoreError> {
            let checked = checked_intervals(intervals)?;
            let types: Vec<&str> = checked.iter().map(|(t, _)| t.as_str()).collect();
            let secs: Vec<i64> = checked.iter().map(|(_, s)| *s).collect();
            let mut tx = begin_write(&self.pool).await?;
            // On Postgres, KEY SHARE keeps the integration from being deleted until our rows
            // exist, so a racing delete_integration removes them with it instead of failing
            // our insert.
            let exists = sqlx::query(concat!("SELECT 1 FROM integrations WHERE id = $1", for_key_share!()))
                .bind(integration_id)
                .fetch_optional(&mut *tx)
                .await?;
            if exists.is_none() {
                return Err(StoreError::NotFound(format!("integration {integration_id}")));
            }
            sqlx::query(concat!(
                "UPDATE sync_schedules AS s SET every_seconds = x.every FROM ",
                schedule_intervals!(),
                " WHERE s.integration_id = $1 AND s.sync_type = x.sync_type AND s.every_seconds <> x.every"
            ))
            .bind(integration_id)
            .bind(strings(&types)?)
            .bind(ints(&secs)?)
            .execute(&mut *tx)
            .await?;
            // `WHERE true`: without a WHERE, SQLite would read ON CONFLICT as a join constraint.
            let created = sqlx::query(concat!(
                "INSERT INTO sync_schedules (integration_id, sync_type, every_seconds, next_due_at) ",
                "SELECT $1, x.sync_type, x.every, $4 FROM ",
                schedule_intervals!(),
                " WHERE true ON CONFLICT (integration_id, sync_type) DO NOTHING"
            ))
            .bind(integration_id)
            .bind(strings(&types)?)
            .bind(ints(&secs)?)
            .bind(time(clock::now()))
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(created.rows_affected())
        }

        async fn set_schedule_interval(
            &self,
            integration_id: &str,
            sync_type: SyncType,
            every: Option<Duration>,
        ) -> Result<(), StoreError> {
            let every = every.map(to_secs).transpose()?;
            // `next_due_at` is pulled in when the new interval, counted from the last claim, ends
            // sooner; never pushed out, so a pending or forced sync keeps its place (a NULL last
            // claim moves nothing).
            let done = sqlx::query(concat!(
                "UPDATE sync_schedules AS s SET override_every_seconds = $3, next_due_at = CASE WHEN ",
                plus_secs!("s.last_claimed_at", effective_every!("CAST($3 AS BIGINT)", "$4")),
                " < s.next_due_at THEN ",
                plus_secs!("s.last_claimed_at", effective_every!("CAST($3 AS BIGINT)", "$4")),
                " ELSE s.next_due_at END FROM integrations i WHERE i.id = s.integration_id AND s.integration_id = $1 AND s.sync_type = $2"
            ))
            .bind(integration_id)
            .bind(sync_type.as_str())
            .bind(every)
            .bind(webhook_poll_secs())
            .execute(&self.pool)
            .await?;
            if done.rows_affected() == 0 {
                return Err(not_found(integration_id, sync_type));
            }
            Ok(())
        }

        async fn set_webhooks_active(&self, integration_id: &str, active: bool) -> Result<(), StoreError> {
            let mut tx = begin_write(&self.pool).await?;
            set_webhooks_active_in(&mut tx, integration_id, active).await?;
            tx.commit().await?;
            Ok(())
        }

        async fn claim_due_syncs(&self, now: Timestamp, owner: &str, limit: i64) -> Result<Vec<DueSync>, StoreError> {
            let mut tx = begin_write(&self.pool).await?;
            let claimed = claim_due_in(&mut tx, now, owner, limit).await?;
            tx.commit().await?;
            Ok(claimed)
        }

        async fn claim_due_runs(&self, now: Timestamp, owner: &str, limit: i64) -> Result<Vec<ClaimedRun>, StoreError> {
            // The claim and the open runs in one transaction: should the scheduler die right
            // after, the claim has left a QUEUED run behind.
            let mut tx = begin_write(&self.pool).await?;
            let due = claim_due_in(&mut tx, now, owner, limit).await?;
            let pairs: Vec<(String, SyncType)> = due.iter().map(|d| (d.integration_id.clone(), d.sync_type)).collect();
            let enqueued = runs::enqueue_many_in(&mut tx, &pairs).await?;
            tx.commit().await?;
            Ok(due
                .into_iter()
                .zip(enqueued)
                .map(|(due, (run, created))| ClaimedRun { due, run, created })
                .collect())
        }

        async fn force_sync(&self, integration_id: &str, sync_type: SyncType, now: Timestamp) -> Result<(), StoreError> {
            // CASE rather than LEAST (Postgres) or min() (SQLite, where the fixed-width texts
            // compare in time order): both read it the same.
            let done = sqlx::query(concat!(
                "UPDATE sync_schedules SET next_due_at = CASE WHEN next_due_at < $3 THEN next_due_at ELSE $3 END ",
                "WHERE integration_id = $1 AND sync_type = $2"
            ))
            .bind(integration_id)
            .bind(sync_type.as_str())
            .bind(time(clock::truncate(now)))
            .execute(&self.pool)
            .await?;
            if done.rows_affected() == 0 {
                return Err(not_found(integration_id, sync_type));
            }
            Ok(())
        }

        async fn list_schedules(&self, integration_id: &str) -> Result<Vec<SyncSchedule>, StoreError> {
            let found = sqlx::query(concat!(
                "SELECT ",
                schedule_columns!(),
                " FROM sync_schedules s JOIN integrations i ON i.id = s.integration_id WHERE s.integration_id = $1 ORDER BY s.sync_type"
            ))
            .bind(integration_id)
            .fetch_all(&self.pool)
            .await?;
            found.iter().map(rows::schedule).collect()
        }

        async fn pause_schedule(&self, integration_id: &str, sync_type: SyncType) -> Result<bool, StoreError> {
            set_paused(&self.pool, integration_id, sync_type, Some(clock::now())).await
        }

        async fn resume_schedule(&self, integration_id: &str, sync_type: SyncType) -> Result<bool, StoreError> {
            set_paused(&self.pool, integration_id, sync_type, None).await
        }
    }
}
