//! Greenhouse Harvest v3: every request the connector sends through a FULL, a DELTA and its
//! deletion lookups, and every kind of answer the simulator gives, held against
//! `docs/sources/specs/greenhouse/harvest-v3.json` (transcribed from Greenhouse's v3
//! reference; see its SOURCE.md and `docs/sources/greenhouse.md`).

use std::time::Duration;

use chrono::Utc;
use serde_json::{Value, json};
use tributary_connectors::GreenhouseConnector;
use tributary_model::{IdGen, Model, ToolKind};
use tributary_sim::{LogEntry, RequestFilter, SimConfig, Simulator};
use tributary_source::{ClientConfig, Connector, FetchMode, SourceClient};
use url::Url;

use crate::spec::Spec;

fn spec() -> Spec {
    Spec::load("greenhouse", "docs/sources/specs/greenhouse/harvest-v3.json", "")
}

/// v3's rule no OpenAPI parameter list can state: "When you pass a cursor, it must be the only
/// query parameter" (<https://harvestdocs.greenhouse.io/docs/pagination>).
fn cursor_alone(entry: &LogEntry) -> Option<String> {
    let keys: Vec<String> = url::form_urlencoded::parse(entry.query.as_bytes())
        .map(|(k, _)| k.into_owned())
        .collect();
    (keys.iter().any(|k| k == "cursor") && keys.len() > 1).then(|| {
        format!(
            "greenhouse: GET {}: `cursor` sent with {:?}; it must be the only query parameter",
            entry.path, keys
        )
    })
}

