//! Personio connector, against the v1 Public API ("Personnel Data").
//!
//! v1 rather than v2 (decision and sources in `docs/sources/personio.md`, "Which API version"):
//! v2 lists employments per person only, has no absence balances, and documents no rate limits,
//! while v1 carries employees with their org units and personal attributes, time-offs filtered
//! by update date, time-off types and balances.
//!
//! Credentials: `{"client_id": "...", "client_secret": "..."}`. They are exchanged at
//! `POST /v1/auth` for a bearer token that stays the same for 24 hours
//! (<https://developer.personio.de/reference/auth>). Every successful response carries the token
//! back in its `Authorization` header, and the documentation says to use that one for the next
//! request: the connector adopts it, so it keeps working should Personio rotate tokens again
//! (they were one-time tokens until
//! <https://developer.personio.de/changelog/authentication-api-improved-bearer-token>). A 401 on a
//! cached token triggers one re-authentication before the failure counts as revoked credentials.
//!
//! Streams, in sync order:
//! 1. `employees` — `GET /v1/company/employees`: `offset` counts records, `limit` at most 100
//!    (<https://developer.personio.de/docs/pagination-adoption-guide-for-v1-get-employees-endpoint>),
//!    the end signalled by `metadata.current_page >= metadata.total_pages - 1`; `updated_since`
//!    (strictly after, to the second) for deltas, paginated the same way. Personal data comes
//!    from the account's `dynamic_<n>` attributes, resolved through
//!    `GET /v1/company/employees/attributes` (`map::AttributeMap`). Each employee also yields its
//!    current employment (v1 keeps no compensation history), its department and team (Groups),
//!    office (Locations) and subcompany (LegalEntities).
//! 2. `absence_types` — `GET /v1/company/time-off-types` (record offset, no metadata).
//! 3. `absences` — two lists in turn: `GET /v1/company/time-offs`, the day-based absences
//!    (200 per page; `offset` is a page number counted from 1, 0 meaning 1 as well;
//!    `updated_from` is a date, so a delta re-reads the whole day of `since`), then
//!    `GET /v1/company/absence-periods`, the hour-based ones (UUID ids; `offset` a page number
//!    the same way since 25 Aug 2023; `updated_from` an inclusive date-time). One stream, so a
//!    failure of either list fails it and no absence is swept.
//! 4. `time_off_balances` — a page of employee ids, then
//!    `GET /v1/company/employees/{id}/absences/balance` for each, eight at a time.
//!
//! Deletion candidates (records a FULL did not see) are looked up one by one before the sweep:
//! `GET /v1/company/employees/{id}` for employees and their employments, `GET
//! /v1/company/time-offs/{id}` for day-based absences (a 404 confirms the deletion), and
//! `GET /v1/company/absence-periods?absence_periods[]=..` for hour-based ones, fifty at a time
//! (an id the filtered list does not return is gone). Org units, time-off
//! types and balances have no such endpoint and are confirmed by a second listing.
//!
//! Throttled (429, documented without any header saying when to come back), a request is retried
//! after at least a second, as Personio asks
//! (<https://developer.personio.de/changelog/rate-limits-on-get-employees-endpoint-may-6-2024>).
//! Personio answers some failures with HTTP 200 and `{"success": false, "error": {..}}`; those are
//! classified by the error code inside.

mod map;
pub(crate) mod webhook;
mod wire;

pub(crate) use map::remote_paths;

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::time::Duration;

use async_trait::async_trait;
use futures::{StreamExt, TryStreamExt};
use reqwest::header::{ACCEPT, AUTHORIZATION};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::sync::{Mutex, OnceCell};
use tributary_model::{IdGen, Model, SourceRecord, ToolKind};
use tributary_source::{
    BodyVerdict, Connector, FetchMode, Lookup, Page, RateLimit, RecordRef, Secret, SourceClient, SourceError,
    SourceResponse, Stream,
};
use url::Url;

/// Largest page GET employees serves
/// (<https://developer.personio.de/changelog/pagination-enforcement-v1-employees-api>).
const EMPLOYEES_PAGE: u64 = 100;
/// Default and largest page of the time-off lists.
const TIME_OFFS_PAGE: u64 = 200;
/// Balance requests in flight at once: enough to hide a real API's latency (at 300 ms a
/// request, 16 make ~53 a second, more than the 2,000 a minute Personio allows an address; the
/// client's pacing keeps to that limit, so the limit, not the latency, sets the pace).
const BALANCE_CONCURRENCY: usize = 16;
/// More pages than this means the tool's metadata is nonsense (10⁸ records at 100 per page).
const MAX_PAGES: u64 = 1_000_000;

