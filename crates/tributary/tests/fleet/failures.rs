//! Workers dying, shutting down, and sources failing.

use std::time::Duration;

use tributary_model::{PauseReason, RunState, SyncType, ToolKind};
use tributary_sim::{FaultAction, FaultRule, RequestFilter};
use tributary_store::SyncRun;

use crate::support::{Stack, employee_pages};

fn status(code: u16) -> FaultAction {
    FaultAction::Status {
        code,
        retry_after: None,
        body: None,
    }
}

/// The FULL the scheduler queued for a new integration (its DELTA is superseded).
async fn scheduled_full(s: &Stack, integration: &str) -> SyncRun {
    let start = std::time::Instant::now();
    loop {
        if let Some(run) = s.store.open_run(integration, SyncType::Full).await.expect("runs") {
            return run;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the scheduler never queued a full\n{}",
            s.all_logs()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// SIGKILL a worker mid-FULL: its lease expires, the scheduler re-enqueues the run, another
/// worker resumes it from its checkpoint.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_workers_full_is_finished_by_another_from_its_checkpoint() {
    let Some(mut s) = Stack::start(&[ToolKind::Personio], 3000).await else {
        return;
    };
    let id = s.integration(ToolKind::Personio, "acme", true).await;
    s.sim.state.set_latency(ToolKind::Personio, 100);
    let w1 = s.worker("w1", &[]);
    s.scheduler("s1");
    let full = scheduled_full(&s, &id).await;
    let running = s
        .wait_run(&full.id, Duration::from_secs(60), "fetched 5 pages", |r| {
            r.counts.pages_fetched >= 5
        })
        .await;
    assert!(
        running
            .worker_id
            .as_deref()
            .is_some_and(|w| w.starts_with("worker-w1-"))
    );

    s.signal(&w1, "-KILL");
    s.wait_exit(&w1, Duration::from_secs(10)).await;
    // What w1 committed before it died: every employee page below this offset.
    let committed = committed_employee_offset(&s.run(&full.id).await);
    let w2 = s.worker("w2", &[]);
    let done = s.wait_ended(&full.id, Duration::from_secs(120)).await;
    assert_eq!(done.state, RunState::Succeeded, "{:?}\n{}", done.error, s.log(&w2));
    assert!(
        done.worker_id.as_deref().is_some_and(|w| w.starts_with("worker-w2-")),
        "w2 finished it: {:?}",
        done.worker_id
    );

    // Resumed from the checkpoint: no page w1 committed was fetched again. Only what was in
    // flight at the kill may have been: the batch being written (the pages the writer had
    // queued) and the pages fetched ahead of it, at most `prefetch` (3) plus the one requested.
    let fetched = employee_pages(&s, 0);
    let twice: Vec<_> = fetched.iter().filter(|(_, n)| **n > 1).collect();
    let refetched_committed: Vec<_> = twice
        .iter()
        .filter(|(query, _)| page_offset(query) < committed)
        .collect();
    assert!(
        refetched_committed.is_empty(),
        "pages committed before the kill (below offset {committed}) were fetched again: \
         {refetched_committed:?}"
    );
    assert!(
        twice.len() <= 8,
        "more than the in-flight pages were fetched again: {twice:?}"
    );
    assert!(fetched.len() >= 30, "all 30 pages were read, saw {}", fetched.len());
    s.assert_mirror_equals_source(&id).await;
}

/// The employee offset below which a Personio run's checkpoint has committed every page
/// (`u64::MAX` once the employees stream, the first, is done).
fn committed_employee_offset(run: &SyncRun) -> u64 {
    let Some(checkpoint) = &run.checkpoint else {
        return 0;
    };
    if checkpoint["stream"].as_u64().unwrap_or(0) > 0 {
        return u64::MAX;
    }
    checkpoint["cursor"]["offset"].as_u64().unwrap_or(0)
}

/// The `offset` of an employee list request's query (`limit=100&offset=600`).
fn page_offset(query: &str) -> u64 {
    query
        .split('&')
        .find_map(|pair| pair.strip_prefix("offset="))
        .and_then(|offset| offset.parse().ok())
        .unwrap_or_else(|| panic!("an employee list request without an offset: {query}"))
}

/// SIGTERM: the worker pauses its run at a page boundary, releases the lease, re-enqueues the
/// run and exits 0; another worker resumes it without fetching any page twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_checkpoints_releases_requeues_and_exits() {
    let Some(mut s) = Stack::start(&[ToolKind::Personio], 3000).await else {
        return;
    };
    let id = s.integration(ToolKind::Personio, "acme", true).await;
    s.sim.state.set_latency(ToolKind::Personio, 100);
    let w1 = s.worker("w1", &[]);
    let full = s.trigger(&id, SyncType::Full).await.run;
    s.wait_run(&full.id, Duration::from_secs(60), "fetched 5 pages", |r| {
        r.counts.pages_fetched >= 5
    })
    .await;

    s.signal(&w1, "-TERM");
    assert_eq!(
        s.wait_exit(&w1, Duration::from_secs(20)).await,
        Some(0),
        "{}",
        s.log(&w1)
    );
    let paused = s.run(&full.id).await;
    assert_eq!(paused.state, RunState::Paused, "{:?}", paused.error);
    assert_eq!(paused.pause_reason, Some(PauseReason::Shutdown));
    assert!(
        s.coordinator_holder(&id).await.is_none(),
        "the lease was released, not left to expire"
    );

    // No scheduler: only the job the worker re-enqueued on its way out can resume the run.
    s.worker("w2", &[]);
    let done = s.wait_ended(&full.id, Duration::from_secs(120)).await;
    assert_eq!(done.state, RunState::Succeeded, "{:?}", done.error);
    let fetched = employee_pages(&s, 0);
    let twice: Vec<_> = fetched.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        twice.is_empty(),
        "pages fetched twice across a graceful shutdown: {twice:?}"
    );
    s.assert_mirror_equals_source(&id).await;
}

