//! Response shapes, compiled from Kombo's OpenAPI document (`openapi/kombo-openapi.json`,
//! vendored): which keys an object has, in which order, and what a key the mirror lacks
//! becomes. Reading them from the contract itself, rather than transcribing 17 models by hand,
//! means a field the SDK's models require cannot be forgotten.
//!
//! A required key is always present (`null`, or `[]` for a non-nullable array); an optional
//! key appears only when the stored data carries a value it allows; keys the schema does not
//! know are dropped, so bookkeeping fields such as `group_ids` never leak.

mod compile;

use std::collections::HashMap;
use std::sync::LazyLock;

use serde_json::{Map, Value};
use tributary_model::Model;

use crate::openapi;
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
#[derive(Debug, Clone, PartialEq)]
pub enum Nested {
    /// Passed through as stored (strings, numbers, enums, free-form objects like
    /// `custom_fields`).
    Scalar,
    Object(Shape),
    ArrayOf(Shape),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub name: String,
    pub missing: Missing,
    /// The schema allows `null`.
    pub nullable: bool,
    pub nested: Nested,
}

/// An object's keys in schema order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Shape {
    pub fields: Vec<Field>,
}

impl Shape {
    #[cfg(test)]
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name == name)
    }
}

/// The item shape of every list endpoint we serve, compiled once.
static SHAPES: LazyLock<HashMap<Model, Shape>> = LazyLock::new(|| {
    Model::ALL
        .iter()
        .map(|&model| {
            let shape = compile::list_item_shape(openapi::kombo(), model.api_path())
                .unwrap_or_else(|e| panic!("the vendored OpenAPI document lacks {}: {e}", model.api_path()));
            (model, shape)
        })
        .collect()
});

/// The shape of one result of `GET /v1<model.api_path()>`.
pub fn shape(model: Model) -> &'static Shape {
    &SHAPES[&model]
}

/// Renders `source` through `shape`, moving values out of it (no copies of large values such
/// as `remote_data`). `rendered` holds keys whose values were rendered already (nested records
/// loaded by joins); they win over `source`.
pub fn render(shape: &'static Shape, mut source: Map<String, Value>, rendered: &mut Vec<(&'static str, Wire)>) -> Wire {
    let mut entries = Vec::with_capacity(shape.fields.len());
    for field in &shape.fields {
        let name = field.name.as_str();
        let value = if let Some(at) = rendered.iter().position(|(key, _)| *key == name) {
            rendered.swap_remove(at).1
        } else {
            match source.remove(name) {
                // An optional key that may not be null is left out rather than sent as null,
                // which the SDK's models would reject.
                Some(Value::Null) if !field.nullable => match field.missing {
                    Missing::EmptyArray => Wire::Array(Vec::new()),
                    Missing::Null => Wire::Value(Value::Null),
                    Missing::Omit => continue,
                },
                Some(value) => render_value(&field.nested, value),
                None => match field.missing {
                    Missing::Null => Wire::Value(Value::Null),
                    Missing::EmptyArray => Wire::Array(Vec::new()),
                    Missing::Omit => continue,
                },
            }
        };
        entries.push((name, value));
    }
    Wire::Object(entries)
}

fn render_value(nested: &'static Nested, value: Value) -> Wire {
    match (nested, value) {
        (Nested::Object(shape), Value::Object(object)) => render(shape, object, &mut Vec::new()),
        (Nested::ArrayOf(shape), Value::Array(items)) => Wire::Array(
            items
                .into_iter()
                .map(|item| match item {
                    Value::Object(object) => render(shape, object, &mut Vec::new()),
                    other => Wire::Value(other),
                })
                .collect(),
        ),
        // A stored value of an unexpected type (a connector bug) is passed through rather than
        // dropped, so the discrepancy is visible to the consumer instead of silently hidden.
        (_, other) => Wire::Value(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn leak(shape: Shape) -> &'static Shape {
        Box::leak(Box::new(shape))
    }

    fn f(name: &str, missing: Missing, nullable: bool, nested: Nested) -> Field {
        Field {
            name: name.into(),
            missing,
            nullable,
            nested,
        }
    }

    #[test]
    fn follows_the_schema_order_and_missing_rules() {
        let inner = Shape {
            fields: vec![
                f("b", Missing::Null, true, Nested::Scalar),
                f("a", Missing::Omit, false, Nested::Scalar),
            ],
        };
        let outer = leak(Shape {
            fields: vec![
                f("z", Missing::Null, true, Nested::Scalar),
                f("list", Missing::EmptyArray, false, Nested::ArrayOf(inner.clone())),
                f("opt", Missing::Omit, false, Nested::Scalar),
                f("obj", Missing::Null, true, Nested::Object(inner)),
            ],
        });
        let source = json!({"obj": {"a": 1, "extra": 2}, "unknown": true, "list": [{"a": 3}], "opt": null});
        let out = render(outer, source.as_object().unwrap().clone(), &mut Vec::new());
        assert_eq!(
            serde_json::to_string(&out).unwrap(),
            r#"{"z":null,"list":[{"b":null,"a":3}],"obj":{"b":null,"a":1}}"#
        );
        let out = serde_json::to_string(&render(outer, Map::new(), &mut Vec::new())).unwrap();
        assert_eq!(out, r#"{"z":null,"list":[],"obj":null}"#);
        // Pre-rendered values win.
        let mut rendered = vec![("z", Wire::Value(json!(7)))];
        let out = serde_json::to_string(&render(outer, source.as_object().unwrap().clone(), &mut rendered)).unwrap();
        assert!(out.starts_with(r#"{"z":7,"#), "{out}");
    }

    #[test]
    fn every_model_has_a_shape_from_the_contract() {
        for &model in Model::ALL {
            let shape = shape(model);
            for key in ["id", "remote_id", "changed_at", "remote_deleted_at"] {
                assert!(shape.field(key).is_some(), "{model} lacks {key}");
            }
        }
        let employee = shape(Model::Employees);
        let employments = employee.field("employments").unwrap();
        assert_eq!(employments.missing, Missing::EmptyArray);
        assert!(matches!(&employments.nested, Nested::ArrayOf(s) if s.field("job_title").is_some()));
        assert_eq!(employee.field("work_email").unwrap().missing, Missing::Omit);
        assert_eq!(employee.field("first_name").unwrap().missing, Missing::Null);
        assert!(
            matches!(&employee.field("manager").unwrap().nested, Nested::Object(s) if s.field("display_full_name").is_some())
        );
        // Free-form objects stay scalars.
        assert_eq!(employee.field("custom_fields").unwrap().nested, Nested::Scalar);
    }
}
