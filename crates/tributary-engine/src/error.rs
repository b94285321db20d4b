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
    /// Whether a later attempt of the same job may succeed. Exhaustive on purpose: a new
    /// failure must be classified here, not fall into "give up" unseen.
    pub fn is_recoverable(&self) -> bool {
        match self {
            EngineError::Busy(_) | EngineError::LeaseLost(_) => true,
            EngineError::IntegrationNotFound(_) => false,
            EngineError::Source(e) => e.is_retryable(),
            EngineError::Store(e) => match e {
                StoreError::Database(_) | StoreError::Fenced { .. } => true,
                StoreError::NotFound(_)
                | StoreError::Conflict(_)
                | StoreError::Invalid(_)
                | StoreError::ScopeChanged { .. }
                | StoreError::Crypto(_)
                | StoreError::Corrupt(_)
                | StoreError::Migrate(_)
                | StoreError::Json(_) => false,
            },
        }
    }
}
