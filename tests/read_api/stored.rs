//! Stored renderings (issue 17): list pages are served from the items the mirror's writes
//! rendered and stored, and follow every change that shows in them. Byte equality with the live
//! rendering is checked on every list request of this suite (`Api::get`); these cases check
//! that the stored path is the one taken, and that changes of nested records, and of the scope
//! config, reach it.

use serde_json::{Value, json};
use tributary_gateway::PageSourceStats;
use tributary_model::{Category, Model, RunState, ScopeConfig, SyncType, ToolKind};

use crate::gateway::Api;
use crate::support::Backend;

/// Walks every list endpoint of `category` on `integration`, in pages of 50.
async fn walk_all(api: &Api, integration: &str, category: Category, query: &[(&str, &str)]) -> usize {
    let mut items = 0;
    for &model in Model::ALL.iter().filter(|m| m.category() == category) {
        items += api.walk(model, integration, query, "50").await.len();
    }
    items
}

fn stats(api: &Api) -> PageSourceStats {
    api.state.page_source_stats()
}

/// Every object nested anywhere in `value` whose `id` is `id`.
fn objects_with_id<'a>(value: &'a Value, id: &str, out: &mut Vec<&'a Value>) {
    match value {
        Value::Object(map) => {
            if map.get("id").and_then(Value::as_str) == Some(id) {
                out.push(value);
            }
            for v in map.values() {
                objects_with_id(v, id, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| objects_with_id(v, id, out)),
        _ => {}
    }
}

fn remote_number(r: &Value) -> u64 {
    r["remote_id"].as_str().unwrap().parse().unwrap()
}

async fn pages_come_from_stored_renderings(b: Backend) {
    let Some(api) = Api::start(b).await else {
        return;
    };
    let items = walk_all(&api, &api.personio, Category::Hris, &[]).await
        + walk_all(&api, &api.greenhouse, Category::Ats, &[]).await
        + walk_all(&api, &api.bamboohr, Category::Hris, &[]).await;
    let after_sync = stats(&api);
    assert!(items > 500, "the synced mirror lists {items} items");
    assert_eq!(
        after_sync,
        PageSourceStats {
            stored: items as u64,
            live: 0
        },
        "after a completed sync every item is served from its stored rendering"
    );

    // With deleted records asked for, nested lists show deleted entries too: rendered live.
    let with_deleted = walk_all(&api, &api.personio, Category::Hris, &[("include_deleted", "true")]).await;
    assert_eq!(stats(&api).live, with_deleted as u64);
    assert_eq!(stats(&api).stored, after_sync.stored);
}

/// A change is re-rendered wherever it shows, one and two levels deep: a manager's new name in
/// each report's `manager`, a renamed interview stage in the applications that nest it and the
/// candidates that nest those, and a renamed absence type in every absence and balance of that
/// type. The last is the renderer's own dependencies at work: the absences themselves do not
/// change, and Kombo's rules move their `updated_at` (the store's `record_deps`) only for some.
async fn changes_reach_every_rendering_that_shows_them(b: Backend) {
    let Some(api) = Api::start(b).await else {
        return;
    };
    let (pid, gid) = (api.personio.clone(), api.greenhouse.clone());
    let employees = api.all(Model::Employees, &pid, &[]).await;
    let manager_id = employees
        .iter()
        .find_map(|e| e["manager"]["id"].as_str())
        .expect("someone has a manager")
        .to_owned();
    let manager = employees.iter().find(|e| e["id"] == manager_id.as_str()).unwrap();
    api.h.mutate(
        ToolKind::Personio,
        json!({"kind": "edit_employee", "employee_id": remote_number(manager), "field": "last_name", "value": "Rerendered"}),
    );
    let applications = api.all(Model::Applications, &gid, &[]).await;
    let stage = applications
        .iter()
        .find_map(|a| a["current_stage"].as_object())
        .expect("an application is at a stage");
    let stage_id = stage["id"].as_str().unwrap().to_owned();
    api.h.mutate(
        ToolKind::Greenhouse,
        json!({"kind": "rename_stage", "stage_id": remote_number(&Value::Object(stage.clone())), "name": "Rerendered stage"}),
    );
    let absence_type = api
        .all(Model::AbsenceTypes, &pid, &[])
        .await
        .into_iter()
        .next()
        .expect("Personio has absence types");
    let type_id = absence_type["id"].as_str().unwrap().to_owned();
    api.h.mutate(
        ToolKind::Personio,
        json!({"kind": "rename_absence_type", "absence_type_id": remote_number(&absence_type), "name": "Rerendered leave"}),
    );
    for id in [&pid, &gid] {
        assert_eq!(api.h.sync(id, SyncType::Full).await.state, RunState::Succeeded);
    }

    let before = stats(&api);
    let mut shown = Vec::new();
    let employees = api.all(Model::Employees, &pid, &[]).await;
    let reports = employees
        .iter()
        .filter(|e| e["manager"]["id"] == manager_id.as_str())
        .count();
    assert!(reports > 0);
    let employees = Value::Array(employees);
    objects_with_id(&employees, &manager_id, &mut shown);
    assert_eq!(shown.len(), reports + 1, "the manager and each report's `manager`");
    assert!(shown.iter().all(|m| m["last_name"] == "Rerendered"), "{shown:#?}");

    let mut stages = Vec::new();
    let candidates = Value::Array(api.all(Model::Candidates, &gid, &[]).await);
    let applications = Value::Array(api.all(Model::Applications, &gid, &[]).await);
    objects_with_id(&candidates, &stage_id, &mut stages);
    let in_candidates = stages.len();
    objects_with_id(&applications, &stage_id, &mut stages);
    assert!(
        in_candidates > 0 && stages.len() > in_candidates,
        "the stage is nested two levels deep and one"
    );
    assert!(stages.iter().all(|s| s["name"] == "Rerendered stage"), "{stages:#?}");

    let absences = Value::Array(api.all(Model::Absences, &pid, &[]).await);
    let balances = Value::Array(api.all(Model::TimeOffBalances, &pid, &[]).await);
    let mut types = Vec::new();
    objects_with_id(&absences, &type_id, &mut types);
    objects_with_id(&balances, &type_id, &mut types);
    assert!(types.len() > 1, "the type is nested in absences or balances");
    assert!(types.iter().all(|t| t["name"] == "Rerendered leave"), "{types:#?}");
    assert_eq!(
        stats(&api).live,
        before.live,
        "served from renderings stored by the sync"
    );
}

/// A scope change makes every stored rendering of the integration untrusted at once (they
/// were rendered under the old config): pages are rendered live, without the disabled fields,
/// until the pass the change forces has rendered them again.
async fn a_scope_change_is_rendered_before_it_is_trusted(b: Backend) {
    let Some(api) = Api::start(b).await else {
        return;
    };
    let pid = api.personio.clone();
    let scope: ScopeConfig = serde_json::from_value(json!({"read_models": [{"id": "hris_employees", "fields": [
        {"id": "date_of_birth", "scope_config_setting": "DISABLED"}
    ]}]}))
    .unwrap();
    let before = api.all(Model::Employees, &pid, &[]).await;
    assert!(before.iter().any(|e| !e["date_of_birth"].is_null()));
    api.h.store.set_scope_config(&pid, &scope).await.unwrap();

    let start = stats(&api);
    let live = api.all(Model::Employees, &pid, &[]).await;
    assert_eq!(live.len(), before.len());
    assert!(live.iter().all(|e| e.get("date_of_birth").is_none_or(Value::is_null)));
    assert_eq!(
        stats(&api).live - start.live,
        live.len() as u64,
        "rendered live until re-rendered"
    );

    assert_eq!(api.h.sync(&pid, SyncType::Full).await.state, RunState::Succeeded);
    let start = stats(&api);
    let stored = api.all(Model::Employees, &pid, &[]).await;
    // The pass rewrote the stripped rows (their `changed_at` moved): the same employees,
    // still without the disabled field.
    let ids = |list: &[Value]| list.iter().map(|e| e["id"].clone()).collect::<Vec<_>>();
    assert_eq!(ids(&stored), ids(&live));
    assert!(stored.iter().all(|e| e.get("date_of_birth").is_none_or(Value::is_null)));
    assert_eq!(stats(&api).live, start.live, "the pass stored the new renderings");
}

crate::on_both_backends!(
    pages_come_from_stored_renderings,
    changes_reach_every_rendering_that_shows_them,
    a_scope_change_is_rendered_before_it_is_trusted
);
