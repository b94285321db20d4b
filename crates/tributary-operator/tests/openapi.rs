//! The OpenAPI document of `/ops/v1` against the router: one operation per route and no
//! operation without a route, every schema compiles, the document is served (behind the
//! token), and the contract check the other suites rely on does catch a wrong response.

use std::collections::BTreeSet;
use std::sync::Arc;

use reqwest::StatusCode;
use serde_json::{Value, json};
use tributary_operator::{OPENAPI, OperatorState, operations, router};
use tributary_queue::{EmbeddedCoordinator, MemoryQueue};

mod support;

const METHODS: [&str; 5] = ["get", "put", "post", "delete", "patch"];

#[test]
fn every_route_has_an_operation_and_every_operation_a_route() {
    let doc: Value = serde_json::from_str(OPENAPI).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    let routed: BTreeSet<(String, String)> = operations()
        .into_iter()
        .map(|(method, path)| (method.as_str().to_ascii_lowercase(), path.to_owned()))
        .collect();
    let documented: BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            METHODS
                .iter()
                .filter(|m| item.get(**m).is_some())
                .map(move |m| (m.to_string(), path.clone()))
        })
        .collect();
    let undocumented: Vec<_> = routed.difference(&documented).collect();
    let unrouted: Vec<_> = documented.difference(&routed).collect();
    assert!(undocumented.is_empty(), "routes without an operation: {undocumented:?}");
    assert!(unrouted.is_empty(), "operations without a route: {unrouted:?}");
    assert!(routed.len() > 30, "{routed:?}");
}

#[test]
fn every_operation_documents_its_parameters_and_responses_and_its_schemas_compile() {
    let contract = support::contract();
    let doc = &contract.doc;
    for (path, item) in doc["paths"].as_object().unwrap() {
        let placeholders: BTreeSet<&str> = path
            .split('/')
            .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .collect();
        for method in METHODS {
            let Some(op) = item.get(method) else { continue };
            let declared: BTreeSet<&str> = op["parameters"]
                .as_array()
                .map(|ps| {
                    ps.iter()
                        .filter(|p| p["in"] == "path")
                        .map(|p| p["name"].as_str().unwrap())
                        .collect()
                })
                .unwrap_or_default();
            assert_eq!(declared, placeholders, "{method} {path}: path parameters");
            let responses = op["responses"].as_object().unwrap();
            assert!(responses.contains_key("default"), "{method} {path}: no error response");
            for (status, response) in responses {
                let schema = &response["content"]["application/json"]["schema"];
                assert!(schema.is_object(), "{method} {path} {status}: no schema");
                // Compiling resolves every `$ref` it names.
                contract.validate(schema, &json!(null));
            }
        }
    }
}

#[test]
fn the_contract_check_catches_a_wrong_response() {
    let contract = support::contract();
    let run = json!({
        "id": "r1", "integration_id": "personio:acme", "sync_type": "FULL", "state": "QUEUED",
        "worker_id": null, "lease_holder": null, "job_queued": true,
        "created_at": "2026-01-01T00:00:00Z", "started_at": null, "ended_at": null,
        "duration_seconds": null,
        "counts": {"pages_fetched": 0, "created": 0, "updated": 0, "deleted": 0, "unchanged": 0, "unconfirmed": 0},
        "checkpoint_stream": null, "attempts": 0, "error": null, "pause_reason": null,
        "preempted_by": null, "resume_at": null
    });
    let page = json!({"status": "success", "data": {"results": [run.clone()], "next": null}});
    contract.check("GET", "/runs?state=queued", 200, &page);
    let (template, _) = contract.operation("GET", "/integrations/health").unwrap();
    assert_eq!(
        template, "/integrations/health",
        "a literal segment wins over a placeholder"
    );
    let mut wrong = page.clone();
    wrong["data"]["results"][0]["state"] = json!("DONE");
    assert!(
        std::panic::catch_unwind(|| contract.check("GET", "/runs", 200, &wrong)).is_err(),
        "an unknown state must not pass"
    );
    let mut leaky = json!({"status": "success", "data": {"results": [{
        "id": "k", "environment": "e", "label": "l", "created_at": "2026-01-01T00:00:00Z",
        "revoked": false, "revoked_at": null
    }], "next": null}});
    contract.check("GET", "/api-keys", 200, &leaky);
    leaky["data"]["results"][0]["key_hash"] = json!("abc");
    assert!(
        std::panic::catch_unwind(|| contract.check("GET", "/api-keys", 200, &leaky)).is_err(),
        "a listed key carries nothing more than documented"
    );
}

#[tokio::test]
async fn the_document_is_served_behind_the_token() {
    let (store, _file) = tributary_store::testing::fresh_sqlite_store().await.unwrap();
    let state = OperatorState::new(
        store.clone(),
        Arc::new(MemoryQueue::new()),
        Arc::new(EmbeddedCoordinator::new(store)),
        Some("t0ken".into()),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/ops/v1/openapi.json", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router(state)).await });
    let http = reqwest::Client::new();
    let anonymous = http.get(&url).send().await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    let served = http.get(&url).bearer_auth("t0ken").send().await.unwrap();
    assert_eq!(served.status(), StatusCode::OK);
    assert_eq!(served.headers()["content-type"], "application/json");
    let served: Value = served.json().await.unwrap();
    assert_eq!(served, serde_json::from_str::<Value>(OPENAPI).unwrap());
}
