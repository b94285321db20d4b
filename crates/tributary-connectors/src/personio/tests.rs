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
            "dynamic_21827": {"label": "IBAN", "value": "DE98 8989 9898 0000 8989 00", "type": "standard", "universal_id": "iban"},
            "dynamic_180883": {"label": "Birthday", "value": "1983-08-18", "type": "date", "universal_id": "date_of_birth"},
            "dynamic_153804": {"label": "Address, postcode", "value": "80331", "type": "standard", "universal_id": null},
        }
    })
}

/// The definitions `GET /company/employees/attributes` gives for [`employee_json`]'s account.
fn definitions() -> map::AttributeMap {
    let list: wire::AttributeList = serde_json::from_value(json!({"success": true, "data": [
        {"key": "first_name", "label": "First Name", "type": "standard", "universal_id": "first_name", "options": []},
        {"key": "dynamic_24407", "label": "Titel", "type": "standard", "universal_id": null, "options": []},
        {"key": "dynamic_21827", "label": "IBAN", "type": "standard", "universal_id": "iban", "options": []},
        {"key": "dynamic_180883", "label": "Birthday", "type": "date", "universal_id": "date_of_birth", "options": []},
        {"key": "dynamic_153804", "label": "Address, postcode", "type": "standard", "universal_id": null, "options": []},
    ]}))
    .expect("the documented shape");
    map::AttributeMap::new(&list.data)
}

#[test]
fn maps_documented_employee_example() {
    let raw = employee_json(json!(83752));
    let parsed: wire::Employee = item(EP_EMPLOYEES, &raw).expect("parses");
    let out = map::employee(&ids(), &definitions(), &raw, parsed).expect("maps");
    let e = &out.employee.data;
    // Personal data through the account's definitions: by universal id, else by label.
    assert_eq!(e["bank_accounts"][0]["iban"], "DE98 8989 9898 0000 8989 00");
    assert_eq!(e["date_of_birth"], "1983-08-18T00:00:00.000Z");
    assert_eq!(e["home_address"]["zip_code"], "80331");
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
    assert!(
        map::employee(&ids(), &definitions(), &raw, parsed).is_err(),
        "but is not a date"
    );

    // A personal attribute of the wrong type names the attribute and the field it fills.
    let mut raw = employee_json(json!(1));
    raw["attributes"]["dynamic_21827"]["value"] = json!(42);
    let parsed: wire::Employee = item(EP_EMPLOYEES, &raw).expect("parses");
    let Err(err) = map::employee(&ids(), &definitions(), &raw, parsed) else {
        panic!("a number is no IBAN");
    };
    assert!(
        err.0.contains("dynamic_21827") && err.0.contains("bank_accounts"),
        "{}",
        err.0
    );

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
            current_page: offset / 100,
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
        next_employee_offset(&cursor, &page(0, 2), Some("2".into())),
        Err(SourceError::Pagination { .. })
    ));
    // Same first record as the previous page.
    assert!(matches!(
        next_employee_offset(&cursor, &page(100, 1), Some("1".into())),
        Err(SourceError::Pagination { .. })
    ));
    let next = next_employee_offset(&cursor, &page(100, 2), Some("2".into())).expect("advances");
    assert_eq!(next, Some(json!({"offset": 101, "first_id": "2"})));
    // The documented end: current_page >= total_pages - 1.
    let last = OffsetCursor {
        offset: 400,
        first_id: None,
    };
    assert_eq!(next_employee_offset(&last, &page(400, 9), None).expect("ends"), None);
    // Without metadata there is no end signal: malformed, naming the field.
    let mut bare = page(100, 2);
    bare.metadata = None;
    match next_employee_offset(&cursor, &bare, Some("2".into())) {
        Err(SourceError::Malformed { endpoint, detail }) => {
            assert!(endpoint.starts_with("Personio GET /v1/company/employees"), "{endpoint}");
            assert!(detail.contains("metadata"), "{detail}");
        }
        other => panic!("expected malformed, got {other:?}"),
    }
}

#[test]
fn remote_paths_point_into_the_raw_employee() {
    assert_eq!(
        map::remote_paths(Model::Employees, "date_of_birth"),
        vec!["/~1v1~1company~1employees/resolved/date_of_birth".to_owned()]
    );
    assert_eq!(
        map::remote_paths(Model::Employees, "ssn"),
        vec!["/~1v1~1company~1employees/resolved/ssn".to_owned()]
    );
    assert!(map::remote_paths(Model::Employees, "tax_id").is_empty());

    // The account's personal attributes move under `resolved`, where those pointers reach.
    let raw = employee_json(json!(7));
    let parsed: wire::Employee = item(EP_EMPLOYEES, &raw).expect("parses");
    let attrs = definitions();
    let out = map::employee(&ids(), &attrs, &raw, parsed)
        .expect("maps")
        .with_raw(raw, &attrs);
    let stored = out.employee.remote_data.expect("raw kept");
    for field in ["date_of_birth", "bank_accounts", "home_address"] {
        for p in map::remote_paths(Model::Employees, field) {
            assert!(stored.pointer(&p).is_some(), "{p}");
        }
    }
    assert!(
        stored
            .pointer("/~1v1~1company~1employees/attributes/dynamic_21827")
            .is_none()
    );
    assert_eq!(
        stored.pointer("/~1v1~1company~1employees/resolved/bank_accounts/dynamic_21827/value"),
        Some(&json!("DE98 8989 9898 0000 8989 00"))
    );
    // The company's own attribute stays where it was: a custom field.
    assert!(
        stored
            .pointer("/~1v1~1company~1employees/attributes/dynamic_24407")
            .is_some()
    );
}

