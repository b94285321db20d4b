//! The BambooHR connector against the simulated BambooHR over real HTTP.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use chrono::{NaiveDate, TimeZone, Utc};
use futures::StreamExt;
use serde_json::{Value, json};
use tributary_connectors::BambooHrConnector;
use tributary_model::{IdGen, Model, SourceRecord, ToolKind};
use tributary_sim::company::{
    Absence, AbsenceType, Balance, Company, Department, Employee, EmployeeStatus, Employment, LegalEntity, Office,
};
use tributary_sim::faults::{FaultAction, FaultRule};
use tributary_sim::{SimConfig, Simulator};
use tributary_source::{ClientConfig, Connector, FetchMode, SourceClient, SourceError, Stream};
use url::Url;

const TOOL: ToolKind = ToolKind::Bamboohr;

fn client() -> SourceClient {
    SourceClient::new(ClientConfig {
        min_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(50),
        max_attempts: 3,
        requests_per_second: None,
        ..ClientConfig::default()
    })
    .expect("client")
}

fn ids() -> IdGen {
    IdGen::new("bamboohr:test")
}

fn connector(sim: &Simulator) -> BambooHrConnector {
    connector_with(sim, &sim.integration_credentials(TOOL))
}

fn connector_with(sim: &Simulator, credentials: &Value) -> BambooHrConnector {
    let url = Url::parse(&sim.base_url(TOOL)).expect("base url");
    BambooHrConnector::new(url, credentials, ids(), client()).expect("connector")
}

async fn start(employees: usize) -> Simulator {
    let config = SimConfig {
        employees,
        tools: vec![TOOL],
        ..SimConfig::default()
    };
    Simulator::start(config, "127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("simulator")
}

fn stream(c: &BambooHrConnector, name: &str) -> Stream {
    c.streams()
        .into_iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no stream {name}"))
}

/// Fetches every page of a stream, checking that each page moves the cursor on.
async fn fetch_all(c: &BambooHrConnector, stream: &Stream, mode: FetchMode) -> Result<Vec<SourceRecord>, SourceError> {
    let mut records = Vec::new();
    let mut cursor: Option<Value> = None;
    let mut seen = HashSet::new();
    for _ in 0..10_000 {
        let page = c.fetch_page(stream, cursor.as_ref(), mode).await?;
        records.extend(page.records);
        match page.next {
            Some(next) => {
                assert!(seen.insert(next.to_string()), "cursor {next} repeated");
                cursor = Some(next);
            }
            None => return Ok(records),
        }
    }
    panic!("stream {} did not end", stream.name);
}

async fn sync_all(c: &BambooHrConnector) -> HashMap<Model, Vec<SourceRecord>> {
    let mut by_model: HashMap<Model, Vec<SourceRecord>> = HashMap::new();
    for s in c.streams() {
        for r in fetch_all(c, &s, FetchMode::Full)
            .await
            .unwrap_or_else(|e| panic!("stream {}: {e}", s.name))
        {
            assert!(s.models.contains(&r.model), "stream {} yielded {:?}", s.name, r.model);
            by_model.entry(r.model).or_default().push(r);
        }
    }
    by_model
}

fn find<'a>(records: &'a [SourceRecord], remote_id: &str) -> &'a SourceRecord {
    records
        .iter()
        .find(|r| r.remote_id == remote_id)
        .unwrap_or_else(|| panic!("no record {remote_id}"))
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("date")
}

fn at(y: i32, m: u32, d: u32) -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, 9, 0, 0).single().expect("timestamp")
}

fn employment(id: u64, title: &str, rate: f64, period: &str, kind: &str, from: NaiveDate) -> Employment {
    Employment {
        id,
        job_title: title.into(),
        pay_rate: rate,
        pay_period: period.into(),
        currency: "EUR".into(),
        employment_type: kind.into(),
        effective_date: from,
        updated_at: at(2024, 1, 1),
    }
}

fn person(id: u64, first: &str, last: &str, status: EmployeeStatus, kind: &str, hired: NaiveDate) -> Employee {
    Employee {
        id,
        employee_number: format!("E{id}"),
        first_name: first.into(),
        last_name: last.into(),
        preferred_name: None,
        email: format!("{}@acme.example", first.to_lowercase()),
        personal_email: None,
        mobile_phone: None,
        gender: "female".into(),
        nationality: None,
        birthday: None,
        ssn: None,
        status,
        employment_type: kind.into(),
        position: "Engineer".into(),
        weekly_hours: 40.0,
        department_id: Some(10),
        office_id: Some(20),
        legal_entity_id: Some(30),
        supervisor_id: None,
        hire_date: hired,
        termination_date: None,
        street: None,
        city: None,
        zip: None,
        country: None,
        iban: None,
        custom: BTreeMap::new(),
        employments: Vec::new(),
        created_at: at(2020, 1, 1),
        updated_at: at(2024, 1, 1),
    }
}

