//! Turns the JSON Schemas of Kombo's OpenAPI document into [`Shape`]s.
//!
//! The document uses a small subset of JSON Schema: `$ref` into `components`, `type` as a
//! string or a list with `"null"`, `anyOf`/`oneOf` for nullable and enum unions, `properties`
//! with `required`, and `items`. Anything richer (a union of several object shapes) is passed
//! through as a scalar.

use super::{Field, Missing, Nested, Shape};
use crate::openapi::Node;

/// The shape of `data.results[]` in the 200 response of `GET <path>`.
pub fn list_item_shape(spec: &Node, path: &str) -> Result<Shape, String> {
    let response = resolve(spec, spec.get("paths").get(path).get("get").get("responses").get("200"));
    let body = resolve(spec, response.get("content").get("application/json").get("schema"));
    let data = resolve(spec, body.get("properties").get("data"));
    let results = resolve(spec, data.get("properties").get("results"));
    let items = resolve(spec, results.get("items"));
    if items.get("properties").is_null() {
        return Err(format!("GET {path} has no list item schema"));
    }
    Ok(object_shape(spec, items))
}

/// Follows `$ref`s (`#/components/...`) until a schema without one.
fn resolve<'a>(spec: &'a Node, mut schema: &'a Node) -> &'a Node {
    for _ in 0..32 {
        let Some(reference) = schema.get("$ref").as_str() else {
            return schema;
        };
        schema = spec.pointer(reference.trim_start_matches('#'));
    }
    schema
}

fn is_null_schema(spec: &Node, schema: &Node) -> bool {
    resolve(spec, schema).get("type").as_str() == Some("null")
}

/// The schema without its `null` alternative, and whether there was one.
fn non_null<'a>(spec: &'a Node, schema: &'a Node) -> (Option<&'a Node>, bool) {
    let schema = resolve(spec, schema);
    for union in ["anyOf", "oneOf"] {
        if let Some(options) = schema.get(union).as_array() {
            let nullable = options.iter().any(|o| is_null_schema(spec, o));
            let rest: Vec<&Node> = options.iter().filter(|o| !is_null_schema(spec, o)).collect();
            // One real alternative: that is the schema. Several (enums with a free-text
            // fallback, unions of object shapes): a scalar as far as rendering goes.
            return match rest.as_slice() {
                [only] => (Some(resolve(spec, only)), nullable),
                _ => (None, nullable),
            };
        }
    }
    let nullable = match schema.get("type") {
        Node::Array(types) => types.iter().any(|t| t.as_str() == Some("null")),
        Node::String(t) => t == "null",
        // No type at all: anything goes, null included.
        Node::Null => true,
        _ => false,
    } || *schema.get("nullable") == Node::Bool(true);
    (Some(schema), nullable)
}

fn has_type(schema: &Node, wanted: &str) -> bool {
    match schema.get("type") {
        Node::String(t) => t == wanted,
        Node::Array(types) => types.iter().any(|t| t.as_str() == Some(wanted)),
        _ => false,
    }
}

fn object_shape(spec: &Node, schema: &Node) -> Shape {
    let required: Vec<&str> = schema
        .get("required")
        .as_array()
        .map(|r| r.iter().filter_map(Node::as_str).collect())
        .unwrap_or_default();
    let fields = schema
        .get("properties")
        .as_object()
        .map(|properties| {
            properties
                .iter()
                .map(|(name, property)| field(spec, name, property, required.contains(&name.as_str())))
                .collect()
        })
        .unwrap_or_default();
    Shape { fields }
}

fn field(spec: &Node, name: &str, property: &Node, required: bool) -> Field {
    let (schema, nullable) = non_null(spec, property);
    let nested = schema.map_or(Nested::Scalar, |schema| nested(spec, schema));
    let is_array = schema.is_some_and(|s| has_type(s, "array"));
    let missing = match (required, nullable, is_array) {
        (false, _, _) => Missing::Omit,
        (true, false, true) => Missing::EmptyArray,
        (true, _, _) => Missing::Null,
    };
    Field {
        name: name.to_owned(),
        missing,
        nullable,
        nested,
    }
}

fn nested(spec: &Node, schema: &Node) -> Nested {
    if has_type(schema, "object") && schema.get("properties").as_object().is_some_and(|p| !p.is_empty()) {
        return Nested::Object(object_shape(spec, schema));
    }
    if has_type(schema, "array") {
        let (items, _) = non_null(spec, schema.get("items"));
        if let Some(items) = items
            && has_type(items, "object")
            && !items.get("properties").is_null()
        {
            return Nested::ArrayOf(object_shape(spec, items));
        }
    }
    Nested::Scalar
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_refs_nullable_unions_and_requiredness() {
        let spec: Node = serde_json::from_str(
            r##"{
            "paths": {"/x": {"get": {"responses": {"200": {"$ref": "#/components/responses/R"}}}}},
            "components": {
                "responses": {"R": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Body"}}}}},
                "schemas": {
                    "Body": {"type": "object", "properties": {"data": {"type": "object", "properties": {
                        "results": {"type": "array", "items": {"$ref": "#/components/schemas/Item"}}}}}},
                    "Item": {"type": "object", "required": ["id", "tags", "owner", "kind"], "properties": {
                        "id": {"type": "string"},
                        "tags": {"type": "array", "items": {"type": "object", "properties": {"name": {"type": "string"}}}},
                        "owner": {"anyOf": [{"type": "object", "properties": {"n": {"type": ["string", "null"]}}}, {"type": "null"}]},
                        "kind": {"anyOf": [{"type": "string", "enum": ["A"]}, {"type": "string"}, {"type": "null"}]},
                        "note": {"type": "string"}
                    }}
                }
            }
        }"##,
        )
        .unwrap();
        let shape = list_item_shape(&spec, "/x").unwrap();
        let names: Vec<&str> = shape.fields.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["id", "tags", "owner", "kind", "note"]);
        assert_eq!(shape.fields[0].missing, Missing::Null);
        assert!(!shape.fields[0].nullable);
        assert_eq!(shape.fields[1].missing, Missing::EmptyArray);
        assert!(matches!(&shape.fields[1].nested, Nested::ArrayOf(s) if s.fields[0].name == "name"));
        assert!(shape.fields[2].nullable);
        assert!(matches!(&shape.fields[2].nested, Nested::Object(s) if s.fields[0].nullable));
        assert_eq!(shape.fields[3].nested, Nested::Scalar);
        assert!(shape.fields[3].nullable);
        assert_eq!(shape.fields[4].missing, Missing::Omit);
        assert!(list_item_shape(&spec, "/y").is_err());
    }
}
