//! How the simulator's company looks through BambooHR's eyes: its labels, its date formats,
//! and the chunked writer that renders unpaginated listings.

use chrono::NaiveDate;
use serde::Serialize;
use tributary_model::ToolKind;

use crate::SimState;
use crate::company::{Company, Employee, EmployeeStatus, Id};

/// Rows rendered per read-lock acquisition.
const CHUNK: usize = 2_000;

/// Writes a JSON array row by row into a byte buffer.
pub(super) struct JsonArray<'a> {
    out: &'a mut Vec<u8>,
    first: bool,
}

impl<'a> JsonArray<'a> {
    pub(super) fn open(out: &'a mut Vec<u8>) -> Self {
        out.push(b'[');
        Self { out, first: true }
    }

    pub(super) fn push(&mut self, row: &impl Serialize) -> serde_json::Result<()> {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        serde_json::to_writer(&mut *self.out, row)
    }

    pub(super) fn is_empty(&self) -> bool {
        self.first
    }

    pub(super) fn close(self) {
        self.out.push(b']');
    }

    /// Renders the rows of a keyed collection in chunks of [`CHUNK`]: `rows` visits up to
    /// `limit` entries after `after` (from the start when `None`), writes the ones it keeps, and
    /// returns where the next chunk resumes ([`Progress::resume_after`]), `None` once the
    /// collection is exhausted. The company's read lock is taken per chunk, so
    /// a million-row listing neither clones the maps nor holds off mutations while it renders;
    /// like the real tool, a listing may then straddle a concurrent change.
    pub(super) fn fill_chunked<K: Copy>(
        &mut self,
        state: &SimState,
        mut rows: impl FnMut(&Company, Option<K>, usize, &mut Self) -> serde_json::Result<Option<K>>,
    ) -> serde_json::Result<()> {
        let mut after = None;
        loop {
            let company = state.company(ToolKind::Bamboohr);
            match rows(&company, after, CHUNK, self)? {
                Some(last) => after = Some(last),
                None => return Ok(()),
            }
        }
    }
}

/// Tracks a chunk's walk over a collection: the last key visited, and whether the chunk was
/// full (so more entries may follow).
pub(super) struct Progress<K> {
    limit: usize,
    seen: usize,
    last: Option<K>,
}

impl<K: Copy> Progress<K> {
    pub(super) fn new(limit: usize) -> Self {
        Self {
            limit,
            seen: 0,
            last: None,
        }
    }

    pub(super) fn saw(&mut self, key: K) {
        self.seen += 1;
        self.last = Some(key);
    }

    pub(super) fn resume_after(&self) -> Option<K> {
        if self.seen >= self.limit { self.last } else { None }
    }
}

/// Iterates the entries of `map` after `after`, in key order.
pub(super) fn after<K: Ord + Copy, V>(
    map: &std::collections::BTreeMap<K, V>,
    after: Option<K>,
) -> impl Iterator<Item = (&K, &V)> {
    use std::ops::Bound::{Excluded, Unbounded};
    match after {
        Some(k) => map.range((Excluded(k), Unbounded)),
        None => map.range(..),
    }
}

/// An instant as BambooHR writes one in JSON: ISO 8601 with an offset, to the second.
pub(super) fn iso(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S+00:00").to_string()
}

pub(super) fn ymd(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

/// BambooHR renders an empty date field as `0000-00-00`, not as null.
pub(super) fn ymd_or_zero(d: Option<NaiveDate>) -> String {
    d.map(ymd).unwrap_or_else(|| "0000-00-00".to_owned())
}

pub(super) fn display_name(e: &Employee) -> String {
    format!(
        "{} {}",
        e.preferred_name.as_deref().unwrap_or(&e.first_name),
        e.last_name
    )
}

/// BambooHR's default employment-status list values for the simulator's employment types.
pub(super) fn employment_status_label(employment_type: &str) -> &str {
    match employment_type {
        "internal" => "Full-Time",
        "part_time" => "Part-Time",
        "external" => "Contractor",
        "intern" => "Intern",
        other => other,
    }
}

/// The employee's current `employmentHistoryStatus`: the employment type, or the state that
/// overrides it.
pub(super) fn employment_history_status(e: &Employee) -> &str {
    match e.status {
        EmployeeStatus::Inactive => "Terminated",
        EmployeeStatus::Leave => "Leave of Absence",
        EmployeeStatus::Active | EmployeeStatus::Onboarding => employment_status_label(&e.employment_type),
    }
}

/// BambooHR's `status` field: whether the employee is active at all. New hires are active
/// with a future hire date; there is no separate onboarding state.
pub(super) fn status(e: &Employee) -> &'static str {
    match e.status {
        EmployeeStatus::Inactive => "Inactive",
        _ => "Active",
    }
}

pub(super) fn gender(g: &str) -> &str {
    match g {
        "male" => "Male",
        "female" => "Female",
        "diverse" => "Non-binary",
        other => other,
    }
}

pub(super) fn department_name(c: &Company, id: Option<Id>) -> Option<&str> {
    c.hris.departments.get(&id?).map(|d| d.name.as_str())
}

pub(super) fn location_name(c: &Company, id: Option<Id>) -> Option<&str> {
    c.hris.offices.get(&id?).map(|o| o.name.as_str())
}

/// The simulator's legal entities are BambooHR divisions: BambooHR has no legal-entity field
/// outside payroll, and companies use divisions for their business units and entities.
pub(super) fn division_name(c: &Company, id: Option<Id>) -> Option<&str> {
    c.hris.legal_entities.get(&id?).map(|l| l.name.as_str())
}

/// Decimal numbers travel as strings with a fixed precision, as BambooHR sends them.
pub(super) fn decimal(value: f64, precision: usize) -> String {
    format!("{value:.precision$}")
}

/// Hours per week as BambooHR shows them: whole numbers without decimals.
pub(super) fn hours(value: f64) -> String {
    if value.fract() == 0.0 {
        format!("{value:.0}")
    } else {
        format!("{value}")
    }
}
