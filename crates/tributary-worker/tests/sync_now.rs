//! `JobContext::sync_now`, the job path `tributary sync` runs its one sync through: a lease held
//! by another process makes the integration busy at once, for a full (which steps aside) and for
//! a delta (which no sync of this process could make pause), and the run is left open.

use std::time::{Duration, Instant};

use tributary_engine::{EngineConfig, EngineError, RunControl, SyncEngine};
use tributary_model::{RunState, ScopeConfig, SyncType, ToolKind};
use tributary_queue::MemoryQueue;
use tributary_store::NewIntegration;
use tributary_store::testing::fresh_sqlite_store;
use tributary_worker::{JobContext, WorkerConfig, WorkerError};

const INTEGRATION: &str = "personio:busy";

#[tokio::test]
async fn a_lease_held_elsewhere_makes_the_integration_busy_at_once() {
    let (store, _file) = fresh_sqlite_store().await.expect("sqlite store");
    store
        .create_integration(NewIntegration {
            id: INTEGRATION.to_owned(),
            tool: ToolKind::Personio,
            environment: "test".to_owned(),
            base_url: "http://127.0.0.1:9".to_owned(),
            credentials: serde_json::json!({"client_id": "a", "client_secret": "b"}),
            scope_config: ScopeConfig::default(),
        })
        .await
        .expect("integration");
    // Another process (a `serve` on the same mirror) holds the lease for a while.
    let held = store
        .acquire_lease(INTEGRATION, "serve-elsewhere/run", Duration::from_secs(60))
        .await
        .unwrap()
        .expect("free");
    let engine = SyncEngine::new(store.clone(), EngineConfig::default());
    let config = WorkerConfig {
        worker_id: engine.config().worker_id.clone(),
        max_attempts: 1,
        preempt_wait: Duration::ZERO,
        ..WorkerConfig::default()
    };
    let ctx = JobContext::embedded(engine, MemoryQueue::new(), config);
    // The delta first: a delta queued while the first full is open would be superseded by it.
    for sync_type in [SyncType::Delta, SyncType::Full] {
        let started = Instant::now();
        let got = ctx.sync_now(INTEGRATION, sync_type, RunControl::new()).await;
        assert!(
            matches!(got, Err(WorkerError::Engine(EngineError::Busy(ref id))) if id == INTEGRATION),
            "{sync_type:?}: {got:?}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{sync_type:?} answered at once"
        );
        let open = store
            .open_run(INTEGRATION, sync_type)
            .await
            .unwrap()
            .expect("left open");
        assert_eq!(open.state, RunState::Queued, "{sync_type:?}");
    }
    let fence = store.get_integration(INTEGRATION).await.unwrap().unwrap().fence;
    assert_eq!(fence, held.fence, "no lease was granted meanwhile");
}
