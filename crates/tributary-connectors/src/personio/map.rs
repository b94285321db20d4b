//! Personio objects → unified records, following Kombo's field names and enums
//! (`GetHrisEmployeesPositiveResponse`, `GetHrisEmploymentsPositiveResponse`, ...).

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde_json::{Map, Value, json};
use tributary_model::{IdGen, Model, SourceRecord, Timestamp};

use super::wire::{self, Attr, Field};

pub const EMPLOYEES_PATH: &str = "/v1/company/employees";
pub const TIME_OFFS_PATH: &str = "/v1/company/time-offs";
pub const ABSENCE_PERIODS_PATH: &str = "/v1/company/absence-periods";
pub const TIME_OFF_TYPES_PATH: &str = "/v1/company/time-off-types";
pub const ATTRIBUTES_PATH: &str = "/v1/company/employees/attributes";
/// `remote_data` key of balances: the route template, so JSON pointers into it are static.
pub const BALANCE_PATH: &str = "/v1/company/employees/{employee_id}/absences/balance";

/// A value Personio sent that does not have the documented form.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub String);

/// A text attribute; Personio sends empty strings for unset values.
fn text(field: &Field<&str>) -> Option<String> {
    let s = field.as_ref()?.value?.trim();
    (!s.is_empty()).then(|| s.to_owned())
}

fn value<T>(field: &Field<T>) -> Option<&T> {
    field.as_ref().and_then(|a: &Attr<Option<T>>| a.value.as_ref())
}

/// Personio dates come as `2012-02-01T00:00:00+0100` (or `+01:00`, or a bare date); the calendar
/// date is what the person entered, so the offset is dropped rather than converted.
pub fn parse_date(raw: &str) -> Result<NaiveDate, Invalid> {
    raw.get(..10)
        .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
        .ok_or_else(|| Invalid(format!("`{raw}` is not a date")))
}

fn optional_date(raw: Option<String>, field: &str) -> Result<Option<NaiveDate>, Invalid> {
    raw.map(|r| parse_date(&r).map_err(|e| Invalid(format!("{field}: {e}"))))
        .transpose()
}

/// Kombo's date rendering: midnight UTC with milliseconds.
pub fn iso_date(d: NaiveDate) -> String {
    format!("{}T00:00:00.000Z", d.format("%Y-%m-%d"))
}

