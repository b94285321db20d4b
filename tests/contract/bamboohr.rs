//! BambooHR: the connector's requests and the simulator's answers against BambooHR's own
//! OpenAPI document (`docs/sources/specs/bamboohr/public.json`, see its SOURCE.md), plus the
//! quirks the document does not carry as schema: `Accept: application/json` on every request
//! (BambooHR answers XML without it) and paths spelled exactly as documented.
//! Sources and decisions: `docs/sources/bamboohr.md`.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Value, json};
use tributary_connectors::BambooHrConnector;
use tributary_model::{IdGen, Model, ToolKind};
use tributary_sim::{LogEntry, RequestFilter, SimConfig, Simulator};
use tributary_source::{ClientConfig, Connector, FetchMode, SourceClient, Stream};
use url::Url;

use crate::spec::Spec;

const TOOL: ToolKind = ToolKind::Bamboohr;
/// Where the simulator's paths (BambooHR's gateway base URL) meet the document's.
const PREFIX: &str = "/api/gateway.php/{companyDomain}";

/// The vendored document, its `/api/v1/…` paths rebased onto the gateway form `/v1/…` (same
/// operations: SOURCE.md), with the deviations the ledger lists.
fn spec() -> Spec {
    let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/sources/specs/bamboohr/public.json");
    let mut doc: Value = serde_json::from_str(&std::fs::read_to_string(&path).expect("vendored spec")).expect("json");
    let paths = doc["paths"].as_object().expect("paths").clone();
    doc["paths"] = Value::Object(
        paths
            .into_iter()
            .map(|(p, item)| (p.strip_prefix("/api").map_or(p.clone(), str::to_owned), item))
            .collect(),
    );
    Spec::from_document("bamboohr", doc, PREFIX).allow(
        "GET /v1/hris/org/locations",
        "Authorization",
        "OPEN, not a newer source: the document (generated 2026-04-27) lists only OAuth for get-locations, \
         tributary's BambooHR credentials are an API key (HTTP Basic); docs/sources/bamboohr.md, Open findings",
    )
}

fn client() -> SourceClient {
    SourceClient::new(ClientConfig {
        min_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(50),
        max_attempts: 3,
        requests_per_second: None,
        ..ClientConfig::default()
    })
    .expect("client")
}

