//! A small JSON Schema check (the subset Kombo's document uses on responses: `$ref`, `type`,
//! `enum`, `properties`/`required`, `items`, `anyOf`/`oneOf`/`allOf`, `format: date-time`),
//! to hold every result against the served OpenAPI document.

use serde_json::Value;

/// Where `value` breaks `schema`, as `path: problem` lines.
pub fn violations(doc: &Value, value: &Value, schema: &Value) -> Vec<String> {
    let mut out = Vec::new();
    check(doc, value, schema, "$", &mut out);
    out
}

fn resolve<'a>(doc: &'a Value, mut schema: &'a Value) -> &'a Value {
    while let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        schema = doc
            .pointer(reference.trim_start_matches('#'))
            .unwrap_or_else(|| panic!("dangling $ref {reference}"));
    }
    schema
}

fn type_matches(value: &Value, wanted: &str) -> bool {
    match wanted {
        "null" => value.is_null(),
        "string" => value.is_string(),
        "boolean" => value.is_boolean(),
        "number" => value.is_number(),
        "integer" => value.as_f64().is_some_and(|n| n.fract() == 0.0),
        "array" => value.is_array(),
        "object" => value.is_object(),
        _ => true,
    }
}

fn check(doc: &Value, value: &Value, schema: &Value, path: &str, out: &mut Vec<String>) {
    let schema = resolve(doc, schema);
    // Kombo's document types its plain dates (`yyyy-MM-dd`, e.g. an absence's `start_date`)
    // as `"type": "null"`, a quirk of its generator; Kombo itself sends the date.
    if schema.get("type") == Some(&Value::String("null".into())) {
        return;
    }
    if let Some(types) = schema.get("type") {
        let types: Vec<&str> = match types {
            Value::String(t) => vec![t.as_str()],
            Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        if !types.is_empty() && !types.iter().any(|t| type_matches(value, t)) {
            out.push(format!("{path}: {value} is not of type {types:?}"));
            return;
        }
    }
    if value.is_null() {
        return;
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array)
        && !allowed.contains(value)
    {
        out.push(format!("{path}: {value} is not one of {allowed:?}"));
    }
    if schema.get("format").and_then(Value::as_str) == Some("date-time")
        && let Some(text) = value.as_str()
        && chrono::DateTime::parse_from_rfc3339(text).is_err()
    {
        out.push(format!("{path}: {text} is not a date-time"));
    }
    for all in schema.get("allOf").and_then(Value::as_array).into_iter().flatten() {
        check(doc, value, all, path, out);
    }
    for key in ["anyOf", "oneOf"] {
        if let Some(branches) = schema.get(key).and_then(Value::as_array) {
            let fits = branches.iter().any(|b| {
                let mut errors = Vec::new();
                check(doc, value, b, path, &mut errors);
                errors.is_empty()
            });
            if !fits {
                out.push(format!("{path}: {value} fits no branch of {key}"));
            }
        }
    }
    if let (Some(object), Some(properties)) = (value.as_object(), schema.get("properties").and_then(Value::as_object)) {
        for (key, field) in object {
            match properties.get(key) {
                Some(field_schema) => check(doc, field, field_schema, &format!("{path}.{key}"), out),
                None => out.push(format!("{path}: `{key}` is not in the schema")),
            }
        }
        for required in schema.get("required").and_then(Value::as_array).into_iter().flatten() {
            let required = required.as_str().unwrap_or_default();
            if !object.contains_key(required) {
                out.push(format!("{path}: required `{required}` is missing"));
            }
        }
    }
    if let (Some(items), Some(item_schema)) = (value.as_array(), schema.get("items")) {
        for (i, item) in items.iter().enumerate() {
            check(doc, item, item_schema, &format!("{path}[{i}]"), out);
        }
    }
}

/// The schema of `method path`'s `status` response (`"200"`, or `"default"` for errors).
pub fn response<'a>(doc: &'a Value, path: &str, method: &str, status: &str) -> &'a Value {
    let response = resolve(doc, &doc["paths"][path][method]["responses"][status]);
    let schema = &response["content"]["application/json"]["schema"];
    assert!(schema.is_object(), "no {status} schema for {method} {path}");
    schema
}

/// Asserts `body` fits `method path`'s `status` response.
#[track_caller]
pub fn assert_fits(doc: &Value, body: &Value, path: &str, method: &str, status: &str) {
    let problems = violations(doc, body, response(doc, path, method, status));
    assert!(
        problems.is_empty(),
        "{method} {path} ({status}) breaks the contract:\n{}\n{body:#}",
        problems.join("\n")
    );
}
