//! Personio v1 response shapes, as documented, so that a missing required field or a wrong type
//! fails parsing instead of silently producing empty records.
//!
//! Shapes follow the Personnel Data OpenAPI file vendored in `docs/sources/specs/personio/`,
//! <https://developer.personio.de/reference/get_company-employees>,
//! <https://developer.personio.de/v1.0/reference/get_company-time-offs>,
//! <https://developer.personio.de/v1.0/reference/get_company-absence-periods>,
//! <https://developer.personio.de/changelog/attributes-deprecated-v1-get-absence-types> and
//! <https://developer.personio.de/changelog/employee-api-absence-balance>.

use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// The head every Personio body starts with; `error` is set when `success` is false.
#[derive(Debug, Deserialize)]
pub struct Head {
    pub success: Option<bool>,
    pub error: Option<ApiError>,
}

#[derive(Debug, Deserialize)]
pub struct ApiError {
    #[serde(default)]
    pub code: Option<i64>,
    #[serde(default)]
    pub message: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct AuthResponse {
    pub data: AuthData,
}

#[derive(Debug, Deserialize)]
pub struct AuthData {
    pub token: String,
}

/// One entry of `GET /company/employees/attributes`: how the account configured an attribute.
#[derive(Debug, Deserialize)]
pub struct AttributeDefinition {
    pub key: String,
    #[serde(default)]
    pub label: Option<String>,
    #[serde(default)]
    pub universal_id: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct AttributeList {
    pub data: Vec<AttributeDefinition>,
}

/// A single-record response (`GET …/{id}`): the item as a list would carry it.
#[derive(Debug, Deserialize)]
pub struct One {
    pub data: Value,
}

/// A list response. Items stay raw JSON: each is kept verbatim as `remote_data` and parsed into
/// its typed shape separately, so one bad item names itself in the error.
#[derive(Debug, Deserialize)]
pub struct List {
    #[serde(default)]
    pub metadata: Option<Metadata>,
    /// The echoed `offset`, checked only where it counts records (employees). Personio's own
    /// time-offs example echoes it as the string `"0,"`, so an echo that is not a whole number
    /// is no echo rather than a broken page.
    #[serde(default, deserialize_with = "echo")]
    pub offset: Option<u64>,
    pub data: Vec<Value>,
}

#[derive(Debug, Deserialize)]
pub struct Metadata {
    pub total_elements: u64,
    pub current_page: u64,
    pub total_pages: u64,
}

/// `{"label": .., "value": .., "type": .., "universal_id": ..}`.
#[derive(Debug, Deserialize)]
pub struct Attr<T> {
    pub value: T,
}

/// An attribute that may be absent from the response (attribute whitelisting on the API
/// credentials decides which are sent) and whose value may be null.
pub type Field<T> = Option<Attr<Option<T>>>;

/// An employee, borrowing its strings from the raw object it was read from: the raw object is
/// kept as `remote_data` anyway, so copying every attribute into owned strings would only add
/// allocations. Deserialize it from a `&Value` (see `item`), whose strings can always be lent.
#[derive(Debug, Deserialize)]
pub struct Employee<'a> {
    #[serde(borrow)]
    pub attributes: EmployeeAttributes<'a>,
}

/// The standard attributes, whose keys are the same in every account. Personal data (date of
/// birth, IBAN, address, ...) is in `dynamic_<n>` attributes numbered per account and is read
/// from the raw object through the account's attribute definitions (`map::AttributeMap`): a
/// `#[serde(flatten)]` catch-all would buffer every attribute of every employee a second time.
#[derive(Debug, Deserialize)]
pub struct EmployeeAttributes<'a> {
    pub id: Attr<u64>,
    #[serde(borrow)]
    pub first_name: Field<&'a str>,
    #[serde(borrow)]
    pub last_name: Field<&'a str>,
    #[serde(borrow)]
    pub email: Field<&'a str>,
    #[serde(borrow)]
    pub gender: Field<&'a str>,
    #[serde(borrow)]
    pub status: Field<&'a str>,
    #[serde(borrow)]
    pub position: Field<&'a str>,
    #[serde(borrow)]
    pub employment_type: Field<&'a str>,
    #[serde(default, deserialize_with = "number_field")]
    pub weekly_working_hours: Option<f64>,
    #[serde(borrow)]
    pub hire_date: Field<&'a str>,
    #[serde(borrow)]
    pub termination_date: Field<&'a str>,
    #[serde(borrow)]
    pub created_at: Field<&'a str>,
    pub supervisor: Field<EmployeeRef>,
    #[serde(borrow)]
    pub department: Field<OrgUnit<'a>>,
    #[serde(borrow)]
    pub team: Field<OrgUnit<'a>>,
    #[serde(borrow)]
    pub office: Field<OrgUnit<'a>>,
    #[serde(borrow)]
    pub subcompany: Field<OrgUnit<'a>>,
    #[serde(default, deserialize_with = "number_field")]
    pub fix_salary: Option<f64>,
    #[serde(borrow)]
    pub fix_salary_interval: Field<&'a str>,
    #[serde(default, deserialize_with = "number_field")]
    pub hourly_salary: Option<f64>,
    #[serde(borrow)]
    pub profile_picture: Field<&'a str>,
    #[serde(borrow)]
    pub employee_number: Field<&'a str>,
}

