//! The Personio connector against the simulated Personio, over real HTTP on loopback.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use chrono::{NaiveDate, TimeZone, Utc};
use serde_json::{Value, json};
use tributary_connectors::PersonioConnector;
use tributary_model::{IdGen, Model, SourceRecord, Timestamp, ToolKind};
use tributary_sim::company::{
    Absence, AbsenceType, Balance, Department, Employee, EmployeeStatus, Employment, Hris, LegalEntity, Office,
};
use tributary_sim::{SimConfig, Simulator};
use tributary_source::{ClientConfig, Connector, FetchMode, SourceClient, SourceError, Stream};
use url::Url;

const TOOL: ToolKind = ToolKind::Personio;
const EMPLOYEES: u64 = 250;
const ABSENCES: u64 = 450;

fn ids() -> IdGen {
    IdGen::new("personio:test")
}

fn at(y: i32, m: u32, d: u32) -> Timestamp {
    Utc.with_ymd_and_hms(y, m, d, 9, 30, 0).single().expect("valid date")
}

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("valid date")
}

// Remote ids: departments 1-3, offices 11-12, legal entities 21-22, absence types 31-32,
// employees 1000.., absences 5000...
fn employee_id(n: u64) -> u64 {
    1000 + n
}

/// A small company, replacing whatever the generator produced, with every update stamped in
/// January 2024 so deltas can be measured against later mutations.
fn fill(sim: &Simulator) {
    let old = at(2024, 1, 10);
    let mut hris = Hris::default();
    for (id, name) in [(1, "Engineering"), (2, "Sales"), (3, "People")] {
        hris.departments.insert(
            id,
            Department {
                id,
                name: name.into(),
                updated_at: old,
            },
        );
    }
    for (id, name, city) in [(11, "Berlin HQ", "Berlin"), (12, "Munich", "Munich")] {
        hris.offices.insert(
            id,
            Office {
                id,
                name: name.into(),
                city: city.into(),
                country: "DE".into(),
                updated_at: old,
            },
        );
    }
    for (id, name) in [(21, "Acme GmbH"), (22, "Acme Ltd")] {
        hris.legal_entities.insert(
            id,
            LegalEntity {
                id,
                name: name.into(),
                country: "DE".into(),
                updated_at: old,
            },
        );
    }
    hris.absence_types.insert(
        31,
        AbsenceType {
            id: 31,
            name: "Paid vacation".into(),
            unit: "days".into(),
            half_days_allowed: true,
            updated_at: old,
        },
    );
    hris.absence_types.insert(
        32,
        AbsenceType {
            id: 32,
            name: "Overtime".into(),
            unit: "hours".into(),
            half_days_allowed: false,
            updated_at: old,
        },
    );
    for n in 0..EMPLOYEES {
        let id = employee_id(n);
        let mut custom = BTreeMap::new();
        custom.insert("T-shirt size".to_owned(), "M".to_owned());
        hris.employees.insert(
            id,
            Employee {
                id,
                employee_number: format!("E-{n:04}"),
                first_name: format!("First{n}"),
                last_name: format!("Last{n}"),
                preferred_name: None,
                email: format!("person{n}@acme.test"),
                personal_email: Some(format!("p{n}@home.test")),
                mobile_phone: Some("+49 151 000000".into()),
                gender: ["male", "female", "diverse"][(n % 3) as usize].into(),
                nationality: Some("DE".into()),
                birthday: Some(day(1990, 1 + (n % 12) as u32, 1 + (n % 28) as u32)),
                ssn: Some(format!("SSN-{n}")),
                status: if n % 10 == 9 {
                    EmployeeStatus::Inactive
                } else {
                    EmployeeStatus::Active
                },
                employment_type: if n % 5 == 4 {
                    "external".into()
                } else {
                    "internal".into()
                },
                position: format!("Engineer {n}"),
                weekly_hours: 40.0,
                department_id: Some(1 + n % 3),
                office_id: Some(11 + n % 2),
                legal_entity_id: Some(21 + n % 2),
                // Employee 0 leads; everybody else reports to the person ten before them.
                supervisor_id: (n > 0).then(|| employee_id(n.saturating_sub(10))),
                hire_date: day(2020, 3, 1),
                termination_date: None,
                street: Some("Hauptstr. 1".into()),
                city: Some("Berlin".into()),
                zip: Some("10115".into()),
                country: Some("DE".into()),
                iban: Some(format!("DE00 1234 {n:04}")),
                custom,
                employments: vec![Employment {
                    id: 100_000 + n,
                    job_title: format!("Engineer {n}"),
                    pay_rate: 5000.0,
                    pay_period: "MONTH".into(),
                    currency: "EUR".into(),
                    employment_type: "internal".into(),
                    effective_date: day(2020, 3, 1),
                    updated_at: old,
                }],
                created_at: at(2020, 2, 15),
                updated_at: old,
            },
        );
        for type_id in [31, 32] {
            hris.balances.insert(
                (id, type_id),
                Balance {
                    employee_id: id,
                    absence_type_id: type_id,
                    balance: 20.0 - n as f64 % 7.0,
                    used: 3.0,
                    updated_at: old,
                },
            );
        }
    }
    for n in 0..ABSENCES {
        let id = 5000 + n;
        hris.absences.insert(
            id,
            Absence {
                id,
                employee_id: employee_id(n % EMPLOYEES),
                absence_type_id: 31,
                status: ["approved", "pending", "rejected", "canceled"][(n % 4) as usize].into(),
                start_date: day(2024, 2, 1 + (n % 20) as u32),
                end_date: day(2024, 2, 3 + (n % 20) as u32),
                half_day_start: n % 2 == 0,
                half_day_end: false,
                days_count: 3.0,
                comment: (n % 3 == 0).then(|| "Family trip".to_owned()),
                created_at: old,
                updated_at: old,
            },
        );
    }
    let mut company = sim.state.company_mut(TOOL);
    company.hris = hris;
    company.next_id = 100_000;
}