/// `--shutdown-timeout-secs`: a worker whose sync is stuck on a page that takes minutes exits
/// within its bound after SIGTERM (not when the page ends), and the run it leaves is resumed
/// elsewhere once its lease expires.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_exits_within_the_shutdown_bound_while_a_page_hangs() {
    let Some(mut s) = Stack::start(&[ToolKind::Personio], 1000).await else {
        return;
    };
    let id = s.integration(ToolKind::Personio, "acme", true).await;
    // The fourth page answers after two minutes: past the default bound (60 s) and the source
    // client's request timeout (60 s), so only the flag can end the wait sooner.
    s.sim
        .state
        .add_fault(
            FaultRule::new(ToolKind::Personio, FaultAction::Latency { ms: 120_000 })
                .path("/company/employees")
                .query("limit=")
                .skip(3)
                .times(1),
        )
        .expect("fault");
    let w1 = s.worker("w1", &["--shutdown-timeout-secs", "5"]);
    let full = s.trigger(&id, SyncType::Full).await.run;
    s.wait_run(&full.id, Duration::from_secs(60), "fetched 3 pages", |r| {
        r.counts.pages_fetched >= 3
    })
    .await;
    // The next page is requested as soon as the third is written.
    tokio::time::sleep(Duration::from_secs(1)).await;

    let asked = std::time::Instant::now();
    s.signal(&w1, "-TERM");
    assert_eq!(
        s.wait_exit(&w1, Duration::from_secs(30)).await,
        Some(0),
        "{}",
        s.log(&w1)
    );
    let took = asked.elapsed();
    assert!(took < Duration::from_secs(30), "exited {took:?} after SIGTERM");
    let left = s.run(&full.id).await;
    assert_eq!(
        left.state,
        RunState::Running,
        "the page never ended, so the run could not pause: {:?}",
        left.error
    );
    assert_eq!(left.counts.pages_fetched, 3, "no page was written after the hung one");

    // Its lease expires (3 s) and the scheduler's reconcile hands it to another worker.
    s.scheduler("sched");
    s.worker("w2", &[]);
    let done = s.wait_ended(&full.id, Duration::from_secs(120)).await;
    assert_eq!(done.state, RunState::Succeeded, "{:?}", done.error);
    s.assert_mirror_equals_source(&id).await;
}

