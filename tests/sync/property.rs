//! The property behind every invariant: whatever sequence of source changes, deltas, fulls,
//! failing syncs and pauses happens, the next fresh successful FULL leaves the mirror equal to
//! the source.

use std::collections::BTreeSet;
use std::time::Duration;

use proptest::prelude::*;
use tributary_model::{Model, RunState, SyncType, ToolKind};
use tributary_sim::FaultAction;

use crate::support::{Backend, Harness, status};

#[derive(Debug, Clone)]
enum Op {
    /// Random changes at the source (hires, edits, terminations, deletions, ...).
    Mutate {
        count: usize,
        seed: u64,
    },
    Sync(SyncType),
    /// A sync that meets a fault and must leave the mirror as it was.
    Failing {
        sync_type: SyncType,
        fault: u8,
    },
    /// A FULL paused after some pages; the next FULL resumes it.
    Paused {
        after_pages: i64,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let sync_type = prop_oneof![Just(SyncType::Full), Just(SyncType::Delta)];
    prop_oneof![
        3 => (1usize..8, any::<u64>()).prop_map(|(count, seed)| Op::Mutate { count, seed }),
        3 => sync_type.clone().prop_map(Op::Sync),
        2 => (sync_type, 0u8..3).prop_map(|(sync_type, fault)| Op::Failing { sync_type, fault }),
        1 => (1i64..4).prop_map(|after_pages| Op::Paused { after_pages }),
    ]
}

async fn apply(h: &Harness, id: &str, tool: ToolKind, op: &Op) {
    match op {
        Op::Mutate { count, seed } => {
            h.sim.state.mutate_random(tool, *count, *seed).expect("mutations apply");
        }
        Op::Sync(t) => {
            let run = h.sync(id, *t).await;
            assert_eq!(run.state, RunState::Succeeded, "{run:?}");
        }
        Op::Failing { sync_type, fault } => {
            // Every request of the tool meets the fault: a resumed FULL may have only a few
            // streams left, so a fault on one endpoint could go unmet.
            let injected = match (tool, fault) {
                (_, 2) => None, // credentials revoked
                (ToolKind::Personio, 0) => Some(status(500)),
                (ToolKind::Personio, _) => Some(FaultAction::Truncate),
                (_, 0) => Some(status(502)),
                (_, _) => Some(FaultAction::Malformed),
            };
            match injected {
                Some(action) => h.fault(tool, "/", None, 0, None, action),
                None => h.sim.state.set_revoked(tool, true),
            }
            let run = h.sync(id, *sync_type).await;
            assert_ne!(run.state, RunState::Succeeded, "the fault was met: {run:?}");
            assert_eq!(run.counts.deleted, 0, "{run:?}");
            h.sim.state.clear_faults(None);
            h.sim.state.set_revoked(tool, false);
        }
        Op::Paused { after_pages } => {
            h.sim.state.set_latency(tool, 5);
            let (control, task) = h.spawn_sync(id, SyncType::Full);
            let mut progress = control.subscribe_progress();
            loop {
                if progress.borrow_and_update().counts.pages_fetched >= *after_pages || task.is_finished() {
                    break;
                }
                if tokio::time::timeout(Duration::from_secs(10), progress.changed())
                    .await
                    .is_err()
                {
                    break;
                }
            }
            control.pause();
            let run = task.await.unwrap().expect("pauses cleanly").run;
            assert!(matches!(run.state, RunState::Paused | RunState::Succeeded), "{run:?}");
            h.sim.state.set_latency(tool, 0);
        }
    }
}

/// Live remote ids of a model in the mirror.
async fn mirrored(h: &Harness, id: &str, model: Model) -> BTreeSet<String> {
    h.live(id, model).await.into_iter().map(|r| r.remote_id).collect()
}

async fn check_equal_to_source(h: &Harness, id: &str, tool: ToolKind) {
    match tool {
        ToolKind::Personio => {
            let (employees, absences, names) = {
                let c = h.sim.state.company(tool);
                let employees: BTreeSet<String> = c.hris.employees.keys().map(|k| k.to_string()).collect();
                // Day-based absences keep their integer id, hour-based ones are absence periods
                // with UUIDs.
                let absences: BTreeSet<String> = c
                    .hris
                    .absences
                    .values()
                    .map(|a| tributary_sim::tools::personio::absence_remote_id(&c, a))
                    .collect();
                let names: BTreeSet<(String, String, String)> = c
                    .hris
                    .employees
                    .values()
                    .map(|e| (e.id.to_string(), e.first_name.clone(), e.last_name.clone()))
                    .collect();
                (employees, absences, names)
            };
            assert_eq!(mirrored(h, id, Model::Employees).await, employees, "employees");
            assert_eq!(mirrored(h, id, Model::Absences).await, absences, "absences");
            let stored: BTreeSet<(String, String, String)> = h
                .live(id, Model::Employees)
                .await
                .into_iter()
                .map(|r| {
                    (
                        r.remote_id,
                        r.data["first_name"].as_str().unwrap_or_default().to_owned(),
                        r.data["last_name"].as_str().unwrap_or_default().to_owned(),
                    )
                })
                .collect();
            assert_eq!(stored, names, "employee names");
            let employments = h.live(id, Model::Employments).await;
            let live_employees: BTreeSet<String> =
                h.live(id, Model::Employees).await.into_iter().map(|r| r.id).collect();
            assert!(
                employments
                    .iter()
                    .all(|e| e.parent_id.as_ref().is_some_and(|p| live_employees.contains(p))),
                "no live employment of a deleted employee"
            );
        }
        _ => {
            let (candidates, applications) = {
                let c = h.sim.state.company(tool);
                (
                    c.ats.candidates.keys().map(|k| k.to_string()).collect::<BTreeSet<_>>(),
                    c.ats
                        .applications
                        .keys()
                        .map(|k| k.to_string())
                        .collect::<BTreeSet<_>>(),
                )
            };
            assert_eq!(mirrored(h, id, Model::Candidates).await, candidates, "candidates");
            assert_eq!(mirrored(h, id, Model::Applications).await, applications, "applications");
        }
    }
}

async fn run_case(backend: Backend, tool: ToolKind, ops: Vec<Op>) {
    let Some(h) = Harness::start(backend, &[tool], 30).await else {
        return;
    };
    let id = h.connect(tool).await;
    for op in &ops {
        apply(&h, &id, tool, op).await;
    }
    // The next successful FULL that started after the last change. A paused FULL resumes
    // first: it may have seen, before the pause, records the source deleted after it, and
    // correctly keeps them (it saw them); the fresh FULL after it catches those.
    let paused = h.store.open_run(&id, SyncType::Full).await.unwrap().map(|r| r.id);
    let mut last = h.sync(&id, SyncType::Full).await;
    assert_eq!(last.state, RunState::Succeeded, "{last:?}");
    if paused.as_ref() == Some(&last.id) {
        last = h.sync(&id, SyncType::Full).await;
        assert_eq!(last.state, RunState::Succeeded, "{last:?}");
    }
    check_equal_to_source(&h, &id, tool).await;
}

fn run(backend: Backend, tool: ToolKind, ops: Vec<Op>) {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(run_case(backend, tool, ops));
}

/// `cases` per run by default (each case syncs a live simulator several times); set
/// PROPTEST_CASES to search longer.
fn config(cases: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(cases);
    ProptestConfig {
        cases,
        max_shrink_iters: 16,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config(6))]

    #[test]
    fn personio_mirror_converges_sqlite(ops in proptest::collection::vec(op(), 1..7)) {
        run(Backend::Sqlite, ToolKind::Personio, ops);
    }

    #[test]
    fn greenhouse_mirror_converges_sqlite(ops in proptest::collection::vec(op(), 1..7)) {
        run(Backend::Sqlite, ToolKind::Greenhouse, ops);
    }
}

proptest! {
    #![proptest_config(config(4))]

    #[test]
    fn personio_mirror_converges_postgres(ops in proptest::collection::vec(op(), 1..7)) {
        run(Backend::Postgres, ToolKind::Personio, ops);
    }

    #[test]
    fn greenhouse_mirror_converges_postgres(ops in proptest::collection::vec(op(), 1..7)) {
        run(Backend::Postgres, ToolKind::Greenhouse, ops);
    }
}
