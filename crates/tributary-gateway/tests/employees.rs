//! `GET /v1/hris/employees` end to end: the router on a real socket over a real mirror
//! (Postgres and SQLite), seeded through the store's write API, called with reqwest.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use reqwest::StatusCode;
use serde_json::{Map, Value, json};
use tributary_gateway::{GatewayState, PageSourceStats, generate_api_key, hash_api_key, router};
use tributary_model::{Model, RunState, ScopeConfig, SyncType, Timestamp, ToolKind, record_id};
use tributary_render::StoredRenderer;
use tributary_store::testing::sweep_unseen;
use tributary_store::{MirrorStore, NewIntegration, PageWrite, PreparedRecord, RenderHook, RunWrite};

const ACME: &str = "personio:acme";
const SCOPED: &str = "personio:scoped";
const FOREIGN: &str = "personio:foreign";
const DISABLED: &str = "personio:disabled";
const EMPLOYEES: usize = 25;

/// A running gateway over a seeded mirror.
struct Harness {
    base: String,
    http: reqwest::Client,
    key: String,
    /// Before the second sync, which changed employee 5 and deleted employee 24.
    before_second_sync: Timestamp,
    store: Arc<dyn MirrorStore>,
    state: GatewayState,
}

fn id(model: Model, remote_id: &str) -> String {
    record_id(ACME, model, remote_id)
}

fn employee_id(n: usize) -> String {
    id(Model::Employees, &n.to_string())
}

impl Harness {
    async fn start(store: Arc<dyn MirrorStore>) -> Self {
        let key = generate_api_key();
        store
            .create_api_key("env-a", "tests", &hash_api_key(&key))
            .await
            .unwrap();
        for (integration, environment, scope) in [
            (ACME, "env-a", ScopeConfig::default()),
            (FOREIGN, "env-b", ScopeConfig::default()),
            (
                DISABLED,
                "env-a",
                serde_json::from_value(json!({"read_models": [
                    {"id": "hris_employees", "scope_config_setting": "DISABLED"}
                ]}))
                .unwrap(),
            ),
            (
                SCOPED,
                "env-a",
                serde_json::from_value(json!({"read_models": [{"id": "hris_employees", "fields": [
                    {"id": "work_email", "scope_config_setting": "DISABLED"}
                ]}]}))
                .unwrap(),
            ),
        ] {
            store
                .create_integration(NewIntegration {
                    id: integration.into(),
                    tool: ToolKind::Personio,
                    environment: environment.into(),
                    base_url: "http://127.0.0.1:1".into(),
                    credentials: json!({"client_id": "x", "client_secret": "y"}),
                    scope_config: scope,
                })
                .await
                .unwrap();
        }
        let before_second_sync = seed(&*store).await;
        seed_scoped(&*store).await;

        let state = GatewayState::new(store.clone(), b"test cursor key, 32 bytes long!!".to_vec());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let app = router(state.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self {
            base,
            http: reqwest::Client::new(),
            key,
            before_second_sync,
            store,
            state,
        }
    }

    async fn get(&self, path: &str, integration: Option<&str>, query: &[(&str, &str)]) -> (StatusCode, Value) {
        let (status, text) = self.get_text(path, integration, query).await;
        (
            status,
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}")),
        )
    }

    async fn get_text(&self, path: &str, integration: Option<&str>, query: &[(&str, &str)]) -> (StatusCode, String) {
        let mut request = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.key)
            .query(query);
        if let Some(integration) = integration {
            request = request.header("X-Integration-Id", integration);
        }
        let response = request.send().await.unwrap();
        (response.status(), response.text().await.unwrap())
    }

    async fn employees(&self, query: &[(&str, &str)]) -> (StatusCode, Value) {
        self.get("/v1/hris/employees", Some(ACME), query).await
    }

    /// Result ids of a successful employees call.
    async fn employee_ids(&self, query: &[(&str, &str)]) -> Vec<String> {
        let (status, body) = self.employees(query).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        ids(&body)
    }
}

