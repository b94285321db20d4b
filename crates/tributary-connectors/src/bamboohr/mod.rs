//! The BambooHR connector.
//!
//! BambooHR's API (<https://documentation.bamboohr.com/docs/api-details>) sits under
//! `https://api.bamboohr.com/api/gateway.php/{companyDomain}`, authenticates with HTTP Basic
//! (the API key as user name, any password) and answers JSON when asked with
//! `Accept: application/json`. Credentials: `{"api_key": "..."}`; the company domain is part
//! of the base URL.
//!
//! Every request sends `Accept: application/json`: BambooHR answers XML without it, and an XML
//! answer fails the stream with an error that says so. Behaviours and their sources:
//! `docs/sources/bamboohr.md`.
//!
//! Its bulk endpoints do not paginate, so most streams are fetched whole on their first page,
//! kept in the connector, and handed to the engine 1,000 records at a time with a cursor
//! `{"offset": n, "after": "<last remote id>"}`. Rows are ordered by remote id, and a resumed
//! run (a fresh connector given a cursor) refetches and continues after that id: records that
//! came or went in between cannot shift the rest past the cursor, so none is skipped, and a
//! skipped record would be falsely deleted.
//!
//! A DELTA reads only what BambooHR's documented change markers say changed since the last
//! sync: employees are the ones `GET /v1/employees/changed` names; time-off requests are those
//! whose documented `created` or `status.lastChanged` date falls on or after that day (the
//! request list has no change filter, only a date window, and a change can touch a request of
//! any date, so the window stays whole: it is one bulk request either way); balances are
//! recalculated only for the employees of either (a balance moves when its employee's record or
//! time off does; accruals with the passing of time are left to the next FULL). Every other
//! stream is fetched whole. A DELTA deletes nothing. Deletion candidates among employees are
//! confirmed one by one with `GET /v1/employees/{id}`.
//!
//! Streams, in sync order:
//! - `departments` → Groups, `divisions` → LegalEntities: options of the `department` and
//!   `division` list fields (`GET /v1/meta/lists`).
//! - `locations` → Locations: `GET /v1/hris/org/locations` (the one paginated endpoint; pages
//!   count from 0).
//! - `employees` → Employees: `POST /v1/reports/custom` (all employees, active or not), with
//!   list values resolved to option ids and custom fields found in `GET /v1/meta/fields`.
//! - `employments` → Employments: the `compensation` table of all employees, with the
//!   `jobInfo` and `employmentStatus` rows in effect at each compensation's start.
//! - `time_off_types` → AbsenceTypes, `time_off_requests` → Absences.
//! - `time_off_balances` → TimeOffBalances: the balance calculator, one call per employee,
//!   a page of employees at a time with bounded concurrency.

mod api;
mod map;
pub(crate) mod webhook;

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{Days, SecondsFormat, Utc};
use futures::{StreamExt, TryStreamExt};
use reqwest::header::ACCEPT;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tokio::sync::Mutex;
use tokio::task::JoinSet;
use tributary_model::{IdGen, Model, SourceRecord, Timestamp, ToolKind};
use tributary_source::{
    BodyVerdict, Connector, FetchMode, Lookup, Page, RateLimit, RecordRef, Secret, SourceClient, SourceError,
    SourceResponse, Stream,
};
use url::Url;

use api::{ErrorBody, ListField, ListOption, LocationsPage, MetaField, RemoteId, Report, ReportEmployee, TimeOffTypes};

/// Rate limits this tool documents as numbers (see `tributary_connectors::documented_limits`):
/// none. BambooHR publishes no number ("Rate limits stay the same. Only the status code is
/// changing.", <https://documentation.bamboohr.com/docs/planned-changes-to-the-api>, updated
/// 2026-09-10); its 429 with `Retry-After` paces us.
pub(crate) const DOCUMENTED_LIMITS: &[RateLimit] = &[];

/// Endpoint labels: used in errors and logs and as the keys of `remote_data`.
mod endpoint {
    pub const REPORT: &str = "/v1/reports/custom";
    pub const LISTS: &str = "/v1/meta/lists";
    pub const FIELDS: &str = "/v1/meta/fields";
    pub const LOCATIONS: &str = "/v1/hris/org/locations";
    pub const JOB_INFO: &str = "/v1/employees/all/tables/jobInfo";
    pub const COMPENSATION: &str = "/v1/employees/all/tables/compensation";
    pub const EMPLOYMENT_STATUS: &str = "/v1/employees/all/tables/employmentStatus";
    pub const TIME_OFF_TYPES: &str = "/v1/meta/time_off/types";
    pub const TIME_OFF_REQUESTS: &str = "/v1/time_off/requests";
    pub const CALCULATOR: &str = "/v1/employees/{employeeId}/time_off/calculator";
    pub const EMPLOYEE: &str = "/v1/employees/{id}";
    pub const CHANGED: &str = "/v1/employees/changed";
}

/// Records handed to the engine per page.
const PAGE_SIZE: usize = 1_000;
/// Locations per request. The endpoint documents a default of 500 and no maximum, so the
/// connector asks for the default rather than risk a rejected request.
const LOCATIONS_PAGE_SIZE: u64 = 500;
/// Single-employee lookups in flight at once while confirming deletions.
const LOOKUP_CONCURRENCY: usize = 4;
/// Balance-calculator calls in flight at once: enough to hide latency, few enough not to trip
/// BambooHR's throttling on its own.
const CALCULATOR_CONCURRENCY: usize = 4;
/// The most fields a custom report may request.
const MAX_REPORT_FIELDS: usize = 400;
/// Absences are listed by date window; this one reaches from the epoch to five years ahead so
/// a complete run sees every request the account has.
const ABSENCES_FROM: &str = "1970-01-01";
const ABSENCES_YEARS_AHEAD: u64 = 5;
/// A request's `created` and `status.lastChanged` are dates in the company's time zone, which
/// the API does not state: a DELTA takes requests from one day before `since`'s UTC date, so no
/// time zone makes it skip one (re-reading a few unchanged ones costs nothing).
const REQUEST_DATE_SLACK: Days = Days::new(1);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Departments,
    Divisions,
    Locations,
    Employees,
    Employments,
    AbsenceTypes,
    Absences,
    Balances,
}

