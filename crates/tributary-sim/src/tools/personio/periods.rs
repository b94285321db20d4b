//! Hour-based absences: `GET /v1/company/absence-periods`.
//!
//! Personio keeps absences of types whose time unit is hours apart from day-based ones: they are
//! listed by `/company/absence-periods` only, with UUID ids, start and end as UTC date-times,
//! a duration in minutes and a per-day breakdown (Personnel Data OpenAPI file,
//! `HourlyAbsencePeriodsResponse`; <https://developer.personio.de/v1.0/reference/get_company-absence-periods>).
//! `/company/time-offs` lists the day-based ones only.
//!
//! Pagination: since 25 Aug 2023 `offset` is a page number, no longer a record offset
//! (<https://developer.personio.de/changelog/absences-api-change-in-pagination-of-hourly-absences-endpoint>),
//! like time-offs; offset 0 answers `current_page: 1` (the file's example, and
//! <https://developer.personio.de/discuss/66866d2df9527200234c2f81>), so pages count from 1
//! and 0 is page 1 as well. `limit` defaults to 200 with a documented minimum of 1 and no
//! documented maximum. `updated_from`/`updated_to` are date-times, both inclusive.
//!
//! The simulated company stores every absence the same way; an absence is hour-based when its
//! type's unit is hours. Its UUID, its clock times and its duration are derived from its id, so
//! they are as deterministic as the rest of the company.

use std::collections::HashSet;

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, Utc, Weekday};
use serde_json::{Value, json};

use super::{BadParam, Params, TIME_OFFS_MAX_LIMIT, employee_ref, page_count, timestamp};
use crate::company::{Absence, Company, Id};

/// Whether Personio lists `a` among the hour-based absences (its type counts hours).
pub(crate) fn is_hourly(company: &Company, a: &Absence) -> bool {
    company
        .hris
        .absence_types
        .get(&a.absence_type_id)
        .is_some_and(|t| t.unit == "hours")
}

/// The id Personio shows for an absence: an integer for day-based ones (time-offs), a UUID for
/// hour-based ones (absence periods). Tests compare the mirror against it.
pub fn absence_remote_id(company: &Company, a: &Absence) -> String {
    if is_hourly(company, a) {
        period_uuid(a.id)
    } else {
        a.id.to_string()
    }
}

/// A stable, random-looking version-4 UUID for an absence period.
fn period_uuid(id: Id) -> String {
    uuid_from(0x5045_5249_4f44_u64 ^ id)
}

/// The UUID an absence type carries inside absence periods (beside its numeric
/// `time_off_type_id`).
fn type_uuid(id: Id) -> String {
    uuid_from(0x0054_5950_4553_u64 ^ id.rotate_left(17))
}

fn uuid_from(seed: u64) -> String {
    let hi = mix(seed);
    let lo = mix(hi ^ seed.rotate_left(32));
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        hi >> 32,
        (hi >> 16) & 0xffff,
        hi & 0x0fff,
        0x8000 | ((lo >> 48) & 0x3fff),
        lo & 0xffff_ffff_ffff
    )
}

/// SplitMix64's finaliser: spreads neighbouring ids over the whole range.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// When an hour-based absence starts and ends, and its minutes per day. A single day is one to
/// four hours from between 08:00 and 13:00; several days run 09:00 to 17:00, eight hours on
/// every weekday between.
struct Span {
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    breakdowns: Vec<(NaiveDate, i64)>,
}

fn span(a: &Absence) -> Span {
    let at = |d: NaiveDate, h: u32| {
        d.and_time(NaiveTime::from_hms_opt(h, 0, 0).unwrap_or_default())
            .and_utc()
    };
    if a.end_date <= a.start_date {
        let h = mix(a.id);
        let from = 8 + (h % 6) as u32;
        let hours = 1 + ((h >> 8) % 4) as u32;
        return Span {
            start: at(a.start_date, from),
            end: at(a.start_date, from + hours),
            breakdowns: vec![(a.start_date, i64::from(hours) * 60)],
        };
    }
    let mut breakdowns = Vec::new();
    let mut d = a.start_date;
    while d <= a.end_date {
        if !matches!(d.weekday(), Weekday::Sat | Weekday::Sun) {
            breakdowns.push((d, 480));
        }
        d += Duration::days(1);
    }
    Span {
        start: at(a.start_date, 9),
        end: at(a.end_date, 17),
        breakdowns,
    }
}