/// The short employee object nested in supervisors and time-offs.
#[derive(Debug, Deserialize)]
pub struct EmployeeRef {
    pub attributes: EmployeeRefAttributes,
}

#[derive(Debug, Deserialize)]
pub struct EmployeeRefAttributes {
    pub id: Attr<u64>,
}

/// Department, team, office or subcompany: `{"type": "Department", "attributes": {"id", "name"}}`.
#[derive(Debug, Deserialize)]
pub struct OrgUnit<'a> {
    #[serde(borrow)]
    pub attributes: OrgUnitAttributes<'a>,
}

#[derive(Debug, Deserialize)]
pub struct OrgUnitAttributes<'a> {
    /// Older accounts send departments and offices by name only.
    #[serde(default)]
    pub id: Option<u64>,
    pub name: &'a str,
}

#[derive(Debug, Deserialize)]
pub struct TimeOffType {
    pub attributes: TimeOffTypeAttributes,
}

#[derive(Debug, Deserialize)]
pub struct TimeOffTypeAttributes {
    pub id: u64,
    pub name: String,
    /// "day" or "hour".
    #[serde(default)]
    pub unit: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct TimeOff {
    pub attributes: TimeOffAttributes,
}

#[derive(Debug, Deserialize)]
pub struct TimeOffAttributes {
    pub id: u64,
    pub status: String,
    #[serde(default)]
    pub comment: Option<String>,
    pub start_date: String,
    pub end_date: String,
    #[serde(default, deserialize_with = "number")]
    pub days_count: Option<f64>,
    #[serde(default, deserialize_with = "flag")]
    pub half_day_start: Option<bool>,
    #[serde(default, deserialize_with = "flag")]
    pub half_day_end: Option<bool>,
    pub time_off_type: TimeOffTypeRef,
    pub employee: EmployeeRef,
    #[serde(default)]
    pub created_at: Option<String>,
    #[serde(default)]
    pub updated_at: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct TimeOffTypeRef {
    pub attributes: TimeOffTypeRefAttributes,
}

#[derive(Debug, Deserialize)]
pub struct TimeOffTypeRefAttributes {
    pub id: u64,
}

/// One hour-based absence of `/company/absence-periods` (`HourlyAbsence` in the Personnel Data
/// file). Only `id`, `employee` and `start` are needed to place it; the rest is optional there.
#[derive(Debug, Deserialize)]
pub struct AbsencePeriod {
    pub attributes: AbsencePeriodAttributes,
}

#[derive(Debug, Deserialize)]
pub struct AbsencePeriodAttributes {
    /// A UUID, where time-offs have integers.
    pub id: String,
    /// Minutes.
    #[serde(default, deserialize_with = "number")]
    pub effective_duration: Option<f64>,
    pub employee: EmployeeRef,
    #[serde(default)]
    pub absence_type: Option<AbsenceTypeRef>,
    /// UTC date-time.
    pub start: String,
    /// UTC date-time; `null` while the absence is open-ended.
    #[serde(default)]
    pub end: Option<String>,
    #[serde(default, deserialize_with = "flag")]
    pub half_day_start: Option<bool>,
    #[serde(default, deserialize_with = "flag")]
    pub half_day_end: Option<bool>,
    #[serde(default)]
    pub comment: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    /// The zone the period was created in; `start`/`end` are UTC regardless.
    #[serde(default)]
    pub timezone: Option<String>,
    #[serde(default)]
    pub created_at: Option<String>,
    #[serde(default)]
    pub updated_at: Option<String>,
    #[serde(default)]
    pub breakdowns: Vec<Breakdown>,
}

/// `absence_type` inside an absence period: a UUID, and the numeric id `/company/time-off-types`
/// lists (added in 2023: changelog "Additional fields in the 'Hourly Absence Period' endpoint").
/// The changelog and the file's example nest them under `attributes`; the file's schema has
/// them flat. Either is read.
#[derive(Debug, Deserialize)]
pub struct AbsenceTypeRef {
    #[serde(default)]
    pub attributes: Option<AbsenceTypeRefAttributes>,
    #[serde(default)]
    pub time_off_type_id: Option<u64>,
}

impl AbsenceTypeRef {
    pub fn time_off_type_id(&self) -> Option<u64> {
        self.attributes
            .as_ref()
            .and_then(|a| a.time_off_type_id)
            .or(self.time_off_type_id)
    }
}

#[derive(Debug, Deserialize)]
pub struct AbsenceTypeRefAttributes {
    #[serde(default)]
    pub time_off_type_id: Option<u64>,
}

/// Minutes of one local day of an absence period.
#[derive(Debug, Deserialize)]
pub struct Breakdown {
    pub date: String,
    #[serde(deserialize_with = "number")]
    pub effective_duration: Option<f64>,
}

/// One entry of `/company/employees/{id}/absences/balance`.
#[derive(Debug, Deserialize)]
pub struct Balance {
    /// The absence type's id.
    pub id: u64,
    #[serde(deserialize_with = "number")]
    pub balance: Option<f64>,
}

#[derive(Debug, Deserialize)]
pub struct BalanceList {
    pub data: Vec<Value>,
}

/// Personio sends numbers as JSON numbers or as strings (`"weekly_working_hours": "40"`); an
/// empty string means no value. Anything else is malformed.
fn number<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    use serde::de::Error;
    match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => Ok(n.as_f64()),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => s
            .trim()
            .replace(',', ".")
            .parse::<f64>()
            .map(Some)
            .map_err(|_| D::Error::custom(format!("expected a number, got \"{s}\""))),
        Some(other) => Err(D::Error::custom(format!("expected a number, got {other}"))),
    }
}

/// An attribute (`{"value": ..}`) carrying a number.
fn number_field<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    #[derive(Deserialize)]
    struct NumberAttr {
        #[serde(deserialize_with = "number")]
        value: Option<f64>,
    }
    Ok(Option::<NumberAttr>::deserialize(d)?.and_then(|a| a.value))
}

fn echo<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    Ok(match Option::<Value>::deserialize(d)? {
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    })
}

/// Half-day flags arrive as booleans or as 0/1 depending on the account's API version.
fn flag<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    use serde::de::Error;
    match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(b)),
        Some(Value::Number(n)) if n.as_f64() == Some(0.0) => Ok(Some(false)),
        Some(Value::Number(n)) if n.as_f64() == Some(1.0) => Ok(Some(true)),
        Some(other) => Err(D::Error::custom(format!("expected a boolean or 0/1, got {other}"))),
    }
}
