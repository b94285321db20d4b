//! Inbound webhooks: the sealed secret a source signs its calls with (setting it switches the
//! integration's schedule to the webhook poll interval) and the delivery keys already
//! received, so a redelivered call is recognised. Kept apart from the outbox, which the run
//! lifecycle writes to.

use async_trait::async_trait;

use crate::webhook_payloads as payloads;
use crate::{InboundWebhooks, StoreError, clock};

per_backend! {
    with [schedules]

    #[async_trait]
    impl InboundWebhooks for Store {
        async fn set_inbound_webhook_secret(&self, integration_id: &str, secret: Option<&str>) -> Result<(), StoreError> {
            let sealed = secret
                .map(|s| self.key.seal_secret(&payloads::inbound_secret_ad(integration_id), s))
                .transpose()?;
            let mut tx = begin_write(&self.pool).await?;
            let done = sqlx::query("UPDATE integrations SET inbound_webhook_secret_ciphertext = $2 WHERE id = $1")
                .bind(integration_id)
                .bind(sealed)
                .execute(&mut *tx)
                .await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::NotFound(format!("integration {integration_id}")));
            }
            schedules::set_webhooks_active_in(&mut tx, integration_id, secret.is_some()).await?;
            tx.commit().await?;
            Ok(())
        }

        async fn inbound_webhook_secret(&self, integration_id: &str) -> Result<Option<String>, StoreError> {
            let sealed: Option<Option<Vec<u8>>> =
                sqlx::query_scalar("SELECT inbound_webhook_secret_ciphertext FROM integrations WHERE id = $1")
                    .bind(integration_id)
                    .fetch_optional(&self.pool)
                    .await?;
            let sealed = sealed.ok_or_else(|| StoreError::NotFound(format!("integration {integration_id}")))?;
            sealed
                .map(|s| self.key.open_secret(&payloads::inbound_secret_ad(integration_id), &s))
                .transpose()
        }

        async fn record_inbound_delivery(&self, integration_id: &str, delivery_key: &str) -> Result<bool, StoreError> {
            let done = sqlx::query(
                "INSERT INTO inbound_deliveries (integration_id, delivery_key, received_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (integration_id, delivery_key) DO NOTHING",
            )
            .bind(integration_id)
            .bind(delivery_key)
            .bind(time(clock::now()))
            .execute(&self.pool)
            .await
            .map_err(|e| match &e {
                sqlx::Error::Database(db) if db.is_foreign_key_violation() => {
                    StoreError::NotFound(format!("integration {integration_id}"))
                }
                _ => StoreError::Database(e),
            })?;
            Ok(done.rows_affected() > 0)
        }
    }
}
