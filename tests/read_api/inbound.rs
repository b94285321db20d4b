//! Inbound webhooks end to end: the simulator signs and sends its tools' webhooks for its
//! mutations to the gateway's `/v1/webhooks/{tool}/{integration_id}`, which verifies them and
//! queues a sync on the fleet (an in-memory queue here); the harness's engine then runs that
//! queued run, as a worker would, and the change is read back through the read API. Secrets are
//! set through the operator API, whose schedules then show polling lowered to once a day.

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;
use tributary_model::{RunState, SyncType, ToolKind};
use tributary_operator::OperatorState;
use tributary_queue::{EmbeddedCoordinator, MemoryQueue};
use tributary_sim::SentWebhook;
use tributary_sim::webhooks::hmac_hex;
use tributary_store::{SyncRun, WEBHOOK_POLL_INTERVAL};

use crate::gateway::{Api, Reply, send, send_unchecked};
use crate::support::Backend;

const ADMIN: &str = "inbound webhook tests admin token";
const GREENHOUSE_SECRET: &str = "greenhouse secret key";
const BAMBOOHR_SECRET: &str = "bamboohr private key";
const PERSONIO_TOKEN: &str = "Bearer personio-webhook-token";

/// The operator API over the same mirror, on its own port.
async fn operator(api: &Api) -> String {
    let store = api.h.store.clone();
    let state = OperatorState::new(
        store.clone(),
        Arc::new(MemoryQueue::new()),
        Arc::new(EmbeddedCoordinator::new(store)),
        Some(ADMIN.into()),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = tributary_operator::router(state);
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}

async fn set_secret(api: &Api, ops: &str, integration: &str, secret: &str) -> Reply {
    send(
        api.http
            .put(format!("{ops}/ops/v1/integrations/{integration}/inbound-webhook"))
            .bearer_auth(ADMIN)
            .json(&json!({ "secret": secret })),
    )
    .await
}

async fn schedules(api: &Api, ops: &str, integration: &str) -> Vec<(String, u64, bool)> {
    let reply = send(
        api.http
            .get(format!("{ops}/ops/v1/integrations/{integration}/schedules"))
            .bearer_auth(ADMIN),
    )
    .await;
    assert_eq!(reply.status, 200, "{:#}", reply.body);
    reply.body["data"]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["sync_type"].as_str().unwrap().to_owned(),
                s["every_seconds"].as_u64().unwrap(),
                s["webhooks_active"].as_bool().unwrap(),
            )
        })
        .collect()
}

fn hook_url(api: &Api, tool: ToolKind, integration: &str) -> String {
    api.url(&format!("/v1/webhooks/{}/{integration}", tool.as_str()))
}

