//! The route table. Every unified model's list endpoint is declared in [`crate::catalog`] and
//! served by [`records::list`] under `Model::api_path()`.

pub mod docs;
pub mod follow_ups;
pub mod inbound;
pub mod inbound_rejections;
pub mod integrations;
pub mod meta;
pub mod records;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{Method, Uri};
use axum::routing::{get, post};

use crate::catalog::ENDPOINTS;
use crate::error::ApiError;
use crate::state::GatewayState;

/// Routes below `/v1` that need no API key: the contract and what it links to.
pub fn v1_public() -> Router<GatewayState> {
    Router::new()
        .route("/openapi.json", get(docs::openapi_json))
        .route("/docs", get(docs::page))
        .route("/docs/{file}", get(docs::docs_asset))
        .route("/tools/{tool}/{file}", get(docs::tool_asset))
}

/// Webhooks from the source tools, below `/v1`: authenticated by the tool's signature, not an
/// API key, and taking bodies up to [`inbound::BODY_LIMIT`] (this route's own limit wins over
/// the gateway-wide one).
pub fn v1_inbound() -> Router<GatewayState> {
    Router::new().route(
        "/webhooks/{tool}/{integration_id}",
        post(inbound::receive).layer(DefaultBodyLimit::max(inbound::BODY_LIMIT)),
    )
}

/// Routes below `/v1`: everything that needs an API key.
pub fn v1() -> Router<GatewayState> {
    let mut router = Router::new()
        .route("/check-api-key", get(meta::check_api_key))
        .route("/force-sync", post(integrations::force_sync))
        .route(
            "/integrations/{integration_id}",
            get(integrations::details).delete(integrations::delete),
        );
    for endpoint in ENDPOINTS {
        router = router.route(
            endpoint.model.api_path(),
            get(move |state, access, params| records::list(endpoint, state, access, params)),
        );
    }
    router
}

pub async fn not_found(uri: Uri) -> ApiError {
    ApiError::RouteNotFound(uri.path().to_owned())
}

pub async fn method_not_allowed(method: Method) -> ApiError {
    ApiError::MethodNotAllowed(method.to_string())
}
