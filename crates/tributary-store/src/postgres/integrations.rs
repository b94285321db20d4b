//! Integrations: create, read, scope, credentials, delete.

use serde_json::Value;
use sqlx::PgPool;
use tributary_model::ScopeConfig;

use super::{rows, webhooks, write_lock};
use crate::{CredentialKey, Integration, NewIntegration, StoreError, clock};

macro_rules! columns {
    () => {
        "id, tool, environment, base_url, scope_config, scope_version, fence, created_at"
    };
}

pub(super) async fn create(pool: &PgPool, key: &CredentialKey, new: NewIntegration) -> Result<Integration, StoreError> {
    new.scope_config
        .validate()
        .map_err(|e| StoreError::Invalid(e.to_string()))?;
    let ciphertext = key.seal(&new.id, &new.credentials)?;
    let now = clock::now();
    let mut tx = pool.begin().await?;
    let row = sqlx::query(concat!(
        "INSERT INTO integrations (id, tool, environment, base_url, credentials_ciphertext, scope_config, fence, created_at) ",
        "VALUES ($1, $2, $3, $4, $5, $6, 0, $7) ON CONFLICT (id) DO NOTHING RETURNING ",
        columns!()
    ))
    .bind(&new.id)
    .bind(new.tool.as_str())
    .bind(&new.environment)
    .bind(&new.base_url)
    .bind(ciphertext)
    .bind(serde_json::to_value(&new.scope_config)?)
    .bind(now)
    .fetch_optional(&mut *tx)
    .await?;
    let created = match row {
        Some(row) => rows::integration(&row)?,
        None => return Err(StoreError::Conflict(format!("integration {}", new.id))),
    };
    // The outbox: `integration-created` commits with the integration or not at all.
    webhooks::emit_integration_created(&mut tx, &created.id, created.tool, &created.environment, now).await?;
    tx.commit().await?;
    Ok(created)
}

pub(super) async fn get(pool: &PgPool, id: &str) -> Result<Option<Integration>, StoreError> {
    let row = sqlx::query(concat!("SELECT ", columns!(), " FROM integrations WHERE id = $1"))
        .bind(id)
        .fetch_optional(pool)
        .await?;
    row.as_ref().map(rows::integration).transpose()
}

pub(super) async fn list(pool: &PgPool) -> Result<Vec<Integration>, StoreError> {
    let found = sqlx::query(concat!("SELECT ", columns!(), " FROM integrations ORDER BY id"))
        .fetch_all(pool)
        .await?;
    found.iter().map(rows::integration).collect()
}

pub(super) async fn set_scope_config(pool: &PgPool, id: &str, scope: &ScopeConfig) -> Result<i64, StoreError> {
    scope.validate().map_err(|e| StoreError::Invalid(e.to_string()))?;
    let mut tx = pool.begin().await?;
    // Under the write lock: a page write holding it read the old version and commits before
    // this; any later one reads the new version and is refused if prepared under the old.
    write_lock::lock(&mut tx, id).await?;
    let version: Option<i64> = sqlx::query_scalar(concat!(
        "UPDATE integrations SET scope_version = scope_version + CASE WHEN scope_config = $2 THEN 0 ELSE 1 END, ",
        "scope_config = $2 WHERE id = $1 RETURNING scope_version"
    ))
    .bind(id)
    .bind(serde_json::to_value(scope)?)
    .fetch_optional(&mut *tx)
    .await?;
    let version = version.ok_or_else(|| StoreError::NotFound(format!("integration {id}")))?;
    tx.commit().await?;
    Ok(version)
}

pub(super) async fn update_source(
    pool: &PgPool,
    key: &CredentialKey,
    id: &str,
    base_url: &str,
    credentials: &Value,
) -> Result<(), StoreError> {
    let sealed = key.seal(id, credentials)?;
    let done = sqlx::query("UPDATE integrations SET base_url = $2, credentials_ciphertext = $3 WHERE id = $1")
        .bind(id)
        .bind(base_url)
        .bind(sealed)
        .execute(pool)
        .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound(format!("integration {id}")));
    }
    Ok(())
}

pub(super) async fn credentials(pool: &PgPool, key: &CredentialKey, id: &str) -> Result<Value, StoreError> {
    let sealed: Option<Vec<u8>> = sqlx::query_scalar("SELECT credentials_ciphertext FROM integrations WHERE id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await?;
    let sealed = sealed.ok_or_else(|| StoreError::NotFound(format!("integration {id}")))?;
    key.open(id, &sealed)
}

/// Removes everything of the integration in one transaction, under its write lock so no page
/// of a still-running sync lands after the delete.
pub(super) async fn delete(pool: &PgPool, id: &str) -> Result<bool, StoreError> {
    let mut tx = pool.begin().await?;
    write_lock::lock(&mut tx, id).await?;
    // Written first, in this transaction: the event survives the integration (its outbox rows
    // have no foreign key to it) and exists only if the delete commits.
    webhooks::emit_integration_deleted(&mut tx, id).await?;
    for statement in [
        "DELETE FROM records WHERE integration_id = $1",
        "DELETE FROM record_deps WHERE integration_id = $1",
        "DELETE FROM run_seen WHERE integration_id = $1",
        "DELETE FROM changes WHERE integration_id = $1",
    ] {
        sqlx::query(statement).bind(id).execute(&mut *tx).await?;
    }
    // leases, sync_runs, sync_schedules and inbound_deliveries cascade.
    let done = sqlx::query("DELETE FROM integrations WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(done.rows_affected() > 0)
}
