//! Cases 5 and 6: `GET /v1/integrations/{id}` and `DELETE /v1/integrations/{id}`.

use std::collections::BTreeSet;

use serde_json::{Value, json};
use tributary_model::{Category, Model, RunState, ScopeConfig, SyncType, ToolKind};

use crate::gateway::{Api, Reply, send};
use crate::schema;
use crate::support::Backend;

async fn details(api: &Api, id: &str) -> Reply {
    send(
        api.http
            .get(api.url(&format!("/v1/integrations/{id}")))
            .bearer_auth(&api.key),
    )
    .await
}

#[track_caller]
fn ok_data(reply: &Reply) -> &Value {
    assert_eq!(reply.status, 200, "{:#}", reply.body);
    assert_eq!(reply.body["status"], "success");
    &reply.body["data"]
}

fn read_model<'a>(data: &'a Value, scope_id: &str) -> &'a Value {
    data["read_models"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == scope_id)
        .unwrap_or_else(|| panic!("no read model {scope_id}"))
}

async fn integration_details_follow_the_mirror(b: Backend) {
    let Some(api) = Api::start(b).await else {
        return;
    };
    let contract = api.contract().await;
    let check = send(api.http.get(api.url("/v1/check-api-key")).bearer_auth(&api.key)).await;
    assert_eq!(
        check.body,
        json!({"status": "success", "data": {"environment_id": "test", "customer_id": "test"}})
    );
    schema::assert_fits(&contract, &check.body, "/check-api-key", "get", "200");
    let reply = details(&api, &api.personio).await;
    let data = ok_data(&reply);
    schema::assert_fits(&contract, &reply.body, "/integrations/{integration_id}", "get", "200");
    assert_eq!(data["id"], api.personio.as_str());
    assert_eq!(data["status"], "ACTIVE");
    assert_eq!(data["setup_status"], "COMPLETED");
    assert_eq!(data["category"], "HRIS");
    assert_eq!(data["tool"]["id"], "personio");
    assert_eq!(data["tool"]["label"], "Personio");
    let hris: BTreeSet<&str> = Model::ALL
        .iter()
        .filter(|m| m.category() == Category::Hris)
        .map(|m| m.scope_id())
        .collect();
    assert_eq!(hris.len(), 8);
    let listed: Vec<&str> = data["read_models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(listed.len(), 8, "{listed:?}");
    assert_eq!(listed.iter().copied().collect::<BTreeSet<_>>(), hris);
    for model in data["read_models"].as_array().unwrap() {
        assert_eq!(model["is_available"], true, "{model:#}");
        assert_eq!(model["scope_config_setting"], "ENABLED", "{model:#}");
        assert!(!model["fields"].as_array().unwrap().is_empty());
    }
    let greenhouse = details(&api, &api.greenhouse).await;
    let data = ok_data(&greenhouse);
    assert_eq!(
        (data["category"].as_str(), data["tool"]["id"].as_str()),
        (Some("ATS"), Some("greenhouse"))
    );
    assert_eq!(data["read_models"].as_array().unwrap().len(), 9);

    // The logo and icon it links to are served, as SVG, without a key.
    for key in ["logo_url", "icon_url"] {
        let url = reply.body["data"]["tool"][key].as_str().unwrap();
        assert!(url.starts_with(&api.base), "{key} {url} is not on this gateway");
        let response = api.http.get(url).send().await.unwrap();
        assert_eq!(response.status(), 200, "{url}");
        assert_eq!(response.headers()["content-type"], "image/svg+xml");
        let svg = response.text().await.unwrap();
        assert!(
            svg.starts_with("<svg") && svg.contains("http://www.w3.org/2000/svg") && svg.ends_with("</svg>"),
            "{svg}"
        );
    }
    let unknown_tool = api
        .http
        .get(api.url("/v1/tools/workday/logo.svg"))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown_tool.status(), 404);

    // A scope config with a disabled model and a disabled field, never synced.
    let scope: ScopeConfig = serde_json::from_value(json!({"read_models": [
        {"id": "hris_absences", "scope_config_setting": "DISABLED"},
        {"id": "hris_employees", "fields": [{"id": "date_of_birth", "scope_config_setting": "DISABLED"}]},
        {"id": "hris_time_off_balances", "scope_config_setting": "OPTIONAL", "opted_out_by_customer": true}
    ]}))
    .unwrap();
    api.create_integration("personio:scoped", ToolKind::Personio, "test", scope)
        .await;
    let reply = details(&api, "personio:scoped").await;
    let data = ok_data(&reply);
    schema::assert_fits(&contract, &reply.body, "/integrations/{integration_id}", "get", "200");
    assert_eq!(data["setup_status"], "FINAL_SYNC_PENDING");
    assert_eq!(data["status"], "ACTIVE");
    let absences = read_model(data, "hris_absences");
    assert_eq!(
        (
            absences["is_available"].as_bool(),
            absences["scope_config_setting"].as_str()
        ),
        (Some(false), Some("DISABLED"))
    );
    let balances = read_model(data, "hris_time_off_balances");
    assert_eq!(balances["is_available"], false);
    assert_eq!(balances["scope_config_setting"], "OPTIONAL");
    assert_eq!(balances["opted_out_by_customer"], true);
    let employees = read_model(data, "hris_employees");
    assert_eq!(
        (
            employees["is_available"].as_bool(),
            employees["scope_config_setting"].as_str()
        ),
        (Some(true), Some("ENABLED"))
    );
    let birth = employees["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == "date_of_birth")
        .expect("date_of_birth");
    assert_eq!(
        (birth["is_available"].as_bool(), birth["scope_config_setting"].as_str()),
        (Some(false), Some("DISABLED"))
    );
    let first = employees["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == "first_name")
        .expect("first_name");
    assert_eq!(first["is_available"], true);
    assert_eq!(read_model(data, "hris_groups")["is_available"], true);
    // A different config is a different scope config id.
    assert_ne!(
        data["scope_config"]["id"],
        details(&api, &api.personio).await.body["data"]["scope_config"]["id"]
    );
    // ...and the disabled model's endpoint says so.
    api.get("/hris/absences", "personio:scoped", &[])
        .await
        .assert_error(403, "INTEGRATION.MODEL_DISABLED");

    // Credentials revoked in the tool: the next sync fails authentication, the integration
    // becomes INVALID (and stays set up).
    let revoked = api
        .http
        .post(format!("{}/revoke", api.h.sim.control_url()))
        .json(&json!({"tool": "bamboohr", "revoked": true}))
        .send()
        .await
        .unwrap();
    assert!(revoked.status().is_success(), "{}", revoked.status());
    let run = api.h.sync(&api.bamboohr, SyncType::Delta).await;
    assert_eq!(run.state, RunState::AuthenticationFailed, "{run:?}");
    let reply = details(&api, &api.bamboohr).await;
    let data = ok_data(&reply);
    assert_eq!(data["status"], "INVALID");
    assert_eq!(data["setup_status"], "COMPLETED");
    assert_eq!(ok_data(&details(&api, &api.personio).await)["status"], "ACTIVE");

    // Another environment's integration, and one that does not exist.
    api.create_integration(
        "personio:other-env",
        ToolKind::Personio,
        "other",
        ScopeConfig::default(),
    )
    .await;
    for id in ["personio:other-env", "personio:nonexistent"] {
        let reply = details(&api, id).await;
        reply.assert_error(404, "PLATFORM.INTEGRATION_NOT_FOUND");
        schema::assert_fits(
            &contract,
            &reply.body,
            "/integrations/{integration_id}",
            "get",
            "default",
        );
    }
    send(api.http.get(api.url(&format!("/v1/integrations/{}", api.personio))))
        .await
        .assert_error(401, "PLATFORM.AUTHENTICATION_INVALID");
}

async fn deleting_an_integration_removes_it_and_its_records(b: Backend) {
    let Some(api) = Api::start(b).await else {
        return;
    };
    let delete = |id: &str| {
        send(
            api.http
                .delete(api.url(&format!("/v1/integrations/{id}")))
                .bearer_auth(&api.key),
        )
    };

    api.create_integration(
        "personio:other-env",
        ToolKind::Personio,
        "other",
        ScopeConfig::default(),
    )
    .await;
    delete("personio:other-env")
        .await
        .assert_error(404, "PLATFORM.INTEGRATION_NOT_FOUND");
    assert!(
        api.h
            .store
            .get_integration("personio:other-env")
            .await
            .unwrap()
            .is_some(),
        "a foreign key deleted it"
    );
    send(api.http.delete(api.url(&format!("/v1/integrations/{}", api.bamboohr))))
        .await
        .assert_error(401, "PLATFORM.AUTHENTICATION_INVALID");

    let kept: Vec<(Model, usize)> = {
        let mut out = Vec::new();
        for &model in Model::ALL.iter().filter(|m| m.category() == Category::Hris) {
            out.push((model, api.h.records(&api.personio, model).await.len()));
        }
        out
    };
    let doomed = api.bamboohr.clone();
    let employees_before = api.h.records(&doomed, Model::Employees).await.len();
    assert!(employees_before > 0);

    let reply = delete(&doomed).await;
    assert_eq!(reply.status, 200, "{:#}", reply.body);
    schema::assert_fits(
        &api.contract().await,
        &reply.body,
        "/integrations/{integration_id}",
        "delete",
        "200",
    );
    assert_eq!(reply.body, json!({"status": "success", "data": {}}));

    details(&api, &doomed)
        .await
        .assert_error(404, "PLATFORM.INTEGRATION_NOT_FOUND");
    for &model in Model::ALL.iter().filter(|m| m.category() == Category::Hris) {
        api.get(model.api_path(), &doomed, &[])
            .await
            .assert_error(404, "PLATFORM.INTEGRATION_NOT_FOUND");
        assert!(
            api.h.records(&doomed, model).await.is_empty(),
            "{model} records of the deleted integration remain"
        );
    }
    assert!(api.h.store.get_integration(&doomed).await.unwrap().is_none());
    delete(&doomed)
        .await
        .assert_error(404, "PLATFORM.INTEGRATION_NOT_FOUND");
    // The other integrations are untouched.
    for (model, count) in kept {
        assert_eq!(api.h.records(&api.personio, model).await.len(), count, "{model}");
    }
    assert_eq!(
        api.ids(Model::Employees, &api.personio, &[]).await.len(),
        crate::gateway::EMPLOYEES
    );
}

crate::on_both_backends!(
    integration_details_follow_the_mirror,
    deleting_an_integration_removes_it_and_its_records
);
