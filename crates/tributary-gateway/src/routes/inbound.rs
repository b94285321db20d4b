//! `POST /v1/webhooks/{tool}/{integration_id}`: webhooks the source tools send when their data
//! changes, so the mirror follows within a second instead of at the next scheduled sync.
//!
//! No API key: the tool authenticates with the secret it signs (or, for Personio, sends) with,
//! which an operator stores per integration (`PUT /ops/v1/integrations/{id}/inbound-webhook`).
//! The route sits outside the per-key rate limit and takes bodies up to [`BODY_LIMIT`].
//!
//! Each tool as its documentation describes it:
//!
//! | tool | authenticity | replay window | delivery id |
//! |---|---|---|---|
//! | Greenhouse | `Signature: sha256 <hex HMAC-SHA256 of the raw body>` | none sent | SHA-256 of the body (the `Greenhouse-Event-ID` header is not signed) |
//! | BambooHR | `X-BambooHR-Signature: <hex HMAC-SHA256 of the raw body followed by the X-BambooHR-Timestamp value>` | `X-BambooHR-Timestamp` within 5 minutes | none: SHA-256 of the body |
//! | Personio (API v2) | `Authorization: <token>`, the webhook's static token, verbatim | none sent | none: SHA-256 of the body |
//!
//! Sources: Greenhouse, <https://developers.greenhouse.io/webhooks.html> ("Authentication":
//! the header holds the algorithm, a space and the hex digest of the whole body; every delivery
//! carries a unique `Greenhouse-Event-ID`). BambooHR,
//! <https://documentation.bamboohr.com/docs/webhooks> ("Security": SHA-256 HMAC over the payload
//! and the timestamp with the webhook's private key, headers `X-BambooHR-Timestamp` and
//! `X-BambooHR-Signature`); the order (body, then timestamp) as Nango's BambooHR guide states it
//! and as public verifiers implement it. Personio,
//! <https://developer.personio.de/reference/post_v2-webhooks> (`auth_type` `TOKEN`, the default:
//! "the callback will include this exact value in the Authorization header"); Personio does not
//! sign bodies, so the token is compared instead.
//!
//! The flow: the integration (404 when unknown, of another tool, or taking no webhooks, all
//! alike so the route reveals nothing more), the tool's proof checked in constant time (401
//! `PLATFORM.AUTHENTICATION_INVALID` when missing, forged or stale; nothing else happens; past
//! a per-integration budget of refusals, 429: see [`super::inbound_rejections`]), the
//! delivery remembered by a digest of what its proof covers so a retried or replayed delivery
//! is applied once (200 with `"duplicate": true`), then a DELTA (DEFAULT for a tool without deltas) asked of the
//! fleet and 202 at once.
//!
//! Design choice: the event is applied by a sync, not from its payload. A DELTA goes through
//! the same engine path as every other sync (lease and fence, scope stripping, content hashes,
//! change tracking, `updated_after` bumps), so a webhook can never write something a sync would
//! not, needs no per-event mapping, and an event that arrives twice or out of order is
//! harmless: the DELTA reads the tool's current state. Webhook payloads are also partial
//! (BambooHR's name the employee and the fields that changed, Personio's only ids). While a
//! DELTA of the integration is already running it may have read the changed stream before the
//! change; a follow-up DELTA is then queued when it ends.

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, NaiveDateTime, Utc};
use hmac::{Hmac, KeyInit, Mac};
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use tributary_model::{RunState, SyncType, ToolKind};

use super::inbound_rejections::tool_label;
use crate::error::ApiError;
use crate::response::Success;
use crate::state::GatewayState;
use crate::sync::TriggerError;

type HmacSha256 = Hmac<Sha256>;

