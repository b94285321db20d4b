//! BambooHR's inbound webhooks: `X-BambooHR-Signature`, the hex HMAC-SHA256 of the raw body
//! followed by the `X-BambooHR-Timestamp` value, which must be recent
//! (<https://documentation.bamboohr.com/docs/webhooks>, "Security").

use chrono::{DateTime, Utc};
use hmac::Mac;
use reqwest::header::HeaderMap;
use serde_json::Value;

use crate::inbound::{
    Delivery, InboundVerifier, MAX_AGE, Rejected, body_key, header, hex_decode, mac, parse_timestamp,
};

pub(crate) struct Webhooks;

impl InboundVerifier for Webhooks {
    fn verify(&self, secret: &str, headers: &HeaderMap, body: &[u8], now: DateTime<Utc>) -> Result<Delivery, Rejected> {
        let signature = header(headers, "x-bamboohr-signature", "X-BambooHR-Signature")?;
        let timestamp = header(headers, "x-bamboohr-timestamp", "X-BambooHR-Timestamp")?;
        let digest = hex_decode(signature.trim()).ok_or(Rejected::Malformed("X-BambooHR-Signature"))?;
        mac(secret, &[body, timestamp.as_bytes()])
            .verify_slice(&digest)
            .map_err(|_| Rejected::Forged)?;
        // Judged only once the signature holds: the timestamp is signed, so it is the sender's
        // and not an attacker's.
        let sent = parse_timestamp(timestamp).ok_or(Rejected::Malformed("X-BambooHR-Timestamp"))?;
        let age = (now - sent).num_seconds();
        if age.unsigned_abs() > MAX_AGE.as_secs() {
            return Err(Rejected::Stale(age));
        }
        Ok(Delivery { key: body_key(body) })
    }

    fn event_name<'a>(&self, event: &'a Value) -> Option<&'a str> {
        event.get("type").and_then(Value::as_str)
    }
}