fn ids(body: &Value) -> Vec<String> {
    body["data"]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect()
}

fn sorted(mut ids: Vec<String>) -> Vec<String> {
    ids.sort();
    ids
}

fn assert_error(status: StatusCode, body: &Value, expect_status: StatusCode, code: &str) {
    assert_eq!(status, expect_status, "{body}");
    assert_eq!(body["status"], "error", "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(
        body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    assert!(body["error"]["title"].is_string(), "{body}");
    assert!(body["error"].as_object().unwrap().contains_key("log_url"), "{body}");
}

fn record(model: Model, remote_id: &str, data: Value) -> PreparedRecord {
    let data: Map<String, Value> = data.as_object().unwrap().clone();
    let mut hash = [0u8; 16];
    let digest = serde_json::to_vec(&data).unwrap();
    for (i, b) in digest.iter().enumerate() {
        hash[i % 16] = hash[i % 16].wrapping_mul(31).wrapping_add(*b);
    }
    PreparedRecord {
        model,
        id: id(model, remote_id),
        remote_id: remote_id.into(),
        parent_id: None,
        depends_on: Vec::new(),
        data,
        remote_data: Some(json!({"/v1/company/employees": {"id": remote_id}})),
        remote_created_at: None,
        hash,
    }
}

fn employee(n: usize, changed: bool) -> PreparedRecord {
    let status = if n % 5 == 4 { "INACTIVE" } else { "ACTIVE" };
    let groups: Vec<String> = match n % 3 {
        0 => vec![id(Model::Groups, "team")],
        1 => vec![id(Model::Groups, "team"), id(Model::Groups, "dept")],
        _ => vec![],
    };
    let mut rec = record(
        Model::Employees,
        &n.to_string(),
        json!({
            "employee_number": format!("E{n}"),
            "first_name": if changed { format!("Renamed{n}") } else { format!("First{n}") },
            "last_name": format!("Last{n}"),
            "display_full_name": format!("First{n} Last{n}"),
            "work_email": format!("First{n}.Last@Acme.com"),
            "personal_email": format!("p{n}@home.example"),
            "employment_status": status,
            "weekly_hours": 40,
            "manager_id": if n == 0 { Value::Null } else { json!(employee_id(0)) },
            "legal_entity_id": id(Model::LegalEntities, "le"),
            "work_location_id": id(Model::Locations, "hq"),
            "group_ids": groups,
            "home_address": {"zip_code": "12045", "city": "Berlin", "country": "DE"},
            "start_date": "2020-04-07T00:00:00.000Z",
            "custom_fields": {"cost_center": if n.is_multiple_of(2) { "even" } else { "odd" }, "level": n % 4},
            "integration_fields": [],
        }),
    );
    if n != 0 {
        rec.depends_on.push(employee_id(0));
    }
    rec.remote_created_at = Some(
        chrono::DateTime::parse_from_rfc3339("2020-04-07T12:32:01Z")
            .unwrap()
            .to_utc(),
    );
    rec
}

fn reference_records() -> Vec<PreparedRecord> {
    let mut employment = record(
        Model::Employments,
        "job-1",
        json!({"employee_id": employee_id(1), "job_title": "Engineer", "pay_rate": 85000, "pay_period": "YEAR",
               "pay_currency": "EUR", "effective_date": "2021-01-30T00:00:00.000Z", "custom_fields": {}, "integration_fields": []}),
    );
    employment.parent_id = Some(employee_id(1));
    let mut balance = record(
        Model::TimeOffBalances,
        "1:vacation",
        json!({"employee_id": employee_id(1), "type_id": id(Model::AbsenceTypes, "vacation"), "balance": 14,
               "balance_unit": "DAYS", "used": 3, "used_unit": "DAYS"}),
    );
    balance.parent_id = Some(employee_id(1));
    vec![
        record(
            Model::Groups,
            "team",
            json!({"name": "Customer Success", "type": "TEAM"}),
        ),
        record(
            Model::Groups,
            "dept",
            json!({"name": "Engineering", "type": "DEPARTMENT"}),
        ),
        record(
            Model::LegalEntities,
            "le",
            json!({"name": "ACME Inc.", "address": {"city": "Berlin", "country": "DE"}}),
        ),
        record(
            Model::Locations,
            "hq",
            json!({"name": "Kombo HQ", "type": "OFFICE", "address": {"city": "Berlin"}}),
        ),
        employment,
        balance,
    ]
}

/// A run whose writes keep stored renderings, as the engine's do.
async fn open_run(store: &dyn MirrorStore, integration: &str) -> RunWrite {
    let mut run = open_run_without_renderer(store, integration).await;
    run.renderer = Some(RenderHook(Arc::new(StoredRenderer)));
    run
}

async fn open_run_without_renderer(store: &dyn MirrorStore, integration: &str) -> RunWrite {
    let lease = store
        .acquire_lease(integration, "tests", Duration::from_secs(60))
        .await
        .unwrap()
        .unwrap();
    let run = store.create_run(integration, SyncType::Full).await.unwrap();
    let run = store.start_run(&run.id, lease.fence, "tests").await.unwrap();
    RunWrite {
        integration_id: integration.into(),
        run_id: run.id,
        fence: lease.fence,
        sync_type: SyncType::Full,
        started_at: run.started_at.unwrap(),
        renderer: None,
        render_at_end: false,
    }
}

/// Two full syncs of ACME; the second renames employee 5 and no longer sees employee 24.
/// Returns an instant between them.
async fn seed(store: &dyn MirrorStore) -> Timestamp {
    let run = open_run(store, ACME).await;
    let mut records = reference_records();
    records.extend((0..EMPLOYEES).map(|n| employee(n, false)));
    store
        .apply_page(
            &run,
            PageWrite {
                records,
                checkpoint: json!({"page": 1}),
                scope_version: 1,
            },
        )
        .await
        .unwrap();
    store.finish_run(&run, RunState::Succeeded, None).await.unwrap();

    tokio::time::sleep(Duration::from_millis(20)).await;
    let between = Utc::now();
    tokio::time::sleep(Duration::from_millis(20)).await;

    let run = open_run(store, ACME).await;
    let mut records = reference_records();
    records.extend((0..EMPLOYEES - 1).map(|n| employee(n, n == 5)));
    store
        .apply_page(
            &run,
            PageWrite {
                records,
                checkpoint: json!({"page": 1}),
                scope_version: 1,
            },
        )
        .await
        .unwrap();
    sweep_unseen(store, &run, &[Model::Employees]).await.unwrap();
    store.finish_run(&run, RunState::Succeeded, None).await.unwrap();
    between
}

async fn seed_scoped(store: &dyn MirrorStore) {
    let run = open_run(store, SCOPED).await;
    let mut rec = record(
        Model::Employees,
        "s1",
        json!({"first_name": "Scoped", "employment_status": "ACTIVE"}),
    );
    rec.id = record_id(SCOPED, Model::Employees, "s1");
    store
        .apply_page(
            &run,
            PageWrite {
                records: vec![rec],
                checkpoint: json!({}),
                scope_version: 1,
            },
        )
        .await
        .unwrap();
    store.finish_run(&run, RunState::Succeeded, None).await.unwrap();
}

// ---- the cases ------------------------------------------------------------------------------

async fn authentication(h: Harness) {
    let url = format!("{}/v1/hris/employees", h.base);
    let response = h.http.get(&url).header("X-Integration-Id", ACME).send().await.unwrap();
    let status = response.status();
    assert_error(
        status,
        &response.json().await.unwrap(),
        StatusCode::UNAUTHORIZED,
        "PLATFORM.AUTHENTICATION_INVALID",
    );

    let response = h
        .http
        .get(&url)
        .bearer_auth("trb_wrong")
        .header("X-Integration-Id", ACME)
        .send()
        .await
        .unwrap();
    let status = response.status();
    assert_error(
        status,
        &response.json().await.unwrap(),
        StatusCode::UNAUTHORIZED,
        "PLATFORM.AUTHENTICATION_INVALID",
    );

    let (status, body) = h.get("/v1/check-api-key", None, &[]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        json!({"status": "success", "data": {"environment_id": "env-a", "customer_id": "env-a"}})
    );
}

async fn integration_must_exist_in_the_keys_environment(h: Harness) {
    let (status, body) = h.get("/v1/hris/employees", None, &[]).await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "PLATFORM.INPUT_INVALID");
    for integration in [FOREIGN, "personio:nope"] {
        let (status, body) = h.get("/v1/hris/employees", Some(integration), &[]).await;
        assert_error(status, &body, StatusCode::NOT_FOUND, "PLATFORM.INTEGRATION_NOT_FOUND");
    }
}

