//! The simulated Personio Public API, v1 ("Personnel Data").
//!
//! v1, not v2: see `docs/sources/personio.md` ("Which API version") for the decision and its
//! sources. Every behaviour below is listed there with its source and the test that covers it.
//!
//! - `POST /v1/auth` takes `client_id`/`client_secret` as JSON, form or query parameters and answers
//!   `{"success":true,"data":{"token":"papi-..."}}`. The token is stable: the same one for the
//!   same credentials for 24 hours, usable in parallel, and every successful Personnel Data
//!   response carries it back in its `Authorization` header
//!   (<https://developer.personio.de/reference/auth>,
//!   <https://developer.personio.de/changelog/authentication-api-improved-bearer-token>).
//! - `GET /v1/company/employees`: `offset` counts records, `limit` is at most 100 (more is
//!   refused) and 50 when absent, also with `updated_since`
//!   (<https://developer.personio.de/docs/pagination-adoption-guide-for-v1-get-employees-endpoint>,
//!   <https://developer.personio.de/changelog/employee-api-introduction-of-pagination-in-the-updated_since-filter-of-the-get-employees-endpoint>);
//!   `updated_since` is `2022-12-24T08:15:30` or `YYYY-MM-DD` and selects employees updated
//!   *after* it; `metadata.current_page` counts from 0 (Personnel Data OpenAPI file).
//! - Personal data lives in `dynamic_<n>` attributes numbered per account (`attributes.rs`),
//!   described by `GET /v1/company/employees/attributes` and its alias `/custom-attributes`.
//! - `GET /v1/company/time-offs`: `offset` is a 1-based page number, 0 read as 1; `limit`
//!   defaults to 200 and a missing, non-numeric or out-of-range `limit` (above 200) falls back
//!   to 200, a missing or negative `offset` to 0
//!   (<https://developer.personio.de/changelog/default-pagination-for-list-time-offs>, 27 Nov
//!   2026; <https://developer.personio.de/discuss/64afe30907a1610058ce21ac>);
//!   `updated_from`/`updated_to` are dates, inclusive; `metadata.current_page` is the page.
//!   It lists day-based absences only: those of types counted in hours are
//!   `GET /v1/company/absence-periods` (`periods.rs`), UUID ids, `offset` a 1-based page number
//!   since 25 Aug 2023, `updated_from`/`updated_to` inclusive date-times.
//! - `GET /v1/company/time-off-types`: record offset, `limit` default 200, no metadata.
//! - `GET /v1/company/employees/{employee_id}`, `GET /v1/company/time-offs/{id}` answer one
//!   record in the list's item shape; an unknown id is a 404 in the error envelope.
//! - `GET /v1/company/employees/{id}/absences/balance` returns `[{id, name, category, balance}]`.
//! - Errors are `{"success":false,"error":{"code":..,"message":..}}`; documented rate limits
//!   in `limits.rs`.

mod attributes;
pub(crate) mod limits;
mod periods;

pub use attributes::Attributes;
use attributes::Role;
pub use periods::absence_remote_id;

use std::borrow::Cow;
use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Extension;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use rand::Rng;
use serde::Serialize;
use serde_json::{Map, Value, json};
use tributary_model::ToolKind;

use crate::SimState;
use crate::company::{Absence, Company, Employee, EmployeeStatus, Id};

use limits::{Kind, Limits};

const TOOL: ToolKind = ToolKind::Personio;
/// Largest `limit` GET employees accepts since the 2025 pagination enforcement.
const EMPLOYEES_MAX_LIMIT: usize = 100;
/// Page size GET employees uses when the caller sends no `limit`.
const EMPLOYEES_DEFAULT_LIMIT: usize = 50;
/// Default (and largest) `limit` of the time-off lists.
const TIME_OFFS_MAX_LIMIT: usize = 200;
/// How long a token stays the same for the same credentials.
const TOKEN_LIFETIME: Duration = Duration::from_secs(24 * 3600);

/// What one simulated Personio keeps besides its company: its rate windows and the stable
/// token it hands out.
#[derive(Default)]
struct Tool {
    limits: Limits,
    token: Mutex<Option<(String, Instant)>>,
}

/// Routes relative to the tool's base URL.
pub fn router() -> Router<SimState> {
    let tool = Arc::new(Tool::default());
    Router::new()
        .route("/v1/auth", post(auth))
        .route("/v1/company/employees", get(list_employees))
        .route("/v1/company/employees/attributes", get(list_attributes))
        .route("/v1/company/employees/custom-attributes", get(list_attributes))
        .route("/v1/company/employees/{employee_id}", get(show_employee))
        .route(
            "/v1/company/employees/{employee_id}/absences/balance",
            get(absence_balance),
        )
        .route("/v1/company/time-off-types", get(list_time_off_types))
        .route("/v1/company/time-offs", get(list_time_offs))
        .route("/v1/company/time-offs/{id}", get(show_time_off))
        .route("/v1/company/absence-periods", get(list_absence_periods))
        .layer(middleware::from_fn(echo_token))
        .layer(Extension(tool))
}

