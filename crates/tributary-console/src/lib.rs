//! tributary-console: the operator console, server-rendered pages at `/ops/` for people who
//! run a tributary deployment. Every page and action calls the operator API's own handlers
//! (`tributary_operator::routes`), in-process, so the console shows and does exactly what
//! `/ops/v1` would; it adds sign-in, HTML and live progress, nothing else.
//!
//! - Sign-in ([`session`]): `GET/POST /ops/sign-in` takes the admin token once (wrong tokens
//!   are charged to the operator API's failure budget) and answers a session cookie that holds
//!   an expiry and an HMAC of it under a per-process key, never the token.
//! - Every `POST` must come from a page of this origin ([`guard`]): SameSite=Strict keeps the
//!   cookie off cross-site requests, and the `Origin` header must name this host.
//! - Pages ([`pages`]): overview, integrations (with health), an integration, runs search, a
//!   run, webhooks, API keys.
//! - Live progress ([`live`]): `GET /ops/events`, server-sent events carrying the open runs'
//!   counts; `console.js` updates the numbers in place. Without JavaScript every page still
//!   works; only the live updates need it.
//!
//! Assets ([`assets`]) are compiled into the binary: nothing is loaded from elsewhere.

mod assets;
mod error;
mod forms;
mod guard;
mod live;
mod ops;
mod pages;
mod session;
mod view;

use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};
use tributary_operator::OperatorState;

pub use session::COOKIE_NAME;

/// What every console handler shares: the operator API's state (store, queues, coordinator,
/// admin token and its failure budget) and the session key.
#[derive(Clone)]
pub(crate) struct ConsoleState {
    pub ops: OperatorState,
    pub sessions: Arc<session::Sessions>,
}

/// The console below `/ops/`, ready to merge beside the operator API (`/ops/v1`).
pub fn router(ops: OperatorState) -> Router {
    let state = ConsoleState {
        ops,
        sessions: Arc::new(session::Sessions::new()),
    };
    let signed_in = Router::new()
        .route("/ops/", get(pages::overview::show))
        .route("/ops/integrations", get(pages::integrations::list))
        .route("/ops/integrations/{integration_id}", get(pages::integration::show))
        .route(
            "/ops/integrations/{integration_id}/trigger",
            post(pages::integration::trigger),
        )
        .route(
            "/ops/integrations/{integration_id}/schedules/{sync_type}/{action}",
            post(pages::integration::schedule),
        )
        .route("/ops/runs", get(pages::runs::search))
        .route("/ops/runs/{sync_id}", get(pages::run::show))
        .route("/ops/runs/{sync_id}/{action}", post(pages::run::act))
        .route("/ops/webhooks", get(pages::webhooks::show))
        .route(
            "/ops/webhooks/deliveries/{delivery_id}/redeliver",
            post(pages::webhooks::redeliver),
        )
        .route(
            "/ops/api-keys",
            get(pages::api_keys::show).post(pages::api_keys::create),
        )
        .route("/ops/api-keys/revoke", post(pages::api_keys::revoke))
        .route("/ops/events", get(live::events))
        .route("/ops/sign-out", post(session::sign_out))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            guard::require_session,
        ));
    Router::new()
        .route("/ops", get(|| async { axum::response::Redirect::permanent("/ops/") }))
        .route("/ops/sign-in", get(session::sign_in_form).post(session::sign_in))
        .route("/ops/assets/{name}", get(assets::serve))
        .merge(signed_in)
        .route_layer(axum::middleware::from_fn(guard::same_origin_posts))
        .with_state(state)
}
