//! BambooHR rows to unified records, with Kombo's field names and enum values.

use std::collections::HashMap;

use chrono::NaiveDate;
use serde_json::{Map, Value, json};
use tributary_model::{IdGen, Model, SourceRecord};

use super::api::{
    self, BalanceEntry, CompensationRow, EmploymentStatusRow, JobInfoRow, ListOption, Location, RemoteId,
    ReportEmployee, TimeOffRequest, TimeOffType,
};
use super::endpoint;

/// A date as the unified model writes it: midnight UTC in ISO-8601.
pub(super) fn iso(date: NaiveDate) -> String {
    format!("{}T00:00:00.000Z", date.format("%Y-%m-%d"))
}

fn opt_iso(date: Option<NaiveDate>) -> Value {
    date.map_or(Value::Null, |d| Value::String(iso(d)))
}

fn text(v: Option<&str>) -> Value {
    v.map(str::trim)
        .filter(|v| !v.is_empty())
        .map_or(Value::Null, |v| Value::String(v.to_owned()))
}

/// Lower-case with separators dropped, so "Full-Time", "Full Time" and "full_time" compare equal.
fn norm(value: &str) -> String {
    value
        .chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

fn unit(units: &str) -> Value {
    match norm(units).as_str() {
        "hours" | "hour" => json!("HOURS"),
        "days" | "day" => json!("DAYS"),
        _ => Value::Null,
    }
}

/// Department, division and location values of an employee are list-option names; these
/// resolve them to the option ids the org streams are keyed by.
#[derive(Debug, Default)]
pub(super) struct OrgIndex {
    pub departments: HashMap<String, String>,
    pub divisions: HashMap<String, String>,
    pub locations: HashMap<String, String>,
}

impl OrgIndex {
    /// Indexes one list's options by name. Live options win over archived ones of the same
    /// name: employees are moved onto the live one when an option is replaced.
    pub fn index(options: &[ListOption]) -> HashMap<String, String> {
        let mut by_name = HashMap::new();
        for o in options
            .iter()
            .filter(|o| o.is_archived())
            .chain(options.iter().filter(|o| !o.is_archived()))
        {
            by_name.insert(o.name.trim().to_owned(), o.id.0.clone());
        }
        by_name
    }
}

/// What mapping an employee needs beyond its own row.
#[derive(Debug)]
pub(super) struct EmployeeContext {
    pub org: OrgIndex,
    /// Aliases and display names of the account's custom fields requested in the report.
    pub custom: Vec<String>,
    pub today: NaiveDate,
}

/// The report fields the connector asks for (custom fields are added from `/v1/meta/fields`).
pub(super) const REPORT_FIELDS: &[&str] = &[
    "employeeNumber",
    "firstName",
    "lastName",
    "preferredName",
    "displayName",
    "workEmail",
    "homeEmail",
    "mobilePhone",
    "gender",
    "nationality",
    "dateOfBirth",
    "ssn",
    "maritalStatus",
    "ethnicity",
    "status",
    "employmentHistoryStatus",
    "jobTitle",
    "department",
    "division",
    "location",
    "supervisorEId",
    "hireDate",
    "terminationDate",
    "address1",
    "address2",
    "city",
    "state",
    "zipcode",
    "country",
    "standardHoursPerWeek",
];

fn gender(v: Option<&str>) -> Value {
    match v.map(norm).as_deref() {
        None => Value::Null,
        Some("male" | "m") => json!("MALE"),
        Some("female" | "f") => json!("FEMALE"),
        Some("nonbinary") => json!("NON_BINARY"),
        Some(_) => json!("NOT_SPECIFIED"),
    }
}

/// Kombo's ethnicity enum from BambooHR's (EEO) ethnicity list; unknown values pass through.
fn ethnicity(v: Option<&str>) -> Value {
    let Some(raw) = v else { return Value::Null };
    let mapped = match norm(raw).as_str() {
        "white" => "WHITE",
        "asian" => "ASIAN",
        "hispanicorlatino" | "hispaniclatino" => "HISPANIC_LATINO",
        "nativehawaiianorotherpacificislander" => "HAWAIIAN",
        "americanindianoralaskanative" => "NATIVE_AMERICAN",
        "blackorafricanamerican" => "BLACK_AFRICAN_AMERICAN",
        "twoormoreraces" => "MULTIPLE_ETHNICITIES",
        "declinetoanswer" | "declinetospecify" => "DECLINE_TO_SPECIFY",
        _ => raw,
    };
    json!(mapped)
}

fn marital_status(v: Option<&str>) -> Value {
    let Some(raw) = v else { return Value::Null };
    let mapped = match norm(raw).as_str() {
        "single" => "SINGLE",
        "married" => "MARRIED",
        "domesticpartnership" | "civilpartnership" => "DOMESTIC_PARTNERSHIP",
        "widowed" => "WIDOWED",
        "divorced" => "DIVORCED",
        "separated" => "SEPARATED",
        _ => raw,
    };
    json!(mapped)
}

/// Kombo's employment type from an employment-status list value. Statuses that say nothing
/// about the type (Terminated, leave) map to null; other account-defined values pass through.
pub(super) fn employment_type(status: Option<&str>) -> Value {
    let Some(raw) = status else { return Value::Null };
    let n = norm(raw);
    let mapped = match n.as_str() {
        "fulltime" => "FULL_TIME",
        "parttime" => "PART_TIME",
        "contractor" | "contract" => "CONTRACT",
        "intern" | "internship" => "INTERNSHIP",
        "freelance" | "freelancer" => "FREELANCE",
        "workingstudent" => "WORKING_STUDENT",
        "apprentice" | "apprenticeship" => "APPRENTICESHIP",
        "trainee" | "training" => "TRAINING",
        _ if n.contains("terminated") || n.contains("leave") => return Value::Null,
        _ => raw,
    };
    json!(mapped)
}

/// Kombo's employment status from BambooHR's `status` (Active/Inactive), the current
/// employment-status value and the hire date: a terminated or inactive employee is INACTIVE,
/// one on a leave status LEAVE, one hired in the future PENDING.
fn employment_status(e: &ReportEmployee, hire: Option<NaiveDate>, today: NaiveDate) -> Value {
    let history = e.get("employmentHistoryStatus").map(norm).unwrap_or_default();
    let status = e.get("status").map(norm);
    if status.as_deref() == Some("inactive") || history.contains("terminated") {
        json!("INACTIVE")
    } else if history.contains("leave") {
        json!("LEAVE")
    } else if hire.is_some_and(|h| h > today) {
        json!("PENDING")
    } else if status.is_none() && history.is_empty() {
        Value::Null
    } else {
        json!("ACTIVE")
    }
}

/// An ISO 3166 alpha-2 code when BambooHR has one; the country name otherwise.
fn country(v: Option<&str>) -> Value {
    text(v)
}

fn home_address(e: &ReportEmployee) -> Value {
    let parts = ["address1", "address2", "city", "state", "zipcode", "country"].map(|f| e.get(f));
    if parts.iter().all(Option::is_none) {
        return Value::Null;
    }
    let raw = parts.iter().flatten().copied().collect::<Vec<_>>().join(", ");
    json!({
        "street_1": text(parts[0]),
        "street_2": text(parts[1]),
        "city": text(parts[2]),
        "state": text(parts[3]),
        "zip_code": text(parts[4]),
        "country": country(parts[5]),
        "raw": raw,
    })
}

fn field_date(e: &ReportEmployee, field: &str) -> Result<Option<NaiveDate>, String> {
    api::date(e.get(field)).map_err(|err| format!("employee {}: {field}: {err}", e.id.0))
}

pub(super) fn employee(ids: &IdGen, raw: &Value, ctx: &EmployeeContext) -> Result<SourceRecord, String> {
    let e: ReportEmployee = serde_json::from_value(raw.clone()).map_err(|err| err.to_string())?;
    let hire = field_date(&e, "hireDate")?;
    let weekly_hours = e
        .get("standardHoursPerWeek")
        .map(|h| {
            h.parse::<f64>()
                .map_err(|_| format!("employee {}: standardHoursPerWeek `{h}` is not a number", e.id.0))
        })
        .transpose()?;
    let manager = e.get("supervisorEId");
    let location = e.get("location").and_then(|l| ctx.org.locations.get(l));
    let division = e.get("division").and_then(|d| ctx.org.divisions.get(d));
    let department = e.get("department").and_then(|d| ctx.org.departments.get(d));
    let custom: Map<String, Value> = ctx
        .custom
        .iter()
        .map(|alias| (alias.clone(), text(e.get(alias))))
        .collect();

    let mut data = Map::new();
    let mut put = |k: &str, v: Value| {
        data.insert(k.to_owned(), v);
    };
    put("employee_number", text(e.get("employeeNumber")));
    put("first_name", text(e.get("firstName")));
    put("last_name", text(e.get("lastName")));
    put("nationality", text(e.get("nationality")));
    put("display_full_name", text(e.get("displayName")));
    put("job_title", text(e.get("jobTitle")));
    put("work_email", text(e.get("workEmail")));
    put("personal_email", text(e.get("homeEmail")));
    put("mobile_phone_number", text(e.get("mobilePhone")));
    put("ssn", text(e.get("ssn")));
    put("tax_id", Value::Null);
    put("gender", gender(e.get("gender")));
    put("ethnicity", ethnicity(e.get("ethnicity")));
    put("marital_status", marital_status(e.get("maritalStatus")));
    put("employment_status", employment_status(&e, hire, ctx.today));
    put("employment_type", employment_type(e.get("employmentHistoryStatus")));
    put("weekly_hours", weekly_hours.map_or(Value::Null, |h| json!(h)));
    put("avatar", Value::Null);
    put(
        "work_location_id",
        location.map_or(Value::Null, |id| json!(ids.id(Model::Locations, id))),
    );
    put(
        "legal_entity_id",
        division.map_or(Value::Null, |id| json!(ids.id(Model::LegalEntities, id))),
    );
    put(
        "manager_id",
        manager.map_or(Value::Null, |id| json!(ids.id(Model::Employees, id))),
    );
    put(
        "group_ids",
        json!(
            department
                .map(|id| ids.id(Model::Groups, id))
                .into_iter()
                .collect::<Vec<_>>()
        ),
    );
    put("home_address", home_address(&e));
    put("bank_accounts", Value::Null);
    put("date_of_birth", opt_iso(field_date(&e, "dateOfBirth")?));
    put("start_date", opt_iso(hire));
    put("termination_date", opt_iso(field_date(&e, "terminationDate")?));
    put("custom_fields", Value::Object(custom));
    put("integration_fields", json!([]));

    // Kombo's `/hris/employees` rules: changes of the linked manager, legal entity and work
    // location move the employee (edges below); group memberships move it only when added or
    // removed, which `group_ids` in its own data does, so there is no edge to the groups.
    let mut record =
        SourceRecord::new(Model::Employees, e.id.0.clone(), data).with_remote_data(json!({ endpoint::REPORT: raw }));
    if let Some(m) = manager {
        record = record.depending_on(Model::Employees, m);
    }
    if let Some(d) = division {
        record = record.depending_on(Model::LegalEntities, d.as_str());
    }
    if let Some(l) = location {
        record = record.depending_on(Model::Locations, l.as_str());
    }
    Ok(record)
}

/// A department option as a Group, a division option as a LegalEntity.
pub(super) fn list_option(model: Model, raw: &Value) -> Result<SourceRecord, String> {
    let o: ListOption = serde_json::from_value(raw.clone()).map_err(|e| e.to_string())?;
    let mut data = Map::new();
    data.insert("name".into(), json!(o.name));
    match model {
        Model::Groups => {
            data.insert("type".into(), json!("DEPARTMENT"));
            data.insert("parent_id".into(), Value::Null);
        }
        _ => {
            data.insert("address".into(), Value::Null);
        }
    }
    Ok(SourceRecord::new(model, o.id.0, data).with_remote_data(json!({ endpoint::LISTS: raw })))
}

pub(super) fn location(raw: &Value) -> Result<SourceRecord, String> {
    let l: Location = serde_json::from_value(raw.clone()).map_err(|e| e.to_string())?;
    let address = l.address.as_ref().map(|a| {
        let state = a
            .state
            .as_ref()
            .and_then(|s| s.abbreviation.as_deref().or(s.name.as_deref()));
        let country_code = a
            .country
            .as_ref()
            .and_then(|c| c.iso_code.as_deref().or(c.name.as_deref()));
        let raw_parts = [
            a.address1.as_deref(),
            a.address2.as_deref(),
            a.city.as_deref(),
            state,
            a.zipcode.as_deref(),
            country_code,
        ];
        json!({
            "street_1": text(a.address1.as_deref()),
            "street_2": text(a.address2.as_deref()),
            "city": text(a.city.as_deref()),
            "state": text(state),
            "zip_code": text(a.zipcode.as_deref()),
            "country": country(country_code),
            "raw": raw_parts.iter().flatten().filter(|p| !p.trim().is_empty()).copied().collect::<Vec<_>>().join(", "),
        })
    });
    let mut data = Map::new();
    data.insert("name".into(), json!(l.label));
    data.insert("address".into(), address.unwrap_or(Value::Null));
    data.insert("type".into(), Value::Null);
    Ok(SourceRecord::new(Model::Locations, l.id.0, data).with_remote_data(json!({ endpoint::LOCATIONS: raw })))
}

/// Effective-dated rows of one employee, oldest first.
pub(super) type History = Vec<(Option<NaiveDate>, Value)>;

/// What mapping a compensation row needs: the employee's job and status histories, to find
/// the title and employment type in effect when the compensation started.
#[derive(Debug, Default)]
pub(super) struct EmploymentContext {
    pub job_info: HashMap<String, History>,
    pub statuses: HashMap<String, History>,
}

/// The row in effect on `date`: the newest one dated on or before it.
fn in_effect(history: Option<&History>, date: Option<NaiveDate>) -> Option<&Value> {
    let history = history?;
    match date {
        Some(d) => history
            .iter()
            .rev()
            .find(|(at, _)| at.is_none_or(|at| at <= d))
            .map(|(_, v)| v),
        None => history.last().map(|(_, v)| v),
    }
}

fn pay_period(paid_per: Option<&str>) -> Value {
    let Some(raw) = paid_per else { return Value::Null };
    let mapped = match norm(raw).as_str() {
        "hour" => "HOUR",
        "day" => "DAY",
        "week" => "WEEK",
        "month" => "MONTH",
        "quarter" => "QUARTER",
        "year" => "YEAR",
        _ => raw,
    };
    json!(mapped)
}

/// Kombo's pay frequency from BambooHR's pay schedule names.
fn pay_frequency(schedule: Option<&str>) -> Value {
    let Some(raw) = schedule else { return Value::Null };
    let mapped = match norm(raw).as_str() {
        "daily" => "DAILY",
        "weekly" => "WEEKLY",
        "everyotherweek" | "biweekly" => "BIWEEKLY",
        "twiceamonth" | "semimonthly" => "SEMIMONTHLY",
        "monthly" => "MONTHLY",
        "quarterly" => "QUARTERLY",
        "twiceayear" | "semiannually" => "SEMIANNUALLY",
        "yearly" | "annually" => "ANNUALLY",
        _ => raw,
    };
    json!(mapped)
}

pub(super) fn employment(ids: &IdGen, raw: &Value, ctx: &EmploymentContext) -> Result<SourceRecord, String> {
    let c: CompensationRow = serde_json::from_value(raw.clone()).map_err(|e| e.to_string())?;
    let start = api::date(c.start_date.as_deref()).map_err(|e| format!("compensation {}: startDate: {e}", c.id.0))?;
    let employee = c.employee_id.as_str();
    let job = in_effect(ctx.job_info.get(employee), start);
    let status = in_effect(ctx.statuses.get(employee), start);
    let job_title = job
        .map(|v| serde_json::from_value::<JobInfoRow>(v.clone()))
        .transpose()
        .map_err(|e| e.to_string())?
        .and_then(|j| j.job_title);
    let status_value = status
        .map(|v| serde_json::from_value::<EmploymentStatusRow>(v.clone()))
        .transpose()
        .map_err(|e| e.to_string())?
        .and_then(|s| s.employment_status);
    let rate = c.rate.as_ref();

    let mut data = Map::new();
    data.insert("employee_id".into(), json!(ids.id(Model::Employees, employee)));
    data.insert("job_title".into(), text(job_title.as_deref()));
    data.insert(
        "pay_rate".into(),
        rate.and_then(|r| r.value).map_or(Value::Null, |v| json!(v)),
    );
    data.insert("pay_period".into(), pay_period(c.paid_per.as_deref()));
    data.insert(
        "pay_frequency".into(),
        pay_frequency(c.pay_schedule.as_deref().or(c.pay_period.as_deref())),
    );
    data.insert("employment_type".into(), employment_type(status_value.as_deref()));
    data.insert("pay_currency".into(), text(rate.and_then(|r| r.currency.as_deref())));
    data.insert("effective_date".into(), opt_iso(start));
    data.insert("custom_fields".into(), json!({}));
    data.insert("integration_fields".into(), json!([]));

    let mut remote = Map::new();
    remote.insert(endpoint::COMPENSATION.into(), raw.clone());
    if let Some(j) = job {
        remote.insert(endpoint::JOB_INFO.into(), j.clone());
    }
    if let Some(s) = status {
        remote.insert(endpoint::EMPLOYMENT_STATUS.into(), s.clone());
    }
    Ok(SourceRecord::new(Model::Employments, c.id.0, data)
        .with_remote_data(Value::Object(remote))
        .with_parent(Model::Employees, employee))
}

pub(super) fn absence_type(raw: &Value) -> Result<SourceRecord, String> {
    let t: TimeOffType = serde_json::from_value(raw.clone()).map_err(|e| e.to_string())?;
    let mut data = Map::new();
    data.insert("name".into(), json!(t.name));
    data.insert("unit".into(), unit(&t.units));
    // BambooHR requests are amounts per day: no half-day flag per type, no clock times.
    data.insert("half_days_supported".into(), Value::Null);
    data.insert("exact_times_supported".into(), json!(false));
    Ok(SourceRecord::new(Model::AbsenceTypes, t.id.0, data).with_remote_data(json!({ endpoint::TIME_OFF_TYPES: raw })))
}

fn absence_status(status: &str) -> Value {
    let mapped = match norm(status).as_str() {
        "requested" => "REQUESTED",
        "approved" => "APPROVED",
        "denied" | "declined" => "DECLINED",
        "canceled" | "cancelled" => "CANCELLED",
        "deleted" => "DELETED",
        // "superceded" (replaced by a newer request) has no Kombo counterpart.
        _ => status,
    };
    json!(mapped)
}

pub(super) fn absence(ids: &IdGen, raw: &Value) -> Result<SourceRecord, String> {
    let r: TimeOffRequest = serde_json::from_value(raw.clone()).map_err(|e| e.to_string())?;
    let context = |field: &str, e: String| format!("time off request {}: {field}: {e}", r.id.0);
    let start = api::date(Some(&r.start))
        .map_err(|e| context("start", e))?
        .ok_or_else(|| context("start", "missing".into()))?;
    let end = api::date(Some(&r.end))
        .map_err(|e| context("end", e))?
        .ok_or_else(|| context("end", "missing".into()))?;
    let created = api::date(r.created.as_deref()).map_err(|e| context("created", e))?;
    let changed = api::date(r.status.last_changed.as_deref()).map_err(|e| context("status.lastChanged", e))?;
    let in_days = norm(&r.amount.unit) == "days";
    // Half days show as a fractional amount on the first or last day of a day-based request.
    let half = |day: NaiveDate| -> Value {
        if !in_days {
            return Value::Null;
        }
        let amount = r
            .dates
            .as_ref()
            .and_then(|d| d.get(&day.format("%Y-%m-%d").to_string()))
            .map(|a| a.0);
        json!(amount.is_some_and(|a| a > 0.0 && a < 1.0))
    };

    let mut data = Map::new();
    data.insert(
        "employee_id".into(),
        json!(ids.id(Model::Employees, r.employee_id.as_str())),
    );
    data.insert("approver_id".into(), Value::Null);
    data.insert("start_date".into(), json!(start.format("%Y-%m-%d").to_string()));
    data.insert("end_date".into(), json!(end.format("%Y-%m-%d").to_string()));
    data.insert("start_half_day".into(), half(start));
    data.insert("end_half_day".into(), half(end));
    data.insert("start_time".into(), Value::Null);
    data.insert("end_time".into(), Value::Null);
    data.insert("amount".into(), json!(r.amount.amount.0));
    data.insert("unit".into(), unit(&r.amount.unit));
    data.insert("status".into(), absence_status(&r.status.status));
    data.insert(
        "employee_note".into(),
        text(r.notes.as_ref().and_then(|n| n.employee.as_deref())),
    );
    data.insert("type_id".into(), json!(ids.id(Model::AbsenceTypes, r.kind.id.as_str())));
    data.insert("remote_updated_at".into(), opt_iso(changed));
    // Kombo's `/hris/absences`: changes of the linked `type` move the absence.
    Ok(SourceRecord::new(Model::Absences, r.id.0, data)
        .with_remote_data(json!({ endpoint::TIME_OFF_REQUESTS: raw }))
        .with_remote_created_at(created.and_then(|d| d.and_hms_opt(0, 0, 0)).map(|dt| dt.and_utc()))
        .depending_on(Model::AbsenceTypes, r.kind.id.as_str()))
}

pub(super) fn balance(ids: &IdGen, employee: &RemoteId, raw: &Value) -> Result<SourceRecord, String> {
    let b: BalanceEntry = serde_json::from_value(raw.clone()).map_err(|e| e.to_string())?;
    let unit = unit(&b.units);
    let mut data = Map::new();
    data.insert("employee_id".into(), json!(ids.id(Model::Employees, employee.as_str())));
    data.insert(
        "type_id".into(),
        json!(ids.id(Model::AbsenceTypes, b.time_off_type.as_str())),
    );
    data.insert("balance".into(), json!(b.balance.0));
    data.insert("balance_unit".into(), unit.clone());
    data.insert("used".into(), b.used_year_to_date.map_or(Value::Null, |u| json!(u.0)));
    data.insert("used_unit".into(), unit);
    let remote_id = format!("{}:{}", employee.as_str(), b.time_off_type.as_str());
    // Nested under the employee (`/hris/employees` lists `time_off_balances`); Kombo's
    // `/hris/time-off-balances`: changes of the linked `type` move the balance.
    Ok(SourceRecord::new(Model::TimeOffBalances, remote_id, data)
        .with_remote_data(json!({ endpoint::CALCULATOR: raw }))
        .with_parent(Model::Employees, employee.as_str())
        .depending_on(Model::AbsenceTypes, b.time_off_type.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> EmployeeContext {
        EmployeeContext {
            org: OrgIndex::default(),
            custom: vec![],
            today: NaiveDate::from_ymd_opt(2025, 1, 1).unwrap(),
        }
    }

    #[test]
    fn statuses_follow_status_history_and_hire_date() {
        let ids = IdGen::new("bamboohr:test");
        let map = |v: Value| employee(&ids, &v, &ctx()).unwrap().data["employment_status"].clone();
        assert_eq!(
            map(json!({"id": "1", "status": "Active", "hireDate": "2020-01-01"})),
            json!("ACTIVE")
        );
        assert_eq!(
            map(json!({"id": "1", "status": "Active", "hireDate": "2026-01-01"})),
            json!("PENDING")
        );
        assert_eq!(map(json!({"id": "1", "status": "Inactive"})), json!("INACTIVE"));
        assert_eq!(
            map(json!({"id": "1", "status": "Active", "employmentHistoryStatus": "Leave of Absence"})),
            json!("LEAVE")
        );
        assert_eq!(
            map(json!({"id": "1", "status": "Active", "employmentHistoryStatus": "Terminated"})),
            json!("INACTIVE")
        );
    }

    #[test]
    fn malformed_employee_fields_are_errors() {
        let ids = IdGen::new("bamboohr:test");
        assert!(employee(&ids, &json!({"id": "1", "hireDate": "01/02/2020"}), &ctx()).is_err());
        assert!(employee(&ids, &json!({"id": "1", "standardHoursPerWeek": "forty"}), &ctx()).is_err());
        assert!(employee(&ids, &json!({"id": "1", "firstName": ["Ada"]}), &ctx()).is_err());
    }

    #[test]
    fn employment_types_and_pay_periods() {
        assert_eq!(employment_type(Some("Full-Time")), json!("FULL_TIME"));
        assert_eq!(employment_type(Some("Terminated")), Value::Null);
        assert_eq!(employment_type(Some("Seasonal")), json!("Seasonal"));
        assert_eq!(pay_period(Some("Year")), json!("YEAR"));
        assert_eq!(pay_frequency(Some("Every other week")), json!("BIWEEKLY"));
    }
}