/// Every successful Personnel Data response carries the bearer token in its `Authorization`
/// header (<https://developer.personio.de/reference/auth>: "you will find the same stable Bearer
/// token in the Header of the response").
async fn echo_token(req: Request, next: Next) -> Response {
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .filter(|_| req.uri().path() != "/v1/auth")
        .cloned();
    let mut response = next.run(req).await;
    if let Some(token) = token
        && response.status().is_success()
    {
        response.headers_mut().insert(header::AUTHORIZATION, token);
    }
    response
}

// ---------------------------------------------------------------------------------------------
// Errors, limits and authentication

/// Personio's error envelope.
fn error(status: StatusCode, code: u16, message: &str) -> Response {
    (
        status,
        axum::Json(json!({"success": false, "error": {"code": code, "message": message}})),
    )
        .into_response()
}

fn unauthorized() -> Response {
    error(StatusCode::UNAUTHORIZED, 401, "The token is invalid or has expired.")
}

fn bad_request(message: &str) -> Response {
    error(StatusCode::BAD_REQUEST, 400, message)
}

fn too_many_requests() -> Response {
    error(StatusCode::TOO_MANY_REQUESTS, 429, "Too Many Requests")
}

/// A query parameter the API refuses, answered with a 400 in Personio's error envelope.
struct BadParam(String);

impl IntoResponse for BadParam {
    fn into_response(self) -> Response {
        bad_request(&self.0)
    }
}

/// The documented rate limit (when the simulator imposes them), then the bearer token: the
/// refusal to answer with, if any.
fn gate(state: &SimState, tool: &Tool, kind: Kind, headers: &HeaderMap) -> Option<Response> {
    if state.documented_limits() && !tool.limits.admit(kind) {
        return Some(too_many_requests());
    }
    (!authorized(state, headers)).then(unauthorized)
}

async fn auth(
    State(state): State<SimState>,
    Extension(tool): Extension<Arc<Tool>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if state.documented_limits() && !tool.limits.admit(Kind::Auth) {
        return too_many_requests();
    }
    let mut client_id = None;
    let mut client_secret = None;
    let mut take = |key: &str, value: String| match key {
        "client_id" => client_id = Some(value),
        "client_secret" => client_secret = Some(value),
        _ => {}
    };
    for (k, v) in url::form_urlencoded::parse(query.as_deref().unwrap_or("").as_bytes()) {
        take(&k, v.into_owned());
    }
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/json"));
    if is_json {
        match serde_json::from_slice::<Map<String, Value>>(&body) {
            Ok(fields) => {
                for (k, v) in fields {
                    if let Value::String(s) = v {
                        take(&k, s);
                    }
                }
            }
            Err(_) => return bad_request("The request body is not valid JSON."),
        }
    } else {
        for (k, v) in url::form_urlencoded::parse(&body) {
            take(&k, v.into_owned());
        }
    }
    let (Some(id), Some(secret)) = (client_id, client_secret) else {
        return bad_request("client_id and client_secret are required.");
    };
    let creds = state.credentials();
    if state.is_revoked(TOOL) || id != creds.personio_client_id || secret != creds.personio_client_secret {
        return error(StatusCode::UNAUTHORIZED, 401, "Wrong credentials");
    }
    // The same token for the same credentials until it is 24 hours old (or revoked).
    let token = {
        let mut current = tool.token.lock().unwrap_or_else(|p| p.into_inner());
        match current.as_ref() {
            Some((token, issued)) if issued.elapsed() < TOKEN_LIFETIME && state.token_valid(token) => token.clone(),
            _ => {
                let token = format!("papi-{:032x}", rand::rng().random::<u128>());
                state.issue_token(token.clone());
                *current = Some((token.clone(), Instant::now()));
                token
            }
        }
    };
    axum::Json(json!({"success": true, "data": {"token": token, "expires_in": TOKEN_LIFETIME.as_secs()}}))
        .into_response()
}

fn authorized(state: &SimState, headers: &HeaderMap) -> bool {
    if state.is_revoked(TOOL) {
        return false;
    }
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|token| state.token_valid(token.trim()))
}

// ---------------------------------------------------------------------------------------------
// Query parameters

/// The query string as Personio reads it: repeated `key[]` parameters collect into lists, which
/// axum's `Query` (serde_urlencoded) cannot express.
struct Params(Vec<(String, String)>);