pub fn iso_time(t: Timestamp) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// Timestamps such as `created_at`: RFC 3339, `+0200` offsets, or naive (read as UTC).
pub fn parse_timestamp(raw: &str) -> Result<Timestamp, Invalid> {
    DateTime::parse_from_rfc3339(raw)
        .or_else(|_| DateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M:%S%z"))
        .map(|t| t.with_timezone(&Utc))
        .or_else(|_| NaiveDateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M:%S").map(|t| t.and_utc()))
        .map_err(|_| Invalid(format!("`{raw}` is not a timestamp")))
}

fn optional_timestamp(raw: Option<&str>, field: &str) -> Result<Option<Timestamp>, Invalid> {
    raw.filter(|r| !r.trim().is_empty())
        .map(|r| parse_timestamp(r).map_err(|e| Invalid(format!("{field}: {e}"))))
        .transpose()
}

fn to_map(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

fn employment_status(status: Option<&str>) -> Value {
    match status {
        Some("active") => json!("ACTIVE"),
        Some("onboarding") => json!("PENDING"),
        Some("leave") => json!("LEAVE"),
        Some("inactive") => json!("INACTIVE"),
        _ => Value::Null,
    }
}

fn gender(g: Option<&str>) -> Value {
    match g.map(str::to_ascii_lowercase).as_deref() {
        Some("male") => json!("MALE"),
        Some("female") => json!("FEMALE"),
        Some("diverse") => json!("NON_BINARY"),
        Some(_) => json!("NOT_SPECIFIED"),
        None => Value::Null,
    }
}

/// Personio's `employment_type` only says internal or external; like Kombo we read full- versus
/// part-time from the weekly hours (<https://docs.kombo.dev/hris/connectors/personio>).
fn employment_type(kind: Option<&str>, weekly_hours: Option<f64>) -> Value {
    match kind {
        Some("external") => json!("CONTRACT"),
        Some("intern") => json!("INTERNSHIP"),
        Some("part_time") => json!("PART_TIME"),
        Some("internal") => match weekly_hours {
            Some(h) if h > 0.0 && h < 30.0 => json!("PART_TIME"),
            _ => json!("FULL_TIME"),
        },
        _ => Value::Null,
    }
}

fn org_remote_id(unit: &wire::OrgUnit) -> String {
    match unit.attributes.id {
        Some(id) => id.to_string(),
        None => unit.attributes.name.to_owned(),
    }
}

/// `remote_data` of a record read from one endpoint: `{path: raw}`, taking `raw` by value so the
/// payload is moved, not copied.
pub fn remote_data(path: &str, raw: Value) -> Value {
    let mut by_path = Map::new();
    by_path.insert(path.to_owned(), raw);
    Value::Object(by_path)
}

/// A unified field filled from one of the account's configured attributes. Personio keeps
/// personal data in `dynamic_<n>` attributes numbered per account, each described by a `label`
/// and, where Personio knows the attribute, a `universal_id` (Personnel Data OpenAPI file:
/// `dynamic_21827` "IBAN" / `iban`, `dynamic_180883` "Birthday" / `date_of_birth`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Personal {
    DateOfBirth,
    Nationality,
    Ssn,
    Iban,
    Phone,
    PrivateEmail,
    Street,
    City,
    Zip,
    Country,
}

impl Personal {
    const ALL: [Personal; 10] = [
        Personal::DateOfBirth,
        Personal::Nationality,
        Personal::Ssn,
        Personal::Iban,
        Personal::Phone,
        Personal::PrivateEmail,
        Personal::Street,
        Personal::City,
        Personal::Zip,
        Personal::Country,
    ];

    /// The unified field it fills, which is also its key under `resolved` in `remote_data`.
    pub fn field(self) -> &'static str {
        match self {
            Personal::DateOfBirth => "date_of_birth",
            Personal::Nationality => "nationality",
            Personal::Ssn => "ssn",
            Personal::Iban => "bank_accounts",
            Personal::Phone => "mobile_phone_number",
            Personal::PrivateEmail => "personal_email",
            Personal::Street | Personal::City | Personal::Zip | Personal::Country => "home_address",
        }
    }

    /// Universal ids naming it. `iban` and `date_of_birth` are the documented ones; the others
    /// follow the same naming and cost nothing when an account never sends them.
    fn universal_ids(self) -> &'static [&'static str] {
        match self {
            Personal::DateOfBirth => &["date_of_birth", "birthday"],
            Personal::Nationality => &["nationality"],
            Personal::Ssn => &["social_security_number", "ssn"],
            Personal::Iban => &["iban"],
            Personal::Phone => &["phone", "mobile_phone", "phone_number"],
            Personal::PrivateEmail => &["private_email", "personal_email"],
            Personal::Street => &["address_street", "street"],
            Personal::City => &["address_city", "city"],
            Personal::Zip => &["address_zip_code", "address_postcode", "zip_code", "postcode"],
            Personal::Country => &["address_country", "country"],
        }
    }

    /// Labels naming it when the attribute has no universal id: the ones Personio's examples
    /// show ("IBAN", "Birthday", "Address, postcode") and the usual English and German names of
    /// the others, compared case-insensitively.
    fn labels(self) -> &'static [&'static str] {
        match self {
            Personal::DateOfBirth => &["birthday", "date of birth", "birth date", "geburtstag", "geburtsdatum"],
            Personal::Nationality => &["nationality", "nationalität", "staatsangehörigkeit"],
            Personal::Ssn => &["social security number", "sozialversicherungsnummer"],
            Personal::Iban => &["iban"],
            Personal::Phone => &[
                "mobile phone",
                "phone",
                "phone number",
                "mobile",
                "telefon",
                "mobilnummer",
            ],
            Personal::PrivateEmail => &[
                "private email",
                "private e-mail",
                "personal email",
                "private e-mail-adresse",
            ],
            Personal::Street => &["address, street", "street", "straße", "adresse, straße"],
            Personal::City => &["address, city", "city", "stadt", "ort", "adresse, stadt"],
            Personal::Zip => &[
                "address, postcode",
                "address, zip code",
                "postcode",
                "zip code",
                "postal code",
                "plz",
                "postleitzahl",
                "adresse, plz",
            ],
            Personal::Country => &["address, country", "country", "land", "adresse, land"],
        }
    }

    /// By universal id when there is one, else by label.
    fn resolve(universal_id: Option<&str>, label: Option<&str>) -> Option<Self> {
        if let Some(uid) = universal_id.map(str::trim).filter(|u| !u.is_empty()) {
            return Personal::ALL.into_iter().find(|p| p.universal_ids().contains(&uid));
        }
        let label = label?.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase();
        Personal::ALL.into_iter().find(|p| p.labels().contains(&label.as_str()))
    }
}

