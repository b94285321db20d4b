//! API keys and the integration a request reads. Kombo authenticates with
//! `Authorization: Bearer <key>` (`components.securitySchemes.ApiKey` in its OpenAPI document)
//! and selects the integration with the `X-Integration-Id` header.

use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};
use tributary_store::{ApiKey, Integration};

use crate::error::ApiError;
use crate::state::GatewayState;

const KEY_PREFIX: &str = "trb_";
pub const INTEGRATION_HEADER: &str = "x-integration-id";

/// The digest the store keeps instead of the key (invariant I8). A plain SHA-256 suffices:
/// keys are 256 random bits, so there is nothing to brute-force that a slow hash would protect.
pub fn hash_api_key(key: &str) -> Vec<u8> {
    Sha256::digest(key.as_bytes()).to_vec()
}

/// A new API key: `trb_` and 32 random bytes in URL-safe base64. The prefix lets secret
/// scanners and humans recognise a leaked key.
pub fn generate_api_key() -> String {
    generate_secret(KEY_PREFIX)
}

/// `prefix` and 32 random bytes in URL-safe base64: API keys, webhook signing secrets.
pub fn generate_secret(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// The caller's live API key.
#[derive(Debug, Clone)]
pub struct Caller(pub ApiKey);

/// What [`crate::http::guard`] found the request's key to be when it charged the key's rate
/// limit, so the handler does not look it up a second time. `None`: no live key has it.
#[derive(Debug, Clone)]
pub(crate) struct LookedUp(pub Option<ApiKey>);

impl FromRequestParts<GatewayState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &GatewayState) -> Result<Self, ApiError> {
        let key = bearer_token(&parts.headers)?;
        let found = match parts.extensions.get::<LookedUp>() {
            Some(LookedUp(found)) => found.clone(),
            None => state.store.find_api_key(&hash_api_key(key)).await?,
        };
        found.map(Caller).ok_or_else(unauthenticated)
    }
}

fn unauthenticated() -> ApiError {
    ApiError::Unauthenticated("The API key is invalid or has been revoked.".into())
}

/// The key of an `Authorization: Bearer <key>` header, however the scheme is spelt.
pub(crate) fn bearer_token(headers: &HeaderMap) -> Result<&str, ApiError> {
    let value = headers
        .get(AUTHORIZATION)
        .ok_or_else(|| ApiError::Unauthenticated("Missing `Authorization: Bearer <API key>` header.".into()))?;
    let value = value
        .to_str()
        .map_err(|_| ApiError::Unauthenticated("The Authorization header is not valid ASCII.".into()))?;
    // RFC 9110 §11.1: the auth scheme is case-insensitive.
    let (scheme, token) = value.split_once(' ').unwrap_or((value, ""));
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return Err(ApiError::Unauthenticated(
            "The Authorization header must be `Bearer <API key>`.".into(),
        ));
    }
    Ok(token)
}

/// The integration named by `X-Integration-Id`, read by an authenticated caller of the same
/// environment.
#[derive(Debug, Clone)]
pub struct IntegrationAccess {
    pub integration: Integration,
}

impl FromRequestParts<GatewayState> for IntegrationAccess {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &GatewayState) -> Result<Self, ApiError> {
        let looked_up = parts.extensions.get::<LookedUp>().is_some();
        let named = integration_header(&parts.headers).map(str::to_owned);
        let (id, integration) = match named {
            // Neither looked up yet (no per-key rate limit did): the key and the integration
            // of its environment in one statement.
            Ok(id) if !looked_up => {
                let key = bearer_token(&parts.headers)?;
                match state
                    .store
                    .find_api_key_and_integration(&hash_api_key(key), &id)
                    .await?
                {
                    Some((_, integration)) => (id, integration),
                    None => return Err(unauthenticated()),
                }
            }
            // An unknown key is refused before a missing header is.
            _ => {
                let Caller(caller) = Caller::from_request_parts(parts, state).await?;
                let id = integration_header(&parts.headers)?.to_owned();
                let integration = state
                    .store
                    .get_integration(&id)
                    .await?
                    .filter(|integration| integration.environment == caller.environment);
                (id, integration)
            }
        };
        match integration {
            Some(integration) => {
                tracing::Span::current().record("integration_id", integration.id.as_str());
                Ok(IntegrationAccess { integration })
            }
            None => Err(ApiError::IntegrationNotFound(id)),
        }
    }
}

/// The integration a request names in `X-Integration-Id`.
fn integration_header(headers: &HeaderMap) -> Result<&str, ApiError> {
    headers
        .get(INTEGRATION_HEADER)
        .map(|value| value.to_str().map(str::trim))
        .transpose()
        .map_err(|_| ApiError::invalid("The X-Integration-Id header is not valid ASCII."))?
        .filter(|id| !id.is_empty())
        .ok_or_else(|| ApiError::invalid("Missing X-Integration-Id header."))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn generated_keys_are_prefixed_random_and_hash_stably() {
        let (a, b) = (generate_api_key(), generate_api_key());
        assert!(a.starts_with("trb_") && a.len() == 4 + 43);
        assert_ne!(a, b);
        assert_eq!(hash_api_key(&a), hash_api_key(&a));
        assert_eq!(hash_api_key(&a).len(), 32);
    }

    #[test]
    fn parses_bearer_tokens() {
        let mut headers = HeaderMap::new();
        assert!(bearer_token(&headers).is_err());
        headers.insert(AUTHORIZATION, HeaderValue::from_static("bearer  trb_x "));
        assert_eq!(bearer_token(&headers).unwrap(), "trb_x");
        headers.insert(AUTHORIZATION, HeaderValue::from_static("Basic abc"));
        assert!(bearer_token(&headers).is_err());
        headers.insert(AUTHORIZATION, HeaderValue::from_static("Bearer"));
        assert!(bearer_token(&headers).is_err());
    }
}
