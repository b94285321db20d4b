//! Delivery end to end: events written by the mirror's real write paths (creating an
//! integration, finishing a run) on a real Postgres, delivered by the real deliverer over real
//! HTTP to axum receivers on 127.0.0.1. Skipped (with a `SKIPPED` line) when Postgres is
//! unreachable, unless `TRIBUTARY_REQUIRE_SERVICES` is set.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use serde_json::{Value, json};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tributary_model::{RunState, ScopeConfig, SyncType, ToolKind};
use tributary_store::testing::{TestDatabase, fresh_sqlite_store, pg_store_or_skip};
use tributary_store::{
    DeliveryAttempt, DeliveryFilter, DeliveryState, MirrorStore, NewIntegration, NewWebhookEndpoint, RunWrite,
    WebhookDelivery, WebhookEndpoint,
};
use tributary_webhooks::sign::{TRIBUTARY_ATTEMPT, TRIBUTARY_DELIVERY_ID, TRIBUTARY_EVENT_ID};
use tributary_webhooks::{Deliverer, DelivererConfig, RetryPolicy, TargetPolicy, verify_headers};

const ENV: &str = "production";
const SECRET: &str = "whsec_delivery_test";

// ---- a receiver ---------------------------------------------------------------------------

/// What the receiver answers to one request.
#[derive(Debug, Clone, Copy)]
enum Reply {
    Status(u16),
    /// Sleeps this long, then answers 200: longer than the deliverer's timeout, it is a timeout.
    Hang(Duration),
}

/// One request as the receiver saw it.
#[derive(Debug, Clone)]
struct Seen {
    at: Instant,
    event_id: String,
    delivery_id: String,
    attempt: i32,
    body: Value,
    /// Both signatures verified (the timestamped one within 5 minutes).
    verified: Result<i64, String>,
    user_agent: String,
    content_type: String,
    /// What it answered.
    reply: Reply,
}

#[derive(Default)]
struct ReceiverState {
    /// Replies for the next requests, in order; 200 once empty.
    plan: Mutex<VecDeque<Reply>>,
    /// Answer every request with this once the plan is exhausted (default 200).
    fallback: Mutex<Option<Reply>>,
    seen: Mutex<Vec<Seen>>,
}

struct Receiver {
    url: String,
    state: Arc<ReceiverState>,
}

impl Receiver {
    async fn start() -> Self {
        let state = Arc::new(ReceiverState::default());
        let app = Router::new().route("/hook", post(receive)).with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.expect("receiver") });
        Self { url, state }
    }

    fn plan(&self, replies: impl IntoIterator<Item = Reply>) {
        self.state.plan.lock().unwrap().extend(replies);
    }

    fn fallback(&self, reply: Option<Reply>) {
        *self.state.fallback.lock().unwrap() = reply;
    }

    fn seen(&self) -> Vec<Seen> {
        self.state.seen.lock().unwrap().clone()
    }

    /// Requests answered 200 at once, i.e. deliveries the deliverer saw succeed.
    fn accepted(&self) -> Vec<Seen> {
        self.seen()
            .into_iter()
            .filter(|s| matches!(s.reply, Reply::Status(200)))
            .collect()
    }
}

async fn receive(State(state): State<Arc<ReceiverState>>, headers: HeaderMap, body: Bytes) -> (StatusCode, String) {
    let reply = state
        .plan
        .lock()
        .unwrap()
        .pop_front()
        .or(*state.fallback.lock().unwrap())
        .unwrap_or(Reply::Status(200));
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let verified =
        verify_headers(SECRET, &headers, &body, chrono::Utc::now().timestamp(), 300).map_err(|e| e.to_string());
    state.seen.lock().unwrap().push(Seen {
        at: Instant::now(),
        event_id: text(TRIBUTARY_EVENT_ID),
        delivery_id: text(TRIBUTARY_DELIVERY_ID),
        attempt: text(TRIBUTARY_ATTEMPT).parse().unwrap_or(-1),
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
        verified,
        user_agent: text("user-agent"),
        content_type: text("content-type"),
        reply,
    });
    match reply {
        Reply::Status(code) => (StatusCode::from_u16(code).unwrap(), format!("answer {code}")),
        Reply::Hang(d) => {
            tokio::time::sleep(d).await;
            (StatusCode::OK, "too late".into())
        }
    }
}

