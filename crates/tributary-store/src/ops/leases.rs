//! The embedded lease and the fence it shares with the fleet's Redis lease (invariant I4).
//!
//! Fence changes take the integration's write lock (`begin_locked`), so they serialise with
//! page writes: a page either commits before the new fence exists or is rejected.

use std::time::Duration;

use async_trait::async_trait;

use crate::{Lease, Leases, StoreError, clock};

per_backend! {
    #[async_trait]
    impl Leases for Store {
        async fn acquire_lease(
            &self,
            integration_id: &str,
            owner: &str,
            ttl: Duration,
        ) -> Result<Option<Lease>, StoreError> {
            use sqlx::Row as _;
            let now = clock::now();
            let expires_at = clock::after(now, ttl)?;
            let mut tx = begin_locked(&self.pool, integration_id).await?;
            let holder = sqlx::query("SELECT owner, expires_at FROM leases WHERE integration_id = $1")
                .bind(integration_id)
                .fetch_optional(&mut *tx)
                .await?;
            if let Some(holder) = holder
                && holder.try_get::<String, _>("owner")? != owner
                && get_time(&holder, "expires_at")? > now
            {
                return Ok(None);
            }
            let fence: Option<i64> =
                sqlx::query_scalar("UPDATE integrations SET fence = fence + 1 WHERE id = $1 RETURNING fence")
                    .bind(integration_id)
                    .fetch_optional(&mut *tx)
                    .await?;
            let fence = fence.ok_or_else(|| StoreError::NotFound(format!("integration {integration_id}")))?;
            sqlx::query(concat!(
                "INSERT INTO leases (integration_id, owner, fence, expires_at) VALUES ($1, $2, $3, $4) ",
                "ON CONFLICT (integration_id) DO UPDATE SET owner = EXCLUDED.owner, fence = EXCLUDED.fence, ",
                "expires_at = EXCLUDED.expires_at"
            ))
            .bind(integration_id)
            .bind(owner)
            .bind(fence)
            .bind(time(expires_at))
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(Some(Lease {
                integration_id: integration_id.to_string(),
                owner: owner.to_string(),
                fence,
                ttl,
            }))
        }

        /// Extends the lease while it is still this owner's and its fence is still the
        /// integration's (a Redis lease may have advanced the fence meanwhile).
        async fn renew_lease(&self, lease: &Lease, ttl: Duration) -> Result<bool, StoreError> {
            let expires_at = clock::after(clock::now(), ttl)?;
            let done = sqlx::query(concat!(
                "UPDATE leases SET expires_at = $4 WHERE integration_id = $1 AND owner = $2 AND fence = $3 ",
                "AND fence = (SELECT fence FROM integrations WHERE id = $1)"
            ))
            .bind(&lease.integration_id)
            .bind(&lease.owner)
            .bind(lease.fence)
            .bind(time(expires_at))
            .execute(&self.pool)
            .await?;
            Ok(done.rows_affected() > 0)
        }

        async fn release_lease(&self, lease: &Lease) -> Result<(), StoreError> {
            sqlx::query("DELETE FROM leases WHERE integration_id = $1 AND owner = $2 AND fence = $3")
                .bind(&lease.integration_id)
                .bind(&lease.owner)
                .bind(lease.fence)
                .execute(&self.pool)
                .await?;
            Ok(())
        }

        async fn advance_fence(&self, integration_id: &str, fence: i64) -> Result<(), StoreError> {
            let mut tx = begin_locked(&self.pool, integration_id).await?;
            // CASE rather than GREATEST (Postgres) or max() (SQLite): both read it the same.
            let done = sqlx::query("UPDATE integrations SET fence = CASE WHEN fence < $2 THEN $2 ELSE fence END WHERE id = $1")
                .bind(integration_id)
                .bind(fence)
                .execute(&mut *tx)
                .await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::NotFound(format!("integration {integration_id}")));
            }
            tx.commit().await?;
            Ok(())
        }
    }
}
