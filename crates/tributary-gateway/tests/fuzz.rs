//! Fuzzing the read API's query strings and headers: whatever a client sends, every list
//! endpoint answers with a success envelope or a 4xx in Kombo's error envelope, never a 5xx,
//! on both mirror backends. `PROPTEST_CASES=5000 cargo test -p tributary-gateway --test fuzz`
//! searches longer.

use std::sync::Arc;
use std::time::Duration;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{Map, Value, json};
use tributary_gateway::{GatewayState, generate_api_key, hash_api_key};
use tributary_model::{Model, RunState, ScopeConfig, SyncType, ToolKind, record_id};
use tributary_store::testing::{fresh_sqlite_store, pg_store_or_skip};
use tributary_store::{MirrorStore, NewIntegration, PageWrite, PreparedRecord, RunWrite};

const HRIS: &str = "personio:fuzz";
const ATS: &str = "greenhouse:fuzz";
const FOREIGN: &str = "personio:elsewhere";

/// Every parameter name some endpoint knows, plus names none does.
const NAMES: &[&str] = &[
    "cursor",
    "page_size",
    "updated_after",
    "include_deleted",
    "ignore_unsupported_filters",
    "ids",
    "remote_ids",
    "employment_status",
    "employment_statuses",
    "group_ids",
    "legal_entity_ids",
    "work_location_ids",
    "work_emails",
    "personal_emails",
    "custom_fields",
    "types",
    "name_contains",
    "date_from",
    "date_until",
    "type_ids",
    "employee_id",
    "time_from",
    "time_until",
    "job_codes",
    "post_url",
    "status",
    "statuses",
    "employment_types",
    "visibilities",
    "remote_created_after",
    "email",
    "job_ids",
    "first_name",
    "last_name",
    "outcome",
    "outcomes",
    "job_remote_ids",
    "current_stage_ids",
    "emails",
    "limit",
    "offset",
    "",
    "page_size[]",
    "ids[0]",
];

const TRICKY: &[&str] = &[
    "'; DROP TABLE records; --",
    "%",
    "_",
    "\\",
    "null",
    "NULL",
    "true",
    "false",
    "0",
    "-1",
    "251",
    "9999999999999999999999",
    "1e3",
    "2024-02-30",
    "2024-13-01T00:00:00Z",
    "2024-05-01T25:61:00Z",
    "0000-00-00",
    "+275760-09-13T00:00:00Z",
    "2024-05-01T00:00:00.000+14:00",
    "{}",
    "{\"a\":1,\"b\":2}",
    "{\"a\":[1]}",
    "[1,2]",
    ",,,",
    " , ",
    "ACTIVE,",
    "ACTIVE,INACTIVE,LEAVE,PENDING",
    "TEAM,null",
    "ß‍👩‍💻",
    "\u{202e}abc",
    "a\u{0}b",
    "eyJ2IjoxfQ",
    "😀,😀",
];

/// Values some parameter accepts.
const VALID: &[&str] = &[
    "ACTIVE",
    "TEAM",
    "OPEN",
    "PENDING",
    "FULL_TIME",
    "PUBLIC",
    "true",
    "false",
    "10",
    "250",
    "2024-05-01",
    "2024-05-01T00:00:00.000Z",
    "Name",
    "ada@example.com",
    "{\"level\": 1}",
];

fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        // Values that pass validation reach the SQL.
        proptest::sample::select(VALID).prop_map(str::to_owned),
        proptest::sample::select(TRICKY).prop_map(str::to_owned),
        any::<i64>().prop_map(|n| n.to_string()),
        "\\PC{0,40}",
        "[A-Z_]{1,12}(,[A-Z_]{1,12}){0,3}",
        "[0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{1,9})?)?Z?",
        (1usize..6000).prop_map(|n| "x".repeat(n)),
    ]
}

/// The query parameters Kombo's document lists for `GET <path>`.
fn documented_params(path: &str) -> Vec<String> {
    static SPEC: std::sync::LazyLock<Value> = std::sync::LazyLock::new(|| {
        serde_json::from_str(include_str!("../../tributary-render/openapi/kombo-openapi.json"))
            .expect("the vendored document parses")
    });
    SPEC["paths"][path]["get"]["parameters"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| p["in"] == "query")
        .filter_map(|p| p["name"].as_str().map(str::to_owned))
        .collect()
}

/// Mostly the endpoint's own parameters (so requests get past name checks into the
/// database), sometimes anything.
fn name(model: Model) -> impl Strategy<Value = String> {
    prop_oneof![
        6 => proptest::sample::select(documented_params(model.api_path())),
        1 => proptest::sample::select(NAMES).prop_map(str::to_owned),
        1 => "\\PC{1,12}",
    ]
}

