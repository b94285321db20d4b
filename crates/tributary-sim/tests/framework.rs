//! The simulator framework: generation, mutations, faults, the request log and the control
//! API. Fault and log tests serve a small test route through the same middleware the tool
//! routers get (`tributary_sim::gated`), over real HTTP on loopback, so they do not depend
//! on any tool module's behaviour.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::Json;
use axum::Router;
use axum::extract::Query;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use serde_json::{Value, json};
use tributary_model::ToolKind;
use tributary_sim::company::{Company, EmployeeStatus};
use tributary_sim::faults::{DEFAULT_TIMEOUT_MS, FaultAction, FaultRule};
use tributary_sim::generate::{self, ATS_FIRST_ID, epoch};
use tributary_sim::mutate::{self, Category};
use tributary_sim::{
    EmployeeField, Mutation, MutationError, RequestFilter, SimConfig, SimCredentials, SimState, Simulator, control,
    gated, generate_companies,
};

// ---------------------------------------------------------------------------------------
// Generation
// ---------------------------------------------------------------------------------------

/// A comparable rendering of a whole company (JSON cannot: balances are keyed by a tuple).
fn rendered(c: &Company) -> String {
    format!("{c:?}")
}

#[test]
fn generation_is_deterministic_per_seed() {
    let a = generate::company(7, 200);
    let b = generate::company(7, 200);
    assert_eq!(rendered(&a), rendered(&b));
    let c = generate::company(8, 200);
    assert_ne!(rendered(&a), rendered(&c));
    // Each half alone is exactly the full company's half.
    let hris = generate::hris_company(7, 200);
    let ats = generate::ats_company(7, 200);
    assert_eq!(format!("{:?}", hris.hris), format!("{:?}", a.hris));
    assert_eq!(format!("{:?}", ats.ats), format!("{:?}", a.ats));
    assert!(hris.ats.jobs.is_empty() && ats.hris.employees.is_empty());
}

/// Every shape the generator promises, for one company.
fn check_shapes(c: &Company, n: usize) {
    let h = &c.hris;
    let a = &c.ats;
    assert_eq!(h.employees.len(), n);
    assert_eq!(h.departments.len(), (n / 15).max(3));
    assert!(h.offices.len() >= 2);
    assert!((1..=3).contains(&h.legal_entities.len()));
    assert!((3..=5).contains(&h.absence_types.len()));
    assert_eq!(h.balances.len(), n * h.absence_types.len());
    assert_eq!(a.users.len(), (n / 20).max(3));
    assert_eq!(a.jobs.len(), (n / 10).max(3));
    assert_eq!(a.candidates.len(), n.max(10));
    assert_eq!(a.tags.len(), 10);
    assert_eq!(a.rejection_reasons.len(), 5);
    // About one absence per employee.
    let per_employee = h.absences.len() as f64 / n as f64;
    assert!(
        (0.7..1.4).contains(&per_employee),
        "absences per employee: {per_employee}"
    );

    let epoch = epoch();
    let mut ids = HashSet::new();
    let mut all_ids = |id: u64| assert!(ids.insert(id), "id {id} used twice");
    let mut emails = HashSet::new();
    let mut statuses = HashMap::new();
    for (id, e) in &h.employees {
        all_ids(*id);
        assert_eq!(*id, e.id);
        assert!(emails.insert(e.email.clone()), "duplicate email {}", e.email);
        assert!((1..=3).contains(&e.employments.len()));
        for w in e.employments.windows(2) {
            assert!(w[0].effective_date < w[1].effective_date, "employments are in order");
        }
        for emp in &e.employments {
            all_ids(emp.id);
        }
        assert_eq!(
            e.employments.last().map(|x| x.job_title.as_str()),
            Some(e.position.as_str())
        );
        if let Some(s) = e.supervisor_id {
            assert!(s < *id, "supervisors have lower ids");
            assert!(h.employees.contains_key(&s));
        }
        assert!((1..=2).contains(&e.custom.len()));
        assert_eq!(e.termination_date.is_some(), e.status == EmployeeStatus::Inactive);
        assert!(e.created_at <= e.updated_at && e.updated_at <= epoch);
        assert!(e.department_id.is_none_or(|d| h.departments.contains_key(&d)));
        assert!(e.office_id.is_none_or(|o| h.offices.contains_key(&o)));
        assert!(e.legal_entity_id.is_some_and(|l| h.legal_entities.contains_key(&l)));
        *statuses.entry(format!("{:?}", e.status)).or_insert(0usize) += 1;
    }
    assert_eq!(
        h.employees.values().filter(|e| e.supervisor_id.is_none()).count(),
        1,
        "one root"
    );
    if n >= 1000 {
        for status in ["Active", "Onboarding", "Leave", "Inactive"] {
            assert!(statuses.get(status).copied().unwrap_or(0) > 0, "no {status} employee");
        }
        assert!(statuses["Active"] > n / 2, "mostly active");
    }
    for id in h
        .departments
        .keys()
        .chain(h.offices.keys())
        .chain(h.legal_entities.keys())
    {
        all_ids(*id);
    }
    for id in h.absence_types.keys() {
        all_ids(*id);
    }
    for (id, ab) in &h.absences {
        all_ids(*id);
        assert!(h.employees.contains_key(&ab.employee_id));
        assert!(h.absence_types.contains_key(&ab.absence_type_id));
        assert!(ab.start_date <= ab.end_date);
        assert!(ab.created_at <= ab.updated_at && ab.updated_at <= epoch);
    }
    for ((e, t), b) in &h.balances {
        assert_eq!((b.employee_id, b.absence_type_id), (*e, *t));
        assert!(h.employees.contains_key(e) && h.absence_types.contains_key(t));
    }

    for id in a.users.keys().chain(a.tags.keys()).chain(a.rejection_reasons.keys()) {
        assert!(*id >= ATS_FIRST_ID);
        all_ids(*id);
    }
    for (id, job) in &a.jobs {
        all_ids(*id);
        assert!((4..=6).contains(&job.stages.len()));
        for s in &job.stages {
            all_ids(s.id);
        }
        assert_eq!(job.closed_at.is_some(), job.status == "closed");
    }
    for (id, cand) in &a.candidates {
        all_ids(*id);
        assert!((1..=2).contains(&cand.application_ids.len()));
        for app_id in &cand.application_ids {
            assert_eq!(a.applications.get(app_id).map(|x| x.candidate_id), Some(*id));
        }
        assert!(cand.tag_ids.iter().all(|t| a.tags.contains_key(t)));
    }
    for (id, app) in &a.applications {
        all_ids(*id);
        assert!(a.candidates[&app.candidate_id].application_ids.contains(id));
        let job = &a.jobs[&app.job_id];
        assert!(
            app.current_stage_id
                .is_some_and(|s| job.stages.iter().any(|st| st.id == s))
        );
        assert_eq!(app.rejection_reason_id.is_some(), app.status == "rejected");
        assert!(
            app.rejection_reason_id
                .is_none_or(|r| a.rejection_reasons.contains_key(&r))
        );
    }
    for (id, i) in &a.interviews {
        all_ids(*id);
        assert!(a.applications.contains_key(&i.application_id));
        assert!(i.interviewer_ids.iter().all(|u| a.users.contains_key(u)));
    }
    for (id, o) in &a.offers {
        all_ids(*id);
        assert_eq!(a.applications[&o.application_id].candidate_id, o.candidate_id);
    }
    assert!(!a.interviews.is_empty() && !a.offers.is_empty());
    let max_id = ids.iter().copied().max().unwrap_or(0);
    assert!(c.next_id > max_id, "next_id {} not beyond {max_id}", c.next_id);
}

