//! Response shapes transcribed from Kombo's OpenAPI document
//! (`/work/shared/reference/kombo-openapi.json`, `components.schemas.*PositiveResponse`):
//! which keys an object has, in which order, and what a key the mirror lacks becomes. A
//! required key is always present (`null`, or `[]` for a non-nullable array); an optional key
//! appears only when the stored data carries it; keys the schema does not know are dropped,
//! so bookkeeping fields such as `group_ids` never leak.

pub mod hris;

use serde_json::{Map, Value};

use crate::wire::Wire;

/// What a key the source object lacks becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    /// Required and nullable: `null`.
    Null,
    /// Required, non-nullable array: `[]`.
    EmptyArray,
    /// Optional: left out.
    Omit,
}

/// Whether a value has a schema of its own below it.
#[derive(Debug, Clone, Copy)]
pub enum Nested {
    /// Passed through as stored (strings, numbers, free-form objects like `custom_fields`).
    Scalar,
    Object(&'static [Field]),
    ArrayOf(&'static [Field]),
}

#[derive(Debug, Clone, Copy)]
pub struct Field {
    pub name: &'static str,
    pub missing: Missing,
    pub nested: Nested,
}

pub(crate) const fn field(name: &'static str, missing: Missing, nested: Nested) -> Field {
    Field { name, missing, nested }
}

/// Renders `source` through `shape`.
pub fn render(shape: &'static [Field], source: &Map<String, Value>) -> Wire {
    let mut entries = Vec::with_capacity(shape.len());
    for field in shape {
        let value = match (source.get(field.name), field.missing) {
            (Some(value), _) => render_value(field.nested, value),
            (None, Missing::Null) => Wire::Value(Value::Null),
            (None, Missing::EmptyArray) => Wire::Array(Vec::new()),
            (None, Missing::Omit) => continue,
        };
        entries.push((field.name, value));
    }
    Wire::Object(entries)
}

fn render_value(nested: Nested, value: &Value) -> Wire {
    match (nested, value) {
        (Nested::Object(shape), Value::Object(object)) => render(shape, object),
        (Nested::ArrayOf(shape), Value::Array(items)) => Wire::Array(
            items
                .iter()
                .map(|item| match item {
                    Value::Object(object) => render(shape, object),
                    other => Wire::Value(other.clone()),
                })
                .collect(),
        ),
        // A stored value of an unexpected type (a connector bug) is passed through rather than
        // dropped, so the discrepancy is visible to the consumer instead of silently hidden.
        (_, other) => Wire::Value(other.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const INNER: &[Field] = &[
        field("b", Missing::Null, Nested::Scalar),
        field("a", Missing::Omit, Nested::Scalar),
    ];
    const OUTER: &[Field] = &[
        field("z", Missing::Null, Nested::Scalar),
        field("list", Missing::EmptyArray, Nested::ArrayOf(INNER)),
        field("opt", Missing::Omit, Nested::Scalar),
        field("obj", Missing::Null, Nested::Object(INNER)),
    ];

    #[test]
    fn follows_the_schema_order_and_missing_rules() {
        let source = json!({"obj": {"a": 1, "extra": 2}, "unknown": true, "list": [{"a": 3}]});
        let out = serde_json::to_string(&render(OUTER, source.as_object().unwrap())).unwrap();
        assert_eq!(out, r#"{"z":null,"list":[{"b":null,"a":3}],"obj":{"b":null,"a":1}}"#);
        let out = serde_json::to_string(&render(OUTER, &Map::new())).unwrap();
        assert_eq!(out, r#"{"z":null,"list":[],"obj":null}"#);
    }
}
