//! DELTA runs end to end for a tool whose change markers cover only part of its data: a DELTA
//! after a FULL reads what the tool's documented markers say changed, mirrors it, and deletes
//! nothing (invariant I1); the next FULL does.

use std::collections::BTreeSet;

use serde_json::json;
use tributary_model::{IdGen, Model, RunState, SyncType, ToolKind};

use crate::support::{Backend, Harness};

/// Employee ids of the balance-calculator calls since `seq`.
fn calculator_calls(h: &Harness, seq: u64) -> BTreeSet<u64> {
    h.sim
        .state
        .requests(&tributary_sim::RequestFilter::tool(ToolKind::Bamboohr).since(seq))
        .into_iter()
        .filter(|e| e.path.ends_with("/time_off/calculator"))
        .filter_map(|e| {
            e.path
                .split('/')
                .skip_while(|s| *s != "employees")
                .nth(1)
                .and_then(|id| id.parse().ok())
        })
        .collect()
}

fn calls_to(h: &Harness, seq: u64, path: &str) -> usize {
    h.sim.state.request_count(
        &tributary_sim::RequestFilter::tool(ToolKind::Bamboohr)
            .path(path)
            .since(seq),
    )
}

/// BambooHR: one employee edited, one approved time-off request cancelled (which gives its
/// employee the days back), one employee deleted. The DELTA reads the edited employee only
/// (`/v1/employees/changed`), the cancelled request only (its `status.lastChanged`), and
/// recalculates balances for exactly those two employees; it deletes nothing. The FULL after
/// it reads everyone and marks the deleted employee.
async fn bamboohr_delta_reads_what_changed_and_deletes_nothing(b: Backend) {
    let Some(h) = Harness::start(b, &[ToolKind::Bamboohr], 30).await else {
        return;
    };
    let id = h.connect(ToolKind::Bamboohr).await;
    let seq = h.sim.state.last_request_seq();
    assert_eq!(h.sync(&id, SyncType::Full).await.state, RunState::Succeeded);
    let everyone: BTreeSet<u64> = h
        .sim
        .state
        .company(ToolKind::Bamboohr)
        .hris
        .employees
        .keys()
        .copied()
        .collect();
    assert_eq!(calculator_calls(&h, seq), everyone, "a FULL recalculates every balance");
    assert_eq!(
        calls_to(&h, seq, "/v1/reports/custom"),
        2,
        "employees and the balance roster"
    );

    // Who is who: C has an approved request with days to give back, A is edited, B (a leaf,
    // neither of them) is deleted.
    let (edited, cancelled, absence, deleted) = {
        let c = h.sim.state.company(ToolKind::Bamboohr);
        let (absence, holder) = c
            .hris
            .absences
            .values()
            .find(|a| {
                a.status == "approved"
                    && a.days_count > 0.0
                    && c.hris.balances.contains_key(&(a.employee_id, a.absence_type_id))
            })
            .map(|a| (a.id, a.employee_id))
            .expect("an approved request");
        let managers: BTreeSet<u64> = c.hris.employees.values().filter_map(|e| e.supervisor_id).collect();
        let mut others = c.hris.employees.keys().copied().filter(|e| *e != holder);
        let edited = others.next().expect("another employee");
        let deleted = c
            .hris
            .employees
            .keys()
            .copied()
            .rev()
            .find(|e| *e != holder && *e != edited && !managers.contains(e))
            .expect("a leaf employee");
        (edited, holder, absence, deleted)
    };
    h.mutate(
        ToolKind::Bamboohr,
        json!({"kind": "edit_employee", "employee_id": edited, "field": "mobile_phone", "value": "+1 555 0199"}),
    );
    h.mutate(
        ToolKind::Bamboohr,
        json!({"kind": "edit_absence", "absence_id": absence, "status": "canceled"}),
    );
    h.mutate(
        ToolKind::Bamboohr,
        json!({"kind": "delete_employee", "employee_id": deleted}),
    );

    let seq = h.sim.state.last_request_seq();
    let run = h.sync(&id, SyncType::Delta).await;
    assert_eq!(run.state, RunState::Succeeded, "{run:?}");
    assert_eq!(
        calls_to(&h, seq, "/v1/employees/changed"),
        2,
        "employees and balances ask it"
    );
    assert_eq!(
        calls_to(&h, seq, "/v1/reports/custom"),
        1,
        "one report, of the changed employees"
    );
    assert_eq!(
        calculator_calls(&h, seq),
        BTreeSet::from([edited, cancelled]),
        "balances of the employees that changed only"
    );
    assert_eq!(
        (run.counts.created, run.counts.updated, run.counts.deleted),
        (0, 3, 0),
        "the employee, the request and the balance it moved; nothing deleted: {:?}",
        run.counts
    );

    let ids = IdGen::new(&id);
    let (h, integration) = (&h, id.as_str());
    let live = |model: Model, remote: u64| {
        let want = ids.id(model, &remote.to_string());
        async move { h.records(integration, model).await.into_iter().find(|r| r.id == want) }
    };
    let employee = live(Model::Employees, edited).await.expect("mirrored");
    assert_eq!(employee.data["mobile_phone_number"], json!("+1 555 0199"));
    let request = live(Model::Absences, absence).await.expect("mirrored");
    assert_eq!(request.data["status"], json!("CANCELLED"), "{:?}", request.data);
    let gone = live(Model::Employees, deleted).await.expect("mirrored");
    assert!(gone.remote_deleted_at.is_none(), "a DELTA never deletes");

    let run = h.sync(&id, SyncType::Full).await;
    assert_eq!(run.state, RunState::Succeeded, "{run:?}");
    let gone = live(Model::Employees, deleted).await.expect("mirrored");
    assert!(gone.remote_deleted_at.is_some(), "the FULL marks the deletion");
}

crate::on_both_backends!(bamboohr_delta_reads_what_changed_and_deletes_nothing);
