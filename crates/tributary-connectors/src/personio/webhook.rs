//! Personio's inbound webhooks (API v2): the webhook's static token, verbatim, in
//! `Authorization` (<https://developer.personio.de/reference/post_v2-webhooks>, `auth_type`
//! `TOKEN`). Personio does not sign bodies, so the token is compared instead.

use chrono::{DateTime, Utc};
use hmac::Mac;
use reqwest::header::HeaderMap;
use serde_json::Value;

use crate::inbound::{Delivery, InboundVerifier, Rejected, body_key, mac};

pub(crate) struct Webhooks;

impl InboundVerifier for Webhooks {
    fn verify(
        &self,
        secret: &str,
        headers: &HeaderMap,
        body: &[u8],
        _now: DateTime<Utc>,
    ) -> Result<Delivery, Rejected> {
        let token = headers
            .get("authorization")
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

    fn event_name<'a>(&self, event: &'a Value) -> Option<&'a str> {
        event.get("event_name").and_then(Value::as_str)
    }
}
