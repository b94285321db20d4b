//! Outbound webhooks through real processes: delivered by `tributary worker` processes to an
//! axum receiver in the test, over real HTTP; inbound webhooks from the simulator through a
//! `tributary gateway` process.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use serde_json::Value;
use tributary_model::{Model, RunState, SyncType, ToolKind};
use tributary_sim::{CandidateField, Mutation, WebhookTarget};
use tributary_store::{
    DeliveryFilter, DeliveryState, MirrorStore, NewWebhookEndpoint, WEBHOOK_POLL_INTERVAL, WebhookDelivery,
    WebhookEndpoint,
};
use tributary_webhooks::sign::{TRIBUTARY_ATTEMPT, TRIBUTARY_DELIVERY_ID, TRIBUTARY_EVENT_ID};
use tributary_webhooks::verify_headers;

use crate::support::{Stack, all_records};

/// The signing secret of the receiver's endpoint.
const SECRET: &str = "whsec_fleet_webhooks";
/// The secret the simulated Greenhouse signs its webhooks to the gateway with.
const GREENHOUSE_SECRET: &str = "greenhouse-fleet-secret";

// ---- a receiver ---------------------------------------------------------------------------

/// One request as the receiver saw it.
#[derive(Debug, Clone)]
struct Seen {
    at: Instant,
    event_id: String,
    delivery_id: String,
    attempt: i32,
    body: Value,
    /// Both signatures verified with `verify_headers` (the timestamped one within 5 minutes).
    verified: Result<i64, String>,
    /// Held open, never answered.
    held: bool,
}

impl Seen {
    fn event_type(&self) -> &str {
        self.body["type"].as_str().unwrap_or_default()
    }
}

#[derive(Default)]
struct ReceiverState {
    /// How many of the next requests to hold open without answering.
    hold: AtomicUsize,
    seen: Mutex<Vec<Seen>>,
}

/// An HTTP receiver on 127.0.0.1 that records every request and answers 200, except the
/// first `hold` requests, which it holds open forever (a hung receiver).
struct Receiver {
    url: String,
    state: Arc<ReceiverState>,
}

impl Receiver {
    async fn start(hold: usize) -> Self {
        let state = Arc::new(ReceiverState {
            hold: AtomicUsize::new(hold),
            seen: Mutex::default(),
        });
        let app = Router::new().route("/hook", post(receive)).with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.expect("receiver") });
        Self { url, state }
    }

    fn seen(&self) -> Vec<Seen> {
        self.state.seen.lock().unwrap().clone()
    }

    /// Requests answered 200: deliveries the sender saw succeed.
    fn answered(&self) -> Vec<Seen> {
        self.seen().into_iter().filter(|s| !s.held).collect()
    }
}

async fn receive(State(state): State<Arc<ReceiverState>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let held = state
        .hold
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
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
        held,
    });
    if held {
        // Never answers: the sender's attempt hangs until it times out or its process dies.
        std::future::pending::<()>().await;
    }
    StatusCode::OK
}

// ---- the mirror ----------------------------------------------------------------------------

/// An endpoint taking every event type of the stack's environment (`test`).
async fn endpoint(store: &dyn MirrorStore, url: &str) -> WebhookEndpoint {
    store
        .create_webhook_endpoint(NewWebhookEndpoint {
            environment: "test".into(),
            url: url.into(),
            secret: SECRET.into(),
            event_types: vec![],
        })
        .await
        .expect("endpoint created")
}

/// The endpoint's deliveries, oldest first.
async fn deliveries(store: &dyn MirrorStore, endpoint: &WebhookEndpoint) -> Vec<WebhookDelivery> {
    let mut all = store
        .list_deliveries(&DeliveryFilter {
            endpoint_id: Some(endpoint.id.clone()),
            limit: 1000,
            ..DeliveryFilter::default()
        })
        .await
        .expect("deliveries listed");
    all.reverse();
    all
}

async fn all_delivered(store: &dyn MirrorStore, endpoint: &WebhookEndpoint, at_least: usize) -> bool {
    let all = deliveries(store, endpoint).await;
    all.len() >= at_least && all.iter().all(|d| d.state == DeliveryState::Delivered)
}