// ---- the mirror's write paths ---------------------------------------------------------------

async fn endpoint(store: &dyn MirrorStore, url: &str) -> WebhookEndpoint {
    store
        .create_webhook_endpoint(NewWebhookEndpoint {
            environment: ENV.into(),
            url: url.into(),
            secret: SECRET.into(),
            event_types: vec![],
        })
        .await
        .expect("endpoint created")
}

/// Creates an integration: `integration-created`.
async fn create_integration(store: &dyn MirrorStore, id: &str) {
    store
        .create_integration(NewIntegration {
            id: id.into(),
            tool: ToolKind::Personio,
            environment: ENV.into(),
            base_url: "http://127.0.0.1:1".into(),
            credentials: json!({}),
            scope_config: ScopeConfig::default(),
        })
        .await
        .expect("integration created");
}

/// Creates an integration (`integration-created`) and runs a sync to its end
/// (`sync-finished`) through the mirror's write path.
async fn integration_with_a_finished_sync(store: &dyn MirrorStore, id: &str) {
    create_integration(store, id).await;
    let lease = store
        .acquire_lease(id, "test-worker", Duration::from_secs(60))
        .await
        .expect("lease query")
        .expect("lease free");
    let run = store.create_run(id, SyncType::Full).await.expect("run created");
    let run = store
        .start_run(&run.id, lease.fence, "test-worker")
        .await
        .expect("run started");
    let write = RunWrite {
        integration_id: id.into(),
        run_id: run.id.clone(),
        fence: lease.fence,
        sync_type: SyncType::Full,
        started_at: run.started_at.expect("started"),
        renderer: None,
        render_at_end: false,
    };
    store
        .finish_run(&write, RunState::Succeeded, None)
        .await
        .expect("run finished");
    store.release_lease(&lease).await.expect("lease released");
}

async fn deliveries(store: &dyn MirrorStore, endpoint: &WebhookEndpoint) -> Vec<WebhookDelivery> {
    store
        .list_deliveries(&DeliveryFilter {
            endpoint_id: Some(endpoint.id.clone()),
            limit: 1000,
            ..DeliveryFilter::default()
        })
        .await
        .expect("deliveries listed")
}

async fn attempts(store: &dyn MirrorStore, delivery: &WebhookDelivery) -> Vec<DeliveryAttempt> {
    store.delivery_attempts(&delivery.id).await.expect("attempts listed")
}

// ---- deliverers -----------------------------------------------------------------------------

/// Short everything, so a test takes seconds.
/// A retry policy whose second attempt does not come within a test. The wait is drawn
/// uniformly from `[0, ceiling]` (full jitter), so a ceiling of minutes still retries within
/// seconds now and then (it did in CI: ten minutes gave a second attempt in under ten seconds);
/// over a century, a retry within a minute has a chance of about 2·10⁻⁸.
fn one_attempt_in_the_test() -> RetryPolicy {
    const CENTURY: Duration = Duration::from_secs(100 * 365 * 24 * 3600);
    RetryPolicy {
        base: CENTURY,
        cap: CENTURY,
        window: CENTURY * 2,
    }
}

fn fast_config() -> DelivererConfig {
    DelivererConfig {
        concurrency: 8,
        batch: 8,
        lease: Duration::from_secs(3),
        request_timeout: Duration::from_millis(500),
        poll_interval: Duration::from_millis(20),
        retry: RetryPolicy {
            base: Duration::from_millis(50),
            cap: Duration::from_millis(200),
            window: Duration::from_secs(3600),
        },
        targets: TargetPolicy::default(),
        report_every: Duration::from_secs(1),
    }
}

