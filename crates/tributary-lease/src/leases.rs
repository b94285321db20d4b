//! The lease handle and the keys it lives under.

use std::time::Duration;

use redis::aio::ConnectionManager;

use crate::LeaseError;

/// Per-integration leases in one Redis, under one key prefix.
///
/// Cheap to clone: the [`ConnectionManager`] multiplexes every call over one reconnecting
/// connection. Build that connection with [`crate::connect`], not with the redis crate's
/// defaults (see [`crate::ConnectOptions`] for why).
#[derive(Clone)]
pub struct RedisLeases {
    pub(crate) conn: ConnectionManager,
    prefix: String,
}

impl RedisLeases {
    /// Leases under `{prefix}:lease:*` and `{prefix}:fence:*`. One prefix per deployment: two
    /// deployments sharing a Redis keep their fences apart by using different prefixes.
    pub fn new(conn: ConnectionManager, prefix: impl Into<String>) -> Self {
        Self {
            conn,
            prefix: prefix.into(),
        }
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    pub(crate) fn lease_key(&self, integration_id: &str) -> String {
        format!("{}:lease:{{{integration_id}}}", self.prefix)
    }

    pub(crate) fn fence_key(&self, integration_id: &str) -> String {
        format!("{}:fence:{{{integration_id}}}", self.prefix)
    }
}

impl std::fmt::Debug for RedisLeases {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisLeases")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

/// The TTL as Redis's PX argument: whole milliseconds, at least one.
pub(crate) fn ttl_millis(ttl: Duration) -> Result<u64, LeaseError> {
    match u64::try_from(ttl.as_millis()) {
        Ok(0) | Err(_) => Err(LeaseError::InvalidTtl(ttl)),
        Ok(ms) => Ok(ms),
    }
}