#[test]
fn small_companies_have_the_promised_shapes() {
    check_shapes(&generate::company(1, 10), 10);
    check_shapes(&generate::company(2, 1_000), 1_000);
}

#[test]
fn a_hundred_thousand_employees_generate_quickly() {
    let started = Instant::now();
    let c = generate::company(3, 100_000);
    let took = started.elapsed();
    check_shapes(&c, 100_000);
    // A debug build; a release build is several times faster. Linear work keeps 1M in
    // well under a minute.
    assert!(took < Duration::from_secs(30), "took {took:?}");
}

// ---------------------------------------------------------------------------------------
// Mutations
// ---------------------------------------------------------------------------------------

#[test]
fn hris_mutations_change_what_they_say() {
    let mut c = generate::hris_company(5, 50);
    let before = chrono::Utc::now() - chrono::Duration::seconds(1);
    let types = c.hris.absence_types.len();

    let hired = mutate::apply(
        &mut c,
        &Mutation::Hire {
            first_name: Some("Ada".into()),
            last_name: Some("Lovelace".into()),
            department_id: None,
            supervisor_id: None,
            hire_date: None,
        },
    )
    .unwrap();
    let [new_id] = hired.created_ids("employee")[..] else {
        panic!("one employee: {hired:?}")
    };
    let e = &c.hris.employees[&new_id];
    assert_eq!((e.first_name.as_str(), e.last_name.as_str()), ("Ada", "Lovelace"));
    assert_eq!(e.employments.len(), 1);
    assert!(e.updated_at >= before);
    assert_eq!(c.hris.balances.range((new_id, 0)..=(new_id, u64::MAX)).count(), types);
    assert_eq!(hired.created.iter().filter(|r| r.entity() == "balance").count(), types);
    assert!(c.next_id > new_id);

    let target = c
        .hris
        .employees
        .values()
        .filter(|e| e.status == EmployeeStatus::Active)
        .nth(5)
        .unwrap()
        .id;
    let edit = Mutation::EditEmployee {
        employee_id: target,
        field: EmployeeField::LastName,
        value: Some("Hopper".into()),
    };
    let out = mutate::apply(&mut c, &edit).unwrap();
    assert_eq!(out.updated_ids("employee"), vec![target]);
    assert_eq!(c.hris.employees[&target].last_name, "Hopper");
    assert!(c.hris.employees[&target].updated_at >= before);

    let pay_before = c.hris.employees[&target].employments.last().unwrap().pay_rate;
    mutate::apply(
        &mut c,
        &Mutation::ChangeEmployment {
            employee_id: target,
            pay_rate: None,
        },
    )
    .unwrap();
    let current = c.hris.employees[&target].employments.last().unwrap();
    assert!(current.pay_rate > pay_before && current.updated_at >= before);

    let count = c.hris.employees[&target].employments.len();
    let out = mutate::apply(
        &mut c,
        &Mutation::AddEmployment {
            employee_id: target,
            job_title: Some("Staff Engineer".into()),
            pay_rate: None,
        },
    )
    .unwrap();
    assert_eq!(out.created_ids("employment").len(), 1);
    assert_eq!(c.hris.employees[&target].employments.len(), count + 1);
    assert_eq!(c.hris.employees[&target].position, "Staff Engineer");

    mutate::apply(
        &mut c,
        &Mutation::Terminate {
            employee_id: target,
            termination_date: None,
        },
    )
    .unwrap();
    let e = &c.hris.employees[&target];
    assert_eq!(e.status, EmployeeStatus::Inactive);
    assert!(e.termination_date.is_some());

    let out = mutate::apply(
        &mut c,
        &Mutation::NewAbsence {
            employee_id: target,
            absence_type_id: None,
            start_date: None,
            days: Some(3),
            status: None,
        },
    )
    .unwrap();
    let [absence] = out.created_ids("absence")[..] else {
        panic!("{out:?}")
    };
    assert_eq!(c.hris.absences[&absence].days_count, 3.0);
    let type_id = c.hris.absences[&absence].absence_type_id;
    let balance = &c.hris.balances[&(target, type_id)];
    assert!(balance.updated_at >= before, "an approved absence moves the balance");

    let out = mutate::apply(
        &mut c,
        &Mutation::EditAbsence {
            absence_id: absence,
            status: None,
            comment: None,
        },
    )
    .unwrap();
    assert_eq!(out.updated_ids("absence"), vec![absence]);
    assert_eq!(c.hris.absences[&absence].days_count, 4.0);
    let used = c.hris.balances[&(target, type_id)].used;
    mutate::apply(&mut c, &Mutation::DeleteAbsence { absence_id: absence }).unwrap();
    assert!(!c.hris.absences.contains_key(&absence));
    assert_eq!(c.hris.balances[&(target, type_id)].used, used - 4.0);

    // Deleting a manager removes its data and moves its reports up.
    let manager = *c
        .hris
        .employees
        .values()
        .find(|e| e.supervisor_id.is_some())
        .unwrap()
        .supervisor_id
        .as_ref()
        .unwrap();
    let grand = c.hris.employees[&manager].supervisor_id;
    let reports: Vec<u64> = c
        .hris
        .employees
        .values()
        .filter(|e| e.supervisor_id == Some(manager))
        .map(|e| e.id)
        .collect();
    let out = mutate::apply(&mut c, &Mutation::DeleteEmployee { employee_id: manager }).unwrap();
    assert_eq!(out.deleted_ids("employee"), vec![manager]);
    assert!(!c.hris.employees.contains_key(&manager));
    assert!(c.hris.absences.values().all(|a| a.employee_id != manager));
    assert_eq!(c.hris.balances.range((manager, 0)..=(manager, u64::MAX)).count(), 0);
    assert_eq!(
        out.updated_ids("employee").into_iter().collect::<BTreeSet<_>>(),
        reports.iter().copied().collect()
    );
    for r in reports {
        assert_eq!(c.hris.employees[&r].supervisor_id, grand);
    }

    // Failures name the problem and change nothing.
    let err = mutate::apply(
        &mut c,
        &Mutation::DeleteEmployee {
            employee_id: 999_999_999,
        },
    )
    .unwrap_err();
    assert!(
        matches!(err, MutationError::NotFound { entity: "employee", .. }),
        "{err}"
    );
    let err = mutate::apply_for(
        &mut c,
        ToolKind::Greenhouse,
        &Mutation::DeleteEmployee { employee_id: target },
    )
    .unwrap_err();
    assert!(matches!(err, MutationError::WrongCategory { .. }), "{err}");
}

