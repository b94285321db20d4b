//! Parsing and mapping of Personio bodies that the simulator does not produce on its own.

use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::json;

use super::*;

fn response(body: Value) -> SourceResponse {
    SourceResponse {
        endpoint: EP_EMPLOYEES.to_owned(),
        status: StatusCode::OK,
        headers: HeaderMap::new(),
        body: serde_json::to_vec(&body).expect("serialisable").into(),
    }
}

fn ids() -> IdGen {
    IdGen::new("personio:test")
}

fn employee_json(id: Value) -> Value {
    json!({
        "type": "Employee",
        "attributes": {
            "id": {"label": "ID", "value": id, "type": "integer", "universal_id": "id"},
            "first_name": {"label": "First name", "value": "Ada", "type": "standard", "universal_id": "first_name"},
            "last_name": {"label": "Last name", "value": "Lovelace", "type": "standard", "universal_id": "last_name"},
            "gender": {"label": "Gender", "value": "female", "type": "standard", "universal_id": "gender"},
            "status": {"label": "Status", "value": "onboarding", "type": "standard", "universal_id": "status"},
            "employment_type": {"label": "Employment type", "value": "internal", "type": "standard", "universal_id": "employment_type"},
            "weekly_working_hours": {"label": "Weekly hours", "value": "20", "type": "standard", "universal_id": "weekly_working_hours"},
            "hire_date": {"label": "Hire date", "value": "2012-02-01T00:00:00+0100", "type": "date", "universal_id": "hire_date"},
            "created_at": {"label": "created_at", "value": "2016-10-20T16:15:55+0200", "type": "date", "universal_id": "created_at"},
            "termination_date": {"label": "Termination date", "value": null, "type": "date", "universal_id": "termination_date"},
            "department": {"label": "Department", "value": {"type": "Department", "attributes": {"name": "Marketing"}}},
            "supervisor": {"label": "Supervisor", "value": null},
            "fix_salary": {"label": "Fix salary", "value": 4000, "type": "decimal", "universal_id": "fix_salary"},
            "dynamic_24407": {"label": "Titel", "value": "Dr", "type": "standard", "universal_id": null},
        }
    })
}

#[test]
fn maps_documented_employee_example() {
    let raw = employee_json(json!(83752));
    let parsed: wire::Employee = item(EP_EMPLOYEES, &raw).expect("parses");
    let out = map::employee(&ids(), &raw, parsed).expect("maps");
    let e = &out.employee.data;
    assert_eq!(e["display_full_name"], "Ada Lovelace");
    assert_eq!(e["gender"], "FEMALE");
    assert_eq!(e["employment_status"], "PENDING");
    assert_eq!(e["employment_type"], "PART_TIME", "20 weekly hours");
    assert_eq!(e["weekly_hours"], 20.0);
    assert_eq!(
        e["start_date"], "2012-02-01T00:00:00.000Z",
        "the entered calendar date, offset dropped"
    );
    assert_eq!(e["custom_fields"], json!({"dynamic_24407": "Dr"}));
    assert_eq!(e["manager_id"], Value::Null);
    // A department sent by name only still becomes a group.
    assert_eq!(out.org_units.len(), 1);
    assert_eq!(out.org_units[0].remote_id, "Marketing");
    assert_eq!(e["group_ids"], json!([ids().id(Model::Groups, "Marketing")]));
    assert_eq!(
        out.employee.remote_created_at.map(|t| t.to_rfc3339()).as_deref(),
        Some("2016-10-20T14:15:55+00:00")
    );
    assert_eq!(out.employment.data["pay_rate"], 4000.0);
    assert_eq!(out.employment.data["pay_period"], "MONTH");
    assert_eq!(out.employment.parent, Some((Model::Employees, "83752".to_owned())));
}

#[test]
fn wrong_types_are_malformed() {
    let raw = employee_json(json!("not-a-number"));
    let err = item::<wire::Employee>(EP_EMPLOYEES, &raw).expect_err("id must be an integer");
    assert!(matches!(err, SourceError::Malformed { .. }), "{err}");

    let mut raw = employee_json(json!(1));
    raw["attributes"]["weekly_working_hours"]["value"] = json!("forty");
    assert!(matches!(
        item::<wire::Employee>(EP_EMPLOYEES, &raw),
        Err(SourceError::Malformed { .. })
    ));

    let mut raw = employee_json(json!(1));
    raw["attributes"]["hire_date"]["value"] = json!("last spring");
    let parsed: wire::Employee = item(EP_EMPLOYEES, &raw).expect("a string parses");
    assert!(map::employee(&ids(), &raw, parsed).is_err(), "but is not a date");

    let mut raw = employee_json(json!(1));
    raw["attributes"].as_object_mut().expect("object").remove("id");
    assert!(matches!(
        item::<wire::Employee>(EP_EMPLOYEES, &raw),
        Err(SourceError::Malformed { .. })
    ));
}

