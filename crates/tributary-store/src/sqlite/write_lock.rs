//! SQLite's write lock (`BEGIN IMMEDIATE`) and the fence check under it.

use sqlx::{Sqlite, SqliteConnection, SqlitePool, Transaction};

use crate::StoreError;

/// A transaction that already holds the database's single write lock.
pub(super) async fn begin(pool: &SqlitePool) -> Result<Transaction<'static, Sqlite>, StoreError> {
    Ok(pool.begin_with("BEGIN IMMEDIATE").await?)
}

/// Rejects the write unless `held` is the integration's current fence (invariant I4). Called
/// inside a [`begin`] transaction, so no lease can change the fence until it ends.
pub(super) async fn check_fence(
    conn: &mut SqliteConnection,
    integration_id: &str,
    held: i64,
) -> Result<(), StoreError> {
    let current: Option<i64> = sqlx::query_scalar("SELECT fence FROM integrations WHERE id = ?1")
        .bind(integration_id)
        .fetch_optional(conn)
        .await?;
    match current {
        None => Err(StoreError::NotFound(format!("integration {integration_id}"))),
        Some(current) if current != held => Err(StoreError::Fenced {
            integration_id: integration_id.to_string(),
            held,
            current,
        }),
        Some(_) => Ok(()),
    }
}

/// [`begin`] then [`check_fence`].
pub(super) async fn begin_fenced(
    pool: &SqlitePool,
    integration_id: &str,
    held: i64,
) -> Result<Transaction<'static, Sqlite>, StoreError> {
    let mut tx = begin(pool).await?;
    check_fence(&mut tx, integration_id, held).await?;
    Ok(tx)
}
