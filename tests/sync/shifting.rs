//! Invariant I1 while the source moves: records deleted behind the cursor shift every later
//! record of an offset- or page-numbered listing up, so a complete listing skips live records.
//! A FULL (DEFAULT) must never mark those deleted, and must still mark every real deletion —
//! in the same run when it never saw the record, at worst in the next run when it saw it
//! before it went.
//!
//! The simulator's `mutate` fault changes the tool's data exactly as a chosen page request
//! arrives, so each case places deletions behind the cursor (the lowest ids, which the
//! id-ordered listings return first), a deletion ahead of it (the highest id) and insertions
//! (new records get the highest ids) at every page boundary of a stream, one FULL after
//! another. The simulated listings order by immutable ids, so records cannot be reordered
//! under the cursor here; confirmation does not depend on why a record was skipped.

use std::collections::BTreeSet;

use serde_json::{Value, json};
use tributary_model::{Model, RunState, SyncType, ToolKind};
use tributary_sim::FaultAction;

use crate::support::{Backend, Harness};

/// Remote ids of the records of `model` the mirror holds: (live, marked deleted).
async fn mirrored(h: &Harness, integration: &str, model: Model) -> (BTreeSet<String>, BTreeSet<String>) {
    let (deleted, live): (Vec<_>, Vec<_>) = h
        .records(integration, model)
        .await
        .into_iter()
        .partition(|r| r.remote_deleted_at.is_some());
    (
        live.into_iter().map(|r| r.remote_id).collect(),
        deleted.into_iter().map(|r| r.remote_id).collect(),
    )
}

/// The ids the simulated tool holds in one of its tables, as the mirror's remote ids.
fn ids_of<V>(
    h: &Harness,
    tool: ToolKind,
    table: impl Fn(&tributary_sim::company::Company) -> &std::collections::BTreeMap<u64, V>,
) -> BTreeSet<String> {
    table(&h.sim.state.company(tool)).keys().map(u64::to_string).collect()
}

fn personio_employees(h: &Harness) -> BTreeSet<String> {
    ids_of(h, ToolKind::Personio, |c| &c.hris.employees)
}

/// Day-based absences by their integer id, hour-based ones by their absence-period UUID.
fn personio_absences(h: &Harness) -> BTreeSet<String> {
    let c = h.sim.state.company(ToolKind::Personio);
    c.hris
        .absences
        .values()
        .map(|a| tributary_sim::tools::personio::absence_remote_id(&c, a))
        .collect()
}

/// The simulator's ids of the day-based (`hourly: false`) or hour-based absences, which their
/// lists return in this order.
fn personio_absence_ids(h: &Harness, hourly: bool) -> BTreeSet<String> {
    let c = h.sim.state.company(ToolKind::Personio);
    c.hris
        .absences
        .values()
        .filter(|a| (c.hris.absence_types[&a.absence_type_id].unit == "hours") == hourly)
        .map(|a| a.id.to_string())
        .collect()
}

fn greenhouse_candidates(h: &Harness) -> BTreeSet<String> {
    ids_of(h, ToolKind::Greenhouse, |c| &c.ats.candidates)
}

fn greenhouse_applications(h: &Harness) -> BTreeSet<String> {
    ids_of(h, ToolKind::Greenhouse, |c| &c.ats.applications)
}

fn bamboohr_employees(h: &Harness) -> BTreeSet<String> {
    ids_of(h, ToolKind::Bamboohr, |c| &c.hris.employees)
}

/// The `n` lowest ids of `ids` (what an id-ordered listing has already returned: deleting them
/// shifts the rest up) and the highest (not yet returned: deleting it is a deletion ahead of
/// the cursor, which the run should mark at once).
fn lowest(ids: &BTreeSet<String>, n: usize) -> Vec<u64> {
    let mut numeric: Vec<u64> = ids.iter().map(|id| id.parse().expect("numeric id")).collect();
    numeric.sort_unstable();
    let highest = numeric.last().copied();
    numeric.truncate(n);
    numeric.extend(highest);
    numeric
}