/// What each of the account's `dynamic_<n>` attributes holds, read from
/// `GET /company/employees/attributes` once per sync.
#[derive(Debug, Default)]
pub struct AttributeMap {
    by_key: HashMap<String, Personal>,
    known: std::collections::HashSet<String>,
}

impl AttributeMap {
    pub fn new(definitions: &[wire::AttributeDefinition]) -> Self {
        let mut map = AttributeMap::default();
        for d in definitions {
            map.known.insert(d.key.clone());
            if let Some(p) = Personal::resolve(d.universal_id.as_deref(), d.label.as_deref()) {
                map.by_key.insert(d.key.clone(), p);
            }
        }
        map
    }

    /// The unified field the attribute `key` fills, if any. An attribute the definitions do not
    /// list (created since they were read, or credentials that may not read them) is resolved
    /// from the label and universal id it carries in the employee object.
    pub fn role(&self, key: &str, attr: &Value) -> Option<Personal> {
        if !key.starts_with("dynamic_") {
            return None;
        }
        if self.known.contains(key) {
            return self.by_key.get(key).copied();
        }
        Personal::resolve(
            attr.get("universal_id").and_then(Value::as_str),
            attr.get("label").and_then(Value::as_str),
        )
    }
}

/// Everything one Personio employee object yields: the employee, its current employment and the
/// org units it references.
pub struct EmployeeRecords {
    /// Without `remote_data` until [`EmployeeRecords::with_raw`] moves the raw object in.
    pub employee: SourceRecord,
    pub employment: SourceRecord,
    /// Groups, locations and legal entities, keyed so a page can deduplicate them.
    pub org_units: Vec<SourceRecord>,
}

impl EmployeeRecords {
    /// Moves the employee's raw object into its `remote_data`. It is done apart from [`employee`]
    /// because the parsed employee borrows from `raw` until the mapping is done, and moving it
    /// saves copying the largest part of every page.
    ///
    /// The account's personal attributes move from `attributes` to `resolved.<unified field>`
    /// (keeping their `dynamic_<n>` key): their keys differ per account, and scope stripping
    /// needs JSON pointers that are the same for every account (see [`remote_paths`]).
    pub fn with_raw(mut self, mut raw: Value, attrs: &AttributeMap) -> Self {
        let mut resolved = Map::new();
        if let Some(attributes) = raw.get_mut("attributes").and_then(Value::as_object_mut) {
            let personal: Vec<(String, Personal)> = attributes
                .iter()
                .filter_map(|(k, v)| attrs.role(k, v).map(|p| (k.clone(), p)))
                .collect();
            for (key, p) in personal {
                if let Some(attr) = attributes.remove(&key)
                    && let Value::Object(slot) = resolved.entry(p.field()).or_insert_with(|| Value::Object(Map::new()))
                {
                    slot.insert(key, attr);
                }
            }
        }
        if !resolved.is_empty()
            && let Some(obj) = raw.as_object_mut()
        {
            obj.insert("resolved".to_owned(), Value::Object(resolved));
        }
        self.employee.remote_data = Some(remote_data(EMPLOYEES_PATH, raw));
        self
    }
}

