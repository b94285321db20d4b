//! SQLite's write lock (`BEGIN IMMEDIATE`) and the fence check under it.

use sqlx::{Sqlite, SqliteConnection, SqlitePool, Transaction};

use crate::StoreError;

/// A transaction that already holds the database's single write lock.
pub(crate) async fn begin(pool: &SqlitePool) -> Result<Transaction<'static, Sqlite>, StoreError> {
    Ok(pool.begin_with("BEGIN IMMEDIATE").await?)
}

/// Rejects the write unless `held` is the integration's current fence (invariant I4). Called
/// inside a [`begin`] transaction, so no lease can change the fence until it ends.
pub(super) async fn check_fence(
    conn: &mut SqliteConnection,
    integration_id: &str,
    held: i64,
) -> Result<(), StoreError> {
    check_fence_scope(conn, integration_id, held).await.map(|_| ())
}

/// [`check_fence`], returning the integration's scope version (which `set_scope_config` moves
/// under the same write lock).
pub(crate) async fn check_fence_scope(
    conn: &mut SqliteConnection,
    integration_id: &str,
    held: i64,
) -> Result<i64, StoreError> {
    let current: Option<(i64, i64)> = sqlx::query_as("SELECT fence, scope_version FROM integrations WHERE id = ?1")
        .bind(integration_id)
        .fetch_optional(conn)
        .await?;
    match current {
        None => Err(StoreError::NotFound(format!("integration {integration_id}"))),
        Some((current, _)) if current != held => Err(StoreError::Fenced {
            integration_id: integration_id.to_string(),
            held,
            current,
        }),
        Some((_, scope_version)) => Ok(scope_version),
    }
}

/// [`begin`] then [`check_fence`].
pub(crate) async fn begin_fenced(
    pool: &SqlitePool,
    integration_id: &str,
    held: i64,
) -> Result<Transaction<'static, Sqlite>, StoreError> {
    let mut tx = begin(pool).await?;
    check_fence(&mut tx, integration_id, held).await?;
    Ok(tx)
}
