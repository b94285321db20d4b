//! `acquire`: take the lease, issue the next fence (`lua/acquire.lua`).

use std::sync::LazyLock;
use std::time::Duration;

use redis::Script;

use crate::leases::ttl_millis;
use crate::{Lease, LeaseError, RedisLeases};

static ACQUIRE: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("../lua/acquire.lua")));

impl RedisLeases {
    /// Takes the integration's lease for `ttl` if it is free, expired or already `owner`'s,
    /// with a fence above both every fence this Redis issued and `floor`. `floor` is the fence
    /// the mirror holds (`Integration::fence`); pass it so that a flushed Redis cannot issue a
    /// fence the mirror would reject. `None` while another owner holds the lease.
    ///
    /// The caller must then advance the mirror's fence to `lease.fence` before writing
    /// ([`RedisLeases::acquire_fenced`] does both).
    pub async fn acquire(
        &self,
        integration_id: &str,
        owner: &str,
        ttl: Duration,
        floor: i64,
    ) -> Result<Option<Lease>, LeaseError> {
        let ttl_ms = ttl_millis(ttl)?;
        let mut conn = self.conn.clone();
        // `Script` runs EVALSHA and loads the script on NOSCRIPT, so a restarted Redis (which
        // forgets loaded scripts) is handled:
        // https://docs.rs/redis/1.8.1/redis/struct.Script.html
        let fence: Option<i64> = ACQUIRE
            .key(self.lease_key(integration_id))
            .key(self.fence_key(integration_id))
            .arg(owner)
            .arg(ttl_ms)
            .arg(floor)
            .invoke_async(&mut conn)
            .await?;
        Ok(fence.map(|fence| Lease {
            integration_id: integration_id.to_owned(),
            owner: owner.to_owned(),
            fence,
            ttl,
        }))
    }
}
