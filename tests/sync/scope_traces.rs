//! Every disableable field of every connector leaves no trace in `remote_data` (issue 12,
//! item 2). For each tool, every model and every field the connector fills is disabled on its
//! own, and the records fetched from the simulator (over real HTTP) are prepared as a sync
//! prepares them: the field's raw source must be gone. The fields come from the records
//! themselves, so a field a connector starts filling without giving it JSON pointers fails
//! here, unless it is listed below as derived (no raw source of its own) with the reason.
//! A last real sync with every field disabled checks the same on the stored rows, on both
//! backends.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use serde_json::{Value, json};
use tributary_engine::{RunControl, prepare_record};
use tributary_model::{
    IdGen, Model, RunState, ScopeConfig, SourceRecord, SyncType, ToolKind, has_pointer, strip_pointer,
};
use tributary_source::{Connector, FetchMode, SourceClient};

use crate::support::{Backend, Harness, test_client};

/// Fields whose value is made by the connector, not read from a raw place of the record's own
/// payload: nothing raw to strip.
fn derived(tool: ToolKind, model: Model, field: &str) -> bool {
    // Our own ids of linked records: raw places of the link (a supervisor, an application id)
    // have pointers where the tool sends one; these are computed from the parent record.
    let parent_ids = matches!(
        (model, field),
        (Model::Employments, "employee_id")
            | (Model::TimeOffBalances, "employee_id")
            | (Model::TimeOffBalances, "type_id")
            | (Model::ApplicationStages, "job_id")
    );
    // Kombo's enums that the connector sets from the tool kind or endpoint, not from a value.
    let constants = matches!(
        (tool, model, field),
        (ToolKind::Personio, Model::Absences, "unit")
            | (ToolKind::Personio, Model::AbsenceTypes, "half_days_supported" | "exact_times_supported")
            | (ToolKind::Personio, Model::Groups, "type")
            | (ToolKind::Personio, Model::Employments, "pay_frequency")
            // The unit of a balance is its absence type's.
            | (ToolKind::Personio, Model::TimeOffBalances, "balance_unit")
            | (ToolKind::Bamboohr, Model::Groups, "type")
            | (ToolKind::Bamboohr, Model::AbsenceTypes, "half_days_supported" | "exact_times_supported")
    );
    // Read from other Harvest v3 endpoints, whose objects the record's own `remote_data` does
    // not keep: a candidate's source (its applications and `/v3/sources`), a job's hiring team
    // (`/v3/job_owners`, `/v3/job_hiring_managers`).
    let elsewhere = matches!(
        (tool, model, field),
        (ToolKind::Greenhouse, Model::Candidates, "source")
            | (
                ToolKind::Greenhouse,
                Model::Jobs,
                "contact_id" | "hiring_team_members" | "hiring_team"
            )
    );
    parent_ids || constants || elsewhere
}

/// Leaf strings of a unified value worth looking for in the raw payload: not our ids, not
/// Kombo's upper-case enums, not too short to mean anything, and not dates or times (many
/// fields share a day; their raw places are checked through the pointers).
fn leaves(value: &Value, ids: &HashSet<String>, out: &mut Vec<String>) {
    match value {
        Value::String(s) => {
            let enum_like = s.chars().all(|c| c.is_ascii_uppercase() || c == '_');
            let date_like = s
                .get(..10)
                .is_some_and(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").is_ok());
            if s.chars().count() >= 4 && !enum_like && !date_like && !ids.contains(s) {
                out.push(s.clone());
            }
        }
        Value::Array(items) => items.iter().for_each(|v| leaves(v, ids, out)),
        Value::Object(map) => map.values().for_each(|v| leaves(v, ids, out)),
        _ => {}
    }
}

/// Whether `raw` holds a string that is `needle` (case aside).
fn raw_holds(raw: &Value, needle: &str) -> bool {
    match raw {
        Value::String(s) => s.eq_ignore_ascii_case(needle),
        Value::Array(items) => items.iter().any(|v| raw_holds(v, needle)),
        Value::Object(map) => map.values().any(|v| raw_holds(v, needle)),
        _ => false,
    }
}

fn non_empty(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
        _ => true,
    }
}

