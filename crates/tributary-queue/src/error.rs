use tributary_lease::LeaseError;
use tributary_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("could not push a job: {0}")]
    Push(String),
    #[error("lease: {0}")]
    Lease(LeaseError),
    #[error(transparent)]
    Store(StoreError),
    #[error("the {0} queue is already consumed by a worker in this process")]
    AlreadyTaken(&'static str),
}

impl QueueError {
    /// Whether Redis failed the operation (a dropped connection, a restart, a timeout), so
    /// trying again on the reconnected connection may succeed.
    pub fn is_redis(&self) -> bool {
        matches!(
            self,
            QueueError::Redis(_) | QueueError::Push(_) | QueueError::Lease(LeaseError::Redis(_))
        )
    }
}

impl From<LeaseError> for QueueError {
    fn from(e: LeaseError) -> Self {
        match e {
            LeaseError::Store(s) => QueueError::Store(s),
            other => QueueError::Lease(other),
        }
    }
}

impl From<StoreError> for QueueError {
    fn from(e: StoreError) -> Self {
        QueueError::Store(e)
    }
}