/// One hour-based absence as `/company/absence-periods` renders it.
fn period_json(company: &Company, a: &Absence) -> Value {
    let kind = company.hris.absence_types.get(&a.absence_type_id);
    let span = span(a);
    let minutes: i64 = span.breakdowns.iter().map(|(_, m)| m).sum();
    let mut attributes = json!({
        "id": period_uuid(a.id),
        "measurement_unit": "hour",
        "effective_duration": minutes,
        "employee": employee_ref(company, a.employee_id),
        "absence_type": {
            "type": "AbsenceType",
            "attributes": {
                "id": type_uuid(a.absence_type_id),
                "name": kind.map(|t| t.name.as_str()),
                "time_off_type_id": a.absence_type_id,
            },
        },
        "certificate": {"status": "not-required"},
        "start": span.start.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        "end": span.end.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        "half_day_start": a.half_day_start,
        "half_day_end": a.half_day_end,
        "origin": "web",
        "status": a.status,
        // The simulated account creates every period in UTC, so start and end are also the
        // local times (see the ledger: other time zones are not modelled).
        "timezone": "UTC",
        "created_by": a.employee_id,
        "created_at": timestamp(a.created_at),
        "updated_at": timestamp(a.updated_at),
        "approved_at": (a.status == "approved").then(|| timestamp(a.updated_at)),
        "breakdowns": span.breakdowns.iter()
            .map(|(d, m)| json!({"date": d.format("%Y-%m-%d").to_string(), "effective_duration": m}))
            .collect::<Vec<_>>(),
    });
    // `comment` is typed as a string, not nullable: a period without one is sent without it.
    if let (Some(comment), Some(obj)) = (&a.comment, attributes.as_object_mut()) {
        obj.insert("comment".into(), json!(comment));
    }
    json!({"type": "AbsencePeriod", "attributes": attributes})
}

/// `updated_from`/`updated_to`: documented as date-times, inclusive. A bare date is read as the
/// start (`from`) or the end (`to`) of that day, as the parameter texts put it.
fn bound(params: &Params, key: &str, end_of_day: bool) -> Result<Option<DateTime<Utc>>, BadParam> {
    match params.one(key) {
        None | Some("") => Ok(None),
        Some(raw) if raw.len() == 10 => {
            let d = NaiveDate::parse_from_str(raw, "%Y-%m-%d")
                .map_err(|_| BadParam(format!("The {key} must be an ISO 8601 date-time.")))?;
            let t = if end_of_day {
                NaiveTime::from_hms_opt(23, 59, 59).unwrap_or_default()
            } else {
                NaiveTime::MIN
            };
            Ok(Some(d.and_time(t).and_utc()))
        }
        Some(_) => params.date_time(key),
    }
}

/// The body of `GET /v1/company/absence-periods` for `params`, or the parameter it refuses.
pub(super) fn list(company: &Company, params: &Params) -> Result<Value, BadParam> {
    let limit = params.number("limit", 1)?.unwrap_or(TIME_OFFS_MAX_LIMIT);
    let offset = params.number("offset", 0)?.unwrap_or(0);
    // A page number since 25 Aug 2023, from 1; 0 is page 1 too.
    let page = offset.max(1);
    let start = params.date("start_date")?;
    let end = params.date("end_date")?;
    let updated_from = bound(params, "updated_from", false)?;
    let updated_to = bound(params, "updated_to", true)?;
    let mut employees = HashSet::new();
    for raw in params.list("employees") {
        employees.insert(
            raw.parse::<Id>()
                .map_err(|_| BadParam("The employees must be integers.".into()))?,
        );
    }
    let types: HashSet<&str> = params.list("absence_types").into_iter().collect();
    let ids: HashSet<&str> = params.list("absence_periods").into_iter().collect();
    let keep = |a: &&Absence| {
        is_hourly(company, a)
            && start.is_none_or(|s| a.end_date >= s)
            && end.is_none_or(|e| a.start_date <= e)
            && updated_from.is_none_or(|t| a.updated_at >= t)
            && updated_to.is_none_or(|t| a.updated_at <= t)
            && (employees.is_empty() || employees.contains(&a.employee_id))
            && (types.is_empty() || types.contains(type_uuid(a.absence_type_id).as_str()))
            && (ids.is_empty() || ids.contains(period_uuid(a.id).as_str()))
    };
    let first = (page - 1).saturating_mul(limit);
    let mut total = 0;
    let mut data = Vec::new();
    for a in company.hris.absences.values().filter(keep) {
        if total >= first && data.len() < limit {
            data.push(period_json(company, a));
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn period_ids_are_uuids_distinct_per_absence() {
        let ids: HashSet<String> = (1..5_000).map(period_uuid).collect();
        assert_eq!(ids.len(), 4_999);
        for id in ids.iter().take(50) {
            let parsed = uuid::Uuid::parse_str(id).expect("a UUID");
            assert_eq!(parsed.get_version_num(), 4, "{id}");
        }
        assert_ne!(period_uuid(7), type_uuid(7));
    }
}
