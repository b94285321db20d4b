//! Employees: the custom report (every employee, any fields), the directory (active employees,
//! a fixed field set) and the field catalogue that names the fields a report may ask for.
//!
//! Shapes from BambooHR's OpenAPI document (`request-custom-report`,
//! `get-employees-directory`, `list-fields`) and the field list at
//! <https://documentation.bamboohr.com/docs/list-of-field-names>.

use std::collections::{BTreeSet, HashMap, HashSet};

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::render::{self, JsonArray};
use super::{Admitted, Rejection, TOOL, authorize, blocking, error, json_bytes};
use crate::SimState;
use crate::company::{Company, Employee};

/// A standard employee field: its API alias, numeric id, display name and type.
struct FieldDef {
    alias: &'static str,
    id: u32,
    name: &'static str,
    kind: &'static str,
}

const fn f(alias: &'static str, id: u32, name: &'static str, kind: &'static str) -> FieldDef {
    FieldDef { alias, id, name, kind }
}

/// The standard fields the simulated account has. Reports silently drop any other field.
const STANDARD_FIELDS: &[FieldDef] = &[
    f("employeeNumber", 17, "Employee #", "text"),
    f("firstName", 1, "First Name", "text"),
    f("lastName", 2, "Last Name", "text"),
    f("preferredName", 1358, "Preferred Name", "text"),
    f("displayName", 4044, "Display Name", "text"),
    f("workEmail", 15, "Work Email", "email"),
    f("homeEmail", 1357, "Home Email", "email"),
    f("mobilePhone", 13, "Mobile Phone", "phone"),
    f("gender", 154, "Gender", "gender"),
    f("nationality", 4387, "Nationality", "list"),
    f("dateOfBirth", 6, "Birth Date", "date"),
    f("ssn", 7, "SSN", "ssn"),
    f("maritalStatus", 156, "Marital Status", "list"),
    f("ethnicity", 1359, "Ethnicity", "list"),
    f("status", 4046, "Status", "status"),
    f("employmentHistoryStatus", 1360, "Employment Status", "list"),
    f("jobTitle", 17_001, "Job Title", "list"),
    f("department", 4, "Department", "list"),
    f("division", 1355, "Division", "list"),
    f("location", 18, "Location", "list"),
    f("supervisorEId", 4047, "Supervisor EID", "employee"),
    f("hireDate", 19, "Hire Date", "date"),
    f("terminationDate", 4045, "Termination Date", "date"),
    f("address1", 8, "Address Line 1", "text"),
    f("address2", 9, "Address Line 2", "text"),
    f("city", 10, "City", "text"),
    f("state", 11, "State", "state"),
    f("zipcode", 12, "Zip Code", "text"),
    f("country", 1356, "Country", "country"),
    f("standardHoursPerWeek", 4313, "Standard Hours Per Week", "int"),
];

fn standard_field(requested: &str) -> Option<&'static FieldDef> {
    STANDARD_FIELDS
        .iter()
        .find(|d| d.alias == requested || d.id.to_string() == requested)
}

/// A standard field's value for one employee: a string, or null where it has none (rendered
/// as `""`, see [`Column::value`]).
fn standard_value(c: &Company, e: &Employee, alias: &str) -> Value {
    let s = |v: &str| Value::String(v.to_owned());
    let opt = |v: Option<&str>| v.map_or(Value::Null, s);
    match alias {
        "employeeNumber" => s(&e.employee_number),
        "firstName" => s(&e.first_name),
        "lastName" => s(&e.last_name),
        "preferredName" => opt(e.preferred_name.as_deref()),
        "displayName" => s(&render::display_name(e)),
        "workEmail" => s(&e.email),
        "homeEmail" => opt(e.personal_email.as_deref()),
        "mobilePhone" => opt(e.mobile_phone.as_deref()),
        "gender" => s(render::gender(&e.gender)),
        "nationality" => opt(e.nationality.as_deref()),
        "dateOfBirth" => s(&render::ymd_or_zero(e.birthday)),
        "ssn" => opt(e.ssn.as_deref()),
        "status" => s(render::status(e)),
        "employmentHistoryStatus" => s(render::employment_history_status(e)),
        "jobTitle" => s(&e.position),
        "department" => opt(render::department_name(c, e.department_id)),
        "division" => opt(render::division_name(c, e.legal_entity_id)),
        "location" => opt(render::location_name(c, e.office_id)),
        "supervisorEId" => e.supervisor_id.map_or(Value::Null, |id| s(&id.to_string())),
        "hireDate" => s(&render::ymd(e.hire_date)),
        "terminationDate" => s(&render::ymd_or_zero(e.termination_date)),
        "address1" => opt(e.street.as_deref()),
        "city" => opt(e.city.as_deref()),
        "zipcode" => opt(e.zip.as_deref()),
        "country" => opt(e.country.as_deref()),
        "standardHoursPerWeek" => s(&render::hours(e.weekly_hours)),
        // Fields the account has but the simulated company does not fill.
        _ => Value::Null,
    }
}