/// Tools put whole records in some payloads (Greenhouse's applications with their candidate
/// and jobs); 1 MiB leaves room for the largest while still refusing junk early.
pub const BODY_LIMIT: usize = 1024 * 1024;
/// BambooHR deliveries older (or further in the future) than this are refused as replays.
pub const MAX_AGE: Duration = Duration::from_secs(5 * 60);
/// How long a follow-up waits for the running DELTA it follows to end.
const FOLLOW_UP_WAIT: Duration = Duration::from_secs(30 * 60);
const FOLLOW_UP_POLL: Duration = Duration::from_millis(200);

const GREENHOUSE_SIGNATURE: &str = "signature";
const BAMBOOHR_SIGNATURE: &str = "x-bamboohr-signature";
const BAMBOOHR_TIMESTAMP: &str = "x-bamboohr-timestamp";
const PERSONIO_TOKEN: &str = "authorization";

#[derive(Debug, Serialize)]
pub struct Accepted {
    duplicate: bool,
    /// The run that applies the event; `null` when no fleet answered and the schedule was
    /// made due instead (the scheduler queues it at its next tick).
    sync_id: Option<String>,
    #[serde(rename = "type")]
    sync_type: &'static str,
    /// The run was queued already (it reads the change too, or a follow-up is queued after it).
    already_queued: bool,
}

#[derive(Debug, Serialize)]
pub struct Duplicate {
    duplicate: bool,
}

#[derive(Debug, Serialize)]
pub struct Ping {
    ping: bool,
}

pub async fn receive(
    State(state): State<GatewayState>,
    path: Result<Path<(String, String)>, PathRejection>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let Path((tool, id)) = path.map_err(|e| ApiError::invalid(format!("Invalid webhook path: {}", e.body_text())))?;
    let tool = ToolKind::parse(&tool);
    let mut taking = None;
    match accept(&state, tool, &id, &headers, body, &mut taking).await {
        // Refusals are counted against a budget and logged at a sampled rate (see
        // `inbound_rejections`): anyone may send them.
        Err(error @ (ApiError::SignatureInvalid(_) | ApiError::IntegrationNotFound(_))) => Ok(state
            .inbound_rejections
            .answer(taking.as_deref(), tool_label(tool), error)),
        other => other,
    }
}

/// The delivery checked and acted on. `taking` is set to the integration once it is known to
/// take the tool's webhooks, so a refusal is counted against its budget.
async fn accept(
    state: &GatewayState,
    tool: Option<ToolKind>,
    id: &str,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
    taking: &mut Option<String>,
) -> Result<Response, ApiError> {
    let not_found = || ApiError::IntegrationNotFound(id.replace('\0', "\\0").chars().take(256).collect());
    if id.contains('\0') || id.len() > 256 {
        return Err(not_found());
    }
    let tool = tool.ok_or_else(not_found)?;
    let integration = state
        .store
        .get_integration(id)
        .await?
        .filter(|i| i.tool == tool)
        .ok_or_else(not_found)?;
    tracing::Span::current().record("integration_id", integration.id.as_str());
    let secret = state
        .store
        .inbound_webhook_secret(&integration.id)
        .await?
        .ok_or_else(not_found)?;
    *taking = Some(integration.id.clone());
    let body = body.map_err(|e| match e.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge(BODY_LIMIT),
        _ => ApiError::invalid(format!("Unreadable request body: {}", e.body_text())),
    })?;
    let delivery = verify(tool, &secret, headers, &body, Utc::now())
        .map_err(|rejected| ApiError::SignatureInvalid(rejected.to_string()))?;
    let event: Value = serde_json::from_slice(&body)
        .ok()
        .filter(Value::is_object)
        .ok_or_else(|| ApiError::invalid("The webhook body must be a JSON object."))?;
    // Greenhouse pings a web hook when it is saved; a signed ping proves the set-up and asks
    // for nothing to be synced.
    if tool == ToolKind::Greenhouse && event.get("action").and_then(Value::as_str) == Some("ping") {
        return Ok(Success::new(Ping { ping: true }).into_response());
    }
    if !state
        .store
        .record_inbound_delivery(&integration.id, &delivery.key)
        .await?
    {
        tracing::info!(integration_id = %integration.id, delivery = %delivery.key, "inbound webhook delivered again; applied once");
        return Ok(Success::new(Duplicate { duplicate: true }).into_response());
    }
    let sync_type = if tool.supports_delta() {
        SyncType::Delta
    } else {
        SyncType::Default
    };
    let queued = queue(state, &integration.id, sync_type).await?;
    tracing::info!(
        integration_id = %integration.id,
        delivery = %delivery.key,
        event = event_name(tool, &event).unwrap_or("-"),
        sync_id = queued.sync_id.as_deref().unwrap_or("-"),
        already_queued = queued.already_queued,
        "inbound webhook accepted"
    );
    Ok((StatusCode::ACCEPTED, Success::new(queued)).into_response())
}

