use tributary_source::SourceError;
use tributary_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("integration `{0}` not found")]
    IntegrationNotFound(String),
    /// Another worker holds the integration's lease.
    #[error("integration `{0}` is busy: another sync holds its lease")]
    Busy(String),
    /// This run's lease was taken over; it stopped without writing further (invariant I4).
    #[error("lease lost: {0}")]
    LeaseLost(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Source(#[from] SourceError),
}

impl EngineError {
    /// Whether a later attempt of the same job may succeed.
    pub fn is_recoverable(&self) -> bool {
        match self {
            EngineError::Busy(_) | EngineError::LeaseLost(_) => true,
            EngineError::Store(StoreError::Database(_)) => true,
            EngineError::Store(StoreError::Fenced { .. }) => true,
            EngineError::Source(e) => e.is_retryable(),
            _ => false,
        }
    }
}
