//! `/metrics`, `/health` and `/ready` of the fleet's processes: a worker and a scheduler with
//! `--http-listen`, and a gateway on its own port. Expositions are read with a Prometheus text
//! parser (`prometheus-parse`), and the counters a user watches are held to what happened.

use std::time::Duration;

use prometheus_parse::{Scrape, Value};
use tributary_gateway::{generate_api_key, hash_api_key};
use tributary_model::{PauseReason, RunState, SyncType, ToolKind};
use tributary_sim::{FaultAction, FaultRule};
use tributary_store::{NewIntegration, NewWebhookEndpoint};

use crate::support::{Stack, free_port};

const WAIT: Duration = Duration::from_secs(60);

async fn get(url: &str) -> Option<(u16, String)> {
    let r = reqwest::get(url).await.ok()?;
    let status = r.status().as_u16();
    Some((status, r.text().await.ok()?))
}

async fn scrape(base: &str) -> Scrape {
    let (status, body) = get(&format!("{base}/metrics")).await.expect("/metrics answers");
    assert_eq!(status, 200, "{body}");
    Scrape::parse(body.lines().map(|l| Ok(l.to_owned()))).expect("a valid exposition")
}

/// The sum of the samples of `name` whose labels include `labels` (0 when there are none).
fn value(scrape: &Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    scrape
        .samples
        .iter()
        .filter(|s| s.metric == name && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .map(|s| match s.value {
            Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => v,
            _ => panic!("{name} is not a single value"),
        })
        .sum()
}

fn series(scrape: &Scrape, name: &str) -> usize {
    scrape.samples.iter().filter(|s| s.metric == name).count()
}

/// Starts `role` with `--http-listen` on a free port and waits until `/health` answers.
async fn with_listener(s: &mut Stack, role: &str, name: &str, args: &[&str]) -> String {
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let mut all = vec!["--http-listen", listen.as_str()];
    all.extend_from_slice(args);
    s.spawn(role, name, &all);
    let base = format!("http://{listen}");
    let health = format!("{base}/health");
    s.wait_until(Duration::from_secs(30), &format!("{name} answers /health"), || {
        let health = health.clone();
        async move { matches!(get(&health).await, Some((200, _))) }
    })
    .await;
    base
}

fn status(code: u16, retry_after: Option<&str>) -> FaultAction {
    FaultAction::Status {
        code,
        retry_after: retry_after.map(str::to_owned),
        body: None,
    }
}

/// A DELTA preempts a FULL over a slow source (200 ms a page): the worker counts one preemption
/// and its latency (from the DELTA's queueing to the FULL's pause), which is no longer than the
/// time between the trigger and the pause the test saw.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_preemption_is_counted_with_its_latency() {
    let Some(mut s) = Stack::start(&[ToolKind::Personio], 5000).await else {
        return;
    };
    let id = s.integration(ToolKind::Personio, "acme", true).await;
    let worker = with_listener(&mut s, "worker", "w1", &[]).await;
    let first = s.trigger(&id, SyncType::Full).await;
    let first = s.wait_ended(&first.run.id, Duration::from_secs(120)).await;
    assert_eq!(first.state, RunState::Succeeded, "{:?}", first.error);
    let personio = [("tool", "personio")];
    assert_eq!(
        value(&scrape(&worker).await, "tributary_preemptions_total", &personio),
        0.0,
        "nothing preempted yet"
    );

    s.sim.state.set_latency(ToolKind::Personio, 200);
    let full = s.trigger(&id, SyncType::Full).await;
    s.wait_run(&full.run.id, WAIT, "fetched 5 pages", |r| r.counts.pages_fetched >= 5)
        .await;
    let asked = std::time::Instant::now();
    let delta = s.trigger(&id, SyncType::Delta).await;
    let paused = s
        .wait_run(&full.run.id, WAIT, "paused for the delta", |r| {
            r.state == RunState::Paused
        })
        .await;
    let seen = asked.elapsed().as_secs_f64();
    assert_eq!(paused.pause_reason, Some(PauseReason::Preempted));
    let delta = s.wait_ended(&delta.run.id, WAIT).await;
    assert_eq!(delta.state, RunState::Succeeded, "{:?}", delta.error);

    let m = scrape(&worker).await;
    assert_eq!(value(&m, "tributary_preemptions_total", &personio), 1.0);
    assert_eq!(value(&m, "tributary_preemption_latency_seconds_count", &personio), 1.0);
    let latency = value(&m, "tributary_preemption_latency_seconds_sum", &personio);
    assert!(
        latency > 0.0 && latency <= seen + 1.0,
        "latency {latency} s, the test saw the pause {seen} s after the trigger"
    );
    // The paused FULL ends later: its execution ended PAUSED once, then SUCCEEDED.
    let full = s.wait_ended(&full.run.id, Duration::from_secs(300)).await;
    assert_eq!(full.state, RunState::Succeeded, "{:?}", full.error);
    let m = scrape(&worker).await;
    assert_eq!(
        value(
            &m,
            "tributary_sync_runs_total",
            &[("tool", "personio"), ("sync_type", "FULL"), ("state", "PAUSED")]
        ),
        1.0
    );
}

