//! The outbox as consumers and operators see it: deliveries listed, read, their attempts, and
//! redelivery. Claiming and recording attempts stay per backend (`backend::webhooks`): Postgres
//! claims with `SKIP LOCKED` in one statement, SQLite reads and leases under its write lock.

use std::time::Duration;

use async_trait::async_trait;
use tributary_model::Timestamp;

use crate::codec::delivery_state_str;
use crate::{
    AttemptOutcome, ClaimedDelivery, DeliveryAttempt, DeliveryFilter, Outbox, OutboxListener, StoreError,
    WebhookDelivery, clock,
};

/// How many deliveries `list_deliveries` returns when the filter sets no limit.
const DEFAULT_LIST_LIMIT: i64 = 100;

macro_rules! delivery_columns {
    () => {
        "d.id, d.event_id, d.endpoint_id, d.integration_id, d.event_type, d.state, d.attempts, d.next_attempt_at, \
         d.last_status, d.last_error, d.created_at, d.delivered_at, d.seq"
    };
}

per_backend! {
    #[async_trait]
    impl Outbox for Store {
        async fn claim_deliveries(
            &self,
            now: Timestamp,
            lease: Duration,
            limit: i64,
        ) -> Result<Vec<ClaimedDelivery>, StoreError> {
            backend::webhooks::claim(&self.pool, &self.key, now, lease, limit).await
        }

        async fn record_attempt(&self, attempt: &DeliveryAttempt, outcome: &AttemptOutcome) -> Result<(), StoreError> {
            backend::webhooks::record_attempt(&self.pool, attempt, outcome).await
        }

        async fn list_deliveries(&self, filter: &DeliveryFilter) -> Result<Vec<WebhookDelivery>, StoreError> {
            let limit = if filter.limit > 0 { filter.limit } else { DEFAULT_LIST_LIMIT };
            let found = sqlx::query(concat!(
                "SELECT ",
                delivery_columns!(),
                " FROM webhook_deliveries d ",
                "WHERE (CAST($1 AS TEXT) IS NULL OR d.endpoint_id IN (SELECT id FROM webhook_endpoints WHERE environment = $1)) ",
                "AND (CAST($2 AS TEXT) IS NULL OR d.endpoint_id = $2) AND (CAST($3 AS TEXT) IS NULL OR d.integration_id = $3) ",
                "AND (CAST($4 AS TEXT) IS NULL OR d.state = $4) ORDER BY d.seq DESC LIMIT $5"
            ))
            .bind(&filter.environment)
            .bind(&filter.endpoint_id)
            .bind(&filter.integration_id)
            .bind(filter.state.map(delivery_state_str))
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
            found.iter().map(rows::delivery).collect()
        }

        async fn get_delivery(&self, id: &str) -> Result<Option<WebhookDelivery>, StoreError> {
            let row = sqlx::query(concat!("SELECT ", delivery_columns!(), " FROM webhook_deliveries d WHERE d.id = $1"))
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
            row.as_ref().map(rows::delivery).transpose()
        }

        async fn delivery_attempts(&self, delivery_id: &str) -> Result<Vec<DeliveryAttempt>, StoreError> {
            use sqlx::Row as _;
            let found = sqlx::query(concat!(
                "SELECT delivery_id, attempt, at, status, latency_ms, response_excerpt, error FROM webhook_attempts ",
                "WHERE delivery_id = $1 ORDER BY seq"
            ))
            .bind(delivery_id)
            .fetch_all(&self.pool)
            .await?;
            found
                .iter()
                .map(|row| {
                    Ok(DeliveryAttempt {
                        delivery_id: row.try_get("delivery_id")?,
                        attempt: row.try_get("attempt")?,
                        at: get_time(row, "at")?,
                        status: row.try_get("status")?,
                        latency_ms: row.try_get("latency_ms")?,
                        response_excerpt: row.try_get("response_excerpt")?,
                        error: row.try_get("error")?,
                    })
                })
                .collect()
        }

        /// PENDING and due now, with the same event. Its `seq` stays, so it goes out before any
        /// later event of its integration to that endpoint, as it originally would have.
        async fn redeliver(&self, delivery_id: &str) -> Result<bool, StoreError> {
            let mut tx = begin_write(&self.pool).await?;
            let done = sqlx::query(
                "UPDATE webhook_deliveries SET state = 'PENDING', next_attempt_at = $2, delivered_at = NULL WHERE id = $1",
            )
            .bind(delivery_id)
            .bind(time(clock::now()))
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(done.rows_affected() > 0)
        }

        async fn outbox_listener(&self) -> Result<Option<Box<dyn OutboxListener>>, StoreError> {
            backend::outbox_listener(&self.pool).await
        }
    }
}