fn disabling(model: Model, fields: &[&str]) -> ScopeConfig {
    let fields: Vec<Value> = fields
        .iter()
        .map(|f| json!({"id": f, "scope_config_setting": "DISABLED"}))
        .collect();
    serde_json::from_value(json!({"read_models": [{"id": model.scope_id(), "fields": fields}]})).unwrap()
}

async fn fetch_everything(h: &Harness, tool: ToolKind, ids: &IdGen) -> (Box<dyn Connector>, Vec<SourceRecord>) {
    let client = SourceClient::new(test_client()).unwrap();
    let connector = tributary_connectors::build(
        tool,
        &h.sim.base_url(tool),
        &h.sim.integration_credentials(tool),
        ids.clone(),
        client,
    )
    .unwrap();
    let mut records = Vec::new();
    for stream in connector.streams() {
        let mut cursor: Option<Value> = None;
        loop {
            let page = connector
                .fetch_page(&stream, cursor.as_ref(), FetchMode::Full)
                .await
                .unwrap_or_else(|e| panic!("{}: {e}", stream.name));
            records.extend(page.records);
            match page.next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
    }
    (connector, records)
}

/// Disables each field of each model on its own and checks the prepared records. Returns the
/// (model, field) pairs with a raw source, for the stored-rows check.
async fn each_field_leaves_no_trace(h: &Harness, tool: ToolKind) -> BTreeMap<Model, Vec<String>> {
    let ids = IdGen::new(format!("{}:test", tool.as_str()));
    let (connector, records) = fetch_everything(h, tool, &ids).await;
    let our_ids: HashSet<String> = records
        .iter()
        .flat_map(|r| {
            let mut all = vec![ids.id(r.model, &r.remote_id)];
            all.extend(r.parent.iter().map(|(m, id)| ids.id(*m, id)));
            all.extend(r.depends_on.iter().map(|(m, id)| ids.id(*m, id)));
            all
        })
        .collect();
    let mut by_model: BTreeMap<Model, Vec<&SourceRecord>> = BTreeMap::new();
    for r in &records {
        by_model.entry(r.model).or_default().push(r);
    }
    let mut problems = Vec::new();
    let mut sourced: BTreeMap<Model, Vec<String>> = BTreeMap::new();
    for (&model, records) in &by_model {
        let fields: BTreeSet<&str> = records.iter().flat_map(|r| r.data.keys().map(String::as_str)).collect();
        let known = tributary_gateway::scope_fields(model);
        // Every raw place any field of the model names: a value found outside all of them is
        // in a place no pointer covers.
        let all_pointers: Vec<String> = known
            .iter()
            .flat_map(|f| tributary_connectors::remote_paths(tool, model, f))
            .collect();
        for field in fields {
            if !known.contains(&field) {
                // A link kept for joins (an employee's `group_ids`), served only through its
                // nested key (`groups`), which is what a scope config names.
                continue;
            }
            let with_value: Vec<&&SourceRecord> = records
                .iter()
                .filter(|r| r.data.get(field).is_some_and(non_empty))
                .collect();
            if with_value.is_empty() || derived(tool, model, field) {
                continue;
            }
            let pointers = tributary_connectors::remote_paths(tool, model, field);
            if pointers.is_empty() {
                problems.push(format!("{tool} {model}.{field}: has values but no JSON pointers"));
                continue;
            }
            let live = records
                .iter()
                .filter_map(|r| r.remote_data.as_ref())
                .any(|raw| pointers.iter().any(|p| has_pointer(raw, p)));
            if !live {
                problems.push(format!(
                    "{tool} {model}.{field}: no pointer of {pointers:?} reaches into any record's remote_data"
                ));
                continue;
            }
            sourced.entry(model).or_default().push(field.to_owned());
            let scope = disabling(model, &[field]);
            for record in with_value {
                let mut values = Vec::new();
                leaves(&record.data[field], &our_ids, &mut values);
                // A value another (enabled) field also has stays, as that field's (a job closed
                // at its last update).
                let mut elsewhere = Vec::new();
                for (other, value) in &record.data {
                    if other != field {
                        leaves(value, &our_ids, &mut elsewhere);
                    }
                }
                values.retain(|v| !elsewhere.contains(v));
                let prepared =
                    prepare_record((*record).clone(), &scope, &ids, connector.as_ref()).expect("enabled model");
                assert!(!prepared.data.contains_key(field));
                let Some(raw) = prepared.remote_data.as_ref() else {
                    continue;
                };
                for p in &pointers {
                    if has_pointer(raw, p) {
                        problems.push(format!(
                            "{tool} {model}.{field}: {p} still in remote_data of {}",
                            record.remote_id
                        ));
                    }
                }
                let mut unmapped = raw.clone();
                for p in &all_pointers {
                    strip_pointer(&mut unmapped, p);
                }
                for v in values {
                    if raw_holds(&unmapped, &v) {
                        problems.push(format!(
                            "{tool} {model}.{field}: `{v}` still in remote_data of {}: {raw}",
                            record.remote_id
                        ));
                    }
                }
            }
        }
    }
    problems.dedup_by(|a, b| a.split(':').next() == b.split(':').next());
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(!sourced.is_empty());
    sourced
}

/// Then a real sync with every such field disabled: no stored row keeps any of their raw places.
async fn stored_rows_keep_no_disabled_source(b: Backend, tool: ToolKind) {
    let Some(h) = Harness::start(b, &[tool], 25).await else {
        return;
    };
    let sourced = each_field_leaves_no_trace(&h, tool).await;
    let read_models: Vec<Value> = sourced
        .iter()
        .map(|(model, fields)| {
            let fields: Vec<Value> = fields
                .iter()
                .map(|f| json!({"id": f, "scope_config_setting": "DISABLED"}))
                .collect();
            json!({"id": model.scope_id(), "fields": fields})
        })
        .collect();
    let scope: ScopeConfig = serde_json::from_value(json!({ "read_models": read_models })).unwrap();
    let id = h.connect_with_scope(tool, scope).await;
    let complete = if tool.supports_delta() {
        SyncType::Full
    } else {
        SyncType::Default
    };
    let run = h
        .engine
        .sync(&id, complete, &RunControl::new())
        .await
        .expect("sync runs")
        .run;
    assert_eq!(run.state, RunState::Succeeded, "{run:?}");
    let mut checked = 0;
    for (model, fields) in &sourced {
        for r in h.records(&id, *model).await {
            let raw = r.remote_data.as_ref().map(|raw| raw.to_value().unwrap());
            for field in fields {
                assert!(!r.data.contains_key(field), "{tool} {model}.{field} stored in data");
                let Some(raw) = &raw else { continue };
                for p in tributary_connectors::remote_paths(tool, *model, field) {
                    assert!(
                        !has_pointer(raw, &p),
                        "{tool} {model}.{field}: {p} stored in remote_data"
                    );
                    checked += 1;
                }
            }
        }
    }
    assert!(checked > 0);
}

async fn personio_fields_leave_no_trace(b: Backend) {
    stored_rows_keep_no_disabled_source(b, ToolKind::Personio).await;
}

async fn greenhouse_fields_leave_no_trace(b: Backend) {
    stored_rows_keep_no_disabled_source(b, ToolKind::Greenhouse).await;
}

async fn bamboohr_fields_leave_no_trace(b: Backend) {
    stored_rows_keep_no_disabled_source(b, ToolKind::Bamboohr).await;
}

crate::on_both_backends!(
    personio_fields_leave_no_trace,
    greenhouse_fields_leave_no_trace,
    bamboohr_fields_leave_no_trace
);