#[test]
fn attributes_resolve_by_universal_id_before_label() {
    let list: wire::AttributeList = serde_json::from_value(json!({"data": [
        // A universal id wins over a misleading label.
        {"key": "dynamic_1", "label": "Nationality", "universal_id": "iban"},
        // A universal id that names something else is no personal field, whatever the label.
        {"key": "dynamic_2", "label": "IBAN", "universal_id": "marital_status"},
        {"key": "dynamic_3", "label": "  date of   BIRTH ", "universal_id": null},
        {"key": "dynamic_4", "label": "Shoe size", "universal_id": null},
    ]}))
    .expect("shape");
    let attrs = map::AttributeMap::new(&list.data);
    let none = Value::Null;
    assert_eq!(attrs.role("dynamic_1", &none), Some(map::Personal::Iban));
    assert_eq!(attrs.role("dynamic_2", &none), None);
    assert_eq!(attrs.role("dynamic_3", &none), Some(map::Personal::DateOfBirth));
    assert_eq!(attrs.role("dynamic_4", &none), None);
    // Not among the definitions: resolved from what the employee object says about it.
    assert_eq!(
        attrs.role("dynamic_9", &json!({"label": "Address, city", "universal_id": null})),
        Some(map::Personal::City)
    );
    // Standard keys are never personal attributes, whatever their label.
    assert_eq!(attrs.role("email", &json!({"label": "IBAN"})), None);
}

#[test]
fn throttling_is_told_from_other_failures() {
    let throttled = SourceError::Transient {
        endpoint: EP_EMPLOYEES.to_owned(),
        message: "429 Too Many Requests: {}".to_owned(),
        attempts: 3,
        retry_after: None,
    };
    assert!(is_throttled(&throttled));
    let failing = SourceError::Transient {
        endpoint: EP_EMPLOYEES.to_owned(),
        message: "500: oops".to_owned(),
        attempts: 3,
        retry_after: None,
    };
    assert!(!is_throttled(&failing));
}

#[test]
fn time_off_checkpoints_from_zero_based_pages_still_resume() {
    // Written before pages counted from 1: `page` 2 meant the third page.
    let old: PageCursor = serde_json::from_value(json!({"page": 2, "first_id": "7"})).expect("reads");
    assert!(!old.from_one);
    let new: PageCursor = serde_json::from_value(json!({"page": 3, "from_one": true})).expect("reads");
    assert!(new.from_one);
    let fresh = PageCursor::default();
    assert_eq!([old, new, fresh].map(|c| c.page_number()), [3, 3, 1]);
}

/// The Personnel Data file's example absence period: created in another zone than UTC (its
/// `start` is 22:00 UTC, midnight in Berlin), so the local days come from the breakdown and no
/// clock time is made up; 960 minutes are 16 hours.
fn period_example() -> Value {
    json!({
        "type": "AbsencePeriod",
        "attributes": {
            "id": "9bba303f-0fbc-4514-9958-0befa21923fb",
            "measurement_unit": "hour",
            "effective_duration": 960,
            "employee": {"type": "Employee", "attributes": {"id": {"label": "id", "value": 2367, "type": "integer", "universal_id": "id"}}},
            "absence_type": {"type": "AbsenceType", "attributes": {"id": "9bba303f-0fbc-4514-9958-0befa21923fb", "name": "Absence Type Name", "time_off_type_id": 45678}},
            "certificate": {"status": "not-required"},
            "start": "2022-05-31T22:00:00.0Z",
            "end": "2022-06-02T22:00:00.0Z",
            "half_day_start": true,
            "half_day_end": false,
            "comment": "this is a comment",
            "origin": "web",
            "status": "approved",
            "timezone": "Europe/Berlin",
            "created_by": 1,
            "created_at": "2022-06-20T14:29:56.510Z",
            "updated_at": "2022-06-20T14:29:56.510Z",
            "approved_at": "2022-06-20T14:29:56.510Z",
            "breakdowns": [
                {"date": "2022-06-01", "effective_duration": 480},
                {"date": "2022-06-02", "effective_duration": 480}
            ]
        }
    })
}

