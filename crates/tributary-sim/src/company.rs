//! The simulated company every simulated tool serves from. HRIS tools (Personio, BambooHR)
//! render `hris`, Greenhouse renders `ats`. Each tool instance gets its own `Company`, so
//! mutating one tool never shows up in another.
//!
//! Entities live in `BTreeMap`s keyed by their numeric remote id, so listing order is stable
//! and offset pagination behaves like the real tools'. A deleted entity is removed outright:
//! real tools do not announce deletions, a FULL sync has to notice them.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

pub type Id = u64;
pub type Ts = DateTime<Utc>;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Company {
    pub name: String,
    /// The next remote id to hand out, shared by all entity kinds.
    pub next_id: Id,
    pub hris: Hris,
    pub ats: Ats,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Hris {
    pub employees: BTreeMap<Id, Employee>,
    pub departments: BTreeMap<Id, Department>,
    pub offices: BTreeMap<Id, Office>,
    pub legal_entities: BTreeMap<Id, LegalEntity>,
    pub absence_types: BTreeMap<Id, AbsenceType>,
    pub absences: BTreeMap<Id, Absence>,
    /// Keyed by (employee id, absence type id).
    pub balances: BTreeMap<(Id, Id), Balance>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EmployeeStatus {
    Active,
    Onboarding,
    Leave,
    Inactive,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Employee {
    pub id: Id,
    pub employee_number: String,
    pub first_name: String,
    pub last_name: String,
    pub preferred_name: Option<String>,
    pub email: String,
    pub personal_email: Option<String>,
    pub mobile_phone: Option<String>,
    /// "male" | "female" | "diverse"
    pub gender: String,
    pub nationality: Option<String>,
    pub birthday: Option<NaiveDate>,
    /// Sensitive: used by scope tests ("a disabled field appears in no table").
    pub ssn: Option<String>,
    pub status: EmployeeStatus,
    /// "internal" (full-time), "part_time", "external" (contractor), "intern"
    pub employment_type: String,
    pub position: String,
    pub weekly_hours: f64,
    pub department_id: Option<Id>,
    pub office_id: Option<Id>,
    pub legal_entity_id: Option<Id>,
    pub supervisor_id: Option<Id>,
    pub hire_date: NaiveDate,
    pub termination_date: Option<NaiveDate>,
    pub street: Option<String>,
    pub city: Option<String>,
    pub zip: Option<String>,
    pub country: Option<String>,
    pub iban: Option<String>,
    /// Free-form custom attributes (Personio "dynamic_..." / BambooHR custom fields).
    pub custom: BTreeMap<String, String>,
    /// The compensation / job history; the newest is current.
    pub employments: Vec<Employment>,
    pub created_at: Ts,
    pub updated_at: Ts,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Employment {
    pub id: Id,
    pub job_title: String,
    pub pay_rate: f64,
    /// "HOUR" | "MONTH" | "YEAR"
    pub pay_period: String,
    pub currency: String,
    pub employment_type: String,
    pub effective_date: NaiveDate,
    pub updated_at: Ts,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Department {
    pub id: Id,
    pub name: String,
    pub updated_at: Ts,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Office {
    pub id: Id,
    pub name: String,
    pub city: String,
    pub country: String,
    pub updated_at: Ts,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LegalEntity {
    pub id: Id,
    pub name: String,
    pub country: String,
    pub updated_at: Ts,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AbsenceType {
    pub id: Id,
    pub name: String,
    /// "days" | "hours"
    pub unit: String,
    pub half_days_allowed: bool,
    pub updated_at: Ts,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Absence {
    pub id: Id,
    pub employee_id: Id,
    pub absence_type_id: Id,
    /// "approved" | "pending" | "rejected" | "canceled"
    pub status: String,
    pub start_date: NaiveDate,
    pub end_date: NaiveDate,
    pub half_day_start: bool,
    pub half_day_end: bool,
    pub days_count: f64,
    pub comment: Option<String>,
    pub created_at: Ts,
    pub updated_at: Ts,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Balance {
    pub employee_id: Id,
    pub absence_type_id: Id,
    pub balance: f64,
    pub used: f64,
    pub updated_at: Ts,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Ats {
    pub users: BTreeMap<Id, User>,
    pub jobs: BTreeMap<Id, Job>,
    pub candidates: BTreeMap<Id, Candidate>,
    pub applications: BTreeMap<Id, Application>,
    pub tags: BTreeMap<Id, Tag>,
    pub rejection_reasons: BTreeMap<Id, RejectionReason>,
    pub interviews: BTreeMap<Id, Interview>,
    pub offers: BTreeMap<Id, Offer>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct User {
    pub id: Id,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub disabled: bool,
    pub site_admin: bool,
    pub created_at: Ts,
    pub updated_at: Ts,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Job {
    pub id: Id,
    pub name: String,
    pub requisition_id: String,
    /// "open" | "closed" | "draft"
    pub status: String,
    pub confidential: bool,
    pub department: Option<String>,
    pub office: Option<String>,
    pub notes: Option<String>,
    pub hiring_manager_ids: Vec<Id>,
    pub recruiter_ids: Vec<Id>,
    /// Ordered interview plan.
    pub stages: Vec<Stage>,
    pub opened_at: Option<Ts>,
    pub closed_at: Option<Ts>,
    pub created_at: Ts,
    pub updated_at: Ts,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Stage {
    pub id: Id,
    pub name: String,
    pub priority: u32,
    pub updated_at: Ts,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Candidate {
    pub id: Id,
    pub first_name: String,
    pub last_name: String,
    pub company: Option<String>,
    pub title: Option<String>,
    pub emails: Vec<String>,
    pub phone_numbers: Vec<String>,
    pub tag_ids: Vec<Id>,
    pub recruiter_id: Option<Id>,
    pub application_ids: Vec<Id>,
    pub created_at: Ts,
    pub updated_at: Ts,
    pub last_activity: Ts,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Application {
    pub id: Id,
    pub candidate_id: Id,
    pub job_id: Id,
    /// "active" | "rejected" | "hired" | "converted"
    pub status: String,
    pub current_stage_id: Option<Id>,
    pub source: Option<String>,
    pub rejection_reason_id: Option<Id>,
    pub rejected_at: Option<Ts>,
    pub applied_at: Ts,
    pub last_activity_at: Ts,
    pub updated_at: Ts,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Tag {
    pub id: Id,
    pub name: String,
    pub updated_at: Ts,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RejectionReason {
    pub id: Id,
    pub name: String,
    /// "We rejected them" | "They rejected us" | "None specified"
    pub reason_type: String,
    pub updated_at: Ts,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Interview {
    pub id: Id,
    pub application_id: Id,
    pub stage_id: Option<Id>,
    pub title: String,
    pub start: Ts,
    pub end: Ts,
    pub location: Option<String>,
    /// "scheduled" | "awaiting_feedback" | "complete"
    pub status: String,
    pub interviewer_ids: Vec<Id>,
    pub organizer_id: Option<Id>,
    pub created_at: Ts,
    pub updated_at: Ts,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Offer {
    pub id: Id,
    pub application_id: Id,
    pub candidate_id: Id,
    pub job_id: Id,
    /// "unresolved" | "accepted" | "rejected" | "deprecated"
    pub status: String,
    pub version: u32,
    pub starts_at: Option<NaiveDate>,
    pub sent_at: Option<NaiveDate>,
    pub resolved_at: Option<Ts>,
    pub created_at: Ts,
    pub updated_at: Ts,
}