#[derive(Debug, Clone)]
struct Case {
    model: Model,
    integration: Option<String>,
    params: Vec<(String, String)>,
    /// A query string of raw, possibly invalid, percent-escapes instead of `params`.
    raw_query: Option<String>,
}

fn case() -> impl Strategy<Value = Case> {
    let integration = prop_oneof![
        6 => Just(Some(HRIS.to_owned())),
        6 => Just(Some(ATS.to_owned())),
        1 => Just(Some(FOREIGN.to_owned())),
        1 => Just(None),
        1 => "[ -~]{0,40}".prop_map(Some),
    ];
    let raw = prop_oneof![
        6 => Just(None),
        1 => proptest::collection::vec(any::<u8>(), 0..64)
            .prop_map(|bytes| Some(bytes.iter().map(|b| format!("%{b:02X}")).collect::<String>())),
        1 => "[ -~]{0,60}".prop_map(|s| Some(s.replace(['#', ' '], "+"))),
    ];
    let model_and_params = proptest::sample::select(Model::ALL)
        .prop_flat_map(|model| (Just(model), proptest::collection::vec((name(model), value()), 0..5)));
    (model_and_params, integration, raw).prop_map(|((model, params), integration, raw_query)| Case {
        model,
        integration,
        params,
        raw_query,
    })
}

fn record(integration: &str, model: Model, remote_id: &str, parent: Option<String>, data: Value) -> PreparedRecord {
    let data: Map<String, Value> = data.as_object().cloned().unwrap_or_default();
    let mut hash = [0u8; 16];
    hash[..remote_id.len().min(16)].copy_from_slice(&remote_id.as_bytes()[..remote_id.len().min(16)]);
    hash[15] = model as u8;
    PreparedRecord {
        model,
        id: record_id(integration, model, remote_id),
        remote_id: remote_id.into(),
        parent_id: parent,
        depends_on: Vec::new(),
        data,
        remote_data: Some(json!({"/raw": {"id": remote_id}})),
        remote_created_at: Some(chrono::Utc::now()),
        hash,
    }
}

/// A few records of every model, with the fields the filters read.
async fn seed(store: &dyn MirrorStore, integration: &str, models: &[Model]) {
    let lease = store
        .acquire_lease(integration, "fuzz", Duration::from_secs(60))
        .await
        .unwrap()
        .unwrap();
    let run = store.create_run(integration, SyncType::Full).await.unwrap();
    let run = store.start_run(&run.id, lease.fence, "fuzz").await.unwrap();
    let write = RunWrite {
        integration_id: integration.into(),
        run_id: run.id,
        fence: lease.fence,
        sync_type: SyncType::Full,
        started_at: run.started_at.unwrap(),
        renderer: None,
        render_at_end: false,
    };
    let id = |model, remote: &str| record_id(integration, model, remote);
    let mut records = Vec::new();
    for &model in models {
        for n in 0..4 {
            let parent = match model {
                Model::Employments | Model::TimeOffBalances => Some(id(Model::Employees, "0")),
                Model::Applications => Some(id(Model::Candidates, "0")),
                Model::ApplicationStages => Some(id(Model::Jobs, "0")),
                Model::Interviews | Model::Offers => Some(id(Model::Applications, "0")),
                _ => None,
            };
            records.push(record(
                integration,
                model,
                &n.to_string(),
                parent,
                json!({
                    "name": format!("Name {n} %_"), "type": if n == 0 { Value::Null } else { json!("TEAM") },
                    "first_name": "Ada", "last_name": "Lovelace", "work_email": "ada@example.com",
                    "email": "ADA@example.com", "employment_status": "ACTIVE", "status": "OPEN",
                    "outcome": "PENDING", "group_ids": [id(Model::Groups, "1")],
                    "custom_fields": {"level": n}, "start_date": "2024-05-01", "end_date": if n == 1 { Value::Null } else { json!("2024-05-03") },
                    "employee_id": id(Model::Employees, "0"), "type_id": id(Model::AbsenceTypes, "0"),
                    "job_id": id(Model::Jobs, "0"), "application_id": id(Model::Applications, "0"),
                    "candidate_id": id(Model::Candidates, "0"), "current_stage_id": id(Model::ApplicationStages, "0"),
                    "email_addresses": [{"email_address": "ada@example.com", "type": "PERSONAL"}, "not an object"],
                    "tag_ids": [id(Model::Tags, "0")], "user_ids": [id(Model::Users, "0")],
                    "hiring_team_members": [{"user_id": id(Model::Users, "0"), "hiring_team_roles": ["RECRUITER"]}],
                    "manager_id": id(Model::Employees, "0"),
                }),
            ));
        }
    }
    store
        .apply_page(
            &write,
            PageWrite {
                records,
                checkpoint: json!({}),
                scope_version: 1,
            },
        )
        .await
        .unwrap();
    store.finish_run(&write, RunState::Succeeded, None).await.unwrap();
}

