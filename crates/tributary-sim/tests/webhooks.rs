//! The webhooks the simulated tools send: a real HTTP receiver on loopback checks each tool's
//! signature construction independently of the simulator's signing code, fails on purpose to
//! see the retries, and counts the deliberate duplicates.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use tributary_model::ToolKind;
use tributary_sim::{SimConfig, Simulator, WebhookTarget};

const SECRET: &str = "receiver test secret";

#[derive(Clone, Default)]
struct Receiver {
    /// Statuses to answer, in order; 202 once they run out.
    script: Arc<Mutex<VecDeque<u16>>>,
    received: Arc<Mutex<Vec<(HeaderMap, Bytes)>>>,
}

async fn receive(State(r): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    r.received.lock().unwrap().push((headers, body));
    let status = r.script.lock().unwrap().pop_front().unwrap_or(202);
    StatusCode::from_u16(status).unwrap()
}

async fn receiver(script: &[u16]) -> (Receiver, String) {
    let r = Receiver::default();
    r.script.lock().unwrap().extend(script);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    let app = Router::new().route("/hook", post(receive)).with_state(r.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (r, format!("http://{addr}/hook"))
}

fn hmac_hex(parts: &[&[u8]]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

async fn sim() -> Simulator {
    Simulator::start(
        SimConfig {
            employees: 40,
            ..SimConfig::default()
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap()
}

/// Waits until the simulator has nothing left to send and `r` holds at least `n` requests.
async fn settle(sim: &Simulator, r: &Receiver, n: usize) -> Vec<(HeaderMap, Bytes)> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let got = r.received.lock().unwrap().clone();
        if got.len() >= n && sim.state.webhooks_in_flight() == 0 {
            return got;
        }
        assert!(Instant::now() < deadline, "only {} of {n} webhooks arrived", got.len());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> &'a str {
    h.get(name)
        .unwrap_or_else(|| panic!("no {name} header"))
        .to_str()
        .unwrap()
}

#[tokio::test]
async fn greenhouse_signs_the_body_and_retries_with_the_same_event_id() {
    let sim = sim().await;
    let (r, url) = receiver(&[500, 503]).await;
    let http = reqwest::Client::new();
    let registered = http
        .post(format!("{}/webhooks", sim.control_url()))
        .json(&json!({"tool": "greenhouse", "url": url, "secret": SECRET}))
        .send()
        .await
        .unwrap();
    assert_eq!(registered.status(), 204);
    let application_id = *sim
        .state
        .company(ToolKind::Greenhouse)
        .ats
        .applications
        .values()
        .find(|a| a.status == "active")
        .map(|a| &a.id)
        .unwrap();
    let reject = http
        .post(format!("{}/mutate", sim.control_url()))
        .json(&json!({"tool": "greenhouse", "kind": "reject_application", "application_id": application_id}))
        .send()
        .await
        .unwrap();
    assert_eq!(reject.status(), 200, "{}", reject.text().await.unwrap());

    let got = settle(&sim, &r, 3).await;
    assert_eq!(got.len(), 3, "two failures, then the delivery");
    let event_id = header(&got[0].0, "greenhouse-event-id").to_owned();
    for (headers, body) in &got {
        assert_eq!(header(headers, "signature"), format!("sha256 {}", hmac_hex(&[body])));
        assert_eq!(
            header(headers, "greenhouse-event-id"),
            event_id,
            "retries keep the delivery id"
        );
        assert_eq!(body, &got[0].1);
    }
    let event: Value = serde_json::from_slice(&got[0].1).unwrap();
    assert_eq!(event["action"], "reject_candidate");
    assert_eq!(event["payload"]["application"]["id"], application_id);
    assert_eq!(event["payload"]["application"]["status"], "rejected");

    let log: Value = http
        .get(format!("{}/webhooks/log?tool=greenhouse", sim.control_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let statuses: Vec<_> = log["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["attempt"].clone(), e["status"].clone()))
        .collect();
    assert_eq!(
        statuses,
        [(json!(1), json!(500)), (json!(2), json!(503)), (json!(3), json!(202))]
    );
    // The listing hides the secret.
    let targets = http
        .get(format!("{}/webhooks", sim.control_url()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(targets.contains("greenhouse") && !targets.contains(SECRET), "{targets}");

    // Unregistered: further changes send nothing.
    let gone = http
        .delete(format!("{}/webhooks?tool=greenhouse", sim.control_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), 204);
    sim.state.mutate_random(ToolKind::Greenhouse, 20, 3).unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(r.received.lock().unwrap().len(), 3);
    sim.shutdown().await;
}

#[tokio::test]
async fn bamboohr_signs_body_then_timestamp_and_duplicates_on_request() {
    let sim = sim().await;
    let (r, url) = receiver(&[]).await;
    sim.state
        .register_webhook(WebhookTarget {
            tool: ToolKind::Bamboohr,
            url,
            secret: SECRET.into(),
            duplicate: true,
            max_attempts: 3,
        })
        .unwrap();
    let employee_id = *sim
        .state
        .company(ToolKind::Bamboohr)
        .hris
        .employees
        .keys()
        .next()
        .unwrap();
    sim.state
        .mutate(
            ToolKind::Bamboohr,
            &serde_json::from_value(json!({"kind": "edit_employee", "employee_id": employee_id, "field": "last_name"}))
                .unwrap(),
        )
        .unwrap();
    let got = settle(&sim, &r, 2).await;
    assert_eq!(got.len(), 2, "the delivery and its deliberate duplicate");
    assert_eq!(got[0].1, got[1].1);
    for (headers, body) in &got {
        let ts = header(headers, "x-bamboohr-timestamp");
        assert!((ts.parse::<i64>().unwrap() - chrono::Utc::now().timestamp()).abs() < 60);
        assert_eq!(
            header(headers, "x-bamboohr-signature"),
            hmac_hex(&[body, ts.as_bytes()])
        );
    }
    let event: Value = serde_json::from_slice(&got[0].1).unwrap();
    assert_eq!(event["type"], "employee.updated");
    assert_eq!(event["data"]["employeeId"], employee_id.to_string());
    let (_, log) = sim.state.webhook_log(Some(ToolKind::Bamboohr), 0);
    assert_eq!(log.iter().map(|e| e.duplicate).collect::<Vec<_>>(), [false, true]);

    // Absences are not announced: BambooHR's webhooks are about employees.
    let absence_id = *sim
        .state
        .company(ToolKind::Bamboohr)
        .hris
        .absences
        .keys()
        .next()
        .unwrap();
    sim.state
        .mutate(
            ToolKind::Bamboohr,
            &serde_json::from_value(json!({"kind": "delete_absence", "absence_id": absence_id})).unwrap(),
        )
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(r.received.lock().unwrap().len(), 2);
    sim.shutdown().await;
}

#[tokio::test]
async fn personio_sends_its_token_and_background_mutations_are_announced() {
    let (r, url) = receiver(&[]).await;
    let sim = Simulator::start(
        SimConfig {
            employees: 40,
            tools: vec![ToolKind::Personio],
            mutate_every: Some(Duration::from_millis(50)),
            mutations_per_tick: 20,
            ..SimConfig::default()
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    sim.state
        .register_webhook(WebhookTarget {
            tool: ToolKind::Personio,
            url,
            secret: SECRET.into(),
            duplicate: false,
            max_attempts: 1,
        })
        .unwrap();
    let got = settle(&sim, &r, 1).await;
    for (headers, body) in &got {
        assert_eq!(header(headers, "authorization"), SECRET);
        let event: Value = serde_json::from_slice(body).unwrap();
        let name = event["event_name"].as_str().unwrap();
        assert!(
            name.starts_with("person.") || name.starts_with("employment."),
            "{event}"
        );
        assert!(
            event["payload"]["id"].is_string() && event["occurred_at"].is_string(),
            "{event}"
        );
    }
    // Bad registrations are refused.
    for bad in [
        json!({"tool": "personio", "url": "ftp://x", "secret": "s"}),
        json!({"tool": "personio", "url": "http://127.0.0.1:1/", "secret": ""}),
        json!({"tool": "personio", "url": "http://127.0.0.1:1/", "secret": "s", "max_attempts": 0}),
        json!({"tool": "personio", "url": "http://127.0.0.1:1/", "secret": "s", "extra": 1}),
        json!({"tool": "greenhouse", "url": "http://127.0.0.1:1/", "secret": "s"}),
    ] {
        let answer = reqwest::Client::new()
            .post(format!("{}/webhooks", sim.control_url()))
            .json(&bad)
            .send()
            .await
            .unwrap();
        assert!(answer.status().is_client_error(), "{bad}: {}", answer.status());
    }
    sim.shutdown().await;
}
