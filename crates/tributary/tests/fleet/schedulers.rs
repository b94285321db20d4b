//! Scheduler replicas, and Redis losing everything.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use tributary_model::{RunState, SyncType, ToolKind};
use tributary_queue::SyncJob;

use crate::support::Stack;

/// Every run id in the deployment's queues, with repeats.
async fn queued_run_ids(s: &Stack) -> Vec<String> {
    let mut conn = s.redis.clone();
    let mut ids = Vec::new();
    for queue in ["sync-full", "sync-delta", "sync-default"] {
        let values: Vec<Vec<u8>> = redis::cmd("HVALS")
            .arg(format!("{}:{queue}:data", s.prefix))
            .query_async(&mut conn)
            .await
            .expect("job data");
        for v in values {
            let job: SyncJob = serde_json::from_slice(&v).expect("a sync job");
            ids.push(job.run_id);
        }
    }
    ids
}

/// Two scheduler replicas, 300 integrations due at once, no workers: each due sync becomes one
/// run and one job, however the replicas interleave their claims and reconciles.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_schedulers_enqueue_every_due_sync_exactly_once() {
    let Some(mut s) = Stack::start(&[ToolKind::Personio], 10).await else {
        return;
    };
    for i in 0..300 {
        s.integration(ToolKind::Personio, &format!("c{i}"), true).await;
    }
    s.scheduler("s1");
    s.scheduler("s2");

    // FULL and DELTA of each integration are due at once.
    let start = Instant::now();
    loop {
        let open = s.store.list_open_runs(10_000).await.expect("runs");
        if open.len() == 600 && queued_run_ids(&s).await.len() == 600 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "{} runs, {} jobs after 60 s\n{}",
            open.len(),
            queued_run_ids(&s).await.len(),
            s.all_logs()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Let both replicas tick and reconcile a few more times.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let open = s.store.list_open_runs(10_000).await.expect("runs");
    assert_eq!(open.len(), 600, "one run per due (integration, type)");
    assert!(open.iter().all(|r| r.state == RunState::Queued));
    let jobs = queued_run_ids(&s).await;
    let distinct: BTreeSet<&String> = jobs.iter().collect();
    assert_eq!(jobs.len(), distinct.len(), "a run was enqueued twice");
    let runs: BTreeSet<&String> = open.iter().map(|r| &r.id).collect();
    assert_eq!(distinct, runs, "every open run has exactly one job");
}

/// Redis flushed mid-FULL: queues, markers and leases are gone. The worker notices its lease
/// is gone and stops writing; the scheduler re-enqueues the run from the mirror; the run
/// finishes; schedules keep firing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_flush_mid_sync_loses_nothing_and_leaves_nothing_stuck() {
    let Some(mut s) = Stack::start(&[ToolKind::Personio], 3000).await else {
        return;
    };
    let id = s.integration(ToolKind::Personio, "acme", true).await;
    s.sim.state.set_latency(ToolKind::Personio, 100);
    s.worker("w1", &[]);
    s.worker("w2", &[]);
    s.scheduler("s1");
    let full = loop {
        if let Some(run) = s.store.open_run(&id, SyncType::Full).await.expect("runs") {
            break run;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    s.wait_run(&full.id, Duration::from_secs(60), "fetched 5 pages", |r| {
        r.counts.pages_fetched >= 5
    })
    .await;

    let deleted = s.flush_redis().await;
    assert!(deleted > 0, "the deployment had keys in Redis");
    let done = s.wait_ended(&full.id, Duration::from_secs(120)).await;
    assert_eq!(done.state, RunState::Succeeded, "{:?}", done.error);
    s.assert_mirror_equals_source(&id).await;

    // The schedules live in Postgres: a sync made due now is claimed and run.
    s.sim.state.mutate_random(ToolKind::Personio, 5, 3).expect("mutations");
    s.store
        .force_sync(&id, SyncType::Delta, chrono::Utc::now())
        .await
        .expect("force");
    let start = Instant::now();
    let delta = loop {
        let runs = s.store.list_runs(&id, 20).await.expect("runs");
        if let Some(d) = runs
            .iter()
            .find(|r| r.sync_type == SyncType::Delta && r.state == RunState::Succeeded)
        {
            break d.clone();
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no delta ran after the flush: {runs:?}\n{}",
            s.all_logs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(delta.created_at > done.created_at);
    s.assert_mirror_equals_source(&id).await;
}

/// A forced DELTA runs once and leaves the schedule as it was: forcing used to make the
/// schedule due, so the scheduler's next claim created a second, unrequested run whenever the
/// forced one had ended by then (9 of 53 forced syncs in the probe of issue 12).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forced_delta_runs_once_and_leaves_the_schedule_alone() {
    let Some(mut s) = Stack::start(&[ToolKind::Personio], 100).await else {
        return;
    };
    let id = s.integration(ToolKind::Personio, "acme", true).await;
    s.scheduler("s1");
    s.worker("w1", &[]);
    // The first FULL, which the scheduler queues for a new integration at once.
    s.wait_until(Duration::from_secs(60), "the first FULL succeeds", || async {
        let runs = s.store.list_runs(&id, 100).await.expect("runs");
        runs.iter()
            .any(|r| r.sync_type == SyncType::Full && r.state == RunState::Succeeded)
            && runs.iter().all(|r| r.state.is_terminal())
    })
    .await;
    let schedules = |s: &Stack| {
        let (store, id) = (s.store.clone(), id.clone());
        async move {
            store
                .list_schedules(&id)
                .await
                .expect("schedules")
                .into_iter()
                .map(|x| (x.sync_type, x.next_due_at, x.last_claimed_at))
                .collect::<Vec<_>>()
        }
    };
    let before = schedules(&s).await;
    let runs_before = s.store.list_runs(&id, 1000).await.expect("runs").len();

    const FORCES: usize = 12;
    let mut forced = Vec::new();
    for _ in 0..FORCES {
        let triggered = s.trigger(&id, SyncType::Delta).await;
        assert!(!triggered.already_queued, "nothing else was open");
        let run = s.wait_ended(&triggered.run.id, Duration::from_secs(60)).await;
        assert_eq!(run.state, RunState::Succeeded, "{:?}", run.error);
        forced.push(run.id);
        // Several scheduler ticks (0.2 s) with the forced run ended: time for a claim.
        tokio::time::sleep(Duration::from_millis(700)).await;
    }

    let runs = s.store.list_runs(&id, 1000).await.expect("runs");
    let unrequested: Vec<_> = runs
        .iter()
        .take(runs.len() - runs_before)
        .filter(|r| !forced.contains(&r.id))
        .collect();
    assert!(unrequested.is_empty(), "runs nobody asked for: {unrequested:#?}");
    assert_eq!(runs.len(), runs_before + FORCES, "one run per force");
    assert_eq!(schedules(&s).await, before, "the schedules are as they were");
}
