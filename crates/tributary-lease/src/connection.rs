//! The Redis connection the leases use, built with timeouts that suit them.
//!
//! The redis crate's `ConnectionManager` times out every response after 500 ms by default
//! (<https://docs.rs/redis/1.8.1/redis/aio/struct.ConnectionManagerConfig.html>). A Redis
//! that is briefly slow (a fork for a snapshot, a long Lua script of the job queue, a loaded
//! host) then turns into errors: apalis-redis is known to stop a whole worker pool on them,
//! and here an acquisition that timed out may still have been granted, leaving a lease
//! nobody uses until its TTL. A longer timeout makes both rarer, so build the connection
//! here rather than with the crate's defaults.

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use crate::LeaseError;

/// Timeouts and reconnection for [`connect`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectOptions {
    /// How long one command may take to answer. Keep it well below the renewal interval (a
    /// third of the lease TTL), so a renewal that hangs fails and is retried while the lease
    /// still lasts.
    pub response_timeout: Duration,
    /// How long one attempt to (re)connect may take.
    pub connection_timeout: Duration,
    /// How many times a lost connection is retried, with jittered exponential backoff from
    /// 100 ms, before a call fails (the next call starts reconnecting again).
    pub reconnect_retries: usize,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        Self {
            response_timeout: Duration::from_secs(5),
            connection_timeout: Duration::from_secs(2),
            reconnect_retries: 6,
        }
    }
}

/// A reconnecting connection to the Redis at `url` (e.g. `redis://127.0.0.1:6379`), for
/// [`crate::RedisLeases::new`]. Fails when the first connection cannot be made, so a worker
/// with a wrong URL stops at start rather than at its first job.
pub async fn connect(url: &str, options: &ConnectOptions) -> Result<ConnectionManager, LeaseError> {
    let client = redis::Client::open(url)?;
    let config = ConnectionManagerConfig::new()
        .set_response_timeout(Some(options.response_timeout))
        .set_connection_timeout(Some(options.connection_timeout))
        .set_number_of_retries(options.reconnect_retries);
    Ok(ConnectionManager::new_with_config(client, config).await?)
}