/// Asks the fleet for the sync. Without a fleet, or with its queue down, the schedule is made
/// due instead so the scheduler queues it at its next tick: the delivery is remembered by now,
/// and a retry of it would be answered as a duplicate, so the change must not be dropped here.
async fn queue(state: &GatewayState, integration_id: &str, sync_type: SyncType) -> Result<Accepted, ApiError> {
    let wire_type = sync_type.as_str();
    if let Some(trigger) = &state.sync {
        match trigger.force_sync(integration_id, sync_type).await {
            Ok(forced) => {
                if forced.already_queued {
                    follow_up(state, integration_id, sync_type, &forced.sync_id).await;
                }
                return Ok(Accepted {
                    duplicate: false,
                    sync_id: Some(forced.sync_id),
                    sync_type: wire_type,
                    already_queued: forced.already_queued,
                });
            }
            Err(TriggerError::IntegrationNotFound(id)) => return Err(ApiError::IntegrationNotFound(id)),
            Err(TriggerError::Unavailable(why)) => {
                tracing::warn!(integration_id, error = %why, "the fleet did not take the webhook's sync; making its schedule due");
            }
        }
    }
    state.store.force_sync(integration_id, sync_type, Utc::now()).await?;
    Ok(Accepted {
        duplicate: false,
        sync_id: None,
        sync_type: wire_type,
        already_queued: false,
    })
}

/// The open run found may have read the changed data before it changed (it is running, or
/// paused mid-way): queue another once it has ended. A queued run has not read anything yet.
async fn follow_up(state: &GatewayState, integration_id: &str, sync_type: SyncType, run_id: &str) {
    let Some(trigger) = state.sync.clone() else { return };
    match state.store.get_run(run_id).await {
        Ok(Some(run)) if run.state == RunState::Queued || run.state.is_terminal() => return,
        Ok(_) => {}
        Err(e) => tracing::warn!(integration_id, error = %e, "could not read the open run; following up anyway"),
    }
    if !state.follow_ups.claim(integration_id) {
        return;
    }
    let (store, follow_ups) = (state.store.clone(), state.follow_ups.clone());
    let (integration_id, run_id) = (integration_id.to_owned(), run_id.to_owned());
    tokio::spawn(async move {
        let deadline = tokio::time::Instant::now() + FOLLOW_UP_WAIT;
        while tokio::time::Instant::now() < deadline {
            match store.get_run(&run_id).await {
                Ok(Some(run)) if !run.state.is_terminal() => tokio::time::sleep(FOLLOW_UP_POLL).await,
                _ => break,
            }
        }
        // Released first: a webhook arriving from here on finds the new run queued and needs
        // no follow-up of its own.
        follow_ups.release(&integration_id);
        match trigger.force_sync(&integration_id, sync_type).await {
            Ok(forced) => {
                tracing::info!(%integration_id, sync_id = %forced.sync_id, "follow-up sync for an inbound webhook queued")
            }
            Err(e) => tracing::warn!(%integration_id, error = %e, "follow-up sync for an inbound webhook not queued"),
        }
    });
}