const STREAM_EMPLOYEES: &str = "employees";
const STREAM_ABSENCE_TYPES: &str = "absence_types";
const STREAM_ABSENCES: &str = "absences";
const STREAM_BALANCES: &str = "time_off_balances";

// Endpoint names in errors name the tool too: a run's error must say where it came from.
const EP_AUTH: &str = "Personio POST /v1/auth";
const EP_EMPLOYEES: &str = "Personio GET /v1/company/employees";
const EP_ATTRIBUTES: &str = "Personio GET /v1/company/employees/attributes";
const EP_TYPES: &str = "Personio GET /v1/company/time-off-types";
const EP_TIME_OFFS: &str = "Personio GET /v1/company/time-offs";
const EP_BALANCE: &str = "Personio GET /v1/company/employees/{id}/absences/balance";
const EP_EMPLOYEE: &str = "Personio GET /v1/company/employees/{id}";
const EP_TIME_OFF: &str = "Personio GET /v1/company/time-offs/{id}";
const EP_PERIODS: &str = "Personio GET /v1/company/absence-periods";
/// Absence periods asked for by id in one request while confirming deletions.
const PERIOD_LOOKUP_BATCH: usize = 50;

/// Personio's documented limits: 300 requests a minute on the employees list (changelog "Rate
/// Limits on GET Employees endpoint - May 6, 2024"), 60 a minute on `/v1/auth`
/// (<https://developer.personio.de/reference/auth>) and 2,000 a minute on every v1 endpoint
/// per address. Ledger: `docs/sources/personio.md`.
pub(crate) const DOCUMENTED_LIMITS: &[RateLimit] = &[
    RateLimit {
        endpoint: Some(EP_EMPLOYEES),
        requests: NonZeroU32::new(300).unwrap(),
        per: Duration::from_secs(60),
    },
    RateLimit {
        endpoint: Some(EP_AUTH),
        requests: NonZeroU32::new(60).unwrap(),
        per: Duration::from_secs(60),
    },
    // Every v1 endpoint: 2,000 a minute per requesting IP address (changelog "IP address based
    // rate limiting - v1 endpoints"). Kept per integration here: a worker is one address, and
    // one integration's sync at a time is what holds its lease.
    RateLimit {
        endpoint: None,
        requests: NonZeroU32::new(2_000).unwrap(),
        per: Duration::from_secs(60),
    },
];
/// Personio asks every client to name itself (UPPER_SNAKE_CASE), to trace issues per integration
/// (<https://developer.personio.de/v1.0/reference/include-our-headers-in-your-requests>).
const APP_ID: &str = "TRIBUTARY";
/// A throttled request waits at least this long before it is sent again.
const THROTTLE_WAIT: Duration = Duration::from_secs(1);
/// Throttled rounds before giving up: enough to wait out a whole one-minute window.
const THROTTLE_ROUNDS: u32 = 90;
/// Deletion candidates looked up at once.
const LOOKUP_CONCURRENCY: usize = 8;

pub struct PersonioConnector {
    /// Base URL without a trailing slash; paths start with `/v1`.
    base: String,
    client_id: String,
    client_secret: Secret,
    ids: IdGen,
    client: SourceClient,
    token: Mutex<Option<Secret>>,
    /// Absence type unit by remote id, loaded once for balances (their endpoint omits it).
    absence_units: OnceCell<HashMap<String, &'static str>>,
    /// What the account's `dynamic_<n>` attributes hold, loaded once.
    attributes: OnceCell<map::AttributeMap>,
}

/// Cursor of the offset-paginated lists: the next record offset, and the first id of the page
/// just read so a tool that ignores `offset` is caught instead of looping.
#[derive(Debug, Default, Serialize, Deserialize)]
struct OffsetCursor {
    offset: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    first_id: Option<String>,
}

/// Cursor of `/company/time-offs` and `/company/absence-periods`, whose `offset` parameter is a
/// page number counted from 1.
#[derive(Debug, Default, Serialize, Deserialize)]
struct PageCursor {
    page: u64,
    /// Whether `page` counts from 1. Checkpoints written while the connector counted from 0
    /// lack it; their `page` is one lower than the page they mean.
    #[serde(default)]
    from_one: bool,
    /// Whether the cursor is in `/company/absence-periods`, which the stream lists after
    /// `/company/time-offs`. Checkpoints from before lack it: they are in time-offs.
    #[serde(default)]
    periods: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    first_id: Option<String>,
}

impl PageCursor {
    /// The page to ask for next, counted from 1.
    fn page_number(&self) -> u64 {
        let page = if self.from_one { self.page } else { self.page + 1 };
        page.max(1)
    }
}