#[test]
fn ats_mutations_change_what_they_say() {
    let mut c = generate::ats_company(5, 100);
    let before = chrono::Utc::now() - chrono::Duration::seconds(1);

    let out = mutate::apply(
        &mut c,
        &Mutation::NewJob {
            name: Some("Rust Engineer".into()),
        },
    )
    .unwrap();
    let [job] = out.created_ids("job")[..] else {
        panic!("{out:?}")
    };
    let stages = c.ats.jobs[&job].stages.clone();
    assert!((4..=6).contains(&stages.len()));
    assert_eq!(out.created_ids("stage").len(), stages.len());

    let out = mutate::apply(
        &mut c,
        &Mutation::NewCandidate {
            job_id: Some(job),
            first_name: Some("Grace".into()),
            last_name: None,
        },
    )
    .unwrap();
    let [candidate] = out.created_ids("candidate")[..] else {
        panic!("{out:?}")
    };
    let [application] = out.created_ids("application")[..] else {
        panic!("{out:?}")
    };
    assert_eq!(c.ats.candidates[&candidate].application_ids, vec![application]);
    assert_eq!(c.ats.applications[&application].current_stage_id, Some(stages[0].id));

    // Walk the pipeline to its end: interviews on the way, an offer at the last stage.
    for (i, stage) in stages.iter().enumerate().skip(1) {
        let out = mutate::apply(
            &mut c,
            &Mutation::AdvanceApplication {
                application_id: application,
            },
        )
        .unwrap();
        assert_eq!(c.ats.applications[&application].current_stage_id, Some(stage.id));
        assert!(c.ats.applications[&application].updated_at >= before);
        if i + 1 == stages.len() {
            assert_eq!(out.created_ids("offer").len(), 1);
        } else {
            assert_eq!(out.created_ids("interview").len(), 1);
        }
    }
    let err = mutate::apply(
        &mut c,
        &Mutation::AdvanceApplication {
            application_id: application,
        },
    )
    .unwrap_err();
    assert!(err.to_string().contains("last stage"), "{err}");

    let out = mutate::apply(
        &mut c,
        &Mutation::RejectApplication {
            application_id: application,
            rejection_reason_id: None,
        },
    )
    .unwrap();
    assert_eq!(out.updated_ids("application"), vec![application]);
    let app = &c.ats.applications[&application];
    assert_eq!(app.status, "rejected");
    assert!(app.rejection_reason_id.is_some() && app.rejected_at.is_some());

    mutate::apply(
        &mut c,
        &Mutation::EditCandidate {
            candidate_id: candidate,
            field: tributary_sim::CandidateField::Title,
            value: Some("CTO".into()),
        },
    )
    .unwrap();
    assert_eq!(c.ats.candidates[&candidate].title.as_deref(), Some("CTO"));
    assert!(c.ats.candidates[&candidate].updated_at >= before);

    let out = mutate::apply(
        &mut c,
        &Mutation::DeleteCandidate {
            candidate_id: candidate,
        },
    )
    .unwrap();
    assert!(!c.ats.candidates.contains_key(&candidate));
    assert!(!c.ats.applications.contains_key(&application));
    assert!(c.ats.interviews.values().all(|i| i.application_id != application));
    assert!(c.ats.offers.values().all(|o| o.application_id != application));
    assert_eq!(out.deleted_ids("interview").len(), stages.len() - 2);
    assert_eq!(out.deleted_ids("offer").len(), 1);

    mutate::apply(&mut c, &Mutation::CloseJob { job_id: job }).unwrap();
    assert_eq!(c.ats.jobs[&job].status, "closed");
    assert!(mutate::apply(&mut c, &Mutation::CloseJob { job_id: job }).is_err());
}

