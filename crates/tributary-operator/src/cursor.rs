//! The operator API's pagination cursors: opaque to callers, `base64url(JSON)` naming the list
//! they belong to, where the previous page ended and a fingerprint of the filters it was issued
//! under, so a cursor replayed with other filters is refused instead of mixing two result sets.
//! No MAC (unlike the read API's): only admin-token holders see or send them, and a forged one
//! can only name a place in a list they may read whole anyway.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tributary_model::Timestamp;
use tributary_store::PageKey;

use crate::error::OpsError;

const MAX_LEN: usize = 1024;

/// Where a page of one list ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Payload {
    /// The list: `runs`, `api-keys`, `health`.
    #[serde(rename = "l")]
    list: String,
    /// The filters' fingerprint.
    #[serde(rename = "f")]
    filters: String,
    /// The last row's creation time (keyset on `(created_at, id)`); absent for id-only lists.
    #[serde(rename = "t", default, skip_serializing_if = "Option::is_none")]
    created_at: Option<Timestamp>,
    #[serde(rename = "a")]
    after_id: String,
}

/// A short, stable digest of the filters a cursor is bound to (the canonical query text).
pub fn fingerprint(filters: &str) -> String {
    let digest = Sha256::digest(filters.as_bytes());
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

pub fn encode(list: &str, filters: &str, created_at: Option<Timestamp>, after_id: &str) -> String {
    let payload = Payload {
        list: list.to_owned(),
        filters: fingerprint(filters),
        created_at,
        after_id: after_id.to_owned(),
    };
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(&payload).expect("a cursor always serialises"))
}

fn decode(list: &str, filters: &str, text: &str) -> Result<Payload, OpsError> {
    let invalid = || OpsError::invalid("`cursor` is not a cursor this list issued; start again without it.");
    if text.len() > MAX_LEN {
        return Err(invalid());
    }
    let bytes = URL_SAFE_NO_PAD.decode(text.trim()).map_err(|_| invalid())?;
    let payload: Payload = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
    if payload.list != list {
        return Err(invalid());
    }
    if payload.filters != fingerprint(filters) {
        return Err(OpsError::invalid(
            "`cursor` was issued for other filters; repeat the filters of the first page, or start again without it.",
        ));
    }
    Ok(payload)
}

/// A keyset cursor over `(created_at, id)`.
pub fn decode_key(list: &str, filters: &str, text: &str) -> Result<PageKey, OpsError> {
    let payload = decode(list, filters, text)?;
    let created_at = payload
        .created_at
        .ok_or_else(|| OpsError::invalid("`cursor` is not a cursor this list issued; start again without it."))?;
    Ok(PageKey {
        created_at,
        id: payload.after_id,
    })
}

/// A keyset cursor over ids alone.
pub fn decode_id(list: &str, filters: &str, text: &str) -> Result<String, OpsError> {
    Ok(decode(list, filters, text)?.after_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_refusals() {
        let at = chrono::Utc::now();
        let text = encode("runs", "state=FAILED", Some(at), "run-1");
        let key = decode_key("runs", "state=FAILED", &text).unwrap();
        assert_eq!((key.created_at, key.id.as_str()), (at, "run-1"));
        assert!(decode_key("runs", "state=QUEUED", &text).is_err(), "other filters");
        assert!(decode_key("api-keys", "state=FAILED", &text).is_err(), "another list");
        assert!(decode_key("runs", "state=FAILED", "not base64!").is_err());
        assert!(decode_key("runs", "state=FAILED", &URL_SAFE_NO_PAD.encode(b"[]")).is_err());
        let ids = encode("health", "", None, "personio:acme");
        assert_eq!(decode_id("health", "", &ids).unwrap(), "personio:acme");
        assert!(decode_key("health", "", &ids).is_err(), "an id cursor has no time");
    }
}
