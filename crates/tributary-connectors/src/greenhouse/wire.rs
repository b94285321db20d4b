//! Harvest's objects as its documentation describes them
//! (<https://developers.greenhouse.io/harvest.html>), holding the fields the mapping reads.
//! Required fields are plain types, so a record missing its id or carrying a wrong type fails
//! to parse instead of producing a half-filled record; documented-nullable fields are
//! `Option`s. Unknown extra properties are ignored: Harvest reserves the right to add them.

use chrono::NaiveDate;
use serde::Deserialize;
use serde_json::{Map, Value};
use tributary_model::Timestamp;

#[derive(Debug, Deserialize)]
pub(crate) struct User {
    pub id: u64,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub primary_email_address: Option<String>,
    pub disabled: bool,
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
pub(crate) struct IdName {
    pub id: u64,
    pub name: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct UserRef {
    pub id: u64,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Office {
    pub name: Option<String>,
    pub location: Option<OfficeLocation>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct OfficeLocation {
    pub name: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct HiringTeam {
    #[serde(default)]
    pub hiring_managers: Vec<UserRef>,
    #[serde(default)]
    pub recruiters: Vec<UserRef>,
    #[serde(default)]
    pub coordinators: Vec<UserRef>,
    #[serde(default)]
    pub sourcers: Vec<UserRef>,
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
    #[serde(default)]
    pub departments: Vec<IdName>,
    #[serde(default)]
    pub offices: Vec<Office>,
    pub custom_fields: Option<Map<String, Value>>,
    pub hiring_team: Option<HiringTeam>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct StageInterview {
    pub id: u64,
}

#[derive(Debug, Deserialize)]
pub(crate) struct JobStage {
    pub id: u64,
    pub name: String,
    pub job_id: u64,
    pub created_at: Option<Timestamp>,
    #[serde(default)]
    pub interviews: Vec<StageInterview>,
}

/// `{"value": ..., "type": ...}`, Harvest's shape for phone numbers, e-mails and addresses.
#[derive(Debug, Deserialize)]
pub(crate) struct Typed {
    pub value: String,
    #[serde(rename = "type")]
    pub kind: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Source {
    pub public_name: Option<String>,
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
    pub is_private: Option<bool>,
    pub phone_numbers: Vec<Typed>,
    pub addresses: Vec<Typed>,
    pub email_addresses: Vec<Typed>,
    pub social_media_addresses: Vec<SocialMedia>,
    pub tags: Vec<String>,
    pub applications: Vec<Application>,
    pub custom_fields: Option<Map<String, Value>>,
}

/// Social media addresses carry only a `value`.
#[derive(Debug, Deserialize)]
pub(crate) struct SocialMedia {
    pub value: String,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Application {
    pub id: u64,
    pub candidate_id: u64,
    pub applied_at: Option<Timestamp>,
    pub rejected_at: Option<Timestamp>,
    pub last_activity_at: Option<Timestamp>,
    pub source: Option<Source>,
    pub rejection_reason: Option<RejectionReason>,
    #[serde(default)]
    pub jobs: Vec<IdName>,
    pub status: String,
    pub current_stage: Option<IdName>,
    pub custom_fields: Option<Map<String, Value>>,
}

/// A precise `date_time`, or a `date` for all-day interviews.
#[derive(Debug, Deserialize)]
pub(crate) struct When {
    pub date_time: Option<Timestamp>,
    pub date: Option<NaiveDate>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct ScheduledInterview {
    pub id: u64,
    pub application_id: u64,
    pub start: Option<When>,
    pub end: Option<When>,
    pub location: Option<String>,
    pub video_conferencing_url: Option<String>,
    pub created_at: Option<Timestamp>,
    pub updated_at: Option<Timestamp>,
    pub interview: Option<IdName>,
    #[serde(default)]
    pub interviewers: Vec<UserRef>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Offer {
    pub id: u64,
    pub application_id: u64,
    pub created_at: Option<Timestamp>,
    pub updated_at: Option<Timestamp>,
    pub sent_at: Option<NaiveDate>,
    pub starts_at: Option<NaiveDate>,
    pub status: String,
    pub custom_fields: Option<Map<String, Value>>,
}