/// Four employees covering every employment status, two departments, one office and entity,
/// two absence types (days and hours), two requests and three balances.
fn small_company() -> Company {
    let mut c = Company {
        name: "Acme".into(),
        next_id: 1_000,
        ..Company::default()
    };
    let h = &mut c.hris;
    for (id, name) in [(10, "Engineering"), (11, "Sales")] {
        h.departments.insert(
            id,
            Department {
                id,
                name: name.into(),
                updated_at: at(2024, 1, 1),
            },
        );
    }
    h.offices.insert(
        20,
        Office {
            id: 20,
            name: "Berlin HQ".into(),
            city: "Berlin".into(),
            country: "DE".into(),
            updated_at: at(2024, 1, 1),
        },
    );
    h.legal_entities.insert(
        30,
        LegalEntity {
            id: 30,
            name: "Acme GmbH".into(),
            country: "DE".into(),
            updated_at: at(2024, 1, 1),
        },
    );
    h.absence_types.insert(
        40,
        AbsenceType {
            id: 40,
            name: "Vacation".into(),
            unit: "days".into(),
            half_days_allowed: true,
            updated_at: at(2024, 1, 1),
        },
    );
    h.absence_types.insert(
        41,
        AbsenceType {
            id: 41,
            name: "Overtime".into(),
            unit: "hours".into(),
            half_days_allowed: false,
            updated_at: at(2024, 1, 1),
        },
    );

    let mut ada = person(
        100,
        "Ada",
        "Lovelace",
        EmployeeStatus::Active,
        "internal",
        date(2020, 1, 15),
    );
    ada.birthday = Some(date(1990, 12, 10));
    ada.ssn = Some("123-45-6789".into());
    ada.street = Some("Unter den Linden 1".into());
    ada.city = Some("Berlin".into());
    ada.zip = Some("10117".into());
    ada.country = Some("DE".into());
    ada.custom.insert("shirt_size".into(), "M".into());
    ada.position = "Senior Engineer".into();
    ada.employments = vec![
        employment(101, "Engineer", 60_000.0, "YEAR", "internal", date(2020, 1, 15)),
        employment(102, "Senior Engineer", 5_500.0, "MONTH", "internal", date(2022, 3, 1)),
    ];
    let mut grace = person(
        110,
        "Grace",
        "Hopper",
        EmployeeStatus::Leave,
        "part_time",
        date(2021, 5, 1),
    );
    grace.supervisor_id = Some(100);
    grace.department_id = Some(11);
    grace.employments = vec![employment(111, "Admiral", 30.0, "HOUR", "part_time", date(2021, 5, 1))];
    let mut alan = person(
        120,
        "Alan",
        "Turing",
        EmployeeStatus::Inactive,
        "external",
        date(2019, 2, 1),
    );
    alan.termination_date = Some(date(2023, 6, 30));
    alan.gender = "male".into();
    alan.employments = vec![employment(
        121,
        "Codebreaker",
        70_000.0,
        "YEAR",
        "external",
        date(2019, 2, 1),
    )];
    let future = Utc::now().date_naive() + chrono::Days::new(30);
    let mut kathy = person(
        130,
        "Katherine",
        "Johnson",
        EmployeeStatus::Onboarding,
        "intern",
        future,
    );
    kathy.employments = vec![employment(131, "Intern", 20.0, "HOUR", "intern", future)];
    for e in [ada, grace, alan, kathy] {
        h.employees.insert(e.id, e);
    }

    h.absences.insert(
        200,
        Absence {
            id: 200,
            employee_id: 100,
            absence_type_id: 40,
            status: "approved".into(),
            start_date: date(2024, 7, 1),
            end_date: date(2024, 7, 5),
            half_day_start: false,
            half_day_end: true,
            days_count: 4.5,
            comment: Some("Summer".into()),
            created_at: at(2024, 5, 2),
            updated_at: at(2024, 5, 3),
        },
    );
    h.absences.insert(
        201,
        Absence {
            id: 201,
            employee_id: 110,
            absence_type_id: 41,
            status: "pending".into(),
            start_date: date(2024, 8, 1),
            end_date: date(2024, 8, 1),
            half_day_start: false,
            half_day_end: false,
            days_count: 1.0,
            comment: None,
            created_at: at(2024, 7, 20),
            updated_at: at(2024, 7, 20),
        },
    );
    for (emp, ty, balance, used) in [(100, 40, 20.5, 4.5), (100, 41, 10.0, 2.0), (110, 40, 25.0, 0.0)] {
        h.balances.insert(
            (emp, ty),
            Balance {
                employee_id: emp,
                absence_type_id: ty,
                balance,
                used,
                updated_at: at(2024, 1, 1),
            },
        );
    }
    c
}

async fn small_sim() -> Simulator {
    let sim = start(10).await;
    *sim.state.company_mut(TOOL) = small_company();
    sim
}

