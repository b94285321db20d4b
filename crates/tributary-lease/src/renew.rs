//! `renew`: the heartbeat (`lua/renew.lua`).

use std::sync::LazyLock;

use redis::Script;

use crate::leases::ttl_millis;
use crate::{Lease, LeaseError, RedisLeases};

static RENEW: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("../lua/renew.lua")));

impl RedisLeases {
    /// Extends the lease by `lease.ttl` from now if `lease.owner` still holds it under
    /// `lease.fence`. `false` once it expired or was taken over: the holder must stop
    /// (its writes are fenced off from now on anyway).
    pub async fn renew(&self, lease: &Lease) -> Result<bool, LeaseError> {
        let ttl_ms = ttl_millis(lease.ttl)?;
        let mut conn = self.conn.clone();
        let renewed: i64 = RENEW
            .key(self.lease_key(&lease.integration_id))
            .arg(&lease.owner)
            .arg(lease.fence)
            .arg(ttl_ms)
            .invoke_async(&mut conn)
            .await?;
        Ok(renewed == 1)
    }
}
