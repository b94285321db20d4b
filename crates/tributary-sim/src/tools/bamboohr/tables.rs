//! Tabular data: the effective-dated `jobInfo`, `compensation` and `employmentStatus` tables,
//! for one employee or (`id` = `all`) for every employee.
//!
//! Columns from <https://www.bamboohr.com/api/documentation/tables.php>; the JSON row shape
//! (`id` and `employeeId` plus one key per column, rates as `{value, currency}`) from the
//! `get-employee-table-data` operation of BambooHR's OpenAPI document and the sample of
//! <https://documentation.bamboohr.com/reference/get-changed-employee-table-data>.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::render::{self, JsonArray};
use super::{Admitted, Rejection, TOOL, authorize, blocking, error, json_bytes};
use crate::SimState;
use crate::company::{Company, Employee, EmployeeStatus, Id};

#[derive(Clone, Copy)]
enum Table {
    JobInfo,
    Compensation,
    EmploymentStatus,
}

impl Table {
    fn parse(name: &str) -> Option<Table> {
        match name {
            "jobInfo" => Some(Table::JobInfo),
            "compensation" => Some(Table::Compensation),
            "employmentStatus" => Some(Table::EmploymentStatus),
            _ => None,
        }
    }

    /// The employee's rows in this table. Row ids are the employment ids (unique across the
    /// company); the status rows that close a history (termination, leave) take the employee's
    /// own id, which no employment shares.
    fn rows(self, c: &Company, e: &Employee) -> Vec<Value> {
        let employee_id = e.id.to_string();
        let mut rows: Vec<Value> = e
            .employments
            .iter()
            .map(|j| match self {
                Table::JobInfo => json!({
                    "id": j.id.to_string(),
                    "employeeId": employee_id,
                    "date": render::ymd(j.effective_date),
                    "location": render::location_name(c, e.office_id),
                    "department": render::department_name(c, e.department_id),
                    "division": render::division_name(c, e.legal_entity_id),
                    "jobTitle": j.job_title,
                    "reportsTo": e.supervisor_id.and_then(|s| c.hris.employees.get(&s)).map(render::display_name),
                }),
                Table::Compensation => json!({
                    "id": j.id.to_string(),
                    "employeeId": employee_id,
                    "startDate": render::ymd(j.effective_date),
                    "endDate": null,
                    "rate": {"value": render::decimal(j.pay_rate, 2), "currency": j.currency},
                    "type": if j.pay_period == "HOUR" { "Hourly" } else { "Salary" },
                    "exempt": null,
                    "reason": null,
                    "comment": null,
                    "paidPer": paid_per(&j.pay_period),
                    "paySchedule": null,
                    "overtimeRate": null,
                }),
                Table::EmploymentStatus => status_row(
                    j.id,
                    &employee_id,
                    render::ymd(j.effective_date),
                    render::employment_status_label(&j.employment_type),
                ),
            })
            .collect();
        if let Table::EmploymentStatus = self {
            match (e.status, e.termination_date) {
                (EmployeeStatus::Inactive, Some(end)) => {
                    rows.push(status_row(e.id, &employee_id, render::ymd(end), "Terminated"));
                }
                (EmployeeStatus::Leave, _) => {
                    rows.push(status_row(
                        e.id,
                        &employee_id,
                        render::ymd(e.updated_at.date_naive()),
                        "Leave of Absence",
                    ));
                }
                _ => {}
            }
        }
        rows
    }
}

fn status_row(id: Id, employee_id: &str, date: String, status: &str) -> Value {
    json!({
        "id": id.to_string(),
        "employeeId": employee_id,
        "date": date,
        "employmentStatus": status,
        "comment": null,
        "terminationReasonId": null,
        "terminationTypeId": null,
        "terminationRehireId": null,
        "terminationRegrettableId": null,
    })
}

/// The compensation table's `paidPer` values: "Hour", "Day", "Week", "Month", "Quarter", "Year".
fn paid_per(period: &str) -> String {
    let mut chars = period.chars();
    match chars.next() {
        Some(first) => first.to_ascii_uppercase().to_string() + &chars.as_str().to_ascii_lowercase(),
        None => String::new(),
    }
}

/// `GET /v1/employees/{id}/tables/{table}`: a table's rows, unsorted within an employee.
pub(super) async fn table(
    State(state): State<SimState>,
    _admitted: Admitted,
    Path((company, id, table)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Result<Response, Rejection> {
    authorize(&state, &company, &headers)?;
    let Some(table) = Table::parse(&table) else {
        return Err(error(StatusCode::NOT_FOUND, "Table not found"));
    };
    if id != "all" {
        let c = state.company(TOOL);
        let employee = id.parse::<Id>().ok().and_then(|id| c.hris.employees.get(&id));
        let Some(e) = employee else {
            return Err(error(StatusCode::NOT_FOUND, "Employee not found"));
        };
        return Ok(axum::Json(table.rows(&c, e)).into_response());
    }
    let body = blocking(state, move |state| {
        let mut out = Vec::new();
        let mut rows = JsonArray::open(&mut out);
        rows.fill_chunked(state, |c, after, limit, rows| {
            let mut progress = render::Progress::new(limit);
            for (id, e) in render::after(&c.hris.employees, after).take(limit) {
                progress.saw(*id);
                for row in table.rows(c, e) {
                    rows.push(&row)?;
                }
            }
            Ok(progress.resume_after())
        })?;
        rows.close();
        Ok(out)
    })
    .await?;
    Ok(json_bytes(body))
}
