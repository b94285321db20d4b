//! Harvest v3's objects as its reference describes them (each list operation's 200 item
//! schema, <https://harvestdocs.greenhouse.io/reference/get_v3-...>; transcribed in
//! `docs/sources/specs/greenhouse/harvest-v3.json`), holding the fields the mapping reads.
//! Required fields are plain types, so a record missing its id or carrying a wrong type fails
//! to parse instead of producing a half-filled record; nullable fields are `Option`s. Unknown
//! extra properties are ignored: Greenhouse adds fields without notice.

use chrono::NaiveDate;
use serde::Deserialize;
use serde_json::{Map, Value};
use tributary_model::Timestamp;

#[derive(Debug, Deserialize)]
pub(crate) struct User {
    pub id: u64,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub primary_email: Option<String>,
    pub deactivated: bool,
    pub site_admin: bool,
    pub created_at: Option<Timestamp>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Tag {
    pub id: u64,
    pub name: String,
}

#[derive(Debug, Deserialize)]
pub(crate) struct RejectionReason {
    pub id: u64,
    pub name: String,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Named {
    pub id: u64,
    pub name: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Office {
    pub id: u64,
    pub name: Option<String>,
    pub location: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Job {
    pub id: u64,
    pub name: Option<String>,
    pub requisition_id: Option<String>,
    pub confidential: Option<bool>,
    pub status: String,
    pub created_at: Option<Timestamp>,
    pub opened_at: Option<Timestamp>,
    pub closed_at: Option<Timestamp>,
    pub updated_at: Option<Timestamp>,
    pub department_id: Option<u64>,
    pub office_ids: Option<Vec<u64>>,
    pub custom_fields: Option<Map<String, Value>>,
}

/// A `/v3/job_owners` row (recruiter, coordinator or sourcer) or, without `type`, a
/// `/v3/job_hiring_managers` row.
#[derive(Debug, Deserialize)]
pub(crate) struct TeamRow {
    pub id: u64,
    pub job_id: u64,
    pub user_id: u64,
    #[serde(rename = "type")]
    pub owner_type: Option<String>,
    #[serde(default)]
    pub responsible: Option<bool>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct JobInterviewStage {
    pub id: u64,
    pub name: String,
    pub job_id: u64,
    pub created_at: Option<Timestamp>,
}

/// A slot of a job's interview plan (`/v3/job_interviews`): what an interview fulfils.
#[derive(Debug, Deserialize)]
pub(crate) struct JobInterview {
    pub id: u64,
    pub job_interview_stage_id: u64,
    pub name: Option<String>,
}

/// `{"value": ..., "type": ...}`, Harvest's shape for phone numbers, e-mails and addresses.
#[derive(Debug, Deserialize)]
pub(crate) struct Typed {
    pub value: String,
    #[serde(rename = "type")]
    pub kind: Option<String>,
}

/// Social media addresses carry only a `value`.
#[derive(Debug, Deserialize)]
pub(crate) struct SocialMedia {
    pub value: String,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Candidate {
    pub id: u64,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub company: Option<String>,
    pub title: Option<String>,
    // Harvest always sends these timestamps and lists (empty lists included); a candidate
    // without them is not a candidate object, and accepting it could pass a broken page off
    // as a complete listing.
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub private: Option<bool>,
    pub phone_numbers: Vec<Typed>,
    pub addresses: Vec<Typed>,
    pub email_addresses: Vec<Typed>,
    pub social_media_addresses: Vec<SocialMedia>,
    pub tags: Vec<String>,
    pub custom_fields: Option<Map<String, Value>>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Application {
    pub id: u64,
    pub candidate_id: u64,
    pub job_id: Option<u64>,
    pub created_at: Option<Timestamp>,
    pub updated_at: Option<Timestamp>,
    pub rejected_at: Option<Timestamp>,
    pub source_id: Option<u64>,
    pub rejection_reason_id: Option<u64>,
    pub job_interview_stage_id: Option<u64>,
    pub status: String,
    pub custom_fields: Option<Map<String, Value>>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Interview {
    pub id: u64,
    pub application_id: u64,
    pub job_interview_id: Option<u64>,
    pub starts_at: Option<Timestamp>,
    pub ends_at: Option<Timestamp>,
    pub all_day_start_on: Option<NaiveDate>,
    pub all_day_end_on: Option<NaiveDate>,
    pub location: Option<String>,
    pub video_conferencing_url: Option<String>,
    pub created_at: Option<Timestamp>,
    pub updated_at: Option<Timestamp>,
}

/// A `/v3/interviewers` row: one member of an interview's panel.
#[derive(Debug, Deserialize)]
pub(crate) struct Interviewer {
    pub id: u64,
    pub interview_id: u64,
    /// `null` for external attendees.
    pub user_id: Option<u64>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Offer {
    pub id: u64,
    pub application_id: u64,
    pub created_at: Option<Timestamp>,
    pub updated_at: Option<Timestamp>,
    pub sent_on: Option<NaiveDate>,
    pub starts_on: Option<NaiveDate>,
    pub status: String,
    pub custom_fields: Option<Map<String, Value>>,
}

/// The token endpoint's answer. Greenhouse's guide names `access_token`; independent clients
/// read the expiry from `expires_at` (RFC 3339) and some from `expires_in` (seconds), so both
/// are understood (see `docs/sources/greenhouse.md`).
#[derive(Debug, Deserialize)]
pub(crate) struct TokenResponse {
    pub access_token: String,
    pub expires_at: Option<String>,
    pub expires_in: Option<u64>,
}
