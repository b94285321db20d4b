//! Integrations: create, read, scope, credentials, delete.

use async_trait::async_trait;
use serde_json::Value;
use tributary_model::ScopeConfig;

use crate::{CredentialKey, Integration, Integrations, NewIntegration, StoreError, clock};

/// An integration's columns, as its decoder reads them; `columns!("i.")` qualifies them for a
/// join (`crate::ops::api_keys`).
macro_rules! columns {
    () => {
        columns!("")
    };
    ($table:literal) => {
        concat!(
            $table,
            "id, ",
            $table,
            "tool, ",
            $table,
            "environment, ",
            $table,
            "base_url, ",
            $table,
            "scope_config, ",
            $table,
            "scope_version, ",
            $table,
            "fence, ",
            $table,
            "created_at"
        )
    };
}
pub(crate) use columns;

/// Checked before anything is sealed or written.
fn sealed_credentials(key: &CredentialKey, new: &NewIntegration) -> Result<Vec<u8>, StoreError> {
    new.scope_config
        .validate()
        .map_err(|e| StoreError::Invalid(e.to_string()))?;
    key.seal(&new.id, &new.credentials)
}

per_backend! {
    with [events]
    #[async_trait]
    impl Integrations for Store {
        async fn create_integration(&self, new: NewIntegration) -> Result<Integration, StoreError> {
            let ciphertext = sealed_credentials(&self.key, &new)?;
            let now = clock::now();
            let mut tx = begin_write(&self.pool).await?;
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
            .bind(json(&new.scope_config)?)
            .bind(time(now))
            .fetch_optional(&mut *tx)
            .await?;
            let created = match row {
                Some(row) => integration(&row)?,
                None => return Err(StoreError::Conflict(format!("integration {}", new.id))),
            };
            // The outbox: `integration-created` commits with the integration or not at all.
            events::emit_integration_created(&mut tx, &created.id, created.tool, &created.environment, now).await?;
            tx.commit().await?;
            Ok(created)
        }

        async fn get_integration(&self, id: &str) -> Result<Option<Integration>, StoreError> {
            let row = sqlx::query(concat!("SELECT ", columns!(), " FROM integrations WHERE id = $1"))
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
            row.as_ref().map(integration).transpose()
        }

        async fn list_integrations(&self) -> Result<Vec<Integration>, StoreError> {
            let rows = sqlx::query(concat!("SELECT ", columns!(), " FROM integrations ORDER BY id"))
                .fetch_all(&self.pool)
                .await?;
            rows.iter().map(integration).collect()
        }

        async fn set_scope_config(&self, id: &str, scope: &ScopeConfig) -> Result<i64, StoreError> {
            scope.validate().map_err(|e| StoreError::Invalid(e.to_string()))?;
            // Under the write lock: a page write holding it read the old version and commits
            // before this; any later one reads the new version and is refused if prepared under
            // the old.
            let mut tx = begin_locked(&self.pool, id).await?;
            let version: Option<i64> = sqlx::query_scalar(concat!(
                "UPDATE integrations SET scope_version = scope_version + CASE WHEN scope_config = $2 THEN 0 ELSE 1 END, ",
                "scope_config = $2 WHERE id = $1 RETURNING scope_version"
            ))
            .bind(id)
            .bind(json(scope)?)
            .fetch_optional(&mut *tx)
            .await?;
            let version = version.ok_or_else(|| StoreError::NotFound(format!("integration {id}")))?;
            // Stored renderings made under an older scope are never served again, and may show
            // what it now disables: they go now, pending, not when the pass re-renders them.
            sqlx::query(
                "UPDATE rendered SET body = NULL WHERE integration_id = $1 AND body IS NOT NULL AND scope_version < $2",
            )
            .bind(id)
            .bind(version)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(version)
        }

        async fn update_integration_source(&self, id: &str, base_url: &str, credentials: &Value) -> Result<(), StoreError> {
            let sealed = self.key.seal(id, credentials)?;
            let done = sqlx::query("UPDATE integrations SET base_url = $2, credentials_ciphertext = $3 WHERE id = $1")
                .bind(id)
                .bind(base_url)
                .bind(sealed)
                .execute(&self.pool)
                .await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::NotFound(format!("integration {id}")));
            }
            Ok(())
        }

        async fn integration_credentials(&self, id: &str) -> Result<Value, StoreError> {
            let sealed: Option<Vec<u8>> = sqlx::query_scalar("SELECT credentials_ciphertext FROM integrations WHERE id = $1")
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
            let sealed = sealed.ok_or_else(|| StoreError::NotFound(format!("integration {id}")))?;
            self.key.open(id, &sealed)
        }

        /// Removes everything of the integration in one transaction, under its write lock so no
        /// page of a still-running sync lands after the delete.
        async fn delete_integration(&self, id: &str) -> Result<bool, StoreError> {
            let mut tx = begin_locked(&self.pool, id).await?;
            // Written first, in this transaction: the event survives the integration (its
            // outbox rows have no foreign key to it) and exists only if the delete commits.
            events::emit_integration_deleted(&mut tx, id).await?;
            for statement in [
                "DELETE FROM records WHERE integration_id = $1",
                "DELETE FROM record_deps WHERE integration_id = $1",
                "DELETE FROM rendered WHERE integration_id = $1",
                "DELETE FROM render_deps WHERE integration_id = $1",
                "DELETE FROM run_seen WHERE integration_id = $1",
                "DELETE FROM changes WHERE integration_id = $1",
            ] {
                sqlx::query(statement).bind(id).execute(&mut *tx).await?;
            }
            // leases, sync_runs, sync_schedules and inbound_deliveries cascade (SQLite:
            // foreign_keys is on for every connection).
            let done = sqlx::query("DELETE FROM integrations WHERE id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(done.rows_affected() > 0)
        }
    }

    /// [`Integrations::get_integration`] on a connection the caller holds.
    pub(crate) async fn integration_on(conn: &mut Conn, id: &str) -> Result<Option<Integration>, StoreError> {
        let row = sqlx::query(concat!("SELECT ", columns!(), " FROM integrations WHERE id = $1"))
            .bind(id)
            .fetch_optional(conn)
            .await?;
        row.as_ref().map(integration).transpose()
    }

    pub(crate) fn integration(row: &Row) -> Result<Integration, StoreError> {
        use sqlx::Row as _;
        Ok(Integration {
            id: row.try_get("id")?,
            tool: crate::codec::parse_tool(row.try_get("tool")?)?,
            environment: row.try_get("environment")?,
            base_url: row.try_get("base_url")?,
            scope_config: serde_json::from_value::<ScopeConfig>(get_json(row, "scope_config")?)?,
            scope_version: row.try_get("scope_version")?,
            fence: row.try_get("fence")?,
            created_at: get_time(row, "created_at")?,
        })
    }
}
