//! The queues and the coordination, against real Redis and a real mirror: markers make every
//! run be pushed once, `stranded` finds exactly the runs nobody will pick up, depths count
//! what waits where, and signals reach the runs they name.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tributary_model::{ScopeConfig, SyncType, ToolKind};
use tributary_queue::{
    Coordinator, EmbeddedCoordinator, JobQueue, RedisCoordinator, RedisQueue, RunSignal, WatchedRun, dispatch, stranded,
};
use tributary_store::testing::{TestDatabase, pg_store_or_skip, services_required};
use tributary_store::{MirrorStore, NewIntegration, SyncRun};

const REDIS_URL: &str = "redis://127.0.0.1:6379";
const TTL: Duration = Duration::from_secs(30);

struct Redis {
    store: Arc<dyn MirrorStore>,
    _db: TestDatabase,
    conn: tributary_queue::ConnectionManager,
    prefix: String,
    queue: RedisQueue,
    coordinator: RedisCoordinator,
}

impl Redis {
    async fn start() -> Option<Self> {
        let (store, db) = pg_store_or_skip().await?;
        let conn = match tributary_queue::connect(REDIS_URL).await {
            Ok(c) => c,
            Err(e) if !services_required() => {
                eprintln!("SKIPPED: no Redis at {REDIS_URL}: {e}");
                return None;
            }
            Err(e) => panic!("Redis is required (TRIBUTARY_REQUIRE_SERVICES): {e}"),
        };
        let prefix = format!("queuetest-{}", db.name());
        Some(Self {
            queue: RedisQueue::new(conn.clone(), &prefix),
            coordinator: RedisCoordinator::new(conn.clone(), prefix.clone(), store.clone()),
            store,
            _db: db,
            conn,
            prefix,
        })
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let prefix = self.prefix.clone();
        let _ = std::thread::spawn(move || {
            let Ok(client) = redis::Client::open(REDIS_URL) else {
                return;
            };
            let Ok(mut conn) = client.get_connection() else { return };
            let keys: Vec<String> = redis::cmd("KEYS")
                .arg(format!("{prefix}:*"))
                .query(&mut conn)
                .unwrap_or_default();
            if !keys.is_empty() {
                let _: redis::RedisResult<usize> = redis::cmd("DEL").arg(&keys).query(&mut conn);
            }
        })
        .join();
    }
}

async fn integration(store: &dyn MirrorStore, id: &str) {
    store
        .create_integration(NewIntegration {
            id: id.into(),
            tool: ToolKind::Personio,
            environment: "test".into(),
            base_url: "http://127.0.0.1:1".into(),
            credentials: json!({"client_id": "x", "client_secret": "y"}),
            scope_config: ScopeConfig::default(),
        })
        .await
        .expect("integration");
}

async fn open(store: &dyn MirrorStore, id: &str, t: SyncType) -> SyncRun {
    store.enqueue_run(id, t).await.expect("enqueue").0
}