#[test]
fn random_mutations_fit_the_tool_and_repeat_per_seed() {
    let base = generate::company(9, 300);
    let kinds = |outs: &[tributary_sim::MutationOutcome]| {
        outs.iter()
            .map(|o| (o.kind.clone(), o.created.clone(), o.updated.clone(), o.deleted.clone()))
            .collect::<Vec<_>>()
    };
    let mut a = base.clone();
    let mut b = base.clone();
    let first = mutate::random(&mut a, Category::Hris, 200, 11);
    let second = mutate::random(&mut b, Category::Hris, 200, 11);
    assert_eq!(first.len(), 200);
    assert_eq!(kinds(&first), kinds(&second));
    let hris_kinds: BTreeSet<&str> = first.iter().map(|o| o.kind.as_str()).collect();
    assert!(hris_kinds.len() >= 6, "a mix of mutations: {hris_kinds:?}");
    assert!(hris_kinds.iter().all(|k| {
        [
            "hire",
            "edit_employee",
            "change_employment",
            "add_employment",
            "terminate",
            "delete_employee",
            "edit_absence",
            "new_absence",
            "delete_absence",
        ]
        .contains(k)
    }));
    let ats = mutate::random(&mut a, Category::Ats, 200, 11);
    let ats_kinds: BTreeSet<&str> = ats.iter().map(|o| o.kind.as_str()).collect();
    assert!(ats_kinds.len() >= 5, "{ats_kinds:?}");
    assert!(ats_kinds.iter().all(|k| !hris_kinds.contains(k)));
    // Consistency survives mutation.
    for (id, cand) in &a.ats.candidates {
        for app in &cand.application_ids {
            assert_eq!(a.ats.applications[app].candidate_id, *id);
        }
    }
    assert!(
        a.ats
            .applications
            .values()
            .all(|x| a.ats.candidates[&x.candidate_id].application_ids.contains(&x.id))
    );
}

// ---------------------------------------------------------------------------------------
// Faults, the request log and the control API, over HTTP
// ---------------------------------------------------------------------------------------

