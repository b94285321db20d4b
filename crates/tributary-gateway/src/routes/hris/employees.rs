//! `GET /v1/hris/employees` (`GetHrisEmployees` in Kombo's OpenAPI document).

use std::collections::{BTreeSet, HashMap};

use axum::extract::State;
use serde_json::{Map, Value};
use tributary_model::Model;
use tributary_store::{FieldFilter, FieldMatch, StoredRecord};

use crate::auth::IntegrationAccess;
use crate::error::ApiError;
use crate::list::{ListQuery, RequestedFilter, fetch_page};
use crate::nested::{children_by_parent, record_source, records_by_ids, reference, references};
use crate::params::QueryParams;
use crate::response::{ListData, Success};
use crate::schema::{hris::EMPLOYEE, render};
use crate::state::GatewayState;
use crate::wire::Wire;

const EMPLOYMENT_STATUSES: &[&str] = &["ACTIVE", "PENDING", "INACTIVE", "LEAVE"];

pub async fn list(
    State(state): State<GatewayState>,
    access: IntegrationAccess,
    params: QueryParams,
) -> Result<Success<ListData>, ApiError> {
    let list = ListQuery::parse(&params)?;
    let filters = filters(&params)?;
    let integration = &access.integration;
    let page = fetch_page(&state, integration, Model::Employees, &list, filters).await?;
    let results = assemble(&state, integration, page.records, list.include_deleted).await?;
    Ok(Success::new(ListData {
        next: page.next,
        results,
    }))
}

/// The endpoint's own filters. Top-level filters AND together; each one's values OR.
fn filters(params: &QueryParams) -> Result<Vec<RequestedFilter>, ApiError> {
    let mut filters = Vec::new();
    // The deprecated singular form still works; given together, both must hold.
    for name in ["employment_statuses", "employment_status"] {
        if let Some(statuses) = params.enum_list(name, EMPLOYMENT_STATUSES)? {
            filters.push(RequestedFilter {
                filter: FieldFilter::equals("employment_status", statuses),
                scope_field: "employment_status",
            });
        }
    }
    if let Some(group_ids) = params.list("group_ids") {
        filters.push(RequestedFilter {
            filter: FieldFilter {
                matching: FieldMatch::ArrayContainsAny,
                ..FieldFilter::equals("group_ids", group_ids)
            },
            scope_field: "groups",
        });
    }
    for (name, field) in [
        ("legal_entity_ids", "legal_entity_id"),
        ("work_location_ids", "work_location_id"),
    ] {
        if let Some(ids) = params.list(name) {
            filters.push(RequestedFilter {
                filter: FieldFilter::equals(field, ids),
                scope_field: field,
            });
        }
    }
    // "The format of the emails is case-insensitive."
    for (name, field) in [("work_emails", "work_email"), ("personal_emails", "personal_email")] {
        if let Some(emails) = params.list(name) {
            let emails = emails.iter().map(|email| email.to_lowercase()).collect();
            filters.push(RequestedFilter {
                filter: FieldFilter {
                    case_insensitive: true,
                    ..FieldFilter::equals(field, emails)
                },
                scope_field: field,
            });
        }
    }
    if let Some(text) = params.text("custom_fields") {
        filters.push(RequestedFilter {
            filter: custom_field_filter(text)?,
            scope_field: "custom_fields",
        });
    }
    Ok(filters)
}

/// `custom_fields={"key": value}`: exactly one entry whose value is a string, number, boolean
/// or null.
fn custom_field_filter(text: &str) -> Result<FieldFilter, ApiError> {
    let invalid = |why: &str| {
        ApiError::invalid(format!(
            "`custom_fields` must be a JSON object with exactly one key and a string, number, boolean or null value ({why})."
        ))
    };
    let object: Map<String, Value> = serde_json::from_str(text).map_err(|_| invalid("not a JSON object"))?;
    let mut entries = object.into_iter();
    let (Some((key, value)), None) = (entries.next(), entries.next()) else {
        return Err(invalid("it must have exactly one key"));
    };
    let text = match value {
        Value::Null => {
            return Ok(FieldFilter {
                matching: FieldMatch::EntryIsNull(key),
                ..FieldFilter::equals("custom_fields", Vec::new())
            });
        }
        Value::String(text) => text,
        Value::Number(number) => number.to_string(),
        Value::Bool(flag) => flag.to_string(),
        Value::Array(_) | Value::Object(_) => return Err(invalid("arrays and objects are not supported")),
    };
    Ok(FieldFilter {
        matching: FieldMatch::EntryEquals(key),
        ..FieldFilter::equals("custom_fields", vec![text])
    })
}

