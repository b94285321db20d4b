//! Filters and nested keys of an integration whose scope config switches fields and models
//! off: a filter on a disabled field "filters out all results" unless
//! `ignore_unsupported_filters=true`, and a disabled model is neither served nor nested.

use std::collections::BTreeSet;

use serde_json::{Value, json};
use tributary_model::{Model, RunState, ScopeConfig, SyncType, ToolKind};

use crate::gateway::{Api, ENVIRONMENT};
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

// ---- issue 12: a scope change during a complete sync -------------------------------------------

/// Where in a FULL the scope changes.
#[derive(Debug, Clone, Copy)]
enum Phase {
    /// While the first page is in flight: nothing of the run is written yet.
    BeforeFirstPage,
    /// Between pages: the first page is written under the old scope, the second is in flight.
    MidRun,
    /// After the run's last page is committed, before it sweeps and ends.
    AfterLastPage,
}

const PHASE_EMPLOYEES: usize = 150;
/// Long enough for the test to change the scope while the page is held back.
const HELD_MS: u64 = 1_500;

fn disabling_personal_data() -> ScopeConfig {
    serde_json::from_value(json!({"read_models": [{"id": "hris_employees", "fields": [
        {"id": "ssn", "scope_config_setting": "DISABLED"},
        {"id": "date_of_birth", "scope_config_setting": "DISABLED"},
        {"id": "custom_fields", "scope_config_setting": "OPTIONAL", "opted_out_by_customer": true}
    ]}]}))
    .unwrap()
}

/// Raw attribute keys the disabled fields come from: the company's own `dynamic_<n>`
/// attributes (custom fields) stay under `attributes`; the personal ones the connector resolved
/// (SSN, date of birth) are under `resolved.<field>`.
fn disabled_raw(key: &str) -> bool {
    key.starts_with("dynamic_")
}

/// The disabled personal fields still present under `resolved` in a raw employee.
fn disabled_resolved(employee: &Value) -> Vec<&str> {
    ["ssn", "date_of_birth"]
        .into_iter()
        .filter(|f| employee["resolved"].get(*f).is_some())
        .collect()
}

/// Nothing disabled anywhere in an employee as the API serves it.
fn assert_served_clean(e: &Value, ssns: &[String], when: &str) {
    for field in ["ssn", "date_of_birth"] {
        assert!(e[field].is_null(), "{when}: `{field}` served: {}", e[field]);
    }
    assert!(
        e["custom_fields"].is_null() || e["custom_fields"] == json!({}),
        "{when}: custom fields served: {}",
        e["custom_fields"]
    );
    let attributes = &e["remote_data"]["/v1/company/employees"]["attributes"];
    let keys: Vec<&String> = attributes.as_object().map(|a| a.keys().collect()).unwrap_or_default();
    assert!(
        !keys.is_empty(),
        "{when}: remote_data is served (enabled fields remain)"
    );
    assert!(
        keys.iter().all(|k| !disabled_raw(k)),
        "{when}: remote_data serves {keys:?}"
    );
    let resolved = disabled_resolved(&e["remote_data"]["/v1/company/employees"]);
    assert!(resolved.is_empty(), "{when}: remote_data serves {resolved:?}");
    let text = e.to_string();
    assert!(
        ssns.iter().all(|s| !text.contains(s.as_str())),
        "{when}: an SSN is served"
    );
}

async fn webhook_payloads(store: &dyn tributary_store::MirrorStore) -> Vec<String> {
    let mut sent = Vec::new();
    loop {
        let claimed = store
            .claim_deliveries(chrono::Utc::now(), std::time::Duration::from_secs(60), 100)
            .await
            .expect("claim");
        if claimed.is_empty() {
            return sent;
        }
        for c in claimed {
            let attempt = tributary_store::DeliveryAttempt {
                delivery_id: c.delivery.id.clone(),
                attempt: c.delivery.attempts + 1,
                at: chrono::Utc::now(),
                status: Some(200),
                latency_ms: 1,
                response_excerpt: None,
                error: None,
            };
            store
                .record_attempt(&attempt, &tributary_store::AttemptOutcome::Delivered)
                .await
                .expect("recorded");
            sent.push(c.event.payload.to_string());
        }
    }
}

