//! Case 4: bad requests answer in Kombo's error envelope with the right code, never a 5xx,
//! and hostile filter values neither match nor harm the mirror.

use std::collections::BTreeMap;

use serde_json::json;
use tributary_model::{Model, ScopeConfig, ToolKind};

use crate::gateway::{Api, Reply, assert_envelope, send, send_unchecked};
use crate::support::Backend;

const INVALID: &str = "PLATFORM.INPUT_INVALID";

async fn bad_input(api: &Api, path: &str, integration: &str, query: &[(&str, &str)]) {
    let reply = api.get(path, integration, query).await;
    assert_eq!(reply.status, 400, "{path} {query:?}: {:#}", reply.body);
    reply.assert_error(400, INVALID);
}

async fn every_bad_request_gets_the_envelope(b: Backend) {
    let Some(api) = Api::start(b).await else {
        return;
    };
    let (p, g) = (api.personio.as_str(), api.greenhouse.as_str());

    // Unknown parameters, including another endpoint's filter and a misspelling.
    for &model in Model::ALL {
        let integration = api.integration_for(model);
        bad_input(&api, model.api_path(), integration, &[("no_such_filter", "1")]).await;
        bad_input(&api, model.api_path(), integration, &[("pagesize", "10")]).await;
    }
    bad_input(&api, "/hris/employees", p, &[("statuses", "OPEN")]).await;
    bad_input(&api, "/ats/jobs", g, &[("employment_statuses", "ACTIVE")]).await;
    // A parameter given twice.
    bad_input(&api, "/hris/employees", p, &[("ids", "a"), ("ids", "b")]).await;

    // Enum values.
    for (path, integration, param, value) in [
        ("/hris/employees", p, "employment_statuses", "WORKING"),
        ("/hris/employees", p, "employment_statuses", "ACTIVE,active"),
        ("/hris/employees", p, "employment_status", "FIRED"),
        ("/hris/groups", p, "types", "SQUAD"),
        ("/ats/jobs", g, "statuses", "open"),
        ("/ats/jobs", g, "employment_types", "FREELANCE"),
        ("/ats/jobs", g, "visibilities", "SECRET"),
        ("/ats/applications", g, "outcomes", "MAYBE"),
        ("/hris/employees", p, "include_deleted", "yes"),
        ("/hris/employees", p, "ignore_unsupported_filters", "1"),
    ] {
        bad_input(&api, path, integration, &[(param, value)]).await;
    }

    // Dates.
    for (path, integration, param) in [
        ("/hris/employees", p, "updated_after"),
        ("/hris/absences", p, "date_from"),
        ("/hris/absences", p, "date_until"),
        ("/hris/absences", p, "time_from"),
        ("/ats/jobs", g, "remote_created_after"),
        ("/ats/applications", g, "remote_created_after"),
    ] {
        for value in [
            "yesterday",
            "2024-13-01",
            "2024-05-01T25:00:00Z",
            "1714521600",
            "01.05.2024",
        ] {
            bad_input(&api, path, integration, &[(param, value)]).await;
        }
    }

    // Page sizes.
    for size in ["0", "251", "abc", "-1", "1.5", "99999999999999999999"] {
        bad_input(&api, "/hris/employees", p, &[("page_size", size)]).await;
    }

    // Cursors: forged, and real ones replayed elsewhere.
    let first = api.list(Model::Employees, p, &[("page_size", "7")]).await;
    let cursor = first["next"].as_str().expect("a second page").to_owned();
    let mut tampered: Vec<char> = cursor.chars().collect();
    let at = tampered.len() / 2;
    tampered[at] = if tampered[at] == 'A' { 'B' } else { 'A' };
    let tampered: String = tampered.into_iter().collect();
    for forged in ["abc", "eyJ2IjoxfQ", tampered.as_str(), &"A".repeat(2000), "%%%", "null"] {
        bad_input(&api, "/hris/employees", p, &[("cursor", forged)]).await;
    }
    bad_input(&api, "/hris/employments", p, &[("cursor", &cursor)]).await;
    bad_input(&api, "/hris/employees", &api.bamboohr, &[("cursor", &cursor)]).await;
    bad_input(
        &api,
        "/hris/employees",
        p,
        &[("cursor", &cursor), ("employment_statuses", "ACTIVE")],
    )
    .await;
    bad_input(
        &api,
        "/hris/employees",
        p,
        &[("cursor", &cursor), ("include_deleted", "true")],
    )
    .await;
    // The same filters with another page size are fine: the cursor binds filters, not sizes.
    let next = api
        .list(Model::Employees, p, &[("cursor", &cursor), ("page_size", "9")])
        .await;
    assert_eq!(next["results"].as_array().unwrap().len(), 9);

    // A model of the other category.
    for &model in Model::ALL {
        let other = match model.category() {
            tributary_model::Category::Hris => g,
            tributary_model::Category::Ats => p,
        };
        api.get(model.api_path(), other, &[])
            .await
            .assert_error(403, "INTEGRATION.MODEL_NOT_AVAILABLE");
    }

    // Integrations this key may not see.
    api.create_integration(
        "personio:other-env",
        ToolKind::Personio,
        "other",
        ScopeConfig::default(),
    )
    .await;
    for integration in ["personio:other-env", "personio:nonexistent"] {
        api.get("/hris/employees", integration, &[])
            .await
            .assert_error(404, "PLATFORM.INTEGRATION_NOT_FOUND");
    }
    // No integration header at all.
    send(api.http.get(api.url("/v1/hris/employees")).bearer_auth(&api.key))
        .await
        .assert_error(400, INVALID);

    // Keys.
    let url = api.url("/v1/hris/employees");
    let unauthenticated = [
        api.http.get(&url).header("X-Integration-Id", p),
        api.http
            .get(&url)
            .header("X-Integration-Id", p)
            .bearer_auth("trb_not-a-real-key"),
        api.http
            .get(&url)
            .header("X-Integration-Id", p)
            .header("Authorization", format!("Basic {}", api.key)),
        api.http
            .get(&url)
            .header("X-Integration-Id", p)
            .header("Authorization", "Bearer "),
        api.http
            .get(&url)
            .header("X-Integration-Id", p)
            .bearer_auth(format!("{}x", api.key)),
    ];
    for request in unauthenticated {
        send(request).await.assert_error(401, "PLATFORM.AUTHENTICATION_INVALID");
    }
    send(api.http.get(api.url("/v1/check-api-key")))
        .await
        .assert_error(401, "PLATFORM.AUTHENTICATION_INVALID");

    // Routing errors: Kombo's minimal envelope (no code).
    for (method, path, status) in [
        (reqwest::Method::GET, "/v1/hris/unknown", 404),
        (reqwest::Method::GET, "/v2/hris/employees", 404),
        (reqwest::Method::POST, "/v1/hris/employees", 405),
        (reqwest::Method::DELETE, "/v1/ats/jobs", 405),
        (reqwest::Method::GET, "/v1/force-sync", 405),
    ] {
        let reply = send(
            api.http
                .request(method.clone(), api.url(path))
                .bearer_auth(&api.key)
                .header("X-Integration-Id", p),
        )
        .await;
        assert_eq!(reply.status.as_u16(), status, "{method} {path}: {:#}", reply.body);
        assert_envelope(&reply.body);
    }
    // A query string that does not decode, and a header that is not text.
    let reply = send(
        api.http
            .get(api.url("/v1/hris/employees?page_size=%ZZ&ids=%FF%FE"))
            .bearer_auth(&api.key)
            .header("X-Integration-Id", p),
    )
    .await;
    reply.assert_error(400, INVALID);
    let binary = reqwest::header::HeaderValue::from_bytes(b"personio:\xff\xfe").unwrap();
    let reply = send(
        api.http
            .get(api.url("/v1/hris/employees"))
            .bearer_auth(&api.key)
            .header("X-Integration-Id", binary),
    )
    .await;
    reply.assert_error(400, INVALID);
}

