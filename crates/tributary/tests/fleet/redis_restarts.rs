//! The fleet and its Redis: every key under `--redis-prefix`, and force-sync across Redis
//! restarts. Each test runs a `redis-server` of its own, so it can restart it and see every key.

use std::time::Duration;

use serde_json::{Value, json};
use tributary_gateway::{generate_api_key, hash_api_key};
use tributary_model::{RunState, SyncType, ToolKind};

use crate::support::{OwnRedis, Stack};

/// An API key of the `test` environment (the stack's integrations are there).
async fn api_key(s: &Stack) -> String {
    let key = generate_api_key();
    s.store
        .create_api_key("test", "fleet", &hash_api_key(&key))
        .await
        .expect("api key created");
    key
}

/// `POST /v1/force-sync`: status and body.
async fn force_sync(base: &str, key: &str, integration: &str, sync_type: &str) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(format!("{base}/v1/force-sync"))
        .bearer_auth(key)
        .header("X-Integration-Id", integration)
        .json(&json!({ "type": sync_type }))
        .send()
        .await
        .expect("the gateway answers");
    let status = response.status().as_u16();
    (status, response.json().await.expect("a JSON body"))
}

/// Every key in Redis.
async fn all_keys(redis: &OwnRedis) -> Vec<String> {
    let client = redis::Client::open(redis.url().as_str()).expect("redis url");
    let mut conn = client.get_multiplexed_async_connection().await.expect("redis connects");
    let mut cursor: u64 = 0;
    let mut keys = Vec::new();
    loop {
        let (next, found): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("COUNT")
            .arg(1000)
            .query_async(&mut conn)
            .await
            .expect("scan");
        keys.extend(found);
        cursor = next;
        if cursor == 0 {
            return keys;
        }
    }
}

/// A fleet (scheduler, worker, gateway) that has queued, run, preempted and handed on syncs
/// leaves no key outside its prefix: apalis-redis registers its queues under a fixed global
/// key unless told otherwise.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_redis_key_is_under_the_prefix() {
    let Some(redis) = OwnRedis::start().await else { return };
    let Some(mut s) = Stack::start_on(&[ToolKind::Personio], 1000, &redis.url()).await else {
        return;
    };
    let id = s.integration(ToolKind::Personio, "acme", true).await;
    s.sim.state.set_latency(ToolKind::Personio, 50);
    let (_gateway, base) = s.gateway("g1").await;
    s.scheduler("s1");
    s.worker("w1", &[]);
    let key = api_key(&s).await;

    // The FULL the scheduler queues for a new integration, a DELTA through the API that
    // preempts it, and their hand-over.
    s.wait_until(Duration::from_secs(30), "the scheduler queues a FULL", || async {
        s.store.open_run(&id, SyncType::Full).await.expect("runs").is_some()
    })
    .await;
    let full = s.store.open_run(&id, SyncType::Full).await.unwrap().unwrap();
    s.wait_run(&full.id, Duration::from_secs(60), "fetched 2 pages", |r| {
        r.counts.pages_fetched >= 2
    })
    .await;
    let (status, body) = force_sync(&base, &key, &id, "DELTA").await;
    assert_eq!(status, 200, "{body}");
    let delta = body["data"]["sync_id"].as_str().expect("sync_id").to_owned();
    assert_eq!(
        s.wait_ended(&full.id, Duration::from_secs(120)).await.state,
        RunState::Succeeded
    );
    s.wait_ended(&delta, Duration::from_secs(60)).await;

    let keys = all_keys(&redis).await;
    assert!(!keys.is_empty(), "the fleet wrote to Redis");
    let outside: Vec<&String> = keys
        .iter()
        .filter(|k| !k.starts_with(&format!("{}:", s.prefix)))
        .collect();
    assert!(
        outside.is_empty(),
        "keys outside the prefix `{}`: {outside:?}",
        s.prefix
    );
}

/// After Redis restarts, the gateway's pooled connection is broken and its first command
/// fails. A force-sync then still answers 200 with the run it created (one retry on the
/// reconnected connection pushes the job), and the run executes: no 503 for a run that exists.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn force_sync_after_a_redis_restart_answers_with_its_run() {
    let Some(mut redis) = OwnRedis::start().await else {
        return;
    };
    let Some(mut s) = Stack::start_on(&[ToolKind::Personio], 200, &redis.url()).await else {
        return;
    };
    let id = s.integration(ToolKind::Personio, "acme", true).await;
    let (gateway, base) = s.gateway("g1").await;
    // No scheduler: only the job the force-sync pushed can get a run executed.
    s.worker("w1", &[]);
    let key = api_key(&s).await;

    let (status, body) = force_sync(&base, &key, &id, "FULL").await;
    assert_eq!(status, 200, "{body}");
    let full = body["data"]["sync_id"].as_str().expect("sync_id").to_owned();
    assert_eq!(
        s.wait_ended(&full, Duration::from_secs(60)).await.state,
        RunState::Succeeded
    );

    for round in 0..4 {
        redis.restart().await;
        let (status, body) = force_sync(&base, &key, &id, "DELTA").await;
        assert_eq!(
            status,
            200,
            "round {round}: the first force-sync after a restart: {body}\n{}",
            s.log(&gateway)
        );
        assert_eq!(body["data"]["already_queued"], json!(false), "round {round}: {body}");
        let run_id = body["data"]["sync_id"].as_str().expect("sync_id").to_owned();
        let run = s.wait_ended(&run_id, Duration::from_secs(60)).await;
        assert_eq!(run.state, RunState::Succeeded, "round {round}: {:?}", run.error);
        assert_eq!(run.sync_type, SyncType::Delta);
        // Exactly one run per force-sync: nothing else open, nothing created twice.
        let runs = s.store.list_runs(&id, 100).await.expect("runs");
        assert_eq!(runs.len(), round + 2, "round {round}: {runs:?}");
        assert!(runs.iter().all(|r| r.state.is_terminal()), "{runs:?}");
    }
}