async fn start() -> Simulator {
    let sim = Simulator::start(SimConfig::default(), "127.0.0.1:0".parse().expect("address"))
        .await
        .expect("simulator starts");
    fill(&sim);
    sim
}

fn client() -> SourceClient {
    SourceClient::new(ClientConfig {
        min_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(50),
        max_attempts: 3,
        requests_per_second: None,
        ..ClientConfig::default()
    })
    .expect("client builds")
}

fn connector(sim: &Simulator, credentials: &Value) -> Result<PersonioConnector, SourceError> {
    let base = Url::parse(&sim.base_url(TOOL)).expect("base URL");
    PersonioConnector::new(base, credentials, ids(), client())
}

fn stream(c: &PersonioConnector, name: &str) -> Stream {
    c.streams().into_iter().find(|s| s.name == name).expect("stream exists")
}

/// Every page of a stream, and how many pages it took.
async fn fetch_all(
    c: &PersonioConnector,
    name: &str,
    mode: FetchMode,
) -> Result<(Vec<SourceRecord>, usize), SourceError> {
    let stream = stream(c, name);
    let mut cursor: Option<Value> = None;
    let mut records = Vec::new();
    let mut pages = 0;
    loop {
        let page = c.fetch_page(&stream, cursor.as_ref(), mode).await?;
        pages += 1;
        assert!(pages < 1000, "pagination of {name} does not end");
        records.extend(page.records);
        match page.next {
            Some(next) => cursor = Some(next),
            None => return Ok((records, pages)),
        }
    }
}

/// The distinct records of one model, by remote id (org units repeat across pages).
fn of(records: &[SourceRecord], model: Model) -> BTreeMap<String, SourceRecord> {
    records
        .iter()
        .filter(|r| r.model == model)
        .map(|r| (r.remote_id.clone(), r.clone()))
        .collect()
}

