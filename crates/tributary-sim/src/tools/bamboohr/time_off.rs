//! Time off: the account's time-off types, the requests overlapping a date window, and each
//! employee's balances from the balance calculator.
//!
//! Shapes from BambooHR's OpenAPI document (`list-time-off-types`, `list-time-off-requests`,
//! `get-time-off-balance`) and <https://documentation.bamboohr.com/reference/estimate-future-time-off-balances>.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{Datelike, NaiveDate, Utc, Weekday};
use serde_json::{Map, Value, json};

use super::render::{self, JsonArray};
use super::{Admitted, Rejection, TOOL, authorize, blocking, error, json_bytes};
use crate::SimState;
use crate::company::{Absence, AbsenceType, Id};

/// Hours in a working day, for absences of hour-based types.
const HOURS_PER_DAY: f64 = 8.0;

/// `GET /v1/meta/time_off/types`: the active time-off types and the default work week.
pub(super) async fn types(
    State(state): State<SimState>,
    _admitted: Admitted,
    Path(company): Path<String>,
    headers: HeaderMap,
) -> Result<Response, Rejection> {
    authorize(&state, &company, &headers)?;
    let c = state.company(TOOL);
    let types: Vec<Value> = c
        .hris
        .absence_types
        .values()
        .map(|t| {
            json!({
                "id": t.id,
                "name": t.name,
                "units": t.unit,
                "color": "56afdd",
                "icon": "palm-trees",
                "source": "internal",
            })
        })
        .collect();
    let default_hours: Vec<Value> = [
        "Sunday",
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
        "Saturday",
    ]
    .iter()
    .map(|day| json!({"name": day, "amount": if matches!(*day, "Saturday" | "Sunday") { "0" } else { "8" }}))
    .collect();
    Ok(Json(json!({"timeOffTypes": types, "defaultHours": default_hours})).into_response())
}

fn parse_date(query: &HashMap<String, String>, name: &str) -> Result<Option<NaiveDate>, Rejection> {
    query
        .get(name)
        .map(|v| {
            NaiveDate::parse_from_str(v, "%Y-%m-%d")
                .map_err(|_| error(StatusCode::BAD_REQUEST, &format!("Invalid {name} date: {v}")))
        })
        .transpose()
}

/// A comma-separated list of ids or words, as the request filters take them.
fn list(query: &HashMap<String, String>, name: &str) -> Option<Vec<String>> {
    query.get(name).map(|v| {
        v.split(',')
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect()
    })
}

/// BambooHR's request statuses: approved, denied, superceded, requested, canceled.
fn request_status(status: &str) -> &str {
    match status {
        "pending" => "requested",
        "rejected" => "denied",
        other => other,
    }
}

fn request_json(a: &Absence, t: Option<&AbsenceType>, employee_name: String, with_notes: bool) -> Value {
    let hours = t.is_some_and(|t| t.unit == "hours");
    let full = if hours { HOURS_PER_DAY } else { 1.0 };
    // One entry per calendar day: weekends take nothing, half days half a day.
    let mut dates = Map::new();
    let mut day = a.start_date;
    while day <= a.end_date {
        let weekend = matches!(day.weekday(), Weekday::Sat | Weekday::Sun);
        let half = (day == a.start_date && a.half_day_start) || (day == a.end_date && a.half_day_end);
        let amount = if weekend {
            0.0
        } else if half {
            full / 2.0
        } else {
            full
        };
        dates.insert(render::ymd(day), json!(amount));
        match day.succ_opt() {
            Some(next) => day = next,
            None => break,
        }
    }
    let mut row = json!({
        "id": a.id,
        "employeeId": a.employee_id,
        "name": employee_name,
        "start": render::ymd(a.start_date),
        "end": render::ymd(a.end_date),
        "created": render::ymd(a.created_at.date_naive()),
        "status": {
            "lastChanged": render::ymd(a.updated_at.date_naive()),
            "lastChangedByUserId": 1,
            "status": request_status(&a.status),
        },
        "type": {"id": a.absence_type_id, "name": t.map(|t| t.name.as_str()).unwrap_or(""), "icon": "palm-trees"},
        "amount": {"unit": if hours { "hours" } else { "days" }, "amount": a.days_count * full},
        "actions": {"view": true, "edit": true, "cancel": true, "approve": true, "deny": true, "bypass": true},
        "dates": dates,
    });
    if with_notes {
        row["notes"] = json!({"employee": a.comment.as_deref().unwrap_or(""), "manager": ""});
    }
    row
}