/// Counts of every model of every integration, deleted rows included.
async fn mirror_counts(api: &Api) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for integration in [&api.personio, &api.greenhouse, &api.bamboohr] {
        for &model in Model::ALL {
            out.insert(
                format!("{integration} {model}"),
                api.h.records(integration, model).await.len(),
            );
        }
    }
    out
}

/// 200 with no results, or 400 in the envelope; otherwise what went wrong.
fn no_match_or_refused(reply: &Reply, what: &str) -> Option<String> {
    match reply.status.as_u16() {
        200 if reply.body["data"]["results"].as_array().is_some_and(Vec::is_empty) => None,
        400 if reply.body["status"] == "error" && reply.body["error"]["code"] == INVALID => None,
        status => Some(format!(
            "{what}: {status} {}",
            reply.body.to_string().chars().take(200).collect::<String>()
        )),
    }
}

async fn hostile_values_match_nothing_and_harm_nothing(b: Backend) {
    let Some(api) = Api::start(b).await else {
        return;
    };
    let before = mirror_counts(&api).await;
    let (p, g) = (api.personio.as_str(), api.greenhouse.as_str());
    let long = "x".repeat(10 * 1024);
    let long_quotes = "'\"".repeat(5 * 1024);
    let values = [
        "'; DROP TABLE records; --",
        "\"; DROP TABLE records; --",
        "' OR '1'='1",
        "%",
        "_",
        "%%",
        "\\",
        "*",
        "Zoë 🌊 名前 \u{202e}",
        "\0",
        long.as_str(),
        long_quotes.as_str(),
    ];
    let targets: [(&str, &str, &str); 17] = [
        ("/hris/employees", p, "work_emails"),
        ("/hris/employees", p, "personal_emails"),
        ("/hris/employees", p, "group_ids"),
        ("/hris/employees", p, "legal_entity_ids"),
        ("/hris/employees", p, "ids"),
        ("/hris/employees", p, "remote_ids"),
        ("/hris/groups", p, "name_contains"),
        ("/hris/locations", p, "name_contains"),
        ("/hris/legal-entities", p, "name_contains"),
        ("/hris/absences", p, "employee_id"),
        ("/hris/absences", p, "type_ids"),
        ("/ats/jobs", g, "name_contains"),
        ("/ats/jobs", g, "job_codes"),
        ("/ats/candidates", g, "email"),
        ("/ats/candidates", g, "first_name"),
        ("/ats/candidates", g, "job_ids"),
        ("/ats/applications", g, "job_remote_ids"),
    ];
    // Every failure is collected, so one run lists them all and the mirror is still checked.
    let mut failures = Vec::new();
    for (path, integration, param) in targets {
        for value in values {
            let (reply, _) = send_unchecked(api.get_request(path, integration, &[(param, value)])).await;
            failures.extend(no_match_or_refused(
                &reply,
                &format!("{path}?{param}={:?}", value.chars().take(30).collect::<String>()),
            ));
        }
    }
    for value in values {
        // (`{"<key>": null}` is left out: null also matches employees without the key.)
        for filter in [
            json!({ value: "x" }),
            json!({ "dynamic_1": value }),
            json!({ value: 1 }),
        ] {
            let (reply, _) =
                send_unchecked(api.get_request("/hris/employees", p, &[("custom_fields", &filter.to_string())])).await;
            failures.extend(no_match_or_refused(
                &reply,
                &format!(
                    "custom_fields={}",
                    filter.to_string().chars().take(40).collect::<String>()
                ),
            ));
        }
        // As a cursor, an integration id and an API key too.
        let (reply, _) = send_unchecked(api.get_request("/hris/employees", p, &[("cursor", value)])).await;
        if reply.status != 400 || reply.body["error"]["code"] != INVALID {
            failures.push(format!(
                "cursor={:?}: {} {}",
                value.chars().take(30).collect::<String>(),
                reply.status,
                reply.body
            ));
        }
    }
    // (Header values are visible ASCII.)
    for value in ["'; DROP TABLE records; --", "%", "_", "' OR '1'='1"] {
        let reply = send(
            api.http
                .get(api.url("/v1/hris/employees"))
                .bearer_auth(&api.key)
                .header("X-Integration-Id", value),
        )
        .await;
        reply.assert_error(404, "PLATFORM.INTEGRATION_NOT_FOUND");
        let reply = send(api.http.get(api.url("/v1/check-api-key")).bearer_auth(value)).await;
        reply.assert_error(401, "PLATFORM.AUTHENTICATION_INVALID");
    }
    // Keys that look like JSON paths name no custom field: `$.<key>` is not `<key>`.
    let employees = api.all(Model::Employees, p, &[]).await;
    let (key, value) = employees
        .iter()
        .find_map(|e| {
            e["custom_fields"]
                .as_object()
                .and_then(|m| m.iter().find(|(_, v)| v.is_string()))
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .expect("a custom field");
    for path_key in [
        format!("$.{key}"),
        format!("$.\"{key}\""),
        "$".to_owned(),
        format!("{key}[0]"),
        format!("{key}.x"),
    ] {
        let filter = json!({ path_key: value }).to_string();
        let (reply, _) = send_unchecked(api.get_request("/hris/employees", p, &[("custom_fields", &filter)])).await;
        failures.extend(no_match_or_refused(&reply, &format!("custom_fields={filter}")));
    }

    assert_eq!(mirror_counts(&api).await, before, "the mirror changed");
    assert_eq!(api.ids(Model::Employees, p, &[]).await.len(), crate::gateway::EMPLOYEES);
    assert!(
        failures.is_empty(),
        "{} hostile requests misbehaved:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

crate::on_both_backends!(
    every_bad_request_gets_the_envelope,
    hostile_values_match_nothing_and_harm_nothing
);
