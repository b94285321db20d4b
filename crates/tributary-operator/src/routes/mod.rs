//! The route table below `/ops/v1`.

pub mod api_keys;
pub mod control;
pub mod inbound_webhook;
pub mod integration_setup;
pub mod integrations;
pub mod queues;
pub mod schedules;
pub mod syncs;
pub mod webhooks;

use axum::Router;
use axum::http::Method;
use axum::routing::{delete, get, post, put};

use crate::error::OpsError;
use crate::state::OperatorState;

pub fn v1() -> Router<OperatorState> {
    Router::new()
        .route("/queues", get(queues::show))
        .route("/syncs", get(syncs::list))
        .route("/syncs/{sync_id}", get(syncs::show))
        .route("/syncs/{sync_id}/pause", post(control::pause))
        .route("/syncs/{sync_id}/resume", post(control::resume))
        .route("/syncs/{sync_id}/cancel", post(control::cancel))
        .route(
            "/integrations",
            get(integration_setup::list).post(integration_setup::create),
        )
        .route("/integrations/{integration_id}", get(integration_setup::show))
        .route(
            "/integrations/{integration_id}/scope-config",
            put(integration_setup::set_scope),
        )
        .route(
            "/integrations/{integration_id}/source",
            put(integration_setup::set_source),
        )
        .route(
            "/integrations/{integration_id}/syncs",
            get(integrations::recent).post(integrations::trigger),
        )
        .route(
            "/integrations/{integration_id}/inbound-webhook",
            put(inbound_webhook::set).delete(inbound_webhook::remove),
        )
        .route("/integrations/{integration_id}/schedules", get(schedules::list))
        .route(
            "/integrations/{integration_id}/schedules/{sync_type}",
            put(schedules::set),
        )
        .route(
            "/webhooks/endpoints",
            get(webhooks::list_endpoints).post(webhooks::create_endpoint),
        )
        .route("/webhooks/endpoints/{endpoint_id}", delete(webhooks::delete_endpoint))
        .route("/webhooks/deliveries", get(webhooks::list_deliveries))
        .route("/webhooks/deliveries/{delivery_id}", get(webhooks::show_delivery))
        .route(
            "/webhooks/deliveries/{delivery_id}/redeliver",
            post(webhooks::redeliver),
        )
        .route("/api-keys", post(api_keys::create))
        .route("/api-keys/{api_key_id}", delete(api_keys::revoke))
        .method_not_allowed_fallback(method_not_allowed)
}

async fn method_not_allowed(method: Method) -> OpsError {
    OpsError::MethodNotAllowed(method.to_string())
}