#[tokio::test]
async fn full_sync_maps_every_stream() {
    let sim = start().await;
    let c = connector(&sim, &sim.integration_credentials(TOOL)).expect("connector");
    let ids = ids();

    assert_eq!(
        c.streams().iter().map(|s| s.name).collect::<Vec<_>>(),
        ["employees", "absence_types", "absences", "time_off_balances"]
    );

    let (records, pages) = fetch_all(&c, "employees", FetchMode::Full).await.expect("employees");
    assert_eq!(pages, 3, "250 employees at 100 per page");
    let employees = of(&records, Model::Employees);
    assert_eq!(employees.len(), EMPLOYEES as usize);
    assert_eq!(
        records.iter().filter(|r| r.model == Model::Employees).count(),
        EMPLOYEES as usize,
        "no duplicates"
    );
    assert_eq!(of(&records, Model::Employments).len(), EMPLOYEES as usize);
    let groups = of(&records, Model::Groups);
    assert_eq!(groups.len(), 3);
    assert_eq!(groups["1"].data["name"], "Engineering");
    assert_eq!(groups["1"].data["type"], "DEPARTMENT");
    assert_eq!(of(&records, Model::Locations)["11"].data["name"], "Berlin HQ");
    assert_eq!(of(&records, Model::LegalEntities)["22"].data["name"], "Acme Ltd");

    // Employee n=14: reports to n=4, department 3, office 11, legal entity 21.
    let e = &employees["1014"];
    let d = &e.data;
    assert_eq!(d["first_name"], "First14");
    assert_eq!(d["display_full_name"], "First14 Last14");
    assert_eq!(d["work_email"], "person14@acme.test");
    assert_eq!(d["personal_email"], "p14@home.test");
    assert_eq!(d["employee_number"], "E-0014");
    assert_eq!(d["gender"], "NON_BINARY");
    assert_eq!(d["employment_status"], "ACTIVE");
    assert_eq!(d["employment_type"], "CONTRACT");
    assert_eq!(d["job_title"], "Engineer 14");
    assert_eq!(d["date_of_birth"], "1990-03-15T00:00:00.000Z");
    assert_eq!(d["start_date"], "2020-03-01T00:00:00.000Z");
    assert_eq!(d["ssn"], "SSN-14");
    assert_eq!(d["home_address"]["zip_code"], "10115");
    assert_eq!(d["bank_accounts"][0]["iban"], "DE00 1234 0014");
    assert_eq!(d["manager_id"], ids.id(Model::Employees, "1004"));
    assert_eq!(d["work_location_id"], ids.id(Model::Locations, "11"));
    assert_eq!(d["legal_entity_id"], ids.id(Model::LegalEntities, "21"));
    assert_eq!(d["group_ids"], json!([ids.id(Model::Groups, "3")]));
    assert_eq!(d["custom_fields"].as_object().map(|m| m.len()), Some(1));
    assert_eq!(
        d["custom_fields"].as_object().and_then(|m| m.values().next()),
        Some(&json!("M"))
    );
    for key in [
        "id",
        "remote_id",
        "changed_at",
        "remote_data",
        "remote_created_at",
        "employments",
        "manager",
    ] {
        assert!(!d.contains_key(key), "`{key}` does not belong in data");
    }
    let deps: HashSet<_> = e.depends_on.iter().cloned().collect();
    assert_eq!(
        deps,
        HashSet::from([
            (Model::Employees, "1004".to_owned()),
            (Model::LegalEntities, "21".to_owned()),
            (Model::Locations, "11".to_owned()),
        ])
    );
    assert_eq!(e.remote_created_at, Some(at(2020, 2, 15)));
    let raw = e.remote_data.as_ref().expect("raw payload");
    assert_eq!(
        raw.pointer("/~1v1~1company~1employees/attributes/birthday/value"),
        Some(&json!("1990-03-15T00:00:00+00:00"))
    );
    for path in c.remote_paths(Model::Employees, "date_of_birth") {
        assert!(raw.pointer(&path).is_some(), "{path} points into the raw employee");
    }
    assert!(employees["1000"].data["manager_id"].is_null());
    assert!(employees["1000"].depends_on.iter().all(|(m, _)| *m != Model::Employees));

    let employment = &of(&records, Model::Employments)["1014"];
    assert_eq!(employment.parent, Some((Model::Employees, "1014".to_owned())));
    assert_eq!(employment.data["employee_id"], ids.id(Model::Employees, "1014"));
    assert_eq!(employment.data["pay_rate"], 5000.0);
    assert_eq!(employment.data["pay_period"], "MONTH");

    let (types, _) = fetch_all(&c, "absence_types", FetchMode::Full).await.expect("types");
    let types = of(&types, Model::AbsenceTypes);
    assert_eq!(types.len(), 2);
    assert_eq!(types["31"].data["unit"], "DAYS");
    assert_eq!(types["32"].data["unit"], "HOURS");

    let (absences, pages) = fetch_all(&c, "absences", FetchMode::Full).await.expect("absences");
    assert_eq!(pages, 3, "450 time-offs at 200 per page");
    let absences = of(&absences, Model::Absences);
    assert_eq!(absences.len(), ABSENCES as usize);
    let a = &absences["5003"].data;
    assert_eq!(a["employee_id"], ids.id(Model::Employees, "1003"));
    assert_eq!(a["type_id"], ids.id(Model::AbsenceTypes, "31"));
    assert_eq!(a["status"], "CANCELLED");
    assert_eq!(a["start_date"], "2024-02-04");
    assert_eq!(a["end_date"], "2024-02-06");
    assert_eq!(a["employee_note"], "Family trip");
    assert_eq!(a["amount"], 3.0);
    assert_eq!(absences["5001"].data["status"], "REQUESTED");
    // Kombo: changes of an absence's type move the absence; it nests under nothing.
    assert_eq!(
        absences["5003"].depends_on,
        vec![(Model::AbsenceTypes, "31".to_owned())]
    );
    assert_eq!(absences["5003"].parent, None);

    let (balances, pages) = fetch_all(&c, "time_off_balances", FetchMode::Full)
        .await
        .expect("balances");
    assert_eq!(pages, 3);
    let balances = of(&balances, Model::TimeOffBalances);
    assert_eq!(balances.len(), 2 * EMPLOYEES as usize);
    let b = &balances["1010:32"];
    assert_eq!(b.parent, Some((Model::Employees, "1010".to_owned())));
    assert_eq!(b.depends_on, vec![(Model::AbsenceTypes, "32".to_owned())]);
    assert_eq!(b.data["employee_id"], ids.id(Model::Employees, "1010"));
    assert_eq!(b.data["type_id"], ids.id(Model::AbsenceTypes, "32"));
    assert_eq!(b.data["balance"], 17.0);
    assert_eq!(b.data["balance_unit"], "HOURS");

    sim.shutdown().await;
}