/// A paginated test endpoint: `GET /v1/items?page=N` (1..=3) with a Link header.
fn test_routes() -> Router<SimState> {
    #[derive(serde::Deserialize)]
    struct Page {
        page: Option<u32>,
    }
    async fn items(Query(p): Query<Page>) -> impl IntoResponse {
        let page = p.page.unwrap_or(1);
        let data: Vec<Value> = (0..20)
            .map(|i| json!({ "id": page * 100 + i, "name": format!("item {i}") }))
            .collect();
        let link = format!("<http://sim/v1/items?page={}>; rel=\"next\"", page + 1);
        ([(header::LINK, link)], Json(json!({ "page": page, "data": data })))
    }
    Router::new()
        .route("/v1/items", get(items))
        .route("/v1/other", get(|| async { "other" }))
}

struct TestServer {
    state: SimState,
    addr: SocketAddr,
    http: reqwest::Client,
    task: tokio::task::JoinHandle<()>,
}

impl TestServer {
    async fn start() -> TestServer {
        let companies = generate_companies(4, 30, &[ToolKind::Personio, ToolKind::Greenhouse]);
        let state = SimState::new(companies, SimCredentials::default());
        let app = Router::new()
            .nest("/personio", gated(&state, ToolKind::Personio, test_routes()))
            .nest("/greenhouse", gated(&state, ToolKind::Greenhouse, test_routes()))
            .nest("/_control", control::router())
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        TestServer {
            state,
            addr,
            http: reqwest::Client::new(),
            task,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    async fn get(&self, path: &str) -> (u16, reqwest::header::HeaderMap, String) {
        let r = self.http.get(self.url(path)).send().await.unwrap();
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        (status, headers, r.text().await.unwrap())
    }

    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let r = self.http.post(self.url(path)).json(&body).send().await.unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        (
            status,
            if text.is_empty() {
                Value::Null
            } else {
                serde_json::from_str(&text).unwrap()
            },
        )
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[tokio::test]
async fn status_rules_skip_then_apply_the_given_number_of_times() {
    let s = TestServer::start().await;
    let rule = FaultRule::new(
        ToolKind::Personio,
        FaultAction::Status {
            code: 429,
            retry_after: Some("2".into()),
            body: None,
        },
    )
    .path("/v1/items")
    .skip(1)
    .times(2);
    let id = s.state.add_fault(rule).unwrap();

    let statuses: Vec<u16> = {
        let mut v = Vec::new();
        for _ in 0..4 {
            let (status, headers, _) = s.get("/personio/v1/items").await;
            if status == 429 {
                assert_eq!(headers.get("retry-after").unwrap(), "2");
            }
            v.push(status);
        }
        v
    };
    assert_eq!(statuses, vec![200, 429, 429, 200]);
    // Other paths and other tools are untouched.
    assert_eq!(s.get("/personio/v1/other").await.0, 200);
    assert_eq!(s.get("/greenhouse/v1/items").await.0, 200);
    let installed = s.state.fault_rule(id).unwrap();
    assert_eq!((installed.matched, installed.applied), (4, 2));

    let log = s
        .state
        .requests(&RequestFilter::tool(ToolKind::Personio).path("/v1/items"));
    assert_eq!(
        log.iter().map(|e| e.status).collect::<Vec<_>>(),
        vec![200, 429, 429, 200]
    );
    assert_eq!(log.iter().filter(|e| e.fault_applied()).count(), 2);
    assert!(log.iter().all(|e| e.method == "GET" && e.path == "/v1/items"));
}

#[tokio::test]
async fn query_matchers_and_rule_order() {
    let s = TestServer::start().await;
    // Two rules due on the same request: the first acts, the second only counts it.
    s.state
        .add_fault(
            FaultRule::new(
                ToolKind::Personio,
                FaultAction::Status {
                    code: 503,
                    retry_after: None,
                    body: None,
                },
            )
            .query("page=2")
            .times(1),
        )
        .unwrap();
    s.state
        .add_fault(
            FaultRule::new(
                ToolKind::Personio,
                FaultAction::Status {
                    code: 500,
                    retry_after: None,
                    body: Some("boom".into()),
                },
            )
            .query("page=2")
            .times(1),
        )
        .unwrap();
    assert_eq!(s.get("/personio/v1/items?page=1").await.0, 200);
    assert_eq!(s.get("/personio/v1/items?page=2").await.0, 503);
    let (status, _, body) = s.get("/personio/v1/items?page=2").await;
    assert_eq!((status, body.as_str()), (500, "boom"));
    assert_eq!(s.get("/personio/v1/items?page=2").await.0, 200);
}

#[tokio::test]
async fn body_faults_break_the_body_but_not_the_status() {
    let s = TestServer::start().await;
    let (_, _, full) = s.get("/personio/v1/items?page=1").await;

    s.state
        .add_fault(FaultRule::new(ToolKind::Personio, FaultAction::Truncate).times(1))
        .unwrap();
    let (status, _, cut) = s.get("/personio/v1/items?page=1").await;
    assert_eq!(status, 200);
    assert_eq!(cut.len(), full.len() / 2);
    assert!(full.starts_with(&cut));
    assert!(serde_json::from_str::<Value>(&cut).is_err());

    s.state
        .add_fault(FaultRule::new(ToolKind::Personio, FaultAction::Malformed).times(1))
        .unwrap();
    let (status, headers, body) = s.get("/personio/v1/items").await;
    assert_eq!(status, 200);
    assert_eq!(headers.get("content-type").unwrap(), "application/json");
    assert!(serde_json::from_str::<Value>(&body).is_err());

    s.state
        .add_fault(FaultRule::new(ToolKind::Personio, FaultAction::EmptyBody).times(1))
        .unwrap();
    let (status, _, body) = s.get("/personio/v1/items").await;
    assert_eq!((status, body.as_str()), (200, ""));

    // All used up: normal service again.
    assert_eq!(s.get("/personio/v1/items?page=1").await.2, full);
}

#[tokio::test]
async fn repeat_page_serves_the_previous_page_again() {
    let s = TestServer::start().await;
    s.state
        .add_fault(
            FaultRule::new(ToolKind::Personio, FaultAction::RepeatPage)
                .path("/v1/items")
                .times(1),
        )
        .unwrap();
    assert!(s.state.pagination_loop(ToolKind::Personio, "/v1/items"));
    assert!(!s.state.pagination_loop(ToolKind::Personio, "/v1/other"));
    let (_, h1, p1) = s.get("/personio/v1/items?page=1").await;
    let (status, h2, p2) = s.get("/personio/v1/items?page=2").await;
    assert_eq!(status, 200);
    assert_eq!(p2, p1, "page 2 repeats page 1");
    assert_eq!(h2.get("link"), h1.get("link"), "so does its next link");
    let (_, _, p3) = s.get("/personio/v1/items?page=3").await;
    assert!(p3.contains("\"page\":3"));
    assert!(!s.state.pagination_loop(ToolKind::Personio, "/v1/items"), "used up");
}

#[tokio::test]
async fn latency_rules_and_tool_latency_delay_answers() {
    let s = TestServer::start().await;
    s.state
        .add_fault(FaultRule::new(ToolKind::Personio, FaultAction::Latency { ms: 300 }).times(1))
        .unwrap();
    let started = Instant::now();
    assert_eq!(s.get("/personio/v1/items").await.0, 200);
    assert!(started.elapsed() >= Duration::from_millis(300));

    let (status, _) = s
        .post("/_control/latency", json!({ "tool": "greenhouse", "ms": 200 }))
        .await;
    assert_eq!(status, 204);
    let started = Instant::now();
    for _ in 0..2 {
        assert_eq!(s.get("/greenhouse/v1/items").await.0, 200);
    }
    assert!(started.elapsed() >= Duration::from_millis(400));
    s.state.set_latency(ToolKind::Greenhouse, 0);
    let started = Instant::now();
    s.get("/greenhouse/v1/items").await;
    assert!(started.elapsed() < Duration::from_millis(200));
}

#[tokio::test]
async fn timeouts_hang_and_are_still_logged() {
    let s = TestServer::start().await;
    s.state
        .add_fault(FaultRule::new(ToolKind::Personio, FaultAction::Timeout { ms: Some(400) }).times(1))
        .unwrap();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_millis(100))
        .build()
        .unwrap();
    let err = client.get(s.url("/personio/v1/items")).send().await.unwrap_err();
    assert!(err.is_timeout(), "{err}");
    let deadline = Instant::now() + Duration::from_secs(3);
    let filter = RequestFilter::tool(ToolKind::Personio);
    while s.state.request_count(&filter) == 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let log = s.state.requests(&filter);
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].fault.as_ref().map(|f| f.action.as_str()), Some("timeout"));
    assert!([499, 504].contains(&log[0].status), "{}", log[0].status);
    assert_eq!(DEFAULT_TIMEOUT_MS, 120_000);
}

