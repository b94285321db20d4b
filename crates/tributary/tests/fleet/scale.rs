//! Many integrations, several workers.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use tributary_model::{RunState, SyncType, ToolKind};

use crate::support::Stack;

/// 1,000 integrations due at once, 4 worker processes: every one is synced.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_integrations_on_four_workers_all_sync() {
    let Some(mut s) = Stack::start(&[ToolKind::Personio], 10).await else {
        return;
    };
    let mut ids = BTreeSet::new();
    for i in 0..1000 {
        ids.insert(s.integration(ToolKind::Personio, &format!("c{i:04}"), true).await);
    }
    for w in 0..4 {
        s.worker(&format!("w{w}"), &[]);
    }
    s.scheduler("s1");

    let start = Instant::now();
    let mut synced = BTreeSet::new();
    while synced.len() < ids.len() {
        for id in ids.difference(&synced.clone()) {
            if s.store.last_succeeded_run(id).await.expect("runs").is_some() {
                synced.insert(id.clone());
            }
        }
        assert!(
            start.elapsed() < Duration::from_secs(300),
            "{} of 1000 integrations synced after 300 s; e.g. {:?} waits\n{}",
            synced.len(),
            ids.difference(&synced).next(),
            s.all_logs()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    eprintln!("1000 integrations synced by 4 workers in {:?}", start.elapsed());

    // Each got its first FULL (a DELTA that came after it may have run too), and the four
    // workers shared the work.
    let mut workers = BTreeSet::new();
    for id in &ids {
        let runs = s.store.list_runs(id, 10).await.expect("runs");
        let run = runs
            .iter()
            .find(|r| r.sync_type == SyncType::Full && r.state == RunState::Succeeded)
            .unwrap_or_else(|| panic!("{id} has no succeeded FULL: {runs:?}"));
        let worker = run.worker_id.clone().expect("worker recorded");
        workers.insert(worker.split('-').nth(1).unwrap_or_default().to_owned());
    }
    assert_eq!(workers.len(), 4, "every worker took part: {workers:?}");
    assert!(
        s.store.list_open_runs(10).await.expect("runs").is_empty(),
        "nothing left open"
    );
}
