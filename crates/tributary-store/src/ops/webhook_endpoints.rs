//! Where consumers receive outbound webhooks: endpoints with a sealed signing secret.

use async_trait::async_trait;

use crate::webhook_payloads as payloads;
use crate::{NewWebhookEndpoint, StoreError, WebhookEndpoint, WebhookEndpoints, clock, ids};

macro_rules! columns {
    () => {
        "id, environment, url, event_types, created_at"
    };
}

per_backend! {
    #[async_trait]
    impl WebhookEndpoints for Store {
        async fn create_webhook_endpoint(&self, new: NewWebhookEndpoint) -> Result<WebhookEndpoint, StoreError> {
            payloads::validate_url(&new.url)?;
            let event_types = payloads::validate_event_types(&new.event_types)?;
            if new.secret.is_empty() {
                return Err(StoreError::Invalid("a webhook endpoint needs a signing secret".into()));
            }
            let id = ids::random_id();
            let sealed = self.key.seal_secret(&id, &new.secret)?;
            let row = sqlx::query(concat!(
                "INSERT INTO webhook_endpoints (id, environment, url, secret_ciphertext, event_types, created_at) ",
                "VALUES ($1, $2, $3, $4, $5, $6) RETURNING ",
                columns!()
            ))
            .bind(&id)
            .bind(&new.environment)
            .bind(&new.url)
            .bind(sealed)
            .bind(strings(&event_types)?)
            .bind(time(clock::now()))
            .fetch_one(&self.pool)
            .await?;
            rows::endpoint(&row)
        }

        async fn list_webhook_endpoints(&self, environment: Option<&str>) -> Result<Vec<WebhookEndpoint>, StoreError> {
            let found = sqlx::query(concat!(
                "SELECT ",
                columns!(),
                " FROM webhook_endpoints WHERE CAST($1 AS TEXT) IS NULL OR environment = $1 ORDER BY created_at, id"
            ))
            .bind(environment)
            .fetch_all(&self.pool)
            .await?;
            found.iter().map(rows::endpoint).collect()
        }

        async fn get_webhook_endpoint(&self, id: &str) -> Result<Option<WebhookEndpoint>, StoreError> {
            let row = sqlx::query(concat!("SELECT ", columns!(), " FROM webhook_endpoints WHERE id = $1"))
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
            row.as_ref().map(rows::endpoint).transpose()
        }

        /// Its deliveries and their attempts cascade (SQLite: foreign_keys is on for every
        /// connection).
        async fn delete_webhook_endpoint(&self, id: &str) -> Result<bool, StoreError> {
            let mut tx = begin_write(&self.pool).await?;
            let done = sqlx::query("DELETE FROM webhook_endpoints WHERE id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(done.rows_affected() > 0)
        }
    }
}
