//! Case 7: `POST /v1/force-sync` queues a run through the scheduler's trigger.

use serde_json::{Value, json};
use tributary_gateway::GatewayOptions;
use tributary_model::{RunState, ScopeConfig, SyncType, ToolKind};

use crate::gateway::{Api, Reply, send, send_unchecked, serve};
use crate::schema;
use crate::support::Backend;

enum Body {
    None,
    Raw(&'static str),
    Json(Value),
}

async fn force(api: &Api, base: &str, integration: &str, body: Body) -> Reply {
    let request = api
        .http
        .post(format!("{base}/v1/force-sync"))
        .bearer_auth(&api.key)
        .header("X-Integration-Id", integration);
    let request = match body {
        Body::None => request,
        Body::Raw(text) => request.header("content-type", "application/json").body(text),
        Body::Json(value) => request.json(&value),
    };
    send(request).await
}

/// Asserts a success answer of `type` and a QUEUED run of `stored` with its id; the id.
async fn queued(
    api: &Api,
    reply: &Reply,
    integration: &str,
    wire_type: &str,
    stored: SyncType,
    already: bool,
) -> String {
    assert_eq!(reply.status, 200, "{:#}", reply.body);
    assert_eq!(reply.body["status"], "success");
    let data = &reply.body["data"];
    assert_eq!(data["type"], wire_type, "{data:#}");
    assert_eq!(data["already_queued"], already, "{data:#}");
    let id = data["sync_id"].as_str().expect("sync_id").to_owned();
    let run = api
        .h
        .store
        .get_run(&id)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("no run {id}"));
    assert_eq!(
        (run.integration_id.as_str(), run.sync_type, run.state),
        (integration, stored, RunState::Queued),
        "{run:?}"
    );
    id
}

async fn force_sync_queues_runs(b: Backend) {
    let Some(api) = Api::start(b).await else {
        return;
    };
    let (base, p) = (api.base.clone(), api.personio.clone());

    let contract = api.contract().await;
    let reply = force(&api, &base, &p, Body::None).await;
    schema::assert_fits(&contract, &reply.body, "/force-sync", "post", "200");
    let full = queued(&api, &reply, &p, "FULL", SyncType::Full, false).await;
    for body in [
        Body::Raw(""),
        Body::Raw("  \n"),
        Body::Json(json!({})),
        Body::Json(json!({"type": "FULL"})),
    ] {
        let reply = force(&api, &base, &p, body).await;
        assert_eq!(queued(&api, &reply, &p, "FULL", SyncType::Full, true).await, full);
    }
    let reply = force(&api, &base, &p, Body::Json(json!({"type": "DELTA"}))).await;
    let delta = queued(&api, &reply, &p, "DELTA", SyncType::Delta, false).await;
    assert_ne!(delta, full);
    let reply = force(&api, &base, &p, Body::Json(json!({"type": "DELTA"}))).await;
    assert_eq!(queued(&api, &reply, &p, "DELTA", SyncType::Delta, true).await, delta);
    let open: Vec<_> = api
        .h
        .store
        .list_runs(&p, 50)
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.state == RunState::Queued)
        .collect();
    assert_eq!(open.len(), 2, "one queued run per type: {open:?}");

    // BambooHR takes DELTA syncs as well now (docs/sources/bamboohr.md), and FULL when asked.
    let reply = force(&api, &base, &api.bamboohr, Body::Json(json!({"type": "DELTA"}))).await;
    let bamboo = queued(&api, &reply, &api.bamboohr, "DELTA", SyncType::Delta, false).await;
    let reply = force(&api, &base, &api.bamboohr, Body::Json(json!({"type": "DELTA"}))).await;
    assert_eq!(
        queued(&api, &reply, &api.bamboohr, "DELTA", SyncType::Delta, true).await,
        bamboo
    );
    let reply = force(&api, &base, &api.bamboohr, Body::None).await;
    assert_ne!(
        queued(&api, &reply, &api.bamboohr, "FULL", SyncType::Full, false).await,
        bamboo
    );
    let reply = force(&api, &base, &api.greenhouse, Body::Json(json!({"type": "DELTA"}))).await;
    queued(&api, &reply, &api.greenhouse, "DELTA", SyncType::Delta, false).await;

    // Bad bodies.
    for (i, body) in [
        Body::Json(json!({"type": "SOMETIMES"})),
        Body::Json(json!({"type": "full"})),
        Body::Json(json!({"type": 1})),
        Body::Json(json!({"type": "FULL", "when": "now"})),
        Body::Raw("{\"type\": "),
        Body::Raw("FULL"),
    ]
    .into_iter()
    .enumerate()
    {
        let reply = force(&api, &base, &p, body).await;
        assert_eq!(reply.status, 400, "bad body #{i}: {:#}", reply.body);
        schema::assert_fits(&contract, &reply.body, "/force-sync", "post", "default");
        reply.assert_error(400, "PLATFORM.INPUT_INVALID");
    }
    // Integrations this key may not see, and no key.
    api.create_integration(
        "personio:other-env",
        ToolKind::Personio,
        "other",
        ScopeConfig::default(),
    )
    .await;
    force(&api, &base, "personio:other-env", Body::None)
        .await
        .assert_error(404, "PLATFORM.INTEGRATION_NOT_FOUND");
    assert!(
        api.h
            .store
            .list_runs("personio:other-env", 10)
            .await
            .unwrap()
            .is_empty()
    );
    send(
        api.http
            .post(format!("{base}/v1/force-sync"))
            .header("X-Integration-Id", &p),
    )
    .await
    .assert_error(401, "PLATFORM.AUTHENTICATION_INVALID");

    // A gateway without a fleet behind it.
    let lone = serve(api.h.store.clone(), GatewayOptions::default(), false).await;
    force(&api, &lone, &p, Body::None)
        .await
        .assert_error(503, "PLATFORM.UNKNOWN_ERROR");
    force(&api, &lone, &api.greenhouse, Body::Json(json!({"type": "FULL"})))
        .await
        .assert_error(503, "PLATFORM.UNKNOWN_ERROR");

    // Checked last and together, so one run reports both.
    let mut failures = Vec::new();
    // The body is a JSON object (the contract's `PostForceSyncRequestBody`), not an array that
    // happens to line up with its fields.
    for body in [json!(["FULL"]), json!(["DELTA"])] {
        let request = api
            .http
            .post(format!("{base}/v1/force-sync"))
            .bearer_auth(&api.key)
            .header("X-Integration-Id", &p)
            .json(&body);
        let (reply, _) = send_unchecked(request).await;
        if reply.status != 400 || reply.body["error"]["code"] != "PLATFORM.INPUT_INVALID" {
            failures.push(format!("body {body}: {} {}", reply.status, reply.body));
        }
    }
    // A body beyond the gateway's limit (64 kB by default), in the envelope like every error.
    let huge = json!({"type": "FULL", "padding": "x".repeat(80 * 1024)}).to_string();
    let request = api
        .http
        .post(format!("{base}/v1/force-sync"))
        .bearer_auth(&api.key)
        .header("X-Integration-Id", &p)
        .header("content-type", "application/json")
        .body(huge);
    let (reply, _) = send_unchecked(request).await;
    if reply.status != 413 || reply.body["status"] != "error" || reply.body["error"]["code"] != "PLATFORM.INPUT_INVALID"
    {
        failures.push(format!("an 80 kB body: {} {}", reply.status, reply.body));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

crate::on_both_backends!(force_sync_queues_runs);
