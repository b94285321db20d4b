//! The fault matrix: every way a source misbehaves ends the run with a clear state and error,
//! keeps the mirror as it was, and deletes nothing. Transient faults are retried through.

use std::time::Duration;

use serde_json::json;
use tributary_engine::{EngineConfig, RunControl, SyncEngine};
use tributary_model::{IdGen, Model, RunState, SyncType, ToolKind};
use tributary_sim::FaultAction;
use tributary_store::SyncRun;

use crate::support::{Backend, Harness, assert_same_snapshot, engine_config, status, wait_for_pages};

/// A synced Personio mirror, then an employee deleted at the source: a run that wrongly
/// completed would mark it deleted, so every failing case also proves "nothing deleted".
async fn prepared(b: Backend, tool: ToolKind) -> Option<(Harness, String, String)> {
    let h = Harness::start(b, &[tool], 250).await?;
    let id = h.connect(tool).await;
    let first = h
        .sync(
            &id,
            if tool.supports_delta() {
                SyncType::Full
            } else {
                SyncType::Default
            },
        )
        .await;
    assert_eq!(first.state, RunState::Succeeded, "{first:?}");
    let gone = match tool {
        ToolKind::Greenhouse => {
            let c = *h.sim.state.company(tool).ats.candidates.keys().next_back().unwrap();
            h.mutate(tool, json!({"kind": "delete_candidate", "candidate_id": c}));
            IdGen::new(&id).id(Model::Candidates, &c.to_string())
        }
        _ => {
            let c = h.sim.state.company(tool);
            let managers: std::collections::HashSet<u64> =
                c.hris.employees.values().filter_map(|e| e.supervisor_id).collect();
            let e = *c.hris.employees.keys().rev().find(|id| !managers.contains(id)).unwrap();
            drop(c);
            h.mutate(tool, json!({"kind": "delete_employee", "employee_id": e}));
            IdGen::new(&id).id(Model::Employees, &e.to_string())
        }
    };
    Some((h, id, gone))
}

async fn expect_failure(h: &Harness, id: &str, gone: &str, run: SyncRun, states: &[RunState], error_says: &str) {
    assert!(states.contains(&run.state), "expected one of {states:?}: {run:?}");
    let error = run.error.clone().unwrap_or_default().to_lowercase();
    assert!(
        error.contains(error_says),
        "the run's error names the cause ({error_says}): {error}"
    );
    assert_eq!(run.counts.deleted, 0, "{run:?}");
    assert!(
        h.records(id, Model::Employees)
            .await
            .iter()
            .chain(h.records(id, Model::Candidates).await.iter())
            .all(|r| r.remote_deleted_at.is_none()),
        "nothing deleted"
    );
    let _ = gone;
}

/// A fault met by a whole FULL (or DEFAULT) run.
struct Case {
    tool: ToolKind,
    path: &'static str,
    query: Option<&'static str>,
    action: FaultAction,
    /// What the run's error must mention.
    error_says: &'static str,
    /// Engine settings other than the tests' defaults.
    engine: Option<EngineConfig>,
}

impl Case {
    fn new(
        tool: ToolKind,
        path: &'static str,
        query: Option<&'static str>,
        action: FaultAction,
        error_says: &'static str,
    ) -> Self {
        Self {
            tool,
            path,
            query,
            action,
            error_says,
            engine: None,
        }
    }
}

/// Runs a FULL (or DEFAULT) against the prepared fault and checks the mirror did not move.
async fn failing_full(b: Backend, case: Case) {
    let Case {
        tool,
        path,
        query,
        action,
        error_says,
        engine,
    } = case;
    let Some((h, id, gone)) = prepared(b, tool).await else {
        return;
    };
    h.fault(tool, path, query, 0, None, action);
    let before = h.snapshot(&id).await;
    let engine = SyncEngine::new(h.store.clone(), engine.unwrap_or_else(engine_config));
    let sync_type = if tool.supports_delta() {
        SyncType::Full
    } else {
        SyncType::Default
    };
    let run = engine.sync(&id, sync_type, &RunControl::new()).await.unwrap().run;
    expect_failure(&h, &id, &gone, run, FAILED, error_says).await;
    assert_same_snapshot(
        &h.snapshot(&id).await,
        &before,
        "the mirror kept its previous good state",
    );

    // The same run without the fault completes and deletes: the test above could fail.
    h.sim.state.clear_faults(None);
    let run = h.sync(&id, sync_type).await;
    assert_eq!(run.state, RunState::Succeeded, "{run:?}");
    let deleted: Vec<_> = h
        .records(&id, Model::Employees)
        .await
        .into_iter()
        .chain(h.records(&id, Model::Candidates).await)
        .filter(|r| r.remote_deleted_at.is_some())
        .map(|r| r.id)
        .collect();
    assert!(deleted.contains(&gone), "a clean run deletes what the source lost");
}