impl PersonioConnector {
    pub fn new(base_url: Url, credentials: &Value, ids: IdGen, client: SourceClient) -> Result<Self, SourceError> {
        let field = |key: &str| {
            credentials
                .get(key)
                .and_then(Value::as_str)
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
                .ok_or_else(|| SourceError::Config(format!("Personio credentials need a non-empty string `{key}`")))
        };
        let client_id = field("client_id")?;
        let client_secret = Secret::new(field("client_secret")?);
        Ok(Self {
            base: base_url.as_str().trim_end_matches('/').to_owned(),
            client_id,
            client_secret,
            ids,
            client,
            token: Mutex::new(None),
            absence_units: OnceCell::new(),
            attributes: OnceCell::new(),
        })
    }

    /// The cached bearer token, or a new one; `true` when it was just issued.
    async fn token(&self) -> Result<(Secret, bool), SourceError> {
        let mut guard = self.token.lock().await;
        if let Some(token) = guard.as_ref() {
            return Ok((token.clone(), false));
        }
        // Holding the lock while authenticating keeps concurrent balance requests from each
        // spending one of the 60 auth calls a minute Personio allows.
        let url = format!("{}/v1/auth", self.base);
        let body = json!({"client_id": self.client_id, "client_secret": self.client_secret.expose()});
        let response = self
            .client
            .send_checked(
                EP_AUTH,
                |http| {
                    http.post(&url)
                        .header(ACCEPT, "application/json")
                        .header("X-Personio-App-ID", APP_ID)
                        .json(&body)
                },
                verdict,
            )
            .await?;
        let auth: wire::AuthResponse = response.json()?;
        if auth.data.token.trim().is_empty() {
            return Err(SourceError::malformed(EP_AUTH, "empty token"));
        }
        let token = Secret::new(auth.data.token);
        *guard = Some(token.clone());
        Ok((token, true))
    }

    async fn forget_token(&self, stale: &Secret) {
        let mut guard = self.token.lock().await;
        if guard.as_ref() == Some(stale) {
            *guard = None;
        }
    }

