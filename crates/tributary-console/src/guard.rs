//! The two checks in front of the console's handlers: a session for every page but sign-in,
//! and, for every `POST`, an `Origin` naming this host. SameSite=Strict already keeps the
//! session cookie off requests other sites start; the Origin check also stops a sign-in
//! forced from elsewhere and covers browsers that ignore SameSite.

use axum::extract::{Request, State};
use axum::http::header::{HOST, ORIGIN};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::ConsoleState;
use crate::error::ConsoleError;
use crate::session::to_sign_in;

pub(crate) async fn require_session(State(state): State<ConsoleState>, request: Request, next: Next) -> Response {
    if !state.ops.admin_configured() {
        return ConsoleError::Ops(tributary_operator::OpsError::NotConfigured).into_response();
    }
    if state.sessions.signed_in(request.headers()) {
        return next.run(request).await;
    }
    if request.method() == Method::GET {
        to_sign_in()
    } else {
        ConsoleError::SignedOut.into_response()
    }
}

pub(crate) async fn same_origin_posts(request: Request, next: Next) -> Response {
    if request.method() == Method::GET || request.method() == Method::HEAD {
        return next.run(request).await;
    }
    let headers = request.headers();
    let origin_host = headers
        .get(ORIGIN)
        .and_then(|o| o.to_str().ok())
        .and_then(|o| o.split_once("://"))
        .map(|(_, host)| host.to_owned());
    let host = headers.get(HOST).and_then(|h| h.to_str().ok());
    match (origin_host, host) {
        (Some(origin), Some(host)) if origin.eq_ignore_ascii_case(host) => next.run(request).await,
        _ => (StatusCode::FORBIDDEN, ConsoleError::CrossOrigin).into_response(),
    }
}
