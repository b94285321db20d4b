//! Harvest v3's OAuth 2.0 client credentials flow
//! (<https://harvestdocs.greenhouse.io/docs/authentication>, read 2026-12-06): `POST
//! https://auth.greenhouse.io/token` with HTTP Basic `client_id:client_secret` and the form body
//! `grant_type=client_credentials` (plus `sub=<user id>` to act as that user; without it the
//! credential's own integration user acts). Access tokens live one hour
//! (<https://harvestdocs.greenhouse.io/docs/harvest-partner-oauth>). The token is cached,
//! renewed shortly before it expires, and once more when the API answers 401 to a cached one.
//!
//! The cache belongs to the credentials, not to one connector: a run builds its connector
//! afresh, and token requests have a rate window of their own, so every connector of the same
//! credentials in this process shares one token (and one request for it at a time) until it is
//! due for renewal: one token request per hour-long token, however many runs.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde_json::Value;
use tokio::sync::Mutex;
use tributary_source::{BodyVerdict, Secret, SourceClient, SourceError, SourceResponse};
use url::Url;

use super::wire::TokenResponse;

pub(crate) const DEFAULT_TOKEN_URL: &str = "https://auth.greenhouse.io/token";
const ENDPOINT: &str = "POST /token";
/// Used when the token endpoint states no expiry: the documented lifetime.
const DOCUMENTED_TTL: Duration = Duration::from_secs(3600);
/// A token is renewed this long before it expires (at most a tenth of its life, so a
/// short-lived token is not renewed on every request).
const REFRESH_MARGIN: Duration = Duration::from_secs(60);

/// What Greenhouse's own error says when an integration still holds a v1/v2 key.
pub(crate) const V1_GONE: &str = "Greenhouse switched Harvest v1 and v2 (and their API keys) off on 31 August 2026; \
tributary speaks Harvest v3, which authenticates with OAuth client credentials. In Greenhouse, go to Configure > \
Dev Center > API Credential Management, click \"Create new API credentials\", choose the API type \"Harvest V3 \
(OAuth)\", grant it the list scopes of users, candidate tags, rejection reasons, departments, offices, sources, \
jobs, job owners, job hiring managers, job interview stages, job interviews, candidates, applications, \
interviews, interviewers and offers, and give tributary {\"client_id\": \"...\", \"client_secret\": \"...\"} \
(optionally \"user_id\": the numeric id of a Site Admin user the token acts as)";

/// The credentials of a Harvest v3 custom integration.
pub(crate) struct Credentials {
    client_id: String,
    client_secret: Secret,
    /// The token's `sub`: a Site Admin user id the integration acts as.
    user_id: Option<String>,
    token_url: Url,
}

fn string_field<'a>(credentials: &'a Value, key: &str) -> Result<Option<&'a str>, SourceError> {
    match credentials.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(Some(s.trim())),
        Some(_) => Err(SourceError::Config(format!(
            "greenhouse credential `{key}` must be a non-empty string"
        ))),
    }
}

impl Credentials {
    pub(crate) fn from_json(credentials: &Value) -> Result<Self, SourceError> {
        let client_id = string_field(credentials, "client_id")?;
        let client_secret = string_field(credentials, "client_secret")?;
        let (Some(client_id), Some(client_secret)) = (client_id, client_secret) else {
            if credentials.get("api_key").is_some() {
                return Err(SourceError::Config(V1_GONE.into()));
            }
            let missing = if client_id.is_none() {
                "client_id"
            } else {
                "client_secret"
            };
            return Err(SourceError::Config(format!(
                "greenhouse credentials need `{missing}`: Harvest v3 OAuth client credentials \
                 ({{\"client_id\": \"...\", \"client_secret\": \"...\"}}, created in Configure > Dev Center > \
                 API Credential Management as \"Harvest V3 (OAuth)\")"
            )));
        };
        let user_id = match credentials.get("user_id") {
            None | Some(Value::Null) => None,
            Some(Value::Number(n)) if n.is_u64() => Some(n.to_string()),
            Some(Value::String(s)) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => Some(s.clone()),
            Some(_) => {
                return Err(SourceError::Config(
                    "greenhouse credential `user_id` must be a numeric Greenhouse user id".into(),
                ));
            }
        };
        let token_url = string_field(credentials, "token_url")?.unwrap_or(DEFAULT_TOKEN_URL);
        let token_url = Url::parse(token_url)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https"))
            .ok_or_else(|| SourceError::Config("greenhouse credential `token_url` must be an http(s) URL".into()))?;
        Ok(Credentials {
            client_id: client_id.to_owned(),
            client_secret: Secret::new(client_secret),
            user_id,
            token_url,
        })
    }
}

struct Issued {
    token: Secret,
    renew_at: Instant,
}

/// Whose token a cache slot holds: the token endpoint, the client, the user it acts as, and a
/// digest of the secret (so changed credentials never reuse a token the old ones earned, and
/// the registry holds no secret).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Holder {
    token_url: String,
    client_id: String,
    user_id: Option<String>,
    secret_digest: u64,
}

type Slot = Arc<Mutex<Option<Issued>>>;

/// The token of every set of credentials in use in this process.
static SHARED: LazyLock<std::sync::Mutex<HashMap<Holder, Slot>>> = LazyLock::new(Default::default);

fn slot_for(credentials: &Credentials) -> Slot {
    let mut digest = DefaultHasher::new();
    credentials.client_secret.expose().hash(&mut digest);
    let holder = Holder {
        token_url: credentials.token_url.to_string(),
        client_id: credentials.client_id.clone(),
        user_id: credentials.user_id.clone(),
        secret_digest: digest.finish(),
    };
    SHARED
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .entry(holder)
        .or_default()
        .clone()
}

