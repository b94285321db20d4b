//! `acquire_fenced`: the Redis lease and the mirror's fence, moved together.

use std::time::Duration;

use tributary_store::FenceStore;

use crate::{Lease, LeaseError, RedisLeases};

impl RedisLeases {
    /// Takes the integration's lease with the mirror's fence as the floor, then advances the
    /// mirror's fence to the new token, so that from here on writes under any older fence are
    /// rejected. Run the sync under the returned `lease.fence`
    /// (`SyncEngine::execute(run, lease.fence, ..)`), renewing the lease meanwhile.
    ///
    /// `None` while another owner holds the lease. If the mirror cannot be advanced the lease
    /// is released again (best effort) and the error returned: a lease whose fence the mirror
    /// does not know could not write anything.
    pub async fn acquire_fenced(
        &self,
        store: &dyn FenceStore,
        integration_id: &str,
        owner: &str,
        ttl: Duration,
    ) -> Result<Option<Lease>, LeaseError> {
        let integration = store
            .get_integration(integration_id)
            .await?
            .ok_or_else(|| LeaseError::IntegrationNotFound(integration_id.to_owned()))?;
        let Some(lease) = self.acquire(integration_id, owner, ttl, integration.fence).await? else {
            return Ok(None);
        };
        // Never lowers the fence: if a later holder has advanced it already, this lease's
        // writes are fenced, as they must be.
        if let Err(e) = store.advance_fence(integration_id, lease.fence).await {
            if let Err(release) = self.release(&lease).await {
                tracing::warn!(integration_id, error = %release, "could not release lease; it will expire");
            }
            return Err(e.into());
        }
        Ok(Some(lease))
    }
}
