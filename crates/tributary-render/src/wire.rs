//! How values look on the wire: Kombo's timestamp format and objects whose keys come out in the
//! order the OpenAPI schema lists them.
//!
//! The workspace keeps serde_json's `Map` a `BTreeMap` (sorted keys) on purpose: the content
//! hash in `tributary_model::content_hash` relies on that canonical order, so enabling
//! `preserve_order` here would silently change every record's hash. Responses are therefore
//! built as [`Wire`] trees, which serialize their keys in the order they were pushed.

use std::sync::Arc;

use chrono::SecondsFormat;
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use serde_json::Value;
use tributary_model::Timestamp;
use tributary_store::RawJson;

/// `2024-05-01T00:00:00.000Z`: milliseconds and `Z`, as Kombo's `Date.toISOString()` writes.
pub fn timestamp(at: &Timestamp) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

pub fn optional_timestamp(at: Option<&Timestamp>) -> Value {
    at.map_or(Value::Null, |at| Value::String(timestamp(at)))
}

/// What a JSON value is, for messages that must not repeat it (it may hold credentials).
pub fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A JSON value whose objects keep their key order.
#[derive(Debug, Clone, PartialEq)]
pub enum Wire {
    Value(Value),
    Object(Vec<(&'static str, Wire)>),
    Array(Vec<Wire>),
    /// One rendering shown in several places (a manager nested in each of their reports).
    Shared(Arc<Wire>),
    /// JSON text written out as it is (a record's `remote_data`).
    Raw(RawJson),
}

impl Serialize for Wire {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Wire::Value(value) => value.serialize(serializer),
            Wire::Object(entries) => {
                let mut map = serializer.serialize_map(Some(entries.len()))?;
                for (key, value) in entries {
                    map.serialize_entry(key, value)?;
                }
                map.end()
            }
            Wire::Array(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Wire::Shared(wire) => wire.serialize(serializer),
            Wire::Raw(raw) => raw.serialize(serializer),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use serde_json::json;

    #[test]
    fn timestamps_have_milliseconds_and_z() {
        let at = chrono::Utc.with_ymd_and_hms(2024, 5, 1, 0, 0, 0).unwrap();
        assert_eq!(timestamp(&at), "2024-05-01T00:00:00.000Z");
        let at = at + chrono::Duration::microseconds(123_456);
        assert_eq!(timestamp(&at), "2024-05-01T00:00:00.123Z");
    }

    #[test]
    fn objects_keep_insertion_order() {
        let wire = Wire::Object(vec![
            ("zeta", Wire::Value(json!(1))),
            ("alpha", Wire::Array(vec![Wire::Value(json!(null))])),
            (
                "raw",
                Wire::Raw(RawJson::from_text(r#"{"b": [2, 1], "a": "x"}"#).unwrap()),
            ),
        ]);
        assert_eq!(
            serde_json::to_string(&wire).unwrap(),
            r#"{"zeta":1,"alpha":[null],"raw":{"b":[2,1],"a":"x"}}"#
        );
    }
}
