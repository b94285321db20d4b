//! BambooHR's documented response shapes, parsed strictly: a missing required field or a
//! value of the wrong type is an error, not a default.
//!
//! Sources: BambooHR's OpenAPI document (shipped with its official SDK,
//! `BambooHR/bhr-api-python`, `specs/public.yaml`), the field list at
//! <https://documentation.bamboohr.com/docs/list-of-field-names> and the tables at
//! <https://www.bamboohr.com/api/documentation/tables.php>.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// A BambooHR id. The OpenAPI document types ids as integers in some operations and strings in
/// others, and its samples disagree with it, so both are accepted; anything else (null, a
/// float, an object) is malformed.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RemoteId(pub String);

impl<'de> Deserialize<'de> for RemoteId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Int(u64),
            Str(String),
        }
        match Raw::deserialize(d) {
            Ok(Raw::Int(i)) => Ok(RemoteId(i.to_string())),
            Ok(Raw::Str(s)) if !s.trim().is_empty() => Ok(RemoteId(s)),
            Ok(Raw::Str(_)) => Err(serde::de::Error::custom("empty id")),
            Err(_) => Err(serde::de::Error::custom(
                "an id must be a string or an unsigned integer",
            )),
        }
    }
}

impl RemoteId {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Numeric ids sort numerically, so an ordering over them survives a refetch in which
    /// unrelated records came and went.
    pub fn sort_key(&self) -> (u64, &str) {
        (self.0.parse().unwrap_or(u64::MAX), &self.0)
    }
}

/// A decimal amount BambooHR sends as a number in some operations and as a string
/// ("24.50") in others.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Decimal(pub f64);

impl<'de> Deserialize<'de> for Decimal {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Num(f64),
            Str(String),
        }
        match Raw::deserialize(d) {
            Ok(Raw::Num(n)) => Ok(Decimal(n)),
            Ok(Raw::Str(s)) => s
                .trim()
                .parse()
                .map(Decimal)
                .map_err(|_| serde::de::Error::custom(format!("`{s}` is not a decimal number"))),
            Err(_) => Err(serde::de::Error::custom(
                "an amount must be a number or a decimal string",
            )),
        }
    }
}

/// A `YYYY-MM-DD` date. BambooHR writes an empty date as `0000-00-00`; that and `""` are `None`.
pub fn date(value: Option<&str>) -> Result<Option<NaiveDate>, String> {
    match value.map(str::trim) {
        None | Some("") | Some("0000-00-00") => Ok(None),
        Some(s) => NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .map(Some)
            .map_err(|_| format!("`{s}` is not a YYYY-MM-DD date")),
    }
}

/// `GET /v1/meta/lists`: one list field with its options.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListField {
    pub field_id: RemoteId,
    #[serde(default)]
    pub alias: Option<String>,
    pub options: Vec<Value>,
}

#[derive(Debug, Deserialize)]
pub struct ListOption {
    pub id: RemoteId,
    pub name: String,
    /// "yes" | "no"
    #[serde(default)]
    pub archived: Option<String>,
}

impl ListOption {
    pub fn is_archived(&self) -> bool {
        self.archived.as_deref() == Some("yes")
    }
}

/// `GET /v1/meta/fields`: one employee field.
#[derive(Debug, Deserialize)]
pub struct MetaField {
    /// Required by the documented shape; parsed so a field without one is rejected.
    #[allow(dead_code)]
    pub id: RemoteId,
    #[serde(default)]
    pub alias: Option<String>,
    #[serde(default)]
    pub deprecated: Option<bool>,
}

/// `POST /v1/reports/custom?format=json`.
#[derive(Debug, Deserialize)]
pub struct Report {
    pub fields: Vec<ReportField>,
    pub employees: Vec<Value>,
}

#[derive(Debug, Deserialize)]
pub struct ReportField {
    pub id: String,
}

/// One employee of a report: its id and one string (or null) per requested field.
#[derive(Debug, Deserialize)]
pub struct ReportEmployee {
    pub id: RemoteId,
    #[serde(flatten)]
    pub fields: BTreeMap<String, Option<String>>,
}

impl ReportEmployee {
    pub fn get(&self, field: &str) -> Option<&str> {
        self.fields
            .get(field)
            .and_then(|v| v.as_deref())
            .map(str::trim)
            .filter(|v| !v.is_empty())
    }
}

/// `GET /v1/employees/changed?since=`: `latest` and the changed employees by id.
#[derive(Debug, Deserialize)]
pub struct ChangedEmployees {
    /// Required by the documented shape; parsed so an answer without it is rejected.
    #[allow(dead_code)]
    pub latest: String,
    pub employees: ChangedMap,
}

