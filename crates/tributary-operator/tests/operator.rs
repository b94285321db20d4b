//! The operator API end to end: the router on a real socket over a real mirror (Postgres and
//! SQLite), with the embedded queue and coordinator, called with reqwest. Runs are put in
//! their states through the store and the coordinator, as the scheduler and workers would.

use std::sync::Arc;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Map, Value, json};
use tributary_model::{Model, PauseReason, RunState, ScopeConfig, ToolKind, record_id};
use tributary_operator::{OperatorState, router};
use tributary_queue::{Coordinator, EmbeddedCoordinator, MemoryQueue, RunSignal, WatchedRun};
use tributary_store::{Lease, MirrorStore, NewIntegration, PageWrite, PauseInfo, PreparedRecord, RunWrite, SyncRun};

mod support;

const TOKEN: &str = "operator-test-token";
/// Personio takes FULL and DELTA syncs.
const ACME: &str = "personio:acme";
/// Greenhouse takes FULL and DELTA syncs.
const GLOBEX: &str = "greenhouse:globex";
/// BambooHR takes FULL and DELTA syncs too (its DELTA: `docs/sources/bamboohr.md`).
const INITECH: &str = "bamboohr:initech";
const LEASE_TTL: Duration = Duration::from_secs(60);

struct Harness {
    base: String,
    http: reqwest::Client,
    store: Arc<dyn MirrorStore>,
    queue: Arc<MemoryQueue>,
    coordinator: Arc<EmbeddedCoordinator>,
}

impl Harness {
    async fn start(store: Arc<dyn MirrorStore>) -> Self {
        for (id, tool) in [
            (ACME, ToolKind::Personio),
            (GLOBEX, ToolKind::Greenhouse),
            (INITECH, ToolKind::Bamboohr),
        ] {
            store
                .create_integration(NewIntegration {
                    id: id.into(),
                    tool,
                    environment: "env-a".into(),
                    base_url: "http://127.0.0.1:1".into(),
                    credentials: match tool {
                        ToolKind::Bamboohr => json!({"api_key": "x"}),
                        ToolKind::Personio | ToolKind::Greenhouse => json!({"client_id": "x", "client_secret": "y"}),
                    },
                    scope_config: ScopeConfig::default(),
                })
                .await
                .unwrap();
        }
        let queue = Arc::new(MemoryQueue::new());
        let coordinator = Arc::new(EmbeddedCoordinator::new(store.clone()));
        let mut harness = Self {
            base: String::new(),
            http: reqwest::Client::new(),
            store,
            queue,
            coordinator,
        };
        harness.base = harness.serve(Some(TOKEN)).await;
        harness
    }

    /// Serves another operator API over the same mirror, queue and coordinator.
    async fn serve(&self, token: Option<&str>) -> String {
        let state = OperatorState::new(
            self.store.clone(),
            self.queue.clone(),
            self.coordinator.clone(),
            token.map(str::to_owned),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router(state)).await });
        base
    }

    async fn call(&self, method: Method, path: &str, body: Option<&str>) -> (StatusCode, Value) {
        let mut request = self
            .http
            .request(method.clone(), format!("{}/ops/v1{path}", self.base))
            .bearer_auth(TOKEN);
        if let Some(body) = body {
            request = request.header("content-type", "application/json").body(body.to_owned());
        }
        let (status, value) = decode(request.send().await.unwrap()).await;
        support::contract().check(method.as_str(), path, status.as_u16(), &value);
        (status, value)
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, None).await
    }

    async fn post(&self, path: &str) -> (StatusCode, Value) {
        self.call(Method::POST, path, None).await
    }

    /// `data` of a call that must succeed with `status`.
    async fn ok(&self, method: Method, path: &str, body: Option<&str>, status: StatusCode) -> Value {
        let (got, body) = self.call(method.clone(), path, body).await;
        assert_eq!(got, status, "{method} {path}: {body}");
        assert_eq!(body["status"], "success", "{body}");
        body["data"].clone()
    }

    /// Triggers a sync of `sync_type` and returns its id.
    async fn trigger(&self, integration: &str, sync_type: &str) -> String {
        let body = json!({ "sync_type": sync_type }).to_string();
        let data = self
            .ok(
                Method::POST,
                &format!("/integrations/{integration}/syncs"),
                Some(&body),
                StatusCode::OK,
            )
            .await;
        data["sync_id"].as_str().unwrap().to_owned()
    }

    /// Takes the run's lease and marks it RUNNING, as a worker does.
    async fn start_run(&self, run_id: &str, worker: &str) -> (Lease, SyncRun) {
        let run = self.store.get_run(run_id).await.unwrap().unwrap();
        let grant = self
            .coordinator
            .acquire(&run.integration_id, &format!("{worker}/{run_id}"), LEASE_TTL)
            .await
            .unwrap()
            .expect("the lease is free");
        self.coordinator.unmark_queued(run_id).await.unwrap();
        let run = self.store.start_run(run_id, grant.fence, worker).await.unwrap();
        (grant, run)
    }

    async fn signal(&self, run: &SyncRun) -> Option<RunSignal> {
        let watched = [WatchedRun {
            run_id: run.id.clone(),
            integration_id: run.integration_id.clone(),
        }];
        self.coordinator.poll_signals(&watched).await.unwrap()[0].signal
    }

    async fn pending(&self, queue: &str) -> u64 {
        let data = self.ok(Method::GET, "/queues", None, StatusCode::OK).await;
        queue_entry(&data, queue)["pending"].as_u64().unwrap()
    }
}

async fn decode(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {status} {text}"));
    (status, body)
}

fn queue_entry<'a>(data: &'a Value, queue: &str) -> &'a Value {
    data["queues"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["queue"] == queue)
        .unwrap_or_else(|| panic!("no queue {queue} in {data}"))
}