struct Running {
    deliverer: Arc<Deliverer>,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

fn start(store: &Arc<dyn MirrorStore>, config: DelivererConfig) -> Running {
    let deliverer = Arc::new(Deliverer::new(store.clone(), config).expect("deliverer"));
    let (stop, shutdown) = watch::channel(false);
    let task = tokio::spawn(deliverer.clone().run(shutdown));
    Running { deliverer, stop, task }
}

impl Running {
    async fn stop(self) {
        self.stop.send(true).unwrap();
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("the deliverer stops on shutdown")
            .expect("no panic");
    }
}

/// Polls `check` every 50 ms until it is true; panics with `what` after `limit`.
async fn wait_for<F, Fut>(limit: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn all_in_state(store: &dyn MirrorStore, ep: &WebhookEndpoint, want: usize, state: DeliveryState) -> bool {
    let ds = deliveries(store, ep).await;
    ds.len() == want && ds.iter().all(|d| d.state == state)
}

async fn pg() -> Option<(Arc<dyn MirrorStore>, TestDatabase)> {
    pg_store_or_skip().await
}

// ---- tests ----------------------------------------------------------------------------------

/// (a) A receiver that answers 500s and times out for a while, then recovers: every event
/// arrives, every request's signatures verify, each event keeps its id across retries, and
/// every attempt is recorded.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn flaky_receiver_gets_every_event_once_it_recovers() {
    let Some((store, _db)) = pg().await else { return };
    let receiver = Receiver::start().await;
    let ep = endpoint(store.as_ref(), &receiver.url).await;
    let integrations = ["personio:one", "personio:two", "personio:three"];
    for id in integrations {
        integration_with_a_finished_sync(store.as_ref(), id).await;
    }
    let expected = deliveries(store.as_ref(), &ep).await;
    assert_eq!(
        expected.len(),
        6,
        "integration-created and sync-finished per integration: {expected:?}"
    );

    let failures = [
        Reply::Status(500),
        Reply::Hang(Duration::from_secs(2)),
        Reply::Status(503),
        Reply::Status(500),
        Reply::Hang(Duration::from_secs(2)),
        Reply::Status(502),
        Reply::Status(500),
        Reply::Hang(Duration::from_secs(2)),
        Reply::Status(500),
    ];
    receiver.plan(failures);
    let running = start(&store, fast_config());
    wait_for(Duration::from_secs(30), "every delivery DELIVERED", || {
        all_in_state(store.as_ref(), &ep, 6, DeliveryState::Delivered)
    })
    .await;
    let stats = running.deliverer.stats();
    running.stop().await;

    let seen = receiver.seen();
    assert!(
        receiver.state.plan.lock().unwrap().is_empty(),
        "every planned failure was hit"
    );
    assert_eq!(seen.len(), 6 + failures.len(), "one request per attempt: {seen:#?}");
    for s in &seen {
        assert!(s.verified.is_ok(), "signatures verify: {s:?}");
        assert_eq!(s.body["id"], s.event_id, "the payload id is the event id header");
        assert!(s.user_agent.starts_with("tributary-webhooks/"), "{}", s.user_agent);
        assert_eq!(s.content_type, "application/json");
    }

    // Every event arrived, each accepted exactly once (no failure after success).
    let accepted = receiver.accepted();
    let accepted_ids: BTreeSet<&str> = accepted.iter().map(|s| s.event_id.as_str()).collect();
    let expected_ids: BTreeSet<&str> = expected.iter().map(|d| d.event_id.as_str()).collect();
    assert_eq!(accepted_ids, expected_ids);
    assert_eq!(accepted.len(), 6);
    let types: BTreeMap<String, usize> = accepted.iter().fold(BTreeMap::new(), |mut m, s| {
        *m.entry(s.body["type"].as_str().unwrap().to_owned()).or_default() += 1;
        m
    });
    assert_eq!(
        types,
        BTreeMap::from([("integration-created".into(), 3), ("sync-finished".into(), 3)])
    );

    // Per delivery: one event id on every attempt, attempts numbered 1.., all recorded.
    for d in deliveries(store.as_ref(), &ep).await {
        let requests: Vec<&Seen> = seen.iter().filter(|s| s.delivery_id == d.id).collect();
        assert!(!requests.is_empty());
        assert!(
            requests.iter().all(|s| s.event_id == d.event_id),
            "stable event id: {requests:?}"
        );
        let numbers: Vec<i32> = requests.iter().map(|s| s.attempt).collect();
        assert_eq!(numbers, (1..=requests.len() as i32).collect::<Vec<_>>());
        let recorded = attempts(store.as_ref(), &d).await;
        assert_eq!(recorded.len(), requests.len(), "every attempt recorded: {recorded:?}");
        assert_eq!(d.attempts as usize, requests.len());
        for (r, s) in recorded.iter().zip(&requests) {
            assert_eq!(r.attempt, s.attempt);
            match s.reply {
                Reply::Status(200) => {
                    assert_eq!(r.status, Some(200));
                    assert_eq!(r.response_excerpt.as_deref(), Some("answer 200"));
                    assert_eq!(r.error, None);
                }
                Reply::Status(code) => {
                    assert_eq!(r.status, Some(code as i32));
                    assert_eq!(r.response_excerpt.as_deref(), Some(format!("answer {code}").as_str()));
                    assert!(r.error.as_deref().unwrap().contains(&code.to_string()), "{r:?}");
                }
                Reply::Hang(_) => {
                    assert_eq!(r.status, None);
                    assert!(r.error.as_deref().unwrap().contains("timed out"), "{r:?}");
                    assert!(r.latency_ms >= 450, "the attempt waited for its timeout: {r:?}");
                }
            }
        }
        assert_eq!(d.last_status, Some(200));
        assert!(d.delivered_at.is_some());
    }

    // An integration's events arrive in order: nothing of its sync-finished before its
    // integration-created was accepted.
    for id in integrations {
        let of = |t: &str| -> Vec<&Seen> {
            seen.iter()
                .filter(|s| s.body["type"] == t && s.body["data"].to_string().contains(id))
                .collect()
        };
        let created_ok = of("integration-created")
            .into_iter()
            .find(|s| matches!(s.reply, Reply::Status(200)))
            .expect("created accepted");
        let first_finished = of("sync-finished").into_iter().next().expect("finished sent");
        assert!(created_ok.at <= first_finished.at, "{id}: events out of order");
    }

    assert_eq!(stats.delivered, 6);
    assert_eq!(stats.retried as usize, failures.len());
    assert_eq!(stats.dead, 0);
}

/// (b) Two deliverers at once: every event is delivered exactly once (no failures here, so
/// at-least-once means once).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_deliverers_deliver_each_event_once() {
    let Some((store, _db)) = pg().await else { return };
    let receiver = Receiver::start().await;
    let ep = endpoint(store.as_ref(), &receiver.url).await;
    for i in 0..15 {
        integration_with_a_finished_sync(store.as_ref(), &format!("personio:tenant{i}")).await;
    }
    let expected = deliveries(store.as_ref(), &ep).await;
    assert_eq!(expected.len(), 30);