const FAILED: &[RunState] = &[RunState::Failed, RunState::PartiallyFailed];

async fn server_errors_that_persist(b: Backend) {
    failing_full(
        b,
        Case::new(
            ToolKind::Personio,
            "/company/employees",
            Some("offset=100"),
            status(500),
            "500",
        ),
    )
    .await;
}

async fn truncated_json(b: Backend) {
    failing_full(
        b,
        Case::new(
            ToolKind::Personio,
            "/company/employees",
            Some("offset=200"),
            FaultAction::Truncate,
            "malformed",
        ),
    )
    .await;
}

async fn malformed_json(b: Backend) {
    failing_full(
        b,
        Case::new(
            ToolKind::Greenhouse,
            "/v3/applications",
            None,
            FaultAction::Malformed,
            "malformed",
        ),
    )
    .await;
}

async fn empty_body(b: Backend) {
    failing_full(
        b,
        Case::new(
            ToolKind::Bamboohr,
            "/v1/reports/custom",
            None,
            FaultAction::EmptyBody,
            "malformed",
        ),
    )
    .await;
}

async fn missing_required_field(b: Backend) {
    let body = r#"[{"id": 1, "first_name": "No", "last_name": "Timestamps"}]"#.to_owned();
    failing_full(
        b,
        Case::new(
            ToolKind::Greenhouse,
            "/v3/candidates",
            None,
            FaultAction::Status {
                code: 200,
                retry_after: None,
                body: Some(body),
            },
            "malformed",
        ),
    )
    .await;
}

async fn wrong_type(b: Backend) {
    let body = r#"{"success": true, "metadata": {"total_elements": 1, "current_page": 0, "total_pages": 1}, "offset": 0, "limit": 100, "data": [{"type": "Employee", "attributes": {"id": {"label": "ID", "value": "forty-two", "type": "integer", "universal_id": "id"}}}]}"#.to_owned();
    failing_full(
        b,
        Case::new(
            ToolKind::Personio,
            "/company/employees",
            Some("offset=0"),
            FaultAction::Status {
                code: 200,
                retry_after: None,
                body: Some(body),
            },
            "malformed",
        ),
    )
    .await;
}

async fn endless_pagination(b: Backend) {
    failing_full(
        b,
        Case::new(
            ToolKind::Personio,
            "/company/employees",
            Some("offset=100"),
            FaultAction::RepeatPage,
            "pagination",
        ),
    )
    .await;
}

async fn permanent_client_error(b: Backend) {
    failing_full(
        b,
        Case::new(ToolKind::Personio, "/company/time-offs", None, status(404), "404"),
    )
    .await;
}

async fn request_timeouts(b: Backend) {
    let mut config = engine_config();
    config.client.timeout = Duration::from_millis(300);
    config.client.max_attempts = 2;
    failing_full(
        b,
        Case {
            engine: Some(config),
            ..Case::new(
                ToolKind::Personio,
                "/company/employees",
                Some("offset=100"),
                FaultAction::Timeout { ms: Some(5_000) },
                "timed out",
            )
        },
    )
    .await;
}