async fn start() -> Simulator {
    let config = SimConfig {
        employees: 40,
        tools: vec![TOOL],
        ..SimConfig::default()
    };
    Simulator::start(config, "127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("simulator")
}

fn connector(sim: &Simulator) -> BambooHrConnector {
    let url = Url::parse(&sim.base_url(TOOL)).expect("base url");
    BambooHrConnector::new(
        url,
        &sim.integration_credentials(TOOL),
        IdGen::new("bamboohr:contract"),
        client(),
    )
    .expect("connector")
}

async fn drain(c: &BambooHrConnector, stream: &Stream, mode: FetchMode) {
    let mut cursor: Option<Value> = None;
    loop {
        let page = c
            .fetch_page(stream, cursor.as_ref(), mode)
            .await
            .unwrap_or_else(|e| panic!("stream {}: {e}", stream.name));
        match page.next {
            Some(next) => cursor = Some(next),
            None => return,
        }
    }
}

/// The quirks BambooHR documents outside the schema, for one logged request.
fn quirks(entry: &LogEntry) -> Vec<String> {
    let mut found = Vec::new();
    if !entry.accept.as_deref().is_some_and(|a| a.contains("application/json")) {
        found.push(format!(
            "bamboohr {} {}: no `Accept: application/json` (sent {:?}); BambooHR answers XML without it",
            entry.method, entry.path, entry.accept
        ));
    }
    found
}

/// What the connector sends in a complete sync, a DELTA and in confirming deletions, held against the
/// document; then one answer of every operation it uses, fetched again, against the
/// operation's documented response schema.
#[tokio::test]
async fn the_connector_and_the_simulator_keep_to_bamboohrs_document() {
    let sim = start().await;
    let spec = spec();
    let c = connector(&sim);
    for stream in c.streams() {
        drain(&c, &stream, FetchMode::Full).await;
    }
    let employees = c
        .streams()
        .into_iter()
        .find(|s| s.name == "employees")
        .expect("employees");
    let live = *sim
        .state
        .company(TOOL)
        .hris
        .employees
        .keys()
        .next()
        .expect("an employee");
    // A DELTA: one employee changed since, so the changed-ids call, the narrowed report and
    // that employee's balance calculation are made.
    let since = chrono::Utc::now() - chrono::Duration::seconds(5);
    sim.state
        .company_mut(TOOL)
        .hris
        .employees
        .get_mut(&live)
        .expect("live")
        .updated_at = chrono::Utc::now();
    for stream in c.streams() {
        let mode = if stream.supports_since {
            FetchMode::Delta { since }
        } else {
            FetchMode::Full
        };
        drain(&c, &stream, mode).await;
    }
    // Asked by the employees stream and by the balances stream (whose DELTA recalculates the
    // changed employees' balances).
    assert_eq!(
        sim.state
            .requests(&RequestFilter::tool(TOOL).path("/v1/employees/changed"))
            .len(),
        2
    );
    let lookup = c
        .lookup(
            &employees,
            &[
                (Model::Employees, live.to_string()),
                (Model::Employees, "987654321".into()),
            ],
        )
        .await
        .expect("lookup");
    assert_eq!(
        lookup.found.len(),
        1,
        "the live employee is found, the missing one is not"
    );

    let log = sim.state.requests(&RequestFilter::tool(TOOL));
    assert!(log.len() > 10, "the sync made its requests: {}", log.len());
    let mut errors: Vec<String> = log.iter().flat_map(|e| spec.check_request(e)).collect();
    errors.extend(log.iter().flat_map(quirks));
    errors.sort();
    errors.dedup();
    assert!(
        errors.is_empty(),
        "requests outside the contract:\n{}",
        errors.join("\n")
    );

    // One request of every kind the connector made, asked again, its answer checked.
    let mut kinds: BTreeMap<String, &LogEntry> = BTreeMap::new();
    for entry in &log {
        let kind = entry
            .path
            .split('/')
            .map(|s| {
                if s.chars().all(|c| c.is_ascii_digit()) {
                    "{n}"
                } else {
                    s
                }
            })
            .collect::<Vec<_>>()
            .join("/");
        kinds.entry(format!("{} {kind}", entry.method)).or_insert(entry);
    }
    let http = reqwest::Client::new();
    let root = sim.base_url(TOOL);
    let base = root.split("/api/gateway.php").next().expect("tool prefix").to_owned();
    let key = sim.state.credentials().bamboohr_api_key.clone();
    let mut checked = 0;
    for entry in kinds.values() {
        let url = format!("{base}{}?{}", entry.path, entry.query);
        let request = match entry.method.as_str() {
            "GET" => http.get(&url),
            // The report's body is not logged: ask for the connector's standard fields.
            "POST" => http.post(&url).json(&json!({"title": "contract", "fields": ["firstName", "lastName", "hireDate", "status", "department", "location"]})),
            other => panic!("unexpected method {other}"),
        };
        let resp = request
            .basic_auth(&key, Some("x"))
            .header("accept", "application/json")
            .send()
            .await
            .expect("request");
        let status = resp.status().as_u16();
        let body: Value = resp.json().await.expect("a JSON answer");
        errors.extend(spec.check_response(&entry.method, &entry.path, status, &body));
        checked += 1;
    }
    // The single-record endpoint a lookup uses, for a record that is gone: a documented 404.
    let gone = http
        .get(format!("{root}/v1/employees/987654321"))
        .basic_auth(&key, Some("x"))
        .header("accept", "application/json")
        .send()
        .await
        .expect("request");
    assert_eq!(gone.status().as_u16(), 404);
    // `GET /v1/meta/users`, which clients use to match users to employees.
    let users = http
        .get(format!("{root}/v1/meta/users"))
        .basic_auth(&key, Some("x"))
        .header("accept", "application/json")
        .send()
        .await
        .expect("request");
    let users_path = format!("{}/v1/meta/users", &root[base.len()..]);
    errors.extend(spec.check_response(
        "GET",
        &users_path,
        users.status().as_u16(),
        &users.json().await.expect("json"),
    ));
    assert!(checked >= 8, "every operation kind was checked: {checked}");
    assert!(
        errors.is_empty(),
        "answers outside the contract:\n{}",
        errors.join("\n")
    );
    sim.shutdown().await;
}

fn entry(method: &str, path: &str, query: &str, auth: Option<&str>, accept: Option<&str>) -> LogEntry {
    LogEntry {
        seq: 1,
        tool: TOOL,
        method: method.into(),
        path: path.into(),
        query: query.into(),
        auth_scheme: auth.map(str::to_owned),
        accept: accept.map(str::to_owned),
        status: 200,
        fault: None,
        at: chrono::Utc::now(),
        duration_ms: 1,
    }
}

/// The wrong requests a careless client sends are caught: an undocumented spelling of a path,
/// a parameter the operation does not take, a missing required one, no credentials, no Accept.
#[test]
fn wrong_requests_are_caught() {
    let spec = spec();
    let good = entry(
        "GET",
        "/api/gateway.php/demo/v1/hris/org/locations",
        "page=0&pageSize=500&expand=country",
        Some("Basic"),
        Some("application/json"),
    );
    assert_eq!(spec.check_request(&good), Vec::<String>::new());
    assert!(quirks(&good).is_empty());

    let slash = entry(
        "GET",
        "/api/gateway.php/demo/v1/employees/directory/",
        "",
        Some("Basic"),
        Some("application/json"),
    );
    assert!(
        spec.check_request(&slash)
            .iter()
            .any(|e| e.contains("not an operation")),
        "trailing slash"
    );

    let paged_lists = entry(
        "GET",
        "/api/gateway.php/demo/v1/meta/lists",
        "page=0",
        Some("Basic"),
        Some("application/json"),
    );
    assert!(
        spec.check_request(&paged_lists).iter().any(|e| e.contains("`page`")),
        "undeclared parameter"
    );

    let no_since = entry(
        "GET",
        "/api/gateway.php/demo/v1/employees/changed",
        "",
        Some("Basic"),
        Some("application/json"),
    );
    assert!(
        spec.check_request(&no_since).iter().any(|e| e.contains("`since`")),
        "required parameter"
    );

    // Basic (an API key) or an OAuth bearer token; nothing else.
    let bearer = entry(
        "GET",
        "/api/gateway.php/demo/v1/meta/fields",
        "",
        Some("Bearer"),
        Some("application/json"),
    );
    assert_eq!(spec.check_request(&bearer), Vec::<String>::new());
    let anonymous = entry(
        "GET",
        "/api/gateway.php/demo/v1/meta/fields",
        "",
        None,
        Some("application/json"),
    );
    assert!(
        spec.check_request(&anonymous)
            .iter()
            .any(|e| e.contains("authorization")),
        "auth scheme"
    );

    let xml = entry("GET", "/api/gateway.php/demo/v1/meta/fields", "", Some("Basic"), None);
    assert_eq!(spec.check_request(&xml), Vec::<String>::new());
    assert!(quirks(&xml).iter().any(|e| e.contains("Accept")), "missing Accept");

    let bad_enum = entry(
        "GET",
        "/api/gateway.php/demo/v1/hris/org/locations",
        "expand=city",
        Some("Basic"),
        Some("application/json"),
    );
    assert!(
        spec.check_request(&bad_enum).iter().any(|e| e.contains("`expand`")),
        "enum value"
    );
}