impl Kind {
    const ALL: [Kind; 8] = [
        Kind::Departments,
        Kind::Divisions,
        Kind::Locations,
        Kind::Employees,
        Kind::Employments,
        Kind::AbsenceTypes,
        Kind::Absences,
        Kind::Balances,
    ];

    fn name(self) -> &'static str {
        match self {
            Kind::Departments => "departments",
            Kind::Divisions => "divisions",
            Kind::Locations => "locations",
            Kind::Employees => "employees",
            Kind::Employments => "employments",
            Kind::AbsenceTypes => "time_off_types",
            Kind::Absences => "time_off_requests",
            Kind::Balances => "time_off_balances",
        }
    }

    fn models(self) -> &'static [Model] {
        match self {
            Kind::Departments => &[Model::Groups],
            Kind::Divisions => &[Model::LegalEntities],
            Kind::Locations => &[Model::Locations],
            Kind::Employees => &[Model::Employees],
            Kind::Employments => &[Model::Employments],
            Kind::AbsenceTypes => &[Model::AbsenceTypes],
            Kind::Absences => &[Model::Absences],
            Kind::Balances => &[Model::TimeOffBalances],
        }
    }

    fn from_name(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == name)
    }
}

/// A stream's rows as fetched at the start of a run, ordered by remote id.
struct Snapshot {
    rows: Vec<(RemoteId, Value)>,
    context: Context,
}

/// What mapping a snapshot's rows needs besides the rows.
enum Context {
    ListOptions(Model),
    Employees(map::EmployeeContext),
    Employments(map::EmploymentContext),
    AbsenceTypes,
    Absences,
    /// The rows are employees; each page calls the calculator for this many of them.
    Balances {
        employees_per_page: usize,
    },
}

/// Where a page starts: the cursor handed back with the previous page.
#[derive(Debug)]
struct Position {
    offset: usize,
    after: Option<String>,
}

impl Position {
    fn parse(stream: &str, cursor: Option<&Value>) -> Result<Option<Position>, SourceError> {
        let Some(cursor) = cursor else { return Ok(None) };
        let unreadable = || SourceError::Pagination {
            endpoint: stream.to_owned(),
            detail: format!("unreadable cursor {cursor}"),
        };
        let offset = cursor.get("offset").and_then(Value::as_u64).ok_or_else(unreadable)?;
        let after = match cursor.get("after") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => return Err(unreadable()),
        };
        Ok(Some(Position {
            offset: usize::try_from(offset).map_err(|_| unreadable())?,
            after,
        }))
    }

    /// The index of the first row to hand out.
    fn start(&self, rows: &[(RemoteId, Value)]) -> usize {
        match &self.after {
            Some(after) => {
                let after = RemoteId(after.clone());
                rows.partition_point(|(id, _)| id.sort_key() <= after.sort_key())
            }
            None => self.offset.min(rows.len()),
        }
    }

    fn cursor(end: usize, rows: &[(RemoteId, Value)]) -> Value {
        json!({"offset": end, "after": rows[end - 1].0.as_str()})
    }
}

pub struct BambooHrConnector {
    /// The base URL without a trailing slash: `.../api/gateway.php/{companyDomain}`.
    base: String,
    api_key: Secret,
    ids: IdGen,
    client: SourceClient,
    snapshots: Mutex<HashMap<&'static str, Arc<Snapshot>>>,
}

