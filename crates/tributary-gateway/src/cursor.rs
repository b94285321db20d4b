//! Pagination cursors: opaque to clients, tamper-proof, and bound to the request that made
//! them.
//!
//! A cursor is `base64url(payload ‖ HMAC-SHA256(key, payload))` where the payload (JSON) names
//! the integration, the model, the last id returned and a fingerprint of the query's filters.
//! Pages are keyset pages over the immutable record id, so a walk returns each row once even
//! while rows change. A cursor presented to another integration, another endpoint or with
//! other filters is refused rather than silently producing a mixed result set.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use tributary_model::Model;

use crate::error::ApiError;

type HmacSha256 = Hmac<Sha256>;

const TAG_LEN: usize = 32;
const VERSION: u8 = 1;
/// Upper bound on what we are willing to decode; real cursors are ~150 bytes.
const MAX_CURSOR_LEN: usize = 1024;

/// Where a page ends, in the context it was issued for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    #[serde(rename = "v")]
    pub version: u8,
    #[serde(rename = "i")]
    pub integration_id: String,
    #[serde(rename = "m")]
    pub model: Model,
    /// The id of the last record of the page; the next page starts after it.
    #[serde(rename = "a")]
    pub after_id: String,
    /// [`crate::list::ListQuery::fingerprint`] of the filters the cursor was issued for.
    #[serde(rename = "f")]
    pub filters: String,
}

impl Cursor {
    pub fn new(integration_id: &str, model: Model, after_id: &str, filters: &str) -> Self {
        Self {
            version: VERSION,
            integration_id: integration_id.to_owned(),
            model,
            after_id: after_id.to_owned(),
            filters: filters.to_owned(),
        }
    }

    pub fn encode(&self, key: &[u8]) -> String {
        let mut bytes = serde_json::to_vec(self).expect("a cursor always serialises");
        let tag = mac(key, &bytes).finalize().into_bytes();
        bytes.extend_from_slice(&tag);
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// Decodes and authenticates `token`, then checks that it belongs to this integration,
    /// model and filter set. Every failure is the caller's input error.
    pub fn decode(
        token: &str,
        key: &[u8],
        integration_id: &str,
        model: Model,
        filters: &str,
    ) -> Result<Self, ApiError> {
        let invalid =
            || ApiError::invalid("The cursor is invalid. Pass the `next` value of the previous page unchanged.");
        if token.len() > MAX_CURSOR_LEN {
            return Err(invalid());
        }
        // Clients may re-pad the token or URL-decode it into the standard alphabet.
        let bytes = URL_SAFE_NO_PAD
            .decode(token.trim_end_matches('='))
            .map_err(|_| invalid())?;
        if bytes.len() <= TAG_LEN {
            return Err(invalid());
        }
        let (payload, tag) = bytes.split_at(bytes.len() - TAG_LEN);
        // `verify_slice` compares in constant time, so the tag cannot be guessed byte by byte.
        mac(key, payload).verify_slice(tag).map_err(|_| invalid())?;
        let cursor: Cursor = serde_json::from_slice(payload).map_err(|_| invalid())?;
        if cursor.version != VERSION {
            return Err(invalid());
        }
        if cursor.integration_id != integration_id || cursor.model != model {
            return Err(ApiError::invalid(
                "The cursor was issued for another integration or endpoint.",
            ));
        }
        if cursor.filters != filters {
            return Err(ApiError::invalid(
                "The cursor was issued for different filters. Repeat the original query parameters with the cursor.",
            ));
        }
        Ok(cursor)
    }
}

fn mac(key: &[u8], payload: &[u8]) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(b"tributary-cursor\0");
    mac.update(payload);
    mac
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";

    #[test]
    fn round_trips_and_rejects_tampering() {
        let cursor = Cursor::new("personio:acme", Model::Employees, "abc", "f1");
        let token = cursor.encode(KEY);
        assert_eq!(
            Cursor::decode(&token, KEY, "personio:acme", Model::Employees, "f1").unwrap(),
            cursor
        );

        // Another key, integration, model or filter set.
        assert!(Cursor::decode(&token, b"other key", "personio:acme", Model::Employees, "f1").is_err());
        assert!(Cursor::decode(&token, KEY, "personio:other", Model::Employees, "f1").is_err());
        assert!(Cursor::decode(&token, KEY, "personio:acme", Model::Employments, "f1").is_err());
        assert!(Cursor::decode(&token, KEY, "personio:acme", Model::Employees, "f2").is_err());

        // A payload edited to skip ahead, with the old tag.
        let mut bytes = URL_SAFE_NO_PAD.decode(&token).unwrap();
        let at = bytes.windows(3).position(|w| w == b"abc").unwrap();
        bytes[at] = b'z';
        let forged = URL_SAFE_NO_PAD.encode(&bytes);
        assert!(Cursor::decode(&forged, KEY, "personio:acme", Model::Employees, "f1").is_err());

        for garbage in ["", "!!!", "eyJwYWdlIjoxMn0", &"A".repeat(5000)] {
            assert!(Cursor::decode(garbage, KEY, "personio:acme", Model::Employees, "f1").is_err());
        }
    }
}