async fn pagination_returns_each_row_once(h: Harness) {
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut query = vec![("page_size", "10")];
        if let Some(cursor) = cursor.as_deref() {
            query.push(("cursor", cursor));
        }
        let (status, body) = h.employees(&query).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        pages += 1;
        let page = ids(&body);
        assert!(page.len() <= 10);
        seen.extend(page);
        match body["data"]["next"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    // 24 live employees (employee 24 was deleted) in pages of 10.
    assert_eq!(pages, 3);
    assert_eq!(seen.len(), EMPLOYEES - 1);
    assert_eq!(seen, sorted(seen.clone()), "keyset order is by id");
    let expected: Vec<String> = sorted((0..EMPLOYEES - 1).map(employee_id).collect());
    assert_eq!(seen, expected);

    // The default page size is 100, so everything fits on one page.
    let (_, body) = h.employees(&[]).await;
    assert_eq!(ids(&body).len(), EMPLOYEES - 1);
    assert_eq!(body["data"]["next"], Value::Null);
}

async fn cursors_are_tamper_proof_and_bound_to_their_query(h: Harness) {
    let (_, body) = h.employees(&[("page_size", "5")]).await;
    let next = body["data"]["next"].as_str().unwrap().to_owned();

    // Flip one character of the payload.
    let mut forged: Vec<u8> = next.clone().into_bytes();
    forged[10] = if forged[10] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(forged).unwrap();
    let garbled = "eyJwYWdlIjoxMn0";
    for bad in [forged.as_str(), garbled, "%%%"] {
        let (status, body) = h.employees(&[("page_size", "5"), ("cursor", bad)]).await;
        assert_error(status, &body, StatusCode::BAD_REQUEST, "PLATFORM.INPUT_INVALID");
    }
    // Same cursor, other filters.
    let (status, body) = h
        .employees(&[("cursor", &next), ("employment_statuses", "ACTIVE")])
        .await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "PLATFORM.INPUT_INVALID");
    // Same cursor, other integration of the same environment.
    let (status, body) = h.get("/v1/hris/employees", Some(SCOPED), &[("cursor", &next)]).await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "PLATFORM.INPUT_INVALID");
    // A different page size with the same filters is fine.
    let (status, body) = h.employees(&[("cursor", &next), ("page_size", "7")]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(ids(&body).len(), 7);
}

