//! Signing outbound deliveries, and verifying them (for receivers and our tests).
//!
//! Two signatures travel with every delivery, both HMAC-SHA256 with the endpoint's secret and
//! both encoded base64url without `=` padding:
//!
//! - `X-Kombo-Signature`: over the raw request body, exactly as Kombo signs its webhooks
//!   (<https://docs.kombo.dev/webhooks>, "Validate the data"), so receivers written for Kombo
//!   verify ours unchanged. It is the same on every attempt of an event.
//! - `X-Tributary-Signature: t=<unix seconds>,v1=<signature>`: over `"<t>.<body>"`. Binding
//!   the send time into the MAC lets a receiver reject a captured delivery replayed later:
//!   accept only if `|now - t|` is within a tolerance (we suggest 5 minutes), then dedupe on
//!   `X-Tributary-Event-Id` within that window. `t` is also sent alone as
//!   `X-Tributary-Timestamp`. Each attempt is signed afresh with its own `t`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use reqwest::header::HeaderMap;
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

pub const KOMBO_SIGNATURE: &str = "x-kombo-signature";
pub const TRIBUTARY_SIGNATURE: &str = "x-tributary-signature";
pub const TRIBUTARY_TIMESTAMP: &str = "x-tributary-timestamp";
pub const TRIBUTARY_EVENT_ID: &str = "x-tributary-event-id";
pub const TRIBUTARY_DELIVERY_ID: &str = "x-tributary-delivery-id";
pub const TRIBUTARY_ATTEMPT: &str = "x-tributary-attempt";

/// How stale a delivery [`verify_headers`] accepts by default.
pub const DEFAULT_TOLERANCE_SECS: i64 = 300;

/// The signature headers of one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signatures {
    /// `X-Kombo-Signature`.
    pub kombo: String,
    /// `X-Tributary-Timestamp`.
    pub timestamp: i64,
    /// `X-Tributary-Signature`: `t=<timestamp>,v1=<mac>`.
    pub tributary: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("the {0} header is missing or not text")]
    MissingHeader(&'static str),
    #[error("the X-Tributary-Signature header is not `t=<unix seconds>,v1=<signature>`")]
    Malformed,
    #[error("X-Tributary-Timestamp does not match the signed timestamp")]
    TimestampMismatch,
    #[error("the delivery was signed {age_secs} s from now, outside the tolerance")]
    Stale { age_secs: i64 },
    #[error("the signature does not match")]
    Mismatch,
}

fn mac(secret: &[u8]) -> HmacSha256 {
    HmacSha256::new_from_slice(secret).expect("HMAC accepts keys of any length")
}

fn encode(mac: HmacSha256) -> String {
    URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

/// Kombo's `X-Kombo-Signature`: base64url (no padding) of HMAC-SHA256(secret, body).
pub fn kombo_signature(secret: &str, body: &[u8]) -> String {
    let mut m = mac(secret.as_bytes());
    m.update(body);
    encode(m)
}

/// The `v1` value of `X-Tributary-Signature`: base64url (no padding) of
/// HMAC-SHA256(secret, `"<timestamp>.<body>"`).
pub fn timestamped_signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    encode(timestamped_mac(secret, timestamp, body))
}

fn timestamped_mac(secret: &str, timestamp: i64, body: &[u8]) -> HmacSha256 {
    let mut m = mac(secret.as_bytes());
    m.update(timestamp.to_string().as_bytes());
    m.update(b".");
    m.update(body);
    m
}

/// Both signatures of a body sent at `timestamp` (unix seconds).
pub fn sign(secret: &str, body: &[u8], timestamp: i64) -> Signatures {
    Signatures {
        kombo: kombo_signature(secret, body),
        timestamp,
        tributary: format!("t={timestamp},v1={}", timestamped_signature(secret, timestamp, body)),
    }
}

/// Checks an `X-Kombo-Signature` value in constant time.
pub fn verify_kombo_signature(secret: &str, body: &[u8], header: &str) -> Result<(), VerifyError> {
    let Ok(expected) = URL_SAFE_NO_PAD.decode(header.trim()) else {
        return Err(VerifyError::Mismatch);
    };
    let mut m = mac(secret.as_bytes());
    m.update(body);
    m.verify_slice(&expected).map_err(|_| VerifyError::Mismatch)
}

/// Checks an `X-Tributary-Signature` value (`t=<ts>,v1=<sig>`; several `v1` entries are
/// accepted, any one matching) against the body, and that `t` lies within `tolerance_secs`
/// of `now` (unix seconds). Returns `t`.
pub fn verify_timestamped_signature(
    secret: &str,
    body: &[u8],
    header: &str,
    now: i64,
    tolerance_secs: i64,
) -> Result<i64, VerifyError> {
    let mut timestamp = None;
    let mut candidates = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => timestamp = Some(v.parse::<i64>().map_err(|_| VerifyError::Malformed)?),
            Some(("v1", v)) => candidates.push(v),
            // Unknown schemes are skipped so a later `v2` does not break old receivers.
            Some(_) => {}
            None => return Err(VerifyError::Malformed),
        }
    }
    let timestamp = timestamp.ok_or(VerifyError::Malformed)?;
    if candidates.is_empty() {
        return Err(VerifyError::Malformed);
    }
    // The MAC is checked before the age, so a forged header learns nothing about the window.
    let matches = candidates.iter().any(|c| match URL_SAFE_NO_PAD.decode(c) {
        Ok(expected) => timestamped_mac(secret, timestamp, body).verify_slice(&expected).is_ok(),
        Err(_) => false,
    });
    if !matches {
        return Err(VerifyError::Mismatch);
    }
    let age_secs = now - timestamp;
    if age_secs.abs() > tolerance_secs {
        return Err(VerifyError::Stale { age_secs });
    }
    Ok(timestamp)
}

