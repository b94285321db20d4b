//! JSON handed back as text, never parsed into a tree.
//!
//! A record's `remote_data` (the tool's own payload) is only ever passed through to callers
//! of the read API, and it is about half of a response's bytes. Building a `serde_json::Value`
//! tree of it on every read and serializing the tree back was the read path's largest cost,
//! so reads keep it as the validated JSON text the database returned.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;

/// Valid JSON text, serialized as-is (as JSON, not as a string) by `serde_json`.
#[derive(Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RawJson(Box<RawValue>);

impl RawJson {
    /// `text` without the whitespace between tokens (Postgres writes `jsonb` with a space
    /// after every `:` and `,`), checked to be one JSON value.
    pub fn from_text(text: &str) -> Result<Self, serde_json::Error> {
        RawValue::from_string(compact(text)).map(Self)
    }

    /// The JSON text.
    pub fn get(&self) -> &str {
        self.0.get()
    }

    /// Whether the text is JSON `null`.
    pub fn is_null(&self) -> bool {
        self.get() == "null"
    }

    /// The parsed value, for callers that look inside.
    pub fn to_value(&self) -> Result<Value, serde_json::Error> {
        serde_json::from_str(self.get())
    }
}

impl From<&Value> for RawJson {
    fn from(value: &Value) -> Self {
        // A `Value` always serializes (its keys are strings).
        Self(serde_json::value::to_raw_value(value).expect("a JSON value serializes"))
    }
}

impl From<Value> for RawJson {
    fn from(value: Value) -> Self {
        Self::from(&value)
    }
}

/// Equal when the JSON values are: Postgres `jsonb` reorders keys and respaces the text.
impl PartialEq for RawJson {
    fn eq(&self, other: &Self) -> bool {
        self.get() == other.get() || matches!((self.to_value(), other.to_value()), (Ok(a), Ok(b)) if a == b)
    }
}

impl PartialEq<Value> for RawJson {
    fn eq(&self, other: &Value) -> bool {
        self.to_value().is_ok_and(|value| value == *other)
    }
}

impl fmt::Debug for RawJson {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.get())
    }
}

/// `text` with whitespace outside strings removed. Only whitespace is dropped, so valid JSON
/// stays valid and means the same; invalid JSON is left for the caller's check to reject.
/// Strings, most of the bytes, are copied whole.
fn compact(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while let Some(&byte) = bytes.get(at) {
        match byte {
            b'"' => {
                let end = string_end(bytes, at + 1);
                out.extend_from_slice(&bytes[at..end]);
                at = end;
            }
            b' ' | b'\n' | b'\r' | b'\t' => at += 1,
            _ => {
                out.push(byte);
                at += 1;
            }
        }
    }
    // Whole strings and single ASCII bytes were copied, never part of a character.
    String::from_utf8(out).unwrap_or_else(|_| text.to_owned())
}

/// Where the string whose contents start at `from` ends: just past its closing quote (or the
/// end of the text, for an unterminated one).
fn string_end(bytes: &[u8], mut from: usize) -> usize {
    while let Some(found) = bytes.get(from..).and_then(|rest| memchr::memchr2(b'"', b'\\', rest)) {
        if bytes[from + found] == b'"' {
            return from + found + 1;
        }
        // An escape: skip the escaped character (`\"` does not end the string).
        from += found + 2;
    }
    bytes.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn compacts_jsonb_text_but_not_strings() {
        let raw = RawJson::from_text(r#"{"a": [1, 2], "b c": "x, y: \" z", "é": {"d": null}}"#).unwrap();
        assert_eq!(raw.get(), r#"{"a":[1,2],"b c":"x, y: \" z","é":{"d":null}}"#);
        assert_eq!(raw, json!({"a": [1, 2], "b c": "x, y: \" z", "é": {"d": null}}));
        assert!(RawJson::from_text("{\"a\": }").is_err());
        assert!(RawJson::from_text(" null ").unwrap().is_null());
        // A string ending in an escaped backslash ends at the next quote.
        assert_eq!(
            RawJson::from_text(r#"[ "a\\", "\\ " , 1 ]"#).unwrap().get(),
            r#"["a\\","\\ ",1]"#
        );
        assert!(RawJson::from_text(r#"{"a": "x\\"#).is_err());
    }

    #[test]
    fn serializes_as_json_and_compares_as_values() {
        let raw = RawJson::from(json!({"b": 1, "a": [true]}));
        let other = RawJson::from_text(r#"{"a": [true], "b": 1}"#).unwrap();
        assert_eq!(raw, other);
        assert_ne!(raw, RawJson::from(json!({"b": 2})));
        assert_eq!(
            serde_json::to_string(&json!({"x": raw})).unwrap(),
            r#"{"x":{"a":[true],"b":1}}"#
        );
        let back: RawJson = serde_json::from_str(r#"{"a": [true], "b": 1}"#).unwrap();
        assert_eq!(back, other);
    }
}