fn changed_models(data_changed: &Value) -> BTreeSet<String> {
    data_changed["data"]["changed_models"]
        .as_array()
        .expect("changed_models is a list")
        .iter()
        .map(|m| m["name"].as_str().expect("a model name").to_owned())
        .collect()
}

// ---- the tests -----------------------------------------------------------------------------

/// Seconds one attempt may take: long enough that the held attempt is still in flight when
/// the worker is killed, however slowly the FULL before the kill runs.
const TIMEOUT_SECS: u64 = 15;
/// The claim's lease: what the second worker waits before sending the held delivery again.
const LEASE_SECS: u64 = 17;

/// SIGKILL the worker while its attempt hangs on the receiver: the attempt is never recorded,
/// the claim's lease expires, and a second worker delivers that event and the ones queued
/// behind it. Every event arrives, signed, and every delivery ends DELIVERED.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_mid_delivery_loses_no_event() {
    let Some(mut s) = Stack::start(&[ToolKind::Personio], 50).await else {
        return;
    };
    let receiver = Receiver::start(1).await;
    let ep = endpoint(s.store.as_ref(), &receiver.url).await;
    // `integration-created`, then `data-changed` and `sync-finished` from the FULL.
    let id = s.integration(ToolKind::Personio, "acme", true).await;
    let full = s.trigger(&id, SyncType::Full).await.run;
    let timeout = TIMEOUT_SECS.to_string();
    let lease = LEASE_SECS.to_string();
    let delivery_args = [
        "--webhook-timeout-secs",
        timeout.as_str(),
        "--webhook-lease-secs",
        lease.as_str(),
        "--webhook-poll-ms",
        "50",
    ];
    let w1 = s.worker("w1", &delivery_args);
    let done = s.wait_ended(&full.id, Duration::from_secs(30)).await;
    assert_eq!(done.state, RunState::Succeeded, "{:?}\n{}", done.error, s.log(&w1));
    s.wait_until(
        Duration::from_secs(10),
        "w1's first attempt reaches the receiver",
        || async { !receiver.seen().is_empty() },
    )
    .await;

    // The held request is `integration-created`; the FULL's events wait behind it (one
    // integration's deliveries to one endpoint go one at a time, in order).
    let held = receiver.seen();
    assert_eq!(held.len(), 1, "only the held attempt was sent: {held:#?}");
    let held = held.into_iter().next().unwrap();
    assert!(held.held);
    assert_eq!(held.event_type(), "integration-created", "{:#}", held.body);
    s.signal(&w1, "-KILL");
    s.wait_exit(&w1, Duration::from_secs(10)).await;
    let killed_after = held.at.elapsed();
    assert!(
        killed_after < Duration::from_secs(TIMEOUT_SECS),
        "w1 was killed {killed_after:?} after its attempt started: past its timeout, so not mid-delivery"
    );

    let before = deliveries(s.store.as_ref(), &ep).await;
    let types: Vec<&str> = before.iter().map(|d| d.event_type.as_str()).collect();
    assert_eq!(types, ["integration-created", "data-changed", "sync-finished"]);
    for d in &before {
        assert_eq!(
            (d.state, d.attempts),
            (DeliveryState::Pending, 0),
            "the killed attempt left nothing recorded: {d:?}"
        );
        assert!(
            s.store.delivery_attempts(&d.id).await.expect("attempts").is_empty(),
            "no attempt of {} is recorded",
            d.event_type
        );
    }
    assert_eq!(held.delivery_id, before[0].id);
    assert_eq!(held.event_id, before[0].event_id);

    s.worker("w2", &delivery_args);
    s.wait_until(
        Duration::from_secs(LEASE_SECS + 20),
        "w2 delivers every event once the killed worker's lease ends",
        || async { all_delivered(s.store.as_ref(), &ep, 3).await },
    )
    .await;

    // Every event arrived, each request signed; in event order.
    let seen = receiver.seen();
    for r in &seen {
        assert!(r.verified.is_ok(), "signature of {}: {:?}", r.event_id, r.verified);
        assert_eq!(
            r.body["id"].as_str(),
            Some(r.event_id.as_str()),
            "the event id header is the payload's id"
        );
    }
    let answered = receiver.answered();
    let answered_types: Vec<&str> = answered.iter().map(Seen::event_type).collect();
    assert_eq!(
        answered_types,
        ["integration-created", "data-changed", "sync-finished"],
        "{seen:#?}"
    );
    let wanted: BTreeSet<&str> = before.iter().map(|d| d.event_id.as_str()).collect();
    let got: BTreeSet<&str> = answered.iter().map(|r| r.event_id.as_str()).collect();
    assert_eq!(got, wanted, "every event id arrived");
    assert_eq!(seen.len(), 4, "the held event twice, the others once: {seen:#?}");

    // The held event was sent again only once the lease had ended, with the same event id,
    // and as attempt 1 again: the killed attempt was never recorded.
    let resent = &answered[0];
    assert_eq!(
        (resent.event_id.as_str(), resent.delivery_id.as_str()),
        (held.event_id.as_str(), held.delivery_id.as_str())
    );
    assert_eq!((held.attempt, resent.attempt), (1, 1));
    let gap = resent.at - held.at;
    assert!(
        gap >= Duration::from_secs(LEASE_SECS - 1),
        "sent again {gap:?} after the held attempt, before the {LEASE_SECS} s lease ended"
    );

    // Each delivery DELIVERED with its one attempt recorded.
    for d in deliveries(s.store.as_ref(), &ep).await {
        assert_eq!(
            (d.state, d.attempts, d.last_status),
            (DeliveryState::Delivered, 1, Some(200)),
            "{d:?}"
        );
        let attempts = s.store.delivery_attempts(&d.id).await.expect("attempts");
        assert_eq!(attempts.len(), 1, "{}: {attempts:?}", d.event_type);
        assert_eq!(
            (attempts[0].attempt, attempts[0].status),
            (1, Some(200)),
            "{attempts:?}"
        );
    }

    // The payloads describe the FULL.
    let data_changed = &answered[1].body;
    assert!(
        changed_models(data_changed).contains(Model::Employees.scope_id()),
        "{data_changed:#}"
    );
    let finished = &answered[2].body;
    assert_eq!(
        finished["data"]["sync_id"].as_str(),
        Some(full.id.as_str()),
        "{finished:#}"
    );
    assert_eq!(finished["data"]["sync_state"], "SUCCEEDED", "{finished:#}");
}