async fn scope_change_during_a_full(b: Backend, phase: Phase) {
    let Some(h) = crate::support::Harness::start(b, &[ToolKind::Personio], PHASE_EMPLOYEES).await else {
        return;
    };
    let id = h.connect(ToolKind::Personio).await;
    // Every event the outbox writes for the integration's environment is read below.
    h.store
        .create_webhook_endpoint(tributary_store::NewWebhookEndpoint {
            environment: ENVIRONMENT.into(),
            url: "https://hooks.example.com/tributary".into(),
            secret: "a webhook signing secret of some length".into(),
            event_types: Vec::new(),
        })
        .await
        .unwrap();
    // Stored with everything enabled first, as in the issue: the change must strip rows that
    // exist already, not only new ones.
    let first = h.sync(&id, SyncType::Full).await;
    assert_eq!(first.state, RunState::Succeeded, "{first:?}");
    let ssns: Vec<String> = {
        let c = h.sim.state.company(ToolKind::Personio);
        c.hris.employees.values().filter_map(|e| e.ssn.clone()).collect()
    };
    assert!(
        !ssns.is_empty() && h.database_contains(&ssns[0]).await,
        "stored before the change"
    );
    // One employee (with an SSN, managing nobody) leaves the tool: the pass does not see it
    // again, yet its stored row must lose the disabled values too.
    let gone = {
        let c = h.sim.state.company(ToolKind::Personio);
        let managers: std::collections::HashSet<u64> =
            c.hris.employees.values().filter_map(|e| e.supervisor_id).collect();
        *c.hris
            .employees
            .iter()
            .rev()
            .find(|(id, e)| !managers.contains(id) && e.ssn.is_some())
            .expect("a leaf employee with an SSN")
            .0
    };
    h.mutate(
        ToolKind::Personio,
        json!({"kind": "delete_employee", "employee_id": gone}),
    );

    let key = tributary_gateway::generate_api_key();
    h.store
        .create_api_key(ENVIRONMENT, "scope phases", &tributary_gateway::hash_api_key(&key))
        .await
        .unwrap();
    let (base, live, state) =
        crate::gateway::serve_pair(h.store.clone(), tributary_gateway::GatewayOptions::default(), false).await;
    let api = Api {
        h,
        base,
        live,
        state,
        http: reqwest::Client::new(),
        key,
        personio: id.clone(),
        greenhouse: String::new(),
        bamboohr: String::new(),
    };
    let h = &api.h;

    let held = match phase {
        Phase::BeforeFirstPage | Phase::MidRun => {
            let skip = u64::from(matches!(phase, Phase::MidRun));
            let rule =
                tributary_sim::FaultRule::new(ToolKind::Personio, tributary_sim::FaultAction::Latency { ms: HELD_MS })
                    .path("/company/employees")
                    .skip(skip)
                    .times(1);
            Some(h.sim.state.add_fault(rule).unwrap())
        }
        Phase::AfterLastPage => None,
    };
    let (control, running) = h.spawn_sync(&id, SyncType::Full);
    match held {
        Some(rule) => {
            // The page is in flight (held back by the simulator) once the rule has applied.
            let mut waited = 0;
            while h.sim.state.fault_rule(rule).is_none_or(|r| r.applied == 0) {
                assert!(waited < 3_000, "the held page was never requested");
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                waited += 1;
            }
        }
        None => {
            let mut progress = control.subscribe_progress();
            while progress.borrow_and_update().counts.pages_fetched < first.counts.pages_fetched {
                progress.changed().await.expect("the run publishes every page");
            }
        }
    }
    h.store.set_scope_config(&id, &disabling_personal_data()).await.unwrap();
    // Not even for a moment: served right after the change, while the run still goes on.
    for e in api.all(Model::Employees, &id, &[]).await {
        assert_served_clean(&e, &ssns, "right after the change");
    }
    // What `PUT …/scope-config` does next: the open complete run is the one (it restarts its
    // pass), or, when it had already ended, a new complete sync.
    let queued = h.store.open_run(&id, SyncType::Full).await.unwrap().is_none();
    let run = running.await.unwrap().expect("sync runs").run;
    assert_eq!(run.state, RunState::Succeeded, "{run:?}");
    if queued {
        let again = h.sync(&id, SyncType::Full).await;
        assert_eq!(again.state, RunState::Succeeded, "{again:?}");
    } else if matches!(phase, Phase::MidRun) {
        // Its first page, written under the old scope, was written again.
        assert!(
            run.counts.pages_fetched > first.counts.pages_fetched,
            "the run started its pass again under the new scope: {:?}",
            run.counts
        );
    }

    // A complete pass under the new scope: every stored row was written under it.
    let integration = h.store.get_integration(&id).await.unwrap().unwrap();
    for model in [
        Model::Employees,
        Model::Employments,
        Model::Absences,
        Model::TimeOffBalances,
    ] {
        for r in h.live(&id, model).await {
            assert_eq!(
                r.scope_version, integration.scope_version,
                "{model} {} not rewritten",
                r.remote_id
            );
        }
    }
    let employees = h.records(&id, Model::Employees).await;
    assert!(
        employees
            .iter()
            .any(|r| r.remote_id == gone.to_string() && r.remote_deleted_at.is_some()),
        "the employee who left is marked deleted"
    );
    for r in employees {
        for field in ["ssn", "date_of_birth", "custom_fields"] {
            assert!(!r.data.contains_key(field), "{phase:?}: `{field}` stored in data");
        }
        let raw = r.remote_data.expect("remote data").to_value().unwrap();
        let attributes = raw["/v1/company/employees"]["attributes"].as_object().unwrap();
        assert!(
            attributes.keys().all(|k| !disabled_raw(k)),
            "{phase:?}: stored remote_data keeps {:?}",
            attributes.keys().filter(|k| disabled_raw(k)).collect::<Vec<_>>()
        );
        let resolved = disabled_resolved(&raw["/v1/company/employees"]);
        assert!(resolved.is_empty(), "{phase:?}: stored remote_data keeps {resolved:?}");
    }
    for ssn in &ssns {
        assert!(!h.database_contains(ssn).await, "{phase:?}: SSN {ssn} still stored");
    }
    for e in api.all(Model::Employees, &id, &[("include_deleted", "true")]).await {
        assert_served_clean(&e, &ssns, "after the pass");
    }
    for payload in webhook_payloads(h.store.as_ref()).await {
        assert!(
            ssns.iter().all(|s| !payload.contains(s.as_str()))
                && !payload.contains("birthday")
                && !payload.contains("dynamic_"),
            "a webhook payload carried disabled data: {payload}"
        );
    }
}

