use std::time::Duration;

use tributary_store::{StoreError, StoreErrorKind};

/// Why a lease operation failed. Losing a lease is not an error: `acquire` answers `None`
/// and `renew`/`release` answer `false`.
#[derive(Debug, thiserror::Error)]
pub enum LeaseError {
    /// Redis did not answer, answered too late, or rejected a command. The outcome of the
    /// operation is unknown: an acquisition may have succeeded (its lease then expires after
    /// its TTL), a renewal may have failed.
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    /// The mirror could not read the integration or advance its fence.
    #[error("mirror: {0}")]
    Store(#[from] StoreError),
    #[error("integration {0} not found")]
    IntegrationNotFound(String),
    /// Redis expires keys with millisecond precision; a TTL under 1 ms (or beyond `u64`
    /// milliseconds) cannot be expressed.
    #[error("lease ttl {0:?} must be at least 1 ms")]
    InvalidTtl(Duration),
    /// The lease key holds something this crate did not write (edited by hand, or another
    /// application shares the key prefix).
    #[error("corrupt lease key {key}: {detail}")]
    Corrupt { key: String, detail: String },
}

impl LeaseError {
    /// Whether retrying the same call later may succeed: Redis or the mirror being briefly
    /// unreachable, rather than a bad argument, a missing integration or a corrupt key.
    pub fn is_transient(&self) -> bool {
        match self {
            LeaseError::Redis(e) => e.is_timeout() || e.is_connection_dropped() || e.is_io_error(),
            // By kind, not by variant: a constraint the database refused is a `Database` error
            // too, and retrying it fails the same way.
            LeaseError::Store(e) => matches!(
                e.kind(),
                StoreErrorKind::Unavailable | StoreErrorKind::Conflict | StoreErrorKind::StatementTimeout
            ),
            LeaseError::IntegrationNotFound(_) | LeaseError::InvalidTtl(_) | LeaseError::Corrupt { .. } => false,
        }
    }
}
