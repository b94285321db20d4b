use tributary_queue::QueueError;
use tributary_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum SchedulerError {
    #[error("mirror: {0}")]
    Store(#[from] StoreError),
    #[error("queue: {0}")]
    Queue(#[from] QueueError),
}
