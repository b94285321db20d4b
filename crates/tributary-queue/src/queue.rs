//! Where jobs wait for a worker.

use std::time::Duration;

use async_trait::async_trait;
use serde::Serialize;
use tributary_model::SyncType;

use crate::{QueueError, SyncJob};

/// How many jobs of one queue are where, for operators.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QueueDepth {
    pub sync_type: SyncType,
    /// The queue's name in the backend.
    pub queue: String,
    /// Ready to be taken by a worker.
    pub pending: u64,
    /// Waiting for their time (retries with backoff).
    pub scheduled: u64,
    /// Taken by a worker and not yet acknowledged.
    pub running: u64,
}

/// The per-sync-type queues, as the scheduler and the operator API see them: a place to put
/// jobs and to count them. Workers consume through the backend-specific types.
#[async_trait]
pub trait JobQueue: Send + Sync + 'static {
    /// `"redis"` or `"memory"`, for logs and the operator API.
    fn backend(&self) -> &'static str;
    /// Puts the jobs on their type's queue, to be taken at once or after `delay`.
    async fn push(&self, jobs: Vec<SyncJob>, delay: Option<Duration>) -> Result<(), QueueError>;
    /// One entry per sync type.
    async fn depths(&self) -> Result<Vec<QueueDepth>, QueueError>;
    /// Makes delayed jobs whose time has come ready for workers, in bounded steps. Called on
    /// every scheduler tick; `push` does it for the jobs it pushes.
    async fn promote_due(&self) -> Result<u64, QueueError>;
    /// Drops what finished jobs leave behind (apalis keeps it until told to).
    async fn vacuum(&self) -> Result<u64, QueueError>;
}
