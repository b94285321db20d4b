//! The harness itself: every rule it enforces, shown failing on a small specification.

use serde_json::{Value, json};
use tributary_model::ToolKind;
use tributary_sim::LogEntry;

use crate::spec::Spec;

fn spec() -> Spec {
    Spec::from_document(
        "acme",
        json!({
            "openapi": "3.0.3",
            "components": {
                "securitySchemes": { "token": { "type": "http", "scheme": "bearer" } },
                "schemas": {
                    "Employee": {
                        "type": "object",
                        "required": ["id", "email"],
                        "properties": {
                            "id": { "type": "integer" },
                            "email": { "type": "string", "nullable": true },
                            "hired": { "type": "string", "format": "date" }
                        }
                    }
                }
            },
            "security": [{ "token": [] }],
            "paths": {
                "/employees": {
                    "get": {
                        "parameters": [
                            { "name": "limit", "in": "query", "schema": { "type": "integer", "maximum": 100 } },
                            { "name": "status", "in": "query", "schema": { "type": "string", "enum": ["active", "inactive"] } },
                            { "name": "ids[]", "in": "query", "schema": { "type": "array", "items": { "type": "integer" } } }
                        ],
                        "responses": { "200": { "content": { "application/json": { "schema": {
                            "type": "object",
                            "properties": { "data": { "type": "array", "items": { "$ref": "#/components/schemas/Employee" } } }
                        } } } } }
                    }
                },
                "/employees/{id}": {
                    "parameters": [{ "name": "verbose", "in": "query", "required": true, "schema": { "type": "boolean" } }],
                    "get": { "responses": { "200": { "description": "ok" } } }
                },
                "/employees/attributes/": { "get": { "security": [], "responses": { "200": { "description": "ok" } } } },
                "/reports/custom/": { "get": { "responses": { "200": { "description": "ok" } } } }
            }
        }),
        "/v1",
    )
}

fn request(path: &str, query: &str, auth: Option<&str>) -> LogEntry {
    LogEntry {
        seq: 1,
        tool: ToolKind::Personio,
        method: "GET".into(),
        path: path.into(),
        query: query.into(),
        auth_scheme: auth.map(str::to_string),
        accept: None,
        status: 200,
        fault: None,
        at: chrono::Utc::now(),
        duration_ms: 1,
    }
}

fn one(errors: Vec<String>, needle: &str) {
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert!(errors[0].contains(needle), "`{}` does not say `{needle}`", errors[0]);
    assert!(errors[0].starts_with("acme GET "), "names tool and operation: {}", errors[0]);
}

#[test]
fn a_request_within_the_operation_passes() {
    let spec = spec();
    let ok = spec.check_request(&request("/v1/employees", "limit=100&status=active&ids[]=1&ids[]=2", Some("Bearer")));
    assert_eq!(ok, Vec::<String>::new());
    // Without authorization where the operation asks for none.
    assert_eq!(spec.check_request(&request("/v1/employees/attributes/", "", None)), Vec::<String>::new());
}

#[test]
fn requests_outside_the_operation_are_named() {
    let spec = spec();
    one(spec.check_request(&request("/v1/employees", "limit=101", Some("Bearer"))), "`limit`");
    one(spec.check_request(&request("/v1/employees", "limit=ten", Some("Bearer"))), "`limit`");
    one(spec.check_request(&request("/v1/employees", "status=gone", Some("Bearer"))), "`status`");
    one(spec.check_request(&request("/v1/employees", "page=2", Some("Bearer"))), "`page` is not declared");
    one(spec.check_request(&request("/v1/employees", "ids[]=x", Some("Bearer"))), "`ids`");
    one(spec.check_request(&request("/v1/employees", "", Some("Basic"))), "authorization scheme `Basic`");
    one(spec.check_request(&request("/v1/employees", "", None)), "authorization scheme `none`");
    one(spec.check_request(&request("/v1/employees/7", "", Some("Bearer"))), "required query parameter `verbose`");
    // A trailing slash is part of the documented path.
    let missing = spec.check_request(&request("/v1/reports/custom", "", Some("Bearer")));
    assert!(missing[0].contains("is not an operation"), "{missing:?}");
    let unknown = spec.check_request(&request("/v2/employees", "", Some("Bearer")));
    assert!(unknown[0].contains("is not an operation"), "{unknown:?}");
}

#[test]
fn literal_segments_win_over_variables() {
    let spec = spec();
    // `/employees/attributes/` is its own operation (no required `verbose`), not `/employees/{id}`.
    assert_eq!(spec.check_request(&request("/v1/employees/attributes/", "", None)), Vec::<String>::new());
}

#[test]
fn responses_are_held_against_the_schema() {
    let spec = spec();
    let good = json!({"data": [{"id": 1, "email": null, "hired": "2024-01-31"}, {"id": 2, "email": "a@b.c"}]});
    assert_eq!(spec.check_response("GET", "/v1/employees", 200, &good), Vec::<String>::new());

    let wrong_type = json!({"data": [{"id": "1", "email": "a@b.c"}]});
    one(spec.check_response("GET", "/v1/employees", 200, &wrong_type), "/data/0/id");
    let missing = json!({"data": [{"id": 1}]});
    one(spec.check_response("GET", "/v1/employees", 200, &missing), "/data/0");
    let bad_date = json!({"data": [{"id": 1, "email": null, "hired": "31.01.2024"}]});
    one(spec.check_response("GET", "/v1/employees", 200, &bad_date), "/data/0/hired");
    one(spec.check_response("GET", "/v1/employees", 418, &Value::Null), "status 418");
}

#[test]
fn declared_deviations_excuse_only_what_they_name() {
    let spec = spec().allow(
        "GET /employees",
        "/data",
        "the vendor's changelog of 2026-01-01 sends ids as strings (example)",
    );
    let wrong_type = json!({"data": [{"id": "1", "email": "a@b.c"}]});
    assert_eq!(spec.check_response("GET", "/v1/employees", 200, &wrong_type), Vec::<String>::new());
    one(spec.check_request(&request("/v1/employees", "limit=101", Some("Bearer"))), "`limit`");
}

#[test]
fn merged_documents_keep_their_own_prefixes_and_references() {
    let other = Spec::from_document(
        "acme",
        json!({
            "swagger": "2.0",
            "securityDefinitions": { "basic": { "type": "basic" } },
            "security": [{ "basic": [] }],
            "definitions": { "Time": { "type": "object", "required": ["at"], "properties": { "at": { "type": "string", "x-nullable": true } } } },
            "paths": { "/time": { "get": {
                "parameters": [{ "name": "page", "in": "query", "type": "integer", "minimum": 1 }],
                "responses": { "200": { "schema": { "$ref": "#/definitions/Time" } } }
            } } }
        }),
        "/v2",
    );
    let spec = spec().merge(other);
    assert_eq!(spec.check_request(&request("/v2/time", "page=1", Some("Basic"))), Vec::<String>::new());
    one(spec.check_request(&request("/v2/time", "page=0", Some("Basic"))), "`page`");
    one(spec.check_request(&request("/v2/time", "", Some("Bearer"))), "authorization scheme");
    assert_eq!(spec.check_response("GET", "/v2/time", 200, &json!({"at": null})), Vec::<String>::new());
    one(spec.check_response("GET", "/v2/time", 200, &json!({})), "top level: \"at\" is a required property");
    // The first document still answers under its own prefix.
    assert_eq!(spec.check_request(&request("/v1/employees", "", Some("Bearer"))), Vec::<String>::new());
}