fn header<'a>(headers: &'a HeaderMap, name: &'static str) -> Result<&'a str, VerifyError> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .ok_or(VerifyError::MissingHeader(name))
}

/// What a receiver runs on a delivery: both signatures must verify, the timestamped one within
/// `tolerance_secs` of `now`, and `X-Tributary-Timestamp` must equal its `t`. Returns `t`.
pub fn verify_headers(
    secret: &str,
    headers: &HeaderMap,
    body: &[u8],
    now: i64,
    tolerance_secs: i64,
) -> Result<i64, VerifyError> {
    verify_kombo_signature(secret, body, header(headers, KOMBO_SIGNATURE)?)?;
    let t = verify_timestamped_signature(secret, body, header(headers, TRIBUTARY_SIGNATURE)?, now, tolerance_secs)?;
    if header(headers, TRIBUTARY_TIMESTAMP)?.trim().parse::<i64>() != Ok(t) {
        return Err(VerifyError::TimestampMismatch);
    }
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_test_secret";
    const BODY: &[u8] = br#"{"id":"5gjAtURLPbnTiwgkaBfiA3WJ","type":"sync-finished","data":{}}"#;

    #[test]
    fn rfc4231_vector_in_base64url_without_padding() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?", whose HMAC-SHA256
        // is 5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843.
        let sig = kombo_signature("Jefe", b"what do ya want for nothing?");
        assert_eq!(sig, "W9zBRr9gdU5qBCQmCJV1x1oAPwidJzmDnexYuWTsOEM");
        assert!(!sig.contains('=') && !sig.contains('+') && !sig.contains('/'));
    }

    #[test]
    fn fixed_vectors() {
        // Computed independently: printf '%s' "$BODY" | openssl dgst -sha256 -hmac "$SECRET" -binary
        // | basenc --base64url | tr -d '='
        let s = sign(SECRET, BODY, 1_764_000_000);
        assert_eq!(s.kombo, "aLxivfSBLmtLq32gHuU2NRnkyu1iponcDdt2ZcJJqJo");
        assert_eq!(s.timestamp, 1_764_000_000);
        assert_eq!(
            s.tributary,
            "t=1764000000,v1=s0wnClHGUd_P9c4t3f1HjnNVRAP5m0knP9it72cYuj8"
        );
    }

    fn headers(s: &Signatures) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(KOMBO_SIGNATURE, s.kombo.parse().unwrap());
        h.insert(TRIBUTARY_SIGNATURE, s.tributary.parse().unwrap());
        h.insert(TRIBUTARY_TIMESTAMP, s.timestamp.to_string().parse().unwrap());
        h
    }

    #[test]
    fn verifies_what_it_signs() {
        let s = sign(SECRET, BODY, 1_000);
        assert_eq!(verify_headers(SECRET, &headers(&s), BODY, 1_100, 300), Ok(1_000));
    }

    #[test]
    fn rejects_tampering_wrong_secret_and_staleness() {
        let s = sign(SECRET, BODY, 1_000);
        let h = headers(&s);
        assert_eq!(
            verify_headers(SECRET, &h, b"{}", 1_000, 300),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(
            verify_headers("other", &h, BODY, 1_000, 300),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(
            verify_headers(SECRET, &h, BODY, 1_301, 300),
            Err(VerifyError::Stale { age_secs: 301 })
        );
        assert_eq!(
            verify_headers(SECRET, &h, BODY, 699, 300),
            Err(VerifyError::Stale { age_secs: -301 })
        );
    }

    #[test]
    fn a_replayed_signature_with_a_fresh_timestamp_fails() {
        // An attacker who rewrites `t` to pass the age check breaks the MAC.
        let s = sign(SECRET, BODY, 1_000);
        let v1 = s.tributary.split_once(",v1=").unwrap().1;
        let forged = format!("t=5000,v1={v1}");
        assert_eq!(
            verify_timestamped_signature(SECRET, BODY, &forged, 5_000, 300),
            Err(VerifyError::Mismatch)
        );
        let mut h = headers(&s);
        h.insert(TRIBUTARY_TIMESTAMP, "5000".parse().unwrap());
        assert_eq!(
            verify_headers(SECRET, &h, BODY, 1_000, 300),
            Err(VerifyError::TimestampMismatch)
        );
    }

    #[test]
    fn malformed_and_missing_headers() {
        for bad in ["", "t=1", "v1=abc", "t=x,v1=abc", "garbage"] {
            assert_eq!(
                verify_timestamped_signature(SECRET, BODY, bad, 1, 300),
                Err(VerifyError::Malformed),
                "{bad:?}"
            );
        }
        assert_eq!(
            verify_headers(SECRET, &HeaderMap::new(), BODY, 1, 300),
            Err(VerifyError::MissingHeader(KOMBO_SIGNATURE))
        );
        assert_eq!(verify_kombo_signature(SECRET, BODY, "!!"), Err(VerifyError::Mismatch));
    }

    #[test]
    fn any_of_several_v1_entries_may_match() {
        let s = sign(SECRET, BODY, 1_000);
        let v1 = s.tributary.split_once(",v1=").unwrap().1;
        let header = format!("t=1000,v1=AAAA,v2=future,v1={v1}");
        assert_eq!(
            verify_timestamped_signature(SECRET, BODY, &header, 1_000, 300),
            Ok(1_000)
        );
    }
}