/// Maps one employee; `raw` is the object `parsed` was read from (see [`EmployeeRecords::with_raw`]).
pub fn employee(
    ids: &IdGen,
    attrs: &AttributeMap,
    raw: &Value,
    parsed: wire::Employee<'_>,
) -> Result<EmployeeRecords, Invalid> {
    let a = parsed.attributes;
    let remote_id = a.id.value.to_string();
    let raw_attrs = raw.get("attributes").unwrap_or(&Value::Null);
    let mut org_units = Vec::new();
    let mut depends_on = Vec::new();

    let mut org = |field: &Field<wire::OrgUnit>, model: Model, group_type: Option<&str>| -> Option<String> {
        let unit = value(field)?;
        let rid = org_remote_id(unit);
        let data = match (model, group_type) {
            (Model::Groups, Some(t)) => json!({"name": unit.attributes.name, "type": t, "parent_id": null}),
            (Model::Locations, _) => json!({"name": unit.attributes.name, "address": null, "type": null}),
            _ => json!({"name": unit.attributes.name, "address": null}),
        };
        let raw_unit = field_raw(raw_attrs, model, group_type);
        org_units.push(
            SourceRecord::new(model, rid.clone(), to_map(data)).with_remote_data(remote_data(EMPLOYEES_PATH, raw_unit)),
        );
        Some(rid)
    };
    let department = org(&a.department, Model::Groups, Some("DEPARTMENT"));
    let team = org(&a.team, Model::Groups, Some("TEAM"));
    let office = org(&a.office, Model::Locations, None);
    let subcompany = org(&a.subcompany, Model::LegalEntities, None);
    let manager = value(&a.supervisor).map(|s| s.attributes.id.value.to_string());

    let group_ids: Vec<Value> = [department, team]
        .into_iter()
        .flatten()
        .map(|rid| json!(ids.id(Model::Groups, &rid)))
        .collect();
    // Kombo's `/hris/employees` rules: changes of the linked manager, legal entity and work
    // location move the employee (edges below); group memberships move it only when added or
    // removed, which `group_ids` in its own data does, so there is no edge to the groups.
    let reference =
        |model: Model, rid: &Option<String>| rid.as_ref().map(|r| json!(ids.id(model, r))).unwrap_or(Value::Null);
    for (model, rid) in [
        (Model::Employees, &manager),
        (Model::LegalEntities, &subcompany),
        (Model::Locations, &office),
    ] {
        if let Some(rid) = rid {
            depends_on.push((model, rid.clone()));
        }
    }

    let first_name = text(&a.first_name);
    let last_name = text(&a.last_name);
    let display_full_name = match (&first_name, &last_name) {
        (Some(f), Some(l)) => Some(format!("{f} {l}")),
        (Some(n), None) | (None, Some(n)) => Some(n.clone()),
        (None, None) => None,
    };
    let status = text(&a.status);
    let kind = text(&a.employment_type);
    let hire_date = optional_date(text(&a.hire_date), "hire_date")?;
    let termination_date = optional_date(text(&a.termination_date), "termination_date")?;
    // Personal data, from the account's configured attributes; unknown `dynamic_<n>`
    // attributes stay custom fields, keyed by their stable key (labels can be renamed or
    // collide).
    let mut personal: HashMap<Personal, String> = HashMap::new();
    let mut custom_fields = Map::new();
    for (key, attr) in raw_attrs.as_object().into_iter().flatten() {
        let Some(p) = attrs.role(key, attr) else {
            if key.starts_with("dynamic_") {
                custom_fields.insert(key.clone(), attr.get("value").cloned().unwrap_or(Value::Null));
            }
            continue;
        };
        match attr.get("value") {
            None | Some(Value::Null) => {}
            Some(Value::String(v)) if v.trim().is_empty() => {}
            Some(Value::String(v)) => {
                personal.entry(p).or_insert_with(|| v.trim().to_owned());
            }
            Some(other) => {
                return Err(Invalid(format!(
                    "attributes.{key}.value ({}): expected text, got {other}",
                    p.field()
                )));
            }
        }
    }
    let mut take = |p: Personal| personal.remove(&p);
    let birthday = optional_date(take(Personal::DateOfBirth), "date_of_birth")?;
    let created_at = optional_timestamp(text(&a.created_at).as_deref(), "created_at")?;

    let street = take(Personal::Street);
    let city = take(Personal::City);
    let zip = take(Personal::Zip);
    let country = take(Personal::Country);
    let home_address = if street.is_none() && city.is_none() && zip.is_none() && country.is_none() {
        Value::Null
    } else {
        let parts: Vec<&str> = [&street, &zip, &city, &country]
            .into_iter()
            .flatten()
            .map(String::as_str)
            .collect();
        json!({
            "street_1": street, "street_2": null, "city": city, "state": null,
            "zip_code": zip, "country": country, "raw": parts.join(", "),
        })
    };
    let bank_accounts = match take(Personal::Iban) {
        Some(iban) => json!([{
            "iban": iban, "bic": null, "account_number": null, "holder_name": null,
            "bank_name": null, "domestic_bank_routing": null,
        }]),
        None => json!([]),
    };
    let nationality = take(Personal::Nationality);
    let personal_email = take(Personal::PrivateEmail);
    let phone = take(Personal::Phone);
    let ssn = take(Personal::Ssn);

    let data = json!({
        "employee_number": text(&a.employee_number),
        "first_name": first_name,
        "last_name": last_name,
        "nationality": nationality,
        "display_full_name": display_full_name,
        "job_title": text(&a.position),
        "work_email": text(&a.email),
        "personal_email": personal_email,
        "mobile_phone_number": phone,
        "ssn": ssn,
        "tax_id": null,
        "gender": gender(text(&a.gender).as_deref()),
        "ethnicity": null,
        "marital_status": null,
        "employment_status": employment_status(status.as_deref()),
        "employment_type": employment_type(kind.as_deref(), a.weekly_working_hours),
        "weekly_hours": a.weekly_working_hours,
        "avatar": text(&a.profile_picture),
        "work_location_id": reference(Model::Locations, &office),
        "legal_entity_id": reference(Model::LegalEntities, &subcompany),
        "manager_id": reference(Model::Employees, &manager),
        "home_address": home_address,
        "bank_accounts": bank_accounts,
        "date_of_birth": birthday.map(iso_date),
        "start_date": hire_date.map(iso_date),
        "termination_date": termination_date.map(iso_date),
        "custom_fields": custom_fields,
        "integration_fields": [],
        "group_ids": group_ids,
    });
    let mut employee =
        SourceRecord::new(Model::Employees, remote_id.clone(), to_map(data)).with_remote_created_at(created_at);
    employee.depends_on = depends_on;

    // v1 has no compensation history: the current employment is read off the employee.
    let (pay_rate, pay_period) = match (a.fix_salary, a.hourly_salary) {
        (Some(rate), _) if rate > 0.0 => {
            let yearly = text(&a.fix_salary_interval).is_some_and(|i| i.eq_ignore_ascii_case("yearly"));
            (Some(rate), Some(if yearly { "YEAR" } else { "MONTH" }))
        }
        (_, Some(rate)) if rate > 0.0 => (Some(rate), Some("HOUR")),
        _ => (None, None),
    };
    let employment_data = json!({
        "employee_id": ids.id(Model::Employees, &remote_id),
        "job_title": text(&a.position),
        "pay_rate": pay_rate,
        "pay_period": pay_period,
        "pay_frequency": pay_period.map(|_| "MONTHLY"),
        "employment_type": employment_type(kind.as_deref(), a.weekly_working_hours),
        "pay_currency": null,
        "effective_date": hire_date.map(iso_date),
        "custom_fields": {},
        "integration_fields": [],
    });
    let employment_raw: Map<String, Value> = EMPLOYMENT_ATTRIBUTES
        .iter()
        .filter_map(|k| Some(((*k).to_owned(), raw_attrs.get(*k)?.clone())))
        .collect();
    let employment = SourceRecord::new(Model::Employments, remote_id.clone(), to_map(employment_data))
        .with_remote_data(remote_data(EMPLOYEES_PATH, json!({"attributes": employment_raw})))
        .with_parent(Model::Employees, remote_id);

    Ok(EmployeeRecords {
        employee,
        employment,
        org_units,
    })
}

