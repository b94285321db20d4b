//! The admin half of the operator API end to end: integrations and API keys created, changed
//! and revoked over HTTP on a real mirror (Postgres and SQLite), with the gateway merged in as
//! `tributary serve` does, so a key made here is tried against the read API. A few checks read
//! the database beneath the store, to see what it really keeps.

use std::sync::Arc;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tributary_model::{Model, RunState, SyncType};
use tributary_operator::{OperatorState, router};
use tributary_queue::{EmbeddedCoordinator, MemoryQueue};
use tributary_store::MirrorStore;
use tributary_store::testing::{self, TestDatabase, TestFile};

mod support;

const TOKEN: &str = "admin-test-token";
/// Appears in credentials only: found anywhere else, it leaked.
const SECRET: &str = "s3cret-client-secret-value";

enum Raw {
    Pg(sqlx::PgPool, #[allow(dead_code)] TestDatabase),
    Sqlite(sqlx::SqlitePool, #[allow(dead_code)] TestFile),
}

/// One bytes column read straight from the backend's tables; the two SQL texts differ only in
/// their placeholder syntax.
macro_rules! raw_bytes {
    ($h:expr, $pg:literal, $sqlite:literal, $bind:expr) => {{
        let bytes: Vec<u8> = match &$h.raw {
            Raw::Pg(pool, _) => sqlx::query_scalar($pg)
                .bind($bind)
                .fetch_one(pool)
                .await
                .expect("raw read"),
            Raw::Sqlite(pool, _) => sqlx::query_scalar($sqlite)
                .bind($bind)
                .fetch_one(pool)
                .await
                .expect("raw read"),
        };
        bytes
    }};
}

struct Harness {
    base: String,
    http: reqwest::Client,
    store: Arc<dyn MirrorStore>,
    queue: Arc<MemoryQueue>,
    coordinator: Arc<EmbeddedCoordinator>,
    raw: Raw,
}

impl Harness {
    async fn postgres() -> Option<Self> {
        let (store, db) = testing::pg_store_concrete_or_skip().await?;
        let pool = store.pool().clone();
        Some(Self::start(Arc::new(store), Raw::Pg(pool, db)).await)
    }

    async fn sqlite() -> Self {
        let (store, file) = testing::fresh_sqlite_store_concrete().await.expect("fresh SQLite file");
        let pool = store.pool().clone();
        Self::start(Arc::new(store), Raw::Sqlite(pool, file)).await
    }

    async fn start(store: Arc<dyn MirrorStore>, raw: Raw) -> Self {
        let queue = Arc::new(MemoryQueue::new());
        let coordinator = Arc::new(EmbeddedCoordinator::new(store.clone()));
        let mut harness = Self {
            base: String::new(),
            http: reqwest::Client::new(),
            store,
            queue,
            coordinator,
            raw,
        };
        harness.base = harness.serve(Some(TOKEN)).await;
        harness
    }

    /// The gateway with the operator API merged in, as `tributary serve` builds it.
    async fn serve(&self, token: Option<&str>) -> String {
        let ops = OperatorState::new(
            self.store.clone(),
            self.queue.clone(),
            self.coordinator.clone(),
            token.map(str::to_owned),
        );
        let gateway = tributary_gateway::GatewayState::new(self.store.clone(), b"cursor-key".to_vec());
        let app = tributary_gateway::router(gateway).merge(router(ops));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        base
    }

    /// A call to the operator API with the admin token; the raw text comes back too, to look
    /// for what must never be in it.
    async fn call_text(&self, method: Method, path: &str, body: Option<&str>) -> (StatusCode, Value, String) {
        let mut request = self
            .http
            .request(method.clone(), format!("{}/ops/v1{path}", self.base))
            .bearer_auth(TOKEN);
        if let Some(body) = body {
            request = request.header("content-type", "application/json").body(body.to_owned());
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        let value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {status} {text}"));
        support::contract().check(method.as_str(), path, status.as_u16(), &value);
        (status, value, text)
    }

    async fn call(&self, method: Method, path: &str, body: Option<&str>) -> (StatusCode, Value) {
        let (status, value, _) = self.call_text(method, path, body).await;
        (status, value)
    }

    /// `data` of a call that must succeed with `status`; its text must not hold the secret.
    async fn ok(&self, method: Method, path: &str, body: Option<&str>, status: StatusCode) -> Value {
        let (got, value, text) = self.call_text(method.clone(), path, body).await;
        assert_eq!(got, status, "{method} {path}: {value}");
        assert_eq!(value["status"], "success", "{value}");
        assert!(
            !text.contains(SECRET),
            "{method} {path} returned the credentials: {text}"
        );
        value["data"].clone()
    }

    async fn create(&self, body: Value) -> Value {
        self.ok(
            Method::POST,
            "/integrations",
            Some(&body.to_string()),
            StatusCode::CREATED,
        )
        .await
    }

    /// `GET /v1/check-api-key` on the gateway with `key`.
    async fn check_key(&self, key: &str) -> (StatusCode, Value) {
        let response = self
            .http
            .get(format!("{}/v1/check-api-key", self.base))
            .bearer_auth(key)
            .send()
            .await
            .unwrap();
        let status = response.status();
        (status, response.json().await.unwrap())
    }

    async fn raw_credentials(&self, id: &str) -> Vec<u8> {
        raw_bytes!(
            self,
            "SELECT credentials_ciphertext FROM integrations WHERE id = $1",
            "SELECT credentials_ciphertext FROM integrations WHERE id = ?1",
            id
        )
    }

    async fn raw_key_hash(&self, id: &str) -> Vec<u8> {
        raw_bytes!(
            self,
            "SELECT key_hash FROM api_keys WHERE id = $1",
            "SELECT key_hash FROM api_keys WHERE id = ?1",
            id
        )
    }
}

fn assert_error(got: (StatusCode, Value), status: StatusCode, code: &str) -> String {
    let (got_status, body) = got;
    assert_eq!(got_status, status, "{body}");
    assert_eq!(body["status"], "error", "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(body["error"]["title"].is_string(), "{body}");
    assert!(body["error"]["log_url"].is_null(), "{body}");
    let message = body["error"]["message"].as_str().unwrap().to_owned();
    assert!(!message.is_empty(), "{body}");
    message
}

fn personio(id: &str, environment: &str) -> Value {
    json!({
        "id": id,
        "tool": "personio",
        "environment": environment,
        "base_url": "https://api.personio.de",
        "credentials": {"client_id": "acme-client", "client_secret": SECRET},
    })
}

fn results(data: &Value) -> Vec<Value> {
    data["results"].as_array().unwrap().clone()
}

const VIEW_KEYS: [&str; 6] = ["base_url", "created_at", "environment", "id", "scope_config", "tool"];

fn keys(view: &Value) -> Vec<String> {
    let mut keys: Vec<String> = view.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    keys
}

// ---- the cases ----------------------------------------------------------------------------------

async fn integrations_are_created_listed_and_shown(h: Harness) {
    let mut body = personio("personio:acme", "production");
    body["scope_config"] = json!({"read_models": [
        {"id": "hris_absences", "scope_config_setting": "DISABLED"},
        {"id": "hris_employees", "fields": [{"id": "date_of_birth", "scope_config_setting": "DISABLED"}]}
    ]});
    let created = h.create(body).await;
    assert_eq!(keys(&created), VIEW_KEYS, "no credentials, no fence: {created}");
    assert_eq!(created["id"], "personio:acme");
    assert_eq!(created["tool"], "personio");
    assert_eq!(created["environment"], "production");
    assert_eq!(created["base_url"], "https://api.personio.de");
    assert!(created["created_at"].is_string());
    let stored = h.store.get_integration("personio:acme").await.unwrap().unwrap();
    assert!(!stored.scope_config.model_enabled(Model::Absences));
    assert_eq!(
        stored.scope_config.disabled_fields(Model::Employees),
        vec!["date_of_birth"]
    );
    assert_eq!(
        created["scope_config"],
        serde_json::to_value(&stored.scope_config).unwrap()
    );

    // The credentials are kept, sealed: the store opens them, the column does not show them.
    assert_eq!(
        h.store.integration_credentials("personio:acme").await.unwrap(),
        json!({"client_id": "acme-client", "client_secret": SECRET})
    );
    let sealed = h.raw_credentials("personio:acme").await;
    assert!(!sealed.is_empty());
    let sealed = String::from_utf8_lossy(&sealed);
    assert!(
        !sealed.contains(SECRET) && !sealed.contains("acme-client"),
        "stored in clear"
    );

    // Its schedules exist and are due, so a running scheduler syncs it at its next tick.
    let schedules = h.store.list_schedules("personio:acme").await.unwrap();
    let mut types: Vec<SyncType> = schedules.iter().map(|s| s.sync_type).collect();
    types.sort_by_key(|t| t.as_str());
    assert_eq!(types, vec![SyncType::Delta, SyncType::Full]);
    let now = chrono::Utc::now();
    assert!(schedules.iter().all(|s| s.next_due_at <= now), "{schedules:?}");
    let claimed = h.store.claim_due_runs(now, "test-scheduler", 10).await.unwrap();
    assert_eq!(claimed.len(), 2, "both types are claimed at once");

    // BambooHR gets FULL and DELTA schedules too; no scope config means everything on.
    let bamboo = h
        .create(json!({
            "id": "bamboohr:initech",
            "tool": "bamboohr",
            "environment": "staging",
            "base_url": "https://api.bamboohr.com/api/gateway.php/initech",
            "credentials": {"api_key": SECRET},
            "scope_config": null,
        }))
        .await;
    assert_eq!(bamboo["scope_config"], json!({"read_models": []}));
    let schedules = h.store.list_schedules("bamboohr:initech").await.unwrap();
    let mut types: Vec<SyncType> = schedules.iter().map(|s| s.sync_type).collect();
    types.sort_by_key(|t| t.as_str());
    assert_eq!(types, vec![SyncType::Delta, SyncType::Full]);
    let greenhouse = json!({
        "id": "greenhouse:globex",
        "tool": "greenhouse",
        "environment": "production",
        "base_url": "http://127.0.0.1:7070/greenhouse/",
        "credentials": {"client_id": "globex", "client_secret": SECRET},
    });
    h.create(greenhouse).await;
    // A Harvest v1/v2 key: those APIs were switched off, and the answer says what to create.
    let legacy = json!({
        "id": "greenhouse:legacy",
        "tool": "greenhouse",
        "environment": "production",
        "base_url": "https://harvest.greenhouse.io",
        "credentials": {"api_key": SECRET},
    });
    let message = assert_error(
        h.call(Method::POST, "/integrations", Some(&legacy.to_string())).await,
        StatusCode::BAD_REQUEST,
        "PLATFORM.INPUT_INVALID",
    );
    assert!(
        message.contains("31 August 2026")
            && message.contains("Harvest V3 (OAuth)")
            && message.contains("client_secret"),
        "{message}"
    );
    assert!(!message.contains(SECRET), "{message}");

    // Listed by id, all or by environment; shown one by one in the same shape.
    let all = h.ok(Method::GET, "/integrations", None, StatusCode::OK).await;
    let ids: Vec<Value> = results(&all).iter().map(|i| i["id"].clone()).collect();
    assert_eq!(
        ids,
        vec![
            json!("bamboohr:initech"),
            json!("greenhouse:globex"),
            json!("personio:acme")
        ]
    );
    for row in results(&all) {
        assert_eq!(keys(&row), VIEW_KEYS, "{row}");
    }
    let production = h
        .ok(
            Method::GET,
            "/integrations?environment=production",
            None,
            StatusCode::OK,
        )
        .await;
    let ids: Vec<Value> = results(&production).iter().map(|i| i["id"].clone()).collect();
    assert_eq!(ids, vec![json!("greenhouse:globex"), json!("personio:acme")]);
    let none = h
        .ok(Method::GET, "/integrations?environment=nowhere", None, StatusCode::OK)
        .await;
    assert!(results(&none).is_empty());
    let one = h
        .ok(Method::GET, "/integrations/personio:acme", None, StatusCode::OK)
        .await;
    assert_eq!(one, created);
    assert_error(
        h.call(Method::GET, "/integrations/personio:nobody", None).await,
        StatusCode::NOT_FOUND,
        "PLATFORM.INTEGRATION_NOT_FOUND",
    );

    // The same id again is a conflict, and changes nothing.
    let mut again = personio("personio:acme", "staging");
    again["credentials"] = json!({"client_id": "other", "client_secret": "other"});
    let message = assert_error(
        h.call(Method::POST, "/integrations", Some(&again.to_string())).await,
        StatusCode::CONFLICT,
        "PLATFORM.INTEGRATION_ALREADY_EXISTS",
    );
    assert!(message.contains("personio:acme"), "{message}");
    let stored = h.store.get_integration("personio:acme").await.unwrap().unwrap();
    assert_eq!(stored.environment, "production");
    assert_eq!(
        h.store.integration_credentials("personio:acme").await.unwrap()["client_secret"],
        SECRET
    );
}

async fn scope_config_is_replaced(h: Harness) {
    h.create(personio("personio:acme", "production")).await;
    let scope = json!({"read_models": [
        {"id": "hris_absences", "scope_config_setting": "DISABLED"},
        {"id": "hris_employees", "scope_config_setting": "ENABLED", "opted_out_by_customer": false, "fields": [
            {"id": "date_of_birth", "scope_config_setting": "OPTIONAL", "opted_out_by_customer": true},
            {"id": "nationality", "scope_config_setting": "OPTIONAL"}
        ]}
    ]});
    let data = h
        .ok(
            Method::PUT,
            "/integrations/personio:acme/scope-config",
            Some(&scope.to_string()),
            StatusCode::OK,
        )
        .await;
    assert_eq!(data["id"], "personio:acme");
    assert_eq!(data["scope_config"]["read_models"][0]["id"], "hris_absences");
    assert_eq!(
        data["scope_config"]["read_models"][0]["scope_config_setting"],
        "DISABLED"
    );
    let stored = h.store.get_integration("personio:acme").await.unwrap().unwrap();
    assert!(!stored.scope_config.model_enabled(Model::Absences));
    assert_eq!(
        stored.scope_config.disabled_fields(Model::Employees),
        vec!["date_of_birth"]
    );
    // A complete sync is queued, so the new scope reaches every stored record.
    let open = h
        .store
        .open_run("personio:acme", SyncType::Full)
        .await
        .unwrap()
        .expect("a FULL run is queued for the new scope");
    assert_eq!(open.state, RunState::Queued);

    let version = stored.scope_version;
    // An empty body is no reset (issue 12): it would quietly turn everything back on.
    let message = assert_error(
        h.call(Method::PUT, "/integrations/personio:acme/scope-config", Some("{}"))
            .await,
        StatusCode::BAD_REQUEST,
        "PLATFORM.INPUT_INVALID",
    );
    assert!(message.contains("read_models"), "{message}");
    let stored = h.store.get_integration("personio:acme").await.unwrap().unwrap();
    assert!(
        !stored.scope_config.model_enabled(Model::Absences),
        "`{{}}` reset nothing"
    );
    assert_eq!(stored.scope_version, version);
    // Names the tool does not have disable nothing, so they are refused, each named.
    let message = assert_error(
        h.call(
            Method::PUT,
            "/integrations/personio:acme/scope-config",
            Some(
                &json!({"read_models": [{"id": "hris_employees", "fields": [
                    {"id": "dateOfBirth", "scope_config_setting": "DISABLED"},
                    {"id": "ssn ", "scope_config_setting": "DISABLED"},
                    {"id": "home_address.city", "scope_config_setting": "DISABLED"}
                ]}]})
                .to_string(),
            ),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "PLATFORM.INPUT_INVALID",
    );
    for name in ["\"dateOfBirth\"", "\"ssn \"", "\"home_address.city\"", "date_of_birth"] {
        assert!(message.contains(name), "{name} in {message}");
    }
    let message = assert_error(
        h.call(
            Method::PUT,
            "/integrations/personio:acme/scope-config",
            Some(r#"{"read_models": [{"id": "ats_jobs", "scope_config_setting": "DISABLED"}]}"#),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "PLATFORM.INPUT_INVALID",
    );
    assert!(
        message.contains("ats_jobs") && message.contains("hris_employees"),
        "{message}"
    );
    assert_eq!(
        h.store
            .get_integration("personio:acme")
            .await
            .unwrap()
            .unwrap()
            .scope_version,
        version,
        "a refused config changes nothing"
    );

    // Replaced as a whole: naming no model turns everything back on, and moves the version.
    let data = h
        .ok(
            Method::PUT,
            "/integrations/personio:acme/scope-config",
            Some(r#"{"read_models": []}"#),
            StatusCode::OK,
        )
        .await;
    assert_eq!(data["scope_config"], json!({"read_models": []}));
    let stored = h.store.get_integration("personio:acme").await.unwrap().unwrap();
    assert!(stored.scope_config.model_enabled(Model::Absences));
    assert_eq!(stored.scope_version, version + 1);

    for (body, says) in [
        ("", "scope config as JSON"),
        ("{", "not JSON"),
        ("[]", "got an array"),
        (r#"{"read_models": [{"id": "hris_absence"}]}"#, "hris_absence"),
        (
            r#"{"read_models": [{"id": "hris_absences", "scope_config_setting": "NO"}]}"#,
            "NO",
        ),
        (
            r#"{"read_models": [{"id": "hris_absences", "enabled": false}]}"#,
            "read_models[0].enabled",
        ),
        (
            r#"{"read_models": [{"id": "hris_absences"}, {"id": "hris_absences"}]}"#,
            "twice",
        ),
        (r#"{"models": []}"#, "unknown field `models`"),
    ] {
        let message = assert_error(
            h.call(Method::PUT, "/integrations/personio:acme/scope-config", Some(body))
                .await,
            StatusCode::BAD_REQUEST,
            "PLATFORM.INPUT_INVALID",
        );
        assert!(message.contains(says), "{body}: {message}");
    }
    let stored = h.store.get_integration("personio:acme").await.unwrap().unwrap();
    assert!(stored.scope_config.read_models.is_empty(), "no bad config was stored");
    assert_error(
        h.call(Method::PUT, "/integrations/personio:nobody/scope-config", Some("{}"))
            .await,
        StatusCode::NOT_FOUND,
        "PLATFORM.INTEGRATION_NOT_FOUND",
    );
}

async fn source_is_rotated(h: Harness) {
    h.create(personio("personio:acme", "production")).await;
    let rotated = json!({
        "base_url": "https://eu.api.personio.de/",
        "credentials": {"client_id": "acme-client-2", "client_secret": format!("{SECRET}-2")},
    });
    let data = h
        .ok(
            Method::PUT,
            "/integrations/personio:acme/source",
            Some(&rotated.to_string()),
            StatusCode::OK,
        )
        .await;
    assert_eq!(data["base_url"], "https://eu.api.personio.de/");
    assert_eq!(keys(&data), VIEW_KEYS);
    assert_eq!(
        h.store.integration_credentials("personio:acme").await.unwrap(),
        rotated["credentials"]
    );
    let sealed = h.raw_credentials("personio:acme").await;
    assert!(!String::from_utf8_lossy(&sealed).contains(SECRET), "stored in clear");

    // The tool's own shape is asked for (Personio: client_id and client_secret).
    for (body, says) in [
        (
            json!({"base_url": "https://api.personio.de", "credentials": {"api_key": "k"}}),
            "client_id",
        ),
        (
            json!({"base_url": "https://api.personio.de", "credentials": {"client_id": "a", "client_secret": ""}}),
            "client_secret",
        ),
        (
            json!({"base_url": "https://api.personio.de"}),
            "`credentials` is required",
        ),
        (
            json!({"base_url": "https://x:y@api.personio.de", "credentials": rotated["credentials"]}),
            "user name or password",
        ),
        (
            json!({"base_url": "https://api.personio.de", "credentials": rotated["credentials"], "tool": "greenhouse"}),
            "Unknown field `tool`",
        ),
    ] {
        let message = assert_error(
            h.call(
                Method::PUT,
                "/integrations/personio:acme/source",
                Some(&body.to_string()),
            )
            .await,
            StatusCode::BAD_REQUEST,
            "PLATFORM.INPUT_INVALID",
        );
        assert!(message.contains(says), "{body}: {message}");
    }
    assert_eq!(
        h.store.integration_credentials("personio:acme").await.unwrap(),
        rotated["credentials"],
        "nothing changed"
    );
    assert_error(
        h.call(
            Method::PUT,
            "/integrations/personio:nobody/source",
            Some(&rotated.to_string()),
        )
        .await,
        StatusCode::NOT_FOUND,
        "PLATFORM.INTEGRATION_NOT_FOUND",
    );
}

async fn bad_integrations_are_refused(h: Harness) {
    let good = personio("personio:acme", "production");
    let with = |key: &str, value: Value| {
        let mut body = good.clone();
        body[key] = value;
        body
    };
    let without = |key: &str| {
        let mut body = good.clone();
        body.as_object_mut().unwrap().remove(key);
        body
    };
    let cases: Vec<(String, &str)> = vec![
        (String::new(), "empty"),
        ("{".into(), "JSON object like"),
        ("[]".into(), "got an array"),
        (
            with("tool", json!("workday")).to_string(),
            "`personio`, `greenhouse`, `bamboohr`",
        ),
        (
            with("tool", json!(5)).to_string(),
            "`tool` must be a string, got a number",
        ),
        (without("tool").to_string(), "`tool` is required"),
        (with("id", json!("acme")).to_string(), "personio:<name>"),
        (with("id", json!("personio:a b")).to_string(), "personio:<name>"),
        (
            with("id", json!("greenhouse:acme")).to_string(),
            "must start with `personio:`",
        ),
        (without("id").to_string(), "`id` is required"),
        (with("environment", json!("")).to_string(), "`environment`"),
        (with("environment", json!("prod eu")).to_string(), "`environment`"),
        (without("environment").to_string(), "`environment` is required"),
        (with("base_url", json!("api.personio.de")).to_string(), "`base_url`"),
        (
            with("base_url", json!("ftp://api.personio.de")).to_string(),
            "`base_url`",
        ),
        (
            with("base_url", json!("https://api.personio.de?token=1")).to_string(),
            "query",
        ),
        (
            with("credentials", json!("client_id=a")).to_string(),
            "`credentials` must be a JSON object",
        ),
        (with("credentials", json!({"api_key": SECRET})).to_string(), "client_id"),
        (without("credentials").to_string(), "`credentials` is required"),
        (
            with("scope_config", json!({"read_models": [{"id": "hris_employes"}]})).to_string(),
            "hris_employes",
        ),
        (with("scope_config", json!([])).to_string(), "got an array"),
        (
            with(
                "scope_config",
                json!({"read_models": [{"id": "hris_employees", "fields": [{"id": "dateOfBirth", "scope_config_setting": "DISABLED"}]}]}),
            )
            .to_string(),
            "\"dateOfBirth\"",
        ),
        (with("scope_config", json!({})).to_string(), "`read_models` is missing"),
        (with("credential", json!({})).to_string(), "Unknown field `credential`"),
        (with("fence", json!(3)).to_string(), "Unknown field `fence`"),
    ];
    for (body, says) in cases {
        let (status, value, text) = h.call_text(Method::POST, "/integrations", Some(&body)).await;
        let message = assert_error((status, value), StatusCode::BAD_REQUEST, "PLATFORM.INPUT_INVALID");
        assert!(message.contains(says), "{body}: {message}");
        assert!(!text.contains(SECRET), "the error echoed the credentials: {text}");
    }
    assert!(
        h.store.list_integrations().await.unwrap().is_empty(),
        "nothing was created"
    );

    // Queries and paths are checked too; a NUL never reaches the database.
    assert_error(
        h.call(Method::GET, "/integrations?env=production", None).await,
        StatusCode::BAD_REQUEST,
        "PLATFORM.INPUT_INVALID",
    );
    for path in ["/integrations/personio:a%00b", "/integrations/%00/scope-config"] {
        let method = if path.ends_with("scope-config") {
            Method::PUT
        } else {
            Method::GET
        };
        assert_error(
            h.call(method, path, Some("{}")).await,
            StatusCode::BAD_REQUEST,
            "PLATFORM.INPUT_INVALID",
        );
    }
    let (status, body) = h.call(Method::DELETE, "/integrations", None).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{body}");
    assert_eq!(body["status"], "error");
}

async fn api_keys_work_until_revoked(h: Harness) {
    let data = h
        .ok(
            Method::POST,
            "/api-keys",
            Some(r#"{"environment": "production", "label": "payroll export"}"#),
            StatusCode::CREATED,
        )
        .await;
    let key = data["key"].as_str().unwrap().to_owned();
    let id = data["id"].as_str().unwrap().to_owned();
    assert!(key.starts_with("trb_") && key.len() > 40, "{key}");
    assert_eq!(data["environment"], "production");
    assert_eq!(data["label"], "payroll export");
    assert!(data["created_at"].is_string());
    // Only the hash is kept.
    assert_eq!(h.raw_key_hash(&id).await, tributary_gateway::hash_api_key(&key));

    let (status, body) = h.check_key(&key).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["environment_id"], "production");

    // A second key is another key.
    let other = h
        .ok(
            Method::POST,
            "/api-keys",
            Some(r#"{"environment": "staging", "label": "ci"}"#),
            StatusCode::CREATED,
        )
        .await;
    assert_ne!(other["key"], data["key"]);
    assert_ne!(other["id"], data["id"]);

    let revoked = h
        .ok(Method::DELETE, &format!("/api-keys/{id}"), None, StatusCode::OK)
        .await;
    assert_eq!(revoked, json!({"id": id, "revoked": true}));
    let refused = h.check_key(&key).await;
    assert_error(refused, StatusCode::UNAUTHORIZED, "PLATFORM.AUTHENTICATION_INVALID");
    // Revoking again is fine; the other key still works.
    h.ok(Method::DELETE, &format!("/api-keys/{id}"), None, StatusCode::OK)
        .await;
    let (status, body) = h.check_key(other["key"].as_str().unwrap()).await;
    assert_eq!(
        (status, &body["data"]["environment_id"]),
        (StatusCode::OK, &json!("staging"))
    );

    assert_error(
        h.call(Method::DELETE, "/api-keys/nope", None).await,
        StatusCode::NOT_FOUND,
        "PLATFORM.API_KEY_NOT_FOUND",
    );
    assert_error(
        h.call(Method::DELETE, "/api-keys/a%00b", None).await,
        StatusCode::BAD_REQUEST,
        "PLATFORM.INPUT_INVALID",
    );
    for (body, says) in [
        ("", "empty"),
        (r#"{"environment": "production"}"#, "`label` is required"),
        (r#"{"label": "x"}"#, "`environment` is required"),
        (r#"{"environment": "production", "label": "  "}"#, "`label`"),
        (r#"{"environment": "production", "label": "a\u0000b"}"#, "`label`"),
        (r#"{"environment": "pro duction", "label": "x"}"#, "`environment`"),
        (
            r#"{"environment": "production", "label": "x", "key": "trb_mine"}"#,
            "Unknown field `key`",
        ),
        (r#"{"environment": ["production"], "label": "x"}"#, "must be a string"),
    ] {
        let message = assert_error(
            h.call(Method::POST, "/api-keys", Some(body)).await,
            StatusCode::BAD_REQUEST,
            "PLATFORM.INPUT_INVALID",
        );
        assert!(message.contains(says), "{body}: {message}");
    }
}

async fn admin_token_is_required(h: Harness) {
    let requests = [
        (
            Method::POST,
            "/integrations",
            Some(personio("personio:acme", "production").to_string()),
        ),
        (Method::GET, "/integrations", None),
        (Method::GET, "/integrations/personio:acme", None),
        (
            Method::PUT,
            "/integrations/personio:acme/scope-config",
            Some("{}".to_owned()),
        ),
        (
            Method::POST,
            "/api-keys",
            Some(r#"{"environment": "production", "label": "x"}"#.to_owned()),
        ),
        (Method::DELETE, "/api-keys/some-id", None),
    ];
    for (method, path, body) in &requests {
        for auth in [None, Some("not-the-token")] {
            let mut request = h.http.request(method.clone(), format!("{}/ops/v1{path}", h.base));
            if let Some(auth) = auth {
                request = request.bearer_auth(auth);
            }
            if let Some(body) = body {
                request = request.body(body.clone());
            }
            let response = request.send().await.unwrap();
            let status = response.status();
            assert_error(
                (status, response.json().await.unwrap()),
                StatusCode::UNAUTHORIZED,
                "PLATFORM.AUTHENTICATION_INVALID",
            );
        }
    }
    // With no admin token configured, even the right-looking one is refused.
    let closed = h.serve(None).await;
    for (method, path, body) in &requests {
        let mut request = h
            .http
            .request(method.clone(), format!("{closed}/ops/v1{path}"))
            .bearer_auth(TOKEN);
        if let Some(body) = body {
            request = request.body(body.clone());
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        assert_error(
            (status, response.json().await.unwrap()),
            StatusCode::FORBIDDEN,
            "PLATFORM.AUTHENTICATION_INVALID",
        );
    }
    assert!(h.store.list_integrations().await.unwrap().is_empty());
    // An API key of the read API is not the admin token either.
    let key = tributary_gateway::generate_api_key();
    h.store
        .create_api_key("production", "reader", &tributary_gateway::hash_api_key(&key))
        .await
        .unwrap();
    let response = h
        .http
        .get(format!("{}/ops/v1/integrations", h.base))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

async fn webhook_endpoints_and_deliveries(h: Harness) {
    // The secret is generated and shown once; the event types are checked.
    let created = h
        .ok(
            Method::POST,
            "/webhooks/endpoints",
            Some(r#"{"environment": "production", "url": "http://127.0.0.1:9/hooks"}"#),
            StatusCode::CREATED,
        )
        .await;
    let secret = created["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_") && secret.len() > 40, "{created}");
    let endpoint_id = created["id"].as_str().unwrap().to_owned();
    let listed = h
        .ok(
            Method::GET,
            "/webhooks/endpoints?environment=production",
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(results(&listed).len(), 1);
    assert!(
        !listed.to_string().contains(&secret),
        "listing shows the secret: {listed}"
    );

    for (body, field) in [
        (r#"{"environment": "production", "url": "ftp://x.example"}"#, "url"),
        (
            r#"{"environment": "production", "url": "http://169.254.169.254/latest"}"#,
            "url",
        ),
        (
            r#"{"environment": "production", "url": "http://u:p@x.example/"}"#,
            "url",
        ),
        // IPv6 forms of metadata and link-local addresses, and site-local (issue 12).
        (
            r#"{"environment": "production", "url": "http://[::169.254.169.254]/latest"}"#,
            "url",
        ),
        (
            r#"{"environment": "production", "url": "http://[64:ff9b::a9fe:a9fe]/"}"#,
            "url",
        ),
        (
            r#"{"environment": "production", "url": "http://[2002:a9fe:a9fe::1]/"}"#,
            "url",
        ),
        (r#"{"environment": "production", "url": "http://[fec0::1]/"}"#, "url"),
        (
            r#"{"environment": "production", "url": "https://x.example", "event_types": ["nope"]}"#,
            "event_types",
        ),
        (
            r#"{"environment": "production", "url": "https://x.example", "secret": "short"}"#,
            "secret",
        ),
        (
            r#"{"environment": "production", "url": "https://x.example", "extra": 1}"#,
            "extra",
        ),
    ] {
        let message = assert_error(
            h.call(Method::POST, "/webhooks/endpoints", Some(body)).await,
            StatusCode::BAD_REQUEST,
            "PLATFORM.INPUT_INVALID",
        );
        assert!(message.contains(field), "{body}: {message}");
    }

    // Creating an integration writes `integration-created`, one delivery to the endpoint.
    h.create(personio("personio:acme", "production")).await;
    let deliveries = h
        .ok(
            Method::GET,
            "/webhooks/deliveries?environment=production",
            None,
            StatusCode::OK,
        )
        .await;
    let deliveries = results(&deliveries);
    assert_eq!(deliveries.len(), 1, "{deliveries:?}");
    assert_eq!(deliveries[0]["event_type"], "integration-created");
    assert_eq!(deliveries[0]["state"], "PENDING");
    let delivery_id = deliveries[0]["id"].as_str().unwrap().to_owned();
    let detail = h
        .ok(
            Method::GET,
            &format!("/webhooks/deliveries/{delivery_id}"),
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(detail["attempts"], json!([]));
    let redelivered = h
        .ok(
            Method::POST,
            &format!("/webhooks/deliveries/{delivery_id}/redeliver"),
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(redelivered["state"], "PENDING");
    assert_error(
        h.call(Method::GET, "/webhooks/deliveries?state=lost", None).await,
        StatusCode::BAD_REQUEST,
        "PLATFORM.INPUT_INVALID",
    );
    assert_error(
        h.call(Method::POST, "/webhooks/deliveries/nope/redeliver", None).await,
        StatusCode::NOT_FOUND,
        "PLATFORM.WEBHOOK_DELIVERY_NOT_FOUND",
    );

    // Removing the endpoint drops its deliveries.
    h.ok(
        Method::DELETE,
        &format!("/webhooks/endpoints/{endpoint_id}"),
        None,
        StatusCode::OK,
    )
    .await;
    assert_error(
        h.call(Method::DELETE, &format!("/webhooks/endpoints/{endpoint_id}"), None)
            .await,
        StatusCode::NOT_FOUND,
        "PLATFORM.WEBHOOK_ENDPOINT_NOT_FOUND",
    );
    let deliveries = h
        .ok(
            Method::GET,
            "/webhooks/deliveries?environment=production",
            None,
            StatusCode::OK,
        )
        .await;
    assert!(results(&deliveries).is_empty(), "{deliveries}");
}

// ---- one suite, two backends ------------------------------------------------------------------

macro_rules! backends {
    ($($case:ident),* $(,)?) => {
        mod postgres {
            $(
                #[tokio::test]
                async fn $case() {
                    let Some(harness) = super::Harness::postgres().await else { return };
                    super::$case(harness).await;
                }
            )*
        }
        mod sqlite {
            $(
                #[tokio::test]
                async fn $case() {
                    super::$case(super::Harness::sqlite().await).await;
                }
            )*
        }
    };
}

backends!(
    integrations_are_created_listed_and_shown,
    scope_config_is_replaced,
    source_is_rotated,
    bad_integrations_are_refused,
    api_keys_work_until_revoked,
    admin_token_is_required,
    webhook_endpoints_and_deliveries,
);
