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
use tributary_sim::{FaultAction, FaultRule, RequestFilter, SimConfig, Simulator};
use tributary_source::{ClientConfig, Connector, FetchMode, SourceClient, SourceError, Stream};
use url::Url;

const TOOL: ToolKind = ToolKind::Personio;
const EMPLOYEES: u64 = 250;
const ABSENCES: u64 = 450;
/// Hour-based absences (type 32), listed by `/company/absence-periods` only: two pages of 200.
const HOURLY: u64 = 230;

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
// employees 1000.., day-based absences 5000.., hour-based absences 6000...
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
    for n in 0..HOURLY {
        let id = 6000 + n;
        let start_date = day(2024, 3, 4 + (n % 4) as u32);
        hris.absences.insert(
            id,
            Absence {
                id,
                employee_id: employee_id(n % EMPLOYEES),
                absence_type_id: 32,
                status: ["approved", "pending"][(n % 2) as usize].into(),
                start_date,
                // Even ones take part of one day, odd ones two whole days.
                end_date: start_date + chrono::Duration::days((n % 2) as i64),
                half_day_start: false,
                half_day_end: false,
                days_count: 1.0 + (n % 2) as f64,
                comment: None,
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
    // The account's `dynamic_<n>` birthday attribute, moved under `resolved` with its key.
    let birthday = raw
        .pointer("/~1v1~1company~1employees/resolved/date_of_birth")
        .and_then(Value::as_object)
        .expect("the birthday attribute, resolved");
    assert_eq!(birthday.len(), 1);
    let (key, attr) = birthday.iter().next().expect("one");
    assert!(key.starts_with("dynamic_"), "{key}");
    assert_eq!(attr["value"], "1990-03-15T00:00:00+00:00");
    assert_eq!(attr["universal_id"], "date_of_birth");
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
    assert_eq!(pages, 5, "450 time-offs, then 230 absence periods, at 200 per page");
    let absences = of(&absences, Model::Absences);
    assert_eq!(absences.len(), (ABSENCES + HOURLY) as usize);
    assert_eq!(
        absences.values().filter(|a| a.data["unit"] == "HOURS").count(),
        HOURLY as usize
    );
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
        let a = company.hris.absences.get_mut(&6001).expect("hour-based absence");
        a.status = "approved".into();
        a.updated_at = now;
    }
    let period = {
        let company = sim.state.company(TOOL);
        tributary_sim::tools::personio::absence_remote_id(&company, &company.hris.absences[&6001])
    };

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
        ["5042", period.as_str()],
        "the changed time-off, then the changed absence period"
    );
    assert_eq!(absences[0].data["status"], "APPROVED");
    assert_eq!(absences[1].data["status"], "APPROVED");
    assert_eq!(absences[1].data["unit"], "HOURS");

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

    // The same stable token for the same credentials.
    let again: Value = http
        .post(format!("{base}/v1/auth"))
        .json(&creds)
        .send()
        .await
        .expect("auth")
        .json()
        .await
        .expect("json");
    assert_eq!(again["data"]["token"], token.as_str());

    // More than 100 a page is refused, in the error envelope.
    let resp = http
        .get(format!("{base}/v1/company/employees?limit=101&offset=0"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("employees");
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["success"], false);

    let resp = http
        .get(format!("{base}/v1/company/employees?limit=100&offset=200"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("employees");
    assert_eq!(resp.status(), 200);
    // The token comes back in `Authorization`; no rate-limit headers are documented.
    assert_eq!(resp.headers()["authorization"], format!("Bearer {token}").as_str());
    assert!(!resp.headers().contains_key("x-ratelimit-remaining"));
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["limit"], 100);
    assert_eq!(body["data"].as_array().map(Vec::len), Some(50));
    assert_eq!(body["metadata"]["total_elements"], EMPLOYEES);
    assert_eq!(body["metadata"]["total_pages"], 3);
    assert_eq!(body["metadata"]["current_page"], 2);

    // Without `limit`: 50 a page.
    let body: Value = http
        .get(format!("{base}/v1/company/employees"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("employees")
        .json()
        .await
        .expect("json");
    assert_eq!(body["data"].as_array().map(Vec::len), Some(50));

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
    let synced = of(&all, Model::Absences);
    assert_eq!(synced.len(), absences);
    // The generator's "Sick leave" counts hours: those arrive from absence periods, in hours.
    let hourly = {
        let company = sim.state.company(TOOL);
        company
            .hris
            .absences
            .values()
            .filter(|a| company.hris.absence_types[&a.absence_type_id].unit == "hours")
            .count()
    };
    assert!(hourly > 0, "the generated company has hour-based absences");
    assert_eq!(synced.values().filter(|r| r.data["unit"] == "HOURS").count(), hourly);
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

async fn token(sim: &Simulator) -> String {
    let body: Value = reqwest::Client::new()
        .post(format!("{}/v1/auth", sim.base_url(TOOL)))
        .json(&sim.integration_credentials(TOOL))
        .send()
        .await
        .expect("auth")
        .json()
        .await
        .expect("json");
    body["data"]["token"].as_str().expect("token").to_owned()
}

async fn get_json(sim: &Simulator, token: &str, path_and_query: &str) -> Value {
    reqwest::Client::new()
        .get(format!("{}{path_and_query}", sim.base_url(TOOL)))
        .bearer_auth(token)
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json")
}

fn ids_of(body: &Value) -> Vec<u64> {
    body["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|t| t["attributes"]["id"].as_u64().expect("id"))
        .collect()
}

/// `/company/time-offs` reads `offset` as a page number from 1, 0 as 1 too: a client paging by
/// record offset (as on every other v1 list) skips records, one counting pages from 0 reads
/// page 1 twice; the connector gets every time-off once.
#[tokio::test]
async fn time_offs_offset_is_a_one_based_page_number() {
    let sim = start().await;
    let token = token(&sim).await;
    let page0 = get_json(&sim, &token, "/v1/company/time-offs?limit=200&offset=0").await;
    let page1 = get_json(&sim, &token, "/v1/company/time-offs?limit=200&offset=1").await;
    let page2 = get_json(&sim, &token, "/v1/company/time-offs?limit=200&offset=2").await;
    assert_eq!(ids_of(&page0), ids_of(&page1), "0 is read as 1");
    assert_eq!(page1["metadata"]["current_page"], 1);
    assert_eq!(page2["metadata"]["current_page"], 2);
    assert_eq!(page2["metadata"]["total_pages"], 3);
    assert_eq!(ids_of(&page2)[0], 5200, "page 2 starts at the 201st time-off");
    // Out-of-range values fall back (27 Nov 2026): limit to 200, offset to 0.
    let fallback = get_json(&sim, &token, "/v1/company/time-offs?limit=5000&offset=-3").await;
    assert_eq!(fallback["limit"], 200);
    assert_eq!(ids_of(&fallback), ids_of(&page1));

    // A client paging by record offset: offset 200 is page 200, empty; it stops at 200 of 450.
    let mut naive = Vec::new();
    let mut offset = 0;
    loop {
        let body = get_json(
            &sim,
            &token,
            &format!("/v1/company/time-offs?limit=200&offset={offset}"),
        )
        .await;
        let got = ids_of(&body);
        if got.is_empty() {
            break;
        }
        offset += got.len();
        naive.extend(got);
    }
    assert_eq!(naive.len(), 200, "record offsets skip every page after the first");

    let since = sim.state.last_request_seq();
    let c = connector(&sim, &sim.integration_credentials(TOOL)).expect("connector");
    let (records, pages) = fetch_all(&c, "absences", FetchMode::Full).await.expect("absences");
    assert_eq!(pages, 5, "3 pages of time-offs, 2 of absence periods");
    let days: Vec<_> = records.iter().filter(|r| r.data["unit"] == "DAYS").collect();
    assert_eq!(days.len(), ABSENCES as usize);
    let offsets: Vec<String> = sim
        .state
        .requests(&RequestFilter {
            tool: Some(TOOL),
            path_contains: Some("/company/time-offs".into()),
            since_seq: Some(since),
            ..RequestFilter::default()
        })
        .into_iter()
        .map(|e| e.query)
        .collect();
    assert_eq!(
        offsets,
        ["limit=200&offset=1", "limit=200&offset=2", "limit=200&offset=3"],
        "pages 1, 2, 3"
    );
    sim.shutdown().await;
}

fn uuids_of(body: &Value) -> Vec<String> {
    body["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|t| t["attributes"]["id"].as_str().expect("a string id").to_owned())
        .collect()
}

/// Hour-based absences are listed by `/company/absence-periods` only, whose `offset` has been a
/// page number (from 1, 0 read as 1) since 25 Aug 2023: a client still paging it by record
/// offset, as the endpoint used to work, stops after the first page; one counting pages from 0
/// reads page 1 twice and misses the last. The connector gets every hour-based absence once,
/// in hours, and none of them through `/company/time-offs`.
#[tokio::test]
async fn absence_periods_offset_is_a_one_based_page_number() {
    let sim = start().await;
    let token = token(&sim).await;
    let page0 = get_json(&sim, &token, "/v1/company/absence-periods?limit=200&offset=0").await;
    let page1 = get_json(&sim, &token, "/v1/company/absence-periods?limit=200&offset=1").await;
    let page2 = get_json(&sim, &token, "/v1/company/absence-periods?limit=200&offset=2").await;
    assert_eq!(uuids_of(&page0), uuids_of(&page1), "0 is read as 1");
    assert_eq!(page0["metadata"]["current_page"], 1);
    assert_eq!(page2["metadata"]["current_page"], 2);
    assert_eq!(page2["metadata"]["total_pages"], 2);
    assert_eq!(page2["metadata"]["total_elements"], HOURLY);
    assert_eq!(uuids_of(&page2).len(), (HOURLY - 200) as usize);
    // No hour-based absence among the time-offs, and no time-off among the periods.
    let time_offs = get_json(&sim, &token, "/v1/company/time-offs?limit=200&offset=3").await;
    assert_eq!(time_offs["metadata"]["total_elements"], ABSENCES);
    assert!(ids_of(&time_offs).iter().all(|id| *id < 6000));

    // The rule before 25 Aug 2023: offset counts records. Offset 200 is page 200, empty.
    let mut by_record = Vec::new();
    let mut offset = 0;
    loop {
        let body = get_json(
            &sim,
            &token,
            &format!("/v1/company/absence-periods?limit=200&offset={offset}"),
        )
        .await;
        let got = uuids_of(&body);
        if got.is_empty() {
            break;
        }
        offset += got.len();
        by_record.extend(got);
    }
    assert_eq!(by_record.len(), 200, "record offsets miss every page after the first");
    // Pages counted from 0: 0, 1 (the same page), then stopping at total_pages = 2.
    let mut from_zero = HashSet::new();
    for page in 0..2 {
        let body = get_json(
            &sim,
            &token,
            &format!("/v1/company/absence-periods?limit=200&offset={page}"),
        )
        .await;
        from_zero.extend(uuids_of(&body));
    }
    assert_eq!(from_zero.len(), 200, "pages from 0 miss the last page");

    let since = sim.state.last_request_seq();
    let c = connector(&sim, &sim.integration_credentials(TOOL)).expect("connector");
    let (records, _) = fetch_all(&c, "absences", FetchMode::Full).await.expect("absences");
    let hourly: BTreeMap<String, SourceRecord> = of(&records, Model::Absences)
        .into_iter()
        .filter(|(_, r)| r.data["unit"] == "HOURS")
        .collect();
    let expected: BTreeMap<String, Absence> = {
        let company = sim.state.company(TOOL);
        company
            .hris
            .absences
            .values()
            .filter(|a| a.absence_type_id == 32)
            .map(|a| {
                let id = tributary_sim::tools::personio::absence_remote_id(&company, a);
                (id, a.clone())
            })
            .collect()
    };
    assert_eq!(hourly.len(), HOURLY as usize);
    assert_eq!(hourly.keys().collect::<Vec<_>>(), expected.keys().collect::<Vec<_>>());
    let ids = ids();
    for (id, a) in &expected {
        let r = &hourly[id].data;
        assert_eq!(r["start_date"], a.start_date.format("%Y-%m-%d").to_string(), "{id}");
        assert_eq!(r["end_date"], a.end_date.format("%Y-%m-%d").to_string(), "{id}");
        assert_eq!(r["type_id"], ids.id(Model::AbsenceTypes, "32"));
        assert_eq!(r["employee_id"], ids.id(Model::Employees, &a.employee_id.to_string()));
        if a.end_date > a.start_date {
            // Two weekdays of eight hours, 09:00 on the first to 17:00 on the last.
            assert_eq!(r["amount"], 16.0, "{id}");
            assert_eq!(
                (r["start_time"].as_str(), r["end_time"].as_str()),
                (Some("09:00:00"), Some("17:00:00"))
            );
        } else {
            let hours = r["amount"].as_f64().expect("amount");
            assert!((1.0..=4.0).contains(&hours) && hours.fract() == 0.0, "{id}: {hours}");
            let start: u32 = r["start_time"].as_str().expect("start_time")[..2]
                .parse()
                .expect("hour");
            let end: u32 = r["end_time"].as_str().expect("end_time")[..2].parse().expect("hour");
            assert_eq!(f64::from(end - start), hours, "{id}");
        }
    }
    let offsets: Vec<String> = sim
        .state
        .requests(&RequestFilter {
            tool: Some(TOOL),
            path_contains: Some("/company/absence-periods".into()),
            since_seq: Some(since),
            ..RequestFilter::default()
        })
        .into_iter()
        .map(|e| e.query)
        .collect();
    assert_eq!(offsets, ["limit=200&offset=1", "limit=200&offset=2"], "pages 1, 2");
    sim.shutdown().await;
}

/// `updated_from` on absence periods is an inclusive date-time: a period updated exactly then
/// is listed, one updated a second earlier is not.
#[tokio::test]
async fn absence_periods_updated_from_is_inclusive() {
    let sim = start().await;
    let token = token(&sim).await;
    let edge = at(2024, 6, 3);
    {
        let mut company = sim.state.company_mut(TOOL);
        company.hris.absences.get_mut(&6010).expect("absence").updated_at = edge;
        company.hris.absences.get_mut(&6011).expect("absence").updated_at = edge - chrono::Duration::seconds(1);
        // A day-based absence updated then is a time-off, not an absence period.
        company.hris.absences.get_mut(&5010).expect("absence").updated_at = edge;
    }
    let expected = {
        let company = sim.state.company(TOOL);
        tributary_sim::tools::personio::absence_remote_id(&company, &company.hris.absences[&6010])
    };
    let body = get_json(
        &sim,
        &token,
        "/v1/company/absence-periods?updated_from=2024-06-03T09:30:00Z",
    )
    .await;
    assert_eq!(uuids_of(&body), std::slice::from_ref(&expected));
    let c = connector(&sim, &sim.integration_credentials(TOOL)).expect("connector");
    let (records, _) = fetch_all(&c, "absences", FetchMode::Delta { since: edge })
        .await
        .expect("delta");
    let ids: Vec<&str> = records.iter().map(|r| r.remote_id.as_str()).collect();
    assert_eq!(ids, ["5010", expected.as_str()]);
    sim.shutdown().await;
}

/// Deletion candidates among hour-based absences are confirmed through the list's
/// `absence_periods[]` filter (there is no `GET` by id): one that still exists is found, a
/// deleted one is not, and a day-based candidate still goes to `/company/time-offs/{id}`.
#[tokio::test]
async fn hour_based_deletion_candidates_are_looked_up_by_id_filter() {
    let sim = start().await;
    let (kept, gone) = {
        let company = sim.state.company(TOOL);
        let id = |n: u64| tributary_sim::tools::personio::absence_remote_id(&company, &company.hris.absences[&n]);
        (id(6005), id(6006))
    };
    sim.state.company_mut(TOOL).hris.absences.remove(&6006);
    sim.state.company_mut(TOOL).hris.absences.remove(&5006);
    let c = connector(&sim, &sim.integration_credentials(TOOL)).expect("connector");
    let candidates = vec![
        (Model::Absences, kept.clone()),
        (Model::Absences, gone.clone()),
        (Model::Absences, "5005".to_owned()),
        (Model::Absences, "5006".to_owned()),
    ];
    let lookup = c.lookup(&stream(&c, "absences"), &candidates).await.expect("lookup");
    let mut found: Vec<&str> = lookup.found.iter().map(|r| r.remote_id.as_str()).collect();
    found.sort();
    let mut want = vec!["5005", kept.as_str()];
    want.sort();
    assert_eq!(found, want);
    assert!(lookup.unchecked.is_empty(), "every absence has a way to be checked");
    sim.shutdown().await;
}

/// Personal data is in `dynamic_<n>` attributes numbered per account: a client reading fixed
/// keys (`birthday`, `iban`) gets nothing, the connector reads them through the account's
/// attribute definitions, in two accounts that number them differently.
#[tokio::test]
async fn personal_attributes_are_dynamic_per_account() {
    let mut keys_seen = Vec::new();
    for seed in [3, 4] {
        let config = SimConfig {
            employees: 40,
            seed,
            ..SimConfig::default()
        };
        let sim = Simulator::start(config, "127.0.0.1:0".parse().expect("address"))
            .await
            .expect("simulator starts");
        let token = token(&sim).await;
        let page = get_json(&sim, &token, "/v1/company/employees?limit=100&offset=0").await;
        for e in page["data"].as_array().expect("data") {
            for fixed in [
                "birthday",
                "iban",
                "nationality",
                "social_security_number",
                "address_city",
            ] {
                assert!(e["attributes"].get(fixed).is_none(), "fixed key `{fixed}` served");
            }
        }
        let defs = get_json(&sim, &token, "/v1/company/employees/attributes").await;
        let iban = defs["data"]
            .as_array()
            .expect("definitions")
            .iter()
            .find(|d| d["universal_id"] == "iban")
            .expect("the IBAN attribute is described");
        assert_eq!(iban["label"], "IBAN");
        let key = iban["key"].as_str().expect("key").to_owned();
        assert!(key.starts_with("dynamic_"), "{key}");
        keys_seen.push(key);
        // The alias answers the same.
        assert_eq!(
            get_json(&sim, &token, "/v1/company/employees/custom-attributes").await,
            defs
        );

        let c = connector(&sim, &sim.integration_credentials(TOOL)).expect("connector");
        let (records, _) = fetch_all(&c, "employees", FetchMode::Full).await.expect("employees");
        let mapped = of(&records, Model::Employees);
        let employees = sim.state.company(TOOL).hris.employees.clone();
        for (id, e) in &employees {
            let d = &mapped[&id.to_string()].data;
            let expect_date = e.birthday.map(|b| format!("{}T00:00:00.000Z", b.format("%Y-%m-%d")));
            assert_eq!(d["date_of_birth"].as_str(), expect_date.as_deref(), "employee {id}");
            assert_eq!(d["nationality"].as_str(), e.nationality.as_deref(), "employee {id}");
            assert_eq!(d["ssn"].as_str(), e.ssn.as_deref(), "employee {id}");
            assert_eq!(
                d["bank_accounts"][0]["iban"].as_str(),
                e.iban.as_deref(),
                "employee {id}"
            );
            assert_eq!(d["home_address"]["city"].as_str(), e.city.as_deref(), "employee {id}");
            assert_eq!(
                d["personal_email"].as_str(),
                e.personal_email.as_deref(),
                "employee {id}"
            );
            assert_eq!(
                d["mobile_phone_number"].as_str(),
                e.mobile_phone.as_deref(),
                "employee {id}"
            );
            // Only the company's own attributes are custom fields.
            assert_eq!(
                d["custom_fields"].as_object().map(|m| m.len()).unwrap_or(0),
                e.custom.len(),
                "employee {id}"
            );
        }
        sim.shutdown().await;
    }
    assert_ne!(keys_seen[0], keys_seen[1], "each account numbers its attributes");
}

/// The token a response carries in `Authorization` is the one for the next request, as the
/// documentation says (one-time tokens until Personio made them stable): against a server that
/// rotates it, the connector follows.
#[tokio::test]
async fn echoed_token_is_used_for_the_next_request() {
    use std::sync::{Arc, Mutex};

    let used: Arc<Mutex<Vec<String>>> = Arc::default();
    let seen = used.clone();
    let app = axum::Router::new().fallback(move |req: axum::extract::Request| {
        let seen = seen.clone();
        async move {
            use axum::response::IntoResponse;
            let path = req.uri().path().to_owned();
            if path.ends_with("/v1/auth") {
                return axum::Json(json!({"success": true, "data": {"token": "papi-0"}})).into_response();
            }
            let sent = req
                .headers()
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .trim_start_matches("Bearer ")
                .to_owned();
            let n = {
                let mut seen = seen.lock().unwrap();
                seen.push(sent.clone());
                seen.len() - 1
            };
            // One-time tokens: only the newest one works.
            if sent != format!("papi-{n}") {
                return (
                    axum::http::StatusCode::UNAUTHORIZED,
                    axum::Json(json!({"success": false, "error": {"code": 401, "message": "used"}})),
                )
                    .into_response();
            }
            let body = if path.ends_with("/attributes") {
                json!({"success": true, "data": []})
            } else {
                json!({
                    "success": true,
                    "metadata": {"total_elements": 1, "current_page": 0, "total_pages": 1},
                    "offset": 0, "limit": 100,
                    "data": [{"type": "Employee", "attributes": {
                        "id": {"label": "ID", "value": 1, "type": "integer", "universal_id": "id"}
                    }}]
                })
            };
            let mut resp = axum::Json(body).into_response();
            resp.headers_mut().insert(
                "authorization",
                format!("Bearer papi-{}", n + 1).parse().expect("header"),
            );
            resp
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, app).await });

    let base = Url::parse(&format!("http://{addr}")).expect("url");
    let c = PersonioConnector::new(base, &json!({"client_id": "a", "client_secret": "b"}), ids(), client())
        .expect("connector");
    let (records, _) = fetch_all(&c, "employees", FetchMode::Full).await.expect("employees");
    assert_eq!(of(&records, Model::Employees).len(), 1);
    assert_eq!(*used.lock().unwrap(), ["papi-0", "papi-1"]);
}

/// With the documented limits on, GET employees allows bursts of 15 a second and answers 429
/// beyond; the connector, arriving while a burst has spent the second, waits it out and gets
/// every page.
#[tokio::test]
async fn documented_rate_limit_is_waited_out() {
    let config = SimConfig {
        employees: 1_000,
        documented_rate_limits: true,
        ..SimConfig::default()
    };
    let sim = Simulator::start(config, "127.0.0.1:0".parse().expect("address"))
        .await
        .expect("simulator starts");
    let employees = sim.state.company(TOOL).hris.employees.len();
    let token = token(&sim).await;
    let http = reqwest::Client::new();
    let url = format!(
        "{}/v1/company/employees?limit=1&offset=0&attributes[]=id",
        sim.base_url(TOOL)
    );
    // Another client of the same account spends the burst, until Personio refuses.
    let mut refused = None;
    for _ in 0..200 {
        let resp = http.get(&url).bearer_auth(&token).send().await.expect("sent");
        if resp.status() == 429 {
            refused = Some(resp.json::<Value>().await.expect("json"));
            break;
        }
    }
    let refused = refused.expect("15 a second at most");
    assert_eq!(refused["success"], false, "the v1 error envelope");
    assert_eq!(refused["error"]["code"], 429);

    let since = sim.state.last_request_seq();
    // One attempt per request: every 429 reaches the connector, which must wait the second
    // itself (the client's own backoff may be shorter).
    let single = SourceClient::new(ClientConfig {
        max_attempts: 1,
        requests_per_second: None,
        ..ClientConfig::default()
    })
    .expect("client builds");
    let base = Url::parse(&sim.base_url(TOOL)).expect("base URL");
    let c = PersonioConnector::new(base, &sim.integration_credentials(TOOL), ids(), single).expect("connector");
    let (records, _) = fetch_all(&c, "employees", FetchMode::Full).await.expect("waited out");
    assert_eq!(of(&records, Model::Employees).len(), employees);
    let log = sim.state.requests(&RequestFilter {
        tool: Some(TOOL),
        path_contains: Some("/company/employees".into()),
        since_seq: Some(since),
        ..RequestFilter::default()
    });
    let throttled: Vec<_> = log.iter().filter(|e| e.status == 429).collect();
    assert!(!throttled.is_empty(), "the connector met the limit: {log:?}");
    // Personio asks for at least a second before retrying a 429.
    for refusal in &throttled {
        let retry = log
            .iter()
            .find(|e| e.seq > refusal.seq && e.query == refusal.query)
            .expect("retried");
        assert!(
            retry.at - refusal.at >= chrono::Duration::milliseconds(950),
            "retried after {:?}",
            retry.at - refusal.at
        );
    }
    sim.shutdown().await;
}

/// Input outside the documented contract on the new paths fails the stream with an error that
/// names the tool, the endpoint and the field.
#[tokio::test]
async fn bad_attribute_input_names_tool_endpoint_and_field() {
    let sim = start().await;
    let definitions = sim
        .state
        .add_fault(
            FaultRule::new(
                TOOL,
                FaultAction::Status {
                    code: 200,
                    retry_after: None,
                    body: Some(r#"{"success": true, "data": [{"label": "IBAN"}]}"#.to_owned()),
                },
            )
            .path("/company/employees/attributes"),
        )
        .expect("fault");
    let c = connector(&sim, &sim.integration_credentials(TOOL)).expect("connector");
    let err = fetch_all(&c, "employees", FetchMode::Full)
        .await
        .expect_err("definitions without keys");
    let text = err.to_string();
    assert!(
        text.contains("Personio GET /v1/company/employees/attributes") && text.contains("key"),
        "{text}"
    );
    sim.state.remove_fault(definitions);

    // A personal attribute of the wrong type: the employee, the attribute and the field.
    let iban_key = {
        let company = sim.state.company(TOOL);
        tributary_sim::tools::personio::Attributes::of(&company)
            .personal
            .iter()
            .find(|d| d.universal_id == Some("iban"))
            .expect("iban")
            .key
            .clone()
    };
    let body = json!({
        "success": true,
        "metadata": {"total_elements": 1, "current_page": 0, "total_pages": 1},
        "offset": 0, "limit": 100,
        "data": [{"type": "Employee", "attributes": {
            "id": {"label": "ID", "value": 7, "type": "integer", "universal_id": "id"},
            (iban_key.as_str()): {"label": "IBAN", "value": {"nested": true}, "type": "standard", "universal_id": "iban"}
        }}]
    });
    sim.state
        .add_fault(
            FaultRule::new(
                TOOL,
                FaultAction::Status {
                    code: 200,
                    retry_after: None,
                    body: Some(body.to_string()),
                },
            )
            .path("/company/employees")
            .query("offset=0"),
        )
        .expect("fault");
    let c = connector(&sim, &sim.integration_credentials(TOOL)).expect("connector");
    let err = fetch_all(&c, "employees", FetchMode::Full)
        .await
        .expect_err("an object is no IBAN");
    let text = err.to_string();
    assert!(
        text.contains("Personio GET /v1/company/employees")
            && text.contains("employee 7")
            && text.contains(&iban_key)
            && text.contains("bank_accounts"),
        "{text}"
    );
    sim.shutdown().await;
}

/// Attribute definitions the tool cannot serve (a 503 through every retry) leave the labels and
/// universal ids each employee carries: personal data still arrives.
#[tokio::test]
async fn unavailable_definitions_fall_back_to_what_employees_carry() {
    let sim = start().await;
    sim.state
        .add_fault(
            FaultRule::new(
                TOOL,
                FaultAction::Status {
                    code: 503,
                    retry_after: None,
                    body: None,
                },
            )
            .path("/company/employees/attributes"),
        )
        .expect("fault");
    let c = connector(&sim, &sim.integration_credentials(TOOL)).expect("connector");
    let (records, _) = fetch_all(&c, "employees", FetchMode::Full).await.expect("employees");
    let employees = of(&records, Model::Employees);
    let d = &employees["1014"].data;
    assert_eq!(d["date_of_birth"], "1990-03-15T00:00:00.000Z");
    assert_eq!(d["bank_accounts"][0]["iban"], "DE00 1234 0014");
    assert_eq!(d["home_address"]["zip_code"], "10115");
    assert_eq!(d["custom_fields"].as_object().map(|m| m.len()), Some(1));
    let refused = sim
        .state
        .requests(&RequestFilter {
            tool: Some(TOOL),
            path_contains: Some("/company/employees/attributes".into()),
            ..RequestFilter::default()
        })
        .iter()
        .filter(|e| e.status == 503)
        .count();
    assert_eq!(refused, 3, "asked as often as the client retries, then went on");
    sim.shutdown().await;
}