async fn start(store: Arc<dyn MirrorStore>) -> (String, String) {
    let key = generate_api_key();
    store.create_api_key("fuzz", "fuzz", &hash_api_key(&key)).await.unwrap();
    for (id, tool, environment) in [
        (HRIS, ToolKind::Personio, "fuzz"),
        (ATS, ToolKind::Greenhouse, "fuzz"),
        (FOREIGN, ToolKind::Personio, "elsewhere"),
    ] {
        store
            .create_integration(NewIntegration {
                id: id.into(),
                tool,
                environment: environment.into(),
                base_url: "http://127.0.0.1:1".into(),
                credentials: json!({"client_id": "x", "client_secret": "y"}),
                scope_config: ScopeConfig::default(),
            })
            .await
            .unwrap();
    }
    let hris: Vec<Model> = Model::ALL
        .iter()
        .copied()
        .filter(|m| m.category() == ToolKind::Personio.category())
        .collect();
    let ats: Vec<Model> = Model::ALL
        .iter()
        .copied()
        .filter(|m| m.category() == ToolKind::Greenhouse.category())
        .collect();
    seed(&*store, HRIS, &hris).await;
    seed(&*store, ATS, &ats).await;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let state = GatewayState::new(store, b"fuzz cursor key".to_vec());
    let options = tributary_gateway::GatewayOptions {
        rate_limit_per_second: None,
        ..tributary_gateway::GatewayOptions::default()
    };
    tokio::spawn(async move { axum::serve(listener, tributary_gateway::router_with_options(state, options)).await });
    (base, key)
}

async fn check(http: &reqwest::Client, base: &str, key: &str, case: &Case) -> Result<(), TestCaseError> {
    let mut url = reqwest::Url::parse(&format!("{base}/v1{}", case.model.api_path())).unwrap();
    match &case.raw_query {
        Some(raw) => url.set_query(Some(raw)),
        None => {
            url.query_pairs_mut().extend_pairs(&case.params);
        }
    }
    let mut request = http.get(url.clone()).bearer_auth(key);
    if let Some(integration) = &case.integration {
        request = request.header("X-Integration-Id", integration.as_str());
    }
    let response = request
        .send()
        .await
        .map_err(|e| TestCaseError::fail(format!("{url}: {e}")))?;
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    prop_assert!(!status.is_server_error(), "{url} -> {status}: {text}");
    let body: Value = serde_json::from_str(&text)
        .map_err(|e| TestCaseError::fail(format!("{url} -> {status}, not JSON ({e}): {text}")))?;
    if status.is_success() {
        prop_assert_eq!(&body["status"], "success", "{} -> {}", url, text);
        prop_assert!(body["data"]["results"].is_array(), "{} -> {}", url, text);
        prop_assert!(body["data"]["next"].is_null() || body["data"]["next"].is_string());
    } else {
        prop_assert!(status.is_client_error(), "{url} -> {status}");
        prop_assert_eq!(&body["status"], "error", "{} -> {}", url, text);
        prop_assert!(body["error"]["code"].is_string(), "{} -> {}", url, text);
        prop_assert!(
            body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{} -> {}",
            url,
            text
        );
    }
    Ok(())
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn fuzz(runtime: &tokio::runtime::Runtime, store: Arc<dyn MirrorStore>) {
    let (base, key) = runtime.block_on(start(store));
    let http = reqwest::Client::new();
    // The known-nasty inputs, each on every endpoint, before the random search.
    for &model in Model::ALL {
        let integration = if model.category() == ToolKind::Personio.category() {
            HRIS
        } else {
            ATS
        };
        for name in documented_params(model.api_path()) {
            for value in TRICKY {
                let case = Case {
                    model,
                    integration: Some(integration.to_owned()),
                    params: vec![(name.clone(), (*value).to_owned())],
                    raw_query: None,
                };
                if let Err(e) = runtime.block_on(check(&http, &base, &key, &case)) {
                    panic!("{case:?}: {e}");
                }
            }
        }
    }
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(400);
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&case(), |case| runtime.block_on(check(&http, &base, &key, &case)))
        .unwrap();
}

#[test]
fn query_strings_never_cause_server_errors_postgres() {
    let runtime = runtime();
    let Some((store, _db)) = runtime.block_on(pg_store_or_skip()) else {
        return;
    };
    fuzz(&runtime, store);
}

#[test]
fn query_strings_never_cause_server_errors_sqlite() {
    let runtime = runtime();
    let (store, _file) = runtime.block_on(fresh_sqlite_store()).unwrap();
    fuzz(&runtime, store);
}
