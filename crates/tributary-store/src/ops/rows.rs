//! Row decoding written once, for the operations here and for the backend modules that are
//! not written once yet (`per_dialect!`: this file imports no backend module).

use crate::codec::parse_delivery_state;
use crate::dialect::per_dialect;
use crate::{StoreError, WebhookDelivery, WebhookEndpoint};

per_dialect! {
    use sqlx::Row as _;

    pub(crate) fn endpoint(row: &Row) -> Result<WebhookEndpoint, StoreError> {
        Ok(WebhookEndpoint {
            id: row.try_get("id")?,
            environment: row.try_get("environment")?,
            url: row.try_get("url")?,
            event_types: get_strings(row, "event_types")?,
            created_at: get_time(row, "created_at")?,
        })
    }

    pub(crate) fn delivery(row: &Row) -> Result<WebhookDelivery, StoreError> {
        Ok(WebhookDelivery {
            id: row.try_get("id")?,
            event_id: row.try_get("event_id")?,
            endpoint_id: row.try_get("endpoint_id")?,
            integration_id: row.try_get("integration_id")?,
            event_type: row.try_get("event_type")?,
            state: parse_delivery_state(row.try_get("state")?)?,
            attempts: row.try_get("attempts")?,
            next_attempt_at: get_time(row, "next_attempt_at")?,
            last_status: row.try_get("last_status")?,
            last_error: row.try_get("last_error")?,
            created_at: get_time(row, "created_at")?,
            delivered_at: get_opt_time(row, "delivered_at")?,
        })
    }
}