#[tokio::test]
async fn the_request_log_filters_and_skips_control_calls() {
    let s = TestServer::start().await;
    for page in 1..=3 {
        s.get(&format!("/personio/v1/items?page={page}")).await;
    }
    let mark = s.state.last_request_seq();
    s.get("/greenhouse/v1/other").await;
    s.get("/_control/health").await;

    let all = s.state.requests(&RequestFilter::default());
    assert_eq!(all.len(), 4, "control calls are not logged");
    assert!(all.windows(2).all(|w| w[0].seq + 1 == w[1].seq));
    // Each page exactly once; an endpoint never requested.
    for page in 1..=3 {
        let f = RequestFilter::tool(ToolKind::Personio)
            .path("/v1/items")
            .query(format!("page={page}"));
        assert_eq!(s.state.request_count(&f), 1);
    }
    assert_eq!(
        s.state
            .request_count(&RequestFilter::tool(ToolKind::Personio).path("/v1/other")),
        0
    );
    let after = s.state.requests(&RequestFilter::default().since(mark));
    assert_eq!(after.len(), 1);
    assert_eq!(
        (after[0].tool, after[0].path.as_str()),
        (ToolKind::Greenhouse, "/v1/other")
    );

    // The same over HTTP.
    let (status, _, body) = s
        .get(&format!(
            "/_control/log?tool=personio&path_contains=items&since_seq={}",
            mark - 2
        ))
        .await;
    assert_eq!(status, 200);
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["entries"].as_array().unwrap().len(), 2);
    assert_eq!(body["last_seq"], json!(mark + 1));
    let r = s.http.delete(s.url("/_control/log")).send().await.unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(s.state.request_count(&RequestFilter::default()), 0);
    s.get("/personio/v1/items").await;
    assert_eq!(
        s.state.requests(&RequestFilter::default())[0].seq,
        mark + 2,
        "sequence numbers keep counting"
    );
}