/// The employee attributes an employment record is read from, kept as its raw payload.
const EMPLOYMENT_ATTRIBUTES: &[&str] = &[
    "position",
    "employment_type",
    "weekly_working_hours",
    "fix_salary",
    "fix_salary_interval",
    "hourly_salary",
    "hire_date",
];

fn field_raw(raw_attrs: &Value, model: Model, group_type: Option<&str>) -> Value {
    let key = match (model, group_type) {
        (Model::Groups, Some("TEAM")) => "team",
        (Model::Groups, _) => "department",
        (Model::Locations, _) => "office",
        _ => "subcompany",
    };
    raw_attrs
        .get(key)
        .and_then(|a| a.get("value"))
        .cloned()
        .unwrap_or(Value::Null)
}

pub fn absence_type(raw: Value, parsed: wire::TimeOffType) -> SourceRecord {
    let a = parsed.attributes;
    let hourly = a.unit.as_deref() == Some("hour");
    let data = json!({
        "name": a.name,
        "unit": if hourly { "HOURS" } else { "DAYS" },
        // Personio allows half days on day-based types and exact times on hour-based ones.
        "half_days_supported": !hourly,
        "exact_times_supported": hourly,
    });
    SourceRecord::new(Model::AbsenceTypes, a.id.to_string(), to_map(data))
        .with_remote_data(remote_data(TIME_OFF_TYPES_PATH, raw))
}