impl BambooHrConnector {
    /// `credentials`: `{"api_key": "<BambooHR API key>"}`. `base_url`:
    /// `https://api.bamboohr.com/api/gateway.php/{companyDomain}`.
    pub fn new(base_url: Url, credentials: &Value, ids: IdGen, client: SourceClient) -> Result<Self, SourceError> {
        let api_key = credentials
            .get("api_key")
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .ok_or_else(|| {
                SourceError::Config(
                    "bamboohr credentials need `api_key`: the BambooHR API key, a non-empty string".into(),
                )
            })?;
        Ok(Self {
            base: base_url.as_str().trim_end_matches('/').to_owned(),
            api_key: Secret::new(api_key),
            ids,
            client,
            snapshots: Mutex::new(HashMap::new()),
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn get<T: DeserializeOwned>(
        &self,
        endpoint: &str,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<T, SourceError> {
        let url = self.url(path);
        let key = &self.api_key;
        self.client
            .send_checked(
                endpoint,
                |http| {
                    http.get(&url)
                        .query(query)
                        .basic_auth(key.expose(), Some("x"))
                        .header(ACCEPT, "application/json")
                },
                check_body,
            )
            .await?
            .json()
    }

    /// `POST /v1/reports/custom`: every employee (or only `only`, by the documented
    /// `filters.employeeIds`) with `fields`.
    async fn report(&self, fields: &[String], only: Option<&[u64]>) -> Result<Vec<Value>, SourceError> {
        let url = self.url(endpoint::REPORT);
        let key = &self.api_key;
        let mut body = json!({"title": "tributary", "fields": fields});
        if let Some(ids) = only {
            body["filters"] = json!({"employeeIds": ids});
        }
        let report: Report = self
            .client
            .send_checked(
                endpoint::REPORT,
                // `.json()` sets `Content-Type: application/json` exactly, which BambooHR
                // requires; any other value makes it parse the body as XML.
                |http| {
                    http.post(&url)
                        // The documented enum's spelling (the value is read case-insensitively).
                        .query(&[("format", "json")])
                        .basic_auth(key.expose(), Some("x"))
                        .header(ACCEPT, "application/json")
                        .json(&body)
                },
                check_body,
            )
            .await?
            .json()?;
        // BambooHR drops requested fields the API key may not see instead of failing; say so,
        // since the records will then lack them.
        let missing: Vec<&str> = fields
            .iter()
            .map(String::as_str)
            .filter(|f| !report.fields.iter().any(|r| r.id == *f))
            .collect();
        if !missing.is_empty() {
            tracing::warn!(
                ?missing,
                "bamboohr: the report left out fields the API key may not read"
            );
        }
        Ok(report.employees)
    }

    async fn list_fields(&self) -> Result<Vec<ListField>, SourceError> {
        self.get(endpoint::LISTS, endpoint::LISTS, &[]).await
    }

    fn list_options(lists: &[ListField], alias: &str) -> Result<Vec<(ListOption, Value)>, SourceError> {
        let Some(list) = lists.iter().find(|l| l.alias.as_deref() == Some(alias)) else {
            return Ok(Vec::new());
        };
        list.options
            .iter()
            .map(|raw| {
                serde_json::from_value::<ListOption>(raw.clone())
                    .map(|o| (o, raw.clone()))
                    .map_err(|e| {
                        SourceError::malformed(endpoint::LISTS, format!("list `{alias}` ({}): {e}", list.field_id.0))
                    })
            })
            .collect()
    }

    /// The stream's snapshot: the cached one while a run pages through it, a fresh one for a
    /// run's first page (or a resumed run on a fresh connector).
    async fn snapshot(&self, kind: Kind, fresh: bool, since: Option<Timestamp>) -> Result<Arc<Snapshot>, SourceError> {
        if !fresh && let Some(s) = self.snapshots.lock().await.get(kind.name()) {
            return Ok(s.clone());
        }
        // Loaded without holding the cache: the engine lists streams concurrently, and one
        // stream's bulk read must not wait for another's. Each stream loads only its own kind.
        let snapshot = Arc::new(self.load(kind, since).await?);
        self.snapshots.lock().await.insert(kind.name(), snapshot.clone());
        Ok(snapshot)
    }

    /// The stream's rows; `since` (employees only) narrows them to the employees BambooHR
    /// reports changed since then.
    async fn load(&self, kind: Kind, since: Option<Timestamp>) -> Result<Snapshot, SourceError> {
        let (rows, context) = match kind {
            Kind::Departments | Kind::Divisions => {
                let (alias, model) = if kind == Kind::Departments {
                    ("department", Model::Groups)
                } else {
                    ("division", Model::LegalEntities)
                };
                let lists = self.list_fields().await?;
                let rows = Self::list_options(&lists, alias)?
                    .into_iter()
                    .map(|(o, raw)| (o.id, raw))
                    .collect();
                (rows, Context::ListOptions(model))
            }
            Kind::Employees => {
                let (context, fields) = self.employee_setup().await?;
                let rows = match since {
                    None => self.report(&fields, None).await?,
                    Some(since) => {
                        let changed = self.changed_since(since).await?;
                        if changed.is_empty() {
                            Vec::new()
                        } else {
                            self.report(&fields, Some(&changed)).await?
                        }
                    }
                };
                let rows = with_ids(endpoint::REPORT, rows, |raw| {
                    serde_json::from_value::<ReportEmployee>(raw.clone()).map(|e| e.id)
                })?;
                (rows, Context::Employees(context))
            }
            Kind::Employments => {
                let compensation = self.table(endpoint::COMPENSATION, "compensation").await?;
                let job_info = self.table(endpoint::JOB_INFO, "jobInfo").await?;
                let statuses = self.table(endpoint::EMPLOYMENT_STATUS, "employmentStatus").await?;
                let context = map::EmploymentContext {
                    job_info: history::<api::JobInfoRow>(endpoint::JOB_INFO, job_info)?,
                    statuses: history::<api::EmploymentStatusRow>(endpoint::EMPLOYMENT_STATUS, statuses)?,
                };
                let rows = with_ids(endpoint::COMPENSATION, compensation, |raw| {
                    serde_json::from_value::<api::CompensationRow>(raw.clone()).map(|c| c.id)
                })?;
                (rows, Context::Employments(context))
            }
            Kind::AbsenceTypes => {
                let types: TimeOffTypes = self
                    .get(endpoint::TIME_OFF_TYPES, endpoint::TIME_OFF_TYPES, &[])
                    .await?;
                let rows = with_ids(endpoint::TIME_OFF_TYPES, types.time_off_types, |raw| {
                    serde_json::from_value::<api::TimeOffType>(raw.clone()).map(|t| t.id)
                })?;
                (rows, Context::AbsenceTypes)
            }
            Kind::Absences => (self.requests(since).await?, Context::Absences),
            Kind::Balances => {
                let types: TimeOffTypes = self
                    .get(endpoint::TIME_OFF_TYPES, endpoint::TIME_OFF_TYPES, &[])
                    .await?;
                let rows = match since {
                    // The calculator answers one employee at a time, so a complete run walks
                    // every employee (active or not: leavers keep balances until paid out).
                    None => {
                        let employees = self.report(&["status".to_owned()], None).await?;
                        with_ids(endpoint::REPORT, employees, |raw| {
                            serde_json::from_value::<ReportEmployee>(raw.clone()).map(|e| e.id)
                        })?
                    }
                    Some(since) => self.balance_employees_since(since).await?,
                };
                let employees_per_page = (PAGE_SIZE / types.time_off_types.len().max(1)).clamp(1, 50);
                (rows, Context::Balances { employees_per_page })
            }
            Kind::Locations => unreachable_kind(kind)?,
        };
        Ok(Snapshot { rows, context })
    }

    /// `GET /v1/time_off/requests` over the whole window: every request, or with `since` only
    /// those created or with a status change on or after `since`'s day (less
    /// [`REQUEST_DATE_SLACK`]), by the request's documented `created` and `status.lastChanged`.
    async fn requests(&self, since: Option<Timestamp>) -> Result<Vec<(RemoteId, Value)>, SourceError> {
        let until = Utc::now()
            .date_naive()
            .checked_add_days(Days::new(ABSENCES_YEARS_AHEAD * 366))
            .unwrap_or(chrono::NaiveDate::MAX);
        let query = [
            ("start", ABSENCES_FROM.to_owned()),
            ("end", until.format("%Y-%m-%d").to_string()),
        ];
        let requests: Vec<Value> = self
            .get(endpoint::TIME_OFF_REQUESTS, endpoint::TIME_OFF_REQUESTS, &query)
            .await?;
        let mut rows = Vec::with_capacity(requests.len());
        let from = since.map(|s| {
            s.date_naive()
                .checked_sub_days(REQUEST_DATE_SLACK)
                .unwrap_or(chrono::NaiveDate::MIN)
        });
        for (i, raw) in requests.into_iter().enumerate() {
            let request: api::TimeOffRequest = serde_json::from_value(raw.clone())
                .map_err(|e| SourceError::malformed(endpoint::TIME_OFF_REQUESTS, format!("row {i}: {e}")))?;
            if let Some(from) = from {
                let changed_on = |field: &str, value: Option<&String>| -> Result<bool, SourceError> {
                    api::date(value.map(String::as_str))
                        .map(|d| d.is_some_and(|d| d >= from))
                        .map_err(|e| {
                            SourceError::malformed(
                                endpoint::TIME_OFF_REQUESTS,
                                format!("request {}: {field}: {e}", request.id.as_str()),
                            )
                        })
                };
                let created = changed_on("created", request.created.as_ref())?;
                let status = changed_on("status.lastChanged", request.status.last_changed.as_ref())?;
                if !created && !status {
                    continue;
                }
            }
            rows.push(raw);
        }
        with_ids(endpoint::TIME_OFF_REQUESTS, rows, |raw| {
            serde_json::from_value::<api::TimeOffRequest>(raw.clone()).map(|r| r.id)
        })
    }

    /// The employees whose balances a DELTA recalculates: those BambooHR reports inserted or
    /// updated since `since`, and those with a time-off request created or changed since then.
    async fn balance_employees_since(&self, since: Timestamp) -> Result<Vec<(RemoteId, Value)>, SourceError> {
        let mut ids: Vec<String> = self
            .changed_since(since)
            .await?
            .into_iter()
            .map(|id| id.to_string())
            .collect();
        for (_, raw) in self.requests(Some(since)).await? {
            let request: api::TimeOffRequest = serde_json::from_value(raw)
                .map_err(|e| SourceError::malformed(endpoint::TIME_OFF_REQUESTS, e.to_string()))?;
            ids.push(request.employee_id.as_str().to_owned());
        }
        ids.sort_unstable();
        ids.dedup();
        let rows = ids.into_iter().map(|id| json!({ "id": id })).collect();
        with_ids(endpoint::CHANGED, rows, |raw| {
            serde_json::from_value::<ReportEmployee>(raw.clone()).map(|e| e.id)
        })
    }

    /// `GET /v1/employees/changed?since=`: the ids of employees inserted or updated since
    /// `since` ("a change in ANY individual field in the employee record, as well as any change
    /// to the employment status, job info, or compensation tables", `get-changed-employee-ids`).
    /// `Deleted` entries are skipped: a DELTA never deletes; the next FULL's sweep, confirmed
    /// by employee lookups, does.
    async fn changed_since(&self, since: Timestamp) -> Result<Vec<u64>, SourceError> {
        // Whole seconds, rounded down: the filter can only reach further back, never skip.
        let since = since.to_rfc3339_opts(SecondsFormat::Secs, true);
        let changed: api::ChangedEmployees = self
            .get(endpoint::CHANGED, endpoint::CHANGED, &[("since", since)])
            .await?;
        let mut ids = Vec::new();
        for (key, entry) in changed.employees.into_entries() {
            if entry.id.as_str() != key {
                return Err(SourceError::malformed(
                    endpoint::CHANGED,
                    format!("employees.{key}: id `{}` under another key", entry.id.as_str()),
                ));
            }
            match entry.action.as_str() {
                "Inserted" | "Updated" => ids.push(entry.id.as_str().parse::<u64>().map_err(|_| {
                    SourceError::malformed(
                        endpoint::CHANGED,
                        format!("employees.{key}.id: not a numeric employee id"),
                    )
                })?),
                "Deleted" => {}
                other => {
                    return Err(SourceError::malformed(
                        endpoint::CHANGED,
                        format!("employees.{key}.action: `{other}` is not Inserted, Updated or Deleted"),
                    ));
                }
            }
        }
        ids.sort_unstable();
        ids.dedup();
        Ok(ids)
    }

    /// What mapping an employee needs (list options by name, custom fields, today) and the
    /// fields to ask for: the standard ones and the account's custom ones.
    async fn employee_setup(&self) -> Result<(map::EmployeeContext, Vec<String>), SourceError> {
        let lists = self.list_fields().await?;
        let options = |alias| -> Result<Vec<ListOption>, SourceError> {
            Ok(Self::list_options(&lists, alias)?.into_iter().map(|(o, _)| o).collect())
        };
        let org = map::OrgIndex {
            departments: map::OrgIndex::index(&options("department")?),
            divisions: map::OrgIndex::index(&options("division")?),
            locations: map::OrgIndex::index(&options("location")?),
        };
        let custom = self.custom_field_aliases().await?;
        let mut fields: Vec<String> = map::REPORT_FIELDS.iter().map(|f| (*f).to_owned()).collect();
        fields.extend(custom.iter().cloned());
        let today = Utc::now().date_naive();
        Ok((map::EmployeeContext { org, custom, today }, fields))
    }

    /// `GET /v1/employees/{id}?fields=`: one employee with the report's fields, `None` when
    /// BambooHR answers 404 ("The employee does not exist", `get-employee`).
    async fn employee_by_id(&self, id: &str, fields: &str) -> Result<Option<Value>, SourceError> {
        let url = self.url(&format!("/v1/employees/{id}"));
        let key = &self.api_key;
        let sent = self
            .client
            .send_checked(
                endpoint::EMPLOYEE,
                |http| {
                    http.get(&url)
                        .query(&[("fields", fields)])
                        .basic_auth(key.expose(), Some("x"))
                        .header(ACCEPT, "application/json")
                },
                check_body,
            )
            .await;
        match sent {
            Ok(resp) => {
                let raw: Value = resp.json()?;
                let found: ReportEmployee = serde_json::from_value(raw.clone())
                    .map_err(|e| SourceError::malformed(endpoint::EMPLOYEE, format!("employee {id}: {e}")))?;
                if found.id.as_str() != id {
                    return Err(SourceError::malformed(
                        endpoint::EMPLOYEE,
                        format!("asked for employee {id}, got employee {}", found.id.as_str()),
                    ));
                }
                Ok(Some(raw))
            }
            Err(SourceError::Rejected { status: 404, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The aliases of the account's custom employee fields, capped so the report stays within
    /// BambooHR's field limit.
    async fn custom_field_aliases(&self) -> Result<Vec<String>, SourceError> {
        let fields: Vec<MetaField> = self.get(endpoint::FIELDS, endpoint::FIELDS, &[]).await?;
        let mut aliases: Vec<String> = fields
            .into_iter()
            .filter(|f| f.deprecated != Some(true))
            .filter_map(|f| f.alias)
            .filter(|a| a.starts_with("custom") && !map::REPORT_FIELDS.contains(&a.as_str()))
            .collect();
        aliases.sort();
        aliases.dedup();
        let room = MAX_REPORT_FIELDS - map::REPORT_FIELDS.len();
        if aliases.len() > room {
            tracing::warn!(
                custom_fields = aliases.len(),
                kept = room,
                "bamboohr: too many custom fields for one report"
            );
            aliases.truncate(room);
        }
        Ok(aliases)
    }

    async fn table(&self, endpoint: &'static str, table: &str) -> Result<Vec<Value>, SourceError> {
        self.get(endpoint, &format!("/v1/employees/all/tables/{table}"), &[])
            .await
    }

    /// One page of job locations. Pages count from 0 (`page` defaults to 0 in BambooHR's
    /// OpenAPI document, `get-locations`); the last page is the one `meta.totalPages` says is
    /// last, which `_links.next` must agree with when present.
    async fn locations_page(&self, cursor: Option<&Value>) -> Result<Page, SourceError> {
        let page = match cursor {
            None => 0,
            Some(c) => c
                .get("page")
                .and_then(Value::as_u64)
                .ok_or_else(|| SourceError::Pagination {
                    endpoint: endpoint::LOCATIONS.to_owned(),
                    detail: format!("unreadable cursor {c}"),
                })?,
        };
        let query = [
            ("page", page.to_string()),
            ("pageSize", LOCATIONS_PAGE_SIZE.to_string()),
            ("expand", "country".to_owned()),
        ];
        let body: LocationsPage = self.get(endpoint::LOCATIONS, endpoint::LOCATIONS, &query).await?;
        let meta = &body.meta;
        let broken = |detail: String| SourceError::Pagination {
            endpoint: endpoint::LOCATIONS.to_owned(),
            detail,
        };
        if meta.page != page {
            return Err(broken(format!("asked for page {page}, got page {}", meta.page)));
        }
        if meta.total_items > 0
            && (meta.page_size == 0 || meta.total_pages != meta.total_items.div_ceil(meta.page_size))
        {
            return Err(broken(format!(
                "{} pages of {} cannot hold {} items",
                meta.total_pages, meta.page_size, meta.total_items
            )));
        }
        if page >= meta.total_pages.max(1) {
            return Err(broken(format!(
                "page {page} is past the last page {} (pages count from 0)",
                meta.total_pages.saturating_sub(1)
            )));
        }
        let more = page + 1 < meta.total_pages;
        if let Some(links) = &body.links
            && links.next.is_some() != more
        {
            return Err(broken(format!(
                "page {page} of {}: `_links.next` is {} but `meta.totalPages` says {}",
                meta.total_pages,
                if links.next.is_some() { "present" } else { "absent" },
                if more { "more follow" } else { "it is the last" }
            )));
        }
        if body.data.is_empty() && more {
            return Err(broken(format!("page {page} of {} is empty", meta.total_pages)));
        }
        let records = body
            .data
            .iter()
            .map(|raw| map::location(raw).map_err(|e| SourceError::malformed(endpoint::LOCATIONS, e)))
            .collect::<Result<_, _>>()?;
        let next = more.then(|| json!({"page": page + 1}));
        Ok(Page { records, next })
    }

    /// Calls the balance calculator for `employees`, a few at a time, in order.
    async fn balances(&self, employees: &[(RemoteId, Value)]) -> Result<Vec<SourceRecord>, SourceError> {
        let mut results: Vec<Option<Vec<Value>>> = vec![None; employees.len()];
        let mut tasks = JoinSet::new();
        let mut next = 0;
        let spawn = |tasks: &mut JoinSet<_>, index: usize| {
            let (id, _) = &employees[index];
            let url = self.url(&format!("/v1/employees/{}/time_off/calculator", id.as_str()));
            let key = self.api_key.clone();
            let client = self.client.clone();
            tasks.spawn(async move {
                let sent = client
                    .send_checked(
                        endpoint::CALCULATOR,
                        |http| {
                            http.get(&url)
                                .basic_auth(key.expose(), Some("x"))
                                .header(ACCEPT, "application/json")
                        },
                        check_body,
                    )
                    .await;
                let entries = match sent {
                    Ok(resp) => Some(resp.json::<Vec<Value>>()?),
                    // The employee was deleted since the roster was fetched: nothing to count.
                    Err(SourceError::Rejected { status: 404, .. }) => None,
                    Err(e) => return Err(e),
                };
                Ok::<_, SourceError>((index, entries))
            });
        };
        while next < employees.len().min(CALCULATOR_CONCURRENCY) {
            spawn(&mut tasks, next);
            next += 1;
        }
        while let Some(joined) = tasks.join_next().await {
            let (index, entries) = joined
                .map_err(|e| SourceError::malformed(endpoint::CALCULATOR, format!("calculator task failed: {e}")))??;
            results[index] = entries;
            if next < employees.len() {
                spawn(&mut tasks, next);
                next += 1;
            }
        }
        let mut records = Vec::new();
        for ((employee, _), entries) in employees.iter().zip(results) {
            for raw in entries.unwrap_or_default() {
                records.push(map::balance(&self.ids, employee, &raw).map_err(|e| {
                    SourceError::malformed(endpoint::CALCULATOR, format!("employee {}: {e}", employee.0))
                })?);
            }
        }
        Ok(records)
    }

    fn map_rows(&self, snapshot: &Snapshot, rows: &[(RemoteId, Value)]) -> Result<Vec<SourceRecord>, SourceError> {
        rows.iter()
            .map(|(_, raw)| match &snapshot.context {
                Context::ListOptions(model) => {
                    map::list_option(*model, raw).map_err(|e| SourceError::malformed(endpoint::LISTS, e))
                }
                Context::Employees(ctx) => {
                    map::employee(&self.ids, raw, ctx).map_err(|e| SourceError::malformed(endpoint::REPORT, e))
                }
                Context::Employments(ctx) => {
                    map::employment(&self.ids, raw, ctx).map_err(|e| SourceError::malformed(endpoint::COMPENSATION, e))
                }
                Context::AbsenceTypes => {
                    map::absence_type(raw).map_err(|e| SourceError::malformed(endpoint::TIME_OFF_TYPES, e))
                }
                Context::Absences => {
                    map::absence(&self.ids, raw).map_err(|e| SourceError::malformed(endpoint::TIME_OFF_REQUESTS, e))
                }
                Context::Balances { .. } => Err(SourceError::Config("balances are mapped per calculator call".into())),
            })
            .collect()
    }
}

fn unreachable_kind<T>(kind: Kind) -> Result<T, SourceError> {
    Err(SourceError::Config(format!(
        "bamboohr stream `{}` is not snapshotted",
        kind.name()
    )))
}

/// Validates each row against its documented shape (failing the whole stream before any of
/// it reaches the mirror) and orders the rows by id.
fn with_ids(
    endpoint: &str,
    rows: Vec<Value>,
    id: impl Fn(&Value) -> Result<RemoteId, serde_json::Error>,
) -> Result<Vec<(RemoteId, Value)>, SourceError> {
    let mut out = rows
        .into_iter()
        .enumerate()
        .map(|(i, raw)| {
            id(&raw)
                .map(|id| (id, raw))
                .map_err(|e| SourceError::malformed(endpoint, format!("row {i}: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    out.sort_by(|a, b| a.0.sort_key().cmp(&b.0.sort_key()));
    if let Some(w) = out.windows(2).find(|w| w[0].0 == w[1].0) {
        return Err(SourceError::malformed(
            endpoint,
            format!("id {} appears twice", w[0].0.0),
        ));
    }
    Ok(out)
}

/// Groups an effective-dated table's rows by employee, each employee's rows oldest first.
/// Every row is checked against the table's documented shape.
fn history<T: api::DatedRow>(endpoint: &str, rows: Vec<Value>) -> Result<HashMap<String, map::History>, SourceError> {
    let mut by_employee: HashMap<String, map::History> = HashMap::new();
    for (i, raw) in rows.into_iter().enumerate() {
        let row: T = serde_json::from_value(raw.clone())
            .map_err(|e| SourceError::malformed(endpoint, format!("row {i}: {e}")))?;
        let date =
            api::date(row.date()).map_err(|e| SourceError::malformed(endpoint, format!("row {i}: date: {e}")))?;
        by_employee
            .entry(row.employee().0.clone())
            .or_default()
            .push((date, raw));
    }
    for rows in by_employee.values_mut() {
        rows.sort_by_key(|(date, _)| *date);
    }
    Ok(by_employee)
}

/// BambooHR documents one endpoint that answers HTTP 200 with an error object
/// (`{"error":{"code":429,...}}` when rate limited); any endpoint answering like that is
/// treated the same way. Only bodies that start like one are parsed twice.
fn check_body(resp: &SourceResponse) -> BodyVerdict {
    let body = resp.body.trim_ascii_start();
    // BambooHR answers XML to a request without `Accept: application/json`. Said plainly,
    // rather than as a JSON syntax error at column 1.
    if body.starts_with(b"<") {
        // The root element: the first tag that is not the `<?xml ...?>` declaration.
        let root: String = body
            .windows(2)
            .position(|w| w[0] == b'<' && w[1].is_ascii_alphabetic())
            .map(|at| {
                body[at + 1..]
                    .iter()
                    .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_')
                    .map(|b| char::from(*b))
                    .collect()
            })
            .unwrap_or_default();
        return BodyVerdict::Fail(SourceError::malformed(
            resp.endpoint.clone(),
            format!(
                "bamboohr answered XML (root `<{root}>`, Content-Type {}) where JSON was expected: \
                 BambooHR answers XML unless the request sends `Accept: application/json`",
                resp.header("content-type").unwrap_or("not given")
            ),
        ));
    }
    let looks_like_error = body
        .strip_prefix(b"{")
        .is_some_and(|rest| rest.trim_ascii_start().starts_with(b"\"error\""));
    if !looks_like_error {
        return BodyVerdict::Ok;
    }
    let Ok(ErrorBody { error }) = serde_json::from_slice::<ErrorBody>(&resp.body) else {
        return BodyVerdict::Ok;
    };
    let message = error.message.unwrap_or_else(|| format!("error {}", error.code));
    match error.code {
        429 | 503 => BodyVerdict::Retry(format!("{} in a 200 body: {message}", error.code)),
        401 | 403 => BodyVerdict::Fail(SourceError::Auth {
            endpoint: resp.endpoint.clone(),
            status: error.code,
            message,
        }),
        code => BodyVerdict::Fail(SourceError::Rejected {
            endpoint: resp.endpoint.clone(),
            status: code,
            message,
        }),
    }
}

/// JSON pointers into `remote_data` for a unified field. Needs no credentials or fetch: custom
/// fields are matched by their `custom…` alias prefix (`/v1/meta/fields` names them so), so the
/// read API strips them from rows stored before a scope change exactly as a sync would.
pub(crate) fn remote_paths(model: Model, field: &str) -> Vec<String> {
    let paths = |endpoint: &str, fields: &[&[&str]]| fields.iter().map(|p| pointer(endpoint, p)).collect::<Vec<_>>();
    match model {
        Model::Employees => {
            let aliases: &[&str] = match field {
                "employee_number" => &["employeeNumber"],
                "first_name" => &["firstName"],
                "last_name" => &["lastName"],
                "display_full_name" => &["displayName", "preferredName"],
                "nationality" => &["nationality"],
                "job_title" => &["jobTitle"],
                "work_email" => &["workEmail"],
                "personal_email" => &["homeEmail"],
                "mobile_phone_number" => &["mobilePhone"],
                "ssn" => &["ssn"],
                "gender" => &["gender"],
                "ethnicity" => &["ethnicity"],
                "marital_status" => &["maritalStatus"],
                "employment_status" => &["status", "employmentHistoryStatus"],
                "employment_type" => &["employmentHistoryStatus"],
                "weekly_hours" => &["standardHoursPerWeek"],
                "work_location_id" | "work_location" => &["location"],
                "legal_entity_id" | "legal_entity" => &["division"],
                "manager_id" | "manager" => &["supervisorEId"],
                "group_ids" | "groups" | "teams" => &["department"],
                "home_address" => &["address1", "address2", "city", "state", "zipcode", "country"],
                "date_of_birth" => &["dateOfBirth"],
                "start_date" => &["hireDate"],
                "termination_date" => &["terminationDate"],
                "custom_fields" => &["custom*"],
                _ => &[],
            };
            aliases.iter().map(|a| pointer(endpoint::REPORT, &[a])).collect()
        }
        Model::Employments => match field {
            "job_title" => paths(endpoint::JOB_INFO, &[&["jobTitle"]]),
            "pay_rate" => paths(endpoint::COMPENSATION, &[&["rate", "value"]]),
            "pay_currency" => paths(endpoint::COMPENSATION, &[&["rate", "currency"]]),
            "pay_period" => paths(endpoint::COMPENSATION, &[&["paidPer"]]),
            "pay_frequency" => paths(endpoint::COMPENSATION, &[&["paySchedule"], &["payPeriod"]]),
            "employment_type" => paths(endpoint::EMPLOYMENT_STATUS, &[&["employmentStatus"]]),
            "effective_date" => paths(endpoint::COMPENSATION, &[&["startDate"]]),
            _ => Vec::new(),
        },
        Model::Groups | Model::LegalEntities => match field {
            "name" => paths(endpoint::LISTS, &[&["name"]]),
            _ => Vec::new(),
        },
        Model::Locations => match field {
            "name" => paths(endpoint::LOCATIONS, &[&["label"]]),
            "address" => paths(endpoint::LOCATIONS, &[&["address"]]),
            _ => Vec::new(),
        },
        Model::AbsenceTypes => match field {
            "name" => paths(endpoint::TIME_OFF_TYPES, &[&["name"]]),
            "unit" => paths(endpoint::TIME_OFF_TYPES, &[&["units"]]),
            _ => Vec::new(),
        },
        Model::Absences => match field {
            "start_date" => paths(endpoint::TIME_OFF_REQUESTS, &[&["start"]]),
            "end_date" => paths(endpoint::TIME_OFF_REQUESTS, &[&["end"]]),
            "start_half_day" | "end_half_day" => paths(endpoint::TIME_OFF_REQUESTS, &[&["dates"]]),
            "amount" => paths(endpoint::TIME_OFF_REQUESTS, &[&["amount", "amount"]]),
            "unit" => paths(endpoint::TIME_OFF_REQUESTS, &[&["amount", "unit"]]),
            "status" => paths(endpoint::TIME_OFF_REQUESTS, &[&["status", "status"]]),
            "employee_note" => paths(endpoint::TIME_OFF_REQUESTS, &[&["notes", "employee"]]),
            "remote_updated_at" => paths(endpoint::TIME_OFF_REQUESTS, &[&["status", "lastChanged"]]),
            "type_id" | "type" => paths(endpoint::TIME_OFF_REQUESTS, &[&["type"]]),
            "employee_id" | "employee" => paths(endpoint::TIME_OFF_REQUESTS, &[&["employeeId"], &["name"]]),
            _ => Vec::new(),
        },
        Model::TimeOffBalances => match field {
            "balance" => paths(endpoint::CALCULATOR, &[&["balance"]]),
            "used" => paths(endpoint::CALCULATOR, &[&["usedYearToDate"]]),
            "balance_unit" | "used_unit" => paths(endpoint::CALCULATOR, &[&["units"]]),
            _ => Vec::new(),
        },
        _ => Vec::new(),
    }
}

/// An RFC 6901 pointer into `remote_data`: the endpoint key, then the path inside its object.
fn pointer(endpoint: &str, path: &[&str]) -> String {
    let escape = |s: &str| s.replace('~', "~0").replace('/', "~1");
    let mut out = format!("/{}", escape(endpoint));
    for segment in path {
        out.push('/');
        out.push_str(&escape(segment));
    }
    out
}

#[async_trait]
impl Connector for BambooHrConnector {
    fn tool(&self) -> ToolKind {
        ToolKind::Bamboohr
    }

    fn streams(&self) -> Vec<Stream> {
        Kind::ALL
            .iter()
            .map(|k| Stream {
                name: k.name(),
                models: k.models(),
                // What a DELTA can narrow by BambooHR's documented change markers (see the
                // module docs); the engine fetches the other streams whole in a DELTA.
                supports_since: matches!(k, Kind::Employees | Kind::Absences | Kind::Balances),
            })
            .collect()
    }

    /// In a DELTA, employees, time-off requests and balances are narrowed to what changed (see
    /// the module docs); every other stream, and every stream in a FULL, is fetched whole.
    async fn fetch_page(&self, stream: &Stream, cursor: Option<&Value>, mode: FetchMode) -> Result<Page, SourceError> {
        let kind = Kind::from_name(stream.name)
            .ok_or_else(|| SourceError::Config(format!("bamboohr has no stream `{}`", stream.name)))?;
        if kind == Kind::Locations {
            return self.locations_page(cursor).await;
        }
        let position = Position::parse(stream.name, cursor)?;
        let since = match mode {
            FetchMode::Delta { since } if matches!(kind, Kind::Employees | Kind::Absences | Kind::Balances) => {
                Some(since)
            }
            _ => None,
        };
        let snapshot = self.snapshot(kind, position.is_none(), since).await?;
        let start = position.as_ref().map_or(0, |p| p.start(&snapshot.rows));
        let (end, records) = match snapshot.context {
            Context::Balances { employees_per_page } => {
                let end = (start + employees_per_page).min(snapshot.rows.len());
                (end, self.balances(&snapshot.rows[start..end]).await?)
            }
            _ => {
                let end = (start + PAGE_SIZE).min(snapshot.rows.len());
                (end, self.map_rows(&snapshot, &snapshot.rows[start..end])?)
            }
        };
        let next = (end < snapshot.rows.len()).then(|| Position::cursor(end, &snapshot.rows));
        if next.is_none() {
            // The stream is done: free its rows (a big account's employees run to gigabytes).
            self.snapshots.lock().await.remove(kind.name());
        }
        Ok(Page { records, next })
    }

    /// Employees are looked up one by one with `GET /v1/employees/{id}` (a 404 proves the
    /// deletion; one that is there is mapped exactly as the report maps it). BambooHR has no
    /// single-record endpoint for the other streams' records, so they are left to a second
    /// listing.
    async fn lookup(&self, stream: &Stream, candidates: &[RecordRef]) -> Result<Lookup, SourceError> {
        let (targets, unchecked): (Vec<&RecordRef>, Vec<&RecordRef>) = candidates
            .iter()
            .partition(|(model, _)| stream.name == Kind::Employees.name() && *model == Model::Employees);
        let unchecked: Vec<RecordRef> = unchecked.into_iter().cloned().collect();
        if targets.is_empty() {
            return Ok(Lookup {
                found: Vec::new(),
                unchecked,
            });
        }
        let (context, fields) = self.employee_setup().await?;
        let fields = Arc::new(fields.join(","));
        let mut ids: Vec<String> = targets.iter().map(|(_, id)| id.clone()).collect();
        ids.sort_unstable();
        ids.dedup();
        let raws: Vec<Option<Value>> = futures::stream::iter(ids)
            .map(|id| {
                let fields = fields.clone();
                async move { self.employee_by_id(&id, &fields).await }
            })
            .buffered(LOOKUP_CONCURRENCY)
            .try_collect()
            .await?;
        let found = raws
            .into_iter()
            .flatten()
            .map(|raw| {
                map::employee(&self.ids, &raw, &context).map_err(|e| SourceError::malformed(endpoint::EMPLOYEE, e))
            })
            .collect::<Result<_, _>>()?;
        Ok(Lookup { found, unchecked })
    }

    fn remote_paths(&self, model: Model, field: &str) -> Vec<String> {
        remote_paths(model, field)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(body: &str) -> SourceResponse {
        SourceResponse {
            endpoint: "/v1/test".into(),
            status: reqwest::StatusCode::OK,
            headers: Default::default(),
            body: body.as_bytes().to_vec().into(),
        }
    }

    #[test]
    fn error_bodies_in_a_200_are_caught() {
        assert!(matches!(check_body(&response(r#"[{"id": 1}]"#)), BodyVerdict::Ok));
        assert!(matches!(check_body(&response(r#"{"employees": []}"#)), BodyVerdict::Ok));
        assert!(matches!(
            check_body(&response(r#" { "error": {"code": 429, "message": "Over rate limit"}}"#)),
            BodyVerdict::Retry(_)
        ));
        assert!(matches!(
            check_body(&response(r#"{"error": {"code": 403, "message": "no"}}"#)),
            BodyVerdict::Fail(SourceError::Auth { status: 403, .. })
        ));
        assert!(matches!(
            check_body(&response(r#"{"error": {"code": 400}}"#)),
            BodyVerdict::Fail(SourceError::Rejected { status: 400, .. })
        ));
    }

    #[test]
    fn pointers_escape_the_endpoint() {
        assert_eq!(
            pointer(endpoint::REPORT, &["firstName"]),
            "/~1v1~1reports~1custom/firstName"
        );
    }

    #[test]
    fn cursors_resume_after_the_last_id() {
        let rows: Vec<(RemoteId, Value)> = ["2", "5", "9", "10"]
            .iter()
            .map(|i| (RemoteId((*i).into()), json!({})))
            .collect();
        let p = Position::parse("s", Some(&json!({"offset": 2, "after": "5"})))
            .unwrap()
            .unwrap();
        assert_eq!(p.start(&rows), 2);
        // "5" is gone after a refetch: resume at the next id, not two rows later.
        let fewer: Vec<_> = rows.iter().filter(|(id, _)| id.0 != "5").cloned().collect();
        assert_eq!(p.start(&fewer), 1);
        assert!(Position::parse("s", Some(&json!({"page": 2}))).is_err());
        assert!(Position::parse("s", Some(&json!({"offset": 2, "after": 3}))).is_err());
    }
}