    let a = start(&store, fast_config());
    let b = start(&store, fast_config());
    wait_for(Duration::from_secs(30), "every delivery DELIVERED", || {
        all_in_state(store.as_ref(), &ep, 30, DeliveryState::Delivered)
    })
    .await;
    // Give a duplicate (if any) time to show up before counting.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (sa, sb) = (a.deliverer.stats(), b.deliverer.stats());
    a.stop().await;
    b.stop().await;

    let seen = receiver.seen();
    let mut per_event: BTreeMap<&str, usize> = BTreeMap::new();
    for s in &seen {
        assert!(s.verified.is_ok(), "{s:?}");
        *per_event.entry(s.event_id.as_str()).or_default() += 1;
    }
    let expected_ids: BTreeSet<&str> = expected.iter().map(|d| d.event_id.as_str()).collect();
    assert_eq!(per_event.keys().copied().collect::<BTreeSet<_>>(), expected_ids);
    assert!(per_event.values().all(|n| *n == 1), "each event once: {per_event:?}");
    assert_eq!(sa.delivered + sb.delivered, 30, "{sa:?} {sb:?}");
    for d in deliveries(store.as_ref(), &ep).await {
        assert_eq!(d.attempts, 1);
        assert_eq!(attempts(store.as_ref(), &d).await.len(), 1);
    }
}

