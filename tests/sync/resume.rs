//! Checkpoints: a paused or crashed FULL resumes from its last committed page, fetches no
//! finished page again, and ends exactly as an uninterrupted run would.

use std::collections::BTreeMap;
use std::time::Duration;

use tributary_engine::{EngineError, RunControl, SyncEngine};
use tributary_model::{RunState, SyncType, ToolKind};

use crate::support::{Backend, Harness, engine_config, wait_for_pages};

const EMPLOYEES: usize = 450; // five pages of Personio's 100 employees

/// How often each (path, query) was requested, auth aside.
fn request_counts(h: &Harness) -> BTreeMap<(String, String), usize> {
    let mut out = BTreeMap::new();
    for r in h.requests(ToolKind::Personio, "/") {
        if r.path.ends_with("/auth") {
            continue;
        }
        *out.entry((r.path, r.query)).or_default() += 1;
    }
    out
}

/// The mirror's content, without timestamps: what an uninterrupted run must equal.
async fn content(h: &Harness, integration: &str) -> BTreeMap<String, (bool, serde_json::Value)> {
    h.snapshot(integration)
        .await
        .into_iter()
        .map(|(id, (_, _, deleted, content))| (id, (deleted.is_some(), content)))
        .collect()
}

async fn uninterrupted(b: Backend) -> Option<(Harness, String)> {
    let h = Harness::start(b, &[ToolKind::Personio], EMPLOYEES).await?;
    let id = h.connect(ToolKind::Personio).await;
    assert_eq!(h.sync(&id, SyncType::Full).await.state, RunState::Succeeded);
    Some((h, id))
}

async fn paused_full_resumes_without_refetching(b: Backend) {
    let Some((reference, _)) = uninterrupted(b).await else {
        return;
    };
    let h = Harness::start(b, &[ToolKind::Personio], EMPLOYEES).await.unwrap();
    let id = h.connect(ToolKind::Personio).await;
    h.sim.state.set_latency(ToolKind::Personio, 20);

    let (control, task) = h.spawn_sync(&id, SyncType::Full);
    wait_for_pages(&control, 2).await;
    control.pause();
    let paused = task.await.unwrap().expect("pause is a clean stop").run;
    assert_eq!(paused.state, RunState::Paused, "{paused:?}");
    assert!(paused.checkpoint.is_some());
    let pages_before = paused.counts.pages_fetched;

    h.sim.state.set_latency(ToolKind::Personio, 0);
    let resumed = h.sync(&id, SyncType::Full).await;
    assert_eq!(resumed.id, paused.id, "the paused run itself resumed");
    assert_eq!(resumed.state, RunState::Succeeded, "{resumed:?}");
    assert!(resumed.counts.pages_fetched > pages_before);
    assert_eq!(
        request_counts(&h),
        request_counts(&reference),
        "every page fetched exactly as often as without the pause"
    );
    crate::support::assert_same_snapshot(
        &content(&h, &id).await,
        &content(&reference, &id).await,
        "same end state as an uninterrupted run",
    );
}

async fn crashed_full_resumes_from_checkpoint(b: Backend) {
    let Some((reference, _)) = uninterrupted(b).await else {
        return;
    };
    let h = Harness::start(b, &[ToolKind::Personio], EMPLOYEES).await.unwrap();
    let id = h.connect(ToolKind::Personio).await;
    h.sim.state.set_latency(ToolKind::Personio, 20);

    let crashing = SyncEngine::new(h.store.clone(), engine_config());
    let (control, task) = h.spawn_sync_with(crashing, &id, SyncType::Full);
    wait_for_pages(&control, 3).await;
    task.abort(); // the worker dies mid-run: no pause, no release, maybe mid-transaction
    let _ = task.await;
    let crashed = h
        .store
        .open_run(&id, SyncType::Full)
        .await
        .unwrap()
        .expect("the run is still open");
    assert_eq!(crashed.state, RunState::Running);
    assert!(crashed.counts.pages_fetched >= 3);

    h.sim.state.set_latency(ToolKind::Personio, 0);
    // Another worker takes over once the dead one's lease lapses.
    let other = SyncEngine::new(h.store.clone(), engine_config());
    let resumed = loop {
        match other.sync(&id, SyncType::Full, &RunControl::new()).await {
            Ok(outcome) => break outcome.run,
            Err(EngineError::Busy(_)) => tokio::time::sleep(Duration::from_millis(200)).await,
            Err(e) => panic!("resume failed: {e}"),
        }
    };
    assert_eq!(resumed.id, crashed.id, "the crashed run itself resumed");
    assert_eq!(resumed.state, RunState::Succeeded, "{resumed:?}");
    crate::support::assert_same_snapshot(
        &content(&h, &id).await,
        &content(&reference, &id).await,
        "same end state as an uninterrupted run",
    );

    // Finished pages are not fetched again; at most the pages in flight at the crash are.
    let (got, want) = (request_counts(&h), request_counts(&reference));
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>(),
        "the same requests"
    );
    let extra: usize = got.iter().map(|(k, n)| n - want[k].min(*n)).sum();
    assert!(extra <= 2, "{extra} requests repeated: more than the pages in flight");
}

/// A record deleted at the source while a full is paused, on a page it has not reached yet, is
/// swept at the end; records on pages it already passed are not.
async fn resumed_full_still_sweeps(b: Backend) {
    let Some(h) = Harness::start(b, &[ToolKind::Personio], EMPLOYEES).await else {
        return;
    };
    let id = h.connect(ToolKind::Personio).await;
    assert_eq!(h.sync(&id, SyncType::Full).await.state, RunState::Succeeded);
    h.sim.state.set_latency(ToolKind::Personio, 20);
    let (control, task) = h.spawn_sync(&id, SyncType::Full);
    wait_for_pages(&control, 2).await;
    control.pause();
    assert_eq!(task.await.unwrap().unwrap().run.state, RunState::Paused);

    let last = *h
        .sim
        .state
        .company(ToolKind::Personio)
        .hris
        .employees
        .keys()
        .next_back()
        .unwrap();
    h.sim.state.company_mut(ToolKind::Personio).hris.employees.remove(&last);
    h.sim.state.set_latency(ToolKind::Personio, 0);
    assert_eq!(h.sync(&id, SyncType::Full).await.state, RunState::Succeeded);
    let gone = tributary_model::IdGen::new(&id).id(tributary_model::Model::Employees, &last.to_string());
    let deleted: Vec<_> = h
        .records(&id, tributary_model::Model::Employees)
        .await
        .into_iter()
        .filter(|r| r.remote_deleted_at.is_some())
        .map(|r| r.id)
        .collect();
    assert_eq!(deleted, vec![gone], "exactly the removed employee was swept");
}

crate::on_both_backends!(
    paused_full_resumes_without_refetching,
    crashed_full_resumes_from_checkpoint,
    resumed_full_still_sweeps
);
