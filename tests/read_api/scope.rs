//! Filters and nested keys of an integration whose scope config switches fields and models
//! off: a filter on a disabled field "filters out all results" unless
//! `ignore_unsupported_filters=true`, and a disabled model is neither served nor nested.

use std::collections::BTreeSet;

use serde_json::json;
use tributary_model::{Model, RunState, ScopeConfig, SyncType, ToolKind};

use crate::gateway::Api;
use crate::support::Backend;

const SCOPED: &str = "personio:scoped";

async fn scope_config_governs_filters_and_nesting(b: Backend) {
    let Some(api) = Api::start(b).await else {
        return;
    };
    let scope: ScopeConfig = serde_json::from_value(json!({"read_models": [
        {"id": "hris_employees", "fields": [{"id": "work_email", "scope_config_setting": "DISABLED"}]},
        {"id": "hris_time_off_balances", "scope_config_setting": "DISABLED"}
    ]}))
    .unwrap();
    api.create_integration(SCOPED, ToolKind::Personio, "test", scope).await;
    assert_eq!(api.h.sync(SCOPED, SyncType::Full).await.state, RunState::Succeeded);

    let full = api.all(Model::Employees, &api.personio, &[]).await;
    let scoped = api.all(Model::Employees, SCOPED, &[]).await;
    assert_eq!(scoped.len(), full.len());
    for e in &scoped {
        assert!(
            e["work_email"].is_null(),
            "a disabled field is served: {}",
            e["work_email"]
        );
        assert_eq!(e["time_off_balances"], json!([]), "a disabled model is nested");
        assert!(
            !e["employments"].as_array().unwrap().is_empty(),
            "enabled children are still nested"
        );
    }
    api.get("/hris/time-off-balances", SCOPED, &[])
        .await
        .assert_error(403, "INTEGRATION.MODEL_DISABLED");

    let email = full[0]["work_email"].as_str().unwrap();
    let remote_ids = |results: &[serde_json::Value]| -> BTreeSet<String> {
        results
            .iter()
            .map(|r| r["remote_id"].as_str().unwrap().to_owned())
            .collect()
    };
    // The unsupported filter filters out everything...
    assert!(
        api.all(Model::Employees, SCOPED, &[("work_emails", email)])
            .await
            .is_empty()
    );
    // ...unless it is to be ignored; then the other filters still apply, and pages still walk.
    let ignored = api
        .walk(
            Model::Employees,
            SCOPED,
            &[("work_emails", email), ("ignore_unsupported_filters", "true")],
            "7",
        )
        .await;
    assert_eq!(remote_ids(&ignored), remote_ids(&full));
    let active: Vec<_> = full
        .iter()
        .filter(|e| e["employment_status"] == "ACTIVE")
        .cloned()
        .collect();
    let both = api
        .all(
            Model::Employees,
            SCOPED,
            &[
                ("work_emails", email),
                ("employment_statuses", "ACTIVE"),
                ("ignore_unsupported_filters", "true"),
            ],
        )
        .await;
    assert_eq!(remote_ids(&both), remote_ids(&active));
    // Supported filters are unaffected by the flag.
    let on_full = api
        .all(
            Model::Employees,
            &api.personio,
            &[("work_emails", email), ("ignore_unsupported_filters", "true")],
        )
        .await;
    assert_eq!(on_full.len(), 1);
}

crate::on_both_backends!(scope_config_governs_filters_and_nesting);