/// The unit of each absence type, by remote id, for balances.
pub fn absence_unit(parsed: &wire::TimeOffType) -> (String, &'static str) {
    let unit = if parsed.attributes.unit.as_deref() == Some("hour") {
        "HOURS"
    } else {
        "DAYS"
    };
    (parsed.attributes.id.to_string(), unit)
}

fn absence_status(s: &str) -> Value {
    match s {
        "approved" => json!("APPROVED"),
        "pending" | "requested" => json!("REQUESTED"),
        "rejected" | "declined" => json!("DECLINED"),
        "canceled" | "cancelled" => json!("CANCELLED"),
        other => json!(other),
    }
}

pub fn absence(ids: &IdGen, raw: Value, parsed: wire::TimeOff) -> Result<SourceRecord, Invalid> {
    let a = parsed.attributes;
    let start = parse_date(&a.start_date).map_err(|e| Invalid(format!("start_date: {e}")))?;
    let end = parse_date(&a.end_date).map_err(|e| Invalid(format!("end_date: {e}")))?;
    let created_at = optional_timestamp(a.created_at.as_deref(), "created_at")?;
    let updated_at = optional_timestamp(a.updated_at.as_deref(), "updated_at")?;
    let employee = a.employee.attributes.id.value.to_string();
    let type_remote_id = a.time_off_type.attributes.id.to_string();
    let data = json!({
        "employee_id": ids.id(Model::Employees, &employee),
        "approver_id": null,
        "start_date": start.format("%Y-%m-%d").to_string(),
        "end_date": end.format("%Y-%m-%d").to_string(),
        "start_half_day": a.half_day_start,
        "end_half_day": a.half_day_end,
        "start_time": null,
        "end_time": null,
        // `/company/time-offs` lists day-based absences only.
        "amount": a.days_count,
        "unit": "DAYS",
        "status": absence_status(&a.status),
        "employee_note": a.comment.filter(|c| !c.trim().is_empty()),
        "type_id": ids.id(Model::AbsenceTypes, &type_remote_id),
        "remote_updated_at": updated_at.map(iso_time),
    });
    // Kombo's `/hris/absences`: changes of the linked `type` move the absence.
    Ok(SourceRecord::new(Model::Absences, a.id.to_string(), to_map(data))
        .with_remote_data(remote_data(TIME_OFFS_PATH, raw))
        .with_remote_created_at(created_at)
        .depending_on(Model::AbsenceTypes, type_remote_id))
}

