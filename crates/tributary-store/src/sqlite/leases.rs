//! The embedded lease: a row with an expiry, and the fence it bumps (invariant I4). Every
//! change to the fence happens under the write lock, so it serialises with page writes.

use std::time::Duration;

use sqlx::SqlitePool;

use super::write_lock;
use crate::{Lease, StoreError, clock};

pub(super) async fn acquire(
    pool: &SqlitePool,
    integration_id: &str,
    owner: &str,
    ttl: Duration,
) -> Result<Option<Lease>, StoreError> {
    let now = clock::now();
    let expires_at = clock::after(now, ttl)?;
    let mut tx = write_lock::begin(pool).await?;
    let holder: Option<(String, String)> =
        sqlx::query_as("SELECT owner, expires_at FROM leases WHERE integration_id = ?1")
            .bind(integration_id)
            .fetch_optional(&mut *tx)
            .await?;
    if let Some((held_by, until)) = holder
        && held_by != owner
        && clock::from_text(&until)? > now
    {
        return Ok(None);
    }
    let fence: Option<i64> =
        sqlx::query_scalar("UPDATE integrations SET fence = fence + 1 WHERE id = ?1 RETURNING fence")
            .bind(integration_id)
            .fetch_optional(&mut *tx)
            .await?;
    let fence = fence.ok_or_else(|| StoreError::NotFound(format!("integration {integration_id}")))?;
    sqlx::query(concat!(
        "INSERT INTO leases (integration_id, owner, fence, expires_at) VALUES (?1, ?2, ?3, ?4) ",
        "ON CONFLICT (integration_id) DO UPDATE SET owner = excluded.owner, fence = excluded.fence, ",
        "expires_at = excluded.expires_at"
    ))
    .bind(integration_id)
    .bind(owner)
    .bind(fence)
    .bind(clock::to_text(expires_at))
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

pub(super) async fn renew(pool: &SqlitePool, lease: &Lease, ttl: Duration) -> Result<bool, StoreError> {
    let expires_at = clock::after(clock::now(), ttl)?;
    let done = sqlx::query(concat!(
        "UPDATE leases SET expires_at = ?4 WHERE integration_id = ?1 AND owner = ?2 AND fence = ?3 ",
        "AND fence = (SELECT fence FROM integrations WHERE id = ?1)"
    ))
    .bind(&lease.integration_id)
    .bind(&lease.owner)
    .bind(lease.fence)
    .bind(clock::to_text(expires_at))
    .execute(pool)
    .await?;
    Ok(done.rows_affected() > 0)
}

pub(super) async fn release(pool: &SqlitePool, lease: &Lease) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM leases WHERE integration_id = ?1 AND owner = ?2 AND fence = ?3")
        .bind(&lease.integration_id)
        .bind(&lease.owner)
        .bind(lease.fence)
        .execute(pool)
        .await?;
    Ok(())
}

pub(super) async fn advance_fence(pool: &SqlitePool, integration_id: &str, fence: i64) -> Result<(), StoreError> {
    let mut tx = write_lock::begin(pool).await?;
    let done = sqlx::query("UPDATE integrations SET fence = max(fence, ?2) WHERE id = ?1")
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