/// The documented object keyed by employee id. An empty one may come as `[]` (PHP encodes an
/// empty map as a list), which is read as no changes; a non-empty list is malformed.
#[derive(Debug)]
pub struct ChangedMap(BTreeMap<String, ChangedEmployee>);

impl ChangedMap {
    pub fn into_entries(self) -> impl Iterator<Item = (String, ChangedEmployee)> {
        self.0.into_iter()
    }
}

impl<'de> Deserialize<'de> for ChangedMap {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Map(BTreeMap<String, ChangedEmployee>),
            List(Vec<Value>),
        }
        match Raw::deserialize(d) {
            Ok(Raw::Map(m)) => Ok(ChangedMap(m)),
            Ok(Raw::List(l)) if l.is_empty() => Ok(ChangedMap(BTreeMap::new())),
            _ => Err(serde::de::Error::custom(
                "`employees` must be an object of {id, action, lastChanged} keyed by employee id",
            )),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChangedEmployee {
    pub id: RemoteId,
    pub action: String,
    /// Required by the documented shape; parsed so an entry without it is rejected.
    #[allow(dead_code)]
    pub last_changed: String,
}

/// `GET /v1/hris/org/locations`: one page.
#[derive(Debug, Deserialize)]
pub struct LocationsPage {
    pub data: Vec<Value>,
    pub meta: PageMeta,
    /// `_links`: an object or null; `next` present while pages follow.
    #[serde(rename = "_links", default)]
    pub links: Option<PageLinks>,
}

#[derive(Debug, Deserialize)]
pub struct PageLinks {
    #[serde(default)]
    pub next: Option<Value>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PageMeta {
    pub page: u64,
    pub page_size: u64,
    pub total_pages: u64,
    pub total_items: u64,
}

#[derive(Debug, Deserialize)]
pub struct Location {
    pub id: RemoteId,
    pub label: String,
    #[serde(default)]
    pub address: Option<LocationAddress>,
}

#[derive(Debug, Deserialize)]
pub struct LocationAddress {
    #[serde(default)]
    pub address1: Option<String>,
    #[serde(default)]
    pub address2: Option<String>,
    #[serde(default)]
    pub city: Option<String>,
    #[serde(default)]
    pub zipcode: Option<String>,
    #[serde(default)]
    pub state: Option<LocationState>,
    #[serde(default)]
    pub country: Option<LocationCountry>,
}

#[derive(Debug, Deserialize)]
pub struct LocationState {
    #[serde(default)]
    pub abbreviation: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LocationCountry {
    #[serde(default)]
    pub iso_code: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
}

/// `GET /v1/employees/all/tables/jobInfo`: one row.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobInfoRow {
    /// Required by the documented shape; parsed so a row without one is rejected.
    #[allow(dead_code)]
    pub id: RemoteId,
    pub employee_id: RemoteId,
    pub date: Option<String>,
    #[serde(default)]
    pub job_title: Option<String>,
}

/// `GET /v1/employees/all/tables/employmentStatus`: one row.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EmploymentStatusRow {
    /// Required by the documented shape; parsed so a row without one is rejected.
    #[allow(dead_code)]
    pub id: RemoteId,
    pub employee_id: RemoteId,
    pub date: Option<String>,
    #[serde(default)]
    pub employment_status: Option<String>,
}

/// `GET /v1/employees/all/tables/compensation`: one row.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CompensationRow {
    pub id: RemoteId,
    pub employee_id: RemoteId,
    pub start_date: Option<String>,
    #[serde(default)]
    pub rate: Option<Rate>,
    #[serde(default)]
    pub paid_per: Option<String>,
    /// The pay schedule: named `payPeriod` in the table documentation, `paySchedule` in
    /// newer responses.
    #[serde(default)]
    pub pay_period: Option<String>,
    #[serde(default)]
    pub pay_schedule: Option<String>,
}

/// A currency amount: `{"value": "50000.00", "currency": "USD"}` in the tables endpoint,
/// `"56.00 USD"` in the changed-tables sample.
#[derive(Debug)]
pub struct Rate {
    pub value: Option<f64>,
    pub currency: Option<String>,
}

impl<'de> Deserialize<'de> for Rate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Object {
                value: Option<Decimal>,
                #[serde(default)]
                currency: Option<String>,
            },
            Text(String),
        }
        match Raw::deserialize(d) {
            Ok(Raw::Object { value, currency }) => Ok(Rate {
                value: value.map(|v| v.0),
                currency,
            }),
            Ok(Raw::Text(text)) => {
                let mut parts = text.split_whitespace();
                let value = parts
                    .next()
                    .map(|v| v.replace(',', "").parse::<f64>())
                    .transpose()
                    .map_err(|_| serde::de::Error::custom(format!("`{text}` is not an amount")))?;
                Ok(Rate {
                    value,
                    currency: parts.next().map(str::to_owned),
                })
            }
            Err(_) => Err(serde::de::Error::custom(
                "a rate must be {value, currency} or \"<amount> <currency>\"",
            )),
        }
    }
}

