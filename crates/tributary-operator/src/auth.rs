//! The admin token. One shared secret guards the whole operator API; it comes from
//! `TRIBUTARY_ADMIN_TOKEN` and travels as `Authorization: Bearer <token>`.

use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use crate::error::OpsError;
use crate::state::OperatorState;

/// The configured token, kept only as its SHA-256 digest.
#[derive(Debug)]
pub(crate) struct AdminToken {
    digest: Option<Vec<u8>>,
}

impl AdminToken {
    pub(crate) fn new(token: Option<&str>) -> Self {
        let digest = token.map(str::trim).filter(|t| !t.is_empty()).map(digest);
        Self { digest }
    }

    /// Compares digests rather than the tokens, and every byte of them, so the time taken says
    /// nothing about how much of a guess was right.
    fn check(&self, given: &str) -> Result<(), OpsError> {
        let Some(expected) = &self.digest else {
            return Err(OpsError::NotConfigured);
        };
        let given = digest(given);
        let difference = expected.iter().zip(&given).fold(0u8, |acc, (a, b)| acc | (a ^ b));
        if difference == 0 && expected.len() == given.len() {
            Ok(())
        } else {
            Err(OpsError::Unauthenticated("The admin token is wrong.".into()))
        }
    }

    fn configured(&self) -> bool {
        self.digest.is_some()
    }
}

fn digest(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// Lets a request through only with the admin token. With none configured every request is
/// refused (403), whatever it carries.
pub(crate) async fn require_admin(State(state): State<OperatorState>, request: Request, next: Next) -> Response {
    let allowed = if state.admin.configured() {
        bearer_token(request.headers()).and_then(|token| state.admin.check(token))
    } else {
        Err(OpsError::NotConfigured)
    };
    match allowed {
        Ok(()) => next.run(request).await,
        Err(e) => e.into_response(),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_tokens_by_digest() {
        let admin = AdminToken::new(Some("s3cret"));
        assert!(admin.check("s3cret").is_ok());
        assert!(matches!(admin.check("s3cres"), Err(OpsError::Unauthenticated(_))));
        assert!(matches!(admin.check(""), Err(OpsError::Unauthenticated(_))));
    }

    #[test]
    fn no_or_blank_token_disables_the_api() {
        for token in [None, Some(""), Some("  ")] {
            let admin = AdminToken::new(token);
            assert!(!admin.configured());
            assert!(matches!(admin.check(""), Err(OpsError::NotConfigured)));
        }
    }
}
