//! Case 8: the published contract, `GET /v1/openapi.json` and `GET /v1/docs`, without a key.

use std::collections::BTreeSet;

use serde_json::Value;
use tributary_model::Model;
use tributary_tests::browser::{Browser, Network};

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

/// Every operation's summary in the served document, with its path.
fn operation_summaries(doc: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if let Some(summary) = op["summary"].as_str() {
                out.push((format!("{} {path}", method.to_uppercase()), summary.to_owned()));
            }
        }
    }
    out
}

/// `/v1/docs` with the machine's network off, in a real Chromium: the reference renders every
/// operation of our document, and nothing is requested beyond 127.0.0.1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reference_renders_offline_in_a_browser() {
    let Some(api) = Api::start(Backend::Sqlite).await else {
        return;
    };
    let Some(browser) = Browser::launch_or_skip(Network::Offline).await else {
        return;
    };
    let doc: Value = api
        .http
        .get(api.url("/v1/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let summaries = operation_summaries(&doc);
    assert_eq!(summaries.len(), 21, "{summaries:?}");

    browser.goto(&api.url("/v1/docs")).await.unwrap();
    let title = doc["info"]["title"].as_str().unwrap();
    browser.wait_for_text(title).await.unwrap();
    // The sidebar shows the first tag's operations; the others are behind collapsed groups,
    // opened here as a reader would.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        browser
            .execute(
                "for (const b of document.querySelectorAll('button')) \
                   if (b.textContent.includes('Open Group')) b.click()",
                vec![],
            )
            .await
            .unwrap();
        let text = browser.visible_text().await.unwrap();
        let missing: Vec<_> = summaries.iter().filter(|(_, s)| !text.contains(s.as_str())).collect();
        if missing.is_empty() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "operations not rendered: {missing:?}; the page showed {text:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    assert_eq!(browser.left_loopback().await.unwrap(), Vec::<String>::new());
    // The renderer came from us, at its versioned path.
    let requested = browser.requested_urls().await.unwrap();
    assert!(
        requested
            .iter()
            .any(|u| u.contains("/v1/docs/scalar-") && u.ends_with(".js")),
        "{requested:?}"
    );
    browser.close().await;
}

/// The page allows its own origin only and names no other; its scripts are cached for good,
/// revalidate by ETag, and unknown asset names are coded 404s.
async fn the_reference_is_served_by_us(b: Backend) {
    let Some(api) = Api::start(b).await else {
        return;
    };
    let page = api.http.get(api.url("/v1/docs")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let csp = page.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(csp.starts_with("default-src 'self'; script-src 'self';"), "{csp}");
    for directive in csp.split(';') {
        for source in directive.split_whitespace().skip(1) {
            assert!(
                ["'self'", "'none'", "'unsafe-inline'", "data:"].contains(&source),
                "{directive} allows {source}"
            );
        }
    }
    assert!(!csp.contains("unsafe-eval") && !csp.contains("script-src 'self' 'unsafe-inline'"));
    let html = page.text().await.unwrap();
    assert!(!html.contains("https://") && !html.contains("http://"), "{html}");
    let scripts: Vec<&str> = html
        .split("<script src=\"")
        .skip(1)
        .map(|rest| rest.split('"').next().unwrap())
        .collect();
    assert_eq!(scripts.len(), 2, "{html}");

    for script in scripts {
        let url = api.url(&format!("/v1/{script}"));
        let response = api.http.get(&url).send().await.unwrap();
        assert_eq!(response.status(), 200, "{url}");
        let headers = response.headers().clone();
        assert_eq!(headers["cache-control"], "public, max-age=31536000, immutable");
        assert!(headers["content-type"].to_str().unwrap().starts_with("text/javascript"));
        let etag = headers["etag"].to_str().unwrap().to_owned();
        assert!(etag.starts_with('"') && etag.len() > 10, "{etag}");
        assert!(!response.bytes().await.unwrap().is_empty());

        let again = api.http.get(&url).header("if-none-match", &etag).send().await.unwrap();
        assert_eq!(again.status(), 304, "{url}");
        assert!(again.bytes().await.unwrap().is_empty());
        let stale = api
            .http
            .get(&url)
            .header("if-none-match", "\"something-else\"")
            .send()
            .await
            .unwrap();
        assert_eq!(stale.status(), 200, "{url}");
    }

    let missing = api.http.get(api.url("/v1/docs/scalar-0.0.1.js")).send().await.unwrap();
    assert_eq!(missing.status(), 404);
    let body: Value = missing.json().await.unwrap();
    assert_eq!(body["status"], "error", "{body}");
}

crate::on_both_backends!(the_contract_is_published, the_reference_is_served_by_us);
