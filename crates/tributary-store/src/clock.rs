//! One notion of time for both backends.
//!
//! Postgres keeps microseconds; SQLite keeps whatever text we give it. Truncating every instant
//! to microseconds in Rust before it is written means both backends return identical values,
//! and a timestamp read back compares equal to the one that was written.

use chrono::{DateTime, SubsecRound, Utc};
use tributary_model::Timestamp;

use crate::StoreError;

/// The current instant, truncated to microseconds.
pub(crate) fn now() -> Timestamp {
    truncate(Utc::now())
}

pub(crate) fn truncate(at: Timestamp) -> Timestamp {
    at.trunc_subsecs(6)
}

/// `now + ttl`, for lease expiry.
pub(crate) fn after(at: Timestamp, ttl: std::time::Duration) -> Result<Timestamp, StoreError> {
    chrono::TimeDelta::from_std(ttl)
        .ok()
        .and_then(|d| at.checked_add_signed(d))
        .map(truncate)
        .ok_or_else(|| StoreError::Invalid(format!("lease ttl {ttl:?} is out of range")))
}

/// SQLite's timestamp text: fixed width, six fractional digits, `Z`, so that text order is
/// time order (for years 0000–9999, which is all a mirror will see).
pub(crate) fn to_text(at: Timestamp) -> String {
    truncate(at).format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

pub(crate) fn from_text(text: &str) -> Result<Timestamp, StoreError> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| StoreError::Corrupt(format!("timestamp {text:?}: {e}")))
}

pub(crate) fn opt_from_text(text: Option<String>) -> Result<Option<Timestamp>, StoreError> {
    text.as_deref().map(from_text).transpose()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn text_is_fixed_width_and_round_trips() {
        let at = Utc.with_ymd_and_hms(2024, 5, 1, 0, 0, 0).single().expect("valid date");
        assert_eq!(to_text(at), "2024-05-01T00:00:00.000000Z");
        let precise = Utc::now();
        let text = to_text(precise);
        assert_eq!(text.len(), 27);
        assert_eq!(from_text(&text).expect("parses"), truncate(precise));
    }
}
