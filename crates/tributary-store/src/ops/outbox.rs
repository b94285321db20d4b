//! The outbox as the deliverer and operators see it: claiming deliveries and recording
//! attempts, deliveries listed, read, their attempts, and redelivery. Its writes (events and
//! their deliveries) are `crate::ops::events`, inside the transaction of each change.

use std::time::Duration;

use async_trait::async_trait;
use tributary_model::Timestamp;

use crate::codec::delivery_state_str;
use crate::{
    AttemptOutcome, ClaimedDelivery, DeliveryAttempt, DeliveryFilter, DeliveryState, Outbox, OutboxListener,
    StoreError, WebhookDelivery, WebhookEvent, clock,
};

/// How many deliveries `list_deliveries` returns when the filter sets no limit.
const DEFAULT_LIST_LIMIT: i64 = 100;

macro_rules! delivery_columns {
    () => {
        "id, event_id, endpoint_id, integration_id, event_type, state, attempts, next_attempt_at, last_status, \
         last_error, created_at, delivered_at, seq"
    };
}

per_backend! {
    #[async_trait]
    impl Outbox for Store {
        /// Leases up to `limit` due deliveries, in one statement. A delivery is claimable only
        /// while no delivery of the same (endpoint, integration) with a lower `seq` is PENDING,
        /// leased or not: that keeps one integration's events in order at each endpoint (every
        /// event the mirror writes names its integration; `=` rather than `IS NOT DISTINCT FROM`
        /// so the pair index answers it). The event and endpoint are read in RETURNING, which
        /// SQLite allows to name only the updated table.
        async fn claim_deliveries(
            &self,
            now: Timestamp,
            lease: Duration,
            limit: i64,
        ) -> Result<Vec<ClaimedDelivery>, StoreError> {
            use sqlx::Row as _;
            let now = clock::truncate(now);
            let until = clock::after(now, lease)?;
            let found = sqlx::query(concat!(
                "WITH picked AS (",
                "  SELECT d.seq FROM webhook_deliveries d ",
                "  WHERE d.state = 'PENDING' AND d.next_attempt_at <= $1 AND NOT EXISTS (",
                "    SELECT 1 FROM webhook_deliveries e WHERE e.endpoint_id = d.endpoint_id ",
                "    AND e.integration_id = d.integration_id AND e.state = 'PENDING' AND e.seq < d.seq) ",
                "  ORDER BY d.seq LIMIT $3",
                skip_locked!(),
                ") ",
                "UPDATE webhook_deliveries SET next_attempt_at = $2 WHERE seq IN (SELECT seq FROM picked) ",
                "RETURNING ",
                delivery_columns!(),
                ", (SELECT environment FROM webhook_events ev WHERE ev.id = webhook_deliveries.event_id) AS ev_environment, ",
                "(SELECT payload FROM webhook_events ev WHERE ev.id = webhook_deliveries.event_id) AS ev_payload, ",
                "(SELECT created_at FROM webhook_events ev WHERE ev.id = webhook_deliveries.event_id) AS ev_created_at, ",
                "(SELECT trace_context FROM webhook_events ev WHERE ev.id = webhook_deliveries.event_id) AS ev_trace_context, ",
                "(SELECT url FROM webhook_endpoints ep WHERE ep.id = webhook_deliveries.endpoint_id) AS ep_url, ",
                "(SELECT secret_ciphertext FROM webhook_endpoints ep WHERE ep.id = webhook_deliveries.endpoint_id) AS ep_secret"
            ))
            .bind(time(now))
            .bind(time(until))
            .bind(limit.max(0))
            .fetch_all(&self.pool)
            .await?;
            let mut claimed = Vec::with_capacity(found.len());
            for row in &found {
                let delivery = rows::delivery(row)?;
                let sealed: Vec<u8> = row.try_get("ep_secret")?;
                let event = WebhookEvent {
                    id: delivery.event_id.clone(),
                    environment: row.try_get("ev_environment")?,
                    integration_id: delivery.integration_id.clone(),
                    event_type: delivery.event_type.clone(),
                    payload: get_json(row, "ev_payload")?,
                    created_at: get_time(row, "ev_created_at")?,
                    trace_context: row.try_get("ev_trace_context")?,
                };
                claimed.push((
                    row.try_get::<i64, _>("seq")?,
                    ClaimedDelivery {
                        secret: self.key.open_secret(&delivery.endpoint_id, &sealed)?,
                        url: row.try_get("ep_url")?,
                        event,
                        delivery,
                    },
                ));
            }
            // RETURNING has no order; hand them out oldest first.
            claimed.sort_by_key(|(seq, _)| *seq);
            Ok(claimed.into_iter().map(|(_, c)| c).collect())
        }

        /// The attempt and its outcome, atomically (`record_attempt`, per dialect).
        async fn record_attempt(&self, attempt: &DeliveryAttempt, outcome: &AttemptOutcome) -> Result<(), StoreError> {
            let (state, next_attempt_at) = match outcome {
                AttemptOutcome::Delivered => (DeliveryState::Delivered, None),
                AttemptOutcome::Retry(when) => (DeliveryState::Pending, Some(time(clock::truncate(*when)))),
                AttemptOutcome::Dead => (DeliveryState::Dead, None),
            };
            let at = time(clock::truncate(attempt.at));
            if !record_attempt(&self.pool, attempt, delivery_state_str(state), next_attempt_at, at).await? {
                return Err(StoreError::NotFound(format!("webhook delivery {}", attempt.delivery_id)));
            }
            Ok(())
        }

        async fn list_deliveries(&self, filter: &DeliveryFilter) -> Result<Vec<WebhookDelivery>, StoreError> {
            let limit = if filter.limit > 0 { filter.limit } else { DEFAULT_LIST_LIMIT };
            let found = sqlx::query(concat!(
                "SELECT ",
                delivery_columns!(),
                " FROM webhook_deliveries ",
                "WHERE (CAST($1 AS TEXT) IS NULL OR endpoint_id IN (SELECT id FROM webhook_endpoints WHERE environment = $1)) ",
                "AND (CAST($2 AS TEXT) IS NULL OR endpoint_id = $2) AND (CAST($3 AS TEXT) IS NULL OR integration_id = $3) ",
                "AND (CAST($4 AS TEXT) IS NULL OR state = $4) ORDER BY seq DESC LIMIT $5"
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
            let row = sqlx::query(concat!("SELECT ", delivery_columns!(), " FROM webhook_deliveries WHERE id = $1"))
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