fn assert_error(got: (StatusCode, Value), status: StatusCode, code: &str) {
    let (got_status, body) = got;
    assert_eq!(got_status, status, "{body}");
    assert_eq!(body["status"], "error", "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(body["error"]["title"].is_string(), "{body}");
    assert!(!body["error"]["message"].as_str().unwrap().is_empty(), "{body}");
    assert!(body["error"]["log_url"].is_null(), "{body}");
}

fn run_write(run: &SyncRun, grant: &Lease) -> RunWrite {
    RunWrite {
        integration_id: run.integration_id.clone(),
        run_id: run.id.clone(),
        fence: grant.fence,
        sync_type: run.sync_type,
        started_at: run.started_at.unwrap(),
        renderer: None,
        render_at_end: false,
    }
}

fn results(data: &Value) -> Vec<Value> {
    data["results"].as_array().unwrap().clone()
}

fn ids(data: &Value) -> Vec<String> {
    results(data)
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect()
}

// ---- the cases ----------------------------------------------------------------------------------

async fn authentication(h: Harness) {
    let url = format!("{}/ops/v1/queues", h.base);
    let missing = decode(h.http.get(&url).send().await.unwrap()).await;
    assert_error(missing, StatusCode::UNAUTHORIZED, "PLATFORM.AUTHENTICATION_INVALID");
    let wrong = decode(h.http.get(&url).bearer_auth("not-the-token").send().await.unwrap()).await;
    assert_error(wrong, StatusCode::UNAUTHORIZED, "PLATFORM.AUTHENTICATION_INVALID");
    let basic = decode(h.http.get(&url).basic_auth("admin", Some(TOKEN)).send().await.unwrap()).await;
    assert_error(basic, StatusCode::UNAUTHORIZED, "PLATFORM.AUTHENTICATION_INVALID");
    // Actions too, before anything is looked at.
    let action = decode(
        h.http
            .post(format!("{}/ops/v1/integrations/{ACME}/syncs", h.base))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_error(action, StatusCode::UNAUTHORIZED, "PLATFORM.AUTHENTICATION_INVALID");
    assert!(h.store.list_open_runs(10).await.unwrap().is_empty());

    let (status, _) = h.get("/queues").await;
    assert_eq!(status, StatusCode::OK);

    // Not configured (or blank): closed to everyone, with a hint.
    for token in [None, Some("  ")] {
        let closed = h.serve(token).await;
        for auth in [Some(TOKEN), Some(""), None] {
            let mut request = h.http.get(format!("{closed}/ops/v1/queues"));
            if let Some(auth) = auth {
                request = request.bearer_auth(auth);
            }
            let (status, body) = decode(request.send().await.unwrap()).await;
            assert_error(
                (status, body.clone()),
                StatusCode::FORBIDDEN,
                "PLATFORM.AUTHENTICATION_INVALID",
            );
            assert!(
                body["error"]["message"]
                    .as_str()
                    .unwrap()
                    .contains("TRIBUTARY_ADMIN_TOKEN"),
                "{body}"
            );
        }
    }
}

async fn trigger_and_queue_depths(h: Harness) {
    let data = h.ok(Method::GET, "/queues", None, StatusCode::OK).await;
    assert_eq!(data["backend"], "memory");
    assert_eq!(data["store"], h.store.backend());
    assert_eq!(data["queues"].as_array().unwrap().len(), 3);
    assert_eq!(data["open_runs"], json!({"queued": 0, "running": 0, "paused": 0}));

    let path = format!("/integrations/{ACME}/syncs");
    let first = h
        .ok(Method::POST, &path, Some(r#"{"sync_type": "FULL"}"#), StatusCode::OK)
        .await;
    assert_eq!(first["sync_type"], "FULL");
    assert_eq!(first["state"], "QUEUED");
    assert_eq!(first["already_queued"], false);
    let id = first["sync_id"].as_str().unwrap();
    let run = h.store.get_run(id).await.unwrap().unwrap();
    assert_eq!((run.integration_id.as_str(), run.state), (ACME, RunState::Queued));

    let second = h
        .ok(Method::POST, &path, Some(r#"{"sync_type": "FULL"}"#), StatusCode::OK)
        .await;
    assert_eq!(second["sync_id"], id);
    assert_eq!(second["already_queued"], true);

    let data = h.ok(Method::GET, "/queues", None, StatusCode::OK).await;
    let full = queue_entry(&data, "sync-full");
    assert_eq!(full["sync_type"], "FULL");
    assert_eq!(full["pending"], 1, "the second trigger pushes nothing: {data}");
    assert_eq!(full["open_runs"], json!({"queued": 1, "running": 0, "paused": 0}));
    assert_eq!(queue_entry(&data, "sync-delta")["pending"], 0);
    assert_eq!(queue_entry(&data, "sync-default")["pending"], 0);
    assert_eq!(data["open_runs"], json!({"queued": 1, "running": 0, "paused": 0}));
    assert_eq!(data["open_runs_truncated"], false);

    // No body: the engine picks (FULL when no complete sync succeeded yet).
    let picked = h
        .ok(
            Method::POST,
            &format!("/integrations/{INITECH}/syncs"),
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(picked["sync_type"], "FULL");
    assert_eq!(picked["already_queued"], false);
    assert_eq!(h.pending("sync-full").await, 2);
    assert_eq!(h.pending("sync-default").await, 0, "no tool takes DEFAULT syncs now");
    let sync = h
        .ok(
            Method::GET,
            &format!("/syncs/{}", picked["sync_id"].as_str().unwrap()),
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(sync["job_queued"], true);

    assert_error(
        h.call(Method::POST, "/integrations/personio:nobody/syncs", Some("{}"))
            .await,
        StatusCode::NOT_FOUND,
        "PLATFORM.INTEGRATION_NOT_FOUND",
    );
    assert_error(
        h.get("/integrations/personio:nobody/syncs").await,
        StatusCode::NOT_FOUND,
        "PLATFORM.INTEGRATION_NOT_FOUND",
    );
}

async fn idle_run_controls(h: Harness) {
    let id = h.trigger(ACME, "FULL").await;
    assert_eq!(h.pending("sync-full").await, 1);

    // Pause a QUEUED run: PAUSED for OPERATOR, no longer marked queued.
    let paused = h
        .ok(Method::POST, &format!("/syncs/{id}/pause"), None, StatusCode::OK)
        .await;
    assert_eq!(paused["changed"], true);
    assert_eq!(paused["sync"]["state"], "PAUSED");
    assert_eq!(paused["sync"]["pause_reason"], "OPERATOR");
    assert_eq!(paused["sync"]["job_queued"], false);
    let run = h.store.get_run(&id).await.unwrap().unwrap();
    assert_eq!(
        (run.state, run.pause_reason),
        (RunState::Paused, Some(PauseReason::Operator))
    );
    // Pausing again changes nothing.
    let again = h
        .ok(Method::POST, &format!("/syncs/{id}/pause"), None, StatusCode::OK)
        .await;
    assert_eq!(again["changed"], false);
    assert_eq!(again["sync"]["pause_reason"], "OPERATOR");

    // Resume: ready to run, and pushed to its queue at once.
    let resumed = h
        .ok(Method::POST, &format!("/syncs/{id}/resume"), None, StatusCode::OK)
        .await;
    assert_eq!(resumed["changed"], true);
    assert_eq!(resumed["sync"]["state"], "PAUSED");
    assert_eq!(resumed["sync"]["pause_reason"], Value::Null);
    assert_eq!(resumed["sync"]["job_queued"], true);
    assert_eq!(h.pending("sync-full").await, 2);
    let run = h.store.get_run(&id).await.unwrap().unwrap();
    assert_eq!(run.pause_reason, None);

    // A run paused by the system (here: resumed but not yet taken) is held by a pause too,
    // rather than left to resume on its own.
    let held = h
        .ok(Method::POST, &format!("/syncs/{id}/pause"), None, StatusCode::OK)
        .await;
    assert_eq!(held["changed"], true);
    assert_eq!(held["sync"]["pause_reason"], "OPERATOR");
    assert_eq!(held["sync"]["job_queued"], false);

    // Cancel the (paused) run.
    let cancelled = h
        .ok(Method::POST, &format!("/syncs/{id}/cancel"), None, StatusCode::OK)
        .await;
    assert_eq!(cancelled["changed"], true);
    assert_eq!(cancelled["sync"]["state"], "CANCELLED");
    assert_eq!(cancelled["sync"]["error"], "cancelled by an operator");
    assert_eq!(cancelled["sync"]["job_queued"], false);
    assert!(cancelled["sync"]["ended_at"].is_string());
    assert_eq!(h.store.get_run(&id).await.unwrap().unwrap().state, RunState::Cancelled);

    // An ended run takes no action.
    for action in ["pause", "resume", "cancel"] {
        assert_error(
            h.post(&format!("/syncs/{id}/{action}")).await,
            StatusCode::CONFLICT,
            "PLATFORM.SYNC_CONFLICT",
        );
    }

    // Cancel a QUEUED run; resume one that is not paused.
    let delta = h.trigger(ACME, "DELTA").await;
    assert_error(
        h.post(&format!("/syncs/{delta}/resume")).await,
        StatusCode::CONFLICT,
        "PLATFORM.SYNC_CONFLICT",
    );
    let cancelled = h
        .ok(Method::POST, &format!("/syncs/{delta}/cancel"), None, StatusCode::OK)
        .await;
    assert_eq!(cancelled["sync"]["state"], "CANCELLED");
    let run = h.store.get_run(&delta).await.unwrap().unwrap();
    assert_eq!(run.state, RunState::Cancelled);
    assert!(!h.coordinator.queued(std::slice::from_ref(&delta)).await.unwrap()[0]);

    // A trigger after the cancel opens a new run.
    let next = h.trigger(ACME, "FULL").await;
    assert_ne!(next, id);

    for action in ["pause", "resume", "cancel"] {
        assert_error(
            h.post(&format!("/syncs/nope/{action}")).await,
            StatusCode::NOT_FOUND,
            "PLATFORM.SYNC_NOT_FOUND",
        );
    }
    assert_error(
        h.get("/syncs/nope").await,
        StatusCode::NOT_FOUND,
        "PLATFORM.SYNC_NOT_FOUND",
    );
}

async fn running_run_signals(h: Harness) {
    let id = h.trigger(ACME, "FULL").await;
    let (_grant, run) = h.start_run(&id, "worker-1").await;
    assert_eq!(run.state, RunState::Running);
    assert_eq!(h.signal(&run).await, None);

    let paused = h
        .ok(Method::POST, &format!("/syncs/{id}/pause"), None, StatusCode::ACCEPTED)
        .await;
    assert_eq!(paused["requested"], "pause");
    assert_eq!(paused["sync"]["state"], "RUNNING");
    assert_eq!(paused["sync"]["worker_id"], "worker-1");
    assert_eq!(paused["sync"]["lease_holder"], format!("worker-1/{id}"));
    assert_eq!(h.signal(&run).await, Some(RunSignal::Pause));
    // Only the worker changes a running run.
    assert_eq!(h.store.get_run(&id).await.unwrap().unwrap().state, RunState::Running);

    let cancelled = h
        .ok(Method::POST, &format!("/syncs/{id}/cancel"), None, StatusCode::ACCEPTED)
        .await;
    assert_eq!(cancelled["requested"], "cancel");
    assert_eq!(h.signal(&run).await, Some(RunSignal::Cancel));
    assert_eq!(h.store.get_run(&id).await.unwrap().unwrap().state, RunState::Running);

    assert_error(
        h.post(&format!("/syncs/{id}/resume")).await,
        StatusCode::CONFLICT,
        "PLATFORM.SYNC_CONFLICT",
    );
}

async fn syncs_listing(h: Harness) {
    // ACME: a FULL that ran a page and was preempted by a queued DELTA.
    let full = h.trigger(ACME, "FULL").await;
    let delta = h.trigger(ACME, "DELTA").await;
    let (grant, run) = h.start_run(&full, "worker-1").await;
    let write = run_write(&run, &grant);
    let record = PreparedRecord {
        model: Model::Employees,
        id: record_id(ACME, Model::Employees, "1"),
        remote_id: "1".into(),
        parent_id: None,
        depends_on: Vec::new(),
        data: Map::new(),
        remote_data: None,
        remote_created_at: None,
        hash: [7; 16],
    };
    h.store
        .apply_page(
            &write,
            PageWrite {
                records: vec![record],
                checkpoint: json!({"stream": 2, "cursor": "page-3"}),
                scope_version: 1,
            },
        )
        .await
        .unwrap();
    let info = PauseInfo {
        preempted_by: Some(delta.clone()),
        ..PauseInfo::new(PauseReason::Preempted)
    };
    h.store.pause_run(&write, &info).await.unwrap();
    h.coordinator.release(&grant).await.unwrap();

    // GLOBEX: a FULL running on worker-2.
    let running = h.trigger(GLOBEX, "FULL").await;
    h.start_run(&running, "worker-2").await;

    // INITECH: an ended run, never listed as open.
    let ended = h.trigger(INITECH, "FULL").await;
    h.ok(Method::POST, &format!("/syncs/{ended}/cancel"), None, StatusCode::OK)
        .await;

    let all = h.ok(Method::GET, "/syncs", None, StatusCode::OK).await;
    let mut listed = ids(&all);
    listed.sort();
    let mut expected = vec![full.clone(), delta.clone(), running.clone()];
    expected.sort();
    assert_eq!(listed, expected);
    assert_eq!(all["truncated"], false);

    let data = h.ok(Method::GET, "/syncs?state=running", None, StatusCode::OK).await;
    assert_eq!(ids(&data), vec![running.clone()]);
    let row = &results(&data)[0];
    assert_eq!(row["integration_id"], GLOBEX);
    assert_eq!(row["sync_type"], "FULL");
    assert_eq!(row["state"], "RUNNING");
    assert_eq!(row["worker_id"], "worker-2");
    assert_eq!(row["lease_holder"], format!("worker-2/{running}"));
    assert_eq!(row["job_queued"], false);
    assert!(row["started_at"].is_string() && row["created_at"].is_string());
    assert_eq!(row["ended_at"], Value::Null);
    assert_eq!(row["attempts"], 0);

    let data = h.ok(Method::GET, "/syncs?state=queued", None, StatusCode::OK).await;
    assert_eq!(ids(&data), vec![delta.clone()]);
    let row = &results(&data)[0];
    assert_eq!(row["sync_type"], "DELTA");
    assert_eq!(row["job_queued"], true);
    assert_eq!(row["lease_holder"], Value::Null);
    assert_eq!(row["started_at"], Value::Null);
    assert_eq!(row["checkpoint_stream"], Value::Null);

    for filter in ["paused", "PAUSED"] {
        let data = h
            .ok(Method::GET, &format!("/syncs?state={filter}"), None, StatusCode::OK)
            .await;
        assert_eq!(ids(&data), vec![full.clone()]);
        let row = &results(&data)[0];
        assert_eq!(row["state"], "PAUSED");
        assert_eq!(row["pause_reason"], "PREEMPTED");
        assert_eq!(
            row["preempted_by"],
            json!({"id": delta, "sync_type": "DELTA", "state": "QUEUED"})
        );
        assert_eq!(row["resume_at"], Value::Null);
        assert_eq!(row["checkpoint_stream"], 2);
        assert_eq!(row["counts"]["pages_fetched"], 1);
        assert_eq!(row["counts"]["created"], 1);
        assert_eq!(
            (
                &row["counts"]["updated"],
                &row["counts"]["deleted"],
                &row["counts"]["unchanged"]
            ),
            (&json!(0), &json!(0), &json!(0))
        );
        assert_eq!(row["worker_id"], "worker-1");
        assert_eq!(row["lease_holder"], Value::Null, "the lease was released");
        assert!(row["started_at"].is_string());
    }

    // One run, any state, in the same shape.
    let one = h.ok(Method::GET, &format!("/syncs/{full}"), None, StatusCode::OK).await;
    assert_eq!(one["preempted_by"]["state"], "QUEUED");
    assert_eq!(one["checkpoint_stream"], 2);
    let one = h
        .ok(Method::GET, &format!("/syncs/{ended}"), None, StatusCode::OK)
        .await;
    assert_eq!(one["state"], "CANCELLED");

    // The preempting run gone from the open list is looked up in the mirror.
    h.ok(Method::POST, &format!("/syncs/{delta}/cancel"), None, StatusCode::OK)
        .await;
    let data = h.ok(Method::GET, "/syncs?state=paused", None, StatusCode::OK).await;
    assert_eq!(
        results(&data)[0]["preempted_by"],
        json!({"id": delta, "sync_type": "DELTA", "state": "CANCELLED"})
    );

    let queues = h.ok(Method::GET, "/queues", None, StatusCode::OK).await;
    assert_eq!(queues["open_runs"], json!({"queued": 0, "running": 1, "paused": 1}));
    assert_eq!(
        queue_entry(&queues, "sync-full")["open_runs"],
        json!({"queued": 0, "running": 1, "paused": 1})
    );
}

async fn recent_runs(h: Harness) {
    // A succeeded run with timings, a cancelled one, and a queued one, in that order.
    let done = h.trigger(GLOBEX, "FULL").await;
    let (grant, run) = h.start_run(&done, "worker-1").await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    h.store
        .finish_run(&run_write(&run, &grant), RunState::Succeeded, None)
        .await
        .unwrap();
    h.coordinator.release(&grant).await.unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let cancelled = h.trigger(GLOBEX, "DELTA").await;
    h.ok(
        Method::POST,
        &format!("/syncs/{cancelled}/cancel"),
        None,
        StatusCode::OK,
    )
    .await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    let queued = h.trigger(GLOBEX, "DELTA").await;
    // Another integration's runs stay out.
    h.trigger(ACME, "FULL").await;

    let data = h
        .ok(
            Method::GET,
            &format!("/integrations/{GLOBEX}/syncs"),
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(data["integration_id"], GLOBEX);
    assert_eq!(ids(&data), vec![queued.clone(), cancelled.clone(), done.clone()]);
    let rows = results(&data);
    assert_eq!(rows[0]["state"], "QUEUED");
    assert_eq!(rows[0]["job_queued"], true);
    assert_eq!(rows[1]["state"], "CANCELLED");
    assert_eq!(rows[1]["error"], "cancelled by an operator");
    assert_eq!(rows[1]["duration_seconds"], Value::Null, "never started");
    assert_eq!(rows[2]["state"], "SUCCEEDED");
    assert_eq!(rows[2]["error"], Value::Null);
    assert!(rows[2]["started_at"].is_string() && rows[2]["ended_at"].is_string());
    assert!(rows[2]["duration_seconds"].as_f64().unwrap() >= 0.0, "{}", rows[2]);
    assert!(rows[2]["counts"].is_object());

    let data = h
        .ok(
            Method::GET,
            &format!("/integrations/{GLOBEX}/syncs?limit=2"),
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(ids(&data), vec![queued, cancelled]);

    let data = h
        .ok(
            Method::GET,
            &format!("/integrations/{INITECH}/syncs"),
            None,
            StatusCode::OK,
        )
        .await;
    assert!(results(&data).is_empty());
}

async fn bad_input(h: Harness) {
    let id = h.trigger(ACME, "FULL").await;
    let invalid = |got| assert_error(got, StatusCode::BAD_REQUEST, "PLATFORM.INPUT_INVALID");
    for query in [
        "state=bogus",
        "state=succeeded",
        "status=running",
        "state=running&state=paused",
    ] {
        invalid(h.get(&format!("/syncs?{query}")).await);
    }
    for limit in ["0", "201", "-3", "ten", "1.5"] {
        invalid(h.get(&format!("/integrations/{ACME}/syncs?limit={limit}")).await);
    }
    invalid(h.get(&format!("/integrations/{ACME}/syncs?since=yesterday")).await);
    let trigger = format!("/integrations/{ACME}/syncs");
    for body in [
        r#"{"sync_type": "WEEKLY"}"#,
        r#"{"sync_type": 5}"#,
        r#"{"type": "FULL"}"#,
        "{",
        "[]",
        "FULL",
    ] {
        invalid(h.call(Method::POST, &trigger, Some(body)).await);
    }
    // A type the tool does not take.
    let (status, body) = h
        .call(Method::POST, &trigger, Some(r#"{"sync_type": "DEFAULT"}"#))
        .await;
    assert!(body["error"]["message"].as_str().unwrap().contains("DEFAULT"), "{body}");
    invalid((status, body));
    invalid(
        h.call(
            Method::POST,
            &format!("/integrations/{INITECH}/syncs"),
            Some(r#"{"sync_type": "DEFAULT"}"#),
        )
        .await,
    );
    // Nothing was queued by any of them.
    let open = h.store.list_open_runs(10).await.unwrap();
    assert_eq!(open.iter().map(|r| r.id.clone()).collect::<Vec<_>>(), vec![id.clone()]);

    // Ids with a NUL are refused before the database sees them (Postgres errors on a NUL).
    for (method, path) in [
        (Method::GET, "/syncs/a%00b"),
        (Method::POST, "/syncs/a%00b/pause"),
        (Method::POST, "/syncs/a%00b/resume"),
        (Method::POST, "/syncs/a%00b/cancel"),
        (Method::GET, "/integrations/personio:a%00b/syncs"),
        (Method::POST, "/integrations/personio:a%00b/syncs"),
        (Method::GET, "/integrations/personio:a%00b/schedules"),
        (Method::PUT, "/integrations/personio:a%00b/schedules/FULL"),
    ] {
        let body = (method == Method::PUT).then_some(r#"{"every_seconds": 600}"#);
        invalid(h.call(method, path, body).await);
    }

    // A wrong method answers in the envelope too.
    let (status, body) = h.call(Method::DELETE, &format!("/syncs/{id}"), None).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(body["status"], "error");
}

async fn schedule_overrides(h: Harness) {
    let intervals = tributary_engine::default_intervals(ToolKind::Personio, false);
    h.store.ensure_schedules(ACME, &intervals).await.unwrap();
    let data = h
        .ok(
            Method::GET,
            &format!("/integrations/{ACME}/schedules"),
            None,
            StatusCode::OK,
        )
        .await;
    let results = data["results"].as_array().unwrap();
    let delta = results
        .iter()
        .find(|s| s["sync_type"] == "DELTA")
        .expect("a DELTA schedule");
    assert_eq!(delta["every_seconds"], 3 * 3600, "{delta}");
    assert_eq!(delta["override_every_seconds"], Value::Null);

    // An override wins; null returns to the default.
    let data = h
        .ok(
            Method::PUT,
            &format!("/integrations/{ACME}/schedules/delta"),
            Some(r#"{"every_seconds": 900}"#),
            StatusCode::OK,
        )
        .await;
    let delta = data["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["sync_type"] == "DELTA")
        .cloned()
        .unwrap();
    assert_eq!(
        (delta["every_seconds"].clone(), delta["override_every_seconds"].clone()),
        (json!(900), json!(900))
    );
    let stored = h.store.list_schedules(ACME).await.unwrap();
    let stored = stored
        .iter()
        .find(|s| s.sync_type == tributary_model::SyncType::Delta)
        .unwrap();
    assert_eq!(stored.every, Duration::from_secs(900), "the store has it");
    let data = h
        .ok(
            Method::PUT,
            &format!("/integrations/{ACME}/schedules/DELTA"),
            Some(r#"{"every_seconds": null}"#),
            StatusCode::OK,
        )
        .await;
    let delta = data["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["sync_type"] == "DELTA")
        .cloned()
        .unwrap();
    assert_eq!(delta["every_seconds"], 3 * 3600);

    // Bad input, unknown integrations, and a type the tool does not take.
    let put = |path: String, body: &'static str| {
        let h = &h;
        async move { h.call(Method::PUT, &path, Some(body)).await }
    };
    for (path, body) in [
        (
            format!("/integrations/{ACME}/schedules/DELTA"),
            r#"{"every_seconds": 5}"#,
        ),
        (
            format!("/integrations/{ACME}/schedules/DELTA"),
            r#"{"every_seconds": -1}"#,
        ),
        (format!("/integrations/{ACME}/schedules/DELTA"), r#"{"every": 600}"#),
        (format!("/integrations/{ACME}/schedules/DELTA"), r#"[600]"#),
        (
            format!("/integrations/{ACME}/schedules/HOURLY"),
            r#"{"every_seconds": 600}"#,
        ),
        (
            format!("/integrations/{ACME}/schedules/DEFAULT"),
            r#"{"every_seconds": 600}"#,
        ),
    ] {
        assert_error(put(path, body).await, StatusCode::BAD_REQUEST, "PLATFORM.INPUT_INVALID");
    }
    assert_error(
        put(
            "/integrations/personio:nope/schedules/DELTA".into(),
            r#"{"every_seconds": 600}"#,
        )
        .await,
        StatusCode::NOT_FOUND,
        "PLATFORM.INTEGRATION_NOT_FOUND",
    );
}

// ---- runs search, API keys, schedules paused, retries, health ---------------------------------

impl Harness {
    /// Triggers a run of `sync_type`, runs it as a worker would and ends it in `state`.
    async fn ended_run(&self, integration: &str, sync_type: &str, state: RunState, error: Option<&str>) -> String {
        let id = self.trigger(integration, sync_type).await;
        let (grant, run) = self.start_run(&id, "worker-1").await;
        self.store
            .finish_run(&run_write(&run, &grant), state, error)
            .await
            .unwrap();
        self.coordinator.release(&grant).await.unwrap();
        id
    }

    /// Follows `next` from `first` to the end; every page's runs' ids, in order.
    async fn walk(&self, first: &str) -> Vec<String> {
        let mut seen = Vec::new();
        let mut path = first.to_owned();
        loop {
            let data = self.ok(Method::GET, &path, None, StatusCode::OK).await;
            seen.extend(ids(&data));
            let Some(next) = data["next"].as_str() else { break };
            let sep = if first.contains('?') { '&' } else { '?' };
            path = format!("{first}{sep}cursor={next}");
        }
        seen
    }
}

async fn api_keys_listing(h: Harness) {
    let mut created = Vec::new();
    for n in 0..3 {
        let body = json!({"environment": "env-a", "label": format!("key-{n}")}).to_string();
        let data = h.ok(Method::POST, "/api-keys", Some(&body), StatusCode::CREATED).await;
        created.push((
            data["id"].as_str().unwrap().to_owned(),
            data["key"].as_str().unwrap().to_owned(),
        ));
    }
    h.ok(
        Method::DELETE,
        &format!("/api-keys/{}", created[0].0),
        None,
        StatusCode::OK,
    )
    .await;
    let (status, body) = h.get("/api-keys").await;
    assert_eq!(status, StatusCode::OK);
    let text = body.to_string();
    for (_, key) in &created {
        assert!(!text.contains(key.as_str()), "a listing never shows a key");
    }
    let listed = results(&body["data"]);
    let newest_first: Vec<String> = created.iter().rev().map(|(id, _)| id.clone()).collect();
    assert_eq!(ids(&body["data"]), newest_first);
    assert_eq!(listed[2]["revoked"], true);
    assert!(listed[2]["revoked_at"].is_string());
    assert_eq!(
        (listed[0]["revoked"].clone(), listed[0]["label"].clone()),
        (json!(false), json!("key-2"))
    );
    assert_eq!(body["data"]["next"], Value::Null);
    // A page at a time: each key once, in the same order.
    assert_eq!(h.walk("/api-keys?limit=1").await, newest_first);
    assert_error(
        h.get("/api-keys?limit=0").await,
        StatusCode::BAD_REQUEST,
        "PLATFORM.INPUT_INVALID",
    );
    assert_error(
        h.get("/api-keys?label=x").await,
        StatusCode::BAD_REQUEST,
        "PLATFORM.INPUT_INVALID",
    );
    assert_error(
        h.get("/api-keys?cursor=garbage").await,
        StatusCode::BAD_REQUEST,
        "PLATFORM.INPUT_INVALID",
    );
}

async fn runs_search(h: Harness) {
    let full = h.ended_run(ACME, "FULL", RunState::Succeeded, None).await;
    let failed = h.ended_run(ACME, "DELTA", RunState::Failed, Some("source down")).await;
    let globex = h.ended_run(GLOBEX, "FULL", RunState::Failed, Some("boom")).await;
    let queued = h.trigger(INITECH, "FULL").await;
    let all = vec![queued.clone(), globex.clone(), failed.clone(), full.clone()];
    let data = h.ok(Method::GET, "/runs", None, StatusCode::OK).await;
    assert_eq!(ids(&data), all, "newest first");
    assert_eq!(data["next"], Value::Null);
    let search = |query: &'static str| {
        let h = &h;
        async move { ids(&h.ok(Method::GET, &format!("/runs?{query}"), None, StatusCode::OK).await) }
    };
    assert_eq!(search("state=failed").await, vec![globex.clone(), failed.clone()]);
    assert_eq!(
        search("state=failed,queued").await,
        vec![queued.clone(), globex.clone(), failed.clone()]
    );
    assert_eq!(
        search("state=QUEUED&state=succeeded").await,
        vec![queued.clone(), full.clone()]
    );
    assert_eq!(search("sync_type=delta").await, vec![failed.clone()]);
    assert_eq!(search("tool=greenhouse").await, vec![globex.clone()]);
    assert_eq!(
        search("integration_id=personio:acme&state=succeeded").await,
        vec![full.clone()]
    );
    let failed_run = h.store.get_run(&failed).await.unwrap().unwrap();
    let started = failed_run
        .started_at
        .unwrap()
        .to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    assert_eq!(
        ids(&h
            .ok(
                Method::GET,
                &format!("/runs?started_after={started}&integration_id={ACME}"),
                None,
                StatusCode::OK
            )
            .await),
        vec![failed.clone()]
    );
    assert_eq!(
        ids(&h
            .ok(
                Method::GET,
                &format!("/runs?started_before={started}"),
                None,
                StatusCode::OK
            )
            .await),
        vec![full.clone()],
        "a run never started has no start to compare"
    );
    let row = &results(
        &h.ok(Method::GET, "/runs?state=failed&tool=personio", None, StatusCode::OK)
            .await,
    )[0];
    assert_eq!(
        (row["id"].as_str(), row["error"].as_str()),
        (Some(failed.as_str()), Some("source down"))
    );

    // Pages: the same runs, each once; a cursor belongs to its filters.
    assert_eq!(h.walk("/runs?limit=1").await, all);
    assert_eq!(
        h.walk("/runs?limit=1&state=failed").await,
        vec![globex.clone(), failed.clone()]
    );
    let first = h
        .ok(Method::GET, "/runs?limit=1&state=failed", None, StatusCode::OK)
        .await;
    let cursor = first["next"].as_str().unwrap();
    assert_error(
        h.get(&format!("/runs?limit=1&state=queued&cursor={cursor}")).await,
        StatusCode::BAD_REQUEST,
        "PLATFORM.INPUT_INVALID",
    );
    for bad in [
        "state=done",
        "sync_type=weekly",
        "tool=workday",
        "started_after=yesterday",
        "started_after=2026-01-02T00:00:00Z&started_before=2026-01-01T00:00:00Z",
        "limit=501",
        "limit=0",
        "limit=many",
        "cursor=%%%",
        "sort=asc",
        "tool=personio&tool=greenhouse",
    ] {
        let (status, body) = h.get(&format!("/runs?{bad}")).await;
        assert_error(
            (status, body.clone()),
            StatusCode::BAD_REQUEST,
            "PLATFORM.INPUT_INVALID",
        );
        assert!(
            body["error"]["message"].as_str().unwrap().contains('`'),
            "{bad}: {body}"
        );
    }
}

/// A walk one run a page while other runs are being created: every run that existed when it
/// began is seen exactly once, and nothing is seen twice.
async fn runs_cursor_walk_while_inserting(h: Harness) {
    let mut before = Vec::new();
    for _ in 0..12 {
        before.push(h.ended_run(ACME, "DELTA", RunState::Succeeded, None).await);
    }
    before.reverse();
    let mut seen: Vec<String> = Vec::new();
    let mut path = "/runs?limit=2&integration_id=personio:acme".to_owned();
    let mut inserted = 0;
    loop {
        let data = h.ok(Method::GET, &path, None, StatusCode::OK).await;
        seen.extend(ids(&data));
        // Between every two pages, two more runs of the same integration.
        for _ in 0..2 {
            h.ended_run(ACME, "DELTA", RunState::Succeeded, None).await;
            inserted += 1;
        }
        let Some(next) = data["next"].as_str() else { break };
        path = format!("/runs?limit=2&integration_id=personio:acme&cursor={next}");
    }
    assert!(inserted >= 12);
    assert_eq!(
        seen, before,
        "each run that existed once, newest first, none of the new ones"
    );
    let all = ids(&h.ok(Method::GET, "/runs?limit=500", None, StatusCode::OK).await);
    assert_eq!(
        all.len(),
        before.len() + inserted,
        "the new runs are there, ahead of the old"
    );
}

async fn schedule_pause_and_resume(h: Harness) {
    let scheduler = tributary_scheduler::Scheduler::new(
        h.store.clone(),
        h.queue.clone(),
        h.coordinator.clone(),
        tributary_scheduler::SchedulerConfig {
            owner: "scheduler-test".into(),
            ..Default::default()
        },
    );
    // New integrations get schedules due at once.
    scheduler.ensure_schedules().await.unwrap();
    let data = h
        .ok(
            Method::POST,
            &format!("/integrations/{ACME}/schedules/full/pause"),
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(data["changed"], true);
    let full = |data: &Value| {
        results(data)
            .into_iter()
            .find(|s| s["sync_type"] == "FULL")
            .expect("a FULL schedule")
    };
    assert_eq!(full(&data)["paused"], true);
    assert!(full(&data)["paused_at"].is_string());
    let again = h
        .ok(
            Method::POST,
            &format!("/integrations/{ACME}/schedules/FULL/pause"),
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(again["changed"], false);
    let listed = h
        .ok(
            Method::GET,
            &format!("/integrations/{ACME}/schedules"),
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(full(&listed)["paused"], true, "the listing shows it paused");
    let due_at = full(&listed)["next_due_at"].clone();

    // The real claim: everything due is claimed but ACME's paused FULL.
    let report = scheduler.tick().await.unwrap();
    assert_eq!(
        report.claimed, 5,
        "three integrations × FULL and DELTA, less the paused one"
    );
    assert!(
        h.store
            .open_run(ACME, tributary_model::SyncType::Full)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        h.store
            .open_run(ACME, tributary_model::SyncType::Delta)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        h.store
            .open_run(GLOBEX, tributary_model::SyncType::Full)
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(scheduler.tick().await.unwrap().claimed, 0, "still paused");
    let health = h
        .ok(
            Method::GET,
            &format!("/integrations/{ACME}/health"),
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(health["paused_schedules"], json!(["FULL"]));

    // Resumed: due at its normal time, which passed while paused, so claimed at once.
    let data = h
        .ok(
            Method::POST,
            &format!("/integrations/{ACME}/schedules/FULL/resume"),
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(
        (data["changed"].clone(), full(&data)["paused"].clone()),
        (json!(true), json!(false))
    );
    assert_eq!(full(&data)["next_due_at"], due_at, "the due time was kept");
    let report = scheduler.tick().await.unwrap();
    assert_eq!(report.claimed, 1);
    assert!(
        h.store
            .open_run(ACME, tributary_model::SyncType::Full)
            .await
            .unwrap()
            .is_some()
    );
    let again = h
        .ok(
            Method::POST,
            &format!("/integrations/{ACME}/schedules/FULL/resume"),
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(again["changed"], false);

    for (path, status, code) in [
        (
            format!("/integrations/{ACME}/schedules/HOURLY/pause"),
            StatusCode::BAD_REQUEST,
            "PLATFORM.INPUT_INVALID",
        ),
        (
            format!("/integrations/{ACME}/schedules/DEFAULT/pause"),
            StatusCode::BAD_REQUEST,
            "PLATFORM.INPUT_INVALID",
        ),
        (
            "/integrations/personio:nope/schedules/FULL/resume".into(),
            StatusCode::NOT_FOUND,
            "PLATFORM.INTEGRATION_NOT_FOUND",
        ),
    ] {
        assert_error(h.post(&path).await, status, code);
    }
}

async fn retry_failed_runs(h: Harness) {
    let failed = h.ended_run(ACME, "DELTA", RunState::Failed, Some("source down")).await;
    // The failed run's own job is still in the queue (no worker took it here).
    let pending = h.pending("sync-delta").await;
    let data = h
        .ok(Method::POST, &format!("/syncs/{failed}/retry"), None, StatusCode::OK)
        .await;
    assert_eq!(
        (data["retry_of"].as_str(), data["already_queued"].clone()),
        (Some(failed.as_str()), json!(false))
    );
    let retry = data["sync"]["id"].as_str().unwrap().to_owned();
    assert_ne!(retry, failed, "a new run");
    assert_eq!(
        (data["sync"]["state"].clone(), data["sync"]["sync_type"].clone()),
        (json!("QUEUED"), json!("DELTA"))
    );
    assert_eq!(data["sync"]["job_queued"], true, "its job was pushed");
    assert_eq!(h.pending("sync-delta").await, pending + 1);
    let old = h.store.get_run(&failed).await.unwrap().unwrap();
    assert_eq!(old.state, RunState::Failed, "the failed run stays as it ended");
    // Retrying again while the retry is open returns it.
    let again = h
        .ok(Method::POST, &format!("/syncs/{failed}/retry"), None, StatusCode::OK)
        .await;
    assert_eq!(
        (again["sync"]["id"].as_str(), again["already_queued"].clone()),
        (Some(retry.as_str()), json!(true))
    );

    // Runs in other states: 409; unknown: 404.
    let succeeded = h.ended_run(GLOBEX, "FULL", RunState::Succeeded, None).await;
    let cancelled = h.trigger(INITECH, "FULL").await;
    h.ok(
        Method::POST,
        &format!("/syncs/{cancelled}/cancel"),
        None,
        StatusCode::OK,
    )
    .await;
    for id in [succeeded.as_str(), cancelled.as_str(), retry.as_str()] {
        assert_error(
            h.post(&format!("/syncs/{id}/retry")).await,
            StatusCode::CONFLICT,
            "PLATFORM.SYNC_CONFLICT",
        );
    }
    assert_error(
        h.post("/syncs/nope/retry").await,
        StatusCode::NOT_FOUND,
        "PLATFORM.SYNC_NOT_FOUND",
    );
    let auth = h
        .ended_run(GLOBEX, "DELTA", RunState::AuthenticationFailed, Some("401"))
        .await;
    let data = h
        .ok(Method::POST, &format!("/syncs/{auth}/retry"), None, StatusCode::OK)
        .await;
    assert_eq!(data["sync"]["integration_id"], GLOBEX);
}

async fn integration_health(h: Harness) {
    for (id, tool) in [
        (ACME, ToolKind::Personio),
        (GLOBEX, ToolKind::Greenhouse),
        (INITECH, ToolKind::Bamboohr),
    ] {
        h.store
            .ensure_schedules(id, &tributary_engine::default_intervals(tool, false))
            .await
            .unwrap();
    }
    h.ended_run(ACME, "FULL", RunState::Succeeded, None).await;
    h.ended_run(GLOBEX, "FULL", RunState::Succeeded, None).await;
    let failure = h
        .ended_run(GLOBEX, "DELTA", RunState::Failed, Some("source down"))
        .await;

    let acme = h
        .ok(
            Method::GET,
            &format!("/integrations/{ACME}/health"),
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(acme["state"], "healthy", "{acme}");
    assert!(
        acme["last_success_at"].is_string() && acme["next_due_at"].is_string(),
        "{acme}"
    );
    assert_eq!(acme["interval_seconds"], 3 * 3600, "its DELTA's");
    assert!(acme["staleness_seconds"].as_i64().unwrap() >= 0);
    assert_eq!(acme["last_error"], Value::Null);
    let globex = h
        .ok(
            Method::GET,
            &format!("/integrations/{GLOBEX}/health"),
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(globex["state"], "failing");
    assert_eq!(
        (
            globex["last_error"]["run_id"].as_str(),
            globex["last_error"]["message"].as_str()
        ),
        (Some(failure.as_str()), Some("source down"))
    );
    assert!(globex["last_error"]["at"].is_string());
    let initech = h
        .ok(
            Method::GET,
            &format!("/integrations/{INITECH}/health"),
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(initech["state"], "never_synced");

    // The interval is the shortest of the running schedules' (an override counts; a paused
    // schedule does not). Stale itself needs a success older than two of them: the unit tests
    // of `routes/health.rs` judge that, as no test waits for time to pass.
    h.ok(
        Method::PUT,
        &format!("/integrations/{ACME}/schedules/DELTA"),
        Some(r#"{"every_seconds": 60}"#),
        StatusCode::OK,
    )
    .await;
    h.ok(
        Method::POST,
        &format!("/integrations/{ACME}/schedules/FULL/pause"),
        None,
        StatusCode::OK,
    )
    .await;
    let acme = h
        .ok(
            Method::GET,
            &format!("/integrations/{ACME}/health"),
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(acme["interval_seconds"], 60);
    h.ok(
        Method::POST,
        &format!("/integrations/{ACME}/schedules/DELTA/pause"),
        None,
        StatusCode::OK,
    )
    .await;
    let acme = h
        .ok(
            Method::GET,
            &format!("/integrations/{ACME}/health"),
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(acme["state"], "paused");
    assert_eq!(acme["next_due_at"], Value::Null);

    // The list: by id, filtered by tool and state, a page at a time.
    let all = h.ok(Method::GET, "/integrations/health", None, StatusCode::OK).await;
    let states: Vec<(String, String)> = results(&all)
        .iter()
        .map(|r| {
            (
                r["integration_id"].as_str().unwrap().into(),
                r["state"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        states,
        vec![
            (INITECH.into(), "never_synced".into()),
            (GLOBEX.into(), "failing".into()),
            (ACME.into(), "paused".into()),
        ]
    );
    let failing = h
        .ok(
            Method::GET,
            "/integrations/health?state=failing,paused",
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(results(&failing).len(), 2);
    let by_tool = h
        .ok(Method::GET, "/integrations/health?tool=bamboohr", None, StatusCode::OK)
        .await;
    assert_eq!(results(&by_tool)[0]["integration_id"], INITECH);
    let mut walked = Vec::new();
    let mut path = "/integrations/health?limit=1".to_owned();
    loop {
        let page = h.ok(Method::GET, &path, None, StatusCode::OK).await;
        walked.extend(
            results(&page)
                .iter()
                .map(|r| r["integration_id"].as_str().unwrap().to_owned()),
        );
        let Some(next) = page["next"].as_str() else { break };
        path = format!("/integrations/health?limit=1&cursor={next}");
    }
    assert_eq!(walked, vec![INITECH, GLOBEX, ACME]);
    let one = h
        .ok(
            Method::GET,
            "/integrations/health?state=never_synced&limit=1",
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(one["next"], Value::Null, "no second never-synced integration follows");

    assert_error(
        h.get("/integrations/personio:nope/health").await,
        StatusCode::NOT_FOUND,
        "PLATFORM.INTEGRATION_NOT_FOUND",
    );
    for bad in ["state=sick", "tool=workday", "limit=0", "cursor=x", "environment=prod"] {
        assert_error(
            h.get(&format!("/integrations/health?{bad}")).await,
            StatusCode::BAD_REQUEST,
            "PLATFORM.INPUT_INVALID",
        );
    }
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
    trigger_and_queue_depths,
    idle_run_controls,
    running_run_signals,
    syncs_listing,
    recent_runs,
    bad_input,
    schedule_overrides,
    api_keys_listing,
    runs_search,
    runs_cursor_walk_while_inserting,
    schedule_pause_and_resume,
    retry_failed_runs,
    integration_health,
);