impl Params {
    fn parse(query: Option<String>) -> Self {
        Params(
            url::form_urlencoded::parse(query.as_deref().unwrap_or("").as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    fn one(&self, key: &str) -> Option<&str> {
        self.0.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    fn list(&self, key: &str) -> Vec<&str> {
        let bracketed = format!("{key}[]");
        self.0
            .iter()
            .filter(|(k, _)| *k == bracketed || k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    fn number(&self, key: &str, min: usize) -> Result<Option<usize>, BadParam> {
        match self.one(key) {
            None | Some("") => Ok(None),
            Some(raw) => match raw.parse::<usize>() {
                Ok(n) if n >= min => Ok(Some(n)),
                _ => Err(BadParam(format!("The {key} must be an integer of at least {min}."))),
            },
        }
    }

    fn date(&self, key: &str) -> Result<Option<NaiveDate>, BadParam> {
        match self.one(key) {
            None | Some("") => Ok(None),
            Some(raw) => raw
                .get(..10)
                .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
                .map(Some)
                .ok_or_else(|| BadParam(format!("The {key} is not a valid date."))),
        }
    }

    /// `updated_since`: "2022-12-24T08:15:30" (read as UTC) or with an explicit offset.
    fn date_time(&self, key: &str) -> Result<Option<DateTime<Utc>>, BadParam> {
        match self.one(key) {
            None | Some("") => Ok(None),
            Some(raw) => DateTime::parse_from_rfc3339(raw)
                .map(|t| t.with_timezone(&Utc))
                .or_else(|_| NaiveDateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M:%S").map(|t| t.and_utc()))
                .map(Some)
                .map_err(|_| BadParam(format!("The {key} must be an ISO 8601 date-time."))),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Rendering helpers

fn date(d: NaiveDate) -> String {
    format!("{}T00:00:00+00:00", d.format("%Y-%m-%d"))
}

fn timestamp(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%:z").to_string()
}

/// One attribute as Personio renders it, for the bodies still built as `Value`s.
fn attr_json(label: &str, value: Value, kind: &str, universal_id: Option<&str>) -> Value {
    json!({"label": label, "value": value, "type": kind, "universal_id": universal_id})
}

fn status_str(status: EmployeeStatus) -> &'static str {
    match status {
        EmployeeStatus::Active => "active",
        EmployeeStatus::Onboarding => "onboarding",
        EmployeeStatus::Leave => "leave",
        EmployeeStatus::Inactive => "inactive",
    }
}

/// The short employee reference Personio nests in time-offs.
fn employee_ref(company: &Company, id: Id) -> Value {
    let e = company.hris.employees.get(&id);
    json!({
        "type": "Employee",
        "attributes": {
            "id": attr_json("ID", json!(id), "integer", Some("id")),
            "first_name": attr_json("First name", json!(e.map(|e| &e.first_name)), "standard", Some("first_name")),
            "last_name": attr_json("Last name", json!(e.map(|e| &e.last_name)), "standard", Some("last_name")),
            "email": attr_json("Email", json!(e.map(|e| &e.email)), "standard", Some("email")),
        }
    })
}

// ---------------------------------------------------------------------------------------------
// Employee pages, serialised straight from the company
//
// A page of employees is the simulator's hottest path (every benchmark record passes through
// it), so it is written from borrowed structs instead of a `serde_json::Value` tree per employee.
// The bytes are the same a `Value` would give: serde_json's maps write their keys sorted, so every
// struct below declares its fields in sorted order, and the attributes sit in a `BTreeMap`.

/// One employee attribute: `{label, type, universal_id, value}`.
#[derive(Serialize)]
struct AttrOut<'a, V = AttrValue<'a>> {
    label: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    universal_id: Option<&'static str>,
    value: V,
}

#[derive(Serialize)]
#[serde(untagged)]
enum AttrValue<'a> {
    Null,
    Text(&'a str),
    Owned(String),
    Integer(Id),
    Decimal(f64),
    // Boxed: the supervisor reference is far larger than every other attribute value.
    Employee(Box<Typed<EmployeeRefAttributes<'a>>>),
    OrgUnit(Typed<OrgUnitAttributes<'a>>),
}

impl<'a> AttrValue<'a> {
    fn text(v: Option<&'a str>) -> Self {
        v.map_or(AttrValue::Null, AttrValue::Text)
    }

    fn owned(v: Option<String>) -> Self {
        v.map_or(AttrValue::Null, AttrValue::Owned)
    }
}

/// `{"attributes": .., "type": ..}`, the shape of every Personio object.
#[derive(Serialize)]
struct Typed<A> {
    attributes: A,
    #[serde(rename = "type")]
    kind: &'static str,
}

#[derive(Serialize)]
struct EmployeeRefAttributes<'a> {
    email: AttrOut<'a, Option<&'a str>>,
    first_name: AttrOut<'a, Option<&'a str>>,
    id: AttrOut<'a, Id>,
    last_name: AttrOut<'a, Option<&'a str>>,
}

#[derive(Serialize)]
struct OrgUnitAttributes<'a> {
    id: Id,
    name: &'a str,
}

/// The envelope of the offset-paginated lists.
#[derive(Serialize)]
struct ListBody<T> {
    data: Vec<T>,
    limit: usize,
    metadata: ListMetadata,
    offset: usize,
    success: bool,
}

#[derive(Serialize)]
struct ListMetadata {
    current_page: usize,
    total_elements: usize,
    total_pages: usize,
}

fn attr<'a, V>(label: &'a str, value: V, kind: &'static str, universal_id: Option<&'static str>) -> AttrOut<'a, V> {
    AttrOut {
        label,
        kind,
        universal_id,
        value,
    }
}

fn org_unit<'a>(kind: &'static str, id: Id, name: &'a str) -> AttrValue<'a> {
    AttrValue::OrgUnit(Typed {
        attributes: OrgUnitAttributes { id, name },
        kind,
    })
}

/// The short employee reference Personio nests in supervisors.
fn employee_ref_out(company: &Company, id: Id) -> AttrValue<'_> {
    let e = company.hris.employees.get(&id);
    AttrValue::Employee(Box::new(Typed {
        attributes: EmployeeRefAttributes {
            email: attr("Email", e.map(|e| e.email.as_str()), "standard", Some("email")),
            first_name: attr(
                "First name",
                e.map(|e| e.first_name.as_str()),
                "standard",
                Some("first_name"),
            ),
            id: attr("ID", id, "integer", Some("id")),
            last_name: attr(
                "Last name",
                e.map(|e| e.last_name.as_str()),
                "standard",
                Some("last_name"),
            ),
        },
        kind: "Employee",
    }))
}

type EmployeeOut<'a> = Typed<BTreeMap<Cow<'a, str>, AttrOut<'a>>>;

fn employee_out<'a>(
    company: &'a Company,
    attrs: &'a Attributes,
    e: &'a Employee,
    only: Option<&HashSet<&str>>,
) -> EmployeeOut<'a> {
    let hris = &company.hris;
    let mut a = BTreeMap::new();
    let mut put = |key: Cow<'a, str>, value: AttrOut<'a>| {
        // `id` is always returned, whatever the whitelist says.
        if key == "id" || only.is_none_or(|keys| keys.contains(&*key)) {
            a.insert(key, value);
        }
    };
    let text = |v: &'a Option<String>| AttrValue::text(v.as_deref());
    put("id".into(), attr("ID", AttrValue::Integer(e.id), "integer", Some("id")));
    put(
        "first_name".into(),
        attr(
            "First name",
            AttrValue::Text(&e.first_name),
            "standard",
            Some("first_name"),
        ),
    );
    put(
        "last_name".into(),
        attr(
            "Last name",
            AttrValue::Text(&e.last_name),
            "standard",
            Some("last_name"),
        ),
    );
    put(
        "preferred_name".into(),
        attr(
            "Preferred name",
            text(&e.preferred_name),
            "standard",
            Some("preferred_name"),
        ),
    );
    put(
        "email".into(),
        attr("Email", AttrValue::Text(&e.email), "standard", Some("email")),
    );
    put(
        "gender".into(),
        attr("Gender", AttrValue::Text(&e.gender), "standard", Some("gender")),
    );
    put(
        "status".into(),
        attr(
            "Status",
            AttrValue::Text(status_str(e.status)),
            "standard",
            Some("status"),
        ),
    );
    put(
        "position".into(),
        attr("Position", AttrValue::Text(&e.position), "standard", Some("position")),
    );
    put(
        "employment_type".into(),
        attr(
            "Employment type",
            AttrValue::Text(&e.employment_type),
            "standard",
            Some("employment_type"),
        ),
    );
    put(
        "weekly_working_hours".into(),
        attr(
            "Weekly hours",
            AttrValue::Owned(e.weekly_hours.to_string()),
            "standard",
            Some("weekly_working_hours"),
        ),
    );
    put(
        "hire_date".into(),
        attr(
            "Hire date",
            AttrValue::Owned(date(e.hire_date)),
            "date",
            Some("hire_date"),
        ),
    );
    put(
        "termination_date".into(),
        attr(
            "Termination date",
            AttrValue::owned(e.termination_date.map(date)),
            "date",
            Some("termination_date"),
        ),
    );
    put(
        "created_at".into(),
        attr(
            "created_at",
            AttrValue::Owned(timestamp(e.created_at)),
            "date",
            Some("created_at"),
        ),
    );
    put(
        "last_modified_at".into(),
        attr(
            "Last modified",
            AttrValue::Owned(timestamp(e.updated_at)),
            "date",
            Some("last_modified_at"),
        ),
    );
    // The file documents these values as objects, never null: an employee without one is
    // sent without the attribute.
    if let Some(id) = e.supervisor_id.filter(|id| hris.employees.contains_key(id)) {
        put(
            "supervisor".into(),
            attr(
                "Supervisor",
                employee_ref_out(company, id),
                "standard",
                Some("supervisor"),
            ),
        );
    }
    if let Some(d) = e.department_id.and_then(|id| hris.departments.get(&id)) {
        put(
            "department".into(),
            attr(
                "Department",
                org_unit("Department", d.id, &d.name),
                "standard",
                Some("department"),
            ),
        );
    }
    if let Some(o) = e.office_id.and_then(|id| hris.offices.get(&id)) {
        put(
            "office".into(),
            attr("Office", org_unit("Office", o.id, &o.name), "standard", Some("office")),
        );
    }
    if let Some(l) = e.legal_entity_id.and_then(|id| hris.legal_entities.get(&id)) {
        put(
            "subcompany".into(),
            attr(
                "Subcompany",
                org_unit("Subcompany", l.id, &l.name),
                "standard",
                Some("subcompany"),
            ),
        );
    }

    // Salary comes from the newest compensation; Personio keeps a fixed salary with its interval
    // and an hourly salary side by side.
    let current = e.employments.iter().max_by_key(|x| x.effective_date);
    let (fix, interval, hourly) = match current {
        Some(c) if c.pay_period == "HOUR" => (AttrValue::Null, AttrValue::Null, AttrValue::Decimal(c.pay_rate)),
        Some(c) if c.pay_period == "YEAR" => (
            AttrValue::Decimal(c.pay_rate),
            AttrValue::Text("yearly"),
            AttrValue::Null,
        ),
        Some(c) => (
            AttrValue::Decimal(c.pay_rate),
            AttrValue::Text("monthly"),
            AttrValue::Null,
        ),
        None => (AttrValue::Null, AttrValue::Null, AttrValue::Null),
    };
    put(
        "fix_salary".into(),
        attr("Fix salary", fix, "decimal", Some("fix_salary")),
    );
    put(
        "fix_salary_interval".into(),
        attr("Salary interval", interval, "standard", Some("fix_salary_interval")),
    );
    put(
        "hourly_salary".into(),
        attr("Hourly salary", hourly, "decimal", Some("hourly_salary")),
    );

    put(
        "employee_number".into(),
        attr(
            "Employee number",
            AttrValue::Text(&e.employee_number),
            "standard",
            Some("employee_number"),
        ),
    );
    for def in &attrs.personal {
        let value = match def.role {
            Role::Birthday => AttrValue::owned(e.birthday.map(date)),
            role => AttrValue::text(role.text(e)),
        };
        put(
            Cow::Borrowed(def.key.as_str()),
            attr(def.label, value, def.kind, def.universal_id),
        );
    }
    for (name, value) in &e.custom {
        put(
            attrs.custom_key(name).into(),
            attr(name, AttrValue::Text(value), "standard", None),
        );
    }
    Typed {
        attributes: a,
        kind: "Employee",
    }
}

fn page_count(total: usize, limit: usize) -> usize {
    total.div_ceil(limit)
}

// ---------------------------------------------------------------------------------------------
// Endpoints

async fn list_employees(
    State(state): State<SimState>,
    Extension(tool): Extension<Arc<Tool>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    if let Some(refusal) = gate(&state, &tool, Kind::ListEmployees, &headers) {
        return refusal;
    }
    let params = Params::parse(query);
    let render = || -> Result<Response, BadParam> {
        // At most 100 since the pagination enforcement; a client asking for more gets no page
        // (refused above the maximum, as it was above the former 200:
        // <https://developer.personio.de/discuss/61c0817663608700549a4eb5>).
        let limit = params.number("limit", 1)?.unwrap_or(EMPLOYEES_DEFAULT_LIMIT);
        if limit > EMPLOYEES_MAX_LIMIT {
            return Err(BadParam(format!(
                "The limit may not be greater than {EMPLOYEES_MAX_LIMIT}."
            )));
        }
        let offset = params.number("offset", 0)?.unwrap_or(0);
        let since = params.date_time("updated_since")?;
        let email = params.one("email").filter(|e| !e.is_empty());
        let whitelist = params.list("attributes");
        let only: Option<HashSet<&str>> = (!whitelist.is_empty()).then(|| whitelist.into_iter().collect());

        let company = state.company(TOOL);
        let attrs = Attributes::of(&company);
        // Personio ignores `email` when `updated_since` is given; "updated after" is strict.
        let matches = |e: &&Employee| match (since, email) {
            (Some(since), _) => e.updated_at > since,
            (None, Some(email)) => e.email.eq_ignore_ascii_case(email),
            (None, None) => true,
        };
        let employees = company.hris.employees.values();
        let (total, data): (usize, Vec<EmployeeOut>) = if since.is_none() && email.is_none() {
            let data = employees
                .skip(offset)
                .take(limit)
                .map(|e| employee_out(&company, &attrs, e, only.as_ref()))
                .collect();
            (company.hris.employees.len(), data)
        } else {
            let mut total = 0;
            let mut data = Vec::new();
            for e in employees.filter(matches) {
                if total >= offset && data.len() < limit {
                    data.push(employee_out(&company, &attrs, e, only.as_ref()));
                }
                total += 1;
            }
            (total, data)
        };
        let body = ListBody {
            data,
            limit,
            metadata: ListMetadata {
                current_page: offset / limit,
                total_elements: total,
                total_pages: page_count(total, limit),
            },
            offset,
            success: true,
        };
        // Serialised while the company is still borrowed.
        Ok(axum::Json(body).into_response())
    };
    render().unwrap_or_else(IntoResponse::into_response)
}

async fn show_employee(
    State(state): State<SimState>,
    Extension(tool): Extension<Arc<Tool>>,
    Path(employee_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Some(refusal) = gate(&state, &tool, Kind::Other, &headers) {
        return refusal;
    }
    let Ok(employee_id) = employee_id.parse::<Id>() else {
        return bad_request("The employee_id must be an integer.");
    };
    let company = state.company(TOOL);
    let attrs = Attributes::of(&company);
    match company.hris.employees.get(&employee_id) {
        Some(e) => {
            axum::Json(json!({"success": true, "data": employee_out(&company, &attrs, e, None)})).into_response()
        }
        None => error(StatusCode::NOT_FOUND, 404, "Employee not found"),
    }
}

/// The standard attributes every employee object carries: (key, label, type).
const STANDARD_ATTRIBUTES: &[(&str, &str, &str)] = &[
    ("id", "ID", "integer"),
    ("first_name", "First name", "standard"),
    ("last_name", "Last name", "standard"),
    ("preferred_name", "Preferred name", "standard"),
    ("email", "Email", "standard"),
    ("gender", "Gender", "standard"),
    ("status", "Status", "standard"),
    ("position", "Position", "standard"),
    ("employment_type", "Employment type", "standard"),
    ("weekly_working_hours", "Weekly hours", "standard"),
    ("hire_date", "Hire date", "date"),
    ("termination_date", "Termination date", "date"),
    ("created_at", "created_at", "date"),
    ("last_modified_at", "Last modified", "date"),
    ("supervisor", "Supervisor", "standard"),
    ("department", "Department", "standard"),
    ("office", "Office", "standard"),
    ("subcompany", "Subcompany", "standard"),
    ("fix_salary", "Fix salary", "decimal"),
    ("fix_salary_interval", "Salary interval", "standard"),
    ("hourly_salary", "Hourly salary", "decimal"),
    ("employee_number", "Employee number", "standard"),
];

/// `GET /company/employees/attributes` (and its alias `/custom-attributes`): every attribute
/// the credentials may read, `dynamic_<n>` ones included.
async fn list_attributes(
    State(state): State<SimState>,
    Extension(tool): Extension<Arc<Tool>>,
    headers: HeaderMap,
) -> Response {
    if let Some(refusal) = gate(&state, &tool, Kind::Other, &headers) {
        return refusal;
    }
    let company = state.company(TOOL);
    let attrs = Attributes::of(&company);
    let one = |key: &str, label: &str, kind: &str, universal_id: Option<&str>| json!({"key": key, "label": label, "type": kind, "universal_id": universal_id, "options": []});
    let mut data: Vec<Value> = STANDARD_ATTRIBUTES
        .iter()
        .map(|(key, label, kind)| one(key, label, kind, Some(key)))
        .collect();
    data.extend(
        attrs
            .personal
            .iter()
            .map(|d| one(&d.key, d.label, d.kind, d.universal_id)),
    );
    data.extend(
        attrs
            .custom_of(&company)
            .iter()
            .map(|(name, key)| one(key, name, "standard", None)),
    );
    axum::Json(json!({"success": true, "data": data})).into_response()
}

async fn show_time_off(
    State(state): State<SimState>,
    Extension(tool): Extension<Arc<Tool>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Some(refusal) = gate(&state, &tool, Kind::Other, &headers) {
        return refusal;
    }
    let Ok(id) = id.parse::<Id>() else {
        return bad_request("The id must be an integer.");
    };
    let company = state.company(TOOL);
    match company.hris.absences.get(&id) {
        // Hour-based absences are absence periods with UUIDs, not time-offs.
        Some(a) if !periods::is_hourly(&company, a) => {
            axum::Json(json!({"success": true, "data": time_off_json(&company, a)})).into_response()
        }
        _ => error(StatusCode::NOT_FOUND, 404, "Time-off period not found"),
    }
}

async fn absence_balance(
    State(state): State<SimState>,
    Extension(tool): Extension<Arc<Tool>>,
    Path(employee_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Some(refusal) = gate(&state, &tool, Kind::Other, &headers) {
        return refusal;
    }
    let Ok(employee_id) = employee_id.parse::<Id>() else {
        return bad_request("The employee_id must be an integer.");
    };
    let company = state.company(TOOL);
    if !company.hris.employees.contains_key(&employee_id) {
        return error(StatusCode::NOT_FOUND, 404, "Employee not found");
    }
    let data: Vec<Value> = company
        .hris
        .balances
        .range((employee_id, Id::MIN)..=(employee_id, Id::MAX))
        .map(|((_, type_id), b)| {
            let name = company.hris.absence_types.get(type_id).map(|t| t.name.as_str());
            json!({"id": type_id, "name": name, "category": category(name), "balance": b.balance})
        })
        .collect();
    axum::Json(json!({"success": true, "data": data})).into_response()
}

async fn list_time_off_types(
    State(state): State<SimState>,
    Extension(tool): Extension<Arc<Tool>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    if let Some(refusal) = gate(&state, &tool, Kind::Other, &headers) {
        return refusal;
    }
    let params = Params::parse(query);
    let (limit, offset) = match (params.number("limit", 1), params.number("offset", 0)) {
        (Ok(l), Ok(o)) => (
            l.unwrap_or(TIME_OFFS_MAX_LIMIT).min(TIME_OFFS_MAX_LIMIT),
            o.unwrap_or(0),
        ),
        (Err(bad), _) | (_, Err(bad)) => return bad.into_response(),
    };
    let company = state.company(TOOL);
    let data: Vec<Value> = company
        .hris
        .absence_types
        .values()
        .skip(offset)
        .take(limit)
        .map(|t| {
            let unit = if t.unit == "hours" { "hour" } else { "day" };
            json!({
                "type": "TimeOffType",
                "attributes": {
                    "id": t.id, "name": t.name, "category": category(Some(&t.name)),
                    "unit": unit, "approval_required": true,
                }
            })
        })
        .collect();
    axum::Json(json!({"success": true, "data": data})).into_response()
}

/// The absence category of a type, one of the values the file's `TimeOffTypeResource` lists
/// (as of the 2025-01-27 update of its enum); the simulated company keeps names only.
fn category(name: Option<&str>) -> &'static str {
    let name = name.unwrap_or("").to_ascii_lowercase();
    if name.contains("sick") {
        "sick_leave"
    } else if name.contains("unpaid") {
        "unpaid_vacation"
    } else if name.contains("vacation") {
        "paid_vacation"
    } else if name.contains("parental") {
        "maternity_parental_leave"
    } else if name.contains("home office") || name.contains("remote") {
        "offsite_work"
    } else {
        "other"
    }
}

fn time_off_json(company: &Company, a: &Absence) -> Value {
    let type_name = company
        .hris
        .absence_types
        .get(&a.absence_type_id)
        .map(|t| t.name.as_str());
    json!({
        "type": "TimeOffPeriod",
        "attributes": {
            "id": a.id,
            "status": a.status,
            "comment": a.comment,
            "start_date": date(a.start_date),
            "end_date": date(a.end_date),
            "days_count": a.days_count,
            "half_day_start": a.half_day_start,
            "half_day_end": a.half_day_end,
            "time_off_type": {
                "type": "TimeOffType",
                "attributes": {"id": a.absence_type_id, "name": type_name, "category": category(type_name)},
            },
            "employee": employee_ref(company, a.employee_id),
            "created_by": "API",
            "certificate": {"status": "not-required"},
            "created_at": timestamp(a.created_at),
            "updated_at": timestamp(a.updated_at),
        }
    })
}

async fn list_time_offs(
    State(state): State<SimState>,
    Extension(tool): Extension<Arc<Tool>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    if let Some(refusal) = gate(&state, &tool, Kind::Other, &headers) {
        return refusal;
    }
    let params = Params::parse(query);
    let render = || -> Result<Value, BadParam> {
        // Since 27 Nov 2026 a missing, non-numeric or out-of-range value falls back instead of
        // being refused: `limit` to 200, `offset` to 0.
        let limit = params
            .one("limit")
            .and_then(|l| l.trim().parse::<usize>().ok())
            .filter(|l| (1..=TIME_OFFS_MAX_LIMIT).contains(l))
            .unwrap_or(TIME_OFFS_MAX_LIMIT);
        let offset = params
            .one("offset")
            .and_then(|o| o.trim().parse::<usize>().ok())
            .unwrap_or(0);
        // `offset` is a page number counted from 1 on this endpoint only; 0 is the first page
        // too, so a client counting pages from 0 reads page 1 twice.
        let page = offset.max(1);
        let start = params.date("start_date")?;
        let end = params.date("end_date")?;
        let updated_from = params.date("updated_from")?;
        let updated_to = params.date("updated_to")?;
        let mut employees = HashSet::new();
        for raw in params.list("employees") {
            employees.insert(
                raw.parse::<Id>()
                    .map_err(|_| BadParam("The employees must be integers.".into()))?,
            );
        }
        let company = state.company(TOOL);
        let keep = |a: &&Absence| {
            !periods::is_hourly(&company, a)
                && start.is_none_or(|s| a.end_date >= s)
                && end.is_none_or(|e| a.start_date <= e)
                && updated_from.is_none_or(|d| a.updated_at.date_naive() >= d)
                && updated_to.is_none_or(|d| a.updated_at.date_naive() <= d)
                && (employees.is_empty() || employees.contains(&a.employee_id))
        };
        let first = (page - 1).saturating_mul(limit);
        let mut total = 0;
        let mut data = Vec::new();
        for a in company.hris.absences.values().filter(keep) {
            if total >= first && data.len() < limit {
                data.push(time_off_json(&company, a));
            }
            total += 1;
        }
        Ok(json!({
            "success": true,
            "metadata": {
                "total_elements": total,
                "current_page": page,
                "total_pages": page_count(total, limit),
            },
            "offset": offset,
            "limit": limit,
            "data": data,
        }))
    };
    match render() {
        Ok(body) => axum::Json(body).into_response(),
        Err(bad) => bad.into_response(),
    }
}

async fn list_absence_periods(
    State(state): State<SimState>,
    Extension(tool): Extension<Arc<Tool>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    if let Some(refusal) = gate(&state, &tool, Kind::Other, &headers) {
        return refusal;
    }
    let params = Params::parse(query);
    match periods::list(&state.company(TOOL), &params) {
        Ok(body) => axum::Json(body).into_response(),
        Err(bad) => bad.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::generate_companies;

    fn opt_str(v: &Option<String>) -> Value {
        v.as_ref().map(|s| Value::String(s.clone())).unwrap_or(Value::Null)
    }

    fn org_unit_json(kind: &str, id: Id, name: &str) -> Value {
        json!({"type": kind, "attributes": {"id": id, "name": name}})
    }

    /// The employee as a `Value` tree: the plain statement of the format that the borrowed
    /// structs must reproduce byte for byte.
    #[allow(clippy::too_many_lines)]
    fn reference_employee_json(
        company: &Company,
        attrs: &Attributes,
        e: &Employee,
        only: Option<&HashSet<&str>>,
    ) -> Value {
        let hris = &company.hris;
        let mut a = Map::new();
        let mut put = |key: &str, value: Value| {
            // `id` is always returned, whatever the whitelist says.
            if key == "id" || only.is_none_or(|keys| keys.contains(key)) {
                a.insert(key.to_owned(), value);
            }
        };
        put("id", attr_json("ID", json!(e.id), "integer", Some("id")));
        put(
            "first_name",
            attr_json("First name", json!(e.first_name), "standard", Some("first_name")),
        );
        put(
            "last_name",
            attr_json("Last name", json!(e.last_name), "standard", Some("last_name")),
        );
        put(
            "preferred_name",
            attr_json(
                "Preferred name",
                opt_str(&e.preferred_name),
                "standard",
                Some("preferred_name"),
            ),
        );
        put("email", attr_json("Email", json!(e.email), "standard", Some("email")));
        put(
            "gender",
            attr_json("Gender", json!(e.gender), "standard", Some("gender")),
        );
        put(
            "status",
            attr_json("Status", json!(status_str(e.status)), "standard", Some("status")),
        );
        put(
            "position",
            attr_json("Position", json!(e.position), "standard", Some("position")),
        );
        put(
            "employment_type",
            attr_json(
                "Employment type",
                json!(e.employment_type),
                "standard",
                Some("employment_type"),
            ),
        );
        put(
            "weekly_working_hours",
            attr_json(
                "Weekly hours",
                json!(e.weekly_hours.to_string()),
                "standard",
                Some("weekly_working_hours"),
            ),
        );
        put(
            "hire_date",
            attr_json("Hire date", json!(date(e.hire_date)), "date", Some("hire_date")),
        );
        put(
            "termination_date",
            attr_json(
                "Termination date",
                json!(e.termination_date.map(date)),
                "date",
                Some("termination_date"),
            ),
        );
        put(
            "created_at",
            attr_json("created_at", json!(timestamp(e.created_at)), "date", Some("created_at")),
        );
        put(
            "last_modified_at",
            attr_json(
                "Last modified",
                json!(timestamp(e.updated_at)),
                "date",
                Some("last_modified_at"),
            ),
        );
        if let Some(id) = e.supervisor_id.filter(|id| hris.employees.contains_key(id)) {
            put(
                "supervisor",
                attr_json("Supervisor", employee_ref(company, id), "standard", Some("supervisor")),
            );
        }
        if let Some(d) = e.department_id.and_then(|id| hris.departments.get(&id)) {
            put(
                "department",
                attr_json(
                    "Department",
                    org_unit_json("Department", d.id, &d.name),
                    "standard",
                    Some("department"),
                ),
            );
        }
        if let Some(o) = e.office_id.and_then(|id| hris.offices.get(&id)) {
            put(
                "office",
                attr_json(
                    "Office",
                    org_unit_json("Office", o.id, &o.name),
                    "standard",
                    Some("office"),
                ),
            );
        }
        if let Some(l) = e.legal_entity_id.and_then(|id| hris.legal_entities.get(&id)) {
            put(
                "subcompany",
                attr_json(
                    "Subcompany",
                    org_unit_json("Subcompany", l.id, &l.name),
                    "standard",
                    Some("subcompany"),
                ),
            );
        }

        // Salary comes from the newest compensation; Personio keeps a fixed salary with its interval
        // and an hourly salary side by side.
        let current = e.employments.iter().max_by_key(|x| x.effective_date);
        let (fix, interval, hourly) = match current {
            Some(c) if c.pay_period == "HOUR" => (Value::Null, Value::Null, json!(c.pay_rate)),
            Some(c) if c.pay_period == "YEAR" => (json!(c.pay_rate), json!("yearly"), Value::Null),
            Some(c) => (json!(c.pay_rate), json!("monthly"), Value::Null),
            None => (Value::Null, Value::Null, Value::Null),
        };
        put(
            "fix_salary",
            attr_json("Fix salary", fix, "decimal", Some("fix_salary")),
        );
        put(
            "fix_salary_interval",
            attr_json("Salary interval", interval, "standard", Some("fix_salary_interval")),
        );
        put(
            "hourly_salary",
            attr_json("Hourly salary", hourly, "decimal", Some("hourly_salary")),
        );

        put(
            "employee_number",
            attr_json(
                "Employee number",
                json!(e.employee_number),
                "standard",
                Some("employee_number"),
            ),
        );
        for def in &attrs.personal {
            let value = match def.role {
                Role::Birthday => json!(e.birthday.map(date)),
                role => json!(role.text(e)),
            };
            put(&def.key, attr_json(def.label, value, def.kind, def.universal_id));
        }
        for (name, value) in &e.custom {
            put(&attrs.custom_key(name), attr_json(name, json!(value), "standard", None));
        }
        json!({"type": "Employee", "attributes": a})
    }

    #[test]
    fn employee_pages_match_the_value_rendering() {
        let companies = generate_companies(7, 300, &[TOOL]);
        let company = &companies[&TOOL];
        let attrs = Attributes::of(company);
        let iban = attrs
            .personal
            .iter()
            .find(|d| d.role == Role::Iban)
            .expect("IBAN attribute");
        let whitelist: HashSet<&str> = ["first_name", iban.key.as_str(), "supervisor", "fix_salary"]
            .into_iter()
            .collect();
        let mut seen_custom = false;
        for e in company.hris.employees.values() {
            seen_custom |= !e.custom.is_empty();
            for only in [None, Some(&whitelist)] {
                let fast = serde_json::to_string(&employee_out(company, &attrs, e, only)).expect("serialisable");
                let reference =
                    serde_json::to_string(&reference_employee_json(company, &attrs, e, only)).expect("serialisable");
                assert_eq!(fast, reference, "employee {}", e.id);
            }
        }
        assert!(seen_custom, "the company has custom attributes to compare");
    }
}
