//! Invariant I2 and the nested-change rule: a change moves exactly the changed record's
//! `changed_at`; a nested change moves the parent's `updated_at` marker only.

use std::collections::BTreeSet;

use serde_json::json;
use tributary_model::{IdGen, Model, RunState, SyncType, ToolKind};

use crate::support::{Backend, Harness};

/// Ids whose `changed_at` / `updated_at` differ between two snapshots.
async fn moved(
    h: &Harness,
    id: &str,
    run: impl std::future::Future<Output = ()>,
) -> (BTreeSet<String>, BTreeSet<String>) {
    let before = h.snapshot(id).await;
    run.await;
    let after = h.snapshot(id).await;
    let mut changed = BTreeSet::new();
    let mut updated = BTreeSet::new();
    for (rid, (c, u, _, _)) in &after {
        match before.get(rid) {
            Some((c0, u0, _, _)) => {
                if c != c0 {
                    changed.insert(rid.clone());
                }
                if u != u0 {
                    updated.insert(rid.clone());
                }
            }
            None => {
                changed.insert(rid.clone());
                updated.insert(rid.clone());
            }
        }
    }
    (changed, updated)
}

async fn one_edit_moves_one_record(b: Backend) {
    let Some(h) = Harness::start(b, &[ToolKind::Personio], 40).await else {
        return;
    };
    let id = h.connect(ToolKind::Personio).await;
    assert_eq!(h.sync(&id, SyncType::Full).await.state, RunState::Succeeded);

    let employee = *h
        .sim
        .state
        .company(ToolKind::Personio)
        .hris
        .employees
        .keys()
        .nth(7)
        .unwrap();
    h.mutate(
        ToolKind::Personio,
        json!({"kind": "edit_employee", "employee_id": employee, "field": "last_name", "value": "Lovelace-Byron"}),
    );
    let (changed, updated) = moved(&h, &id, async {
        let run = h.sync(&id, SyncType::Delta).await;
        assert_eq!(run.state, RunState::Succeeded, "{run:?}");
        assert_eq!(run.counts.updated, 1, "{run:?}");
    })
    .await;
    let employee_id = IdGen::new(&id).id(Model::Employees, &employee.to_string());
    assert_eq!(
        changed,
        BTreeSet::from([employee_id.clone()]),
        "exactly the edited employee changed"
    );
    assert!(updated.contains(&employee_id));
    let stored = h
        .live(&id, Model::Employees)
        .await
        .into_iter()
        .find(|r| r.id == employee_id)
        .unwrap();
    assert_eq!(stored.data["last_name"], "Lovelace-Byron");
}

/// BambooHR serves employments (compensation table) apart from employees (custom report), so a
/// pay change at the source touches only the employment.
async fn employment_edit_moves_parent_marker_only(b: Backend) {
    let Some(h) = Harness::start(b, &[ToolKind::Bamboohr], 30).await else {
        return;
    };
    let id = h.connect(ToolKind::Bamboohr).await;
    assert_eq!(h.sync(&id, SyncType::Default).await.state, RunState::Succeeded);

    let employee = {
        let mut company = h.sim.state.company_mut(ToolKind::Bamboohr);
        let (eid, e) = company
            .hris
            .employees
            .iter_mut()
            .find(|(_, e)| !e.employments.is_empty())
            .unwrap();
        let employment = e.employments.last_mut().unwrap();
        employment.pay_rate += 1234.0;
        employment.updated_at = chrono::Utc::now();
        *eid
    };
    let ids = IdGen::new(&id);
    let employee_id = ids.id(Model::Employees, &employee.to_string());
    let before = h
        .live(&id, Model::Employees)
        .await
        .into_iter()
        .find(|r| r.id == employee_id)
        .unwrap();
    let (changed, updated) = moved(&h, &id, async {
        let run = h.sync(&id, SyncType::Default).await;
        assert_eq!(run.state, RunState::Succeeded, "{run:?}");
    })
    .await;
    let employments: Vec<_> = h
        .live(&id, Model::Employments)
        .await
        .into_iter()
        .filter(|r| changed.contains(&r.id))
        .collect();
    assert_eq!(employments.len(), 1, "one employment changed: {changed:?}");
    assert_eq!(employments[0].parent_id.as_deref(), Some(employee_id.as_str()));
    assert_eq!(changed.len(), 1, "nothing else changed: {changed:?}");
    let after = h
        .live(&id, Model::Employees)
        .await
        .into_iter()
        .find(|r| r.id == employee_id)
        .unwrap();
    assert_eq!(
        after.changed_at, before.changed_at,
        "the employee's own content did not change"
    );
    assert!(after.updated_at > before.updated_at, "its updated_after marker moved");
    assert!(updated.contains(&employee_id));
}

/// A linked record (the manager) changing moves its reports' markers, not their changed_at.
async fn manager_edit_moves_reports_markers(b: Backend) {
    let Some(h) = Harness::start(b, &[ToolKind::Personio], 40).await else {
        return;
    };
    let id = h.connect(ToolKind::Personio).await;
    assert_eq!(h.sync(&id, SyncType::Full).await.state, RunState::Succeeded);
    let (manager, reports): (u64, Vec<u64>) = {
        let c = h.sim.state.company(ToolKind::Personio);
        let manager = c.hris.employees.values().find_map(|e| e.supervisor_id).unwrap();
        let reports = c
            .hris
            .employees
            .values()
            .filter(|e| e.supervisor_id == Some(manager))
            .map(|e| e.id)
            .collect();
        (manager, reports)
    };
    h.mutate(
        ToolKind::Personio,
        json!({"kind": "edit_employee", "employee_id": manager, "field": "first_name", "value": "Grace"}),
    );
    let (changed, updated) = moved(&h, &id, async {
        assert_eq!(h.sync(&id, SyncType::Delta).await.state, RunState::Succeeded);
    })
    .await;
    let ids = IdGen::new(&id);
    assert!(changed.contains(&ids.id(Model::Employees, &manager.to_string())));
    for r in reports {
        let rid = ids.id(Model::Employees, &r.to_string());
        assert!(!changed.contains(&rid), "a report's own content did not change");
        assert!(updated.contains(&rid), "a report's marker moved with its manager");
    }
}

crate::on_both_backends!(
    one_edit_moves_one_record,
    employment_edit_moves_parent_marker_only,
    manager_edit_moves_reports_markers
);