/// (c) A deliverer killed while its attempt hangs: the delivery is ours again once the lease
/// ends, and another deliverer delivers it (with the same event id). Nothing is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_killed_deliverer_loses_nothing() {
    let Some((store, _db)) = pg().await else { return };
    let receiver = Receiver::start().await;
    let ep = endpoint(store.as_ref(), &receiver.url).await;
    create_integration(store.as_ref(), "personio:killed").await;
    let [delivery] = deliveries(store.as_ref(), &ep).await.try_into().expect("one delivery");

    let config = DelivererConfig {
        request_timeout: Duration::from_secs(2),
        lease: Duration::from_secs(3),
        ..fast_config()
    };
    receiver.plan([Reply::Hang(Duration::from_secs(30))]);
    let doomed = start(&store, config.clone());
    wait_for(
        Duration::from_secs(10),
        "the first attempt to reach the receiver",
        || async { !receiver.seen().is_empty() },
    )
    .await;
    let killed_at = Instant::now();
    doomed.task.abort();
    assert!(doomed.task.await.unwrap_err().is_cancelled());

    let survivor = start(&store, config);
    wait_for(
        Duration::from_secs(15),
        "the delivery DELIVERED by the survivor",
        || async { store.get_delivery(&delivery.id).await.unwrap().unwrap().state == DeliveryState::Delivered },
    )
    .await;
    survivor.stop().await;

    let seen = receiver.seen();
    assert_eq!(seen.len(), 2, "{seen:#?}");
    assert!(
        seen.iter()
            .all(|s| s.event_id == delivery.event_id && s.delivery_id == delivery.id)
    );
    assert!(seen.iter().all(|s| s.verified.is_ok()));
    // The killed deliverer never recorded its attempt, so the survivor's is attempt 1 again.
    assert_eq!(seen[0].attempt, 1);
    assert_eq!(seen[1].attempt, 1);
    // The survivor waited for the lease: the first claim was made before the kill, so the
    // second request comes at least (lease - time from claim to kill) after the kill; the claim
    // preceded the first request, so allow for that by measuring from the first request.
    let gap = seen[1].at - seen[0].at;
    assert!(
        gap >= Duration::from_millis(2500),
        "claimed again before the lease ended: {gap:?}"
    );
    assert!(killed_at >= seen[0].at);
    let recorded = attempts(store.as_ref(), &delivery).await;
    assert_eq!(recorded.len(), 1, "{recorded:?}");
    assert_eq!(recorded[0].status, Some(200));
}

/// (d) A link-local (metadata) target is refused under the default policy and recorded as a
/// failed attempt, while the environment's other endpoint gets the event.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn link_local_targets_are_refused_and_recorded() {
    let Some((store, _db)) = pg().await else { return };
    let receiver = Receiver::start().await;
    let good = endpoint(store.as_ref(), &receiver.url).await;
    let metadata = endpoint(store.as_ref(), "http://169.254.169.254/latest/meta-data/").await;
    let link_local = endpoint(store.as_ref(), "http://[fe80::1]:8080/hook").await;
    let by_name = endpoint(store.as_ref(), "http://metadata.google.internal/computeMetadata/v1/").await;
    // One event: an integration's later events wait for its earlier ones, which stay pending.
    create_integration(store.as_ref(), "personio:refused").await;

    let config = DelivererConfig {
        retry: one_attempt_in_the_test(),
        ..fast_config()
    };
    let running = start(&store, config);
    wait_for(Duration::from_secs(15), "the good endpoint's deliveries", || {
        all_in_state(store.as_ref(), &good, 1, DeliveryState::Delivered)
    })
    .await;
    for ep in [&metadata, &link_local, &by_name] {
        wait_for(
            Duration::from_secs(15),
            "an attempt on each refused delivery",
            || async { deliveries(store.as_ref(), ep).await.iter().all(|d| d.attempts >= 1) },
        )
        .await;
    }
    let stats = running.deliverer.stats();
    running.stop().await;

    assert_eq!(receiver.accepted().len(), 1);
    for ep in [&metadata, &link_local, &by_name] {
        let ds = deliveries(store.as_ref(), ep).await;
        assert_eq!(ds.len(), 1);
        for d in ds {
            assert_eq!(d.state, DeliveryState::Pending, "retried later, not delivered: {d:?}");
            assert_eq!(d.last_status, None);
            let recorded = attempts(store.as_ref(), &d).await;
            assert_eq!(recorded.len(), 1);
            let error = recorded[0].error.as_deref().unwrap_or_default();
            assert!(error.contains("refused target"), "{} -> {error}", ep.url);
            assert_eq!(recorded[0].status, None);
            assert_eq!(recorded[0].response_excerpt, None);
        }
    }
    assert_eq!(stats.refused, 3, "{stats:?}");
    assert_eq!(stats.delivered, 1, "{stats:?}");
}