async fn scope_change_before_the_first_page(b: Backend) {
    scope_change_during_a_full(b, Phase::BeforeFirstPage).await;
}

async fn scope_change_between_pages(b: Backend) {
    scope_change_during_a_full(b, Phase::MidRun).await;
}

async fn scope_change_after_the_last_page(b: Backend) {
    scope_change_during_a_full(b, Phase::AfterLastPage).await;
}

/// Records nested as members (a job's hiring team: users with their roles) are shown without
/// what the scope disables too, also while the stored users still hold it (written before
/// the change, not yet rewritten).
async fn nested_members_of_an_older_scope_are_stripped(b: Backend) {
    let Some(h) = crate::support::Harness::start(b, &[ToolKind::Greenhouse], 40).await else {
        return;
    };
    let id = h.connect(ToolKind::Greenhouse).await;
    assert_eq!(h.sync(&id, SyncType::Full).await.state, RunState::Succeeded);
    let emails: Vec<String> = h
        .live(&id, Model::Users)
        .await
        .iter()
        .filter_map(|u| u.data.get("email").and_then(Value::as_str).map(str::to_owned))
        .collect();
    assert!(!emails.is_empty());
    let scope: ScopeConfig = serde_json::from_value(json!({"read_models": [
        {"id": "ats_users", "fields": [{"id": "email", "scope_config_setting": "DISABLED"}]}
    ]}))
    .unwrap();
    h.store.set_scope_config(&id, &scope).await.unwrap();
    let key = tributary_gateway::generate_api_key();
    h.store
        .create_api_key(ENVIRONMENT, "scope members", &tributary_gateway::hash_api_key(&key))
        .await
        .unwrap();
    let (base, live, state) =
        crate::gateway::serve_pair(h.store.clone(), tributary_gateway::GatewayOptions::default(), false).await;
    let api = Api {
        h,
        base,
        live,
        state,
        http: reqwest::Client::new(),
        key,
        personio: String::new(),
        greenhouse: id.clone(),
        bamboohr: String::new(),
    };
    let mut members = 0;
    for job in api.all(Model::Jobs, &id, &[]).await {
        for user in job["hiring_team"].as_array().unwrap() {
            members += 1;
            assert!(user["email"].is_null(), "a disabled email is nested: {user}");
        }
    }
    assert!(members > 0, "no job has a hiring team");
    for user in api.all(Model::Users, &id, &[]).await {
        assert!(user["email"].is_null(), "{user}");
        let text = user["remote_data"].to_string();
        assert!(
            emails.iter().all(|e| !text.contains(e.as_str())),
            "a disabled email is in remote_data: {text}"
        );
        assert!(!user["remote_data"].is_null(), "the rest of remote_data is served");
    }
}

crate::on_both_backends!(
    scope_config_governs_filters_and_nesting,
    nested_members_of_an_older_scope_are_stripped,
    scope_change_before_the_first_page,
    scope_change_between_pages,
    scope_change_after_the_last_page
);
