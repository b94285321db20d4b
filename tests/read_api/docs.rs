//! Case 8: the published contract, `GET /v1/openapi.json` and `GET /v1/docs`, without a key.

use std::collections::BTreeSet;

use serde_json::Value;
use tributary_model::Model;

use crate::gateway::Api;
use crate::support::Backend;

/// Every `$ref` in `value`.
fn refs<'a>(value: &'a Value, out: &mut Vec<&'a str>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                match (k.as_str(), v) {
                    ("$ref", Value::String(r)) => out.push(r),
                    _ => refs(v, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
        _ => {}
    }
}

async fn the_contract_is_published(b: Backend) {
    let Some(api) = Api::start(b).await else {
        return;
    };
    let response = api.http.get(api.url("/v1/openapi.json")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let doc: Value = response.json().await.expect("valid JSON");
    assert!(
        doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")),
        "{}",
        doc["openapi"]
    );
    assert!(doc["info"]["title"].is_string());

    let mut expected: BTreeSet<String> = Model::ALL.iter().map(|m| m.api_path().to_owned()).collect();
    expected.extend(["/check-api-key", "/force-sync", "/integrations/{integration_id}"].map(String::from));
    assert_eq!(expected.len(), 20);
    let paths = doc["paths"].as_object().unwrap();
    assert_eq!(paths.keys().cloned().collect::<BTreeSet<_>>(), expected);
    for (path, item) in paths {
        let methods: BTreeSet<&str> = item
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .filter(|k| *k != "parameters")
            .collect();
        let want: BTreeSet<&str> = match path.as_str() {
            "/force-sync" => ["post"].into(),
            "/integrations/{integration_id}" => ["delete", "get"].into(),
            _ => ["get"].into(),
        };
        assert_eq!(methods, want, "{path}");
    }

    let mut found = Vec::new();
    refs(&doc, &mut found);
    assert!(found.len() > 20, "the document uses components");
    for reference in found {
        let pointer = reference
            .strip_prefix('#')
            .unwrap_or_else(|| panic!("external $ref {reference}"));
        assert!(doc.pointer(pointer).is_some(), "dangling $ref {reference}");
    }

    let page = api.http.get(api.url("/v1/docs")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(
        page.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = page.text().await.unwrap();
    assert!(html.contains("<html") && html.contains("openapi.json"), "{html}");
}

crate::on_both_backends!(the_contract_is_published);
