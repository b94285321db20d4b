//! Invariant I6: disabled fields never reach storage, disabled models are never requested, and
//! disabling a model marks its rows deleted on the next sync.

use serde_json::json;
use tributary_model::{Model, RunState, ScopeConfig, SyncType, ToolKind};

use crate::support::{Backend, Harness};

async fn disabled_fields_reach_no_table(b: Backend) {
    let Some(h) = Harness::start(b, &[ToolKind::Personio], 30).await else {
        return;
    };
    let scope: ScopeConfig = serde_json::from_value(json!({"read_models": [{"id": "hris_employees", "fields": [
        {"id": "ssn", "scope_config_setting": "DISABLED"},
        {"id": "bank_accounts", "scope_config_setting": "OPTIONAL", "opted_out_by_customer": true}
    ]}]}))
    .unwrap();
    let id = h.connect_with_scope(ToolKind::Personio, scope).await;
    assert_eq!(h.sync(&id, SyncType::Full).await.state, RunState::Succeeded);

    let (ssns, ibans, emails): (Vec<String>, Vec<String>, Vec<String>) = {
        let c = h.sim.state.company(ToolKind::Personio);
        (
            c.hris.employees.values().filter_map(|e| e.ssn.clone()).collect(),
            c.hris.employees.values().filter_map(|e| e.iban.clone()).collect(),
            c.hris.employees.values().map(|e| e.email.clone()).collect(),
        )
    };
    assert!(!ssns.is_empty() && !ibans.is_empty());
    // The search itself works: enabled data is found.
    assert!(h.database_contains(&emails[0]).await, "an enabled field is stored");
    for value in ssns.iter().chain(&ibans) {
        assert!(
            !h.database_contains(value).await,
            "disabled value {value} is stored somewhere"
        );
    }
    for r in h.live(&id, Model::Employees).await {
        assert!(!r.data.contains_key("ssn") && !r.data.contains_key("bank_accounts"));
    }
}

async fn disabled_model_is_never_requested_and_its_rows_go(b: Backend) {
    let Some(h) = Harness::start(b, &[ToolKind::Personio], 30).await else {
        return;
    };
    let id = h.connect(ToolKind::Personio).await;
    assert_eq!(h.sync(&id, SyncType::Full).await.state, RunState::Succeeded);
    assert!(!h.live(&id, Model::Absences).await.is_empty());
    assert!(
        !h.requests(ToolKind::Personio, "/time-offs").is_empty(),
        "absences were fetched while enabled"
    );

    let scope: ScopeConfig = serde_json::from_value(json!({"read_models": [
        {"id": "hris_absences", "scope_config_setting": "DISABLED"},
        {"id": "hris_time_off_balances", "scope_config_setting": "OPTIONAL", "opted_out_by_customer": true}
    ]}))
    .unwrap();
    h.store.set_scope_config(&id, &scope).await.unwrap();
    h.sim.state.clear_requests();

    for sync_type in [SyncType::Delta, SyncType::Full] {
        let run = h.sync(&id, sync_type).await;
        assert_eq!(run.state, RunState::Succeeded, "{run:?}");
    }
    assert!(
        h.requests(ToolKind::Personio, "/time-offs").is_empty(),
        "a disabled model is never requested"
    );
    assert!(
        h.requests(ToolKind::Personio, "/absences/balance").is_empty(),
        "an opted-out model is never requested"
    );
    assert!(
        !h.requests(ToolKind::Personio, "/company/employees").is_empty(),
        "enabled models still are"
    );
    assert!(
        h.live(&id, Model::Absences).await.is_empty(),
        "disabling marks the model's rows deleted"
    );
    assert!(h.live(&id, Model::TimeOffBalances).await.is_empty());
    assert!(!h.live(&id, Model::Employees).await.is_empty());
}

/// Issue 12: a FULL paused mid-pass while the scope changes resumes into a new pass under the
/// new scope (its earlier pages were written under the old one), and only that pass may end
/// SUCCEEDED: every stored row is then written under the new scope, the records stored with
/// the now-disabled field before included.
async fn paused_full_restarts_its_pass_under_a_changed_scope(b: Backend) {
    let Some(h) = Harness::start(b, &[ToolKind::Personio], 250).await else {
        return;
    };
    let id = h.connect(ToolKind::Personio).await;
    let first = h.sync(&id, SyncType::Full).await;
    assert_eq!(first.state, RunState::Succeeded);
    let ssns: Vec<String> = {
        let c = h.sim.state.company(ToolKind::Personio);
        c.hris.employees.values().filter_map(|e| e.ssn.clone()).collect()
    };
    assert!(h.database_contains(&ssns[0]).await);

    h.sim.state.set_latency(ToolKind::Personio, 20);
    let (control, task) = h.spawn_sync(&id, SyncType::Full);
    let mut progress = control.subscribe_progress();
    while progress.borrow_and_update().counts.pages_fetched < 2 {
        progress.changed().await.expect("progress");
    }
    control.pause();
    let paused = task.await.unwrap().expect("pause is a clean stop").run;
    assert_eq!(paused.state, RunState::Paused, "{paused:?}");
    let scope: ScopeConfig = serde_json::from_value(json!({"read_models": [{"id": "hris_employees", "fields": [
        {"id": "ssn", "scope_config_setting": "DISABLED"}
    ]}]}))
    .unwrap();
    let version = h.store.set_scope_config(&id, &scope).await.unwrap();
    h.sim.state.set_latency(ToolKind::Personio, 0);
    h.sim.state.clear_requests();

    let resumed = h.sync(&id, SyncType::Full).await;
    assert_eq!(resumed.id, paused.id, "the paused run itself goes on");
    assert_eq!(resumed.state, RunState::Succeeded, "{resumed:?}");
    // Restarted from the first stream: the first employees page was fetched again.
    assert!(
        h.requests(ToolKind::Personio, "/company/employees")
            .iter()
            .any(|r| !r.query.contains("offset=") || r.query.contains("offset=0")),
        "the pass started again from the first page"
    );
    for model in [
        Model::Employees,
        Model::Employments,
        Model::Absences,
        Model::TimeOffBalances,
    ] {
        for r in h.live(&id, model).await {
            assert_eq!(
                r.scope_version, version,
                "{model} {} not rewritten under the new scope",
                r.remote_id
            );
        }
    }
    for ssn in &ssns {
        assert!(!h.database_contains(ssn).await, "SSN {ssn} still stored");
    }
}

crate::on_both_backends!(
    disabled_fields_reach_no_table,
    disabled_model_is_never_requested_and_its_rows_go,
    paused_full_restarts_its_pass_under_a_changed_scope
);
