//! API keys: only the caller's hash of a key is stored (invariant I8).

use sqlx::PgPool;

use super::rows;
use crate::{ApiKey, StoreError, clock, ids};

macro_rules! columns {
    () => {
        "id, environment, label, created_at, revoked_at"
    };
}

pub(super) async fn create(
    pool: &PgPool,
    environment: &str,
    label: &str,
    key_hash: &[u8],
) -> Result<ApiKey, StoreError> {
    let row = sqlx::query(concat!(
        "INSERT INTO api_keys (id, environment, label, key_hash, created_at) VALUES ($1, $2, $3, $4, $5) ",
        "ON CONFLICT (key_hash) DO NOTHING RETURNING ",
        columns!()
    ))
    .bind(ids::random_id())
    .bind(environment)
    .bind(label)
    .bind(key_hash)
    .bind(clock::now())
    .fetch_optional(pool)
    .await?;
    match row {
        Some(row) => rows::api_key(&row),
        None => Err(StoreError::Conflict("an API key with this hash".into())),
    }
}

pub(super) async fn find(pool: &PgPool, key_hash: &[u8]) -> Result<Option<ApiKey>, StoreError> {
    let row = sqlx::query(concat!(
        "SELECT ",
        columns!(),
        " FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL"
    ))
    .bind(key_hash)
    .fetch_optional(pool)
    .await?;
    row.as_ref().map(rows::api_key).transpose()
}

/// `true` when the key exists (revoking twice keeps the first revocation time).
pub(super) async fn revoke(pool: &PgPool, id: &str) -> Result<bool, StoreError> {
    let done = sqlx::query("UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1")
        .bind(id)
        .bind(clock::now())
        .execute(pool)
        .await?;
    Ok(done.rows_affected() > 0)
}
