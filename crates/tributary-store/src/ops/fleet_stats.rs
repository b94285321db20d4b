//! What `/metrics` reads about the whole fleet at each scrape: open runs and every
//! integration's freshness, each in one statement.

use std::time::Duration;

use async_trait::async_trait;

use crate::codec::{parse_state, parse_sync_type, parse_tool};
use crate::{FleetStats, Freshness, OpenRunStats, StoreError, WEBHOOK_POLL_INTERVAL};

per_backend! {
    #[async_trait]
    impl FleetStats for Store {
        async fn open_run_stats(&self) -> Result<Vec<OpenRunStats>, StoreError> {
            use sqlx::Row as _;
            // A walk of the partial index on open runs: finished runs are never read.
            let rows = sqlx::query(concat!(
                "SELECT sync_type, state, count(*) AS n, min(created_at) AS oldest FROM sync_runs WHERE ",
                crate::ops::run_queries::open_states!(),
                " GROUP BY sync_type, state"
            ))
            .fetch_all(&self.pool)
            .await?;
            rows.iter()
                .map(|row| {
                    Ok(OpenRunStats {
                        sync_type: parse_sync_type(row.try_get("sync_type")?)?,
                        state: parse_state(row.try_get("state")?)?,
                        count: row.try_get::<i64, _>("n")?.max(0) as u64,
                        oldest: get_time(row, "oldest")?,
                    })
                })
                .collect()
        }

        async fn integration_freshness(&self) -> Result<Vec<Freshness>, StoreError> {
            use sqlx::Row as _;
            // The intervals in one hash aggregate over the schedules (cheaper than a probe per
            // integration, and it keeps the plan's cost under Postgres's JIT threshold, whose
            // compilation alone took 15 ms at 10,000 integrations); the last success by a probe
            // of `sync_runs_by_integration` newest first, stopping at the first SUCCEEDED run,
            // so a long run history costs nothing. The interval is the one a claim would use
            // (override, else the webhook poll while webhooks are active, else the default).
            let rows = sqlx::query(
                "SELECT i.id, i.tool, i.created_at, \
                 (SELECT r.ended_at FROM sync_runs r WHERE r.integration_id = i.id AND r.state = 'SUCCEEDED' \
                  ORDER BY r.created_at DESC LIMIT 1) AS last_success, \
                 s.every \
                 FROM integrations i LEFT JOIN ( \
                  SELECT s.integration_id, \
                  min(COALESCE(s.override_every_seconds, CASE WHEN j.webhooks_active THEN $1 ELSE s.every_seconds END)) AS every \
                  FROM sync_schedules s JOIN integrations j ON j.id = s.integration_id GROUP BY s.integration_id \
                 ) s ON s.integration_id = i.id",
            )
            .bind(WEBHOOK_POLL_INTERVAL.as_secs() as i64)
            .fetch_all(&self.pool)
            .await?;
            rows.iter()
                .map(|row| {
                    let every: Option<i64> = row.try_get("every")?;
                    Ok(Freshness {
                        integration_id: row.try_get("id")?,
                        tool: parse_tool(row.try_get("tool")?)?,
                        created_at: get_time(row, "created_at")?,
                        last_success: get_opt_time(row, "last_success")?,
                        every: every.map(|s| Duration::from_secs(s.max(1) as u64)),
                    })
                })
                .collect()
        }
    }
}
