//! tributary-gateway: Kombo's read API, served only from the mirror.
//!
//! [`router`] builds the axum service: `GET /health`, `GET /ready`, and below `/v1` the
//! endpoints of Kombo's OpenAPI document (`/v1/check-api-key`, `/v1/hris/employees`, ...).
//! Requests authenticate with `Authorization: Bearer <key>` (the store holds only
//! [`hash_api_key`] of it) and pick an integration of the key's environment with
//! `X-Integration-Id`. Every error uses Kombo's envelope ([`ApiError`]).

mod auth;
pub mod compression;
mod cursor;
mod error;
mod filters;
mod http;
mod list;
mod params;
mod response;
mod routes;
mod scope_names;
mod serve;
mod state;
mod sync;
mod telemetry;

// Shapes, the endpoint table and rendering live in `tributary-render` (the mirror's writes
// render with them too); the gateway uses them under their old names.
use tributary_render::{catalog, openapi, schema, wire};

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use tower::ServiceBuilder;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

pub use auth::{generate_api_key, generate_secret, hash_api_key};
pub use error::{ApiError, ErrorCode, error_response};
pub use http::retry_after_secs;
pub use params::{MAX_LIST_VALUES, MAX_PARAM_BYTES};
pub use response::Success;
pub use routes::inbound_rejections::{self, RejectionStats};
pub use scope_names::{UnknownScopeNames, check_scope_names, scope_fields, scope_models};
pub use serve::{ServeOptions, bind, serve};
pub use state::{GatewayOptions, GatewayState, PageSourceStats};
pub use sync::{ForcedSync, SyncTrigger, TriggerError};
pub use wire::json_kind;

/// The gateway with default limits.
pub fn router(state: GatewayState) -> Router {
    router_with_options(state, GatewayOptions::default())
}

pub fn router_with_options(state: GatewayState, options: GatewayOptions) -> Router {
    router_with(state, options, Router::new())
}

/// The gateway with `other` (the operator API) merged in beneath the request-id, trace and
/// body-limit layers and the envelope fallbacks, so its responses carry `X-Request-Id` and its
/// requests get a span like every other.
pub fn router_with(mut state: GatewayState, options: GatewayOptions, other: Router) -> Router {
    state.body_limit = options.body_limit;
    state.read_statement_timeout = options.read_statement_timeout;
    state.stored_pages = options.stored_pages;
    state.ready_timeout = options.ready_timeout;
    let limits = http::Limits::new(&options);
    // Inbound webhooks get the same timeout, an in-flight cap of their own, their own body limit and no
    // per-key rate limit: they carry no API key (Personio's carry its webhook token, which
    // must not be charged as one).
    let inbound_limits = http::Limits::new(&GatewayOptions {
        body_limit: routes::inbound::BODY_LIMIT,
        rate_limit_per_second: None,
        ..options.clone()
    });
    let keyed = http::Guard::keyed(limits.clone(), state.store.clone());
    let api = routes::v1()
        .layer(axum::middleware::from_fn_with_state(keyed, http::guard))
        .merge(routes::v1_public().layer(axum::middleware::from_fn_with_state(
            http::Guard::open(limits),
            http::guard,
        )))
        .merge(routes::v1_inbound().layer(axum::middleware::from_fn_with_state(
            http::Guard::open(inbound_limits),
            http::guard,
        )));
    let app = Router::new()
        .route("/health", get(routes::meta::health))
        .route("/ready", get(routes::meta::ready))
        .nest("/v1", api)
        .with_state(state)
        .merge(other);
    layered(app, &options)
}

/// `app` beneath the layers every listener of ours has (request ids, a span per request, the
/// body limit) and with the envelope's 404 and 405: the public listener's, and the operator
/// listener's (`--ops-listen`), which serves no read API.
pub fn layered(app: Router, options: &GatewayOptions) -> Router {
    app.fallback(routes::not_found)
        .method_not_allowed_fallback(routes::method_not_allowed)
        // Innermost of the stack, so the route is matched (`MatchedPath` is set) and the
        // latency is the handler's and the guards', like the trace span's.
        .layer(axum::middleware::from_fn(telemetry::track))
        .layer(
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::new(http::REQUEST_ID, MakeRequestUuid))
                .layer(
                    TraceLayer::new_for_http()
                        .make_span_with(http::make_span)
                        .on_response(DefaultOnResponse::new().level(Level::INFO)),
                )
                .layer(PropagateRequestIdLayer::new(http::REQUEST_ID))
                .layer(compression::layer())
                // Bodies without a Content-Length are cut off by the extractors at this limit
                // (and answered in the envelope by the handler); `http::guard` refuses declared
                // ones up front.
                .layer(DefaultBodyLimit::max(options.body_limit)),
        )
}
