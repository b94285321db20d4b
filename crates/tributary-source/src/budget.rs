//! An integration's rate budget counted by every process that calls its tool, not by each
//! process alone.
//!
//! A [`crate::SourceClient`] keeps its integration's limits in memory, which is the whole budget
//! as long as one process talks to the tool. In a fleet several may at once: a worker winding a
//! paused FULL down while another starts the DELTA that preempted it, a worker whose lease
//! expired while it stalled and the one that took over. Each would otherwise spend the whole
//! budget, and only one of them would hear the tool's "quota spent until". A client given a
//! [`SharedBudget`] (`tributary-budget` keeps one in Redis) draws every slot of the configured
//! budget and of the tool's documented limits from it, and tells it when the tool blocks.

use std::time::Duration;

use async_trait::async_trait;
use governor::Quota;

/// One limit of the shared budget: at most `burst` requests at once, then one every `interval`
/// (GCRA, the algorithm `governor` keeps in memory).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedQuota {
    /// Names the limit within its integration, the same in every process: `budget` for the
    /// configured requests per second, `tool:<endpoint or *>` for a documented limit.
    pub name: String,
    pub interval: Duration,
    pub burst: u32,
}

impl SharedQuota {
    pub(crate) fn from_quota(name: String, quota: &Quota) -> Self {
        Self {
            name,
            interval: quota.replenish_interval(),
            burst: quota.burst_size().get(),
        }
    }
}

/// Where an integration's budget is counted when several processes spend it.
///
/// Errors are the store's to describe; the client logs one, counts it in
/// `tributary_source_shared_budget_errors_total` and keeps to its in-memory limits for that
/// request: a budget store that is briefly unreachable slows nothing down and fails no sync.
#[async_trait]
pub trait SharedBudget: Send + Sync + std::fmt::Debug {
    /// Takes the next slot of each of `quotas` for `integration_id`, in the order every process
    /// asks, and answers how long the request must wait for the latest of them, or for the end
    /// of a block any process reported ([`SharedBudget::block`]), whichever is later.
    async fn take(&self, integration_id: &str, quotas: &[SharedQuota]) -> Result<Duration, String>;

    /// The tool said the integration's quota is spent for `wait`: every process waits it out.
    async fn block(&self, integration_id: &str, wait: Duration) -> Result<(), String>;
}