#[tokio::test]
async fn delta_returns_only_what_changed() {
    let sim = start().await;
    let c = connector(&sim, &sim.integration_credentials(TOOL)).expect("connector");
    let since = at(2024, 6, 1);
    {
        let mut company = sim.state.company_mut(TOOL);
        let now = Utc::now();
        let e = company.hris.employees.get_mut(&employee_id(7)).expect("employee");
        e.position = "Staff Engineer".into();
        e.updated_at = now;
        let a = company.hris.absences.get_mut(&5042).expect("absence");
        a.status = "approved".into();
        a.updated_at = now;
    }

    let (records, pages) = fetch_all(&c, "employees", FetchMode::Delta { since })
        .await
        .expect("employee delta");
    assert_eq!(pages, 1);
    let employees = of(&records, Model::Employees);
    assert_eq!(employees.keys().collect::<Vec<_>>(), ["1007"]);
    assert_eq!(employees["1007"].data["job_title"], "Staff Engineer");
    assert_eq!(of(&records, Model::Employments).keys().collect::<Vec<_>>(), ["1007"]);

    let (absences, _) = fetch_all(&c, "absences", FetchMode::Delta { since })
        .await
        .expect("absence delta");
    assert_eq!(
        absences.iter().map(|r| r.remote_id.as_str()).collect::<Vec<_>>(),
        ["5042"]
    );
    assert_eq!(absences[0].data["status"], "APPROVED");

    sim.shutdown().await;
}

#[tokio::test]
async fn credentials_are_checked() {
    let sim = start().await;

    let missing = connector(&sim, &json!({"client_id": "x"}));
    match missing {
        Err(SourceError::Config(message)) => assert!(message.contains("client_secret"), "{message}"),
        _ => panic!("a missing secret is a configuration error"),
    }

    let wrong = connector(&sim, &json!({"client_id": "x", "client_secret": "nope"})).expect("connector");
    let err = fetch_all(&wrong, "employees", FetchMode::Full)
        .await
        .expect_err("wrong credentials");
    assert!(err.is_auth(), "{err}");

    // Revoked after a token was issued: the cached token fails, re-authenticating fails too.
    let c = connector(&sim, &sim.integration_credentials(TOOL)).expect("connector");
    fetch_all(&c, "absence_types", FetchMode::Full)
        .await
        .expect("works before revocation");
    sim.state.set_revoked(TOOL, true);
    let err = fetch_all(&c, "absence_types", FetchMode::Full)
        .await
        .expect_err("revoked");
    assert!(matches!(err, SourceError::Auth { status: 401, .. }), "{err}");

    sim.shutdown().await;
}

