//! What the operator test suites share: every response they get is checked against the
//! operator API's OpenAPI document (`src/openapi.json`), so the document cannot drift from
//! what the handlers answer.

#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use jsonschema::{Draft, Validator};
use serde_json::{Map, Value, json};

pub struct Contract {
    pub doc: Value,
    validators: Mutex<HashMap<String, Arc<Validator>>>,
}

pub fn contract() -> &'static Contract {
    static CONTRACT: OnceLock<Contract> = OnceLock::new();
    CONTRACT.get_or_init(|| Contract {
        doc: serde_json::from_str(tributary_operator::OPENAPI).expect("the OpenAPI document is JSON"),
        validators: Mutex::default(),
    })
}

fn segments(path: &str) -> Vec<&str> {
    path.trim_matches('/').split('/').collect()
}

impl Contract {
    /// The document's operation for a request path below `/ops/v1` (query ignored): the
    /// template that matches with the most literal segments, as the router picks.
    pub fn operation(&self, method: &str, path: &str) -> Option<(&str, &Value)> {
        let path = path.split('?').next().unwrap_or(path);
        let wanted = segments(path);
        let mut best: Option<(usize, &str, &Value)> = None;
        for (template, item) in self.doc["paths"].as_object().expect("paths") {
            let parts = segments(template);
            if parts.len() != wanted.len() {
                continue;
            }
            let literal = parts.iter().filter(|p| !p.starts_with('{')).count();
            let fits = parts.iter().zip(&wanted).all(|(p, w)| p.starts_with('{') || p == w);
            if let Some(op) = item.get(method.to_ascii_lowercase())
                && fits
                && best.is_none_or(|(l, _, _)| literal > l)
            {
                best = Some((literal, template.as_str(), op));
            }
        }
        best.map(|(_, t, op)| (t, op))
    }

    /// Panics unless `body` is what the document says `method path` answers with `status`.
    /// Paths the API does not serve (404, 405) answer in the error envelope.
    pub fn check(&self, method: &str, path: &str, status: u16, body: &Value) {
        let schema = match self.operation(method, path) {
            Some((template, op)) => {
                let responses = &op["responses"];
                let response = responses
                    .get(status.to_string())
                    .or_else(|| responses.get("default"))
                    .unwrap_or_else(|| panic!("{method} {template}: no response {status} documented"));
                response["content"]["application/json"]["schema"].clone()
            }
            None if matches!(status, 404 | 405) => json!({"$ref": "#/components/schemas/Error"}),
            None => panic!("{method} {path} answered {status} but the OpenAPI document has no such operation"),
        };
        let errors = self.validate(&schema, body);
        assert!(
            errors.is_empty(),
            "{method} {path} ({status}) does not match the OpenAPI document:\n{}\n{body}",
            errors.join("\n")
        );
    }

    /// Errors of `instance` against `schema`, `$ref`s resolved within the document.
    pub fn validate(&self, schema: &Value, instance: &Value) -> Vec<String> {
        let key = schema.to_string();
        let validator = self
            .validators
            .lock()
            .unwrap()
            .entry(key)
            .or_insert_with(|| {
                // The whole document is the root, so `#/components/...` resolves; the root
                // `$ref` makes the validator check only the schema wanted.
                let mut root = Map::new();
                for (k, v) in self.doc.as_object().unwrap() {
                    root.insert(k.clone(), v.clone());
                }
                root.insert("x-target".into(), schema.clone());
                root.insert("$ref".into(), json!("#/x-target"));
                let validator = jsonschema::options()
                    .with_draft(Draft::Draft202012)
                    .should_validate_formats(true)
                    .build(&Value::Object(root))
                    .unwrap_or_else(|e| panic!("the schema {schema} does not compile: {e}"));
                Arc::new(validator)
            })
            .clone();
        validator
            .iter_errors(instance)
            .map(|e| format!("at {}: {e}", e.instance_path()))
            .collect()
    }
}
