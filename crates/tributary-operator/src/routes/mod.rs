//! The route table below `/ops/v1`.

pub mod api_keys;
pub mod control;
pub mod health;
pub mod inbound_webhook;
pub mod integration_setup;
pub mod integrations;
pub mod openapi;
pub mod queues;
pub mod retry;
pub mod runs;
pub mod schedules;
pub mod syncs;
pub mod webhooks;

use axum::Router;
use axum::http::Method;
use axum::routing::{MethodRouter, delete, get, post, put};

use crate::error::OpsError;
use crate::state::OperatorState;

/// Every operation below `/ops/v1`: method, path (axum's syntax), handler. One table, so the
/// OpenAPI document can be checked against exactly what is served (`tests/openapi.rs`).
fn table() -> Vec<(Method, &'static str, MethodRouter<OperatorState>)> {
    vec![
        (Method::GET, "/openapi.json", get(openapi::document)),
        (Method::GET, "/queues", get(queues::show)),
        (Method::GET, "/syncs", get(syncs::list)),
        (Method::GET, "/syncs/{sync_id}", get(syncs::show)),
        (Method::POST, "/syncs/{sync_id}/pause", post(control::pause)),
        (Method::POST, "/syncs/{sync_id}/resume", post(control::resume)),
        (Method::POST, "/syncs/{sync_id}/cancel", post(control::cancel)),
        (Method::POST, "/syncs/{sync_id}/retry", post(retry::retry)),
        (Method::GET, "/runs", get(runs::search)),
        (Method::GET, "/integrations", get(integration_setup::list)),
        (Method::POST, "/integrations", post(integration_setup::create)),
        (Method::GET, "/integrations/health", get(health::list)),
        (
            Method::GET,
            "/integrations/{integration_id}",
            get(integration_setup::show),
        ),
        (Method::GET, "/integrations/{integration_id}/health", get(health::show)),
        (
            Method::PUT,
            "/integrations/{integration_id}/scope-config",
            put(integration_setup::set_scope),
        ),
        (
            Method::PUT,
            "/integrations/{integration_id}/source",
            put(integration_setup::set_source),
        ),
        (
            Method::GET,
            "/integrations/{integration_id}/syncs",
            get(integrations::recent),
        ),
        (
            Method::POST,
            "/integrations/{integration_id}/syncs",
            post(integrations::trigger),
        ),
        (
            Method::PUT,
            "/integrations/{integration_id}/inbound-webhook",
            put(inbound_webhook::set),
        ),
        (
            Method::DELETE,
            "/integrations/{integration_id}/inbound-webhook",
            delete(inbound_webhook::remove),
        ),
        (
            Method::GET,
            "/integrations/{integration_id}/schedules",
            get(schedules::list),
        ),
        (
            Method::PUT,
            "/integrations/{integration_id}/schedules/{sync_type}",
            put(schedules::set),
        ),
        (
            Method::POST,
            "/integrations/{integration_id}/schedules/{sync_type}/pause",
            post(schedules::pause),
        ),
        (
            Method::POST,
            "/integrations/{integration_id}/schedules/{sync_type}/resume",
            post(schedules::resume),
        ),
        (Method::GET, "/webhooks/endpoints", get(webhooks::list_endpoints)),
        (Method::POST, "/webhooks/endpoints", post(webhooks::create_endpoint)),
        (
            Method::DELETE,
            "/webhooks/endpoints/{endpoint_id}",
            delete(webhooks::delete_endpoint),
        ),
        (Method::GET, "/webhooks/deliveries", get(webhooks::list_deliveries)),
        (
            Method::GET,
            "/webhooks/deliveries/{delivery_id}",
            get(webhooks::show_delivery),
        ),
        (
            Method::POST,
            "/webhooks/deliveries/{delivery_id}/redeliver",
            post(webhooks::redeliver),
        ),
        (Method::GET, "/api-keys", get(api_keys::list)),
        (Method::POST, "/api-keys", post(api_keys::create)),
        (Method::DELETE, "/api-keys/{api_key_id}", delete(api_keys::revoke)),
    ]
}

pub fn v1() -> Router<OperatorState> {
    table()
        .into_iter()
        // Routes of one path merge into one method router.
        .fold(Router::new(), |router, (_, path, handler)| router.route(path, handler))
        .method_not_allowed_fallback(method_not_allowed)
}

/// `(method, path)` of every operation, as [`table`] serves them.
pub fn operations() -> Vec<(Method, &'static str)> {
    table().into_iter().map(|(method, path, _)| (method, path)).collect()
}

async fn method_not_allowed(method: Method) -> OpsError {
    OpsError::MethodNotAllowed(method.to_string())
}
