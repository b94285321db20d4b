use tributary_engine::EngineError;
use tributary_queue::QueueError;
use tributary_store::StoreError;

/// Why a job could not be handled. Returned to apalis, which retries the job a few seconds
/// later: these are the mirror or Redis being away, not the source failing (the run records
/// those itself).
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error("mirror: {0}")]
    Store(#[from] StoreError),
    #[error("queue: {0}")]
    Queue(#[from] QueueError),
    #[error("engine: {0}")]
    Engine(#[from] EngineError),
    #[error("worker pool: {0}")]
    Pool(String),
    /// [`crate::JobContext::sync_now`] found nothing to run, and why (an operator paused the
    /// run, say).
    #[error("sync not run: {0}")]
    NotRun(&'static str),
}
