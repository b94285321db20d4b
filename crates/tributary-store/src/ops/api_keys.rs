//! API keys: only the caller's hash of a key is stored (invariant I8).

use async_trait::async_trait;

use crate::{ApiKey, ApiKeys, Integration, PageKey, StoreError, clock, ids};

macro_rules! columns {
    () => {
        "id, environment, label, created_at, revoked_at"
    };
}

per_backend! {
    with [integrations]

    #[async_trait]
    impl ApiKeys for Store {
        async fn create_api_key(&self, environment: &str, label: &str, key_hash: &[u8]) -> Result<ApiKey, StoreError> {
            let row = sqlx::query(concat!(
                "INSERT INTO api_keys (id, environment, label, key_hash, created_at) VALUES ($1, $2, $3, $4, $5) ",
                "ON CONFLICT (key_hash) DO NOTHING RETURNING ",
                columns!()
            ))
            .bind(ids::random_id())
            .bind(environment)
            .bind(label)
            .bind(key_hash)
            .bind(time(clock::now()))
            .fetch_optional(&self.pool)
            .await?;
            match row {
                Some(row) => api_key(&row),
                None => Err(StoreError::Conflict("an API key with this hash".into())),
            }
        }

        async fn find_api_key(&self, key_hash: &[u8]) -> Result<Option<ApiKey>, StoreError> {
            let row = sqlx::query(concat!("SELECT ", columns!(), " FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL"))
                .bind(key_hash)
                .fetch_optional(&self.pool)
                .await?;
            row.as_ref().map(api_key).transpose()
        }

        async fn find_api_key_and_integration(
            &self,
            key_hash: &[u8],
            integration_id: &str,
        ) -> Result<Option<(ApiKey, Option<Integration>)>, StoreError> {
            // The integration's columns under their own names (its decoder reads those), the
            // key's prefixed.
            let row = sqlx::query(concat!(
                "SELECT k.id AS key_id, k.environment AS key_environment, k.label AS key_label, ",
                "k.created_at AS key_created_at, k.revoked_at AS key_revoked_at, ",
                crate::ops::integrations::columns!("i."),
                " FROM api_keys k LEFT JOIN integrations i ON i.id = $2 AND i.environment = k.environment ",
                "WHERE k.key_hash = $1 AND k.revoked_at IS NULL"
            ))
            .bind(key_hash)
            .bind(integration_id)
            .fetch_optional(&self.pool)
            .await?;
            let Some(row) = row else {
                return Ok(None);
            };
            use sqlx::Row as _;
            let key = ApiKey {
                id: row.try_get("key_id")?,
                environment: row.try_get("key_environment")?,
                label: row.try_get("key_label")?,
                created_at: get_time(&row, "key_created_at")?,
                revoked_at: get_opt_time(&row, "key_revoked_at")?,
            };
            let found: Option<String> = row.try_get("id")?;
            let integration = found.map(|_| integrations::integration(&row)).transpose()?;
            Ok(Some((key, integration)))
        }

        /// `true` when the key exists (revoking twice keeps the first revocation time).
        async fn revoke_api_key(&self, id: &str) -> Result<bool, StoreError> {
            let done = sqlx::query("UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1")
                .bind(id)
                .bind(time(clock::now()))
                .execute(&self.pool)
                .await?;
            Ok(done.rows_affected() > 0)
        }

        async fn list_api_keys(&self, after: Option<&PageKey>, limit: i64) -> Result<Vec<ApiKey>, StoreError> {
            let found = sqlx::query(concat!(
                "SELECT ",
                columns!(),
                " FROM api_keys WHERE CAST($1 AS TEXT) IS NULL OR created_at < $2 OR (created_at = $2 AND id < $1) ",
                "ORDER BY created_at DESC, id DESC LIMIT $3"
            ))
            .bind(after.map(|k| k.id.as_str()))
            .bind(after.map(|k| time(k.created_at)))
            .bind(limit.max(0))
            .fetch_all(&self.pool)
            .await?;
            found.iter().map(api_key).collect()
        }
    }

    fn api_key(row: &Row) -> Result<ApiKey, StoreError> {
        use sqlx::Row as _;
        Ok(ApiKey {
            id: row.try_get("id")?,
            environment: row.try_get("environment")?,
            label: row.try_get("label")?,
            created_at: get_time(row, "created_at")?,
            revoked_at: get_opt_time(row, "revoked_at")?,
        })
    }
}