/// Outbound webhooks of a sync to a receiver that fails its first request: the worker counts
/// one `retry` attempt, one `delivered` per request the receiver accepted, and a delivery lag
/// for each of those.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_deliveries_are_counted_by_outcome() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    let Some(mut s) = Stack::start(&[ToolKind::Personio], 50).await else {
        return;
    };
    let id = s.integration(ToolKind::Personio, "acme", true).await;
    // A receiver answering 500 to its first request and 200 to every other, counting both.
    let (requests, accepted) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post({
            let (requests, accepted) = (requests.clone(), accepted.clone());
            move || async move {
                if requests.fetch_add(1, Ordering::SeqCst) == 0 {
                    axum::http::StatusCode::INTERNAL_SERVER_ERROR
                } else {
                    accepted.fetch_add(1, Ordering::SeqCst);
                    axum::http::StatusCode::OK
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.expect("receiver") });
    s.store
        .create_webhook_endpoint(NewWebhookEndpoint {
            environment: "test".into(),
            url,
            secret: "whsec_metrics".into(),
            event_types: vec![],
        })
        .await
        .expect("endpoint created");
    let worker = with_listener(&mut s, "worker", "w1", &[]).await;

    let run = s.trigger(&id, SyncType::Full).await.run;
    let done = s.wait_ended(&run.id, WAIT).await;
    assert_eq!(done.state, RunState::Succeeded, "{:?}", done.error);
    // The failed request's delivery is retried within the policy's first wait (at most 10 s).
    // Counters move just after the receiver answers: wait for them to agree with it.
    let base = worker.clone();
    s.wait_until(WAIT, "the worker's counters agree with the receiver", || {
        let (requests, accepted, base) = (requests.clone(), accepted.clone(), base.clone());
        async move {
            let m = scrape(&base).await;
            let accepted = accepted.load(Ordering::SeqCst) as f64;
            requests.load(Ordering::SeqCst) >= 2
                && value(&m, "tributary_webhook_deliveries_total", &[("outcome", "retry")]) == 1.0
                && value(&m, "tributary_webhook_deliveries_total", &[("outcome", "delivered")]) == accepted
                && value(&m, "tributary_webhook_delivery_lag_seconds_count", &[]) == accepted
        }
    })
    .await;
    let m = scrape(&worker).await;
    assert_eq!(value(&m, "tributary_webhook_dead_letters_total", &[]), 0.0);
}

/// A FULL sync that meets a 429 (Retry-After: 1) and a 503 on one request, then succeeds: the
/// worker's `/metrics` counts the run, the records it created and every source response.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_moves_the_workers_counters_by_what_it_did() {
    let Some(mut s) = Stack::start(&[ToolKind::Personio], 120).await else {
        return;
    };
    let id = s.integration(ToolKind::Personio, "acme", true).await;
    let worker = with_listener(
        &mut s,
        "worker",
        "w1",
        &[
            "--source-attempts",
            "3",
            "--source-rps",
            "100000",
            "--lease-ttl-secs",
            "3",
        ],
    )
    .await;
    let scheduler = with_listener(&mut s, "scheduler", "s1", &["--tick-secs", "0.2"]).await;
    for base in [&worker, &scheduler] {
        let (code, body) = get(&format!("{base}/ready")).await.expect("/ready answers");
        assert_eq!(code, 200, "{base}/ready: {body}");
    }

    // First attempt of the first list request: 429; its retry: 503; the third goes through.
    let list = |action| {
        FaultRule::new(ToolKind::Personio, action)
            .path("/company/employees")
            .query("limit=")
    };
    s.sim
        .state
        .add_fault(list(status(429, Some("1"))).times(1))
        .expect("fault");
    s.sim
        .state
        .add_fault(list(status(503, None)).skip(1).times(1))
        .expect("fault");

    let run = s.trigger(&id, SyncType::Full).await.run;
    let done = s.wait_ended(&run.id, WAIT).await;
    assert_eq!(done.state, RunState::Succeeded, "{:?}", done.error);
    assert!(done.counts.created > 0);

    let m = scrape(&worker).await;
    let personio = [("tool", "personio")];
    assert_eq!(
        value(
            &m,
            "tributary_sync_runs_total",
            &[("tool", "personio"), ("sync_type", "FULL"), ("state", "SUCCEEDED")]
        ),
        1.0
    );
    assert_eq!(
        value(&m, "tributary_sync_runs_total", &personio),
        1.0,
        "no other execution"
    );
    assert_eq!(
        value(
            &m,
            "tributary_sync_records_total",
            &[("tool", "personio"), ("change", "created")]
        ),
        done.counts.created as f64
    );
    assert_eq!(
        value(
            &m,
            "tributary_sync_records_total",
            &[("tool", "personio"), ("model", "employees"), ("change", "created")]
        ),
        120.0,
        "every employee of the simulated company: {:?}",
        m.samples
            .iter()
            .filter(|s| s.metric == "tributary_sync_records_total")
            .map(|s| (&s.labels, &s.value))
            .collect::<Vec<_>>()
    );
    assert_eq!(
        value(
            &m,
            "tributary_source_requests_total",
            &[("tool", "personio"), ("status", "429")]
        ),
        1.0
    );
    assert_eq!(
        value(
            &m,
            "tributary_source_requests_total",
            &[("tool", "personio"), ("status", "503")]
        ),
        1.0
    );
    let ok = value(
        &m,
        "tributary_source_requests_total",
        &[("tool", "personio"), ("status", "200")],
    );
    assert!(
        ok >= done.counts.pages_fetched as f64,
        "{ok} 200s for {} pages",
        done.counts.pages_fetched
    );
    assert_eq!(value(&m, "tributary_source_retries_total", &personio), 2.0);
    assert_eq!(value(&m, "tributary_source_retry_after_seconds_count", &personio), 1.0);
    assert_eq!(value(&m, "tributary_source_retry_after_seconds_sum", &personio), 1.0);
    assert!(value(&m, "tributary_source_rate_limit_waits_total", &personio) >= 1.0);
    assert_eq!(value(&m, "tributary_sync_run_duration_seconds_count", &personio), 1.0);
    assert!(
        value(
            &m,
            "tributary_sync_page_duration_seconds_count",
            &[("tool", "personio"), ("stage", "write")]
        ) >= 1.0
    );
    assert_eq!(value(&m, "tributary_leases_held", &[]), 0.0, "the lease is released");
    // Every series of a source request names an endpoint template, never a URL.
    for sample in m
        .samples
        .iter()
        .filter(|s| s.metric == "tributary_source_requests_total")
    {
        let endpoint = sample.labels.get("endpoint").expect("endpoint label");
        assert!(!endpoint.contains("http") && !endpoint.contains('?'), "{endpoint}");
    }

    // The scheduler's fleet gauges: the run is finished, the integration fresh.
    let m = scrape(&scheduler).await;
    assert_eq!(value(&m, "tributary_collector_up", &[("collector", "fleet")]), 1.0);
    assert_eq!(series(&m, "tributary_queue_jobs"), 9, "3 queues × 3 states");
    assert_eq!(value(&m, "tributary_open_runs", &[("sync_type", "FULL")]), 0.0);
    assert_eq!(
        value(
            &m,
            "tributary_integrations",
            &[("tool", "personio"), ("staleness", "fresh")]
        ),
        1.0
    );
    assert_eq!(value(&m, "tributary_integrations", &[]), 1.0);
}