async fn credentials_revoked_mid_sync(b: Backend) {
    let Some((h, id, gone)) = prepared(b, ToolKind::Personio).await else {
        return;
    };
    let before = h.snapshot(&id).await;
    h.sim.state.set_latency(ToolKind::Personio, 20);
    let (control, task) = h.spawn_sync(&id, SyncType::Full);
    wait_for_pages(&control, 1).await;
    h.sim.state.set_revoked(ToolKind::Personio, true);
    let run = task.await.unwrap().unwrap().run;
    expect_failure(&h, &id, &gone, run, &[RunState::AuthenticationFailed], "authentication").await;
    assert_same_snapshot(
        &h.snapshot(&id).await,
        &before,
        "the mirror kept its previous good state",
    );
    let secret = h.sim.state.credentials().personio_client_secret.clone();
    let runs = h.store.list_runs(&id, 10).await.unwrap();
    assert!(
        runs.iter()
            .all(|r| !r.error.clone().unwrap_or_default().contains(&secret)),
        "credentials never appear in errors"
    );
}

/// Transient faults are retried: the run succeeds and the simulator saw the retries.
async fn transient_faults_are_retried(b: Backend) {
    let Some((h, id, gone)) = prepared(b, ToolKind::Personio).await else {
        return;
    };
    let since = h.sim.state.last_request_seq();
    h.fault(
        ToolKind::Personio,
        "/company/employees",
        Some("offset=100"),
        0,
        Some(2),
        status(503),
    );
    h.fault(
        ToolKind::Personio,
        "/company/time-offs",
        None,
        0,
        Some(1),
        FaultAction::Status {
            code: 429,
            retry_after: Some("1".into()),
            body: None,
        },
    );
    let run = h.sync(&id, SyncType::Full).await;
    assert_eq!(run.state, RunState::Succeeded, "{run:?}");
    let page2: Vec<u16> = h
        .requests(ToolKind::Personio, "/company/employees")
        .into_iter()
        .filter(|r| r.seq > since && r.query.contains("offset=100"))
        .map(|r| r.status)
        .collect();
    assert!(
        page2.starts_with(&[503, 503, 200]),
        "two 503s, then the retry succeeded: {page2:?}"
    );
    let time_offs: Vec<_> = h
        .requests(ToolKind::Personio, "/company/time-offs")
        .into_iter()
        .filter(|r| r.seq > since)
        .collect();
    assert_eq!(time_offs[0].status, 429);
    let waited = time_offs[1].at - time_offs[0].at;
    assert!(
        waited >= chrono::TimeDelta::milliseconds(900),
        "Retry-After was honoured: retried after {waited}"
    );
    assert!(
        h.records(&id, Model::Employees)
            .await
            .iter()
            .any(|r| r.id == gone && r.remote_deleted_at.is_some())
    );
}

/// A tool that fails one request in ten, everywhere: retries absorb it and the mirror ends
/// equal to an undisturbed sync's.
async fn five_xx_rate_is_absorbed(b: Backend) {
    let Some((h, id, gone)) = prepared(b, ToolKind::Personio).await else {
        return;
    };
    let since = h.sim.state.last_request_seq();
    h.sim
        .state
        .add_fault(tributary_sim::FaultRule::new(ToolKind::Personio, status(502)).rate(0.1, 11))
        .unwrap();
    let mut config = engine_config();
    config.client.max_attempts = 6;
    let engine = SyncEngine::new(h.store.clone(), config);
    let run = engine.sync(&id, SyncType::Full, &RunControl::new()).await.unwrap().run;
    assert_eq!(run.state, RunState::Succeeded, "{run:?}");
    let failed = h
        .requests(ToolKind::Personio, "/")
        .into_iter()
        .filter(|r| r.seq > since && r.status == 502)
        .count();
    assert!(failed > 0, "the fault rate was met");
    let live: Vec<_> = h.live(&id, Model::Employees).await;
    assert_eq!(live.len(), h.sim.state.company(ToolKind::Personio).hris.employees.len());
    assert!(live.iter().all(|r| r.id != gone), "and the deletion was swept");
}