/// Points the simulator's `tool` webhooks at the gateway.
async fn register(api: &Api, tool: ToolKind, integration: &str, secret: &str, duplicate: bool) {
    let reply = api
        .http
        .post(format!("{}/webhooks", api.h.sim.control_url()))
        .json(&json!({
            "tool": tool.as_str(),
            "url": hook_url(api, tool, integration),
            "secret": secret,
            "duplicate": duplicate,
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 204, "{}", reply.text().await.unwrap());
}

/// Waits until the simulator has sent everything it queued; what it sent after `since`.
async fn sent_after(api: &Api, tool: ToolKind, since: u64) -> Vec<SentWebhook> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while api.h.sim.state.webhooks_in_flight() > 0 {
        assert!(Instant::now() < deadline, "the simulator's webhooks did not go out");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    api.h.sim.state.webhook_log(Some(tool), since).1
}

fn last_seq(api: &Api) -> u64 {
    api.h.sim.state.webhook_log(None, 0).0
}

async fn runs(api: &Api, integration: &str) -> Vec<SyncRun> {
    api.h.store.list_runs(integration, 200).await.unwrap()
}

/// The run the engine resumes when asked to sync `integration` with `sync_type`: the queued one.
async fn run_queued(api: &Api, integration: &str, sync_type: SyncType, queued: &str) {
    let run = api.h.sync(integration, sync_type).await;
    assert_eq!(run.id, queued, "the engine ran the run the webhook queued");
    assert_eq!(run.state, RunState::Succeeded, "{run:?}");
}

/// A raw POST to the inbound route.
async fn post_raw(api: &Api, url: &str, headers: &[(&str, String)], body: Vec<u8>) -> Reply {
    let mut request = api.http.post(url).header("content-type", "application/json").body(body);
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    send_unchecked(request).await.0
}

async fn inbound_webhooks_update_the_mirror(b: Backend) {
    let Some(api) = Api::start(b).await else {
        return;
    };
    let ops = operator(&api).await;
    let (gh, bamboo, personio) = (api.greenhouse.clone(), api.bamboohr.clone(), api.personio.clone());

    // No secret yet: the route does not take this integration's webhooks.
    let body = br#"{"action":"update_candidate","payload":{}}"#.to_vec();
    let signed = [("signature", format!("sha256 {}", hmac_hex(GREENHOUSE_SECRET, &[&body])))];
    post_raw(&api, &hook_url(&api, ToolKind::Greenhouse, &gh), &signed, body.clone())
        .await
        .assert_error(404, "PLATFORM.INTEGRATION_NOT_FOUND");

    // Setting the secret turns webhook polling on: every schedule drops to once a day. (The
    // harness creates integrations directly in the store; the admin API would also have
    // created their schedules.)
    api.h
        .store
        .ensure_schedules(&gh, &tributary_engine::default_intervals(ToolKind::Greenhouse, false))
        .await
        .unwrap();
    let before = schedules(&api, &ops, &gh).await;
    assert!(
        !before.is_empty()
            && before
                .iter()
                .all(|(_, every, active)| *every < WEBHOOK_POLL_INTERVAL.as_secs() && !active),
        "{before:?}"
    );
    let reply = set_secret(&api, &ops, &gh, GREENHOUSE_SECRET).await;
    assert_eq!(reply.status, 200, "{:#}", reply.body);
    assert_eq!(reply.body["data"]["path"], format!("/v1/webhooks/greenhouse/{gh}"));
    assert_eq!(reply.body["data"]["active"], true);
    assert!(
        !reply.body.to_string().contains(GREENHOUSE_SECRET),
        "the secret is never shown"
    );
    let after = schedules(&api, &ops, &gh).await;
    assert_eq!(after.len(), before.len());
    for (sync_type, every, active) in &after {
        assert_eq!(
            (*every, *active),
            (WEBHOOK_POLL_INTERVAL.as_secs(), true),
            "{sync_type}: {after:?}"
        );
    }
    for bad in [
        json!({}),
        json!({"secret": "short"}),
        json!({"secret": 7}),
        json!({"secret": "long enough", "x": 1}),
        json!({"secret": " padded secret "}),
    ] {
        let reply = send(
            api.http
                .put(format!("{ops}/ops/v1/integrations/{gh}/inbound-webhook"))
                .bearer_auth(ADMIN)
                .json(&bad),
        )
        .await;
        reply.assert_error(400, "PLATFORM.INPUT_INVALID");
    }
    send(
        api.http
            .put(format!("{ops}/ops/v1/integrations/greenhouse:nope/inbound-webhook"))
            .bearer_auth(ADMIN)
            .json(&json!({"secret": GREENHOUSE_SECRET})),
    )
    .await
    .assert_error(404, "PLATFORM.INTEGRATION_NOT_FOUND");

    // Greenhouse: a candidate edited in the tool is in the mirror after the webhook's DELTA.
    register(&api, ToolKind::Greenhouse, &gh, GREENHOUSE_SECRET, false).await;
    let candidate_id = *api
        .h
        .sim
        .state
        .company(ToolKind::Greenhouse)
        .ats
        .candidates
        .keys()
        .next()
        .unwrap();
    let runs_before = runs(&api, &gh).await.len();
    let since = last_seq(&api);
    let started = Instant::now();
    api.h.mutate(
        ToolKind::Greenhouse,
        json!({"kind": "edit_candidate", "candidate_id": candidate_id, "field": "last_name", "value": "Webhookson"}),
    );
    let sent = sent_after(&api, ToolKind::Greenhouse, since).await;
    let acknowledged = started.elapsed();
    assert_eq!(sent.len(), 1, "{sent:#?}");
    assert_eq!(
        (sent[0].event.as_str(), sent[0].status),
        ("update_candidate", Some(202)),
        "{sent:#?}"
    );
    assert!(
        acknowledged < Duration::from_secs(1),
        "acknowledged after {acknowledged:?}"
    );
    let new_runs = runs(&api, &gh).await;
    assert_eq!(new_runs.len(), runs_before + 1);
    let queued = &new_runs[0];
    assert_eq!(
        (queued.sync_type, queued.state),
        (SyncType::Delta, RunState::Queued),
        "{queued:?}"
    );
    let queued_id = queued.id.clone();
    run_queued(&api, &gh, SyncType::Delta, &queued_id).await;
    let candidate = api
        .get("/ats/candidates", &gh, &[("remote_ids", &candidate_id.to_string())])
        .await;
    assert_eq!(candidate.status, 200, "{:#}", candidate.body);
    assert_eq!(
        candidate.body["data"]["results"][0]["last_name"], "Webhookson",
        "{:#}",
        candidate.body
    );

    // The tool retries a delivery it thinks failed: the same Greenhouse-Event-ID is applied once,
    // even after its run has ended.
    let replay: Vec<(&str, String)> = sent[0].headers.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
    let reply = post_raw(
        &api,
        &hook_url(&api, ToolKind::Greenhouse, &gh),
        &replay,
        sent[0].body.clone().into_bytes(),
    )
    .await;
    assert_eq!(
        (reply.status, &reply.body),
        (
            StatusCode::OK,
            &json!({"status": "success", "data": {"duplicate": true}})
        )
    );
    assert_eq!(
        runs(&api, &gh).await.len(),
        runs_before + 1,
        "a duplicate queues nothing"
    );

    // The same signed body under a new Greenhouse-Event-ID (the header is not signed) is the
    // same delivery: a replay, applied once.
    let renamed: Vec<(&str, String)> = replay
        .iter()
        .map(|(k, v)| {
            if k.eq_ignore_ascii_case("greenhouse-event-id") {
                (*k, format!("{v}-replayed"))
            } else {
                (*k, v.clone())
            }
        })
        .collect();
    assert!(
        renamed
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("greenhouse-event-id")),
        "the simulator sends an event id: {renamed:?}"
    );
    for attempt in 0..3 {
        let mut headers = renamed.clone();
        for (k, v) in &mut headers {
            if k.eq_ignore_ascii_case("greenhouse-event-id") {
                v.push_str(&attempt.to_string());
            }
        }
        let reply = post_raw(
            &api,
            &hook_url(&api, ToolKind::Greenhouse, &gh),
            &headers,
            sent[0].body.clone().into_bytes(),
        )
        .await;
        assert_eq!(
            (reply.status, &reply.body),
            (
                StatusCode::OK,
                &json!({"status": "success", "data": {"duplicate": true}})
            ),
            "a replay under a new event id"
        );
    }
    assert_eq!(
        runs(&api, &gh).await.len(),
        runs_before + 1,
        "replays under new event ids queue nothing"
    );

    // The simulator duplicating on purpose: the first copy queues a run, the second is a duplicate.
    register(&api, ToolKind::Greenhouse, &gh, GREENHOUSE_SECRET, true).await;
    let since = last_seq(&api);
    api.h.mutate(
        ToolKind::Greenhouse,
        json!({"kind": "edit_candidate", "candidate_id": candidate_id, "field": "first_name", "value": "Twice"}),
    );
    let sent = sent_after(&api, ToolKind::Greenhouse, since).await;
    assert_eq!(
        sent.iter().map(|s| (s.duplicate, s.status)).collect::<Vec<_>>(),
        [(false, Some(202)), (true, Some(200))],
        "{sent:#?}"
    );
    let all = runs(&api, &gh).await;
    assert_eq!(all.len(), runs_before + 2, "applied once");
    run_queued(&api, &gh, SyncType::Delta, &all[0].id).await;
    let candidate = api
        .get("/ats/candidates", &gh, &[("remote_ids", &candidate_id.to_string())])
        .await;
    assert_eq!(candidate.body["data"]["results"][0]["first_name"], "Twice");

    // Forged, unsigned and misnamed deliveries change nothing and queue nothing.
    let count = runs(&api, &gh).await.len();
    let body = json!({"action": "update_candidate", "payload": {"candidate": {"id": candidate_id}}})
        .to_string()
        .into_bytes();
    let url = hook_url(&api, ToolKind::Greenhouse, &gh);
    for headers in [
        vec![("signature", format!("sha256 {}", hmac_hex("not the secret", &[&body])))],
        vec![(
            "signature",
            format!("sha256 {}", hmac_hex(GREENHOUSE_SECRET, &[b"another body"])),
        )],
        vec![("signature", hmac_hex(GREENHOUSE_SECRET, &[&body]))],
        vec![],
    ] {
        post_raw(&api, &url, &headers, body.clone())
            .await
            .assert_error(401, "PLATFORM.AUTHENTICATION_INVALID");
    }
    assert_eq!(runs(&api, &gh).await.len(), count, "refused deliveries queue nothing");
    // Unknown integrations, tools and mismatches look alike.
    let signed = vec![("signature", format!("sha256 {}", hmac_hex(GREENHOUSE_SECRET, &[&body])))];
    for path in [
        "/v1/webhooks/greenhouse/greenhouse:unknown".to_owned(),
        format!("/v1/webhooks/personio/{gh}"),
        format!("/v1/webhooks/workday/{gh}"),
    ] {
        post_raw(&api, &api.url(&path), &signed, body.clone())
            .await
            .assert_error(404, "PLATFORM.INTEGRATION_NOT_FOUND");
    }
    // A signed ping (Greenhouse sends one when a web hook is saved) queues nothing.
    let ping = br#"{"action":"ping","payload":{"web_hook_id":1}}"#.to_vec();
    let reply = post_raw(
        &api,
        &url,
        &[("signature", format!("sha256 {}", hmac_hex(GREENHOUSE_SECRET, &[&ping])))],
        ping,
    )
    .await;
    assert_eq!(reply.status, 200, "{:#}", reply.body);
    assert_eq!(runs(&api, &gh).await.len(), count);
    // Bodies past the read API's 64 kB limit are fine up to 1 MiB; larger ones are refused.
    let big = json!({"action": "job_updated", "payload": {"notes": "x".repeat(200 * 1024)}})
        .to_string()
        .into_bytes();
    let reply = post_raw(
        &api,
        &url,
        &[("signature", format!("sha256 {}", hmac_hex(GREENHOUSE_SECRET, &[&big])))],
        big,
    )
    .await;
    assert_eq!(reply.status, 202, "{:#}", reply.body);
    let huge = json!({"action": "job_updated", "payload": {"notes": "x".repeat(1100 * 1024)}})
        .to_string()
        .into_bytes();
    let reply = post_raw(
        &api,
        &url,
        &[("signature", format!("sha256 {}", hmac_hex(GREENHOUSE_SECRET, &[&huge])))],
        huge,
    )
    .await;
    reply.assert_error(413, "PLATFORM.INPUT_INVALID");

    // BambooHR: signed body + timestamp; a DELTA applies it.
    set_secret(&api, &ops, &bamboo, BAMBOOHR_SECRET).await;
    register(&api, ToolKind::Bamboohr, &bamboo, BAMBOOHR_SECRET, false).await;
    let employee_id = *api
        .h
        .sim
        .state
        .company(ToolKind::Bamboohr)
        .hris
        .employees
        .keys()
        .next()
        .unwrap();
    let since = last_seq(&api);
    api.h.mutate(
        ToolKind::Bamboohr,
        json!({"kind": "edit_employee", "employee_id": employee_id, "field": "last_name", "value": "Bamboozled"}),
    );
    let sent = sent_after(&api, ToolKind::Bamboohr, since).await;
    assert_eq!(
        sent.iter().map(|s| s.status).collect::<Vec<_>>(),
        [Some(202)],
        "{sent:#?}"
    );
    let queued = runs(&api, &bamboo).await.remove(0);
    assert_eq!((queued.sync_type, queued.state), (SyncType::Delta, RunState::Queued));
    run_queued(&api, &bamboo, SyncType::Delta, &queued.id).await;
    let employee = api
        .get("/hris/employees", &bamboo, &[("remote_ids", &employee_id.to_string())])
        .await;
    assert_eq!(
        employee.body["data"]["results"][0]["last_name"], "Bamboozled",
        "{:#}",
        employee.body
    );
    // A correctly signed delivery from ten minutes ago is a replay.
    let count = runs(&api, &bamboo).await.len();
    let body = json!({"type": "employee.updated", "data": {"employeeId": employee_id.to_string()}})
        .to_string()
        .into_bytes();
    let url = hook_url(&api, ToolKind::Bamboohr, &bamboo);
    let old = (chrono::Utc::now() - chrono::Duration::minutes(10))
        .timestamp()
        .to_string();
    let stale = [
        ("x-bamboohr-timestamp", old.clone()),
        (
            "x-bamboohr-signature",
            hmac_hex(BAMBOOHR_SECRET, &[&body, old.as_bytes()]),
        ),
    ];
    post_raw(&api, &url, &stale, body.clone())
        .await
        .assert_error(401, "PLATFORM.AUTHENTICATION_INVALID");
    let now = chrono::Utc::now().timestamp().to_string();
    let unsigned_timestamp = [
        ("x-bamboohr-timestamp", now.clone()),
        ("x-bamboohr-signature", hmac_hex(BAMBOOHR_SECRET, &[&body])),
    ];
    post_raw(&api, &url, &unsigned_timestamp, body.clone())
        .await
        .assert_error(401, "PLATFORM.AUTHENTICATION_INVALID");
    assert_eq!(runs(&api, &bamboo).await.len(), count);

    // Personio: its token in the Authorization header (no API-key rate limit applies to it).
    set_secret(&api, &ops, &personio, PERSONIO_TOKEN).await;
    register(&api, ToolKind::Personio, &personio, PERSONIO_TOKEN, false).await;
    let employee_id = *api
        .h
        .sim
        .state
        .company(ToolKind::Personio)
        .hris
        .employees
        .keys()
        .next()
        .unwrap();
    let since = last_seq(&api);
    api.h.mutate(
        ToolKind::Personio,
        json!({"kind": "edit_employee", "employee_id": employee_id, "field": "first_name", "value": "Tokenia"}),
    );
    let sent = sent_after(&api, ToolKind::Personio, since).await;
    assert_eq!(
        sent.iter().map(|s| (s.event.as_str(), s.status)).collect::<Vec<_>>(),
        [("person.updated", Some(202))]
    );
    let queued = runs(&api, &personio).await.remove(0);
    run_queued(&api, &personio, SyncType::Delta, &queued.id).await;
    let employee = api
        .get(
            "/hris/employees",
            &personio,
            &[("remote_ids", &employee_id.to_string())],
        )
        .await;
    assert_eq!(
        employee.body["data"]["results"][0]["first_name"], "Tokenia",
        "{:#}",
        employee.body
    );
    let count = runs(&api, &personio).await.len();
    let body = br#"{"event_name":"person.updated","payload":{"id":"1"}}"#.to_vec();
    for token in ["Bearer personio-webhook-tokeN", "personio-webhook-token", ""] {
        post_raw(
            &api,
            &hook_url(&api, ToolKind::Personio, &personio),
            &[("authorization", token.to_owned())],
            body.clone(),
        )
        .await
        .assert_error(401, "PLATFORM.AUTHENTICATION_INVALID");
    }
    assert_eq!(runs(&api, &personio).await.len(), count);

    // Removing the secret refuses the tool's webhooks again and restores the usual polling.
    let reply = send(
        api.http
            .delete(format!("{ops}/ops/v1/integrations/{gh}/inbound-webhook"))
            .bearer_auth(ADMIN),
    )
    .await;
    assert_eq!(
        (reply.status.as_u16(), &reply.body["data"]["active"]),
        (200, &json!(false)),
        "{:#}",
        reply.body
    );
    assert_eq!(schedules(&api, &ops, &gh).await, before);
    let body = br#"{"action":"update_candidate","payload":{}}"#.to_vec();
    post_raw(
        &api,
        &hook_url(&api, ToolKind::Greenhouse, &gh),
        &[("signature", format!("sha256 {}", hmac_hex(GREENHOUSE_SECRET, &[&body])))],
        body,
    )
    .await
    .assert_error(404, "PLATFORM.INTEGRATION_NOT_FOUND");
}

/// A webhook that arrives while the DELTA it would queue is already running: that run may have
/// read the changed data before the change, so another DELTA is queued once it ends.
async fn webhooks_during_a_running_delta_queue_a_follow_up(b: Backend) {
    let Some(api) = Api::start(b).await else {
        return;
    };
    let gh = api.greenhouse.clone();
    api.h
        .store
        .set_inbound_webhook_secret(&gh, Some(GREENHOUSE_SECRET))
        .await
        .unwrap();
    register(&api, ToolKind::Greenhouse, &gh, GREENHOUSE_SECRET, false).await;
    let candidate_id = *api
        .h
        .sim
        .state
        .company(ToolKind::Greenhouse)
        .ats
        .candidates
        .keys()
        .next()
        .unwrap();

    // The first change queues a DELTA; a slow tool keeps it running for a while.
    api.h.mutate(
        ToolKind::Greenhouse,
        json!({"kind": "edit_candidate", "candidate_id": candidate_id, "field": "title", "value": "First"}),
    );
    sent_after(&api, ToolKind::Greenhouse, 0).await;
    let first = runs(&api, &gh).await.remove(0);
    assert_eq!((first.sync_type, first.state), (SyncType::Delta, RunState::Queued));
    api.h.sim.state.set_latency(ToolKind::Greenhouse, 150);
    let (_, running) = api.h.spawn_sync(&gh, SyncType::Delta);
    let deadline = Instant::now() + Duration::from_secs(10);
    while api.h.store.get_run(&first.id).await.unwrap().unwrap().state != RunState::Running {
        assert!(Instant::now() < deadline, "the DELTA did not start");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    // The second change's webhook finds that run open: it is answered with it...
    let open = runs(&api, &gh).await.len();
    let since = last_seq(&api);
    api.h.mutate(
        ToolKind::Greenhouse,
        json!({"kind": "edit_candidate", "candidate_id": candidate_id, "field": "title", "value": "Second"}),
    );
    let sent = sent_after(&api, ToolKind::Greenhouse, since).await;
    assert_eq!(sent.iter().map(|s| s.status).collect::<Vec<_>>(), [Some(202)]);
    assert_eq!(runs(&api, &gh).await.len(), open, "no second DELTA while one is open");
    let outcome = running.await.unwrap().unwrap();
    assert_eq!(
        (outcome.run.id.as_str(), outcome.run.state),
        (first.id.as_str(), RunState::Succeeded)
    );
    api.h.sim.state.set_latency(ToolKind::Greenhouse, 0);

    // ...and a follow-up DELTA is queued once it has ended, which reads the second change.
    let deadline = Instant::now() + Duration::from_secs(10);
    let follow_up = loop {
        let newest = runs(&api, &gh).await.remove(0);
        if newest.id != first.id {
            break newest;
        }
        assert!(Instant::now() < deadline, "no follow-up DELTA was queued");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(
        (follow_up.sync_type, follow_up.state),
        (SyncType::Delta, RunState::Queued)
    );
    run_queued(&api, &gh, SyncType::Delta, &follow_up.id).await;
    let candidate = api
        .get("/ats/candidates", &gh, &[("remote_ids", &candidate_id.to_string())])
        .await;
    assert_eq!(
        candidate.body["data"]["results"][0]["title"], "Second",
        "{:#}",
        candidate.body
    );
}

/// A flood of forged deliveries: refusals beyond the integration's budget get 429 in Kombo's
/// envelope with `Retry-After` ≥ 1, the log gets a bounded number of lines (not one WARN per
/// forgery), and a delivery the tool signed still goes through in the middle of the flood.
async fn forged_floods_are_rate_limited_and_sampled(b: Backend) {
    use tributary_gateway::inbound_rejections::{BURST, PER_SECOND};

    let Some(api) = Api::start(b).await else {
        return;
    };
    let ops = operator(&api).await;
    let gh = api.greenhouse.clone();
    set_secret(&api, &ops, &gh, GREENHOUSE_SECRET).await;
    let url = hook_url(&api, ToolKind::Greenhouse, &gh);
    let body = br#"{"action":"update_candidate","payload":{"candidate":{"id":1}}}"#.to_vec();
    let forged = [("signature", format!("sha256 {}", hmac_hex("not the secret", &[&body])))];
    let runs_before = runs(&api, &gh).await.len();

    const FLOOD: usize = 200;
    let started = Instant::now();
    let (mut refused, mut limited) = (0, 0);
    for i in 0..FLOOD {
        let reply = post_raw(&api, &url, &forged, body.clone()).await;
        match reply.status.as_u16() {
            401 => {
                reply.assert_error(401, "PLATFORM.AUTHENTICATION_INVALID");
                refused += 1;
            }
            429 => {
                let retry_after: u64 = reply.headers["retry-after"].to_str().unwrap().parse().unwrap();
                assert!(retry_after >= 1, "Retry-After {retry_after}");
                reply.assert_error(429, "PLATFORM.RATE_LIMIT_EXCEEDED");
                limited += 1;
            }
            other => panic!("forgery {i}: {other} {:#}", reply.body),
        }
        if i == FLOOD / 2 {
            // The tool's own delivery, signed, amid the flood.
            let signed = br#"{"action":"update_candidate","payload":{"candidate":{"id":2}}}"#.to_vec();
            let reply = post_raw(
                &api,
                &url,
                &[(
                    "signature",
                    format!("sha256 {}", hmac_hex(GREENHOUSE_SECRET, &[&signed])),
                )],
                signed,
            )
            .await;
            assert_eq!(reply.status, 202, "a signed delivery is not refused: {:#}", reply.body);
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    // The budget: a burst, then PER_SECOND for every second the flood took.
    let budget = BURST as usize + (elapsed * f64::from(PER_SECOND)).ceil() as usize + 1;
    assert!(
        refused <= budget,
        "{refused} forgeries answered 401 where the budget is {budget}"
    );
    assert_eq!(refused + limited, FLOOD);
    assert!(limited > 0, "the flood went beyond the budget");

    // Unknown integrations share a budget of their own.
    let unknown = api.url("/v1/webhooks/greenhouse/greenhouse:nobody");
    let mut unknown_limited = 0;
    for _ in 0..(BURST as usize + 30) {
        let reply = post_raw(&api, &unknown, &forged, body.clone()).await;
        match reply.status.as_u16() {
            404 => reply.assert_error(404, "PLATFORM.INTEGRATION_NOT_FOUND"),
            429 => unknown_limited += 1,
            other => panic!("{other} {:#}", reply.body),
        }
    }
    assert!(unknown_limited > 0);

    let stats = api.state.inbound_rejection_stats();
    assert_eq!(stats.limited as usize, limited + unknown_limited, "{stats:?}");
    // One line per refusal within the budget, and one a minute per budget beyond it (two
    // budgets here): far fewer than refusals.
    let total = FLOOD + BURST as usize + 30;
    assert!(
        stats.logged <= stats.refused + 2 && (stats.logged as usize) < total / 2,
        "{} log lines for {total} refusals: {stats:?}",
        stats.logged
    );
    assert_eq!(
        runs(&api, &gh).await.len(),
        runs_before + 1,
        "the signed delivery queued its sync, the forgeries nothing"
    );
}

crate::on_both_backends!(
    inbound_webhooks_update_the_mirror,
    webhooks_during_a_running_delta_queue_a_follow_up,
    forged_floods_are_rate_limited_and_sampled
);
