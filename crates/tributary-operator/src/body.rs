//! JSON object bodies read field by field, so that every mistake names the field to fix: an
//! unknown key, a missing one, or a value of the wrong type. Messages say what type a value
//! had, never the value itself: a body may carry credentials.

use serde_json::{Map, Value};

use crate::error::OpsError;

/// A body that parsed as a JSON object and holds no key outside `known`.
#[derive(Debug)]
pub struct ObjectBody {
    fields: Map<String, Value>,
}

impl ObjectBody {
    /// Reads the body as JSON whatever its Content-Type says, so `curl -d` works. `example`
    /// shows the expected shape in the error message.
    pub fn parse(body: &[u8], known: &[&str], example: &str) -> Result<Self, OpsError> {
        let invalid =
            |detail: String| OpsError::invalid(format!("The body must be a JSON object like {example}: {detail}."));
        if body.iter().all(u8::is_ascii_whitespace) {
            return Err(invalid("the body is empty".into()));
        }
        let value: Value = serde_json::from_slice(body).map_err(|e| invalid(e.to_string()))?;
        let Value::Object(fields) = value else {
            return Err(invalid(format!("got {}", kind(&value))));
        };
        if let Some(unknown) = fields.keys().find(|k| !known.contains(&k.as_str())) {
            return Err(OpsError::invalid(format!(
                "Unknown field `{unknown}`; the body takes {}.",
                fields_list(known)
            )));
        }
        Ok(Self { fields })
    }

    /// A field that must be present and not `null`.
    pub fn required(&mut self, key: &str) -> Result<Value, OpsError> {
        self.optional(key)
            .ok_or_else(|| OpsError::invalid(format!("The field `{key}` is required.")))
    }

    /// A field that may be absent; `null` counts as absent.
    pub fn optional(&mut self, key: &str) -> Option<Value> {
        self.fields.remove(key).filter(|v| !v.is_null())
    }

    /// A required string field.
    pub fn string(&mut self, key: &str) -> Result<String, OpsError> {
        match self.required(key)? {
            Value::String(text) => Ok(text),
            other => Err(OpsError::invalid(format!(
                "The field `{key}` must be a string, got {}.",
                kind(&other)
            ))),
        }
    }
}

pub use tributary_gateway::json_kind as kind;

fn fields_list(known: &[&str]) -> String {
    known.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(body: &str) -> Result<ObjectBody, OpsError> {
        ObjectBody::parse(body.as_bytes(), &["name", "extra"], r#"{"name": "x"}"#)
    }

    fn message(e: OpsError) -> String {
        match e {
            OpsError::InvalidInput(m) => m,
            other => panic!("not an input error: {other:?}"),
        }
    }

    #[test]
    fn refuses_what_is_not_a_known_object() {
        for (body, says) in [
            ("", "empty"),
            ("{", "EOF"),
            ("[1]", "got an array"),
            (r#""secret""#, "got a string"),
            (
                r#"{"nmae": "x"}"#,
                "Unknown field `nmae`; the body takes `name`, `extra`",
            ),
        ] {
            let got = message(parse(body).unwrap_err());
            assert!(got.contains(says), "{body}: {got}");
        }
    }

    #[test]
    fn names_the_field_and_never_echoes_values() {
        let mut body = parse(r#"{"name": 5, "extra": null}"#).unwrap();
        let got = message(body.string("name").unwrap_err());
        assert_eq!(got, "The field `name` must be a string, got a number.");
        assert!(body.optional("extra").is_none(), "null is absent");
        let got = message(parse(r#"{"extra": 1}"#).unwrap().string("name").unwrap_err());
        assert_eq!(got, "The field `name` is required.");
        let got = message(parse(r#"{"name": ["hunter2"]}"#).unwrap().string("name").unwrap_err());
        assert!(!got.contains("hunter2"), "{got}");
        assert_eq!(parse(r#"{"name": "x"}"#).unwrap().string("name").unwrap(), "x");
    }
}