/// A custom field of the account, discovered from the employees' custom attributes.
struct CustomField {
    key: String,
    id: u32,
    alias: String,
}

/// The account's custom fields: every custom attribute any employee has. Ids are derived from
/// the attribute name so they stay put when other fields come and go.
fn custom_fields(c: &Company) -> Vec<CustomField> {
    let mut keys = BTreeSet::new();
    for e in c.hris.employees.values() {
        for k in e.custom.keys() {
            if !keys.contains(k.as_str()) {
                keys.insert(k.clone());
            }
        }
    }
    keys.into_iter()
        .map(|key| {
            // FNV-1a: stable across runs and platforms, unlike std's hasher.
            let hash = key
                .bytes()
                .fold(0x811c_9dc5_u32, |h, b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193));
            let alias = format!("custom{}", pascal_case(&key));
            CustomField {
                id: 10_000 + hash % 90_000,
                alias,
                key,
            }
        })
        .collect()
}

fn pascal_case(key: &str) -> String {
    key.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut chars = w.chars();
            chars
                .next()
                .map(|first| first.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// One column of a report: the field id as the caller asked for it and where its value
/// comes from.
enum Column {
    Standard {
        requested: String,
        def: &'static FieldDef,
    },
    Custom {
        requested: String,
        key: String,
        name: String,
    },
}

impl Column {
    fn requested(&self) -> &str {
        match self {
            Column::Standard { requested, .. } | Column::Custom { requested, .. } => requested,
        }
    }

    fn meta(&self) -> Value {
        match self {
            Column::Standard { requested, def } => json!({"id": requested, "type": def.kind, "name": def.name}),
            Column::Custom { requested, name, .. } => json!({"id": requested, "type": "text", "name": name}),
        }
    }

    /// The value as reports and `GET /v1/employees/{id}` carry it: always a string, `""` when
    /// empty (`RequestCustomReportResponse` types every value as a string).
    fn value(&self, c: &Company, e: &Employee) -> Value {
        let value = match self {
            Column::Standard { def, .. } => standard_value(c, e, def.alias),
            Column::Custom { key, .. } => e.custom.get(key).map_or(Value::Null, |v| Value::String(v.clone())),
        };
        if value.is_null() {
            Value::String(String::new())
        } else {
            value
        }
    }
}

/// Resolves requested field ids (aliases or numeric ids); unknown ones are dropped silently,
/// as BambooHR does.
fn resolve_columns(c: &Company, requested: &[String]) -> Vec<Column> {
    let custom = custom_fields(c);
    let mut seen = HashSet::new();
    requested
        .iter()
        .filter(|r| seen.insert(r.as_str()))
        .filter_map(|r| {
            if let Some(def) = standard_field(r) {
                return Some(Column::Standard {
                    requested: r.clone(),
                    def,
                });
            }
            custom
                .iter()
                .find(|cf| cf.alias == *r || cf.id.to_string() == *r)
                .map(|cf| Column::Custom {
                    requested: r.clone(),
                    key: cf.key.clone(),
                    name: cf.key.clone(),
                })
        })
        .collect()
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ReportRequest {
    #[serde(default)]
    title: Option<String>,
    fields: Vec<String>,
    #[serde(default)]
    filters: Option<ReportFilters>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ReportFilters {
    last_changed: Option<LastChanged>,
    employee_ids: Option<Vec<u64>>,
}

#[derive(Debug, Deserialize)]
struct LastChanged {
    value: DateTime<Utc>,
}

const MAX_REPORT_FIELDS: usize = 400;

/// `POST /v1/reports/custom`: every employee, active or not, with the requested fields.
pub(super) async fn custom_report(
    State(state): State<SimState>,
    _admitted: Admitted,
    Path(company): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Rejection> {
    authorize(&state, &company, &headers)?;
    // `format` (any case) decides; without it only these exact Accept values select a format
    // (`request-custom-report`). XML is rendered from the JSON by the router's negotiation.
    match query.get("format").map(|f| f.to_ascii_lowercase()) {
        Some(f) if f == "json" || f == "xml" => {}
        Some(f) if matches!(f.as_str(), "csv" | "xls" | "pdf") => {
            return Err(error(
                StatusCode::NOT_ACCEPTABLE,
                "The simulator renders JSON and XML reports only",
            ));
        }
        Some(_) => return Err(error(StatusCode::NOT_FOUND, "Report format not found")),
        None if headers
            .get(header::ACCEPT)
            .is_some_and(|v| v == "application/json" || v == "text/xml") => {}
        None => return Err(error(StatusCode::NOT_FOUND, "Report format not found")),
    }
    // Anything but exactly `application/json` is parsed as XML, which a JSON body is not.
    if headers
        .get(header::CONTENT_TYPE)
        .is_none_or(|v| v != "application/json")
    {
        return Err(error(StatusCode::BAD_REQUEST, "Malformed XML"));
    }
    let request: ReportRequest =
        serde_json::from_slice(&body).map_err(|e| error(StatusCode::BAD_REQUEST, &format!("Malformed JSON: {e}")))?;
    if request.fields.len() > MAX_REPORT_FIELDS {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "A report may request at most 400 fields",
        ));
    }
    let filters = request.filters.unwrap_or_default();
    let since = filters.last_changed.map(|l| l.value);
    let only_ids = filters.employee_ids.map(|ids| ids.into_iter().collect::<HashSet<_>>());
    let title = request.title.unwrap_or_else(|| "Report".to_owned());
    blocking(state, move |state| {
        let columns = resolve_columns(&state.company(TOOL), &request.fields);
        let mut out = Vec::new();
        out.extend_from_slice(b"{\"title\":");
        serde_json::to_writer(&mut out, &title)?;
        out.extend_from_slice(b",\"fields\":");
        serde_json::to_writer(&mut out, &columns.iter().map(Column::meta).collect::<Vec<_>>())?;
        out.extend_from_slice(b",\"employees\":");
        let mut rows = JsonArray::open(&mut out);
        rows.fill_chunked(state, |c, after, limit, rows| {
            let mut last = render::Progress::new(limit);
            for (id, e) in render::after(&c.hris.employees, after).take(limit) {
                last.saw(*id);
                if since.is_some_and(|s| e.updated_at < s) || only_ids.as_ref().is_some_and(|ids| !ids.contains(id)) {
                    continue;
                }
                let mut row = Map::new();
                row.insert("id".into(), Value::String(id.to_string()));
                for col in &columns {
                    row.insert(col.requested().to_owned(), col.value(c, e));
                }
                rows.push(&row)?;
            }
            Ok(last.resume_after())
        })?;
        rows.close();
        out.push(b'}');
        Ok(out)
    })
    .await
    .map(json_bytes)
}

/// `GET /v1/employees/directory`: active employees with the directory's fixed field set.
/// With `onlyCurrent` (the default) employees hired in the future are left out; an empty
/// directory is a 404.
pub(super) async fn directory(
    State(state): State<SimState>,
    _admitted: Admitted,
    Path(company): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Result<Response, Rejection> {
    authorize(&state, &company, &headers)?;
    let only_current = query.get("onlyCurrent").is_none_or(|v| v != "false" && v != "0");
    let today = Utc::now().date_naive();
    let response = blocking(state, move |state| {
        let mut out = Vec::new();
        out.extend_from_slice(b"{\"fields\":");
        let fields: Vec<Value> = [
            ("displayName", "text", "Display name"),
            ("firstName", "text", "First name"),
            ("lastName", "text", "Last name"),
            ("preferredName", "text", "Preferred name"),
            ("jobTitle", "list", "Job title"),
            ("mobilePhone", "text", "Mobile phone"),
            ("workEmail", "email", "Work Email"),
            ("department", "list", "Department"),
            ("location", "list", "Location"),
            ("division", "list", "Division"),
            ("supervisor", "employee", "Supervisor"),
            ("photoUploaded", "bool", "Employee photo"),
            ("photoUrl", "url", "Photo URL"),
            ("canUploadPhoto", "bool", "Can upload photo"),
        ]
        .iter()
        .map(|(id, kind, name)| json!({"id": id, "type": kind, "name": name}))
        .collect();
        serde_json::to_writer(&mut out, &fields)?;
        out.extend_from_slice(b",\"employees\":");
        let mut rows = JsonArray::open(&mut out);
        rows.fill_chunked(state, |c, after, limit, rows| {
            let mut last = render::Progress::new(limit);
            for (id, e) in render::after(&c.hris.employees, after).take(limit) {
                last.saw(*id);
                if render::status(e) != "Active" || (only_current && e.hire_date > today) {
                    continue;
                }
                let supervisor = e
                    .supervisor_id
                    .and_then(|s| c.hris.employees.get(&s))
                    .map(render::display_name);
                rows.push(&json!({
                    "id": id.to_string(),
                    "displayName": render::display_name(e),
                    "firstName": e.first_name,
                    "lastName": e.last_name,
                    "preferredName": e.preferred_name,
                    "jobTitle": e.position,
                    "mobilePhone": e.mobile_phone,
                    "workEmail": e.email,
                    "department": render::department_name(c, e.department_id),
                    "location": render::location_name(c, e.office_id),
                    "division": render::division_name(c, e.legal_entity_id),
                    "supervisor": supervisor,
                    "photoUploaded": false,
                    "photoUrl": "https://resources.bamboohr.com/images/photo_person_150x150.png",
                    "canUploadPhoto": 1,
                }))?;
            }
            Ok(last.resume_after())
        })?;
        let empty = rows.is_empty();
        rows.close();
        out.push(b'}');
        Ok((out, empty))
    })
    .await?;
    if response.1 {
        return Err(error(StatusCode::NOT_FOUND, "The directory is empty"));
    }
    Ok(json_bytes(response.0))
}

/// `GET /v1/employees/{id}?fields=&onlyCurrent=`: one employee, `id` plus the requested
/// fields (default `firstName,lastName`), unknown ones omitted; at most 400 fields (400 beyond);
/// 404 when the employee does not exist (`get-employee`). Id 0 names the API key's own
/// employee, which the simulated key has none of.
pub(super) async fn employee(
    State(state): State<SimState>,
    _admitted: Admitted,
    Path((company, id)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Result<Response, Rejection> {
    authorize(&state, &company, &headers)?;
    let requested: Vec<String> = query
        .get("fields")
        .map_or("firstName,lastName", String::as_str)
        .split(',')
        .map(|f| f.trim().to_owned())
        .filter(|f| !f.is_empty())
        .collect();
    if requested.len() > MAX_REPORT_FIELDS {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "A request may ask for at most 400 fields",
        ));
    }
    let c = state.company(TOOL);
    let Some(e) = id.parse::<u64>().ok().and_then(|id| c.hris.employees.get(&id)) else {
        return Err(error(StatusCode::NOT_FOUND, "Employee not found"));
    };
    let mut row = Map::new();
    row.insert("id".into(), Value::String(e.id.to_string()));
    for col in resolve_columns(&c, &requested) {
        row.insert(col.requested().to_owned(), col.value(&c, e));
    }
    Ok(axum::Json(Value::Object(row)).into_response())
}

/// `GET /v1/employees/changed?since=&type=`: the employees changed since an ISO 8601 instant,
/// keyed by id, with `Inserted` or `Updated` and when (`get-changed-employee-ids`). `since`
/// is inclusive here (BambooHR does not say); a missing or unreadable `since`, or an unknown
/// `type`, is a 400. The simulator removes deleted employees outright, so it reports no
/// `Deleted` entries.
pub(super) async fn changed(
    State(state): State<SimState>,
    _admitted: Admitted,
    Path(company): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Result<Response, Rejection> {
    authorize(&state, &company, &headers)?;
    // ISO 8601 with an offset: `Z`, `+00:00` or `+0000` (the report's `lastChanged` documents
    // the last two).
    let since = query
        .get("since")
        .and_then(|s| {
            DateTime::parse_from_rfc3339(s)
                .or_else(|_| DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%z"))
                .ok()
        })
        .map(|s| s.with_timezone(&Utc))
        .ok_or_else(|| error(StatusCode::BAD_REQUEST, "since must be an ISO 8601 timestamp"))?;
    let wanted = match query.get("type").map(String::as_str) {
        None | Some("all") => None,
        Some(t @ ("inserted" | "updated" | "deleted")) => Some(t.to_owned()),
        Some(_) => return Err(error(StatusCode::BAD_REQUEST, "Invalid type")),
    };
    let c = state.company(TOOL);
    let mut latest = since;
    let mut out = Map::new();
    // "A change in ANY individual field in the employee record, as well as any change to the
    // employment status, job info, or compensation tables": the simulated employments carry all
    // three tables' rows.
    let changed_at = |e: &crate::company::Employee| {
        e.employments
            .iter()
            .map(|x| x.updated_at)
            .fold(e.updated_at, std::cmp::max)
    };
    for e in c.hris.employees.values() {
        let changed = changed_at(e);
        if changed < since {
            continue;
        }
        let action = if e.created_at >= since { "Inserted" } else { "Updated" };
        if wanted.as_deref().is_some_and(|w| !w.eq_ignore_ascii_case(action)) {
            continue;
        }
        latest = latest.max(changed);
        out.insert(
            e.id.to_string(),
            json!({"id": e.id.to_string(), "action": action, "lastChanged": render::iso(changed)}),
        );
    }
    Ok(axum::Json(json!({"latest": render::iso(latest), "employees": out})).into_response())
}

/// `GET /v1/meta/fields`: the standard fields and the account's custom fields.
pub(super) async fn fields(
    State(state): State<SimState>,
    _admitted: Admitted,
    Path(company): Path<String>,
    headers: HeaderMap,
) -> Result<Response, Rejection> {
    authorize(&state, &company, &headers)?;
    let c = state.company(TOOL);
    let mut out: Vec<Value> = STANDARD_FIELDS
        .iter()
        .map(|d| json!({"id": d.id, "name": d.name, "type": d.kind, "alias": d.alias}))
        .collect();
    out.extend(
        custom_fields(&c)
            .into_iter()
            .map(|cf| json!({"id": cf.id, "name": cf.key, "type": "text", "alias": cf.alias})),
    );
    Ok(axum::Json(out).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn custom_aliases_are_pascal_cased() {
        assert_eq!(pascal_case("shirt_size"), "ShirtSize");
        assert_eq!(pascal_case("Cost center 2"), "CostCenter2");
    }

    #[test]
    fn standard_fields_are_unique() {
        let mut aliases: Vec<_> = STANDARD_FIELDS.iter().map(|d| d.alias).collect();
        let mut ids: Vec<_> = STANDARD_FIELDS.iter().map(|d| d.id).collect();
        aliases.sort();
        aliases.dedup();
        ids.sort();
        ids.dedup();
        assert_eq!(aliases.len(), STANDARD_FIELDS.len());
        assert_eq!(ids.len(), STANDARD_FIELDS.len());
    }
}