/// Renders a page of employees with their nested and linked records, loaded in six queries
/// for the whole page.
async fn assemble(
    state: &GatewayState,
    integration: &tributary_store::Integration,
    employees: Vec<StoredRecord>,
    include_deleted: bool,
) -> Result<Vec<Wire>, ApiError> {
    let scope = &integration.scope_config;
    let id = integration.id.as_str();
    let employee_ids: Vec<String> = employees.iter().map(|e| e.id.clone()).collect();
    let collect = |field: &str| -> BTreeSet<String> {
        employees
            .iter()
            .filter_map(|e| reference(&e.data, field))
            .map(str::to_owned)
            .collect()
    };
    let group_ids: BTreeSet<String> = employees
        .iter()
        .flat_map(|e| references(&e.data, "group_ids"))
        .map(str::to_owned)
        .collect();

    let (employments, balances, managers, groups, legal_entities, locations) = tokio::try_join!(
        children_by_parent(
            state,
            id,
            Model::Employments,
            scope.model_enabled(Model::Employments),
            &employee_ids,
            include_deleted
        ),
        children_by_parent(
            state,
            id,
            Model::TimeOffBalances,
            scope.model_enabled(Model::TimeOffBalances),
            &employee_ids,
            include_deleted
        ),
        records_by_ids(state, id, Model::Employees, true, collect("manager_id")),
        records_by_ids(state, id, Model::Groups, scope.model_enabled(Model::Groups), group_ids),
        records_by_ids(
            state,
            id,
            Model::LegalEntities,
            scope.model_enabled(Model::LegalEntities),
            collect("legal_entity_id")
        ),
        records_by_ids(
            state,
            id,
            Model::Locations,
            scope.model_enabled(Model::Locations),
            collect("work_location_id")
        ),
    )?;

    let linked = Linked {
        employments,
        balances,
        managers,
        groups,
        legal_entities,
        locations,
    };
    Ok(employees
        .iter()
        .map(|employee| render(EMPLOYEE, &linked.employee_source(employee)))
        .collect())
}

/// Everything a page's employees nest or link to, by id.
struct Linked {
    employments: HashMap<String, Vec<StoredRecord>>,
    balances: HashMap<String, Vec<StoredRecord>>,
    managers: HashMap<String, StoredRecord>,
    groups: HashMap<String, StoredRecord>,
    legal_entities: HashMap<String, StoredRecord>,
    locations: HashMap<String, StoredRecord>,
}

impl Linked {
    fn employee_source(&self, employee: &StoredRecord) -> Map<String, Value> {
        let mut source = record_source(employee);
        // `group_ids` is our bookkeeping (data-conventions); the API shows `groups` instead.
        source.remove("group_ids");

        let children = |by_parent: &HashMap<String, Vec<StoredRecord>>| {
            Value::Array(
                by_parent
                    .get(&employee.id)
                    .into_iter()
                    .flatten()
                    .map(|r| Value::Object(record_source(r)))
                    .collect(),
            )
        };
        source.insert("employments".into(), children(&self.employments));
        source.insert("time_off_balances".into(), children(&self.balances));

        let linked = |records: &HashMap<String, StoredRecord>, field: &str| {
            reference(&employee.data, field)
                .and_then(|id| records.get(id))
                .map_or(Value::Null, |record| Value::Object(record_source(record)))
        };
        source.insert("manager".into(), linked(&self.managers, "manager_id"));
        source.insert("legal_entity".into(), linked(&self.legal_entities, "legal_entity_id"));
        source.insert("work_location".into(), linked(&self.locations, "work_location_id"));

        let groups: Vec<Value> = references(&employee.data, "group_ids")
            .filter_map(|id| self.groups.get(id))
            .map(|group| Value::Object(record_source(group)))
            .collect();
        // The spec marks `teams` deprecated and says it "includes the same data" as `groups`.
        source.insert("teams".into(), Value::Array(groups.clone()));
        source.insert("groups".into(), Value::Array(groups));
        source
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_custom_field_filters() {
        let f = custom_field_filter(r#"{"cost_center": 42}"#).unwrap();
        assert_eq!(
            (f.field.as_str(), f.any_of, f.matching),
            (
                "custom_fields",
                vec!["42".to_string()],
                FieldMatch::EntryEquals("cost_center".into())
            )
        );
        let f = custom_field_filter(r#"{"remote": true}"#).unwrap();
        assert_eq!(f.any_of, vec!["true".to_string()]);
        let f = custom_field_filter(r#"{"x": null}"#).unwrap();
        assert_eq!(f.matching, FieldMatch::EntryIsNull("x".into()));
        for bad in [
            r#"{}"#,
            r#"{"a":1,"b":2}"#,
            r#"{"a":[1]}"#,
            r#"{"a":{"b":1}}"#,
            "[1]",
            "nope",
        ] {
            assert!(custom_field_filter(bad).is_err(), "{bad}");
        }
    }
}