    async fn get(&self, endpoint: &str, path: &str, query: &[(&str, String)]) -> Result<SourceResponse, SourceError> {
        let url = format!("{}{}", self.base, path);
        let mut throttled = 0;
        loop {
            let (token, fresh) = self.token().await?;
            let result = self
                .client
                .send_checked(
                    endpoint,
                    |http| {
                        http.get(&url)
                            .query(query)
                            .bearer_auth(token.expose())
                            .header(ACCEPT, "application/json")
                            .header("X-Personio-App-ID", APP_ID)
                    },
                    verdict,
                )
                .await;
            match result {
                Ok(response) => {
                    self.adopt_echoed_token(&token, &response).await;
                    return Ok(response);
                }
                // A cached token may have passed its 24 hours; only a fresh one failing means
                // the credentials themselves are bad.
                Err(SourceError::Auth { .. }) if !fresh => self.forget_token(&token).await,
                // Throttled through every retry of the client, whose backoff may be shorter
                // than the second Personio asks for.
                Err(e) if throttled < THROTTLE_ROUNDS && is_throttled(&e) => {
                    throttled += 1;
                    tokio::time::sleep(THROTTLE_WAIT).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Takes the token a response carries in `Authorization` for the next request, as the
    /// documentation says to; with stable tokens it is the one sent, and nothing changes.
    async fn adopt_echoed_token(&self, sent: &Secret, response: &SourceResponse) {
        let Some(echoed) = response
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.trim())
            .map(|v| v.strip_prefix("Bearer ").unwrap_or(v).trim())
            .filter(|v| !v.is_empty())
        else {
            return;
        };
        if echoed == sent.expose() {
            return;
        }
        let mut guard = self.token.lock().await;
        // Only the token this request used is replaced: a concurrent re-authentication wins.
        if guard.as_ref() == Some(sent) {
            *guard = Some(Secret::new(echoed.to_owned()));
        }
    }

    async fn list(&self, endpoint: &str, path: &str, query: &[(&str, String)]) -> Result<wire::List, SourceError> {
        self.get(endpoint, path, query).await?.json()
    }

    async fn employees_page(&self, cursor: OffsetCursor, mode: FetchMode) -> Result<Page, SourceError> {
        let attrs = self.attribute_map().await?;
        let mut query = vec![
            ("limit", EMPLOYEES_PAGE.to_string()),
            ("offset", cursor.offset.to_string()),
        ];
        if let FetchMode::Delta { since } = mode {
            // Documented format `2022-12-24T08:15:30`, selecting employees updated *after* it:
            // truncated to the second and one second earlier, no change at `since` is missed.
            let from = since - chrono::Duration::seconds(1);
            query.push(("updated_since", from.format("%Y-%m-%dT%H:%M:%S").to_string()));
        }
        let list = self.list(EP_EMPLOYEES, map::EMPLOYEES_PATH, &query).await?;
        // The cursor first, so the raw items can then be moved into their records.
        let first_id = first_employee_id(&list.data);
        let next = next_employee_offset(&cursor, &list, first_id)?;
        let mut records = Vec::with_capacity(list.data.len() * 3);
        for raw in list.data {
            let out = employee_records(&self.ids, attrs, EP_EMPLOYEES, raw)?;
            records.push(out.employee);
            records.push(out.employment);
            records.extend(out.org_units);
        }
        Ok(Page {
            records: map::dedup(records),
            next,
        })
    }

    /// The account's attribute definitions, read once. Credentials that may not read them
    /// (a 403), or the endpoint being down, leave the labels and universal ids each employee
    /// object carries (the same ones the definitions hold), so a sync does not fail without
    /// them. A body outside the documented shape still fails the stream.
    async fn attribute_map(&self) -> Result<&map::AttributeMap, SourceError> {
        self.attributes
            .get_or_try_init(|| async {
                match self.get(EP_ATTRIBUTES, map::ATTRIBUTES_PATH, &[]).await {
                    Ok(response) => {
                        let list: wire::AttributeList = response.json()?;
                        Ok(map::AttributeMap::new(&list.data))
                    }
                    Err(SourceError::Rejected { status: 403 | 404, .. })
                    | Err(SourceError::Auth { status: 403, .. }) => Ok(map::AttributeMap::default()),
                    Err(e) if e.is_retryable() => {
                        tracing::warn!(error = %e, "Personio attribute definitions unavailable; attributes resolved by the labels they carry");
                        Ok(map::AttributeMap::default())
                    }
                    Err(e) => Err(e),
                }
            })
            .await
    }

    async fn absence_types_page(&self, cursor: OffsetCursor) -> Result<Page, SourceError> {
        let query = [
            ("limit", TIME_OFFS_PAGE.to_string()),
            ("offset", cursor.offset.to_string()),
        ];
        let list = self.list(EP_TYPES, map::TIME_OFF_TYPES_PATH, &query).await?;
        let first_id = list
            .data
            .first()
            .and_then(|v| v.pointer("/attributes/id"))
            .map(Value::to_string);
        let next = next_offset(EP_TYPES, &cursor, &list, TIME_OFFS_PAGE, first_id)?;
        let mut records = Vec::with_capacity(list.data.len());
        for raw in list.data {
            let parsed = item(EP_TYPES, &raw)?;
            records.push(map::absence_type(raw, parsed));
        }
        Ok(Page { records, next })
    }

    /// The `absences` stream lists two endpoints one after the other: time-offs (day-based
    /// absences), then absence periods (hour-based ones). One stream, so that a failure of
    /// either fails the stream and the run sweeps no absence, and so that confirming deletions
    /// re-lists both.
    async fn absences_page(&self, cursor: PageCursor, mode: FetchMode) -> Result<Page, SourceError> {
        if cursor.periods {
            return self.absence_periods_page(cursor, mode).await;
        }
        // Pages count from 1 here; 0 would be read as 1 too, and then page 1 again.
        let page = cursor.page_number();
        let mut query = vec![("limit", TIME_OFFS_PAGE.to_string()), ("offset", page.to_string())];
        if let FetchMode::Delta { since } = mode {
            query.push(("updated_from", since.date_naive().format("%Y-%m-%d").to_string()));
        }
        let list = self.list(EP_TIME_OFFS, map::TIME_OFFS_PATH, &query).await?;
        let (more, first_id) = next_page(EP_TIME_OFFS, &cursor, page, &list)?;
        let next = if more {
            PageCursor {
                page: page + 1,
                from_one: true,
                periods: false,
                first_id,
            }
        } else {
            // Day-based absences done: the hour-based ones follow, from their first page.
            PageCursor {
                page: 1,
                from_one: true,
                periods: true,
                first_id: None,
            }
        };
        let mut records = Vec::with_capacity(list.data.len());
        for raw in list.data {
            let parsed: wire::TimeOff = item(EP_TIME_OFFS, &raw)?;
            let id = parsed.attributes.id;
            records.push(
                map::absence(&self.ids, raw, parsed)
                    .map_err(|e| SourceError::malformed(EP_TIME_OFFS, format!("time-off {id}: {e}")))?,
            );
        }
        Ok(Page {
            records,
            next: Some(cursor_json(&next)),
        })
    }

    /// Hour-based absences: `offset` is a page number here as well since 25 Aug 2023 (it
    /// counted records before), and `updated_from` a date-time, inclusive.
    async fn absence_periods_page(&self, cursor: PageCursor, mode: FetchMode) -> Result<Page, SourceError> {
        let page = cursor.page_number();
        let mut query = vec![("limit", TIME_OFFS_PAGE.to_string()), ("offset", page.to_string())];
        if let FetchMode::Delta { since } = mode {
            // Inclusive: from `since` itself, truncated to the second so nothing at it is missed.
            query.push(("updated_from", since.format("%Y-%m-%dT%H:%M:%SZ").to_string()));
        }
        let list = self.list(EP_PERIODS, map::ABSENCE_PERIODS_PATH, &query).await?;
        let (more, first_id) = next_page(EP_PERIODS, &cursor, page, &list)?;
        let next = more.then(|| {
            cursor_json(&PageCursor {
                page: page + 1,
                from_one: true,
                periods: true,
                first_id,
            })
        });
        let records = list
            .data
            .into_iter()
            .map(|raw| self.absence_period(EP_PERIODS, raw))
            .collect::<Result<_, _>>()?;
        Ok(Page { records, next })
    }

    fn absence_period(&self, endpoint: &str, raw: Value) -> Result<SourceRecord, SourceError> {
        let parsed: wire::AbsencePeriod = item(endpoint, &raw)?;
        let id = parsed.attributes.id.clone();
        map::absence_period(&self.ids, raw, parsed)
            .map_err(|e| SourceError::malformed(endpoint, format!("absence period {id}: {e}")))
    }

    /// The absence periods among `ids` that still exist. There is no `GET` by id, but the list
    /// filters by `absence_periods[]`; a list that ignored the filter would make every id it
    /// did not show look deleted, so more matches than ids asked for is an error.
    async fn absence_period_records(&self, ids: Vec<String>) -> Result<Vec<SourceRecord>, SourceError> {
        let mut query = vec![("limit", TIME_OFFS_PAGE.to_string()), ("offset", "1".to_owned())];
        query.extend(ids.iter().map(|id| ("absence_periods[]", id.clone())));
        let list = self.list(EP_PERIODS, map::ABSENCE_PERIODS_PATH, &query).await?;
        let meta = metadata(EP_PERIODS, &list)?;
        if meta.total_elements > ids.len() as u64 || list.data.len() > ids.len() {
            return Err(pagination(
                EP_PERIODS,
                format!(
                    "asked for {} absence periods by id, got {} (the absence_periods[] filter was not applied)",
                    ids.len(),
                    meta.total_elements.max(list.data.len() as u64)
                ),
            ));
        }
        list.data
            .into_iter()
            .map(|raw| self.absence_period(EP_PERIODS, raw))
            .filter(|r| r.as_ref().map_or(true, |r| ids.contains(&r.remote_id)))
            .collect()
    }

    async fn balances_page(&self, cursor: OffsetCursor) -> Result<Page, SourceError> {
        let query = [
            ("limit", EMPLOYEES_PAGE.to_string()),
            ("offset", cursor.offset.to_string()),
            // Only ids are needed here; whitelisting keeps the pages small.
            ("attributes[]", "id".to_owned()),
        ];
        let list = self.list(EP_EMPLOYEES, map::EMPLOYEES_PATH, &query).await?;
        let mut employees = Vec::with_capacity(list.data.len());
        for raw in &list.data {
            let parsed: wire::EmployeeRef = item(EP_EMPLOYEES, raw)?;
            employees.push(parsed.attributes.id.value.to_string());
        }
        let units = self.absence_units().await?;
        let records: Vec<Vec<SourceRecord>> = futures::stream::iter(employees)
            .map(|employee| self.employee_balances(employee, units))
            .buffered(BALANCE_CONCURRENCY)
            .try_collect()
            .await?;
        let first_id = first_employee_id(&list.data);
        let next = next_employee_offset(&cursor, &list, first_id)?;
        Ok(Page {
            records: records.into_iter().flatten().collect(),
            next,
        })
    }

    async fn employee_balances(
        &self,
        employee: String,
        units: &HashMap<String, &'static str>,
    ) -> Result<Vec<SourceRecord>, SourceError> {
        let path = format!("/v1/company/employees/{employee}/absences/balance");
        let response = match self.get(EP_BALANCE, &path, &[]).await {
            Ok(r) => r,
            // Deleted between listing and this request: it has no balances any more.
            Err(SourceError::Rejected { status: 404, .. }) => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let list: wire::BalanceList = response.json()?;
        list.data
            .into_iter()
            .map(|raw| {
                let parsed = item(EP_BALANCE, &raw)?;
                Ok(map::balance(&self.ids, &employee, raw, parsed, units))
            })
            .collect()
    }

    /// Fetches one record by id: `None` when Personio answers that it does not exist.
    async fn one(&self, endpoint: &str, path: &str) -> Result<Option<Value>, SourceError> {
        match self.get(endpoint, path, &[]).await {
            Ok(response) => Ok(Some(response.json::<wire::One>()?.data)),
            Err(SourceError::Rejected { status: 404, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The records an employee still existing at the source maps to (none when it is gone).
    async fn employee_records(&self, employee_id: String) -> Result<Vec<SourceRecord>, SourceError> {
        let attrs = self.attribute_map().await?;
        let path = format!("{}/{employee_id}", map::EMPLOYEES_PATH);
        let Some(raw) = self.one(EP_EMPLOYEE, &path).await? else {
            return Ok(Vec::new());
        };
        let out = employee_records(&self.ids, attrs, EP_EMPLOYEE, raw)?;
        let mut records = vec![out.employee, out.employment];
        records.extend(out.org_units);
        Ok(records)
    }

    async fn time_off_records(&self, time_off_id: String) -> Result<Vec<SourceRecord>, SourceError> {
        let path = format!("{}/{time_off_id}", map::TIME_OFFS_PATH);
        let Some(raw) = self.one(EP_TIME_OFF, &path).await? else {
            return Ok(Vec::new());
        };
        let parsed: wire::TimeOff = item(EP_TIME_OFF, &raw)?;
        let id = parsed.attributes.id;
        let record = map::absence(&self.ids, raw, parsed)
            .map_err(|e| SourceError::malformed(EP_TIME_OFF, format!("time-off {id}: {e}")))?;
        Ok(vec![record])
    }

    async fn absence_units(&self) -> Result<&HashMap<String, &'static str>, SourceError> {
        self.absence_units
            .get_or_try_init(|| async {
                let mut units = HashMap::new();
                let mut offset = 0;
                loop {
                    let query = [("limit", TIME_OFFS_PAGE.to_string()), ("offset", offset.to_string())];
                    let list = self.list(EP_TYPES, map::TIME_OFF_TYPES_PATH, &query).await?;
                    for raw in &list.data {
                        let parsed: wire::TimeOffType = item(EP_TYPES, raw)?;
                        let (id, unit) = map::absence_unit(&parsed);
                        units.insert(id, unit);
                    }
                    if (list.data.len() as u64) < TIME_OFFS_PAGE || offset / TIME_OFFS_PAGE > MAX_PAGES {
                        return Ok(units);
                    }
                    offset += list.data.len() as u64;
                }
            })
            .await
    }
}

#[async_trait]
impl Connector for PersonioConnector {
    fn tool(&self) -> ToolKind {
        ToolKind::Personio
    }

    fn streams(&self) -> Vec<Stream> {
        vec![
            Stream {
                name: STREAM_EMPLOYEES,
                models: &[
                    Model::Employees,
                    Model::Employments,
                    Model::Groups,
                    Model::Locations,
                    Model::LegalEntities,
                ],
                supports_since: true,
            },
            Stream {
                name: STREAM_ABSENCE_TYPES,
                models: &[Model::AbsenceTypes],
                supports_since: false,
            },
            Stream {
                name: STREAM_ABSENCES,
                models: &[Model::Absences],
                supports_since: true,
            },
            Stream {
                name: STREAM_BALANCES,
                models: &[Model::TimeOffBalances],
                supports_since: false,
            },
        ]
    }

    async fn fetch_page(&self, stream: &Stream, cursor: Option<&Value>, mode: FetchMode) -> Result<Page, SourceError> {
        match stream.name {
            STREAM_EMPLOYEES => self.employees_page(read_cursor(stream, cursor)?, mode).await,
            STREAM_ABSENCE_TYPES => self.absence_types_page(read_cursor(stream, cursor)?).await,
            STREAM_ABSENCES => self.absences_page(read_cursor(stream, cursor)?, mode).await,
            STREAM_BALANCES => self.balances_page(read_cursor(stream, cursor)?).await,
            other => Err(SourceError::Config(format!("Personio has no stream `{other}`"))),
        }
    }

    /// Employees (and their employments, which share the employee's id) and time-offs have
    /// single-record endpoints; org units, absence types and balances have none.
    async fn lookup(&self, stream: &Stream, candidates: &[RecordRef]) -> Result<Lookup, SourceError> {
        let mut targets: Vec<String> = Vec::new();
        let mut unchecked = Vec::new();
        for (model, remote_id) in candidates {
            let checkable = match stream.name {
                STREAM_EMPLOYEES => matches!(model, Model::Employees | Model::Employments),
                STREAM_ABSENCES => *model == Model::Absences,
                _ => false,
            };
            if checkable {
                targets.push(remote_id.clone());
            } else {
                unchecked.push((*model, remote_id.clone()));
            }
        }
        targets.sort();
        targets.dedup();
        let absences = stream.name == STREAM_ABSENCES;
        // Hour-based absences have UUIDs and are looked up in batches through the list's id
        // filter; time-offs (integers) and employees one by one.
        let (periods, singles): (Vec<String>, Vec<String>) =
            targets.into_iter().partition(|id| absences && map::is_uuid(id));
        let mut found: Vec<Vec<SourceRecord>> = futures::stream::iter(singles)
            .map(|id| async move {
                if absences {
                    self.time_off_records(id).await
                } else {
                    self.employee_records(id).await
                }
            })
            .buffer_unordered(LOOKUP_CONCURRENCY)
            .try_collect()
            .await?;
        for batch in periods.chunks(PERIOD_LOOKUP_BATCH) {
            found.push(self.absence_period_records(batch.to_vec()).await?);
        }
        Ok(Lookup {
            found: map::dedup(found.into_iter().flatten().collect()),
            unchecked,
        })
    }

    fn remote_paths(&self, model: Model, field: &str) -> Vec<String> {
        map::remote_paths(model, field)
    }
}

/// What a 2xx body means: Personio reports some failures as HTTP 200 with `success: false`.
fn verdict(response: &SourceResponse) -> BodyVerdict {
    // A body that is not JSON at all is left to the typed parse, which reports it as malformed.
    let Ok(head) = serde_json::from_slice::<wire::Head>(&response.body) else {
        return BodyVerdict::Ok;
    };
    if head.success != Some(false) {
        return BodyVerdict::Ok;
    }
    let code = head.error.as_ref().and_then(|e| e.code).unwrap_or(0);
    let message = head
        .error
        .and_then(|e| e.message)
        .unwrap_or_else(|| "no error message".to_owned());
    let endpoint = response.endpoint.clone();
    match code {
        401 | 403 => BodyVerdict::Fail(SourceError::Auth {
            endpoint,
            status: code as u16,
            message,
        }),
        429 | 500..=599 => BodyVerdict::Retry(format!("success=false with code {code}: {message}")),
        _ => BodyVerdict::Fail(SourceError::Rejected {
            endpoint,
            status: response.status.as_u16(),
            message: format!("success=false with code {code}: {message}"),
        }),
    }
}

/// Reads one list item into its typed shape; the typed value may borrow strings from `raw`.
fn item<'a, T: Deserialize<'a>>(endpoint: &str, raw: &'a Value) -> Result<T, SourceError> {
    T::deserialize(raw).map_err(|e| {
        let id = raw
            .pointer("/attributes/id/value")
            .or_else(|| raw.pointer("/attributes/id"))
            .or_else(|| raw.get("id"));
        match id {
            Some(id) => SourceError::malformed(endpoint, format!("record {id}: {e}")),
            None => SourceError::malformed(endpoint, e),
        }
    })
}

fn read_cursor<T: DeserializeOwned + Default>(stream: &Stream, cursor: Option<&Value>) -> Result<T, SourceError> {
    match cursor {
        None => Ok(T::default()),
        Some(v) => T::deserialize(v).map_err(|e| SourceError::Pagination {
            endpoint: stream.name.to_owned(),
            detail: format!("unreadable cursor {v}: {e}"),
        }),
    }
}

fn cursor_json<T: Serialize>(cursor: &T) -> Value {
    serde_json::to_value(cursor).unwrap_or(Value::Null)
}

fn pagination(endpoint: &str, detail: String) -> SourceError {
    SourceError::Pagination {
        endpoint: endpoint.to_owned(),
        detail,
    }
}

fn first_employee_id(data: &[Value]) -> Option<String> {
    data.first()
        .and_then(|v| v.pointer("/attributes/id/value"))
        .map(Value::to_string)
}

/// Maps one raw employee, naming the tool, endpoint, employee and field when it cannot.
fn employee_records(
    ids: &IdGen,
    attrs: &map::AttributeMap,
    endpoint: &str,
    raw: Value,
) -> Result<map::EmployeeRecords, SourceError> {
    let parsed: wire::Employee = item(endpoint, &raw)?;
    let id = parsed.attributes.id.value;
    let out = map::employee(ids, attrs, &raw, parsed)
        .map_err(|e| SourceError::malformed(endpoint, format!("employee {id}: {e}")))?;
    Ok(out.with_raw(raw, attrs))
}

/// `metadata`, the documented end signal of the paginated lists: a page without it cannot be
/// told from the last one.
fn metadata<'a>(endpoint: &str, list: &'a wire::List) -> Result<&'a wire::Metadata, SourceError> {
    let meta = list
        .metadata
        .as_ref()
        .ok_or_else(|| SourceError::malformed(endpoint, "field `metadata` missing (the end-of-list signal)"))?;
    check_metadata(endpoint, meta)?;
    Ok(meta)
}

/// Whether a request failed for being throttled (429) through all of the client's retries.
fn is_throttled(e: &SourceError) -> bool {
    matches!(e, SourceError::Transient { message, .. } if message.starts_with("429"))
}

/// The cursor after a page of employees: records are counted by `offset`, and the list ends
/// where the adoption guide says, at `metadata.current_page >= metadata.total_pages - 1`.
fn next_employee_offset(
    cursor: &OffsetCursor,
    list: &wire::List,
    first_id: Option<String>,
) -> Result<Option<Value>, SourceError> {
    let received = list.data.len() as u64;
    if received > EMPLOYEES_PAGE {
        return Err(pagination(
            EP_EMPLOYEES,
            format!("{received} records on a page of {EMPLOYEES_PAGE}"),
        ));
    }
    if let Some(echoed) = list.offset
        && echoed != cursor.offset
    {
        return Err(pagination(
            EP_EMPLOYEES,
            format!("asked for offset {}, got offset {echoed}", cursor.offset),
        ));
    }
    if first_id.is_some() && first_id == cursor.first_id {
        return Err(pagination(
            EP_EMPLOYEES,
            format!("page at offset {} repeats the previous page", cursor.offset),
        ));
    }
    let meta = metadata(EP_EMPLOYEES, list)?;
    if received == 0 || meta.current_page + 1 >= meta.total_pages {
        return Ok(None);
    }
    // Advance by what arrived, not by what was asked: a server that caps the page size lower
    // than requested must not make us skip records.
    let offset = cursor.offset + received;
    Ok(Some(cursor_json(&OffsetCursor { offset, first_id })))
}

/// Whether a page-numbered list (time-offs, absence periods) has a page after `page`, and the
/// first id of this one (to catch a tool that serves the same page again).
fn next_page(
    endpoint: &str,
    cursor: &PageCursor,
    page: u64,
    list: &wire::List,
) -> Result<(bool, Option<String>), SourceError> {
    let first_id = list
        .data
        .first()
        .and_then(|v| v.pointer("/attributes/id"))
        .map(Value::to_string);
    if list.data.len() as u64 > TIME_OFFS_PAGE {
        return Err(pagination(
            endpoint,
            format!("{} records on a page of {TIME_OFFS_PAGE}", list.data.len()),
        ));
    }
    if first_id.is_some() && first_id == cursor.first_id {
        return Err(pagination(endpoint, format!("page {page} repeats the previous page")));
    }
    let meta = metadata(endpoint, list)?;
    if meta.current_page != page {
        return Err(pagination(
            endpoint,
            format!(
                "asked for page {page} (offset), got metadata.current_page {}",
                meta.current_page
            ),
        ));
    }
    Ok((!list.data.is_empty() && page < meta.total_pages, first_id))
}

fn check_metadata(endpoint: &str, meta: &wire::Metadata) -> Result<(), SourceError> {
    if meta.total_pages > MAX_PAGES {
        return Err(pagination(
            endpoint,
            format!("implausible total_pages {}", meta.total_pages),
        ));
    }
    Ok(())
}

/// The cursor after an offset-paginated page, or an error when the pages do not advance.
fn next_offset(
    endpoint: &str,
    cursor: &OffsetCursor,
    list: &wire::List,
    limit: u64,
    first_id: Option<String>,
) -> Result<Option<Value>, SourceError> {
    let received = list.data.len() as u64;
    if received > limit {
        return Err(pagination(endpoint, format!("{received} records on a page of {limit}")));
    }
    if let Some(echoed) = list.offset
        && echoed != cursor.offset
    {
        return Err(pagination(
            endpoint,
            format!("asked for offset {}, got offset {echoed}", cursor.offset),
        ));
    }
    if first_id.is_some() && first_id == cursor.first_id {
        return Err(pagination(
            endpoint,
            format!("page at offset {} repeats the previous page", cursor.offset),
        ));
    }
    if received == 0 {
        return Ok(None);
    }
    // Advance by what arrived, not by what was asked: a server that caps the page size lower
    // than requested must not make us skip records.
    let offset = cursor.offset + received;
    let more = match &list.metadata {
        Some(meta) => {
            check_metadata(endpoint, meta)?;
            offset < meta.total_elements
        }
        None => received == limit,
    };
    Ok(more.then(|| cursor_json(&OffsetCursor { offset, first_id })))
}

#[cfg(test)]
mod tests;
