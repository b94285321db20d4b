//! The admin token. One shared secret guards the whole operator API; it comes from
//! `TRIBUTARY_ADMIN_TOKEN` and travels as `Authorization: Bearer <token>`.
//!
//! This file is the guard; the token ([`token`]) and the failure budget ([`failures`]) are the
//! parts the operator state holds.

pub(crate) mod attempt;
mod failures;
mod token;

use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

pub(crate) use failures::Failures;
pub(crate) use token::AdminToken;

use crate::error::OpsError;
use crate::state::OperatorState;

/// The client a failure is charged to: its address, an IPv6 one cut to its /64.
pub fn client_of(request: &Request) -> IpAddr {
    client_of_extensions(request.extensions())
}

/// [`client_of`], from a request's extensions (what a handler's `Parts` hold).
pub fn client_of_extensions(extensions: &axum::http::Extensions) -> IpAddr {
    match extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip()) {
        Some(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let bits = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(Ipv6Addr::from(bits))
            }
        },
        Some(v4) => v4,
        None => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    }
}

/// Lets a request through only with the admin token. With none configured every request is
/// refused (403), whatever it carries. Wrong bearer tokens are charged to the client
/// ([`Failures`]): past its budget it gets 429 with `Retry-After`. A request with no bearer
/// token at all is refused without a charge (it guesses nothing). Every failure is logged,
/// sampled.
pub(crate) async fn require_admin(State(state): State<OperatorState>, request: Request, next: Next) -> Response {
    if !state.admin.configured() {
        return OpsError::NotConfigured.into_response();
    }
    let client = client_of(&request);
    let token = match bearer_token(request.headers()) {
        Ok(token) => token,
        // No token, or not a bearer one: it cannot be right, so it is no guess to charge. A
        // blocked client is still told it is blocked.
        Err(error) => {
            let error = match state.failures.blocked(client) {
                Some(wait) => OpsError::TooManyFailures {
                    retry_after_secs: tributary_gateway::retry_after_secs(wait),
                },
                None => error,
            };
            state.failures.log(client, request.uri().path(), &error, false);
            return error.into_response();
        }
    };
    match attempt::check(&state.admin, &state.failures, client, request.uri().path(), token) {
        Ok(()) => next.run(request).await,
        Err(error) => error.into_response(),
    }
}

fn bearer_token(headers: &HeaderMap) -> Result<&str, OpsError> {
    let value = headers
        .get(AUTHORIZATION)
        .ok_or_else(|| OpsError::Unauthenticated("Missing `Authorization: Bearer <admin token>` header.".into()))?;
    let value = value
        .to_str()
        .map_err(|_| OpsError::Unauthenticated("The Authorization header is not valid ASCII.".into()))?;
    // RFC 9110 §11.1: the auth scheme is case-insensitive.
    let (scheme, token) = value.split_once(' ').unwrap_or((value, ""));
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return Err(OpsError::Unauthenticated(
            "The Authorization header must be `Bearer <admin token>`.".into(),
        ));
    }
    Ok(token)
}
