//! The heartbeat every running sync has: it keeps the lease while its guard lives, lets it lapse
//! once the guard is dropped, and stops the run when the lease is lost. Against a real
//! (SQLite) mirror, whose lease row is the embedded mode's lease.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tributary_engine::{Heartbeat, RunControl, Signal};
use tributary_model::{ScopeConfig, ToolKind};
use tributary_store::testing::fresh_sqlite_store;
use tributary_store::{Lease, MirrorStore, NewIntegration};

const INTEGRATION: &str = "personio:heartbeat";
const TTL: Duration = Duration::from_millis(600);

async fn store() -> (Arc<dyn MirrorStore>, tributary_store::testing::TestFile) {
    let (store, file) = fresh_sqlite_store().await.expect("sqlite store");
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
    (store, file)
}

fn start(store: &Arc<dyn MirrorStore>, lease: &Lease, control: &RunControl) -> Heartbeat {
    let store = store.clone();
    Heartbeat::start(lease.clone(), control.clone(), move |lease| {
        let store = store.clone();
        async move { store.renew_lease(&lease, lease.ttl).await }
    })
}

#[tokio::test]
async fn keeps_the_lease_while_alive_and_lets_it_lapse_once_dropped() {
    let (store, _file) = store().await;
    let lease = store.acquire_lease(INTEGRATION, "a", TTL).await.unwrap().expect("free");
    let control = RunControl::new();
    let heartbeat = start(&store, &lease, &control);
    tokio::time::sleep(TTL * 3).await;
    assert!(
        store.acquire_lease(INTEGRATION, "b", TTL).await.unwrap().is_none(),
        "renewed past three TTLs"
    );
    assert!(!heartbeat.lost().load(Ordering::SeqCst));
    assert_eq!(control.signal(), Signal::Continue);

    drop(heartbeat);
    tokio::time::sleep(TTL * 2).await;
    let taken = store.acquire_lease(INTEGRATION, "b", TTL).await.unwrap();
    assert!(
        taken.is_some_and(|b| b.fence > lease.fence),
        "the lease lapsed without its guard"
    );
}

#[tokio::test]
async fn a_lost_lease_cancels_the_run() {
    let (store, _file) = store().await;
    let lease = store.acquire_lease(INTEGRATION, "a", TTL).await.unwrap().expect("free");
    let control = RunControl::new();
    let heartbeat = start(&store, &lease, &control);
    // Another grant (the fleet's Redis lease, say) moved the fence on: renewals are refused.
    store.advance_fence(INTEGRATION, lease.fence + 1).await.unwrap();
    tokio::time::sleep(TTL).await;
    assert!(heartbeat.lost().load(Ordering::SeqCst), "the loss is reported");
    assert_eq!(control.signal(), Signal::Cancel, "and the run told to stop");
}
