//! Traces and JSON logs of `tributary serve` (embedded: SQLite, in-memory queues), seen the way
//! an operator's collector and log shipper see them: an OTLP/HTTP receiver in the test decodes
//! the exported protobuf, and the process's stdout is read line by line.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use prost::Message as _;
use serde_json::{Value, json};
use tributary_sim::Simulator;

use crate::support::{EMBEDDED_ADMIN as ADMIN, embedded_personio, embedded_tributary as tributary, free_port};

/// A span as the receiver decoded it: ids in lowercase hex (the W3C spelling), attributes as
/// text.
#[derive(Debug, Clone)]
struct Exported {
    trace_id: String,
    span_id: String,
    parent_span_id: String,
    name: String,
    service: String,
    attributes: HashMap<String, String>,
}

impl Exported {
    fn attr(&self, key: &str) -> Option<&str> {
        self.attributes.get(key).map(String::as_str)
    }
}

/// An OTLP/HTTP trace receiver: `POST /v1/traces` with an `ExportTraceServiceRequest`.
#[derive(Clone, Default)]
struct Collector {
    spans: Arc<Mutex<Vec<Exported>>>,
    requests: Arc<Mutex<usize>>,
}

impl Collector {
    async fn start(addr: SocketAddr) -> std::io::Result<(Self, SocketAddr)> {
        let collector = Collector::default();
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let app = axum::Router::new()
            .route("/v1/traces", post(receive))
            .with_state(collector.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok((collector, addr))
    }

    fn spans(&self) -> Vec<Exported> {
        self.spans.lock().unwrap().clone()
    }

    fn requests(&self) -> usize {
        *self.requests.lock().unwrap()
    }
}

async fn receive(State(collector): State<Collector>, body: Bytes) -> StatusCode {
    *collector.requests.lock().unwrap() += 1;
    let Ok(request) = ExportTraceServiceRequest::decode(body) else {
        return StatusCode::BAD_REQUEST;
    };
    let mut spans = collector.spans.lock().unwrap();
    for resource in request.resource_spans {
        let service = resource
            .resource
            .iter()
            .flat_map(|r| &r.attributes)
            .find(|kv| kv.key == "service.name")
            .map(|kv| text(kv.value.as_ref().and_then(|v| v.value.as_ref())))
            .unwrap_or_default();
        for span in resource.scope_spans.into_iter().flat_map(|s| s.spans) {
            spans.push(Exported {
                trace_id: hex(&span.trace_id),
                span_id: hex(&span.span_id),
                parent_span_id: hex(&span.parent_span_id),
                name: span.name,
                service: service.clone(),
                attributes: span
                    .attributes
                    .iter()
                    .map(|kv| (kv.key.clone(), text(kv.value.as_ref().and_then(|v| v.value.as_ref()))))
                    .collect(),
            });
        }
    }
    StatusCode::OK
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn text(value: Option<&AnyValue>) -> String {
    match value {
        Some(AnyValue::StringValue(s)) => s.clone(),
        Some(AnyValue::IntValue(i)) => i.to_string(),
        Some(AnyValue::BoolValue(b)) => b.to_string(),
        Some(AnyValue::DoubleValue(d)) => d.to_string(),
        other => format!("{other:?}"),
    }
}

/// A webhook receiver: every body posted to `/hook`.
#[derive(Clone, Default)]
struct Hooks(Arc<Mutex<Vec<Value>>>);

impl Hooks {
    async fn start() -> (Self, String) {
        let hooks = Hooks::default();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let app = axum::Router::new()
            .route(
                "/hook",
                post(|State(hooks): State<Hooks>, body: Bytes| async move {
                    hooks
                        .0
                        .lock()
                        .unwrap()
                        .push(serde_json::from_slice(&body).unwrap_or(Value::Null));
                    StatusCode::OK
                }),
            )
            .with_state(hooks.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        (hooks, url)
    }

    fn sync_finished(&self, run_id: &str) -> bool {
        self.0
            .lock()
            .unwrap()
            .iter()
            .any(|e| e["type"] == "sync-finished" && e["data"]["sync_id"] == run_id)
    }
}

/// `tributary serve` over a simulated Personio with one integration, an API key and a webhook
/// endpoint, its first (scheduled) FULL done.
struct Served {
    _sim: Simulator,
    _serve: tokio::process::Child,
    dir: PathBuf,
    base: String,
    key: String,
    client: reqwest::Client,
}

impl Served {
    async fn start(name: &str, otel: &[(&str, String)], hook_url: &str) -> Self {
        let (sim, dir, key) = embedded_personio(name, 30).await;
        let port = free_port();
        let mut cmd = tributary(&dir);
        cmd.args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--tick-secs",
            "0.2",
            "--log-format",
            "json",
        ])
        // Batches every 100 ms instead of 5 s: the test waits for spans, not for a timer.
        .env("OTEL_BSP_SCHEDULE_DELAY", "100")
        .stdout(std::fs::File::create(dir.join("serve.log")).unwrap())
        .stderr(std::fs::File::create(dir.join("serve.err")).unwrap())
        .stdin(Stdio::null());
        for (k, v) in otel {
            cmd.env(k, v);
        }
        let serve = cmd.spawn().expect("serve starts");
        let served = Served {
            _sim: sim,
            _serve: serve,
            dir,
            base: format!("http://127.0.0.1:{port}"),
            key,
            client: reqwest::Client::new(),
        };
        served
            .wait(Duration::from_secs(60), "the scheduled FULL succeeds", || async {
                served
                    .runs()
                    .await
                    .iter()
                    .any(|r| r["sync_type"] == "FULL" && r["state"] == "SUCCEEDED")
            })
            .await;
        let endpoint = served
            .client
            .post(format!("{}/ops/v1/webhooks/endpoints", served.base))
            .bearer_auth(ADMIN)
            .json(&json!({"environment": "default", "url": hook_url, "secret": "whsec_traces_test_1234"}))
            .send()
            .await
            .expect("endpoint created");
        assert!(endpoint.status().is_success(), "{:?}", endpoint.text().await);
        served
    }

    async fn runs(&self) -> Vec<Value> {
        let got = self
            .client
            .get(format!(
                "{}/ops/v1/integrations/personio:acme/syncs?limit=100",
                self.base
            ))
            .bearer_auth(ADMIN)
            .send()
            .await;
        match got {
            Ok(r) if r.status().is_success() => r.json::<Value>().await.ok(),
            _ => None,
        }
        .and_then(|v| v["data"]["results"].as_array().cloned())
        .unwrap_or_default()
    }

    /// `POST /v1/force-sync` of a FULL; the new run's id.
    async fn force_full(&self) -> String {
        let reply: Value = self
            .client
            .post(format!("{}/v1/force-sync", self.base))
            .bearer_auth(&self.key)
            .header("X-Integration-Id", "personio:acme")
            .json(&json!({"type": "FULL"}))
            .send()
            .await
            .expect("force-sync")
            .json()
            .await
            .expect("JSON");
        assert_eq!(reply["data"]["already_queued"], false, "{reply}");
        reply["data"]["sync_id"].as_str().expect("sync_id").to_owned()
    }

    async fn wait<F, Fut>(&self, within: Duration, what: &str, mut check: F)
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let start = Instant::now();
        while !check().await {
            assert!(
                start.elapsed() < within,
                "{what}: not within {within:?}\n{}",
                std::fs::read_to_string(self.dir.join("serve.err")).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Every line the process logged so far, each parsed as JSON (a line that is not JSON
    /// fails the test).
    fn log_lines(&self) -> Vec<Value> {
        std::fs::read_to_string(self.dir.join("serve.log"))
            .unwrap_or_default()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON log line ({e}): {line}")))
            .collect()
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The span list of a JSON log line: the spans it was logged in, root first.
fn spans_of(line: &Value) -> Vec<Value> {
    line["spans"].as_array().cloned().unwrap_or_default()
}

/// The lines logged inside the `job` span of `run_id`.
fn lines_of_run(lines: &[Value], run_id: &str) -> Vec<Value> {
    lines
        .iter()
        .filter(|l| spans_of(l).iter().any(|s| s["name"] == "job" && s["run_id"] == run_id))
        .cloned()
        .collect()
}

/// Whether `span`'s chain of parents reaches `ancestor`.
fn descends(spans: &HashMap<String, Exported>, span: &Exported, ancestor: &str) -> bool {
    let mut parent = span.parent_span_id.clone();
    while let Some(p) = spans.get(&parent) {
        if p.span_id == ancestor {
            return true;
        }
        parent = p.parent_span_id.clone();
    }
    parent == ancestor
}

/// A forced FULL is one trace: the gateway's request span is its root; the worker's job span
/// descends from it; stream spans are the job's children, page spans the streams', source
/// requests the pages'; the run's webhook deliveries are in the same trace. The JSON log lines
/// of the run carry its ids and the trace's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forced_sync_is_one_trace_from_request_to_webhook() {
    let (collector, otlp) = Collector::start("127.0.0.1:0".parse().unwrap())
        .await
        .expect("receiver");
    let (hooks, hook_url) = Hooks::start().await;
    let served = Served::start(
        "traces",
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", format!("http://{otlp}")),
            ("OTEL_SERVICE_NAME", "tributary-under-test".to_owned()),
            ("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=ci".to_owned()),
        ],
        &hook_url,
    )
    .await;

    let run_id = served.force_full().await;
    served
        .wait(
            Duration::from_secs(60),
            "the forced run's sync-finished webhook arrives",
            || async { hooks.sync_finished(&run_id) },
        )
        .await;

    // The spans arrive in batches as they end; the tree is complete once the delivery's span
    // is exported (it ends after the run's last page).
    let start = Instant::now();
    let (root, spans) = loop {
        let all = collector.spans();
        let job = all
            .iter()
            .find(|s| s.name == "job" && s.attr("run_id") == Some(run_id.as_str()));
        if let Some(job) = job {
            let trace: Vec<Exported> = all.iter().filter(|s| s.trace_id == job.trace_id).cloned().collect();
            let root = trace
                .iter()
                .find(|s| s.parent_span_id.is_empty() || s.parent_span_id == "0000000000000000")
                .cloned();
            let delivered = trace
                .iter()
                .any(|s| s.name == "webhook delivery" && s.attr("event_type") == Some("sync-finished"));
            if let (Some(root), true) = (root, delivered) {
                break (root, trace);
            }
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the forced run's trace never completed; {} spans received: {:#?}",
            all.len(),
            all.iter()
                .map(|s| (&s.name, &s.trace_id, &s.attributes))
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let by_id: HashMap<String, Exported> = spans.iter().map(|s| (s.span_id.clone(), s.clone())).collect();

    // The root: the gateway's request span of POST /v1/force-sync.
    assert_eq!(root.name, "POST", "{root:?}");
    assert_eq!(root.attr("path"), Some("/v1/force-sync"), "{root:?}");
    assert_eq!(root.service, "tributary-under-test");
    // One job span per execution of the run (one, unless something paused and resumed it):
    // all continue the request's trace.
    let jobs: Vec<&Exported> = spans.iter().filter(|s| s.name == "job").collect();
    assert!(!jobs.is_empty(), "a job span");
    for job in &jobs {
        assert_eq!(job.attr("run_id"), Some(run_id.as_str()), "{job:?}");
        assert_eq!(job.attr("integration_id"), Some("personio:acme"), "{job:?}");
        assert_eq!(job.attr("sync_type"), Some("FULL"), "{job:?}");
        assert!(
            descends(&by_id, job, &root.span_id),
            "the job descends from the request: {job:?}"
        );
    }

    let streams: Vec<&Exported> = spans.iter().filter(|s| s.name == "stream").collect();
    assert!(!streams.is_empty(), "stream spans");
    for s in &streams {
        assert!(
            jobs.iter().any(|j| j.span_id == s.parent_span_id),
            "a stream under the job: {s:?}"
        );
    }
    assert!(
        streams.iter().any(|s| s.attr("stream") == Some("employees")),
        "{streams:?}"
    );
    let pages: Vec<&Exported> = spans.iter().filter(|s| s.name == "page").collect();
    assert!(!pages.is_empty(), "page spans");
    for p in &pages {
        assert!(
            streams.iter().any(|s| s.span_id == p.parent_span_id),
            "a page under a stream: {p:?}"
        );
    }
    let requests: Vec<&Exported> = spans.iter().filter(|s| s.name == "source request").collect();
    assert!(requests.len() >= pages.len(), "a source request per page at least");
    for r in &requests {
        assert!(
            pages.iter().any(|p| p.span_id == r.parent_span_id),
            "a source request under a page: {r:?}"
        );
    }
    assert!(
        requests
            .iter()
            .any(|r| r.attr("http.response.status_code") == Some("200")),
        "the tool's answers are recorded: {requests:?}"
    );
    let deliveries: Vec<&Exported> = spans.iter().filter(|s| s.name == "webhook delivery").collect();
    for d in &deliveries {
        assert!(
            descends(&by_id, d, &root.span_id),
            "a delivery in the trace's tree: {d:?}"
        );
        assert_eq!(d.attr("http.response.status_code"), Some("200"), "{d:?}");
    }

    // The run's log lines: JSON, inside the job span (its run and integration), and with the
    // trace's ids.
    let lines = served.log_lines();
    let of_run = lines_of_run(&lines, &run_id);
    assert!(
        of_run.iter().any(|l| l["fields"]["message"] == "sync succeeded"),
        "the run's lines: {of_run:#?}"
    );
    for line in &of_run {
        let job_span = spans_of(line)
            .into_iter()
            .find(|s| s["name"] == "job")
            .expect("the job span");
        assert_eq!(job_span["integration_id"], "personio:acme", "{line}");
        assert_eq!(line["trace_id"], root.trace_id.as_str(), "{line}");
        assert!(
            line["span_id"].as_str().is_some_and(|id| by_id.contains_key(id)),
            "{line}"
        );
    }
    // Every line logged in a stream, page or source request span is some run's.
    for line in &lines {
        let spans = spans_of(line);
        if spans
            .iter()
            .any(|s| ["stream", "page", "source request"].contains(&s["name"].as_str().unwrap_or("")))
        {
            assert!(
                spans
                    .iter()
                    .any(|s| s["name"] == "job" && s["run_id"].is_string() && s["integration_id"].is_string()),
                "{line}"
            );
        }
    }
}

/// Without an OTLP endpoint there is no exporter: nothing reaches a collector on the default
/// OTLP/HTTP port, and log lines have no trace ids, while a run's lines still carry its ids.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_an_endpoint_nothing_is_exported() {
    // The SDK's default endpoint, were an exporter to start without one. Taken by something
    // else: the log lines still tell.
    let collector = Collector::start("127.0.0.1:4318".parse().unwrap()).await.ok();
    let (hooks, hook_url) = Hooks::start().await;
    let served = Served::start(
        "untraced",
        &[("OTEL_SERVICE_NAME", "tributary-untraced".to_owned())],
        &hook_url,
    )
    .await;
    let run_id = served.force_full().await;
    served
        .wait(
            Duration::from_secs(60),
            "the forced run's sync-finished webhook arrives",
            || async { hooks.sync_finished(&run_id) },
        )
        .await;

    let lines = served.log_lines();
    let of_run = lines_of_run(&lines, &run_id);
    assert!(
        of_run.iter().any(|l| l["fields"]["message"] == "sync succeeded"),
        "the run's lines: {of_run:#?}"
    );
    for line in &of_run {
        let job = spans_of(line)
            .into_iter()
            .find(|s| s["name"] == "job")
            .expect("the job span");
        assert_eq!(job["integration_id"], "personio:acme", "{line}");
    }
    assert!(
        lines.iter().all(|l| l.get("trace_id").is_none()),
        "no trace ids without traces"
    );
    if let Some((collector, _)) = collector {
        assert_eq!(collector.requests(), 0, "no export without an endpoint");
    }
}

/// A `--log-format` that is neither `text` nor `json`: one line on stderr, exit status 2, from
/// the flag and from TRIBUTARY_LOG_FORMAT alike.
#[tokio::test]
async fn a_bad_log_format_is_one_clear_error() {
    let dir = std::env::temp_dir().join(format!("tributary-logformat-{}", std::process::id()));
    for (flag, env) in [(Some("xml"), None), (None, Some("yaml"))] {
        let mut cmd = tributary(&dir);
        if let Some(f) = flag {
            cmd.args(["--log-format", f]);
        }
        if let Some(e) = env {
            cmd.env("TRIBUTARY_LOG_FORMAT", e);
        }
        let out = cmd.arg("migrate").output().await.expect("runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        let bad = flag.or(env).unwrap();
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert_eq!(
            stderr.trim_end(),
            format!("error: --log-format `{bad}` is not one of: text, json"),
            "one line naming the value"
        );
    }
    assert!(!dir.exists(), "nothing was done");
}