fn event_name(tool: ToolKind, event: &Value) -> Option<&str> {
    let key = match tool {
        ToolKind::Greenhouse => "action",
        ToolKind::Personio => "event_name",
        ToolKind::Bamboohr => "type",
    };
    event.get(key).and_then(Value::as_str)
}

/// What identifies a delivery, so the tool's retries of it are applied once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub key: String,
}

/// Why a delivery was refused. Messages name what is wrong, never a secret or a digest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejected {
    #[error("the `{0}` header is missing")]
    Missing(&'static str),
    #[error("the `{0}` header is malformed")]
    Malformed(&'static str),
    #[error("the signature does not match the body")]
    Forged,
    #[error("the `{0}` token does not match")]
    WrongToken(&'static str),
    #[error("the delivery's timestamp is {0} seconds away from now, more than the {max} allowed", max = MAX_AGE.as_secs())]
    Stale(i64),
}

/// Checks a delivery the way `tool` proves it, at `now`.
pub fn verify(
    tool: ToolKind,
    secret: &str,
    headers: &HeaderMap,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<Delivery, Rejected> {
    match tool {
        ToolKind::Greenhouse => {
            let value = header(headers, GREENHOUSE_SIGNATURE)?;
            let (algorithm, digest) = value.split_once(' ').ok_or(Rejected::Malformed("Signature"))?;
            if !algorithm.eq_ignore_ascii_case("sha256") {
                return Err(Rejected::Malformed("Signature"));
            }
            let digest = hex_decode(digest.trim()).ok_or(Rejected::Malformed("Signature"))?;
            mac(secret, &[body])
                .verify_slice(&digest)
                .map_err(|_| Rejected::Forged)?;
            // Keyed by what the signature covers. `Greenhouse-Event-ID` is not signed: anyone
            // holding one signed delivery could replay it under fresh ids, and each would
            // count as new. Greenhouse sends no timestamp to bound a replay by, and its
            // payloads carry the objects' own `updated_at`, so two real events differ.
            Ok(Delivery { key: body_key(body) })
        }
        ToolKind::Bamboohr => {
            let signature = header(headers, BAMBOOHR_SIGNATURE)?;
            let timestamp = header(headers, BAMBOOHR_TIMESTAMP)?;
            let digest = hex_decode(signature.trim()).ok_or(Rejected::Malformed("X-BambooHR-Signature"))?;
            mac(secret, &[body, timestamp.as_bytes()])
                .verify_slice(&digest)
                .map_err(|_| Rejected::Forged)?;
            // Judged only once the signature holds: the timestamp is signed, so it is the
            // sender's and not an attacker's.
            let sent = parse_timestamp(timestamp).ok_or(Rejected::Malformed("X-BambooHR-Timestamp"))?;
            let age = (now - sent).num_seconds();
            if age.unsigned_abs() > MAX_AGE.as_secs() {
                return Err(Rejected::Stale(age));
            }
            Ok(Delivery { key: body_key(body) })
        }
        ToolKind::Personio => {
            let token = headers
                .get(PERSONIO_TOKEN)
                .ok_or(Rejected::Missing("Authorization"))?
                .as_bytes();
            // Compared as MACs under the secret, in constant time: neither the length nor any
            // prefix of the token leaks through timing.
            let expected = mac(secret, &[secret.as_bytes()]).finalize().into_bytes();
            mac(secret, &[token])
                .verify_slice(&expected)
                .map_err(|_| Rejected::WrongToken("Authorization"))?;
            Ok(Delivery { key: body_key(body) })
        }
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &'static str) -> Result<&'a str, Rejected> {
    let value = headers.get(name).ok_or(Rejected::Missing(display_name(name)))?;
    value.to_str().map_err(|_| Rejected::Malformed(display_name(name)))
}

fn display_name(name: &'static str) -> &'static str {
    match name {
        GREENHOUSE_SIGNATURE => "Signature",
        BAMBOOHR_SIGNATURE => "X-BambooHR-Signature",
        BAMBOOHR_TIMESTAMP => "X-BambooHR-Timestamp",
        other => other,
    }
}

fn mac(secret: &str, parts: &[&[u8]]) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes()).expect("HMAC accepts keys of any length");
    for part in parts {
        mac.update(part);
    }
    mac
}

/// `sha256:<hex>` of the body, for tools that send no delivery id.
fn body_key(body: &[u8]) -> String {
    format!("sha256:{}", hex_encode(&Sha256::digest(body)))
}

/// Unix seconds (milliseconds when it has 13 digits or more), or an RFC 3339 / ISO 8601 time
/// with an offset (BambooHR's payloads write `2026-01-31T18:42:00+0000`).
fn parse_timestamp(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        let n: i64 = text.parse().ok()?;
        return if text.len() >= 13 {
            DateTime::from_timestamp_millis(n)
        } else {
            DateTime::from_timestamp(n, 0)
        };
    }
    DateTime::parse_from_rfc3339(text)
        .or_else(|_| DateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%z"))
        .map(|t| t.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S")
                .ok()
                .map(|t| t.and_utc())
        })
}

fn hex_encode(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn hex_decode(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || !text.is_ascii() {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    const SECRET: &str = "a webhook secret";
    const BODY: &[u8] = br#"{"action":"candidate_hired","payload":{"application":{"id":1}}}"#;

    fn sign(parts: &[&[u8]]) -> String {
        hex_encode(&mac(SECRET, parts).finalize().into_bytes())
    }

    fn headers(pairs: &[(&'static str, String)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn greenhouse_signatures_and_event_ids() {
        let now = Utc::now();
        let good = headers(&[
            ("signature", format!("sha256 {}", sign(&[BODY]))),
            ("greenhouse-event-id", "evt-1".into()),
        ]);
        // Keyed by the signed body: the unsigned event id changes nothing.
        assert_eq!(
            verify(ToolKind::Greenhouse, SECRET, &good, BODY, now).unwrap().key,
            body_key(BODY)
        );
        let renamed = headers(&[
            ("signature", format!("sha256 {}", sign(&[BODY]))),
            ("greenhouse-event-id", "evt-2".into()),
        ]);
        assert_eq!(
            verify(ToolKind::Greenhouse, SECRET, &renamed, BODY, now).unwrap().key,
            body_key(BODY),
            "a replay under a new event id is the same delivery"
        );
        // Upper-case hex and algorithm are the same signature; no event id keys by the body.
        let upper = headers(&[("signature", format!("SHA256 {}", sign(&[BODY]).to_uppercase()))]);
        assert!(
            verify(ToolKind::Greenhouse, SECRET, &upper, BODY, now)
                .unwrap()
                .key
                .starts_with("sha256:")
        );
        let tampered = br#"{"action":"candidate_hired","payload":{"application":{"id":2}}}"#;
        assert_eq!(
            verify(ToolKind::Greenhouse, SECRET, &good, tampered, now),
            Err(Rejected::Forged)
        );
        assert_eq!(
            verify(ToolKind::Greenhouse, "another secret", &good, BODY, now),
            Err(Rejected::Forged)
        );
        for bad in [
            sign(&[BODY]),
            format!("sha256={}", sign(&[BODY])),
            format!("sha1 {}", sign(&[BODY])),
            "sha256 zz".into(),
        ] {
            let h = headers(&[("signature", bad.clone())]);
            assert!(
                matches!(
                    verify(ToolKind::Greenhouse, SECRET, &h, BODY, now),
                    Err(Rejected::Malformed(_))
                ),
                "{bad}"
            );
        }
        assert_eq!(
            verify(ToolKind::Greenhouse, SECRET, &HeaderMap::new(), BODY, now),
            Err(Rejected::Missing("Signature"))
        );
    }

    #[test]
    fn bamboohr_signs_body_then_timestamp_and_must_be_recent() {
        let now = Utc::now();
        let ts = now.timestamp().to_string();
        let good = headers(&[
            ("x-bamboohr-timestamp", ts.clone()),
            ("x-bamboohr-signature", sign(&[BODY, ts.as_bytes()])),
        ]);
        let key = verify(ToolKind::Bamboohr, SECRET, &good, BODY, now).unwrap().key;
        assert_eq!(key, body_key(BODY));
        // Timestamp first is not BambooHR's order.
        let swapped = headers(&[
            ("x-bamboohr-timestamp", ts.clone()),
            ("x-bamboohr-signature", sign(&[ts.as_bytes(), BODY])),
        ]);
        assert_eq!(
            verify(ToolKind::Bamboohr, SECRET, &swapped, BODY, now),
            Err(Rejected::Forged)
        );
        // A signed but old delivery is a replay.
        let old = (now - chrono::Duration::minutes(6)).timestamp().to_string();
        let stale = headers(&[
            ("x-bamboohr-timestamp", old.clone()),
            ("x-bamboohr-signature", sign(&[BODY, old.as_bytes()])),
        ]);
        assert!(
            matches!(verify(ToolKind::Bamboohr, SECRET, &stale, BODY, now), Err(Rejected::Stale(age)) if age >= 360)
        );
        // Changing the timestamp breaks the signature.
        let moved = headers(&[
            ("x-bamboohr-timestamp", now.timestamp().to_string()),
            ("x-bamboohr-signature", sign(&[BODY, old.as_bytes()])),
        ]);
        assert_eq!(
            verify(ToolKind::Bamboohr, SECRET, &moved, BODY, now),
            Err(Rejected::Forged)
        );
        // ISO timestamps as BambooHR's payloads write them.
        let iso = now.format("%Y-%m-%dT%H:%M:%S%z").to_string();
        let iso_headers = headers(&[
            ("x-bamboohr-timestamp", iso.clone()),
            ("x-bamboohr-signature", sign(&[BODY, iso.as_bytes()])),
        ]);
        assert!(verify(ToolKind::Bamboohr, SECRET, &iso_headers, BODY, now).is_ok());
        let missing = headers(&[("x-bamboohr-signature", sign(&[BODY]))]);
        assert_eq!(
            verify(ToolKind::Bamboohr, SECRET, &missing, BODY, now),
            Err(Rejected::Missing("X-BambooHR-Timestamp"))
        );
    }

    #[test]
    fn personio_sends_its_token_verbatim() {
        let now = Utc::now();
        let good = headers(&[("authorization", SECRET.into())]);
        assert_eq!(
            verify(ToolKind::Personio, SECRET, &good, BODY, now).unwrap().key,
            body_key(BODY)
        );
        for wrong in [
            format!("Bearer {SECRET}"),
            format!("{SECRET} "),
            "a webhook secreT".into(),
            String::new(),
        ] {
            let h = headers(&[("authorization", wrong.clone())]);
            assert_eq!(
                verify(ToolKind::Personio, SECRET, &h, BODY, now),
                Err(Rejected::WrongToken("Authorization")),
                "{wrong:?}"
            );
        }
        assert_eq!(
            verify(ToolKind::Personio, SECRET, &HeaderMap::new(), BODY, now),
            Err(Rejected::Missing("Authorization"))
        );
    }

    #[test]
    fn timestamps_in_the_forms_seen() {
        let t = DateTime::from_timestamp(1_769_884_920, 0).unwrap();
        assert_eq!(parse_timestamp("1769884920"), Some(t));
        assert_eq!(parse_timestamp("1769884920000"), Some(t));
        assert_eq!(parse_timestamp("2026-01-31T18:42:00+0000"), Some(t));
        assert_eq!(parse_timestamp("2026-01-31T18:42:00Z"), Some(t));
        assert_eq!(parse_timestamp("yesterday"), None);
        assert_eq!(hex_decode("0aFf"), Some(vec![0x0a, 0xff]));
        assert_eq!(hex_decode("0a0"), None);
    }
}