async fn pending(queue: &RedisQueue) -> u64 {
    queue
        .depths()
        .await
        .expect("depths")
        .iter()
        .map(|d| d.pending + d.scheduled)
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_dispatchers_push_each_run_once() {
    let Some(r) = Redis::start().await else { return };
    let mut runs = Vec::new();
    for i in 0..20 {
        let id = format!("personio:c{i}");
        integration(r.store.as_ref(), &id).await;
        runs.push(open(r.store.as_ref(), &id, SyncType::Full).await);
        runs.push(open(r.store.as_ref(), &id, SyncType::Delta).await);
    }
    // Four dispatchers race over the same 40 runs.
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let (queue, coordinator, runs) = (r.queue.clone(), r.coordinator.clone(), runs.clone());
        tasks.push(tokio::spawn(async move {
            dispatch(&queue, &coordinator, &runs).await.expect("dispatch")
        }));
    }
    let mut pushed = 0;
    for t in tasks {
        pushed += t.await.unwrap();
    }
    assert_eq!(pushed, 40, "each run pushed by exactly one dispatcher");
    let depths = r.queue.depths().await.expect("depths");
    let by_type = |t: SyncType| {
        depths
            .iter()
            .find(|d| d.sync_type == t)
            .map(|d| d.pending + d.scheduled)
    };
    assert_eq!(by_type(SyncType::Full), Some(20), "{depths:?}");
    assert_eq!(by_type(SyncType::Delta), Some(20), "{depths:?}");
    assert_eq!(by_type(SyncType::Default), Some(0));
    // Marked runs are not stranded; a pushed run is not pushed again.
    assert!(stranded(&r.coordinator, runs.clone()).await.unwrap().is_empty());
    assert_eq!(dispatch(&r.queue, &r.coordinator, &runs).await.unwrap(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stranded_runs_are_those_nobody_will_pick_up() {
    let Some(r) = Redis::start().await else { return };
    let store = r.store.as_ref();
    integration(store, "personio:free").await;
    integration(store, "personio:busy").await;
    let free_full = open(store, "personio:free", SyncType::Full).await;
    let busy_full = open(store, "personio:busy", SyncType::Full).await;
    let busy_delta = open(store, "personio:busy", SyncType::Delta).await;

    // Another run of `busy` holds its lease (owner `<worker>/<run id>`).
    let grant = r
        .coordinator
        .acquire("personio:busy", "worker-1/some-other-run", TTL)
        .await
        .unwrap()
        .expect("lease free");
    let found = stranded(
        &r.coordinator,
        vec![free_full.clone(), busy_full.clone(), busy_delta.clone()],
    )
    .await
    .unwrap();
    let ids: Vec<&str> = found.iter().map(|r| r.id.as_str()).collect();
    // The free integration's run has nobody; the busy one's FULL waits for the holder to hand
    // it on; its DELTA must reach a worker to preempt the holder.
    assert_eq!(ids, vec![free_full.id.as_str(), busy_delta.id.as_str()]);

    // A run holding its own integration's lease is running, not stranded.
    r.coordinator.release(&grant).await.unwrap();
    let own = format!("worker-1/{}", busy_full.id);
    let grant = r
        .coordinator
        .acquire("personio:busy", &own, TTL)
        .await
        .unwrap()
        .expect("free");
    let found = stranded(&r.coordinator, vec![busy_full.clone()]).await.unwrap();
    assert!(found.is_empty(), "{found:?}");
    // Once released (its worker died and the lease expired), it is stranded again.
    r.coordinator.release(&grant).await.unwrap();
    assert_eq!(
        stranded(&r.coordinator, vec![busy_full.clone()]).await.unwrap().len(),
        1
    );
    // An ended run is never stranded.
    assert!(store.cancel_idle_run(&free_full.id, "test").await.unwrap());
    let ended = store.get_run(&free_full.id).await.unwrap().unwrap();
    assert!(stranded(&r.coordinator, vec![ended]).await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_push_leaves_the_run_unmarked_for_the_next_reconcile() {
    let Some(r) = Redis::start().await else { return };
    integration(r.store.as_ref(), "personio:acme").await;
    let run = open(r.store.as_ref(), "personio:acme", SyncType::Full).await;
    // The queue's data hash has the wrong type: the push script fails.
    let mut conn = r.conn.clone();
    let _: () = redis::cmd("SET")
        .arg(format!("{}:sync-full:data", r.prefix))
        .arg("not a hash")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(
        dispatch(&r.queue, &r.coordinator, std::slice::from_ref(&run))
            .await
            .is_err()
    );
    assert_eq!(
        r.coordinator.queued(std::slice::from_ref(&run.id)).await.unwrap(),
        vec![false]
    );
    let _: () = redis::cmd("DEL")
        .arg(format!("{}:sync-full:data", r.prefix))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        dispatch(&r.queue, &r.coordinator, std::slice::from_ref(&run))
            .await
            .unwrap(),
        1
    );
    assert_eq!(pending(&r.queue).await, 1);
}

/// apalis-redis routes every push through its scheduled set and its fetch fails once more than
/// about 8,000 jobs are due there at once: pushed jobs must reach the active list right away.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_push_is_ready_for_workers_not_left_scheduled() {
    let Some(r) = Redis::start().await else { return };
    integration(r.store.as_ref(), "personio:acme").await;
    let run = open(r.store.as_ref(), "personio:acme", SyncType::Full).await;
    let jobs: Vec<_> = (0..9000).map(|_| tributary_queue::SyncJob::for_run(&run)).collect();
    r.queue.push(jobs, None).await.expect("push");
    let full = r
        .queue
        .depths()
        .await
        .unwrap()
        .into_iter()
        .find(|d| d.sync_type == SyncType::Full)
        .unwrap();
    assert_eq!((full.pending, full.scheduled), (9000, 0), "{full:?}");
    // Delayed jobs stay scheduled until their time.
    r.queue
        .push(
            vec![tributary_queue::SyncJob::for_run(&run)],
            Some(Duration::from_secs(600)),
        )
        .await
        .unwrap();
    assert_eq!(r.queue.promote_due().await.unwrap(), 0);
    let full = r
        .queue
        .depths()
        .await
        .unwrap()
        .into_iter()
        .find(|d| d.sync_type == SyncType::Full)
        .unwrap();
    assert_eq!((full.pending, full.scheduled), (9000, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preemption_requests_and_signals_reach_the_runs_they_name() {
    let Some(r) = Redis::start().await else { return };
    check_signals(&r.coordinator).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_embedded_coordinator_behaves_the_same() {
    let (store, _file) = tributary_store::testing::fresh_sqlite_store().await.unwrap();
    integration(store.as_ref(), "personio:acme").await;
    let coordinator = EmbeddedCoordinator::new(store.clone());
    check_signals(&coordinator).await;
    // Leases: one holder at a time, known to `holders`, gone once released.
    let grant = coordinator
        .acquire("personio:acme", "w/run-1", TTL)
        .await
        .unwrap()
        .expect("free");
    assert!(
        coordinator
            .acquire("personio:acme", "w/run-2", TTL)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        coordinator.holders(&["personio:acme".into()]).await.unwrap(),
        vec![Some("w/run-1".to_owned())]
    );
    assert!(coordinator.renew(&grant).await.unwrap());
    coordinator.release(&grant).await.unwrap();
    assert_eq!(
        coordinator.holders(&["personio:acme".into()]).await.unwrap(),
        vec![None]
    );
    let next = coordinator
        .acquire("personio:acme", "w/run-2", TTL)
        .await
        .unwrap()
        .expect("free");
    assert!(next.fence > grant.fence, "every grant raises the fence");
}

async fn check_signals(c: &dyn Coordinator) {
    let watched = [
        WatchedRun {
            run_id: "full-1".into(),
            integration_id: "personio:acme".into(),
        },
        WatchedRun {
            run_id: "full-2".into(),
            integration_id: "personio:other".into(),
        },
    ];
    let found = c.poll_signals(&watched).await.unwrap();
    assert!(found.iter().all(|s| s.preempted_by.is_none() && s.signal.is_none()));

    c.request_preemption("personio:acme", "delta-1").await.unwrap();
    c.send_signal("full-2", RunSignal::Cancel).await.unwrap();
    let found = c.poll_signals(&watched).await.unwrap();
    assert_eq!(found[0].preempted_by.as_deref(), Some("delta-1"));
    assert_eq!(found[0].signal, None);
    assert_eq!(found[1].preempted_by, None, "another integration's request is not ours");
    assert_eq!(found[1].signal, Some(RunSignal::Cancel));

    // Only the requester withdraws its request.
    c.clear_preemption("personio:acme", "delta-2").await.unwrap();
    assert!(c.poll_signals(&watched).await.unwrap()[0].preempted_by.is_some());
    c.clear_preemption("personio:acme", "delta-1").await.unwrap();
    c.clear_signal("full-2").await.unwrap();
    let found = c.poll_signals(&watched).await.unwrap();
    assert!(found.iter().all(|s| s.preempted_by.is_none() && s.signal.is_none()));

    // Markers: the first mark wins.
    assert!(c.mark_queued("run-x").await.unwrap());
    assert!(!c.mark_queued("run-x").await.unwrap());
    assert_eq!(
        c.queued(&["run-x".into(), "run-y".into()]).await.unwrap(),
        vec![true, false]
    );
    c.unmark_queued("run-x").await.unwrap();
    assert_eq!(c.queued(&["run-x".into()]).await.unwrap(), vec![false]);
}