async fn drain_all(gh: &GreenhouseConnector, mode: FetchMode) -> usize {
    let mut records = 0;
    for stream in gh.streams() {
        let mut cursor: Option<Value> = None;
        loop {
            let page = gh.fetch_page(&stream, cursor.as_ref(), mode).await.expect("page");
            records += page.records.len();
            match page.next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
    }
    records
}

#[tokio::test]
async fn the_connector_and_the_simulator_follow_the_v3_reference() {
    let spec = spec();
    // Enough candidates for cursors on the largest lists.
    let sim = Simulator::start(
        SimConfig {
            employees: 400,
            ..SimConfig::default()
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let base = sim.base_url(ToolKind::Greenhouse);
    let gh = GreenhouseConnector::new(
        Url::parse(&base).unwrap(),
        &sim.integration_credentials(ToolKind::Greenhouse),
        IdGen::new("greenhouse:contract"),
        SourceClient::new(ClientConfig::default()).unwrap(),
    )
    .unwrap();

    assert!(drain_all(&gh, FetchMode::Full).await > 0);
    let since = Utc::now();
    tokio::time::sleep(Duration::from_millis(5)).await;
    sim.state.mutate_random(ToolKind::Greenhouse, 40, 7).unwrap();
    drain_all(&gh, FetchMode::Delta { since }).await;
    let streams = gh.streams();
    for name in ["candidates", "applications"] {
        let stream = streams.iter().find(|s| s.name == name).unwrap();
        let model = stream.models[0];
        let ids: Vec<(Model, String)> = vec![(model, "1".into()), (model, "999999999".into())];
        gh.lookup(stream, &ids).await.unwrap();
    }

    let log = sim.state.requests(&RequestFilter::tool(ToolKind::Greenhouse));
    assert!(
        log.iter().any(|e| e.query.starts_with("cursor=")),
        "cursors were followed"
    );
    assert!(
        log.iter().any(|e| e.query.contains("updated_at=gte")),
        "the DELTA filtered"
    );
    assert!(log.iter().any(|e| e.query.contains("ids=")), "lookups filtered by id");
    assert!(
        log.iter().any(|e| e.query.contains("fields=")),
        "names were read with `fields`"
    );
    let mut errors: Vec<String> = Vec::new();
    for entry in &log {
        errors.extend(spec.check_request(entry));
        errors.extend(cursor_alone(entry));
    }
    assert!(
        errors.is_empty(),
        "{} violations, e.g. {:#?}",
        errors.len(),
        &errors[..errors.len().min(10)]
    );

    // Every kind of answer, fetched again as a client would.
    let http = reqwest::Client::new();
    let c = sim.state.credentials().clone();
    let token = http
        .post(format!("{base}/token"))
        .basic_auth(&c.greenhouse_client_id, Some(&c.greenhouse_client_secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    let status = token.status().as_u16();
    let token: Value = token.json().await.unwrap();
    let mut errors = spec.check_response("POST", "/token", status, &token);
    let refused = http
        .post(format!("{base}/token"))
        .basic_auth("nobody", Some("nothing"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    let status = refused.status().as_u16();
    errors.extend(spec.check_response("POST", "/token", status, &refused.json().await.unwrap()));
    let bearer = token["access_token"].as_str().unwrap().to_owned();
    let mut paths: Vec<String> = log
        .iter()
        .map(|e| e.path.clone())
        .filter(|p| p.starts_with("/v3/"))
        .collect();
    paths.sort();
    paths.dedup();
    assert!(paths.len() >= 15, "{paths:?}");
    for path in &paths {
        let resp = http
            .get(format!("{base}{path}?per_page=50"))
            .bearer_auth(&bearer)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let body: Value = resp.json().await.unwrap();
        assert!(body.as_array().is_some_and(|a| !a.is_empty()), "{path}: {body}");
        errors.extend(spec.check_response("GET", path, status, &body));
    }
    // `fields`: every list answers its documented item narrowed to the named fields.
    for path in &paths {
        let resp = http
            .get(format!("{base}{path}?per_page=5&fields=id,updated_at"))
            .bearer_auth(&bearer)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let body: Value = resp.json().await.unwrap();
        assert!(body.as_array().is_some_and(|a| !a.is_empty()), "{path}: {body}");
        errors.extend(spec.check_response_fields("GET", path, status, &body, &["id", "updated_at"]));
    }
    for (query, auth) in [
        ("per_page=0", Some(bearer.as_str())),
        ("fields=first-name", Some(bearer.as_str())),
        ("", None),
    ] {
        let mut req = http.get(format!("{base}/v3/candidates?{query}"));
        if let Some(auth) = auth {
            req = req.bearer_auth(auth);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        assert!(status == 422 || status == 401, "{status}");
        errors.extend(spec.check_response("GET", "/v3/candidates", status, &resp.json().await.unwrap()));
    }
    sim.state.set_documented_limits(true);
    let mut throttled = None;
    for _ in 0..=tributary_sim::tools::greenhouse::DOCUMENTED_RATE_LIMIT {
        let resp = http
            .get(format!("{base}/v3/users"))
            .bearer_auth(&bearer)
            .send()
            .await
            .unwrap();
        if resp.status() == 429 {
            throttled = Some(resp);
            break;
        }
    }
    let throttled = throttled.expect("the documented limit throttles");
    errors.extend(spec.check_response("GET", "/v3/users", 429, &throttled.json().await.unwrap()));
    let mut throttled = None;
    for _ in 0..=tributary_sim::tools::greenhouse::TOKEN_RATE_LIMIT {
        let resp = http
            .post(format!("{base}/token"))
            .basic_auth(&c.greenhouse_client_id, Some(&c.greenhouse_client_secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap();
        if resp.status() == 429 {
            throttled = Some(resp);
            break;
        }
    }
    let throttled = throttled.expect("token requests have their own window");
    errors.extend(spec.check_response("POST", "/token", 429, &throttled.json().await.unwrap()));
    assert!(errors.is_empty(), "{errors:#?}");
    sim.shutdown().await;
}

fn entry(method: &str, path: &str, query: &str, auth: Option<&str>) -> LogEntry {
    LogEntry {
        seq: 1,
        tool: ToolKind::Greenhouse,
        method: method.into(),
        path: path.into(),
        query: query.into(),
        auth_scheme: auth.map(Into::into),
        accept: Some("application/json".into()),
        status: 200,
        fault: None,
        at: Utc::now(),
        duration_ms: 1,
    }
}

/// A connector still paging like Harvest v1 (`page`, `per_page` with a cursor, v1 filters, v1
/// paths, Basic auth with an API key) fails the contract, naming what it broke.
#[test]
fn v1_habits_break_the_contract() {
    let spec = spec();
    let bad = |e: &LogEntry| {
        let mut errors = spec.check_request(e);
        errors.extend(cursor_alone(e));
        errors
    };
    assert!(bad(&entry("GET", "/v3/candidates", "per_page=500", Some("Bearer"))).is_empty());
    assert!(bad(&entry("GET", "/v3/candidates", "cursor=abc", Some("Bearer"))).is_empty());
    assert!(
        bad(&entry(
            "GET",
            "/v3/offices",
            "ids=1,2&fields=id,name,location",
            Some("Bearer")
        ))
        .is_empty()
    );
    let cases = [
        (
            entry("GET", "/v3/candidates", "page=2&per_page=500", Some("Bearer")),
            "page",
        ),
        (
            entry("GET", "/v3/candidates", "cursor=abc&per_page=500", Some("Bearer")),
            "cursor",
        ),
        (
            entry(
                "GET",
                "/v3/candidates",
                "updated_after=2026-01-01T00:00:00Z",
                Some("Bearer"),
            ),
            "updated_after",
        ),
        (
            entry(
                "GET",
                "/v3/candidates",
                "updated_at=2026-01-01T00:00:00Z",
                Some("Bearer"),
            ),
            "updated_at",
        ),
        (
            entry("GET", "/v3/candidates", "per_page=1000", Some("Bearer")),
            "per_page",
        ),
        (
            entry("GET", "/v3/candidates", "per_page=500", Some("Basic")),
            "authorization scheme `Basic`",
        ),
        (
            entry("GET", "/v1/candidates", "per_page=500", Some("Basic")),
            "/v1/candidates",
        ),
        // v3 has no single-record reads: one record comes through the list's `ids`.
        (entry("GET", "/v3/candidates/7", "", Some("Bearer")), "/v3/candidates/7"),
        (
            entry("GET", "/v3/departments", "ids=1&fields=id,display-name", Some("Bearer")),
            "fields",
        ),
        (
            entry(
                "GET",
                "/v3/interviewers",
                &format!(
                    "interview_ids={}",
                    (1..=51).map(|i| i.to_string()).collect::<Vec<_>>().join(",")
                ),
                Some("Bearer"),
            ),
            "interview_ids",
        ),
    ];
    for (e, named) in cases {
        let errors = bad(&e);
        assert!(
            errors.iter().any(|m| m.contains(named)),
            "{} {}?{}: {errors:?}",
            e.method,
            e.path,
            e.query
        );
    }
    // Responses: a v1-shaped candidate (embedded applications, `is_private`) is not a v3 one.
    let v1_candidate = json!([{"id": 1, "first_name": "A", "last_name": "B", "is_private": false,
        "created_at": "2026-01-01T00:00:00.000Z", "updated_at": "2026-01-01T00:00:00.000Z",
        "phone_numbers": [], "addresses": [], "email_addresses": [], "social_media_addresses": [],
        "tags": [], "applications": []}]);
    let errors = spec.check_response("GET", "/v3/candidates", 200, &v1_candidate);
    assert!(
        errors
            .iter()
            .any(|m| m.contains("is_private") || m.contains("applications")),
        "{errors:?}"
    );
    // A `fields` answer carries exactly the named fields the item documents.
    let fields = ["id", "name"];
    let narrowed = json!([{"id": 1, "name": "Engineering"}]);
    assert!(
        spec.check_response_fields("GET", "/v3/departments", 200, &narrowed, &fields)
            .is_empty()
    );
    for (body, named) in [
        (
            json!([{"id": 1, "name": "Engineering", "parent_id": null}]),
            "parent_id",
        ),
        (json!([{"id": 1}]), "name"),
        (json!([{"id": "1", "name": "Engineering"}]), "/0/id"),
    ] {
        let errors = spec.check_response_fields("GET", "/v3/departments", 200, &body, &fields);
        assert!(errors.iter().any(|m| m.contains(named)), "{body}: {errors:?}");
    }
}
