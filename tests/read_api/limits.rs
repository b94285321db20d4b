//! Issue 12, item 4 and 5: list parameters are capped (1,000 values, 32 KiB) on every
//! endpoint, and every error, routing ones included, carries a code.

use tributary_gateway::{MAX_LIST_VALUES, MAX_PARAM_BYTES};
use tributary_model::Model;

use crate::gateway::{Api, send};
use crate::support::Backend;

/// Every list parameter beyond `ids` and `remote_ids`, per endpoint, with a value its enum
/// accepts (so the only fault of a long list is its length).
const LIST_FILTERS: &[(Model, &str, &str)] = &[
    (Model::Employees, "employment_status", "ACTIVE"),
    (Model::Employees, "employment_statuses", "ACTIVE"),
    (Model::Employees, "group_ids", "g"),
    (Model::Employees, "legal_entity_ids", "l"),
    (Model::Employees, "work_location_ids", "w"),
    (Model::Employees, "work_emails", "a@b.c"),
    (Model::Employees, "personal_emails", "a@b.c"),
    (Model::Groups, "types", "TEAM"),
    (Model::Absences, "type_ids", "t"),
    (Model::Jobs, "job_codes", "j"),
    (Model::Jobs, "status", "OPEN"),
    (Model::Jobs, "statuses", "OPEN"),
    (Model::Jobs, "employment_types", "FULL_TIME"),
    (Model::Jobs, "visibilities", "PUBLIC"),
    (Model::Candidates, "job_ids", "j"),
    (Model::Applications, "outcome", "HIRED"),
    (Model::Applications, "outcomes", "HIRED"),
    (Model::Applications, "job_ids", "j"),
    (Model::Applications, "job_remote_ids", "j"),
    (Model::Applications, "current_stage_ids", "s"),
    (Model::Users, "emails", "a@b.c"),
    (Model::Interviews, "job_ids", "j"),
];

fn values(value: &str, n: usize) -> String {
    vec![value; n].join(",")
}

async fn every_list_parameter_is_capped(b: Backend) {
    let Some(api) = Api::start(b).await else {
        return;
    };
    let mut cases: Vec<(Model, &str, &str)> = Vec::new();
    for &model in Model::ALL {
        cases.push((model, "ids", "x"));
        cases.push((model, "remote_ids", "x"));
    }
    cases.extend_from_slice(LIST_FILTERS);
    for (model, param, value) in cases {
        let integration = api.integration_for(model);
        // At the cap: answered.
        let at_cap = values(value, MAX_LIST_VALUES);
        api.list(model, integration, &[(param, &at_cap)]).await;
        // One more: refused, naming the parameter and the cap.
        let over = values(value, MAX_LIST_VALUES + 1);
        let reply = api.get(model.api_path(), integration, &[(param, &over)]).await;
        reply.assert_error(400, "PLATFORM.INPUT_INVALID");
        let message = reply.body["error"]["message"].as_str().unwrap();
        assert!(
            message.contains(&format!("`{param}`")) && message.contains(&MAX_LIST_VALUES.to_string()),
            "{} {param}: {message}",
            model.api_path()
        );
    }

    // The byte cap: fewer values, but long ones; and a single-valued parameter.
    let long_ids = values(&"i".repeat(64), MAX_PARAM_BYTES / 64);
    assert!(long_ids.len() > MAX_PARAM_BYTES);
    let oversized_name = "n".repeat(MAX_PARAM_BYTES + 1);
    for (model, param, value) in [
        (Model::Employees, "ids", long_ids.as_str()),
        (Model::Employees, "work_emails", long_ids.as_str()),
        (Model::Groups, "name_contains", oversized_name.as_str()),
    ] {
        let reply = api
            .get(model.api_path(), api.integration_for(model), &[(param, value)])
            .await;
        reply.assert_error(400, "PLATFORM.INPUT_INVALID");
        let message = reply.body["error"]["message"].as_str().unwrap();
        assert!(
            message.contains(&format!("`{param}`")) && message.contains(&MAX_PARAM_BYTES.to_string()),
            "{param}: {message}"
        );
    }
    // The request: 12,000 `group_ids` in one URL (raw commas: 61 KB).
    let url = api.url(&format!("/v1/hris/employees?group_ids={}", crate::hostile::ids(12_000)));
    let response = api
        .http
        .get(url)
        .bearer_auth(&api.key)
        .header("X-Integration-Id", &api.personio)
        .send()
        .await
        .unwrap_or_else(|e| panic!("no answer: {}", e.without_url()));
    assert_eq!(response.status(), 400);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "PLATFORM.INPUT_INVALID", "{body:#}");
}

/// Issue 12, item 5: route-not-found errors carried `code: null`.
async fn routing_errors_carry_a_code(b: Backend) {
    let Some(api) = Api::start(b).await else {
        return;
    };
    for path in ["/nope", "/v1/nope", "/v1/hris/nope", "/v1/hris/employees/extra"] {
        let reply = send(api.http.get(api.url(path)).bearer_auth(&api.key)).await;
        reply.assert_error(404, "PLATFORM.INPUT_INVALID");
        assert!(reply.headers.contains_key("x-request-id"), "{path}");
    }
    let reply = send(
        api.http
            .post(api.url("/v1/hris/employees"))
            .bearer_auth(&api.key)
            .header("X-Integration-Id", &api.personio),
    )
    .await;
    reply.assert_error(405, "PLATFORM.INPUT_INVALID");
    let reply = send(api.http.delete(api.url("/v1/check-api-key")).bearer_auth(&api.key)).await;
    reply.assert_error(405, "PLATFORM.INPUT_INVALID");
}

crate::on_both_backends!(every_list_parameter_is_capped, routing_errors_carry_a_code);
