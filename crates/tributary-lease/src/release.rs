//! `release`: give the lease back early (`lua/release.lua`).

use std::sync::LazyLock;

use redis::Script;

use crate::{Lease, LeaseError, RedisLeases};

static RELEASE: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("../lua/release.lua")));

impl RedisLeases {
    /// Deletes the lease if `lease.owner` still holds it under `lease.fence`, so the next
    /// worker need not wait for the TTL. `false` when it had already expired or passed to
    /// someone else (whose lease is left alone). The fence counter is kept.
    pub async fn release(&self, lease: &Lease) -> Result<bool, LeaseError> {
        let mut conn = self.conn.clone();
        let released: i64 = RELEASE
            .key(self.lease_key(&lease.integration_id))
            .arg(&lease.owner)
            .arg(lease.fence)
            .invoke_async(&mut conn)
            .await?;
        Ok(released == 1)
    }
}