/// A source that stays down: the run is retried with backoff, then FAILED with its error; the
/// integration syncs again once the source is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_is_retried_with_backoff_then_fails_with_its_error() {
    let Some(mut s) = Stack::start(&[ToolKind::Personio], 200).await else {
        return;
    };
    let id = s.integration(ToolKind::Personio, "acme", true).await;
    s.worker("w1", &["--max-attempts", "3"]);
    s.sim
        .state
        .add_fault(
            FaultRule::new(ToolKind::Personio, status(503))
                .path("/company/employees")
                .query("limit="),
        )
        .expect("fault");
    let run = s.trigger(&id, SyncType::Full).await.run;
    let failed = s.wait_ended(&run.id, Duration::from_secs(60)).await;
    assert_eq!(failed.state, RunState::Failed);
    assert_eq!(failed.attempts, 2, "two retries before the last attempt");
    let error = failed.error.unwrap_or_default();
    assert!(error.contains("503"), "the error says what happened: {error}");
    // 3 attempts × 2 requests each (--source-attempts 2).
    let requests = s
        .sim
        .state
        .requests(&RequestFilter::tool(ToolKind::Personio).path("/company/employees"))
        .iter()
        .filter(|r| r.path == "/v1/company/employees")
        .count();
    assert_eq!(requests, 6, "each attempt made its requests, none more");

    s.sim.state.clear_faults(None);
    let again = s.trigger(&id, SyncType::Full).await;
    assert!(!again.already_queued, "a failed run is not open: a new one is queued");
    let ok = s.wait_ended(&again.run.id, Duration::from_secs(60)).await;
    assert_eq!(ok.state, RunState::Succeeded, "{:?}", ok.error);
}

/// A source that fails for a moment: the retry resumes from the checkpoint and succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_resumes_from_the_checkpoint_and_succeeds() {
    let Some(mut s) = Stack::start(&[ToolKind::Personio], 1000).await else {
        return;
    };
    let id = s.integration(ToolKind::Personio, "acme", true).await;
    s.worker("w1", &[]);
    // Pages 1-3 succeed, then the fourth fails twice (both attempts of one request).
    s.sim
        .state
        .add_fault(
            FaultRule::new(ToolKind::Personio, status(500))
                .path("/company/employees")
                .query("limit=")
                .skip(3)
                .times(2),
        )
        .expect("fault");
    let run = s.trigger(&id, SyncType::Full).await.run;
    let done = s.wait_ended(&run.id, Duration::from_secs(60)).await;
    assert_eq!(done.state, RunState::Succeeded, "{:?}", done.error);
    assert_eq!(done.attempts, 1, "one retry");
    let fetched = employee_pages(&s, 0);
    let twice: Vec<_> = fetched.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "the retry resumed at the failed page: {twice:?}");
    assert_eq!(fetched.len(), 10);
    s.assert_mirror_equals_source(&id).await;
}

/// apalis re-delivers a job whose worker it took for dead (two missed heartbeats), and a
/// dispatcher may push a run twice: a job for a run this worker is executing is dropped, so
/// the run executes once, nothing is fenced off and no page is fetched twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redelivered_job_for_a_run_in_execution_is_dropped() {
    use tributary_queue::{JobQueue, SyncJob};

    let Some(mut s) = Stack::start(&[ToolKind::Personio], 2000).await else {
        return;
    };
    let id = s.integration(ToolKind::Personio, "acme", true).await;
    s.sim.state.set_latency(ToolKind::Personio, 100);
    let w1 = s.worker("w1", &[]);
    let full = s.trigger(&id, SyncType::Full).await.run;
    let running = s
        .wait_run(&full.id, Duration::from_secs(60), "fetched 3 pages", |r| {
            r.counts.pages_fetched >= 3
        })
        .await;
    assert_eq!(running.state, RunState::Running);

    // The same job, twice more, while the run executes.
    for _ in 0..2 {
        s.queue
            .push(vec![SyncJob::for_run(&full)], None)
            .await
            .expect("push the job again");
    }
    s.wait_until(Duration::from_secs(30), "both duplicates dropped", || {
        let log = s.log(&w1);
        async move { log.matches(tributary_worker::ALREADY_EXECUTING).count() >= 2 }
    })
    .await;
    let done = s.wait_ended(&full.id, Duration::from_secs(120)).await;
    assert_eq!(done.state, RunState::Succeeded, "{:?}", done.error);

    let log = s.log(&w1);
    assert!(!log.contains("fenced off"), "no execution was fenced off:\n{log}");
    assert!(
        !log.contains("lease lost"),
        "the lease stayed with the execution:\n{log}"
    );
    assert_eq!(
        log.matches("job for a run this worker is executing already; dropped")
            .count(),
        2,
        "each duplicate dropped with its reason:\n{log}"
    );
    let fetched = employee_pages(&s, 0);
    let twice: Vec<_> = fetched.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "the run executed once: pages fetched twice {twice:?}");
    assert_eq!(fetched.len(), 20, "every page read");
    s.assert_mirror_equals_source(&id).await;
}