/// Absences come from two Personio lists in one stream. When the second one, absence periods,
/// answers a body outside its documented shape, the run fails naming the endpoint and sweeps
/// no absence: not the day-based one deleted at the source, and none of the hour-based ones the
/// failed listing never returned (a sweep would take every one of them for deleted). The same
/// run without the fault marks exactly the two deleted absences.
async fn failed_absence_periods_delete_no_absence(b: Backend) {
    let Some((h, id, _)) = prepared(b, ToolKind::Personio).await else {
        return;
    };
    let (day_based, hour_based, gone) = {
        let c = h.sim.state.company(ToolKind::Personio);
        let hourly = |a: &&tributary_sim::company::Absence| c.hris.absence_types[&a.absence_type_id].unit == "hours";
        let day = c
            .hris
            .absences
            .values()
            .find(|a| !hourly(a))
            .expect("a day-based absence");
        let hour = c.hris.absences.values().find(hourly).expect("an hour-based absence");
        let remote = |a: &tributary_sim::company::Absence| tributary_sim::tools::personio::absence_remote_id(&c, a);
        let ids = IdGen::new(&id);
        let gone = [
            ids.id(Model::Absences, &remote(day)),
            ids.id(Model::Absences, &remote(hour)),
        ];
        (day.id, hour.id, gone)
    };
    let live_before = h.live(&id, Model::Absences).await.len();
    assert!(
        h.live(&id, Model::Absences)
            .await
            .iter()
            .any(|r| r.data["unit"] == "HOURS"),
        "the mirror holds hour-based absences"
    );
    h.mutate(
        ToolKind::Personio,
        json!({"kind": "delete_absence", "absence_id": day_based}),
    );
    h.mutate(
        ToolKind::Personio,
        json!({"kind": "delete_absence", "absence_id": hour_based}),
    );
    let body = r#"{"success": true, "metadata": {"total_elements": 1, "current_page": 1, "total_pages": 1}, "offset": 1, "limit": 200, "data": [{"type": "AbsencePeriod", "attributes": {"id": 12345, "employee": {"type": "Employee", "attributes": {"id": {"label": "ID", "value": 1}}}, "start": "2026-01-05T09:00:00Z"}}]}"#;
    h.fault(
        ToolKind::Personio,
        "/company/absence-periods",
        None,
        0,
        None,
        FaultAction::Status {
            code: 200,
            retry_after: None,
            body: Some(body.to_owned()),
        },
    );
    let run = h.sync(&id, SyncType::Full).await;
    assert!(FAILED.contains(&run.state), "{run:?}");
    let error = run.error.clone().unwrap_or_default();
    assert!(
        error.contains("absence-periods") && error.contains("12345"),
        "the error names the endpoint and the record: {error}"
    );
    assert_eq!(run.counts.deleted, 0, "{run:?}");
    assert_eq!(
        h.live(&id, Model::Absences).await.len(),
        live_before,
        "no absence swept"
    );

    h.sim.state.clear_faults(None);
    let run = h.sync(&id, SyncType::Full).await;
    assert_eq!(run.state, RunState::Succeeded, "{run:?}");
    let (deleted, live): (Vec<_>, Vec<_>) = h
        .records(&id, Model::Absences)
        .await
        .into_iter()
        .partition(|r| r.remote_deleted_at.is_some());
    let deleted: Vec<String> = deleted.into_iter().map(|r| r.id).collect();
    assert!(
        gone.iter().all(|g| deleted.contains(g)),
        "a clean run deletes both absences the source lost: {deleted:?}"
    );
    // The rest of what it deleted are the absences of the employee `prepared` deleted.
    let source: std::collections::BTreeSet<String> = {
        let c = h.sim.state.company(ToolKind::Personio);
        c.hris
            .absences
            .values()
            .map(|a| tributary_sim::tools::personio::absence_remote_id(&c, a))
            .collect()
    };
    let live: std::collections::BTreeSet<String> = live.into_iter().map(|r| r.remote_id).collect();
    assert_eq!(live, source, "every absence the source holds is live, none other");
}

crate::on_both_backends!(
    five_xx_rate_is_absorbed,
    server_errors_that_persist,
    truncated_json,
    malformed_json,
    empty_body,
    missing_required_field,
    wrong_type,
    endless_pagination,
    permanent_client_error,
    request_timeouts,
    credentials_revoked_mid_sync,
    transient_faults_are_retried,
    failed_absence_periods_delete_no_absence,
);
