//! The embedded lease and the fence it shares with the fleet's Redis lease (invariant I4).
//!
//! Fence changes take the integration's write lock, so they serialise with page writes: a page
//! either commits before the new fence exists or is rejected.

use std::time::Duration;

use sqlx::PgPool;

use super::write_lock;
use crate::{Lease, StoreError, clock};

pub(super) async fn acquire(
    pool: &PgPool,
    integration_id: &str,
    owner: &str,
    ttl: Duration,
) -> Result<Option<Lease>, StoreError> {
    let now = clock::now();
    let expires_at = clock::after(now, ttl)?;
    let mut tx = pool.begin().await?;
    write_lock::lock(&mut tx, integration_id).await?;
    let holder: Option<(String, chrono::DateTime<chrono::Utc>)> =
        sqlx::query_as("SELECT owner, expires_at FROM leases WHERE integration_id = $1")
            .bind(integration_id)
            .fetch_optional(&mut *tx)
            .await?;
    if let Some((held_by, until)) = holder
        && held_by != owner
        && until > now
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
    .bind(expires_at)
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

/// Extends the lease while it is still this owner's and its fence is still the integration's
/// (a Redis lease may have advanced the fence meanwhile).
pub(super) async fn renew(pool: &PgPool, lease: &Lease, ttl: Duration) -> Result<bool, StoreError> {
    let expires_at = clock::after(clock::now(), ttl)?;
    let done = sqlx::query(concat!(
        "UPDATE leases SET expires_at = $4 FROM integrations i ",
        "WHERE leases.integration_id = $1 AND leases.owner = $2 AND leases.fence = $3 ",
        "AND i.id = leases.integration_id AND i.fence = leases.fence"
    ))
    .bind(&lease.integration_id)
    .bind(&lease.owner)
    .bind(lease.fence)
    .bind(expires_at)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() > 0)
}

pub(super) async fn release(pool: &PgPool, lease: &Lease) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM leases WHERE integration_id = $1 AND owner = $2 AND fence = $3")
        .bind(&lease.integration_id)
        .bind(&lease.owner)
        .bind(lease.fence)
        .execute(pool)
        .await?;
    Ok(())
}

pub(super) async fn advance_fence(pool: &PgPool, integration_id: &str, fence: i64) -> Result<(), StoreError> {
    let mut tx = pool.begin().await?;
    write_lock::lock(&mut tx, integration_id).await?;
    let done = sqlx::query("UPDATE integrations SET fence = GREATEST(fence, $2) WHERE id = $1")
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
