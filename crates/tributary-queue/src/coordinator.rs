//! Leases, queued markers and signals: what workers, the scheduler and operators coordinate
//! through.

use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tributary_store::Lease;

use crate::QueueError;

/// What an operator asked of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunSignal {
    Pause,
    Cancel,
}

impl RunSignal {
    pub fn as_str(self) -> &'static str {
        match self {
            RunSignal::Pause => "pause",
            RunSignal::Cancel => "cancel",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pause" => Some(RunSignal::Pause),
            "cancel" => Some(RunSignal::Cancel),
            _ => None,
        }
    }
}

/// A run a worker executes and watches for signals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchedRun {
    pub run_id: String,
    pub integration_id: String,
}

/// What [`Coordinator::poll_signals`] found for one watched run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WatchedSignals {
    /// A DELTA of the run's integration waits for the lease (its run id).
    pub preempted_by: Option<String>,
    pub signal: Option<RunSignal>,
}

/// The fleet's coordination, in Redis ([`crate::RedisCoordinator`]) or in one process
/// ([`crate::EmbeddedCoordinator`]).
#[async_trait]
pub trait Coordinator: Send + Sync + 'static {
    /// Takes the integration's lease for `owner` and advances the mirror's fence to the new
    /// token (invariant I4). `None` while someone else holds it.
    async fn acquire(&self, integration_id: &str, owner: &str, ttl: Duration) -> Result<Option<Lease>, QueueError>;
    /// Extends the lease; `false` once it is lost (expired and taken, or flushed).
    async fn renew(&self, lease: &Lease) -> Result<bool, QueueError>;
    /// Gives the lease up if still held by `lease.owner` under `lease.fence`.
    async fn release(&self, lease: &Lease) -> Result<(), QueueError>;
    /// The owner holding each integration's lease, if any.
    async fn holders(&self, integration_ids: &[String]) -> Result<Vec<Option<String>>, QueueError>;

    /// Records that a job for `run_id` waits in a queue. `false` if one was recorded already,
    /// so concurrent re-enqueuers push once. Markers expire after a while (a job lost with
    /// its marker standing must not wedge the run forever).
    async fn mark_queued(&self, run_id: &str) -> Result<bool, QueueError> {
        Ok(self
            .mark_queued_many(&[run_id.to_owned()])
            .await?
            .pop()
            .unwrap_or(false))
    }
    /// [`Coordinator::mark_queued`] for many runs in one round trip (the scheduler marks
    /// thousands at a time).
    async fn mark_queued_many(&self, run_ids: &[String]) -> Result<Vec<bool>, QueueError>;
    /// A worker took the run's job (after taking its lease), or the run ended.
    async fn unmark_queued(&self, run_id: &str) -> Result<(), QueueError>;
    /// Whether each run has a queued marker.
    async fn queued(&self, run_ids: &[String]) -> Result<Vec<bool>, QueueError>;

    /// A DELTA (`by_run`) waits for the integration's lease: its holder, a FULL or DEFAULT,
    /// should pause at its next page boundary.
    async fn request_preemption(&self, integration_id: &str, by_run: &str) -> Result<(), QueueError>;
    /// Withdraws `by_run`'s request (it got the lease, or gave up); leaves another's alone.
    async fn clear_preemption(&self, integration_id: &str, by_run: &str) -> Result<(), QueueError>;

    /// An operator's pause or cancel of a running run, picked up by its worker.
    async fn send_signal(&self, run_id: &str, signal: RunSignal) -> Result<(), QueueError>;
    async fn clear_signal(&self, run_id: &str) -> Result<(), QueueError>;
    /// One round trip for everything a worker's runs may have been asked.
    async fn poll_signals(&self, runs: &[WatchedRun]) -> Result<Vec<WatchedSignals>, QueueError>;
}
