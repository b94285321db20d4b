//! Sign-in and the session cookie. The admin token is asked for once, on a form; the cookie
//! that follows holds `<expiry>.<HMAC-SHA256(expiry) under a key made at process start>`: it
//! proves a sign-in to this process without carrying the token, and every session ends when
//! the process restarts (or after [`SESSION_TTL`]). HttpOnly keeps it from scripts,
//! SameSite=Strict off cross-site requests, Secure when the form was posted over HTTPS.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use askama::Template;
use axum::extract::State;
use axum::http::header::{ORIGIN, SET_COOKIE};
use axum::http::{Extensions, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use cookie::{Cookie, SameSite};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::ConsoleState;
use crate::error::{ConsoleError, render};
use crate::forms::SignInForm;

/// The session cookie's name.
pub const COOKIE_NAME: &str = "tributary_console";
/// A session lasts a working day; then the token is asked for again.
const SESSION_TTL: Duration = Duration::from_secs(12 * 3600);

type HmacSha256 = Hmac<Sha256>;

pub(crate) struct Sessions {
    key: [u8; 32],
}

impl Sessions {
    pub(crate) fn new() -> Self {
        Self { key: rand::random() }
    }

    fn mac(&self) -> HmacSha256 {
        // HMAC takes keys of any length; 32 bytes can never be refused.
        <HmacSha256 as KeyInit>::new_from_slice(&self.key).unwrap_or_else(|_| unreachable!("HMAC takes any key length"))
    }

    /// A new session's cookie value.
    fn issue(&self, now: u64) -> String {
        let expiry = now + SESSION_TTL.as_secs();
        let mut mac = self.mac();
        mac.update(expiry.to_string().as_bytes());
        format!("{expiry}.{}", hex::encode(mac.finalize().into_bytes()))
    }

    /// Whether `value` is a session this process issued and that has not expired. The MAC is
    /// compared in constant time.
    fn valid(&self, value: &str, now: u64) -> bool {
        let Some((expiry, tag)) = value.split_once('.') else {
            return false;
        };
        let (Ok(expiry_secs), Ok(tag)) = (expiry.parse::<u64>(), hex::decode(tag)) else {
            return false;
        };
        if expiry_secs <= now {
            return false;
        }
        let mut mac = self.mac();
        mac.update(expiry.as_bytes());
        mac.verify_slice(&tag).is_ok()
    }

    /// Whether the request's cookies hold a valid session.
    pub(crate) fn signed_in(&self, headers: &HeaderMap) -> bool {
        let now = unix_now();
        headers
            .get_all(axum::http::header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(Cookie::split_parse)
            .filter_map(Result::ok)
            .any(|c| c.name() == COOKIE_NAME && self.valid(c.value(), now))
    }
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

#[derive(Template)]
#[template(path = "sign_in.html")]
struct SignInPage {
    error: Option<String>,
}

pub(crate) async fn sign_in_form(State(state): State<ConsoleState>) -> Response {
    let error = (!state.ops.admin_configured()).then(|| tributary_operator::OpsError::NotConfigured.to_string());
    render(&SignInPage { error })
}

pub(crate) async fn sign_in(
    State(state): State<ConsoleState>,
    extensions: Extensions,
    headers: HeaderMap,
    form: Result<axum::Form<SignInForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let client = tributary_operator::client_of_extensions(&extensions);
    let token = form.map(|f| f.0.token).unwrap_or_default();
    if let Err(error) = state.ops.check_admin_token(client, "/ops/sign-in", token.trim()) {
        let status = error.status();
        let mut response = render(&SignInPage {
            error: Some(error.to_string()),
        });
        *response.status_mut() = status;
        return response;
    }
    // The browser names the scheme it posted the form over; behind a TLS-terminating proxy
    // that is https even though this process speaks plain HTTP.
    let secure = headers
        .get(ORIGIN)
        .and_then(|o| o.to_str().ok())
        .is_some_and(|o| o.starts_with("https://"));
    let cookie = Cookie::build((COOKIE_NAME, state.sessions.issue(unix_now())))
        .path("/ops")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure)
        .max_age(cookie::time::Duration::seconds(SESSION_TTL.as_secs() as i64))
        .build();
    tracing::info!(client = %client, "operator signed in to the console");
    ([(SET_COOKIE, cookie.to_string())], Redirect::to("/ops/")).into_response()
}

pub(crate) async fn sign_out() -> Result<Response, ConsoleError> {
    let cookie = Cookie::build((COOKIE_NAME, ""))
        .path("/ops")
        .http_only(true)
        .same_site(SameSite::Strict)
        .max_age(cookie::time::Duration::ZERO)
        .build();
    Ok(([(SET_COOKIE, cookie.to_string())], Redirect::to("/ops/sign-in")).into_response())
}

/// A page that needs a session, asked for without one.
pub(crate) fn to_sign_in() -> Response {
    (StatusCode::SEE_OTHER, [(axum::http::header::LOCATION, "/ops/sign-in")]).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_are_signed_and_expire() {
        let sessions = Sessions::new();
        let value = sessions.issue(1_000);
        assert!(sessions.valid(&value, 1_000));
        assert!(!sessions.valid(&value, 1_000 + SESSION_TTL.as_secs()), "expired");
        let (expiry, tag) = value.split_once('.').unwrap();
        let later: u64 = expiry.parse::<u64>().unwrap() + 3600;
        assert!(
            !sessions.valid(&format!("{later}.{tag}"), 1_000),
            "a moved expiry breaks the MAC"
        );
        assert!(!Sessions::new().valid(&value, 1_000), "another process's key");
        assert!(!sessions.valid("garbage", 1_000));
    }
}