#[tokio::test]
async fn every_stream_of_a_small_company_maps_to_unified_records() {
    let sim = small_sim().await;
    let c = connector(&sim);
    let ids = ids();
    let all = sync_all(&c).await;
    let count = |m: Model| all.get(&m).map_or(0, Vec::len);
    assert_eq!(count(Model::Groups), 2);
    assert_eq!(count(Model::LegalEntities), 1);
    assert_eq!(count(Model::Locations), 1);
    assert_eq!(count(Model::Employees), 4);
    assert_eq!(count(Model::Employments), 5);
    assert_eq!(count(Model::AbsenceTypes), 2);
    assert_eq!(count(Model::Absences), 2);
    assert_eq!(count(Model::TimeOffBalances), 3);
    // What a DELTA narrows by BambooHR's documented change markers: employees
    // (`/v1/employees/changed`), time-off requests (`created`, `status.lastChanged`) and the
    // balances those move.
    assert!(
        c.streams()
            .iter()
            .all(|s| s.supports_since == matches!(s.name, "employees" | "time_off_requests" | "time_off_balances"))
    );

    let groups = &all[&Model::Groups];
    assert_eq!(find(groups, "10").data["name"], json!("Engineering"));
    assert_eq!(find(groups, "10").data["type"], json!("DEPARTMENT"));
    assert_eq!(find(&all[&Model::LegalEntities], "30").data["name"], json!("Acme GmbH"));
    let berlin = find(&all[&Model::Locations], "20");
    assert_eq!(berlin.data["name"], json!("Berlin HQ"));
    assert_eq!(berlin.data["address"]["city"], json!("Berlin"));
    assert_eq!(berlin.data["address"]["country"], json!("DE"));

    let employees = &all[&Model::Employees];
    let ada = find(employees, "100");
    assert_eq!(ada.data["first_name"], json!("Ada"));
    assert_eq!(ada.data["employee_number"], json!("E100"));
    assert_eq!(ada.data["job_title"], json!("Senior Engineer"));
    assert_eq!(ada.data["gender"], json!("FEMALE"));
    assert_eq!(ada.data["employment_status"], json!("ACTIVE"));
    assert_eq!(ada.data["employment_type"], json!("FULL_TIME"));
    assert_eq!(ada.data["weekly_hours"], json!(40.0));
    assert_eq!(ada.data["date_of_birth"], json!("1990-12-10T00:00:00.000Z"));
    assert_eq!(ada.data["start_date"], json!("2020-01-15T00:00:00.000Z"));
    assert_eq!(ada.data["termination_date"], Value::Null);
    assert_eq!(ada.data["ssn"], json!("123-45-6789"));
    assert_eq!(ada.data["home_address"]["street_1"], json!("Unter den Linden 1"));
    assert_eq!(ada.data["home_address"]["zip_code"], json!("10117"));
    assert_eq!(ada.data["custom_fields"], json!({"customShirtSize": "M"}));
    assert_eq!(ada.data["integration_fields"], json!([]));
    assert_eq!(ada.data["work_location_id"], json!(ids.id(Model::Locations, "20")));
    assert_eq!(ada.data["legal_entity_id"], json!(ids.id(Model::LegalEntities, "30")));
    assert_eq!(ada.data["group_ids"], json!([ids.id(Model::Groups, "10")]));
    assert_eq!(ada.data["manager_id"], Value::Null);
    assert!(!ada.data.contains_key("id") && !ada.data.contains_key("remote_data"));
    let raw = ada.remote_data.as_ref().expect("remote data");
    assert_eq!(raw["/v1/reports/custom"]["firstName"], json!("Ada"));
    // Every raw place of a personal field is reachable through remote_paths.
    for field in ["ssn", "date_of_birth", "first_name", "home_address", "personal_email"] {
        let paths = c.remote_paths(Model::Employees, field);
        assert!(!paths.is_empty(), "{field} has no raw path");
        assert!(
            paths.iter().any(|p| raw.pointer(p).is_some()),
            "{field}: {paths:?} point nowhere"
        );
    }
    assert_eq!(
        raw.pointer(&c.remote_paths(Model::Employees, "ssn")[0]),
        Some(&json!("123-45-6789"))
    );

    let grace = find(employees, "110");
    assert_eq!(grace.data["employment_status"], json!("LEAVE"));
    assert_eq!(grace.data["manager_id"], json!(ids.id(Model::Employees, "100")));
    assert_eq!(grace.data["group_ids"], json!([ids.id(Model::Groups, "11")]));
    assert!(grace.depends_on.contains(&(Model::Employees, "100".into())));
    assert!(grace.depends_on.contains(&(Model::Locations, "20".into())));
    assert!(grace.depends_on.contains(&(Model::LegalEntities, "30".into())));
    assert_eq!(
        grace.depends_on.len(),
        3,
        "no edge to groups: renaming one moves no employee"
    );
    let alan = find(employees, "120");
    assert_eq!(alan.data["employment_status"], json!("INACTIVE"));
    assert_eq!(alan.data["gender"], json!("MALE"));
    assert_eq!(alan.data["termination_date"], json!("2023-06-30T00:00:00.000Z"));
    assert_eq!(find(employees, "130").data["employment_status"], json!("PENDING"));
    assert_eq!(find(employees, "130").data["employment_type"], json!("INTERNSHIP"));

    let employments = &all[&Model::Employments];
    let senior = find(employments, "102");
    assert_eq!(senior.parent, Some((Model::Employees, "100".into())));
    assert_eq!(senior.data["employee_id"], json!(ids.id(Model::Employees, "100")));
    assert_eq!(senior.data["job_title"], json!("Senior Engineer"));
    assert_eq!(senior.data["pay_rate"], json!(5500.0));
    assert_eq!(senior.data["pay_period"], json!("MONTH"));
    assert_eq!(senior.data["pay_currency"], json!("EUR"));
    assert_eq!(senior.data["employment_type"], json!("FULL_TIME"));
    assert_eq!(senior.data["effective_date"], json!("2022-03-01T00:00:00.000Z"));
    assert_eq!(find(employments, "101").data["job_title"], json!("Engineer"));
    assert_eq!(find(employments, "111").data["pay_period"], json!("HOUR"));
    assert_eq!(find(employments, "111").data["employment_type"], json!("PART_TIME"));
    assert_eq!(find(employments, "121").data["employment_type"], json!("CONTRACT"));

    let types = &all[&Model::AbsenceTypes];
    assert_eq!(find(types, "40").data["unit"], json!("DAYS"));
    assert_eq!(find(types, "41").data["unit"], json!("HOURS"));

    let absences = &all[&Model::Absences];
    let summer = find(absences, "200");
    assert_eq!(summer.data["employee_id"], json!(ids.id(Model::Employees, "100")));
    assert_eq!(summer.data["type_id"], json!(ids.id(Model::AbsenceTypes, "40")));
    assert_eq!(summer.data["status"], json!("APPROVED"));
    assert_eq!(summer.data["start_date"], json!("2024-07-01"));
    assert_eq!(summer.data["end_date"], json!("2024-07-05"));
    assert_eq!(summer.data["amount"], json!(4.5));
    assert_eq!(summer.data["unit"], json!("DAYS"));
    assert_eq!(summer.data["start_half_day"], json!(false));
    assert_eq!(summer.data["end_half_day"], json!(true));
    assert_eq!(summer.data["employee_note"], json!("Summer"));
    assert_eq!(
        summer.remote_created_at,
        Some(Utc.with_ymd_and_hms(2024, 5, 2, 0, 0, 0).single().expect("ts"))
    );
    let overtime = find(absences, "201");
    assert_eq!(overtime.data["status"], json!("REQUESTED"));
    assert_eq!(overtime.data["unit"], json!("HOURS"));
    assert_eq!(overtime.data["amount"], json!(8.0));
    // Kombo: changes of an absence's type move the absence; it nests under nothing.
    assert_eq!(summer.depends_on, vec![(Model::AbsenceTypes, "40".into())]);
    assert_eq!(summer.parent, None);
    assert_eq!(overtime.depends_on, vec![(Model::AbsenceTypes, "41".into())]);

    let balances = &all[&Model::TimeOffBalances];
    let vacation = find(balances, "100:40");
    assert_eq!(vacation.parent, Some((Model::Employees, "100".into())));
    assert_eq!(vacation.depends_on, vec![(Model::AbsenceTypes, "40".into())]);
    assert_eq!(vacation.data["employee_id"], json!(ids.id(Model::Employees, "100")));
    assert_eq!(vacation.data["type_id"], json!(ids.id(Model::AbsenceTypes, "40")));
    assert_eq!(vacation.data["balance"], json!(20.5));
    assert_eq!(vacation.data["used"], json!(4.5));
    assert_eq!(vacation.data["balance_unit"], json!("DAYS"));
    assert_eq!(find(balances, "100:41").data["used_unit"], json!("HOURS"));
    sim.shutdown().await;
}