/// Asserts no record live at the source is marked deleted in the mirror (a false deletion)
/// and — once `settled` — that the mirror's live records are exactly the source's. A record
/// created ahead of the cursor after the run passed may be missing until the next run; that
/// is not a deletion.
async fn assert_mirrors(what: &str, h: &Harness, integration: &str, case: &Case, settled: bool) {
    let source = (case.source)(h);
    let (live, deleted) = mirrored(h, integration, case.model).await;
    let falsely_deleted: Vec<&String> = source.intersection(&deleted).collect();
    assert!(
        falsely_deleted.is_empty(),
        "{what}: live at the source but marked deleted in the mirror: {falsely_deleted:?}"
    );
    if settled {
        assert_eq!(live, source, "{what}: the mirror's live records are the source's");
    }
}

/// One stream of one tool, with the page requests where the world moves.
struct Case {
    tool: ToolKind,
    model: Model,
    /// Per page boundary: the request's path and what its query contains.
    boundaries: Vec<(&'static str, String)>,
    source: fn(&Harness) -> BTreeSet<String>,
    /// The mutations applied as that page is requested, from the source as it is then.
    moves: fn(&Harness) -> Vec<Value>,
}

async fn run_case(h: &Harness, integration: &str, case: &Case) {
    let first = h.sync(integration, SyncType::Full).await;
    assert_eq!(first.state, RunState::Succeeded, "{first:?}");
    assert_mirrors("after the first FULL", h, integration, case, true).await;
    // Each boundary twice: the second FULL moves the world again while the first one's
    // deletions are still to be marked.
    for round in 0..2 {
        for (path, boundary) in &case.boundaries {
            let mutations: Vec<tributary_sim::Mutation> = (case.moves)(h)
                .into_iter()
                .map(|m| serde_json::from_value(m).expect("mutation"))
                .collect();
            h.fault(
                case.tool,
                path,
                Some(boundary),
                0,
                Some(1),
                FaultAction::Mutate { mutations },
            );
            let run = h.sync(integration, SyncType::Full).await;
            assert_eq!(run.state, RunState::Succeeded, "{run:?}");
            assert_eq!(run.counts.unconfirmed, 0, "{run:?}");
            let what = format!("{} round {round}, world moved at `{path}?{boundary}`", case.model);
            assert_mirrors(&what, h, integration, case, false).await;
        }
    }
    // The next run marks what the moving runs saw before it went.
    let settle = h.sync(integration, SyncType::Full).await;
    assert_eq!(settle.state, RunState::Succeeded, "{settle:?}");
    assert_mirrors("after a FULL of a still source", h, integration, case, true).await;
}

async fn personio_employees_shift(b: Backend) {
    // 250 employees: three pages of 100.
    let Some(h) = Harness::start(b, &[ToolKind::Personio], 250).await else {
        return;
    };
    let id = h.connect(ToolKind::Personio).await;
    run_case(
        &h,
        &id,
        &Case {
            tool: ToolKind::Personio,
            model: Model::Employees,
            boundaries: vec![
                ("/v1/company/employees", "offset=100".into()),
                ("/v1/company/employees", "offset=200".into()),
            ],
            source: personio_employees,
            moves: |h| {
                let mut moves: Vec<Value> = lowest(&personio_employees(h), 3)
                    .into_iter()
                    .map(|e| json!({"kind": "delete_employee", "employee_id": e}))
                    .collect();
                moves.push(json!({"kind": "hire"}));
                moves
            },
        },
    )
    .await;
    // Confirmation looked the skipped employees up one by one (Personio has the endpoint).
    let lookups = h
        .requests(ToolKind::Personio, "/v1/company/employees/")
        .into_iter()
        .filter(|r| !r.path.contains("/absences/"))
        .count();
    assert!(lookups > 0, "skipped employees were confirmed by single-record lookups");
}

async fn personio_absences_shift(b: Backend) {
    // Two lists, one stream: time-offs (day-based) then absence periods (hour-based), both
    // paged by page number from 1, 200 a page. 1,100 employees make several pages of each, so
    // the boundaries are the requests for every page after the first of time-offs, the first
    // page of absence periods (the switch from one list to the other) and every later one.
    let Some(h) = Harness::start(b, &[ToolKind::Personio], 1_100).await else {
        return;
    };
    // Balances (a request per employee, 1,100 a run) have nothing to do with this case: the
    // customer opts out of them.
    let scope: tributary_model::ScopeConfig = serde_json::from_value(json!({"read_models": [
        {"id": "hris_time_off_balances", "scope_config_setting": "OPTIONAL", "opted_out_by_customer": true}
    ]}))
    .expect("scope");
    let id = h.connect_with_scope(ToolKind::Personio, scope).await;
    let time_off_pages = personio_absence_ids(&h, false).len().div_ceil(200);
    let period_pages = personio_absence_ids(&h, true).len().div_ceil(200);
    assert!(
        time_off_pages >= 2 && period_pages >= 2,
        "the company has {time_off_pages} page(s) of time-offs, {period_pages} of absence periods"
    );
    let mut boundaries: Vec<(&'static str, String)> = (2..=time_off_pages)
        .map(|p| ("/v1/company/time-offs", format!("offset={p}")))
        .collect();
    boundaries.extend((1..=period_pages).map(|p| ("/v1/company/absence-periods", format!("&offset={p}"))));
    run_case(
        &h,
        &id,
        &Case {
            tool: ToolKind::Personio,
            model: Model::Absences,
            boundaries,
            source: personio_absences,
            // Behind and ahead of the cursor in both lists, wherever it is.
            moves: |h| {
                let mut ids = lowest(&personio_absence_ids(h, false), 2);
                ids.extend(lowest(&personio_absence_ids(h, true), 2));
                ids.into_iter()
                    .map(|a| json!({"kind": "delete_absence", "absence_id": a}))
                    .collect()
            },
        },
    )
    .await;
    // Skipped hour-based absences were confirmed through the list's id filter.
    let by_id = h
        .requests(ToolKind::Personio, "/v1/company/absence-periods")
        .into_iter()
        .filter(|r| r.query.contains("absence_periods"))
        .count();
    assert!(by_id > 0, "hour-based candidates were looked up by id");
}

async fn greenhouse_candidates_shift(b: Backend) {
    // 1,100 candidates: three pages of 500.
    let Some(h) = Harness::start(b, &[ToolKind::Greenhouse], 1_100).await else {
        return;
    };
    let id = h.connect(ToolKind::Greenhouse).await;
    run_case(
        &h,
        &id,
        &Case {
            tool: ToolKind::Greenhouse,
            model: Model::Candidates,
            // Harvest v3 pages by an opaque cursor, newest id first: the world moves as the
            // second page is asked for, and again as the next stream starts.
            boundaries: vec![
                ("/v3/candidates", "cursor=".into()),
                ("/v3/applications", "per_page=".into()),
            ],
            source: greenhouse_candidates,
            moves: |h| {
                let mut moves: Vec<Value> = lowest(&greenhouse_candidates(h), 3)
                    .into_iter()
                    .map(|c| json!({"kind": "delete_candidate", "candidate_id": c}))
                    .collect();
                moves.push(json!({"kind": "new_candidate"}));
                moves
            },
        },
    )
    .await;
}

async fn greenhouse_applications_shift(b: Backend) {
    let Some(h) = Harness::start(b, &[ToolKind::Greenhouse], 1_100).await else {
        return;
    };
    let id = h.connect(ToolKind::Greenhouse).await;
    run_case(
        &h,
        &id,
        &Case {
            tool: ToolKind::Greenhouse,
            model: Model::Applications,
            boundaries: vec![
                ("/v3/applications", "cursor=".into()),
                ("/v3/interviews", "per_page=".into()),
            ],
            source: greenhouse_applications,
            // Deleting the oldest candidates removes the oldest applications, ahead of the cursor
            // (v3 lists newest first).
            moves: |h| {
                lowest(&greenhouse_candidates(h), 3)
                    .into_iter()
                    .map(|c| json!({"kind": "delete_candidate", "candidate_id": c}))
                    .collect()
            },
        },
    )
    .await;
}

async fn bamboohr_employees_move(b: Backend) {
    let Some(h) = Harness::start(b, &[ToolKind::Bamboohr], 120).await else {
        return;
    };
    let id = h.connect(ToolKind::Bamboohr).await;
    run_case(
        &h,
        &id,
        &Case {
            tool: ToolKind::Bamboohr,
            model: Model::Employees,
            // The employee report is one response: the world moves as it is asked for (the
            // deleted employees are never seen), and again as the job-info table that follows
            // it is (they were seen; the next run marks them).
            boundaries: vec![
                ("/v1/reports/custom", String::new()),
                ("/v1/employees/all/tables/jobInfo", String::new()),
            ],
            source: bamboohr_employees,
            moves: |h| {
                let mut moves: Vec<Value> = lowest(&bamboohr_employees(h), 2)
                    .into_iter()
                    .map(|e| json!({"kind": "delete_employee", "employee_id": e}))
                    .collect();
                moves.push(json!({"kind": "hire"}));
                moves
            },
        },
    )
    .await;
}

/// Employees deleted behind the cursor: the next page skips as many live ones.
fn delete_lowest_employees(h: &Harness, tool: ToolKind, n: usize) -> Vec<tributary_sim::Mutation> {
    let ids = match tool {
        ToolKind::Greenhouse => greenhouse_candidates(h),
        _ => personio_employees(h),
    };
    lowest(&ids, n)
        .into_iter()
        .take(n)
        .map(|id| {
            let m = match tool {
                ToolKind::Greenhouse => json!({"kind": "delete_candidate", "candidate_id": id}),
                _ => json!({"kind": "delete_employee", "employee_id": id}),
            };
            serde_json::from_value(m).expect("mutation")
        })
        .collect()
}

/// A run whose candidates the source cannot answer for deletes none of them and says so; the
/// next run, with the source answering again, marks only the real deletions.
async fn unconfirmable_candidates_stay_live(b: Backend) {
    let Some(h) = Harness::start(b, &[ToolKind::Personio], 250).await else {
        return;
    };
    // Balances ask a path under each employee too; keep them out of the way of the lookup fault.
    let scope: tributary_model::ScopeConfig = serde_json::from_value(json!({"read_models": [
        {"id": "hris_time_off_balances", "scope_config_setting": "DISABLED"}
    ]}))
    .unwrap();
    let id = h.connect_with_scope(ToolKind::Personio, scope).await;
    assert_eq!(h.sync(&id, SyncType::Full).await.state, RunState::Succeeded);
    let before = personio_employees(&h);

    let mutations = delete_lowest_employees(&h, ToolKind::Personio, 3);
    h.fault(
        ToolKind::Personio,
        "/v1/company/employees",
        Some("offset=100"),
        0,
        Some(1),
        FaultAction::Mutate { mutations },
    );
    // Every single-record request fails: the tool is down for lookups.
    h.fault(
        ToolKind::Personio,
        "/v1/company/employees/",
        None,
        0,
        None,
        crate::support::status(503),
    );
    let run = h.sync(&id, SyncType::Full).await;
    assert_eq!(run.state, RunState::Succeeded, "{run:?}");
    assert!(
        run.counts.unconfirmed >= 3,
        "the skipped employees are counted: {run:?}"
    );
    let (live, deleted) = mirrored(&h, &id, Model::Employees).await;
    assert!(deleted.is_empty(), "no employee deleted without proof: {deleted:?}");
    assert_eq!(live, before, "every employee the mirror had stays live");

    h.sim.state.clear_faults(None);
    let next = h.sync(&id, SyncType::Full).await;
    assert_eq!(next.state, RunState::Succeeded, "{next:?}");
    assert_eq!(next.counts.unconfirmed, 0, "{next:?}");
    let (live, deleted) = mirrored(&h, &id, Model::Employees).await;
    assert_eq!(live, personio_employees(&h));
    assert_eq!(deleted.len(), 3, "exactly the three real deletions: {deleted:?}");
}

/// A run paused during its confirmation listing keeps its checkpoint past the last stream: it
/// resumes by confirming what is still a candidate, without listing the other streams again.
async fn paused_while_confirming_resumes_there(b: Backend) {
    let Some(h) = Harness::start(b, &[ToolKind::Greenhouse], 1_100).await else {
        return;
    };
    let id = h.connect(ToolKind::Greenhouse).await;
    let first = h.sync(&id, SyncType::Full).await;
    assert_eq!(first.state, RunState::Succeeded, "{first:?}");

    // Three candidates with interviews are deleted before the run; their applications and
    // interviews go with them. Harvest v3 looks candidates and applications up by `ids=`, but
    // has no lookup for interviews: the run confirms those by listing the interviews again.
    let with_interviews: Vec<u64> = {
        let company = h.sim.state.company(ToolKind::Greenhouse);
        let ats = &company.ats;
        let ids: BTreeSet<u64> = ats
            .interviews
            .values()
            .filter_map(|i| ats.applications.get(&i.application_id).map(|a| a.candidate_id))
            .collect();
        ids.into_iter().take(3).collect()
    };
    assert_eq!(with_interviews.len(), 3, "the company has candidates with interviews");
    for id in with_interviews {
        let mutation =
            serde_json::from_value(json!({"kind": "delete_candidate", "candidate_id": id})).expect("mutation");
        h.sim
            .state
            .mutate(ToolKind::Greenhouse, &mutation)
            .expect("candidate deleted");
    }
    // The confirmation listing's pages (after the run's own ones, as many as the first run
    // made) come slowly enough for a pause to land between them.
    let own_pages = h.requests(ToolKind::Greenhouse, "/v3/interviews").len() as u64;
    h.fault(
        ToolKind::Greenhouse,
        "/v3/interviews",
        None,
        own_pages,
        None,
        FaultAction::Latency { ms: 400 },
    );
    let (control, task) = h.spawn_sync(&id, SyncType::Full);
    crate::support::wait_for_pages(&control, first.counts.pages_fetched + 1).await;
    control.pause();
    let paused = task.await.unwrap().expect("a clean pause").run;
    assert_eq!(paused.state, RunState::Paused, "{paused:?}");
    assert!(
        paused.counts.pages_fetched > first.counts.pages_fetched,
        "paused in the confirmation listing, after every stream: {paused:?}"
    );
    assert_eq!(
        paused.checkpoint, first.checkpoint,
        "the confirmation listing keeps the checkpoint past the last stream"
    );
    let (_, deleted) = mirrored(&h, &id, Model::Candidates).await;
    assert!(deleted.is_empty(), "a paused run deletes nothing: {deleted:?}");

    h.sim.state.clear_faults(None);
    h.sim.state.clear_requests();
    let resumed = h.sync(&id, SyncType::Full).await;
    assert_eq!(resumed.id, paused.id, "the paused run itself resumed");
    assert_eq!(resumed.state, RunState::Succeeded, "{resumed:?}");
    // The resumed run only confirms (candidates, and the applications that went with the
    // deleted candidates); streams without candidates are not listed again.
    for stream in ["/v3/users", "/v3/jobs", "/v3/candidate_tags", "/v3/rejection_reasons"] {
        assert!(
            !h.requests(ToolKind::Greenhouse, stream)
                .iter()
                .any(|r| r.path == stream),
            "the resumed run listed {stream} again"
        );
    }
    let (_, deleted) = mirrored(&h, &id, Model::Candidates).await;
    let source = greenhouse_candidates(&h);
    assert!(source.is_disjoint(&deleted), "no false deletion: {deleted:?}");
}

crate::on_both_backends!(
    unconfirmable_candidates_stay_live,
    paused_while_confirming_resumes_there,
    personio_employees_shift,
    personio_absences_shift,
    greenhouse_candidates_shift,
    greenhouse_applications_shift,
    bamboohr_employees_move
);