/// `GET /v1/meta/time_off/types`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TimeOffTypes {
    pub time_off_types: Vec<Value>,
}

#[derive(Debug, Deserialize)]
pub struct TimeOffType {
    pub id: RemoteId,
    pub name: String,
    /// "hours" | "days"
    pub units: String,
}

/// `GET /v1/time_off/requests`: one request.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TimeOffRequest {
    pub id: RemoteId,
    pub employee_id: RemoteId,
    pub start: String,
    pub end: String,
    #[serde(default)]
    pub created: Option<String>,
    pub status: RequestStatus,
    #[serde(rename = "type")]
    pub kind: RequestType,
    pub amount: RequestAmount,
    #[serde(default)]
    pub dates: Option<BTreeMap<String, Decimal>>,
    #[serde(default)]
    pub notes: Option<RequestNotes>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestStatus {
    pub status: String,
    #[serde(default)]
    pub last_changed: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct RequestType {
    pub id: RemoteId,
}

#[derive(Debug, Deserialize)]
pub struct RequestAmount {
    pub unit: String,
    pub amount: Decimal,
}

#[derive(Debug, Deserialize)]
pub struct RequestNotes {
    #[serde(default)]
    pub employee: Option<String>,
}

/// `GET /v1/employees/{id}/time_off/calculator`: one balance.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BalanceEntry {
    pub time_off_type: RemoteId,
    pub units: String,
    pub balance: Decimal,
    #[serde(default)]
    pub used_year_to_date: Option<Decimal>,
}

/// The error object some BambooHR endpoints answer with HTTP 200, e.g. the webhook log's
/// `{"error":{"code":429,"message":"Over rate limit, please try again in 60 seconds"}}`.
#[derive(Debug, Deserialize)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Deserialize)]
pub struct ErrorDetail {
    pub code: u16,
    #[serde(default)]
    pub message: Option<String>,
}

/// A row of an effective-dated table: whose it is and from when it applies.
pub trait DatedRow: serde::de::DeserializeOwned {
    fn employee(&self) -> &RemoteId;
    fn date(&self) -> Option<&str>;
}

impl DatedRow for JobInfoRow {
    fn employee(&self) -> &RemoteId {
        &self.employee_id
    }
    fn date(&self) -> Option<&str> {
        self.date.as_deref()
    }
}

impl DatedRow for EmploymentStatusRow {
    fn employee(&self) -> &RemoteId {
        &self.employee_id
    }
    fn date(&self) -> Option<&str> {
        self.date.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ids_accept_strings_and_integers_only() {
        assert_eq!(serde_json::from_value::<RemoteId>(json!(42)).unwrap().0, "42");
        assert_eq!(serde_json::from_value::<RemoteId>(json!("42")).unwrap().0, "42");
        assert!(serde_json::from_value::<RemoteId>(json!(null)).is_err());
        assert!(serde_json::from_value::<RemoteId>(json!(1.5)).is_err());
        assert!(serde_json::from_value::<RemoteId>(json!("")).is_err());
    }

    #[test]
    fn rates_come_as_objects_or_text() {
        let r: Rate = serde_json::from_value(json!({"value": "50000.00", "currency": "EUR"})).unwrap();
        assert_eq!((r.value, r.currency.as_deref()), (Some(50000.0), Some("EUR")));
        let r: Rate = serde_json::from_value(json!("56.00 USD")).unwrap();
        assert_eq!((r.value, r.currency.as_deref()), (Some(56.0), Some("USD")));
        assert!(serde_json::from_value::<Rate>(json!("lots")).is_err());
    }

    #[test]
    fn empty_dates_are_none_and_bad_ones_errors() {
        assert_eq!(date(Some("0000-00-00")), Ok(None));
        assert_eq!(date(None), Ok(None));
        assert_eq!(date(Some("2024-02-29")), Ok(NaiveDate::from_ymd_opt(2024, 2, 29)));
        assert!(date(Some("29.02.2024")).is_err());
    }

    #[test]
    fn report_values_must_be_strings() {
        let ok: ReportEmployee = serde_json::from_value(json!({"id": "7", "firstName": "Ada", "ssn": null})).unwrap();
        assert_eq!(ok.get("firstName"), Some("Ada"));
        assert_eq!(ok.get("ssn"), None);
        assert!(serde_json::from_value::<ReportEmployee>(json!({"id": "7", "firstName": 12})).is_err());
        assert!(serde_json::from_value::<ReportEmployee>(json!({"firstName": "Ada"})).is_err());
    }
}