async fn bad_parameters_are_input_errors(h: Harness) {
    for query in [
        vec![("page_size", "0")],
        vec![("page_size", "251")],
        vec![("page_size", "ten")],
        vec![("updated_after", "yesterday")],
        vec![("updated_after", "2024-13-45T00:00:00.000Z")],
        vec![("include_deleted", "maybe")],
        vec![("employment_statuses", "ACTIVE,RETIRED")],
        vec![("employment_status", "active")],
        vec![("custom_fields", "{\"a\": [1]}")],
        vec![("custom_fields", "not json")],
        vec![("ids", "a"), ("ids", "b")],
    ] {
        let (status, body) = h.employees(&query).await;
        assert_error(status, &body, StatusCode::BAD_REQUEST, "PLATFORM.INPUT_INVALID");
    }
    let (status, body) = h.employees(&[("updated_after", "yesterday")]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["error"]["message"].as_str().unwrap().contains("updated_after"),
        "{body}"
    );

    let (status, body) = h.get("/v1/hris/nothing-here", Some(ACME), &[]).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(body["status"], "error");
    let response = h
        .http
        .post(format!("{}/v1/hris/employees", h.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "error");
}

async fn updated_after_and_include_deleted(h: Harness) {
    let between = h
        .before_second_sync
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    assert_eq!(
        h.employee_ids(&[("updated_after", &between)]).await,
        vec![employee_id(5)]
    );
    assert_eq!(
        h.employee_ids(&[("updated_after", &between), ("include_deleted", "true")])
            .await,
        sorted(vec![employee_id(5), employee_id(24)])
    );
    assert_eq!(h.employee_ids(&[]).await.len(), EMPLOYEES - 1);
    assert_eq!(h.employee_ids(&[("include_deleted", "true")]).await.len(), EMPLOYEES);

    let (_, body) = h
        .employees(&[("ids", &employee_id(24)), ("include_deleted", "true")])
        .await;
    let deleted = &body["data"]["results"][0];
    assert!(
        deleted["remote_deleted_at"]
            .as_str()
            .is_some_and(|at| at.ends_with('Z') && at.len() == 24),
        "{deleted}"
    );
    let (_, body) = h.employees(&[("ids", &employee_id(5))]).await;
    assert_eq!(body["data"]["results"][0]["first_name"], "Renamed5");
}

async fn filters(h: Harness) {
    let inactive: Vec<String> = sorted([4, 9, 14, 19].iter().map(|n| employee_id(*n)).collect());
    assert_eq!(h.employee_ids(&[("employment_statuses", "INACTIVE")]).await, inactive);
    assert_eq!(h.employee_ids(&[("employment_status", "INACTIVE")]).await, inactive);
    assert_eq!(
        h.employee_ids(&[("employment_statuses", "INACTIVE,ACTIVE")])
            .await
            .len(),
        EMPLOYEES - 1
    );

    assert_eq!(
        h.employee_ids(&[("work_emails", "FIRST3.LAST@acme.COM")]).await,
        vec![employee_id(3)]
    );
    assert_eq!(
        h.employee_ids(&[("personal_emails", "p3@home.example, P7@HOME.example")])
            .await,
        sorted(vec![employee_id(3), employee_id(7)])
    );
    assert_eq!(
        h.employee_ids(&[("ids", &format!("{},{}", employee_id(1), employee_id(2)))])
            .await
            .len(),
        2
    );
    assert_eq!(
        h.employee_ids(&[("remote_ids", "3,4")]).await,
        sorted(vec![employee_id(3), employee_id(4)])
    );
    assert_eq!(
        h.employee_ids(&[("legal_entity_ids", &id(Model::LegalEntities, "le"))])
            .await
            .len(),
        EMPLOYEES - 1
    );
    assert!(h.employee_ids(&[("work_location_ids", "nowhere")]).await.is_empty());
    // AND across filters.
    assert_eq!(
        h.employee_ids(&[("remote_ids", "3,4"), ("employment_statuses", "INACTIVE")])
            .await,
        vec![employee_id(4)]
    );

    // Paging through a filtered set keeps the filter.
    let (_, body) = h
        .employees(&[("employment_statuses", "INACTIVE"), ("page_size", "3")])
        .await;
    let next = body["data"]["next"].as_str().unwrap().to_owned();
    let rest = h
        .employee_ids(&[
            ("employment_statuses", "INACTIVE"),
            ("page_size", "3"),
            ("cursor", &next),
        ])
        .await;
    assert_eq!(rest, inactive[3..].to_vec());
}

/// `group_ids` (array membership) and `custom_fields` (an entry of an object field) use
/// `FieldMatch::ArrayContainsAny` / `EntryEquals` / `EntryIsNull` of the store.
async fn group_and_custom_field_filters(h: Harness) {
    // Employees 1, 4, 7, ... are in the department; 0, 1, 3, 4, ... in the team.
    let dept: Vec<String> = sorted((0..EMPLOYEES - 1).filter(|n| n % 3 == 1).map(employee_id).collect());
    assert_eq!(h.employee_ids(&[("group_ids", &id(Model::Groups, "dept"))]).await, dept);
    let any: Vec<String> = sorted((0..EMPLOYEES - 1).filter(|n| n % 3 != 2).map(employee_id).collect());
    assert_eq!(
        h.employee_ids(&[(
            "group_ids",
            &format!("{},{}", id(Model::Groups, "dept"), id(Model::Groups, "team"))
        )])
        .await,
        any
    );

    let odd: Vec<String> = sorted((0..EMPLOYEES - 1).filter(|n| n % 2 == 1).map(employee_id).collect());
    assert_eq!(
        h.employee_ids(&[("custom_fields", r#"{"cost_center":"odd"}"#)]).await,
        odd
    );
    let level3: Vec<String> = sorted((0..EMPLOYEES - 1).filter(|n| n % 4 == 3).map(employee_id).collect());
    assert_eq!(h.employee_ids(&[("custom_fields", r#"{"level":3}"#)]).await, level3);
    assert_eq!(
        h.employee_ids(&[("custom_fields", r#"{"missing":null}"#)]).await.len(),
        EMPLOYEES - 1
    );
    assert!(
        h.employee_ids(&[("custom_fields", r#"{"cost_center":null}"#)])
            .await
            .is_empty()
    );
}

async fn unsupported_filters_and_disabled_models(h: Harness) {
    let scoped = |query: Vec<(&'static str, &'static str)>| {
        let h = &h;
        async move {
            let (status, body) = h.get("/v1/hris/employees", Some(SCOPED), &query).await;
            assert_eq!(status, StatusCode::OK, "{body}");
            ids(&body).len()
        }
    };
    // `work_email` is disabled by scope: filtering on it filters out everything, unless asked
    // to ignore such filters.
    assert_eq!(scoped(vec![]).await, 1);
    assert_eq!(scoped(vec![("work_emails", "x@y.z")]).await, 0);
    assert_eq!(
        scoped(vec![("work_emails", "x@y.z"), ("ignore_unsupported_filters", "true")]).await,
        1
    );

    let (status, body) = h.get("/v1/hris/employees", Some(DISABLED), &[]).await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "INTEGRATION.MODEL_DISABLED");
}

async fn nested_data_and_spec_shape(h: Harness) {
    let (status, text) = h
        .get_text("/v1/hris/employees", Some(ACME), &[("ids", &employee_id(1))])
        .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    // Key order follows the schema: status, data.next, data.results, then the employee's
    // fields in the order GetHrisEmployeesPositiveResponse lists them.
    assert!(
        text.starts_with(r#"{"status":"success","data":{"next":null,"results":[{"id":""#),
        "{text}"
    );
    let order = [
        "\"remote_id\"",
        "\"employee_number\"",
        "\"first_name\"",
        "\"work_email\"",
        "\"manager_id\"",
        "\"home_address\"",
        "\"changed_at\"",
        "\"custom_fields\"",
        "\"remote_data\"",
        "\"employments\"",
        "\"time_off_balances\"",
        "\"manager\"",
        "\"groups\"",
        "\"legal_entity\"",
        "\"teams\"",
        "\"work_location\"",
    ];
    let positions: Vec<usize> = order
        .iter()
        .map(|key| text.find(key).unwrap_or_else(|| panic!("{key}: {text}")))
        .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{positions:?} {text}");

    let body: Value = serde_json::from_str(&text).unwrap();
    let e = &body["data"]["results"][0];
    let object = e.as_object().unwrap();
    assert!(!object.contains_key("group_ids"));
    // Required-but-unknown fields are null, not missing; optional unknown ones are absent.
    for required in [
        "nationality",
        "ssn",
        "tax_id",
        "avatar",
        "date_of_birth",
        "termination_date",
        "mobile_phone_number",
    ] {
        assert_eq!(object.get(required), Some(&Value::Null), "{required}");
    }
    assert!(!object.contains_key("bank_accounts") && !object.contains_key("gender"));
    assert_eq!(e["remote_id"], "1");
    assert_eq!(e["remote_created_at"], "2020-04-07T12:32:01.000Z");
    assert!(
        e["changed_at"]
            .as_str()
            .is_some_and(|at| at.len() == 24 && at.ends_with('Z')),
        "{e}"
    );
    assert_eq!(e["remote_deleted_at"], Value::Null);
    assert_eq!(e["remote_data"], json!({"/v1/company/employees": {"id": "1"}}));
    assert_eq!(e["integration_fields"], json!([]));
    assert_eq!(e["custom_fields"], json!({"cost_center": "odd", "level": 1}));

    let employment = &e["employments"][0];
    assert_eq!(e["employments"].as_array().unwrap().len(), 1);
    assert_eq!(employment["id"], id(Model::Employments, "job-1"));
    assert_eq!(employment["employee_id"], employee_id(1));
    assert_eq!(employment["pay_rate"], 85000);
    assert!(employment.get("remote_created_at").is_none());
    let balance = &e["time_off_balances"][0];
    assert_eq!(balance["balance"], 14);
    assert_eq!(balance["type_id"], id(Model::AbsenceTypes, "vacation"));

    assert_eq!(
        e["manager"],
        json!({"first_name": "First0", "last_name": "Last0", "display_full_name": "First0 Last0", "id": employee_id(0),
               "employee_number": "E0", "work_email": "First0.Last@Acme.com", "remote_id": "0",
               "employment_status": "ACTIVE", "termination_date": null})
    );
    let groups = json!([
        {"id": id(Model::Groups, "team"), "remote_id": "team", "name": "Customer Success", "type": "TEAM"},
        {"id": id(Model::Groups, "dept"), "remote_id": "dept", "name": "Engineering", "type": "DEPARTMENT"},
    ]);
    assert_eq!(e["groups"], groups);
    assert_eq!(e["teams"], groups);
    assert_eq!(
        e["legal_entity"],
        json!({"id": id(Model::LegalEntities, "le"), "remote_id": "le", "name": "ACME Inc.",
               "address": {"city": "Berlin", "country": "DE"}})
    );
    let location = &e["work_location"];
    assert_eq!(location["name"], "Kombo HQ");
    assert_eq!(location["type"], "OFFICE");
    assert_eq!(location["remote_deleted_at"], Value::Null);

    // Employee 0 has no manager; employee 2 no groups.
    let (_, body) = h
        .employees(&[("ids", &format!("{},{}", employee_id(0), employee_id(2)))])
        .await;
    for e in body["data"]["results"].as_array().unwrap() {
        if e["id"] == employee_id(0) {
            assert_eq!(e["manager"], Value::Null);
        } else {
            assert_eq!(e["groups"], json!([]));
            assert_eq!(e["employments"], json!([]));
        }
    }
}

/// The group names nested in every employee's `groups`, for the group `team`.
async fn nested_team_names(h: &Harness) -> Vec<String> {
    let (status, body) = h.employees(&[("page_size", "100")]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let team = id(Model::Groups, "team");
    body["data"]["results"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|e| e["groups"].as_array().unwrap().clone())
        .filter(|g| g["id"] == team.as_str())
        .map(|g| g["name"].as_str().unwrap().to_owned())
        .collect()
}

/// Writes the group `team` renamed, alone, in a run with or without a renderer.
async fn rename_team(h: &Harness, name: &str, with_renderer: bool) {
    let run = if with_renderer {
        open_run(&*h.store, ACME).await
    } else {
        open_run_without_renderer(&*h.store, ACME).await
    };
    let group = record(Model::Groups, "team", json!({"name": name, "type": "TEAM"}));
    let page = PageWrite {
        records: vec![group],
        checkpoint: json!({"page": 1}),
        scope_version: 1,
    };
    assert_eq!(h.store.apply_page(&run, page).await.unwrap().updated, 1);
    h.store.finish_run(&run, RunState::Succeeded, None).await.unwrap();
}

/// Pages come from the renderings the writes stored, and a write re-renders what nests the
/// records it changed even when those do not change themselves (an employee's groups move
/// neither its data nor, by Kombo's rules, its `updated_at`). A write without a renderer
/// leaves them pending: served live, the same answer.
async fn stored_renderings_follow_what_they_nest(h: Harness) {
    let members = nested_team_names(&h).await;
    assert!(
        members.len() > 5 && members.iter().all(|n| n == "Customer Success"),
        "{members:?}"
    );
    let served = h.state.page_source_stats();
    assert_eq!(served, PageSourceStats { stored: 24, live: 0 });

    rename_team(&h, "Renamed team", true).await;
    let renamed = nested_team_names(&h).await;
    assert_eq!(renamed.len(), members.len());
    assert!(renamed.iter().all(|n| n == "Renamed team"), "{renamed:?}");
    assert_eq!(h.state.page_source_stats(), PageSourceStats { stored: 48, live: 0 });

    rename_team(&h, "Renamed again", false).await;
    let again = nested_team_names(&h).await;
    assert!(again.iter().all(|n| n == "Renamed again"), "{again:?}");
    let served = h.state.page_source_stats();
    assert_eq!(
        served.live,
        members.len() as u64,
        "the members' renderings are pending: rendered live"
    );
    assert_eq!(served.stored, 48 + 24 - members.len() as u64);
}

async fn health_ready_and_request_ids(h: Harness) {
    for path in ["/health", "/ready"] {
        let response = h.http.get(format!("{}{path}", h.base)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert!(response.headers().contains_key("x-request-id"));
    }
    let response = h
        .http
        .get(format!("{}/v1/check-api-key", h.base))
        .bearer_auth(&h.key)
        .header("x-request-id", "req-123")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "req-123");
}

// ---- one suite, two backends ------------------------------------------------------------------

macro_rules! backends {
    ($($case:ident),* $(,)?) => {
        mod postgres {
            $(
                #[tokio::test]
                async fn $case() {
                    let Some((store, _db)) = tributary_store::testing::pg_store_or_skip().await else { return };
                    super::$case(super::Harness::start(store).await).await;
                }
            )*
        }
        mod sqlite {
            $(
                #[tokio::test]
                async fn $case() {
                    let (store, _file) = tributary_store::testing::fresh_sqlite_store().await.unwrap();
                    super::$case(super::Harness::start(store).await).await;
                }
            )*
        }
    };
}

backends!(
    authentication,
    integration_must_exist_in_the_keys_environment,
    pagination_returns_each_row_once,
    cursors_are_tamper_proof_and_bound_to_their_query,
    bad_parameters_are_input_errors,
    updated_after_and_include_deleted,
    filters,
    group_and_custom_field_filters,
    unsupported_filters_and_disabled_models,
    nested_data_and_spec_shape,
    stored_renderings_follow_what_they_nest,
    health_ready_and_request_ids,
);