/// The simulated API itself: page-size cap, Personio's error envelope and rate-limit headers.
#[tokio::test]
async fn simulator_speaks_personio() {
    let sim = start().await;
    let base = sim.base_url(TOOL);
    let http = reqwest::Client::new();
    let creds = sim.integration_credentials(TOOL);
    let auth: Value = http
        .post(format!("{base}/v1/auth"))
        .form(&[
            ("client_id", creds["client_id"].as_str()),
            ("client_secret", creds["client_secret"].as_str()),
        ])
        .send()
        .await
        .expect("auth")
        .json()
        .await
        .expect("json");
    assert_eq!(auth["success"], true);
    let token = auth["data"]["token"].as_str().expect("token").to_owned();
    assert!(token.starts_with("papi-"));

    let resp = http
        .get(format!("{base}/v1/company/employees?limit=500&offset=200"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("employees");
    assert_eq!(resp.status(), 200);
    assert!(resp.headers().contains_key("x-ratelimit-remaining"));
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["limit"], 100, "limit is capped at 100");
    assert_eq!(body["data"].as_array().map(Vec::len), Some(50));
    assert_eq!(body["metadata"]["total_elements"], EMPLOYEES);
    assert_eq!(body["metadata"]["total_pages"], 3);

    let resp = http
        .get(format!("{base}/v1/company/employees"))
        .bearer_auth("papi-forged")
        .send()
        .await
        .expect("sent");
    assert_eq!(resp.status(), 401);
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["success"], false);
    assert!(body["error"]["message"].is_string());

    let resp = http
        .get(format!("{base}/v1/company/employees/999999/absences/balance"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("sent");
    assert_eq!(resp.status(), 404);

    sim.shutdown().await;
}

/// The generator's company (not hand-made) syncs completely: every employee, time-off and
/// balance the simulator holds arrives, and every reference resolves to a synced record.
#[tokio::test]
async fn generated_company_syncs_completely() {
    let config = SimConfig {
        employees: 120,
        ..SimConfig::default()
    };
    let sim = Simulator::start(config, "127.0.0.1:0".parse().expect("address"))
        .await
        .expect("simulator starts");
    let (employees, absences, balances) = {
        let company = sim.state.company(TOOL);
        (
            company.hris.employees.len(),
            company.hris.absences.len(),
            company.hris.balances.len(),
        )
    };
    assert!(
        employees >= 100 && absences > 0 && balances > 0,
        "the generator fills the HRIS"
    );
    let c = connector(&sim, &sim.integration_credentials(TOOL)).expect("connector");
    let ids = ids();

    let mut all = Vec::new();
    for s in c.streams() {
        let (records, _) = fetch_all(&c, s.name, FetchMode::Full)
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", s.name));
        all.extend(records);
    }
    assert_eq!(of(&all, Model::Employees).len(), employees);
    assert_eq!(of(&all, Model::Employments).len(), employees);
    assert_eq!(of(&all, Model::Absences).len(), absences);
    assert_eq!(of(&all, Model::TimeOffBalances).len(), balances);

    let known: HashSet<String> = all.iter().map(|r| ids.id(r.model, &r.remote_id)).collect();
    for r in &all {
        for key in [
            "manager_id",
            "work_location_id",
            "legal_entity_id",
            "employee_id",
            "type_id",
        ] {
            if let Some(Value::String(id)) = r.data.get(key) {
                assert!(
                    known.contains(id),
                    "{} {}: `{key}` does not resolve",
                    r.model,
                    r.remote_id
                );
            }
        }
        for id in r.data.get("group_ids").and_then(Value::as_array).into_iter().flatten() {
            assert!(
                id.as_str().is_some_and(|id| known.contains(id)),
                "{} {}: a group does not resolve",
                r.model,
                r.remote_id
            );
        }
    }
    sim.shutdown().await;
}
