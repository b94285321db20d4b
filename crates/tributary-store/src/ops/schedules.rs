//! Sync schedules and the scheduler's exactly-once claim.
//!
//! What moves `next_due_at` stays per backend (`backend::schedules`): Postgres computes due
//! times in SQL and claims with `FOR UPDATE SKIP LOCKED`; SQLite computes them in Rust
//! (`crate::schedules`) under its write lock, because its date functions keep only
//! milliseconds. Each backend module's doc says why its claim is exactly-once.

use std::time::Duration;

use async_trait::async_trait;
use tributary_model::{SyncType, Timestamp};

use crate::schedules::{checked_intervals, not_found};
use crate::{ClaimedRun, DueSync, Schedules, StoreError, SyncSchedule, clock};

per_backend! {
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
            backend::schedules::set_interval(&self.pool, integration_id, sync_type, every).await
        }

        async fn set_webhooks_active(&self, integration_id: &str, active: bool) -> Result<(), StoreError> {
            let mut tx = begin_write(&self.pool).await?;
            backend::schedules::set_webhooks_active_in(&mut tx, integration_id, active).await?;
            tx.commit().await?;
            Ok(())
        }

        async fn claim_due_syncs(&self, now: Timestamp, owner: &str, limit: i64) -> Result<Vec<DueSync>, StoreError> {
            backend::schedules::claim_due(&self.pool, now, owner, limit).await
        }

        async fn claim_due_runs(&self, now: Timestamp, owner: &str, limit: i64) -> Result<Vec<ClaimedRun>, StoreError> {
            // The claim and the open runs in one transaction: should the scheduler die right
            // after, the claim has left a QUEUED run behind.
            let mut tx = begin_write(&self.pool).await?;
            let due = backend::schedules::claim_due_in(&mut tx, now, owner, limit).await?;
            let claimed = backend::schedules::enqueue_claimed(&mut tx, due).await?;
            tx.commit().await?;
            Ok(claimed)
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
                "SELECT s.integration_id, s.sync_type, s.every_seconds, s.override_every_seconds, i.webhooks_active, ",
                "s.next_due_at, s.last_claimed_at, s.claimed_by FROM sync_schedules s ",
                "JOIN integrations i ON i.id = s.integration_id WHERE s.integration_id = $1 ORDER BY s.sync_type"
            ))
            .bind(integration_id)
            .fetch_all(&self.pool)
            .await?;
            found.iter().map(rows::schedule).collect()
        }
    }
}
