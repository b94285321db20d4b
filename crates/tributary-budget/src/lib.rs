//! An integration's source rate budget in Redis, spent by every process that calls the tool
//! for it ([`tributary_source::SharedBudget`]).
//!
//! A worker's client keeps the configured requests per second and the tool's documented
//! limits in memory; in a fleet, two processes may call one integration's tool at once (a
//! paused FULL finishing its page while the preempting DELTA starts on another worker, a
//! stalled worker and the one that took its lease over, a webhook's refetch), and each would
//! spend the whole budget. Here every limit is one Redis key per integration, so the budget is
//! the integration's, not the process's.
//!
//! Keys, one prefix per deployment (the queue's and the lease's):
//! - `{prefix}:budget:{<integration_id>}:<limit>`: a limit's next free slot (its GCRA
//!   theoretical arrival time), microseconds on the server's clock; gone once in the past;
//! - `{prefix}:budget:{<integration_id>}:blocked`: until when the tool said the quota is spent.
//!
//! The integration id sits in braces (a Redis Cluster hash tag) so one script may touch all
//! of an integration's keys. Each operation is one Lua script (`lua/*.lua`), atomic on the
//! server and timed by its clock, so the processes' clocks need not agree.
//!
//! A slot is *reserved*, not polled for: each request takes the next slot and sleeps until
//! it, so requests of several processes leave in the order they asked, evenly spaced. The
//! crates that keep a GCRA in Redis (`redis-rate`, `throttle-kit`) answer "allowed or not"
//! and leave the waiting, and the fairness between waiters, to the caller; `governor`, which
//! the client uses in memory, has no shared store.
//!
//! Redis being unreachable fails no request: the client falls back to its in-memory limits
//! for that request and counts it (`tributary_source_shared_budget_errors_total`).

use std::sync::LazyLock;
use std::time::Duration;

use async_trait::async_trait;
use redis::Script;
use redis::aio::ConnectionManager;
use tributary_source::{SharedBudget, SharedQuota};

static TAKE: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("../lua/take.lua")));
static BLOCK: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("../lua/block.lua")));

/// Integrations' rate budgets in one Redis, under one key prefix. Cheap to clone: the
/// [`ConnectionManager`] multiplexes every call over one reconnecting connection.
#[derive(Clone)]
pub struct RedisBudget {
    conn: ConnectionManager,
    prefix: String,
}

impl RedisBudget {
    pub fn new(conn: ConnectionManager, prefix: impl Into<String>) -> Self {
        Self {
            conn,
            prefix: prefix.into(),
        }
    }

    fn key(&self, integration_id: &str, limit: &str) -> String {
        format!("{}:budget:{{{integration_id}}}:{limit}", self.prefix)
    }
}

impl std::fmt::Debug for RedisBudget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisBudget")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

#[async_trait]
impl SharedBudget for RedisBudget {
    async fn take(&self, integration_id: &str, quotas: &[SharedQuota]) -> Result<Duration, String> {
        let mut call = TAKE.key(self.key(integration_id, "blocked"));
        for quota in quotas {
            let interval = micros(quota.interval).max(1);
            let tolerance = interval.saturating_mul(u64::from(quota.burst.saturating_sub(1)));
            call.key(self.key(integration_id, &quota.name))
                .arg(interval)
                .arg(tolerance);
        }
        let mut conn = self.conn.clone();
        let wait: String = call.invoke_async(&mut conn).await.map_err(|e| format!("redis: {e}"))?;
        let wait: i64 = wait
            .parse()
            .map_err(|_| format!("redis: the budget script answered {wait:?}"))?;
        Ok(Duration::from_micros(u64::try_from(wait).unwrap_or(0)))
    }

    async fn block(&self, integration_id: &str, wait: Duration) -> Result<(), String> {
        let mut conn = self.conn.clone();
        let _: i64 = BLOCK
            .key(self.key(integration_id, "blocked"))
            .arg(micros(wait))
            .invoke_async(&mut conn)
            .await
            .map_err(|e| format!("redis: {e}"))?;
        Ok(())
    }
}