/// A change in the source tool reaches a webhook receiver as `data-changed` with no scheduled
/// sync due: the simulated Greenhouse's signed webhook → `tributary gateway` → a DELTA through
/// Redis → a `tributary worker` runs it and delivers the events.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_webhook_reaches_receivers_as_data_changed() {
    let Some(mut s) = Stack::start(&[ToolKind::Greenhouse], 50).await else {
        return;
    };
    let receiver = Receiver::start(0).await;
    let ep = endpoint(s.store.as_ref(), &receiver.url).await;
    let id = s.integration(ToolKind::Greenhouse, "acme", false).await;
    // Before the scheduler's first claim, so every schedule's next run is 24 h after it.
    s.store
        .set_inbound_webhook_secret(&id, Some(GREENHOUSE_SECRET))
        .await
        .expect("inbound secret set");
    let (_gateway, base) = s.gateway("g1").await;
    s.scheduler("s1");
    s.worker("w1", &["--webhook-poll-ms", "50"]);

    // The initial FULL (scheduled at once for a new integration), and its events delivered.
    s.wait_until(Duration::from_secs(30), "the initial FULL succeeds", || async {
        let runs = s.store.list_runs(&id, 100).await.expect("runs");
        runs.iter()
            .any(|r| r.sync_type == SyncType::Full && r.state == RunState::Succeeded)
            && runs.iter().all(|r| r.state.is_terminal())
    })
    .await;
    s.wait_until(
        Duration::from_secs(20),
        "the initial FULL's events are delivered",
        || async {
            all_delivered(s.store.as_ref(), &ep, 3).await
                && receiver.answered().iter().any(|r| r.event_type() == "sync-finished")
        },
    )
    .await;
    let initial = receiver.seen();
    assert!(
        initial.iter().any(|r| r.event_type() == "data-changed"),
        "the FULL filled the mirror: {initial:#?}"
    );
    let runs_before: BTreeSet<String> = s
        .store
        .list_runs(&id, 100)
        .await
        .expect("runs")
        .into_iter()
        .map(|r| r.id)
        .collect();

    // Nothing scheduled is due for a day: only the webhook can bring the change in.
    let schedules = s.store.list_schedules(&id).await.expect("schedules");
    assert!(!schedules.is_empty());
    for schedule in &schedules {
        assert!(schedule.webhooks_active, "{schedule:?}");
        assert_eq!(schedule.every, WEBHOOK_POLL_INTERVAL, "{schedule:?}");
        assert!(
            schedule.next_due_at > chrono::Utc::now() + chrono::Duration::hours(23),
            "no scheduled sync is due soon: {schedule:?}"
        );
    }

    s.sim
        .state
        .register_webhook(WebhookTarget {
            tool: ToolKind::Greenhouse,
            url: format!("{base}/v1/webhooks/greenhouse/{id}"),
            secret: GREENHOUSE_SECRET.into(),
            duplicate: false,
            max_attempts: 4,
        })
        .expect("simulator webhooks registered");
    let candidate_id = *s
        .sim
        .state
        .company(ToolKind::Greenhouse)
        .ats
        .candidates
        .keys()
        .next()
        .expect("a candidate");
    let seen_before = receiver.seen().len();
    let mutated = Instant::now();
    s.sim
        .state
        .mutate(
            ToolKind::Greenhouse,
            &Mutation::EditCandidate {
                candidate_id,
                field: CandidateField::LastName,
                value: Some("Webhookson".into()),
            },
        )
        .expect("candidate edited");

    let arrived = |event_type: &'static str| {
        let receiver = &receiver;
        move || {
            // Answered (not held) requests since the mutation.
            let found = receiver.seen()[seen_before..]
                .iter()
                .any(|r| r.event_type() == event_type && !r.held);
            async move { found }
        }
    };
    s.wait_until(
        Duration::from_secs(30),
        "data-changed after the source webhook",
        arrived("data-changed"),
    )
    .await;
    let after = receiver.seen()[seen_before..].to_vec();
    let data_changed = after
        .iter()
        .find(|r| r.event_type() == "data-changed")
        .expect("data-changed arrived");
    eprintln!(
        "source webhook in -> data-changed out: {:?} (mutation to receipt, through the gateway, Redis, a worker and the outbox)",
        data_changed.at - mutated
    );
    assert!(data_changed.verified.is_ok(), "{:?}", data_changed.verified);
    assert_eq!(data_changed.body["data"]["integration_id"].as_str(), Some(id.as_str()));
    assert_eq!(data_changed.body["data"]["integration_tool"], "greenhouse");
    let models = changed_models(&data_changed.body);
    assert!(
        models.contains(Model::Candidates.scope_id()),
        "the candidate changed: {models:?}"
    );

    // The simulator's webhook was accepted, and the events came from the DELTA it queued.
    let sent = s.sim.state.webhook_log(Some(ToolKind::Greenhouse), 0).1;
    assert!(
        sent.iter().any(|w| w.status == Some(202)),
        "the gateway accepted the simulator's webhook: {sent:#?}"
    );
    s.wait_until(
        Duration::from_secs(10),
        "sync-finished of the webhook's DELTA",
        arrived("sync-finished"),
    )
    .await;
    let finished = receiver.seen()[seen_before..]
        .iter()
        .find(|r| r.event_type() == "sync-finished")
        .cloned()
        .expect("sync-finished arrived");
    let sync_id = finished.body["data"]["sync_id"].as_str().expect("a sync id").to_owned();
    assert!(
        !runs_before.contains(&sync_id),
        "a new run, not the initial FULL: {sync_id}"
    );
    let run = s.run(&sync_id).await;
    assert_eq!(
        (run.sync_type, run.state),
        (SyncType::Delta, RunState::Succeeded),
        "{run:?}"
    );
    assert!(
        finished.at >= data_changed.at,
        "data-changed comes before its sync-finished"
    );

    // And the mirror has the change.
    let candidate = all_records(s.store.as_ref(), &id, Model::Candidates)
        .await
        .into_iter()
        .find(|r| r.remote_id == candidate_id.to_string())
        .expect("the candidate is mirrored");
    assert_eq!(candidate.data["last_name"], "Webhookson", "{:?}", candidate.data);
}