/// The access token of a connector's credentials, shared with every other connector of them.
pub(crate) struct Tokens {
    credentials: Credentials,
    current: Slot,
}

/// When a token the endpoint issued at `now` should be renewed.
fn renew_at(response: &TokenResponse, now: DateTime<Utc>) -> Result<Instant, SourceError> {
    let ttl = match (&response.expires_at, response.expires_in) {
        (Some(at), _) => {
            let at = DateTime::parse_from_rfc3339(at)
                .or_else(|_| DateTime::parse_from_str(at, "%Y-%m-%dT%H:%M:%S%z"))
                .map_err(|e| SourceError::malformed(ENDPOINT, format!("field `expires_at`: `{at}`: {e}")))?;
            (at.with_timezone(&Utc) - now).to_std().unwrap_or(Duration::ZERO)
        }
        (None, Some(secs)) => Duration::from_secs(secs),
        (None, None) => DOCUMENTED_TTL,
    };
    let margin = REFRESH_MARGIN.min(ttl / 10);
    Ok(Instant::now() + ttl.saturating_sub(margin))
}

fn verdict(_: &SourceResponse) -> BodyVerdict {
    BodyVerdict::Ok
}

impl Tokens {
    pub(crate) fn new(credentials: Credentials) -> Self {
        let current = slot_for(&credentials);
        Tokens { credentials, current }
    }

    /// A valid access token: the cached one, or a new one when it is about to expire.
    pub(crate) async fn token(&self, client: &SourceClient) -> Result<Secret, SourceError> {
        let mut guard = self.current.lock().await;
        if let Some(issued) = guard.as_ref().filter(|i| Instant::now() < i.renew_at) {
            return Ok(issued.token.clone());
        }
        // Held while asking, so concurrent requests (of any connector of these credentials)
        // share one token request.
        let c = &self.credentials;
        let mut form = vec![("grant_type", "client_credentials".to_owned())];
        if let Some(sub) = &c.user_id {
            form.push(("sub", sub.clone()));
        }
        let issued_at = Utc::now();
        let response = client
            .send_checked(
                ENDPOINT,
                |http| {
                    http.post(c.token_url.clone())
                        .basic_auth(&c.client_id, Some(c.client_secret.expose()))
                        .header(reqwest::header::ACCEPT, "application/json")
                        .form(&form)
                },
                verdict,
            )
            .await?;
        let body: TokenResponse = response.json()?;
        if body.access_token.trim().is_empty() {
            return Err(SourceError::malformed(ENDPOINT, "field `access_token` is empty"));
        }
        let issued = Issued {
            token: Secret::new(body.access_token.trim()),
            renew_at: renew_at(&body, issued_at)?,
        };
        let token = issued.token.clone();
        *guard = Some(issued);
        Ok(token)
    }

    /// Drops `stale` (a token the API refused), unless another request already replaced it.
    pub(crate) async fn forget(&self, stale: &Secret) {
        let mut guard = self.current.lock().await;
        if guard.as_ref().is_some_and(|i| &i.token == stale) {
            *guard = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn expiry_is_read_from_expires_at_or_expires_in() {
        let now = Utc::now();
        let at = |s: String| TokenResponse {
            access_token: "t".into(),
            expires_at: Some(s),
            expires_in: None,
        };
        let in_an_hour = (now + chrono::Duration::hours(1)).to_rfc3339();
        let renew = renew_at(&at(in_an_hour), now).unwrap();
        let left = renew.saturating_duration_since(Instant::now());
        assert!(
            left > Duration::from_secs(3480) && left <= Duration::from_secs(3540),
            "{left:?}"
        );
        let plus_0000 = (now + chrono::Duration::seconds(100))
            .format("%Y-%m-%dT%H:%M:%S+0000")
            .to_string();
        let left = renew_at(&at(plus_0000), now)
            .unwrap()
            .saturating_duration_since(Instant::now());
        assert!(
            left > Duration::from_secs(85) && left <= Duration::from_secs(90),
            "{left:?}"
        );
        assert!(renew_at(&at("tomorrow".into()), now).is_err());
        let seconds = TokenResponse {
            access_token: "t".into(),
            expires_at: None,
            expires_in: Some(2),
        };
        let left = renew_at(&seconds, now)
            .unwrap()
            .saturating_duration_since(Instant::now());
        assert!(left <= Duration::from_millis(1800), "{left:?}");
    }

    #[test]
    fn v1_keys_get_the_migration_message_and_bad_shapes_name_the_key() {
        let err = Credentials::from_json(&json!({"api_key": "k"})).err().unwrap();
        let msg = err.to_string();
        assert!(
            msg.contains("31 August 2026") && msg.contains("Harvest V3 (OAuth)"),
            "{msg}"
        );
        assert!(msg.contains("client_id") && msg.contains("client_secret"), "{msg}");
        let err = Credentials::from_json(&json!({"client_id": "a"})).err().unwrap();
        assert!(err.to_string().contains("client_secret"), "{err}");
        let err = Credentials::from_json(&json!({"client_id": "a", "client_secret": "b", "user_id": "x"}))
            .err()
            .unwrap();
        assert!(err.to_string().contains("user_id"), "{err}");
        let ok = Credentials::from_json(&json!({"client_id": "a", "client_secret": "b", "user_id": 42})).unwrap();
        assert_eq!(ok.token_url.as_str(), DEFAULT_TOKEN_URL);
        assert_eq!(ok.user_id.as_deref(), Some("42"));
    }
}