#[test]
fn time_off_accepts_numeric_half_day_flags() {
    let raw = json!({
        "type": "TimeOffPeriod",
        "attributes": {
            "id": 12345, "status": "approved", "comment": "", "days_count": 3,
            "start_date": "2017-12-27T00:00:00+0100", "end_date": "2017-12-29T00:00:00+0100",
            "half_day_start": 0, "half_day_end": 1,
            "time_off_type": {"type": "TimeOffType", "attributes": {"id": 54321, "name": "Vacation"}},
            "employee": {"type": "Employee", "attributes": {"id": {"label": "id", "value": 4567}}},
            "created_at": "2017-01-17T10:32:18+0100"
        }
    });
    let parsed: wire::TimeOff = item(EP_TIME_OFFS, &raw).expect("parses");
    let r = map::absence(&ids(), raw.clone(), parsed).expect("maps");
    assert_eq!(r.data["start_date"], "2017-12-27");
    assert_eq!(r.data["start_half_day"], false);
    assert_eq!(r.data["end_half_day"], true);
    assert_eq!(r.data["employee_note"], Value::Null);
    assert_eq!(r.data["employee_id"], ids().id(Model::Employees, "4567"));
    assert_eq!(r.data["type_id"], ids().id(Model::AbsenceTypes, "54321"));

    let mut bad = raw.clone();
    bad["attributes"]["half_day_start"] = json!("maybe");
    assert!(item::<wire::TimeOff>(EP_TIME_OFFS, &bad).is_err());
}

#[test]
fn success_false_with_http_200_is_an_error() {
    let body = json!({"success": false, "error": {"code": 400, "message": "Invalid offset"}});
    match verdict(&response(body)) {
        BodyVerdict::Fail(SourceError::Rejected { message, .. }) => assert!(message.contains("Invalid offset")),
        _ => panic!("expected a rejection"),
    }
    let body = json!({"success": false, "error": {"code": 401, "message": "token expired"}});
    assert!(matches!(
        verdict(&response(body)),
        BodyVerdict::Fail(SourceError::Auth { .. })
    ));
    let body = json!({"success": false, "error": {"code": 429, "message": "slow down"}});
    assert!(matches!(verdict(&response(body)), BodyVerdict::Retry(_)));
    assert!(matches!(
        verdict(&response(json!({"success": true, "data": []}))),
        BodyVerdict::Ok
    ));
}

#[test]
fn pagination_that_does_not_advance_is_caught() {
    let page = |offset: u64, first: u64| wire::List {
        metadata: Some(wire::Metadata {
            total_elements: 500,
            current_page: 0,
            total_pages: 5,
        }),
        offset: Some(offset),
        data: vec![employee_json(json!(first))],
    };
    let cursor = OffsetCursor {
        offset: 100,
        first_id: Some("1".to_owned()),
    };
    // The tool answered offset 100 with offset 0: it ignores the parameter.
    assert!(matches!(
        next_offset(EP_EMPLOYEES, &cursor, &page(0, 2), 100, Some("2".into())),
        Err(SourceError::Pagination { .. })
    ));
    // Same first record as the previous page.
    assert!(matches!(
        next_offset(EP_EMPLOYEES, &cursor, &page(100, 1), 100, Some("1".into())),
        Err(SourceError::Pagination { .. })
    ));
    let next = next_offset(EP_EMPLOYEES, &cursor, &page(100, 2), 100, Some("2".into())).expect("advances");
    assert_eq!(next, Some(json!({"offset": 101, "first_id": "2"})));
}

#[test]
fn remote_paths_point_into_the_raw_employee() {
    assert_eq!(
        map::remote_paths(Model::Employees, "date_of_birth"),
        vec!["/~1v1~1company~1employees/attributes/birthday".to_owned()]
    );
    assert!(map::remote_paths(Model::Employees, "ssn")[0].ends_with("/social_security_number"));
    assert!(map::remote_paths(Model::Employees, "tax_id").is_empty());
}