/// (d'') IPv6 spellings that reach a metadata or link-local IPv4 address (IPv4-compatible,
/// NAT64, 6to4) and site-local addresses are refused at delivery time too, for endpoints that
/// were stored before the check knew them.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ipv6_forms_of_refused_addresses_are_refused() {
    let Some((store, _db)) = pg().await else { return };
    let receiver = Receiver::start().await;
    let good = endpoint(store.as_ref(), &receiver.url).await;
    let mut hostile = Vec::new();
    for url in [
        "http://[::169.254.169.254]/latest/meta-data/",
        "http://[64:ff9b::a9fe:a9fe]/",
        "http://[2002:a9fe:a9fe::1]/",
        "http://[fec0::1]:8080/hook",
    ] {
        hostile.push(endpoint(store.as_ref(), url).await);
    }
    create_integration(store.as_ref(), "personio:refused-v6").await;

    let config = DelivererConfig {
        retry: one_attempt_in_the_test(),
        ..fast_config()
    };
    let running = start(&store, config);
    wait_for(Duration::from_secs(15), "the good endpoint's delivery", || {
        all_in_state(store.as_ref(), &good, 1, DeliveryState::Delivered)
    })
    .await;
    for ep in &hostile {
        wait_for(Duration::from_secs(15), "an attempt on each hostile target", || async {
            deliveries(store.as_ref(), ep).await.iter().all(|d| d.attempts >= 1)
        })
        .await;
    }
    let stats = running.deliverer.stats();
    running.stop().await;

    for ep in &hostile {
        let ds = deliveries(store.as_ref(), ep).await;
        assert_eq!(ds.len(), 1);
        let recorded = attempts(store.as_ref(), &ds[0]).await;
        assert_eq!(recorded.len(), 1);
        let error = recorded[0].error.as_deref().unwrap_or_default();
        assert!(error.contains("refused target"), "{} -> {error}", ep.url);
        assert_eq!(recorded[0].status, None);
    }
    assert_eq!(stats.refused, 4, "{stats:?}");
    assert_eq!(stats.delivered, 1, "{stats:?}");
}

/// (d') With private targets denied, a host name that resolves to loopback is refused at
/// resolution: the receiver listening there never sees a request.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn denied_private_target_is_never_contacted() {
    let Some((store, _db)) = pg().await else { return };
    let receiver = Receiver::start().await;
    let by_name = receiver.url.replace("127.0.0.1", "localhost");
    let ep = endpoint(store.as_ref(), &by_name).await;
    let literal = endpoint(store.as_ref(), &receiver.url).await;
    create_integration(store.as_ref(), "personio:private").await;

    let config = DelivererConfig {
        targets: TargetPolicy {
            allow_private_targets: false,
            allow_link_local: false,
        },
        retry: one_attempt_in_the_test(),
        ..fast_config()
    };
    let running = start(&store, config);
    for e in [&ep, &literal] {
        wait_for(Duration::from_secs(15), "an attempt on each delivery", || async {
            deliveries(store.as_ref(), e).await.iter().all(|d| d.attempts >= 1)
        })
        .await;
    }
    let stats = running.deliverer.stats();
    running.stop().await;

    assert!(receiver.seen().is_empty(), "nothing reached the receiver");
    for e in [&ep, &literal] {
        for d in deliveries(store.as_ref(), e).await {
            let recorded = attempts(store.as_ref(), &d).await;
            let error = recorded[0].error.as_deref().unwrap_or_default();
            assert!(error.contains("refused target"), "{} -> {error}", e.url);
            assert_eq!(d.state, DeliveryState::Pending);
        }
    }
    assert_eq!(stats.refused, 2, "{stats:?}");
}

