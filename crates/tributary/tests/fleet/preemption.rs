//! Deltas preempt fulls: the full pauses at a page boundary, the delta runs, the full resumes.

use std::time::Duration;

use tributary_model::{PauseReason, RunState, SyncType, ToolKind};

use crate::support::{Stack, employee_pages};

/// Two workers; a FULL over a slow source (200 ms a page, 50 employee pages); a DELTA
/// triggered midway.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delta_pauses_the_running_full_which_resumes_without_refetching_a_page() {
    let Some(mut s) = Stack::start(&[ToolKind::Personio], 5000).await else {
        return;
    };
    let id = s.integration(ToolKind::Personio, "acme", true).await;
    s.worker("w1", &[]);
    s.worker("w2", &[]);

    // A first full at full speed, so the delta has a "since".
    let first = s.trigger(&id, SyncType::Full).await;
    let first = s.wait_ended(&first.run.id, Duration::from_secs(120)).await;
    assert_eq!(first.state, RunState::Succeeded, "{:?}", first.error);
    // Changes for the delta (and the full) to find.
    s.sim.state.mutate_random(ToolKind::Personio, 20, 7).expect("mutations");

    s.sim.state.set_latency(ToolKind::Personio, 200);
    let since = s.sim.state.last_request_seq();
    let full = s.trigger(&id, SyncType::Full).await;
    assert!(!full.already_queued);
    s.wait_run(&full.run.id, Duration::from_secs(60), "fetched 10 pages", |r| {
        r.counts.pages_fetched >= 10
    })
    .await;
    let delta = s.trigger(&id, SyncType::Delta).await;
    assert!(!delta.already_queued);

    let paused = s
        .wait_run(&full.run.id, Duration::from_secs(30), "paused for the delta", |r| {
            r.state == RunState::Paused
        })
        .await;
    assert_eq!(paused.pause_reason, Some(PauseReason::Preempted));
    assert_eq!(paused.preempted_by.as_deref(), Some(delta.run.id.as_str()));
    let pages_at_pause = paused.counts.pages_fetched;
    assert!(pages_at_pause < 50, "the full paused midway, at {pages_at_pause} pages");

    let delta = s.wait_ended(&delta.run.id, Duration::from_secs(60)).await;
    assert_eq!(delta.state, RunState::Succeeded, "{:?}", delta.error);
    let full = s.wait_ended(&full.run.id, Duration::from_secs(120)).await;
    assert_eq!(full.state, RunState::Succeeded, "{:?}", full.error);
    assert!(
        delta.ended_at < full.ended_at,
        "the delta finished first: delta {:?}, full {:?}",
        delta.ended_at,
        full.ended_at
    );

    // The full's employee pages (the delta's carry `updated_since`): each fetched once.
    let fetched = employee_pages(&s, since);
    let twice: Vec<_> = fetched.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "pages fetched more than once: {twice:?}");
    assert!(fetched.len() >= 50, "the full read all 50 pages, saw {}", fetched.len());
    assert_eq!(
        full.counts.pages_fetched as usize,
        fetched.len(),
        "every fetched page was committed once"
    );

    s.assert_mirror_equals_source(&id).await;
}

/// A full that finds a delta holding the lease steps aside and runs after it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queued_behind_a_running_delta_runs_after_it() {
    let Some(mut s) = Stack::start(&[ToolKind::Personio], 1000).await else {
        return;
    };
    let id = s.integration(ToolKind::Personio, "acme", true).await;
    s.worker("w1", &[]);
    s.worker("w2", &[]);
    let first = s.trigger(&id, SyncType::Full).await;
    assert_eq!(
        s.wait_ended(&first.run.id, Duration::from_secs(60)).await.state,
        RunState::Succeeded
    );

    // A slow delta: about 2 s per request.
    s.sim.state.set_latency(ToolKind::Personio, 2000);
    let delta = s.trigger(&id, SyncType::Delta).await;
    s.wait_run(&delta.run.id, Duration::from_secs(30), "started", |r| {
        r.state == RunState::Running
    })
    .await;
    let full = s.trigger(&id, SyncType::Full).await;
    // A worker takes the full's job at once, finds the lease held and steps aside: the full
    // stays QUEUED while the delta runs, and nothing but the delta's hand-over (there is no
    // scheduler here) can start it afterwards.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        s.run(&delta.run.id).await.state,
        RunState::Running,
        "the delta still runs"
    );
    assert_eq!(s.run(&full.run.id).await.state, RunState::Queued, "the full waits");
    let delta = s.wait_ended(&delta.run.id, Duration::from_secs(60)).await;
    assert_eq!(delta.state, RunState::Succeeded);
    s.sim.state.set_latency(ToolKind::Personio, 0);
    let full = s.wait_ended(&full.run.id, Duration::from_secs(60)).await;
    assert_eq!(full.state, RunState::Succeeded, "{:?}", full.error);
    assert!(full.started_at > delta.started_at, "the full waited for the delta");
}