#[tokio::test]
async fn a_generated_company_is_paged_completely_and_resumes_after_the_cursor() {
    let sim = start(2_300).await;
    let c = connector(&sim);
    let (employees, employments, absences, balances) = {
        let company = sim.state.company(TOOL);
        let h = &company.hris;
        (
            h.employees.len(),
            h.employees.values().map(|e| e.employments.len()).sum::<usize>(),
            h.absences.len(),
            h.balances.len(),
        )
    };
    assert!(employees > 2_000, "the generator made {employees} employees");

    let stream = stream(&c, "employees");
    let first = c.fetch_page(&stream, None, FetchMode::Full).await.expect("first page");
    assert_eq!(first.records.len(), 1_000);
    let cursor = first.next.clone().expect("more pages");
    assert_eq!(cursor["offset"], json!(1_000));
    let rest = fetch_all_from(&c, &stream, cursor.clone()).await;
    let mut all_ids: Vec<_> = first.records.iter().chain(&rest).map(|r| r.remote_id.clone()).collect();
    assert_eq!(all_ids.len(), employees);
    all_ids.sort();
    all_ids.dedup();
    assert_eq!(all_ids.len(), employees, "an employee came twice");

    // A resumed run on a fresh connector, after an employee of the first page and one of the
    // rest were deleted: it refetches and continues after the last id it handed out, so
    // nothing that still exists is skipped.
    let gone_early: u64 = first.records[10].remote_id.parse().expect("id");
    let gone_late: u64 = rest[10].remote_id.parse().expect("id");
    {
        let mut company = sim.state.company_mut(TOOL);
        company.hris.employees.remove(&gone_early);
        company.hris.employees.remove(&gone_late);
    }
    let resumed = fetch_all_from(&connector(&sim), &stream, cursor).await;
    assert_eq!(resumed.len(), rest.len() - 1);
    let resumed_ids: HashSet<_> = resumed.iter().map(|r| r.remote_id.as_str()).collect();
    assert!(
        rest.iter()
            .filter(|r| r.remote_id != gone_late.to_string())
            .all(|r| resumed_ids.contains(r.remote_id.as_str()))
    );

    let remaining_employments: usize = sim
        .state
        .company(TOOL)
        .hris
        .employees
        .values()
        .map(|e| e.employments.len())
        .sum();
    assert!(remaining_employments <= employments);
    assert_eq!(count(&c, "employments").await, remaining_employments);
    assert_eq!(count(&c, "time_off_requests").await, absences);
    let remaining_balances = sim
        .state
        .company(TOOL)
        .hris
        .balances
        .keys()
        .filter(|(e, _)| *e != gone_early && *e != gone_late)
        .count();
    assert!(remaining_balances <= balances);
    assert_eq!(count(&c, "time_off_balances").await, remaining_balances);
    sim.shutdown().await;
}

async fn count(c: &BambooHrConnector, name: &str) -> usize {
    fetch_all(c, &stream(c, name), FetchMode::Full)
        .await
        .unwrap_or_else(|e| panic!("{name}: {e}"))
        .len()
}

async fn fetch_all_from(c: &BambooHrConnector, stream: &Stream, cursor: Value) -> Vec<SourceRecord> {
    let mut records = Vec::new();
    let mut cursor = Some(cursor);
    while let Some(at) = cursor {
        let page = c.fetch_page(stream, Some(&at), FetchMode::Full).await.expect("page");
        assert!(page.records.len() <= 1_000);
        records.extend(page.records);
        cursor = page.next;
    }
    records
}