/// `GET /v1/time_off/requests?start=&end=`: requests overlapping the window (both dates
/// required), optionally filtered by request id, employee, type and status.
pub(super) async fn requests(
    State(state): State<SimState>,
    _admitted: Admitted,
    Path(company): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Result<Response, Rejection> {
    authorize(&state, &company, &headers)?;
    let (Some(start), Some(end)) = (parse_date(&query, "start")?, parse_date(&query, "end")?) else {
        return Err(error(StatusCode::BAD_REQUEST, "Invalid or missing start/end date"));
    };
    let number = |name: &str| -> Result<Option<Id>, Rejection> {
        query
            .get(name)
            .map(|v| {
                v.parse()
                    .map_err(|_| error(StatusCode::BAD_REQUEST, &format!("Invalid {name}: {v}")))
            })
            .transpose()
    };
    let only_id = number("id")?;
    let only_employee = number("employeeId")?;
    let types = list(&query, "type");
    let statuses = list(&query, "status");
    let with_notes = !query
        .get("excludeNote")
        .is_some_and(|v| !v.is_empty() && v != "0" && v != "false");
    let body = blocking(state, move |state| {
        let mut out = Vec::new();
        let mut rows = JsonArray::open(&mut out);
        rows.fill_chunked(state, |c, after, limit, rows| {
            let mut progress = render::Progress::new(limit);
            for (id, a) in render::after(&c.hris.absences, after).take(limit) {
                progress.saw(*id);
                let keep = a.end_date >= start
                    && a.start_date <= end
                    && only_id.is_none_or(|x| x == a.id)
                    && only_employee.is_none_or(|x| x == a.employee_id)
                    && types
                        .as_ref()
                        .is_none_or(|ts| ts.iter().any(|t| *t == a.absence_type_id.to_string()))
                    && statuses
                        .as_ref()
                        .is_none_or(|ss| ss.iter().any(|s| s == request_status(&a.status)));
                if !keep {
                    continue;
                }
                let name = c
                    .hris
                    .employees
                    .get(&a.employee_id)
                    .map(|e| format!("{} {}", e.first_name, e.last_name))
                    .unwrap_or_default();
                rows.push(&request_json(
                    a,
                    c.hris.absence_types.get(&a.absence_type_id),
                    name,
                    with_notes,
                ))?;
            }
            Ok(progress.resume_after())
        })?;
        rows.close();
        Ok(out)
    })
    .await?;
    Ok(json_bytes(body))
}

/// `GET /v1/employees/{id}/time_off/calculator?end=&precision=`: the employee's balance per
/// assigned time-off type as of `end` (today by default).
pub(super) async fn calculator(
    State(state): State<SimState>,
    _admitted: Admitted,
    Path((company, id)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Result<Response, Rejection> {
    authorize(&state, &company, &headers)?;
    let end = parse_date(&query, "end")?.unwrap_or_else(|| Utc::now().date_naive());
    let precision = match query.get("precision") {
        None => 2,
        Some(p) => match p.parse::<usize>() {
            Ok(p) if p <= 4 => p,
            _ => return Err(error(StatusCode::BAD_REQUEST, "precision must be between 0 and 4")),
        },
    };
    let c = state.company(TOOL);
    let Some(employee) = id.parse::<Id>().ok().filter(|id| c.hris.employees.contains_key(id)) else {
        return Err(error(StatusCode::NOT_FOUND, "Employee not found"));
    };
    let entries: Vec<Value> = c
        .hris
        .balances
        .range((employee, Id::MIN)..=(employee, Id::MAX))
        .map(|(_, b)| {
            let t = c.hris.absence_types.get(&b.absence_type_id);
            json!({
                "timeOffType": b.absence_type_id.to_string(),
                "name": t.map(|t| t.name.as_str()).unwrap_or(""),
                "units": t.map(|t| t.unit.as_str()).unwrap_or("days"),
                "balance": render::decimal(b.balance, precision),
                "end": render::ymd(end),
                "policyType": "accruing",
                "usedYearToDate": render::decimal(b.used, precision),
            })
        })
        .collect();
    Ok(Json(entries).into_response())
}
