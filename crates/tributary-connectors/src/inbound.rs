//! Inbound webhooks: how each tool proves a delivery is its own, and what names the event.
//! The gateway's route does the generic parts (finding the integration and its secret, the
//! budget of refusals, remembering deliveries, queueing the sync); each tool's verifier, in
//! the tool's module (`webhook.rs`), checks the proof as the tool documents it:
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

use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, Utc};
use hmac::{Hmac, KeyInit, Mac};
use reqwest::header::HeaderMap;
use serde_json::Value;
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

/// Deliveries older (or further in the future) than this are refused as replays, where the
/// tool signs a timestamp (BambooHR).
pub const MAX_AGE: Duration = Duration::from_secs(5 * 60);

/// One tool's inbound webhooks.
pub trait InboundVerifier: Send + Sync {
    /// Checks a delivery the way the tool proves it, with the integration's `secret`, at `now`.
    fn verify(&self, secret: &str, headers: &HeaderMap, body: &[u8], now: DateTime<Utc>) -> Result<Delivery, Rejected>;

    /// The event's name in the tool's payload, for the log.
    fn event_name<'a>(&self, event: &'a Value) -> Option<&'a str>;

    /// A delivery that only proves the set-up (Greenhouse pings a web hook when it is saved)
    /// and asks for nothing to be synced.
    fn is_ping(&self, event: &Value) -> bool {
        let _ = event;
        false
    }
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

/// The header `name` (lower case, as HTTP/2 and the `http` crate spell it), refused under its
/// `display` name.
pub(crate) fn header<'a>(
    headers: &'a HeaderMap,
    name: &'static str,
    display: &'static str,
) -> Result<&'a str, Rejected> {
    let value = headers.get(name).ok_or(Rejected::Missing(display))?;
    value.to_str().map_err(|_| Rejected::Malformed(display))
}

pub(crate) fn mac(secret: &str, parts: &[&[u8]]) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes()).expect("HMAC accepts keys of any length");
    for part in parts {
        mac.update(part);
    }
    mac
}

/// `sha256:<hex>` of the body, for tools that send no (signed) delivery id.
pub(crate) fn body_key(body: &[u8]) -> String {
    format!("sha256:{}", hex_encode(&Sha256::digest(body)))
}

/// Unix seconds (milliseconds when it has 13 digits or more), or an RFC 3339 / ISO 8601 time
/// with an offset (BambooHR's payloads write `2026-01-31T18:42:00+0000`).
pub(crate) fn parse_timestamp(text: &str) -> Option<DateTime<Utc>> {
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

pub(crate) fn hex_encode(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub(crate) fn hex_decode(text: &str) -> Option<Vec<u8>> {
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
    use reqwest::header::HeaderValue;
    use tributary_model::ToolKind;

    fn verify(
        tool: ToolKind,
        secret: &str,
        headers: &HeaderMap,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Result<Delivery, Rejected> {
        crate::inbound_verifier(tool).verify(secret, headers, body, now)
    }

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

    #[test]
    fn event_names_and_pings() {
        let greenhouse = crate::inbound_verifier(ToolKind::Greenhouse);
        let ping = serde_json::json!({"action": "ping"});
        assert!(greenhouse.is_ping(&ping));
        assert!(!greenhouse.is_ping(&serde_json::json!({"action": "candidate_hired"})));
        assert_eq!(greenhouse.event_name(&ping), Some("ping"));
        // Only Greenhouse pings; another tool's event named so is an event.
        let bamboohr = crate::inbound_verifier(ToolKind::Bamboohr);
        assert!(!bamboohr.is_ping(&serde_json::json!({"type": "ping"})));
        assert_eq!(
            bamboohr.event_name(&serde_json::json!({"type": "employee.updated"})),
            Some("employee.updated")
        );
        let personio = crate::inbound_verifier(ToolKind::Personio);
        assert!(!personio.is_ping(&serde_json::json!({"action": "ping"})));
        assert_eq!(
            personio.event_name(&serde_json::json!({"event_name": "person.updated"})),
            Some("person.updated")
        );
    }
}