/// (e) Failing past the retry window makes a delivery DEAD; `redeliver` sends the same event
/// (same id) again.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dead_after_the_window_and_redelivered_with_the_same_id() {
    let Some((store, _db)) = pg().await else { return };
    let receiver = Receiver::start().await;
    receiver.fallback(Some(Reply::Status(500)));
    let ep = endpoint(store.as_ref(), &receiver.url).await;
    create_integration(store.as_ref(), "personio:dead").await;
    let [delivery] = deliveries(store.as_ref(), &ep).await.try_into().expect("one delivery");

    let config = DelivererConfig {
        retry: RetryPolicy {
            base: Duration::from_millis(100),
            cap: Duration::from_millis(300),
            window: Duration::from_millis(1500),
        },
        ..fast_config()
    };
    let running = start(&store, config);
    wait_for(Duration::from_secs(15), "the delivery DEAD", || async {
        store.get_delivery(&delivery.id).await.unwrap().unwrap().state == DeliveryState::Dead
    })
    .await;
    let dead = store.get_delivery(&delivery.id).await.unwrap().unwrap();
    let failed = attempts(store.as_ref(), &dead).await;
    assert!(failed.len() >= 2, "retried before dying: {failed:?}");
    assert!(failed.iter().all(|a| a.status == Some(500)));
    assert_eq!(dead.attempts as usize, failed.len());
    assert_eq!(dead.last_status, Some(500));
    // Dead means dead: no further attempt while the deliverer keeps polling.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(receiver.seen().len(), failed.len());
    // The last attempt was made at the end of the window.
    let created = dead.created_at;
    let last = failed.last().unwrap().at;
    // (An attempt that started just before the end and failed after it is the last one.)
    assert!(
        last >= created + chrono::TimeDelta::milliseconds(1400),
        "died early: {last} vs {created}"
    );

    receiver.fallback(None);
    assert!(store.redeliver(&delivery.id).await.expect("redeliver"));
    wait_for(Duration::from_secs(15), "the redelivery DELIVERED", || async {
        store.get_delivery(&delivery.id).await.unwrap().unwrap().state == DeliveryState::Delivered
    })
    .await;
    running.stop().await;

    let seen = receiver.seen();
    let accepted = receiver.accepted();
    assert_eq!(accepted.len(), 1);
    assert_eq!(accepted[0].event_id, delivery.event_id);
    assert_eq!(accepted[0].body["id"], delivery.event_id);
    assert!(
        seen.iter()
            .all(|s| s.event_id == delivery.event_id && s.verified.is_ok())
    );
    assert_eq!(accepted[0].attempt as usize, failed.len() + 1);
    let all = attempts(store.as_ref(), &delivery).await;
    assert_eq!(all.len(), failed.len() + 1);
    assert_eq!(all.last().unwrap().status, Some(200));
    assert!(!store.redeliver("no-such-delivery").await.expect("redeliver"));
}

/// The deliverer refuses a lease that does not outlast an attempt: a slow attempt would be
/// claimed and sent again while still running.
#[tokio::test]
async fn lease_must_outlast_the_request_timeout() {
    let Some((store, _db)) = pg().await else { return };
    let config = DelivererConfig {
        lease: Duration::from_secs(10),
        request_timeout: Duration::from_secs(10),
        ..DelivererConfig::default()
    };
    assert!(Deliverer::new(store, config).is_err());
}