/// Whether `id` has the form of a UUID (8-4-4-4-12 hex digits). Absence periods are keyed by
/// UUIDs and time-offs by integers; that the two forms never meet is what lets both keep their
/// own id as `remote_id` without a prefix.
pub fn is_uuid(id: &str) -> bool {
    id.len() == 36
        && id.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// Zone names that mean UTC, in which a period's UTC `start`/`end` are its local times too.
fn is_utc(zone: Option<&str>) -> bool {
    zone.is_none_or(|z| {
        matches!(
            z.trim(),
            "" | "UTC" | "Etc/UTC" | "GMT" | "Etc/GMT" | "Z" | "Universal" | "Zulu"
        )
    })
}

/// An hour-based absence (`/company/absence-periods`). Kombo's dates and `HH:mm:ss` times are
/// local; Personio sends UTC date-times and names the zone the period was created in. In UTC
/// they are the same; in another zone the local days are the breakdown's dates, and the clock
/// times stay unset (the build carries no time-zone database to convert them).
pub fn absence_period(ids: &IdGen, raw: Value, parsed: wire::AbsencePeriod) -> Result<SourceRecord, Invalid> {
    let a = parsed.attributes;
    if !is_uuid(&a.id) {
        return Err(Invalid(format!("id: `{}` is not a UUID", a.id)));
    }
    let start = parse_timestamp(&a.start).map_err(|e| Invalid(format!("start: {e}")))?;
    let end = optional_timestamp(a.end.as_deref(), "end")?;
    let mut days = Vec::with_capacity(a.breakdowns.len());
    let mut minutes_by_day = 0.0;
    for (i, b) in a.breakdowns.iter().enumerate() {
        days.push(parse_date(&b.date).map_err(|e| Invalid(format!("breakdowns[{i}].date: {e}")))?);
        minutes_by_day += b.effective_duration.unwrap_or(0.0);
    }
    let (start_date, end_date, start_time, end_time) = if is_utc(a.timezone.as_deref()) {
        (
            Some(start.date_naive()),
            end.map(|e| e.date_naive()),
            Some(start.format("%H:%M:%S").to_string()),
            end.map(|e| e.format("%H:%M:%S").to_string()),
        )
    } else {
        (days.iter().min().copied(), days.iter().max().copied(), None, None)
    };
    let minutes = a
        .effective_duration
        .or_else(|| (!a.breakdowns.is_empty()).then_some(minutes_by_day));
    let created_at = optional_timestamp(a.created_at.as_deref(), "created_at")?;
    let updated_at = optional_timestamp(a.updated_at.as_deref(), "updated_at")?;
    let employee = a.employee.attributes.id.value.to_string();
    let type_remote_id = a.absence_type.and_then(|t| t.time_off_type_id()).map(|t| t.to_string());
    let data = json!({
        "employee_id": ids.id(Model::Employees, &employee),
        "approver_id": null,
        "start_date": start_date.map(|d| d.format("%Y-%m-%d").to_string()),
        "end_date": end_date.map(|d| d.format("%Y-%m-%d").to_string()),
        "start_half_day": a.half_day_start,
        "end_half_day": a.half_day_end,
        "start_time": start_time,
        "end_time": end_time,
        // `effective_duration` is in minutes; `/company/absence-periods` lists hour-based
        // absences only.
        "amount": minutes.map(|m| m / 60.0),
        "unit": "HOURS",
        "status": a.status.as_deref().map(absence_status),
        "employee_note": a.comment.filter(|c| !c.trim().is_empty()),
        "type_id": type_remote_id.as_deref().map(|t| ids.id(Model::AbsenceTypes, t)),
        "remote_updated_at": updated_at.map(iso_time),
    });
    let record = SourceRecord::new(Model::Absences, a.id, to_map(data))
        .with_remote_data(remote_data(ABSENCE_PERIODS_PATH, raw))
        .with_remote_created_at(created_at);
    Ok(match type_remote_id {
        Some(t) => record.depending_on(Model::AbsenceTypes, t),
        None => record,
    })
}

pub fn balance(
    ids: &IdGen,
    employee: &str,
    raw: Value,
    parsed: wire::Balance,
    units: &HashMap<String, &'static str>,
) -> SourceRecord {
    let type_id = parsed.id.to_string();
    let unit = units.get(&type_id).copied();
    let data = json!({
        "employee_id": ids.id(Model::Employees, employee),
        "type_id": ids.id(Model::AbsenceTypes, &type_id),
        "balance": parsed.balance,
        "balance_unit": unit,
        // The balance endpoint reports what is left, not what was used.
        "used": null,
        "used_unit": null,
    });
    // Nested under the employee (`/hris/employees` lists `time_off_balances`); Kombo's
    // `/hris/time-off-balances`: changes of the linked `type` move the balance.
    SourceRecord::new(Model::TimeOffBalances, format!("{employee}:{type_id}"), to_map(data))
        .with_remote_data(remote_data(BALANCE_PATH, raw))
        .with_parent(Model::Employees, employee)
        .depending_on(Model::AbsenceTypes, type_id)
}

/// JSON pointers (RFC 6901) into `remote_data` for a unified field.
pub fn remote_paths(model: Model, field: &str) -> Vec<String> {
    const EMP: &str = "/~1v1~1company~1employees/attributes";
    let attrs: &[&str] = match (model, field) {
        (Model::Employees, "employee_number") => &["employee_number"],
        (Model::Employees, "first_name") => &["first_name", "preferred_name"],
        (Model::Employees, "last_name") => &["last_name"],
        (Model::Employees, "display_full_name") => &["first_name", "last_name", "preferred_name"],

        (Model::Employees, "job_title") => &["position"],
        (Model::Employees, "work_email") => &["email"],
        (Model::Employees, "gender") => &["gender"],
        (Model::Employees, "employment_status") => &["status"],
        (Model::Employees, "employment_type") => &["employment_type"],
        (Model::Employees, "weekly_hours") => &["weekly_working_hours"],
        (Model::Employees, "avatar") => &["profile_picture"],
        (Model::Employees, "work_location_id" | "work_location") => &["office"],
        (Model::Employees, "legal_entity_id" | "legal_entity") => &["subcompany"],
        (Model::Employees, "manager_id" | "manager") => &["supervisor"],
        (Model::Employees, "group_ids" | "groups" | "teams") => &["department", "team"],
        // Custom attributes are `dynamic_<n>` keys, numbered per company: matched by prefix.
        (Model::Employees, "custom_fields") => &["dynamic_*"],
        (Model::Employees, "start_date") => &["hire_date"],
        (Model::Employees, "termination_date") => &["termination_date"],
        (Model::Employments, "job_title") => &["position"],
        (Model::Employments, "pay_rate") => &["fix_salary", "hourly_salary"],
        (Model::Employments, "pay_period") => &["fix_salary_interval"],
        (Model::Employments, "employment_type") => &["employment_type", "weekly_working_hours"],
        (Model::Employments, "effective_date") => &["hire_date"],
        _ => &[],
    };
    if !attrs.is_empty() {
        return attrs.iter().map(|a| format!("{EMP}/{a}")).collect();
    }
    if model == Model::Employees
        && let Some(p) = Personal::ALL.into_iter().find(|p| p.field() == field)
    {
        // Moved there by `EmployeeRecords::with_raw`, whatever the account numbers them.
        return vec![format!("/~1v1~1company~1employees/resolved/{}", p.field())];
    }
    let simple = |path: &str, keys: &[&str]| keys.iter().map(|k| format!("{path}/{k}")).collect::<Vec<_>>();
    match (model, field) {
        (Model::Groups | Model::Locations | Model::LegalEntities, "name") => {
            vec!["/~1v1~1company~1employees/attributes/name".to_owned()]
        }
        (Model::AbsenceTypes, "name") => simple("/~1v1~1company~1time-off-types/attributes", &["name"]),
        (Model::AbsenceTypes, "unit") => simple("/~1v1~1company~1time-off-types/attributes", &["unit"]),
        (Model::Absences, f) => {
            // Day-based absences come from time-offs, hour-based ones from absence periods;
            // a record keeps only its own list's payload, so pointers into both are listed.
            let (days, hours): (&[&str], &[&str]) = match f {
                "start_date" => (&["start_date"], &["start", "breakdowns"]),
                "end_date" => (&["end_date"], &["end", "breakdowns"]),
                "start_time" => (&[], &["start"]),
                "end_time" => (&[], &["end"]),
                "start_half_day" => (&["half_day_start"], &["half_day_start"]),
                "end_half_day" => (&["half_day_end"], &["half_day_end"]),
                "amount" => (&["days_count"], &["effective_duration", "breakdowns"]),
                "status" => (&["status"], &["status", "approved_at"]),
                "employee_note" => (&["comment"], &["comment"]),
                "employee_id" => (&["employee"], &["employee", "created_by"]),
                "type_id" => (&["time_off_type"], &["absence_type"]),
                "remote_updated_at" => (&["updated_at"], &["updated_at"]),
                _ => (&[], &[]),
            };
            let mut paths = simple("/~1v1~1company~1time-offs/attributes", days);
            paths.extend(simple("/~1v1~1company~1absence-periods/attributes", hours));
            paths
        }
        (Model::TimeOffBalances, "balance") => {
            vec!["/~1v1~1company~1employees~1{employee_id}~1absences~1balance/balance".to_owned()]
        }
        _ => Vec::new(),
    }
}

/// Distinct records per (model, remote id), in first-seen order.
pub fn dedup(records: Vec<SourceRecord>) -> Vec<SourceRecord> {
    let mut seen = BTreeMap::new();
    let mut out = Vec::with_capacity(records.len());
    for r in records {
        if seen.insert((r.model, r.remote_id.clone()), ()).is_none() {
            out.push(r);
        }
    }
    out
}
