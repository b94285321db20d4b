//! Greenhouse's inbound webhooks: `Signature: sha256 <hex HMAC-SHA256 of the raw body>`
//! (<https://developers.greenhouse.io/webhooks.html>, "Authentication").

use chrono::{DateTime, Utc};
use hmac::Mac;
use reqwest::header::HeaderMap;
use serde_json::Value;

use crate::inbound::{Delivery, InboundVerifier, Rejected, body_key, header, hex_decode, mac};

pub(crate) struct Webhooks;

impl InboundVerifier for Webhooks {
    fn verify(
        &self,
        secret: &str,
        headers: &HeaderMap,
        body: &[u8],
        _now: DateTime<Utc>,
    ) -> Result<Delivery, Rejected> {
        let value = header(headers, "signature", "Signature")?;
        let (algorithm, digest) = value.split_once(' ').ok_or(Rejected::Malformed("Signature"))?;
        if !algorithm.eq_ignore_ascii_case("sha256") {
            return Err(Rejected::Malformed("Signature"));
        }
        let digest = hex_decode(digest.trim()).ok_or(Rejected::Malformed("Signature"))?;
        mac(secret, &[body])
            .verify_slice(&digest)
            .map_err(|_| Rejected::Forged)?;
        // Keyed by what the signature covers. `Greenhouse-Event-ID` is not signed: anyone
        // holding one signed delivery could replay it under fresh ids, and each would count as
        // new. Greenhouse sends no timestamp to bound a replay by, and its payloads carry the
        // objects' own `updated_at`, so two real events differ.
        Ok(Delivery { key: body_key(body) })
    }

    fn event_name<'a>(&self, event: &'a Value) -> Option<&'a str> {
        event.get("action").and_then(Value::as_str)
    }

    /// Greenhouse pings a web hook when it is saved; a signed ping proves the set-up.
    fn is_ping(&self, event: &Value) -> bool {
        self.event_name(event) == Some("ping")
    }
}