/// The embedded mode (`tributary serve` without DATABASE_URL) delivers from SQLite the same
/// way: a failure is retried, then every event arrives signed.
/// Postgres notifies deliverers when deliveries are queued: with a poll interval of a minute,
/// each event still arrives within seconds of its commit (and keeps arriving after the first).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn queued_events_go_out_without_waiting_for_a_poll() {
    let Some((store, _db)) = pg().await else { return };
    let receiver = Receiver::start().await;
    endpoint(store.as_ref(), &receiver.url).await;
    let running = start(
        &store,
        DelivererConfig {
            poll_interval: Duration::from_secs(60),
            ..fast_config()
        },
    );
    // Past the deliverer's first claim: from here on only the signal (or a minute) wakes it.
    tokio::time::sleep(Duration::from_millis(500)).await;
    for (n, id) in ["personio:woken-1", "personio:woken-2"].into_iter().enumerate() {
        let queued = Instant::now();
        create_integration(store.as_ref(), id).await;
        wait_for(Duration::from_secs(5), "the event to arrive without a poll", || {
            let arrived = receiver.accepted().len() == n + 1;
            async move { arrived }
        })
        .await;
        println!(
            "{id}: integration-created arrived {:?} after its commit",
            queued.elapsed()
        );
    }
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn embedded_sqlite_mirror_delivers_too() {
    let (store, _file) = fresh_sqlite_store().await.expect("sqlite store");
    let receiver = Receiver::start().await;
    let ep = endpoint(store.as_ref(), &receiver.url).await;
    integration_with_a_finished_sync(store.as_ref(), "personio:embedded").await;
    integration_with_a_finished_sync(store.as_ref(), "greenhouse:embedded").await;
    receiver.plan([Reply::Status(500), Reply::Hang(Duration::from_secs(2))]);
    let running = start(&store, fast_config());
    wait_for(Duration::from_secs(30), "every delivery DELIVERED", || {
        all_in_state(store.as_ref(), &ep, 4, DeliveryState::Delivered)
    })
    .await;
    running.stop().await;
    let seen = receiver.seen();
    assert_eq!(seen.len(), 6, "{seen:#?}");
    assert!(seen.iter().all(|s| s.verified.is_ok()));
    let accepted: BTreeSet<String> = receiver.accepted().into_iter().map(|s| s.event_id).collect();
    let expected: BTreeSet<String> = deliveries(store.as_ref(), &ep)
        .await
        .into_iter()
        .map(|d| d.event_id)
        .collect();
    assert_eq!(accepted, expected);
}

/// Throughput to a local receiver (the issue asks for at least 1,000 deliveries/s; measured
/// properly in the benchmarks). `cargo test -p tributary-webhooks --test delivery --release --
/// --ignored --nocapture throughput`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "a measurement, not a check"]
async fn throughput_to_a_local_receiver() {
    let Some((store, _db)) = pg().await else { return };
    let receiver = Receiver::start().await;
    let ep = endpoint(store.as_ref(), &receiver.url).await;
    const INTEGRATIONS: usize = 1000;
    for i in 0..INTEGRATIONS {
        create_integration(store.as_ref(), &format!("personio:load{i}")).await;
    }
    let started = Instant::now();
    let running = start(
        &store,
        DelivererConfig {
            concurrency: 64,
            batch: 64,
            ..DelivererConfig::default()
        },
    );
    wait_for(Duration::from_secs(120), "every delivery DELIVERED", || async {
        running.deliverer.stats().delivered as usize == INTEGRATIONS
    })
    .await;
    let elapsed = started.elapsed();
    running.stop().await;
    assert!(all_in_state(store.as_ref(), &ep, INTEGRATIONS, DeliveryState::Delivered).await);
    println!(
        "{INTEGRATIONS} deliveries in {elapsed:?}: {:.0}/s",
        INTEGRATIONS as f64 / elapsed.as_secs_f64()
    );
}