/// `/ready` turns 503 while the mirror refuses connections, and `/metrics` still answers,
/// reporting the fleet collector down instead of failing or hanging the scrape.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ready_fails_and_metrics_report_the_collector_down_when_the_store_is_unreachable() {
    let Some(mut s) = Stack::start(&[ToolKind::Personio], 20).await else {
        return;
    };
    let base = with_listener(&mut s, "scheduler", "s1", &["--metrics-timeout-ms", "3000"]).await;
    let (code, _) = get(&format!("{base}/ready")).await.expect("/ready answers");
    assert_eq!(code, 200);

    let db = s
        .prefix
        .strip_prefix("fleettest-")
        .expect("the prefix names the database")
        .to_owned();
    let admin_url = tributary_store::testing::admin_url();
    let admin = |sql: String| {
        let admin_url = admin_url.clone();
        async move {
            use sqlx::Connection as _;
            let mut conn = sqlx::PgConnection::connect(&admin_url).await.expect("admin connects");
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                .execute(&mut conn)
                .await
                .expect("admin statement");
        }
    };
    admin(format!(
        "ALTER DATABASE \"{db}\" ALLOW_CONNECTIONS false; \
         SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{db}'"
    ))
    .await;

    let ready = format!("{base}/ready");
    s.wait_until(WAIT, "/ready answers 503", || {
        let ready = ready.clone();
        async move {
            match get(&ready).await {
                Some((503, body)) => body.contains("store"),
                _ => false,
            }
        }
    })
    .await;
    let m = scrape(&base).await;
    assert_eq!(value(&m, "tributary_collector_up", &[("collector", "fleet")]), 0.0);
    assert_eq!(
        series(&m, "tributary_integrations"),
        0,
        "no gauges from a failed collector"
    );
    assert!(value(&m, "tributary_collector_failures_total", &[("collector", "fleet")]) >= 1.0);

    admin(format!("ALTER DATABASE \"{db}\" ALLOW_CONNECTIONS true")).await;
    s.wait_until(WAIT, "/ready answers 200 again", || {
        let ready = ready.clone();
        async move { matches!(get(&ready).await, Some((200, _))) }
    })
    .await;
}

