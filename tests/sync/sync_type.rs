//! The sync-type policy: FULL once the last complete success is older than the full interval,
//! DELTA otherwise, however many deltas ran since. An integration kept current by webhooks runs
//! a delta every few minutes; counting only its newest runs once made it lose sight of its FULL
//! and run a spurious one.

use std::time::Duration;

use tributary_engine::Schedule;
use tributary_model::{RunState, SyncType, ToolKind};
use tributary_store::RunWrite;

use crate::support::{Backend, Harness};

/// What a delta run leaves in the mirror's run history, written through the same store calls
/// the engine makes (lease, start, finish, release) without fetching anything.
async fn record_delta(h: &Harness, integration: &str) {
    let lease = h
        .store
        .acquire_lease(integration, "policy-test", Duration::from_secs(30))
        .await
        .expect("lease query")
        .expect("lease free");
    let run = h.store.create_run(integration, SyncType::Delta).await.expect("run");
    let run = h
        .store
        .start_run(&run.id, lease.fence, "policy-test")
        .await
        .expect("started");
    let write = RunWrite {
        integration_id: integration.to_owned(),
        run_id: run.id,
        fence: lease.fence,
        sync_type: SyncType::Delta,
        started_at: run.started_at.expect("started"),
        renderer: None,
        render_at_end: false,
    };
    h.store
        .finish_run(&write, RunState::Succeeded, None)
        .await
        .expect("finished");
    h.store.release_lease(&lease).await.expect("released");
}

async fn a_full_stays_found_behind_150_deltas(backend: Backend) {
    let Some(h) = Harness::start(backend, &[ToolKind::Personio], 5).await else {
        return;
    };
    let id = h.connect(ToolKind::Personio).await;
    let integration = h.store.get_integration(&id).await.expect("get").expect("present");
    let schedule = Schedule::default();
    assert_eq!(
        h.engine.due_sync_type(&integration, &schedule).await.expect("due"),
        SyncType::Full,
        "nothing complete has succeeded yet"
    );
    let full = h.sync(&id, SyncType::Full).await;
    assert_eq!(full.state, RunState::Succeeded, "{full:?}");
    assert_eq!(
        h.store.last_complete_success(&id).await.expect("query"),
        full.started_at
    );

    for _ in 0..150 {
        record_delta(&h, &id).await;
    }
    // A FULL that failed since does not count as a complete success either.
    let failing = h.store.create_run(&id, SyncType::Full).await.expect("run");
    h.store
        .cancel_idle_run(&failing.id, "operator cancelled")
        .await
        .expect("cancelled");
    assert_eq!(h.store.list_runs(&id, 200).await.expect("runs").len(), 152);
    assert_eq!(
        h.store.last_complete_success(&id).await.expect("query"),
        full.started_at,
        "the FULL is found behind 150 deltas and a cancelled FULL"
    );
    assert_eq!(
        h.engine.due_sync_type(&integration, &schedule).await.expect("due"),
        SyncType::Delta,
        "the FULL succeeded within the full interval"
    );
    let triggered = tributary_engine::sync_type_due(h.store.as_ref(), &integration, &schedule)
        .await
        .expect("policy");
    assert_eq!(
        triggered,
        SyncType::Delta,
        "the scheduler's triggers follow the same policy"
    );
    // Once the full interval has passed since that FULL, a FULL is due again.
    let short = Schedule {
        full_every: Duration::from_millis(1),
        ..Schedule::default()
    };
    tokio::time::sleep(Duration::from_millis(5)).await;
    assert_eq!(
        h.engine.due_sync_type(&integration, &short).await.expect("due"),
        SyncType::Full
    );
}

#[tokio::test]
async fn postgres_a_full_stays_found_behind_150_deltas() {
    a_full_stays_found_behind_150_deltas(Backend::Postgres).await;
}

#[tokio::test]
async fn sqlite_a_full_stays_found_behind_150_deltas() {
    a_full_stays_found_behind_150_deltas(Backend::Sqlite).await;
}