#[tokio::test]
async fn control_api_manages_faults_mutations_and_stats() {
    let s = TestServer::start().await;
    let (status, body) = s
        .post(
            "/_control/faults",
            json!({ "tool": "personio", "path_contains": "/v1/items", "times": 1,
                    "action": { "type": "status", "code": 503, "retry_after": "Wed, 21 Oct 2015 07:28:00 GMT" } }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let id = body["id"].as_u64().unwrap();
    let (status, headers, _) = s.get("/personio/v1/items").await;
    assert_eq!(status, 503);
    assert_eq!(headers.get("retry-after").unwrap(), "Wed, 21 Oct 2015 07:28:00 GMT");
    let (_, _, list) = s.get("/_control/faults").await;
    let list: Value = serde_json::from_str(&list).unwrap();
    assert_eq!(list["rules"][0]["id"], json!(id));
    assert_eq!(list["rules"][0]["applied"], json!(1));
    assert_eq!(list["rules"][0]["action"]["type"], json!("status"));
    s.post(
        "/_control/faults",
        json!({ "tool": "greenhouse", "action": { "type": "truncate" } }),
    )
    .await;
    let r = s
        .http
        .delete(s.url("/_control/faults?tool=personio"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let rules = s.state.fault_rules();
    assert_eq!(rules.len(), 1);
    assert_eq!(rules[0].rule.tool, ToolKind::Greenhouse);
    let r = s
        .http
        .delete(s.url(&format!("/_control/faults/{}", rules[0].id)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert!(s.state.fault_rules().is_empty());

    // Bad input is a 400 naming the problem.
    for (path, body, needle) in [
        (
            "/_control/faults",
            json!({ "tool": "workday", "action": { "type": "timeout" } }),
            "workday",
        ),
        (
            "/_control/faults",
            json!({ "tool": "personio", "action": { "type": "explode" } }),
            "explode",
        ),
        (
            "/_control/faults",
            json!({ "tool": "personio", "action": { "type": "status", "code": 1000 } }),
            "1000",
        ),
        (
            "/_control/faults",
            json!({ "tool": "bamboohr", "action": { "type": "truncate" } }),
            "not served",
        ),
        ("/_control/latency", json!({ "tool": "personio" }), "ms"),
        (
            "/_control/mutate",
            json!({ "tool": "personio", "kind": "fire_everyone" }),
            "fire_everyone",
        ),
        (
            "/_control/mutate",
            json!({ "tool": "personio", "kind": "terminate", "employee_id": 1 }),
            "employee 1",
        ),
        (
            "/_control/mutate",
            json!({ "tool": "greenhouse", "kind": "hire" }),
            "HRIS",
        ),
        ("/_control/mutate/random", json!({ "tool": "personio" }), "count"),
    ] {
        let (status, answer) = s.post(path, body.clone()).await;
        assert_eq!(status, 400, "{path} {body} -> {answer}");
        let message = answer["error"].as_str().unwrap_or_default();
        assert!(
            message.contains(needle),
            "{path} {body}: `{message}` should mention `{needle}`"
        );
    }
    let (status, _, answer) = s.get("/_control/log?since_seq=yesterday").await;
    assert_eq!(status, 400);
    assert!(answer.contains("since_seq"), "{answer}");

    // Mutations over HTTP.
    let employee = *s
        .state
        .company(ToolKind::Personio)
        .hris
        .employees
        .keys()
        .next()
        .unwrap();
    let (status, out) = s
        .post(
            "/_control/mutate",
            json!({ "tool": "personio", "kind": "edit_employee", "employee_id": employee,
                    "field": "first_name", "value": "Margaret" }),
        )
        .await;
    assert_eq!(status, 200, "{out}");
    assert_eq!(out["kind"], json!("edit_employee"));
    assert_eq!(out["updated"], json!([{ "entity": "employee", "id": employee }]));
    assert_eq!(
        s.state.company(ToolKind::Personio).hris.employees[&employee].first_name,
        "Margaret"
    );
    let (status, out) = s
        .post(
            "/_control/mutate/random",
            json!({ "tool": "greenhouse", "count": 7, "seed": 3 }),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(out["mutations"].as_array().unwrap().len(), 7);

    let (status, _, stats) = s.get("/_control/stats").await;
    assert_eq!(status, 200);
    let stats: Value = serde_json::from_str(&stats).unwrap();
    assert_eq!(stats["personio"]["employees"], json!(30));
    assert!(stats["greenhouse"]["candidates"].as_u64().unwrap() >= 30);
    assert!(stats.get("bamboohr").is_none());
    let (_, _, one) = s.get("/_control/stats?tool=greenhouse").await;
    assert_eq!(
        serde_json::from_str::<Value>(&one).unwrap().as_object().unwrap().len(),
        1
    );

    let (status, _) = s
        .post("/_control/revoke", json!({ "tool": "personio", "revoked": true }))
        .await;
    assert_eq!(status, 204);
    assert!(s.state.is_revoked(ToolKind::Personio));
    s.post("/_control/revoke", json!({ "tool": "personio", "revoked": false }))
        .await;
    assert!(!s.state.is_revoked(ToolKind::Personio));
}

// ---------------------------------------------------------------------------------------
// The whole simulator
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn simulator_serves_each_tool_its_half_of_the_company() {
    let sim = Simulator::start(
        SimConfig {
            employees: 40,
            ..SimConfig::default()
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let personio = sim.state.company(ToolKind::Personio).clone();
    let bamboohr = sim.state.company(ToolKind::Bamboohr).clone();
    let greenhouse = sim.state.company(ToolKind::Greenhouse).clone();
    assert_eq!(personio.hris.employees.len(), 40);
    assert_eq!(rendered(&personio), rendered(&bamboohr));
    assert!(personio.ats.candidates.is_empty());
    assert!(greenhouse.hris.employees.is_empty() && greenhouse.ats.candidates.len() == 40);

    let http = reqwest::Client::new();
    let health: Value = http
        .get(format!("{}/health", sim.control_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        health,
        json!({ "status": "ok", "tools": ["personio", "greenhouse", "bamboohr"] })
    );
    // Whatever the tool modules answer, every request to a tool is logged.
    let r = http
        .get(format!("{}/v1/company/employees", sim.base_url(ToolKind::Personio)))
        .send()
        .await
        .unwrap();
    let log = sim.state.requests(&RequestFilter::tool(ToolKind::Personio));
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].path, "/v1/company/employees");
    assert_eq!(log[0].status, r.status().as_u16());

    // Shutting down does not wait for a request hanging in a timeout fault.
    sim.state
        .add_fault(FaultRule::new(ToolKind::Greenhouse, FaultAction::Timeout { ms: None }))
        .unwrap();
    let hanging = tokio::spawn({
        let url = format!("{}/v1/users", sim.base_url(ToolKind::Greenhouse));
        async move { reqwest::get(url).await.map(|r| r.status().as_u16()) }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    sim.shutdown().await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "shutdown took {:?}",
        started.elapsed()
    );
    let answered = tokio::time::timeout(Duration::from_secs(5), hanging)
        .await
        .unwrap()
        .unwrap();
    assert!(answered.is_err() || answered.is_ok_and(|s| s == 504));
}

#[tokio::test]
async fn the_background_mutator_keeps_changing_the_data() {
    let config = SimConfig {
        employees: 30,
        tools: vec![ToolKind::Personio, ToolKind::Greenhouse],
        mutate_every: Some(Duration::from_millis(50)),
        mutations_per_tick: 3,
        ..SimConfig::default()
    };
    let sim = Simulator::start(config, "127.0.0.1:0".parse().unwrap()).await.unwrap();
    assert!(!sim.state.has_tool(ToolKind::Bamboohr));
    let started = chrono::Utc::now() - chrono::Duration::milliseconds(1);
    tokio::time::sleep(Duration::from_millis(400)).await;
    let recent_employees = sim
        .state
        .company(ToolKind::Personio)
        .hris
        .employees
        .values()
        .filter(|e| e.updated_at >= started)
        .count();
    let recent_candidates = {
        let c = sim.state.company(ToolKind::Greenhouse);
        c.ats.applications.values().filter(|a| a.updated_at >= started).count()
            + c.ats.candidates.values().filter(|x| x.updated_at >= started).count()
            + c.ats.jobs.values().filter(|j| j.updated_at >= started).count()
    };
    assert!(recent_employees > 0, "HRIS data changed");
    assert!(recent_candidates > 0, "ATS data changed");
    sim.shutdown().await;
}

/// The largest size the simulator supports; slow in a debug build, so run on demand:
/// `cargo test -p tributary-sim --test framework -- --ignored`.
#[test]
#[ignore]
fn a_million_employees() {
    let started = Instant::now();
    let companies = generate_companies(1, 1_000_000, ToolKind::ALL);
    eprintln!("generated 1M employees for all tools in {:?}", started.elapsed());
    assert_eq!(companies[&ToolKind::Personio].hris.employees.len(), 1_000_000);
    assert_eq!(companies[&ToolKind::Greenhouse].ats.candidates.len(), 1_000_000);
}

#[test]
#[ignore]
fn a_million_employees_hris_only() {
    let started = Instant::now();
    let c = generate::hris_company(1, 1_000_000);
    eprintln!("generated 1M HRIS employees in {:?}", started.elapsed());
    assert_eq!(c.hris.employees.len(), 1_000_000);
}
