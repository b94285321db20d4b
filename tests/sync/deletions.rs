//! Invariant I1: only a complete, successful FULL or DEFAULT run marks deletions, and a record
//! that comes back is undeleted.

use serde_json::json;
use tributary_model::{IdGen, Model, RunState, SyncType, ToolKind};

use crate::support::{Backend, Harness, status};

async fn stored(h: &Harness, integration: &str, model: Model, remote_id: u64) -> tributary_store::StoredRecord {
    let id = IdGen::new(integration).id(model, &remote_id.to_string());
    h.records(integration, model)
        .await
        .into_iter()
        .find(|r| r.id == id)
        .expect("record mirrored")
}

/// An employee without reports, so deleting it at the source touches nothing else.
fn leaf_employee(h: &Harness, tool: ToolKind) -> u64 {
    let c = h.sim.state.company(tool);
    let managers: std::collections::HashSet<u64> = c.hris.employees.values().filter_map(|e| e.supervisor_id).collect();
    *c.hris
        .employees
        .keys()
        .rev()
        .find(|id| !managers.contains(id))
        .expect("a leaf employee")
}

async fn deleted_by_full_not_by_delta(b: Backend) {
    let Some(h) = Harness::start(b, &[ToolKind::Personio], 40).await else {
        return;
    };
    let id = h.connect(ToolKind::Personio).await;
    assert_eq!(h.sync(&id, SyncType::Full).await.state, RunState::Succeeded);
    let gone = leaf_employee(&h, ToolKind::Personio);
    h.mutate(
        ToolKind::Personio,
        json!({"kind": "delete_employee", "employee_id": gone}),
    );

    let delta = h.sync(&id, SyncType::Delta).await;
    assert_eq!(delta.state, RunState::Succeeded, "{delta:?}");
    assert_eq!(delta.counts.deleted, 0, "a delta never deletes");
    assert!(
        stored(&h, &id, Model::Employees, gone)
            .await
            .remote_deleted_at
            .is_none()
    );

    let before = stored(&h, &id, Model::Employees, gone).await;
    let full = h.sync(&id, SyncType::Full).await;
    assert_eq!(full.state, RunState::Succeeded, "{full:?}");
    let after = stored(&h, &id, Model::Employees, gone).await;
    assert!(after.remote_deleted_at.is_some(), "the full marked it deleted");
    assert!(after.changed_at > before.changed_at, "a deletion is a change");
    let employee_id = IdGen::new(&id).id(Model::Employees, &gone.to_string());
    let employments: Vec<_> = h
        .records(&id, Model::Employments)
        .await
        .into_iter()
        .filter(|r| r.parent_id.as_deref() == Some(&employee_id))
        .collect();
    assert!(
        !employments.is_empty() && employments.iter().all(|r| r.remote_deleted_at.is_some()),
        "its employments went with it"
    );
    assert!(full.counts.deleted >= 2, "{full:?}");
    let live_ids: std::collections::BTreeSet<String> = h
        .live(&id, Model::Employees)
        .await
        .into_iter()
        .map(|r| r.remote_id)
        .collect();
    let source_ids: std::collections::BTreeSet<String> = h
        .sim
        .state
        .company(ToolKind::Personio)
        .hris
        .employees
        .keys()
        .map(|k| k.to_string())
        .collect();
    assert_eq!(live_ids, source_ids, "the mirror equals the source");
}

async fn bamboohr_deleted_by_full(b: Backend) {
    let Some(h) = Harness::start(b, &[ToolKind::Bamboohr], 30).await else {
        return;
    };
    let id = h.connect(ToolKind::Bamboohr).await;
    assert_eq!(h.sync(&id, SyncType::Full).await.state, RunState::Succeeded);
    let gone = leaf_employee(&h, ToolKind::Bamboohr);
    h.mutate(
        ToolKind::Bamboohr,
        json!({"kind": "delete_employee", "employee_id": gone}),
    );
    let run = h.sync(&id, SyncType::Full).await;
    assert_eq!(run.state, RunState::Succeeded, "{run:?}");
    assert!(
        stored(&h, &id, Model::Employees, gone)
            .await
            .remote_deleted_at
            .is_some()
    );
}

/// The run fails on the very last request it makes (the last employee's balance): it is not
/// complete, so nothing may be deleted.
async fn failed_last_page_deletes_nothing(b: Backend) {
    let Some(h) = Harness::start(b, &[ToolKind::Personio], 40).await else {
        return;
    };
    let id = h.connect(ToolKind::Personio).await;
    assert_eq!(h.sync(&id, SyncType::Full).await.state, RunState::Succeeded);
    let gone = leaf_employee(&h, ToolKind::Personio);
    h.mutate(
        ToolKind::Personio,
        json!({"kind": "delete_employee", "employee_id": gone}),
    );
    let remaining = h.sim.state.company(ToolKind::Personio).hris.employees.len() as u64;
    h.fault(
        ToolKind::Personio,
        "/absences/balance",
        None,
        remaining - 1,
        None,
        status(503),
    );

    let before = h.snapshot(&id).await;
    let run = h.sync(&id, SyncType::Full).await;
    assert!(
        matches!(run.state, RunState::PartiallyFailed | RunState::Failed),
        "{run:?}"
    );
    assert!(
        run.error.as_deref().unwrap_or_default().contains("503"),
        "the error says why: {run:?}"
    );
    assert_eq!(run.counts.deleted, 0);
    assert!(
        stored(&h, &id, Model::Employees, gone)
            .await
            .remote_deleted_at
            .is_none(),
        "no deletion from an incomplete run"
    );
    crate::support::assert_same_snapshot(&h.snapshot(&id).await, &before, "the mirror kept its previous state");

    h.sim.state.clear_faults(None);
    let run = h.sync(&id, SyncType::Full).await;
    assert_eq!(run.state, RunState::Succeeded, "{run:?}");
    assert!(
        stored(&h, &id, Model::Employees, gone)
            .await
            .remote_deleted_at
            .is_some(),
        "the next complete run deletes it"
    );
}

async fn reappearing_record_is_undeleted(b: Backend) {
    let Some(h) = Harness::start(b, &[ToolKind::Personio], 30).await else {
        return;
    };
    let id = h.connect(ToolKind::Personio).await;
    assert_eq!(h.sync(&id, SyncType::Full).await.state, RunState::Succeeded);
    let gone = leaf_employee(&h, ToolKind::Personio);
    let removed = h
        .sim
        .state
        .company_mut(ToolKind::Personio)
        .hris
        .employees
        .remove(&gone)
        .unwrap();
    assert_eq!(h.sync(&id, SyncType::Full).await.state, RunState::Succeeded);
    assert!(
        stored(&h, &id, Model::Employees, gone)
            .await
            .remote_deleted_at
            .is_some()
    );

    h.sim
        .state
        .company_mut(ToolKind::Personio)
        .hris
        .employees
        .insert(gone, removed);
    let run = h.sync(&id, SyncType::Full).await;
    assert_eq!(run.state, RunState::Succeeded, "{run:?}");
    let back = stored(&h, &id, Model::Employees, gone).await;
    assert!(back.remote_deleted_at.is_none(), "undeleted when it reappears");
    assert!(run.counts.updated >= 1, "{run:?}");
}

crate::on_both_backends!(
    deleted_by_full_not_by_delta,
    bamboohr_deleted_by_full,
    failed_last_page_deletes_nothing,
    reappearing_record_is_undeleted
);