/// The gateway counts requests by route template and status; and however many integrations
/// there are, `/metrics` has the same series: counts per tool and staleness, plus the N
/// stalest (`--metrics-stalest`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_requests_by_route_and_series_bounded_however_many_integrations() {
    let Some(mut s) = Stack::start(&[ToolKind::Personio], 20).await else {
        return;
    };
    let id = s.integration(ToolKind::Personio, "acme", true).await;
    let key = generate_api_key();
    s.store
        .create_api_key("test", "metrics", &hash_api_key(&key))
        .await
        .expect("api key");
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    s.spawn(
        "gateway",
        "g1",
        &["--listen", &format!("127.0.0.1:{port}"), "--metrics-stalest", "3"],
    );
    let health = format!("{base}/health");
    s.wait_until(Duration::from_secs(30), "the gateway answers", || {
        let health = health.clone();
        async move { matches!(get(&health).await, Some((200, _))) }
    })
    .await;

    let client = reqwest::Client::new();
    let send = |path: &str, key: &str| {
        client
            .get(format!("{base}{path}"))
            .bearer_auth(key)
            .header("X-Integration-Id", &id)
            .send()
    };
    for _ in 0..2 {
        assert_eq!(send("/v1/hris/employees", &key).await.unwrap().status(), 200);
    }
    assert_eq!(send("/v1/hris/employees", "wrong-key").await.unwrap().status(), 401);
    assert_eq!(send("/v1/no/such/route/x123", &key).await.unwrap().status(), 404);

    let before = scrape(&base).await;
    let employees = [("route", "/v1/hris/employees"), ("method", "GET")];
    assert_eq!(
        value(
            &before,
            "tributary_http_requests_total",
            &[employees[0], employees[1], ("status", "200")]
        ),
        2.0
    );
    assert_eq!(
        value(
            &before,
            "tributary_http_requests_total",
            &[employees[0], employees[1], ("status", "401")]
        ),
        1.0
    );
    assert_eq!(
        value(
            &before,
            "tributary_http_requests_total",
            &[("route", "unmatched"), ("status", "404")]
        ),
        1.0
    );
    assert_eq!(
        value(&before, "tributary_http_request_duration_seconds_count", &employees),
        3.0
    );
    assert!(
        !before
            .samples
            .iter()
            .any(|s| s.labels.get("route").is_some_and(|r| r.contains("x123"))),
        "no raw path becomes a label"
    );
    assert_eq!(series(&before, "tributary_integration_staleness_seconds"), 1);

    // 200 more integrations, of every tool.
    for n in 0..200 {
        let tool = ToolKind::ALL[n % ToolKind::ALL.len()];
        s.store
            .create_integration(NewIntegration {
                id: format!("{}:more{n}", tool.as_str()),
                tool,
                environment: "test".into(),
                base_url: "http://127.0.0.1:9".into(),
                credentials: s.sim.integration_credentials(ToolKind::Personio),
                scope_config: Default::default(),
            })
            .await
            .expect("integration");
    }
    let after = scrape(&base).await;
    assert_eq!(value(&after, "tributary_collector_up", &[("collector", "fleet")]), 1.0);
    assert_eq!(
        value(&after, "tributary_integrations", &[]),
        201.0,
        "every integration is counted"
    );
    assert_eq!(
        series(&after, "tributary_integrations"),
        15,
        "3 tools × 5 staleness values"
    );
    assert_eq!(
        series(&after, "tributary_integration_staleness_seconds"),
        3,
        "--metrics-stalest 3"
    );
    assert_eq!(series(&after, "tributary_integration_staleness_ratio"), 3);
    let fleet_series = |m: &Scrape| {
        m.samples
            .iter()
            .filter(|s| !s.metric.starts_with("tributary_http_") && s.metric != "tributary_collector_duration_seconds")
            .count()
    };
    assert_eq!(
        fleet_series(&after),
        fleet_series(&before) + 2 * 2,
        "only the stalest grew from 1 to 3, each with a staleness and a ratio"
    );
}