#[tokio::test]
async fn a_delta_fetches_the_employees_bamboohr_reports_changed() {
    let sim = small_sim().await;
    let c = connector(&sim);
    let employees = stream(&c, "employees");
    let since = Utc::now() - chrono::Duration::seconds(2);
    {
        let mut company = sim.state.company_mut(TOOL);
        let grace = company.hris.employees.get_mut(&110).expect("grace");
        grace.last_name = "Murray Hopper".into();
        grace.updated_at = Utc::now();
    }
    let delta = fetch_all(&c, &employees, FetchMode::Delta { since })
        .await
        .expect("delta");
    assert_eq!(delta.len(), 1, "only the changed employee");
    assert_eq!(find(&delta, "110").data["last_name"], json!("Murray Hopper"));
    // Mapped exactly as a complete listing maps it.
    let full = fetch_all(&c, &employees, FetchMode::Full).await.expect("full");
    assert_eq!(find(&full, "110").data, find(&delta, "110").data);
    let asked = sim
        .state
        .requests(&tributary_sim::RequestFilter::tool(TOOL).path("/v1/employees/changed"));
    assert_eq!(asked.len(), 1);
    assert!(asked[0].query.starts_with("since="), "{}", asked[0].query);

    // Nothing changed since: no report at all.
    let reports = |sim: &Simulator| {
        sim.state
            .requests(&tributary_sim::RequestFilter::tool(TOOL).path("/v1/reports/custom"))
            .len()
    };
    let before = reports(&sim);
    let later = Utc::now() + chrono::Duration::seconds(5);
    assert!(
        fetch_all(&c, &employees, FetchMode::Delta { since: later })
            .await
            .expect("delta")
            .is_empty()
    );
    assert_eq!(reports(&sim), before);

    // Other streams are whole in a DELTA (the engine asks them in FULL mode).
    assert_eq!(count(&c, "departments").await, 2);

    // An answer outside the documented shape fails the stream, naming endpoint and field.
    sim.state
        .add_fault(
            FaultRule::new(
                TOOL,
                FaultAction::Status {
                    code: 200,
                    retry_after: None,
                    body: Some(r#"{"latest":"2026-01-01T00:00:00+00:00","employees":{"110":{"id":"110","action":"Moved","lastChanged":"2026-01-01T00:00:00+00:00"}}}"#.into()),
                },
            )
            .path("/v1/employees/changed")
            .times(1),
        )
        .expect("fault");
    match fetch_all(&c, &employees, FetchMode::Delta { since }).await {
        Err(SourceError::Malformed { endpoint, detail }) => {
            assert_eq!(endpoint, "/v1/employees/changed");
            assert!(detail.contains("employees.110.action"), "{detail}");
        }
        other => panic!("expected a malformed-body error, got {other:?}"),
    }
    sim.shutdown().await;
}

/// A DELTA reads the time-off requests created or changed since the last sync (by their
/// documented `created` and `status.lastChanged` dates) and recalculates balances only for the
/// employees of those requests and the employees BambooHR reports changed.
#[tokio::test]
async fn a_delta_reads_changed_time_off_and_the_balances_it_moves() {
    let sim = small_sim().await;
    let c = connector(&sim);
    let requests = stream(&c, "time_off_requests");
    let balances = stream(&c, "time_off_balances");
    let since = Utc::now() - chrono::Duration::seconds(2);
    let calculator_calls = |sim: &Simulator, after: u64| {
        let mut ids: Vec<String> = sim
            .state
            .requests(&tributary_sim::RequestFilter::tool(TOOL).since(after))
            .into_iter()
            .filter(|e| e.path.ends_with("/time_off/calculator"))
            .filter_map(|e| {
                e.path
                    .split('/')
                    .skip_while(|s| *s != "employees")
                    .nth(1)
                    .map(str::to_owned)
            })
            .collect();
        ids.sort();
        ids
    };

    // Nothing changed since: no request, no balance, no calculator call.
    let start = sim.state.last_request_seq();
    assert!(
        fetch_all(&c, &requests, FetchMode::Delta { since })
            .await
            .expect("delta")
            .is_empty()
    );
    assert!(
        fetch_all(&c, &balances, FetchMode::Delta { since })
            .await
            .expect("delta")
            .is_empty()
    );
    assert!(calculator_calls(&sim, start).is_empty());

    // Grace's pending request is approved, which moves her balance.
    {
        let mut company = sim.state.company_mut(TOOL);
        let request = company.hris.absences.get_mut(&201).expect("request 201");
        request.status = "approved".into();
        request.updated_at = Utc::now();
        let balance = company.hris.balances.get_mut(&(110, 40)).expect("balance");
        balance.balance = 24.0;
        balance.used = 1.0;
    }
    let changed = fetch_all(&c, &requests, FetchMode::Delta { since })
        .await
        .expect("delta");
    assert_eq!(changed.len(), 1, "only the changed request");
    assert_eq!(find(&changed, "201").data["status"], json!("APPROVED"));
    let full = fetch_all(&c, &requests, FetchMode::Full).await.expect("full");
    assert_eq!(full.len(), 2, "a FULL still reads every request");
    assert_eq!(find(&full, "201").data, find(&changed, "201").data, "mapped alike");

    let start = sim.state.last_request_seq();
    let moved = fetch_all(&c, &balances, FetchMode::Delta { since })
        .await
        .expect("delta");
    assert_eq!(
        calculator_calls(&sim, start),
        ["110"],
        "only the employee whose time off changed"
    );
    assert_eq!(moved.len(), 1, "{moved:?}");
    assert_eq!(moved[0].data["balance"], json!(24.0));

    // Ada's record changes: BambooHR reports her changed, so her balances are read too.
    {
        let mut company = sim.state.company_mut(TOOL);
        let ada = company.hris.employees.get_mut(&100).expect("ada");
        ada.last_name = "King".into();
        ada.updated_at = Utc::now();
    }
    let start = sim.state.last_request_seq();
    let moved = fetch_all(&c, &balances, FetchMode::Delta { since })
        .await
        .expect("delta");
    assert_eq!(calculator_calls(&sim, start), ["100", "110"]);
    assert_eq!(moved.len(), 3);

    // A FULL recalculates everyone's (accruals move with time, which no marker reports).
    let start = sim.state.last_request_seq();
    fetch_all(&c, &balances, FetchMode::Full).await.expect("full");
    assert_eq!(calculator_calls(&sim, start), ["100", "110", "120", "130"]);

    // A request date outside the documented shape fails the stream, naming the field.
    sim.state
        .add_fault(
            FaultRule::new(
                TOOL,
                FaultAction::Status {
                    code: 200,
                    retry_after: None,
                    body: Some(r#"[{"id":"7","employeeId":"100","start":"2024-01-01","end":"2024-01-01","created":"yesterday","status":{"status":"approved","lastChanged":"2024-01-01"},"type":{"id":"40","name":"Vacation"},"amount":{"unit":"days","amount":"1"}}]"#.into()),
                },
            )
            .path("/v1/time_off/requests")
            .times(1),
        )
        .expect("fault");
    match fetch_all(&c, &requests, FetchMode::Delta { since }).await {
        Err(SourceError::Malformed { endpoint, detail }) => {
            assert_eq!(endpoint, "/v1/time_off/requests");
            assert!(detail.contains("request 7: created"), "{detail}");
        }
        other => panic!("expected a malformed-body error, got {other:?}"),
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn bad_or_revoked_credentials_fail_authentication() {
    let sim = small_sim().await;
    let groups = stream(&connector(&sim), "departments");

    let wrong = connector_with(&sim, &json!({"api_key": "not-the-key"}));
    match wrong.fetch_page(&groups, None, FetchMode::Full).await {
        Err(SourceError::Auth { status: 401, .. }) => {}
        other => panic!("expected a 401 auth error, got {other:?}"),
    }

    sim.state.set_revoked(TOOL, true);
    match connector(&sim).fetch_page(&groups, None, FetchMode::Full).await {
        Err(e) => assert!(e.is_auth(), "{e}"),
        Ok(_) => panic!("a revoked key was accepted"),
    }
    sim.state.set_revoked(TOOL, false);
    assert!(connector(&sim).fetch_page(&groups, None, FetchMode::Full).await.is_ok());

    let url = Url::parse(&sim.base_url(TOOL).replace("/demo", "/nosuchcompany")).expect("url");
    let elsewhere =
        BambooHrConnector::new(url.clone(), &sim.integration_credentials(TOOL), ids(), client()).expect("connector");
    match elsewhere.fetch_page(&groups, None, FetchMode::Full).await {
        Err(SourceError::Rejected { status: 404, .. }) => {}
        other => panic!("expected a 404 for an unknown company, got {other:?}"),
    }

    for bad in [json!({}), json!({"api_key": ""}), json!({"api_key": 7})] {
        match BambooHrConnector::new(url.clone(), &bad, ids(), client()) {
            Err(SourceError::Config(message)) => assert!(message.contains("api_key"), "{message}"),
            other => panic!("expected a config error for {bad}, got {:?}", other.err()),
        }
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn throttling_is_retried_and_broken_bodies_are_malformed() {
    let sim = small_sim().await;
    let c = connector(&sim);
    let departments = stream(&c, "departments");
    // BambooHR throttles with 429 and Retry-After since 16 September 2026 (503 before, and
    // still when the API is unavailable): both are retried.
    let retry_once = FaultAction::Status {
        code: 429,
        retry_after: Some("0".into()),
        body: None,
    };
    sim.state
        .add_fault(FaultRule::new(TOOL, retry_once).path("/v1/meta/lists").times(1))
        .expect("fault");
    assert_eq!(
        fetch_all(&c, &departments, FetchMode::Full)
            .await
            .expect("retried")
            .len(),
        2
    );

    sim.state
        .add_fault(
            FaultRule::new(TOOL, FaultAction::Truncate)
                .path("/v1/reports/custom")
                .times(1),
        )
        .expect("fault");
    match fetch_all(&c, &stream(&c, "employees"), FetchMode::Full).await {
        Err(SourceError::Malformed { .. }) => {}
        other => panic!("expected a malformed-body error, got {other:?}"),
    }
    sim.state
        .add_fault(
            FaultRule::new(TOOL, FaultAction::Malformed)
                .path("/v1/time_off/requests")
                .times(1),
        )
        .expect("fault");
    match fetch_all(&c, &stream(&c, "time_off_requests"), FetchMode::Full).await {
        Err(SourceError::Malformed { .. }) => {}
        other => panic!("expected a malformed-body error, got {other:?}"),
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn a_location_page_that_repeats_is_a_pagination_error() {
    let sim = small_sim().await;
    {
        let mut company = sim.state.company_mut(TOOL);
        for id in 5_000..5_600 {
            let office = Office {
                id,
                name: format!("Office {id}"),
                city: "Hamburg".into(),
                country: "DE".into(),
                updated_at: at(2024, 1, 1),
            };
            company.hris.offices.insert(id, office);
        }
    }
    let c = connector(&sim);
    let locations = stream(&c, "locations");
    assert_eq!(
        fetch_all(&c, &locations, FetchMode::Full)
            .await
            .expect("two pages")
            .len(),
        601
    );

    // The second request is answered with the first page again.
    sim.state
        .add_fault(
            FaultRule::new(TOOL, FaultAction::RepeatPage)
                .path("/v1/hris/org/locations")
                .skip(1)
                .times(1),
        )
        .expect("fault");
    match fetch_all(&c, &locations, FetchMode::Full).await {
        Err(SourceError::Pagination { .. }) => {}
        other => panic!("expected a pagination error, got {other:?}"),
    }
    sim.shutdown().await;
}

async fn raw_get(sim: &Simulator, path: &str, accept: Option<&str>) -> reqwest::Response {
    let mut request = reqwest::Client::new()
        .get(format!("{}{path}", sim.base_url(TOOL)))
        .basic_auth(&sim.state.credentials().bamboohr_api_key, Some("x"));
    if let Some(accept) = accept {
        request = request.header("accept", accept);
    }
    request.send().await.expect("request")
}

#[tokio::test]
async fn the_simulator_answers_xml_unless_asked_for_json() {
    let sim = small_sim().await;
    for path in [
        "/v1/meta/lists",
        "/v1/meta/fields",
        "/v1/employees/100?fields=firstName",
        "/v1/employees/all/tables/jobInfo",
    ] {
        let xml = raw_get(&sim, path, None).await;
        assert_eq!(xml.status(), 200, "{path}");
        assert!(
            xml.headers()["content-type"].to_str().unwrap().starts_with("text/xml"),
            "{path}"
        );
        assert!(xml.text().await.unwrap().starts_with("<?xml"), "{path}");
        let json = raw_get(&sim, path, Some("application/json")).await;
        assert!(json.json::<Value>().await.is_ok(), "{path}");
    }
    // The documented XML of the users list.
    let users = raw_get(&sim, "/v1/meta/users", Some("text/html"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        users.contains("<user id=\"100\" employeeId=\"100\"><firstName>Ada</firstName>"),
        "{users}"
    );
    // The documented XML of the directory, an employee and a table: values in `<field id>`.
    let xml_of = |path: &'static str| {
        let sim = &sim;
        async move { raw_get(sim, path, None).await.text().await.unwrap() }
    };
    let directory = xml_of("/v1/employees/directory").await;
    assert!(
        directory.contains("<directory><fieldset><field id=\"displayName\">Display name</field>")
            && directory.contains("<employees><employee id=\"100\"><field id=\""),
        "{directory}"
    );
    let ada = xml_of("/v1/employees/100?fields=firstName").await;
    assert!(
        ada.ends_with("<employee id=\"100\"><field id=\"firstName\">Ada</field></employee>"),
        "{ada}"
    );
    let rows = xml_of("/v1/employees/100/tables/jobInfo").await;
    assert!(rows.contains("employeeId=\"100\"><field id=\"date\">"), "{rows}");
    let fields = xml_of("/v1/meta/fields").await;
    assert!(
        fields.contains("<field id=\"1\" type=\"text\" alias=\"firstName\">"),
        "{fields}"
    );
    // The report: `format` decides.
    let report = reqwest::Client::new()
        .post(format!("{}/v1/reports/custom?format=XML", sim.base_url(TOOL)))
        .basic_auth(&sim.state.credentials().bamboohr_api_key, Some("x"))
        .json(&json!({"title": "t", "fields": ["firstName"]}))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        report.contains("<report><employees><employee id=\"100\"><firstName>Ada</firstName>"),
        "{report}"
    );
    // Endpoints documented as JSON only answer JSON whatever the Accept.
    let locations = raw_get(&sim, "/v1/hris/org/locations", None).await;
    assert!(locations.json::<Value>().await.is_ok());

    // A connector that is answered XML fails the stream, naming the endpoint and the cause.
    let xml = raw_get(&sim, "/v1/meta/lists", None).await.text().await.unwrap();
    sim.state
        .add_fault(
            FaultRule::new(
                TOOL,
                FaultAction::Status {
                    code: 200,
                    retry_after: None,
                    body: Some(xml),
                },
            )
            .path("/v1/meta/lists")
            .times(1),
        )
        .expect("fault");
    let c = connector(&sim);
    match fetch_all(&c, &stream(&c, "departments"), FetchMode::Full).await {
        Err(SourceError::Malformed { endpoint, detail }) => {
            assert_eq!(endpoint, "/v1/meta/lists");
            assert!(detail.contains("bamboohr answered XML (root `<lists>`"), "{detail}");
            assert!(detail.contains("Accept: application/json"), "{detail}");
        }
        other => panic!("expected a malformed-body error, got {other:?}"),
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn paths_are_served_as_documented_and_other_spellings_are_not_found() {
    let sim = small_sim().await;
    let json = Some("application/json");
    // Spelled with a trailing slash in BambooHR's earlier reference, without in the current
    // document: both are served.
    for path in [
        "/v1/meta/users",
        "/v1/meta/users/",
        "/v1/meta/lists/",
        "/v1/meta/fields/",
        "/v1/employees/100/",
        // BambooHR's "Last Changed" page writes it so; PyBambooHR sends it so.
        "/v1/employees/changed/?since=2020-01-01T00:00:00Z",
    ] {
        assert_eq!(raw_get(&sim, path, json).await.status(), 200, "{path}");
    }
    // Never documented with one.
    for path in [
        "/v1/employees/directory/",
        "/v1/hris/org/locations/",
        "/v1/reports/custom/",
    ] {
        assert_eq!(raw_get(&sim, path, json).await.status(), 404, "{path}");
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn single_employees_and_changed_ids_are_served() {
    let sim = small_sim().await;
    let json = Some("application/json");
    let ada: Value = raw_get(
        &sim,
        "/v1/employees/100?fields=firstName,lastName,customShirtSize,nosuchfield",
        json,
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(ada["id"], json!("100"));
    assert_eq!(ada["firstName"], json!("Ada"));
    assert!(ada.get("nosuchfield").is_none(), "unknown fields are left out: {ada}");
    let default: Value = raw_get(&sim, "/v1/employees/100", json).await.json().await.unwrap();
    assert_eq!(
        default.as_object().unwrap().len(),
        3,
        "id, firstName, lastName: {default}"
    );
    assert_eq!(raw_get(&sim, "/v1/employees/999999", json).await.status(), 404);

    let since = Utc::now() - chrono::Duration::seconds(1);
    sim.state
        .company_mut(TOOL)
        .hris
        .employees
        .get_mut(&110)
        .unwrap()
        .updated_at = Utc::now();
    let changed: Value = raw_get(
        &sim,
        &format!("/v1/employees/changed?since={}", since.format("%Y-%m-%dT%H:%M:%SZ")),
        json,
    )
    .await
    .json()
    .await
    .unwrap();
    let ids: Vec<&String> = changed["employees"].as_object().unwrap().keys().collect();
    assert_eq!(ids, ["110"], "{changed}");
    assert_eq!(changed["employees"]["110"]["action"], json!("Updated"));
    assert_eq!(raw_get(&sim, "/v1/employees/changed", json).await.status(), 400);
    assert_eq!(
        raw_get(&sim, "/v1/employees/changed?since=yesterday", json)
            .await
            .status(),
        400
    );
    let offset = raw_get(&sim, "/v1/employees/changed?since=2020-01-01T00:00:00%2B0000", json).await;
    assert_eq!(offset.status(), 200);
    sim.shutdown().await;
}

#[tokio::test]
async fn deletions_are_confirmed_by_employee_lookups() {
    let sim = small_sim().await;
    let c = connector(&sim);
    let employees = stream(&c, "employees");
    let listed = fetch_all(&c, &employees, FetchMode::Full).await.expect("employees");
    let grace = find(&listed, "110").clone();
    let lookup = c
        .lookup(
            &employees,
            &[
                (Model::Employees, "110".into()),
                (Model::Employees, "424242".into()),
                (Model::Employments, "1100".into()),
            ],
        )
        .await
        .expect("lookup");
    // Found as the report shows it; the missing one answered 404; employments have no
    // single-record endpoint.
    assert_eq!(lookup.found.len(), 1);
    assert_eq!(lookup.found[0].remote_id, "110");
    assert_eq!(lookup.found[0].data, grace.data);
    // Byte for byte, so a skipped employee found again is not a change.
    assert_eq!(lookup.found[0].remote_data, grace.remote_data);
    assert_eq!(lookup.unchecked, vec![(Model::Employments, "1100".to_string())]);
    let asked = sim
        .state
        .requests(&tributary_sim::RequestFilter::tool(TOOL).path("/v1/employees/424242"));
    assert_eq!(asked.len(), 1);
    assert_eq!(asked[0].status, 404);
    assert_eq!(asked[0].accept.as_deref(), Some("application/json"));

    // Any other failure is an error, not a confirmation.
    sim.state
        .add_fault(
            FaultRule::new(
                TOOL,
                FaultAction::Status {
                    code: 403,
                    retry_after: None,
                    body: None,
                },
            )
            .path("/v1/employees/110"),
        )
        .expect("fault");
    assert!(c.lookup(&employees, &[(Model::Employees, "110".into())]).await.is_err());
    sim.shutdown().await;
}

#[tokio::test]
async fn locations_are_paged_from_zero() {
    let sim = small_sim().await;
    {
        let mut company = sim.state.company_mut(TOOL);
        for id in 5_000..5_600 {
            let office = Office {
                id,
                name: format!("Office {id}"),
                city: "Hamburg".into(),
                country: "DE".into(),
                updated_at: at(2024, 1, 1),
            };
            company.hris.offices.insert(id, office);
        }
    }
    let c = connector(&sim);
    let all = fetch_all(&c, &stream(&c, "locations"), FetchMode::Full)
        .await
        .expect("locations");
    assert_eq!(all.len(), 601);
    let asked: Vec<String> = sim
        .state
        .requests(&tributary_sim::RequestFilter::tool(TOOL).path("/v1/hris/org/locations"))
        .into_iter()
        .map(|e| e.query)
        .collect();
    assert_eq!(
        asked,
        [
            "page=0&pageSize=500&expand=country",
            "page=1&pageSize=500&expand=country"
        ]
    );
    // Page 1 is the second page: a client counting from 1 misses the first 500.
    let second: Value = raw_get(&sim, "/v1/hris/org/locations?page=1", Some("application/json"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(second["data"].as_array().unwrap().len(), 101);
    assert!(
        second["_links"]["next"].is_null() && second["_links"]["prev"].is_object(),
        "{second}"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn the_documented_throttling_is_waited_out() {
    let sim = small_sim().await;
    sim.state.set_documented_limits(true);
    // Past the limit: 429 with a whole-second Retry-After, no body.
    let mut statuses = Vec::new();
    for _ in 0..15 {
        let resp = raw_get(&sim, "/v1/meta/lists", Some("application/json")).await;
        statuses.push(resp.status().as_u16());
        if resp.status() == 429 {
            let wait: u64 = resp.headers()["retry-after"].to_str().unwrap().parse().unwrap();
            assert_eq!(wait, 1, "the window is one second");
            assert!(resp.text().await.unwrap().is_empty());
        }
    }
    assert!(statuses.contains(&429), "{statuses:?}");

    let patient = SourceClient::new(ClientConfig {
        min_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(50),
        max_attempts: 10,
        requests_per_second: None,
        ..ClientConfig::default()
    })
    .expect("client");
    let url = Url::parse(&sim.base_url(TOOL)).expect("base url");
    let c = BambooHrConnector::new(url, &sim.integration_credentials(TOOL), ids(), patient).expect("connector");
    let seq = sim.state.requests(&tributary_sim::RequestFilter::tool(TOOL)).len();
    let mut total = 0;
    for s in c.streams() {
        total += fetch_all(&c, &s, FetchMode::Full)
            .await
            .unwrap_or_else(|e| panic!("stream {}: {e}", s.name))
            .len();
    }
    assert_eq!(total, 20, "every record of the small company, throttled or not");
    let log = sim.state.requests(&tributary_sim::RequestFilter::tool(TOOL));
    let throttled: Vec<_> = log[seq..].iter().filter(|e| e.status == 429).collect();
    assert!(!throttled.is_empty(), "the sync went past the limit and was throttled");
    // Every throttled request was asked again after its Retry-After, not sooner.
    for t in &throttled {
        let again = log[seq..]
            .iter()
            .find(|e| e.seq > t.seq && e.path == t.path && e.query == t.query)
            .unwrap_or_else(|| panic!("{} was not asked again", t.path));
        assert!(
            again.at - t.at >= chrono::Duration::milliseconds(900),
            "{} asked again too soon",
            t.path
        );
    }
    sim.shutdown().await;
}

/// BambooHR publishes no number, only 429 + `Retry-After`: the client learns the pace from
/// the first refusals instead of ending every window in a volley of them (each volley blocks
/// the integration for a whole second of `Retry-After`).
#[tokio::test]
async fn the_pace_is_learnt_from_throttling() {
    let sim = small_sim().await;
    sim.state.set_documented_limits(true);
    let client = SourceClient::new(ClientConfig {
        max_attempts: 20,
        requests_per_second: None,
        ..ClientConfig::default()
    })
    .expect("client");
    let url = format!("{}/v1/meta/lists", sim.base_url(TOOL));
    let key = sim.state.credentials().bamboohr_api_key.clone();
    let seq = sim.state.requests(&tributary_sim::RequestFilter::tool(TOOL)).len();
    const REQUESTS: usize = 120;
    let results: Vec<_> = futures::stream::iter(0..REQUESTS)
        .map(|_| {
            client.send("GET /v1/meta/lists", |http| {
                http.get(&url)
                    .basic_auth(&key, Some("x"))
                    .header("Accept", "application/json")
            })
        })
        .buffer_unordered(8)
        .collect()
        .await;
    assert!(
        results.iter().all(Result::is_ok),
        "every request got through in the end"
    );
    let log = sim.state.requests(&tributary_sim::RequestFilter::tool(TOOL));
    let refused = log[seq..].iter().filter(|e| e.status == 429).count();
    let rate = client.learnt_rate().expect("the tool refused, so a pace was learnt");
    // Eight in flight against ten a second: unpaced, each of the ~12 windows ends in a volley
    // of about six refusals (~70 in all). Paced, there is the first volley and one more each
    // time the slow rise crosses the limit.
    assert!(refused <= 24, "{refused} refused for {REQUESTS} accepted");
    assert!(
        rate > 5.0 && rate < 12.0,
        "learnt {rate} a second against a limit of 10"
    );
    sim.shutdown().await;
}