#[test]
fn absence_period_maps_to_hours_in_its_local_days() {
    let raw = period_example();
    let parsed: wire::AbsencePeriod = item(EP_PERIODS, &raw).expect("parses");
    let r = map::absence_period(&ids(), raw.clone(), parsed).expect("maps");
    assert_eq!(r.remote_id, "9bba303f-0fbc-4514-9958-0befa21923fb");
    assert_eq!(r.data["unit"], "HOURS");
    assert_eq!(r.data["amount"], 16.0);
    assert_eq!(r.data["start_date"], "2022-06-01", "the UTC date would be 2022-05-31");
    assert_eq!(r.data["end_date"], "2022-06-02");
    assert_eq!(r.data["start_time"], Value::Null);
    assert_eq!(r.data["start_half_day"], true);
    assert_eq!(r.data["status"], "APPROVED");
    assert_eq!(r.data["employee_note"], "this is a comment");
    assert_eq!(r.data["employee_id"], ids().id(Model::Employees, "2367"));
    assert_eq!(r.data["type_id"], ids().id(Model::AbsenceTypes, "45678"));
    assert_eq!(r.depends_on, vec![(Model::AbsenceTypes, "45678".to_owned())]);

    // In UTC the date-times are local already: dates and clock times come from them.
    let mut utc = raw.clone();
    utc["attributes"]["timezone"] = json!("UTC");
    utc["attributes"]["start"] = json!("2022-06-01T08:00:00Z");
    utc["attributes"]["end"] = json!("2022-06-01T10:30:00Z");
    utc["attributes"]["effective_duration"] = json!(150);
    let parsed: wire::AbsencePeriod = item(EP_PERIODS, &utc).expect("parses");
    let r = map::absence_period(&ids(), utc, parsed).expect("maps");
    assert_eq!(
        (
            &r.data["start_date"],
            &r.data["start_time"],
            &r.data["end_time"],
            &r.data["amount"]
        ),
        (
            &json!("2022-06-01"),
            &json!("08:00:00"),
            &json!("10:30:00"),
            &json!(2.5)
        )
    );

    // Open-ended: no end yet.
    let mut open = raw.clone();
    open["attributes"]["end"] = Value::Null;
    let parsed: wire::AbsencePeriod = item(EP_PERIODS, &open).expect("parses");
    assert!(map::absence_period(&ids(), open, parsed).is_ok());
}

#[test]
fn absence_period_with_a_wrong_id_or_time_is_malformed() {
    let c = PersonioConnector::new(
        Url::parse("http://127.0.0.1:1").expect("url"),
        &json!({"client_id": "a", "client_secret": "b"}),
        ids(),
        SourceClient::new(tributary_source::ClientConfig::default()).expect("client"),
    )
    .expect("connector");
    // An integer id would share the time-offs' id space.
    let mut numeric = period_example();
    numeric["attributes"]["id"] = json!("12345");
    let err = c.absence_period(EP_PERIODS, numeric).expect_err("not a UUID");
    assert!(matches!(err, SourceError::Malformed { .. }), "{err}");
    assert!(
        err.to_string().contains("absence-periods") && err.to_string().contains("id"),
        "{err}"
    );

    let mut late = period_example();
    late["attributes"]["start"] = json!("tomorrow");
    let err = c.absence_period(EP_PERIODS, late).expect_err("not a date-time");
    assert!(err.to_string().contains("start"), "{err}");

    let mut missing = period_example();
    missing["attributes"]
        .as_object_mut()
        .expect("object")
        .remove("employee");
    assert!(c.absence_period(EP_PERIODS, missing).is_err());
}

#[test]
fn absence_periods_follow_time_offs_in_one_cursor() {
    // A checkpoint from before absence periods existed is in time-offs.
    let old: PageCursor = serde_json::from_value(json!({"page": 3, "from_one": true})).expect("reads");
    assert!(!old.periods);
    let periods: PageCursor =
        serde_json::from_value(json!({"page": 2, "from_one": true, "periods": true})).expect("reads");
    assert!(periods.periods);
    assert_eq!(periods.page_number(), 2);
}

#[test]
fn absence_type_of_a_period_is_read_nested_or_flat() {
    // Nested as in the file's example and the changelog; flat as in the file's schema.
    let mut flat = period_example();
    flat["attributes"]["absence_type"] = json!({"id": "9bba303f-0fbc-4514-9958-0befa21923fb", "time_off_type_id": 7});
    for (raw, want) in [(period_example(), "45678"), (flat, "7")] {
        let parsed: wire::AbsencePeriod = item(EP_PERIODS, &raw).expect("parses");
        let r = map::absence_period(&ids(), raw, parsed).expect("maps");
        assert_eq!(r.data["type_id"], ids().id(Model::AbsenceTypes, want));
    }
}
