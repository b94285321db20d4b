//! Harvest v3's JSON objects, field for field as the v3 reference lists them (each list
//! operation's 200 item schema, <https://harvestdocs.greenhouse.io/reference/get_v3-...>;
//! transcribed with its source in `docs/sources/greenhouse.md` and
//! `docs/sources/specs/greenhouse/harvest-v3.json`). v3 is flat: parents are ids, children are
//! not embedded ("Standardizations", "Overview and philosophy"), date-times end in `_at`,
//! dates in `_on`. Properties without a value are `null`, never left out.
//!
//! The simulated company keeps less than Greenhouse shows; what it does not keep (attachments,
//! answers, custom fields) is present and empty. Resources v3 splits out of v1 objects
//! (departments, offices, sources, job owners, hiring managers, job interviews, interviewers)
//! are derived here from what the company does keep, with stable ids.

use std::collections::BTreeMap;

use chrono::{NaiveDate, SecondsFormat};
use serde_json::{Value, json};

use crate::company::{Application, Ats, Candidate, Id, Interview, Job, Offer, RejectionReason, Stage, Tag, Ts, User};

/// Greenhouse stamps milliseconds with a `Z`: `2024-12-15T03:55:00.000Z` ("Standardizations").
pub(crate) fn ts(t: Ts) -> Value {
    Value::String(t.to_rfc3339_opts(SecondsFormat::Millis, true))
}

fn opt_ts(t: Option<Ts>) -> Value {
    t.map_or(Value::Null, ts)
}

fn date(d: Option<NaiveDate>) -> Value {
    d.map_or(Value::Null, |d| Value::String(d.format("%Y-%m-%d").to_string()))
}

/// The job interview (the interview-plan slot, `/v3/job_interviews`) of a stage. The simulated
/// plan has one slot per stage; its id is derived from the stage's so that it is stable and
/// never equal to it (a connector must resolve it to its stage).
pub(crate) fn job_interview_id(stage: Id) -> Id {
    stage + 7_000_000_000
}

/// Departments, offices and sources are named in the simulated company but have ids in
/// Greenhouse: derive stable ones from the name (FNV-1a).
pub(crate) fn name_id(name: &str) -> Id {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in name.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x100000001b3);
    }
    10_000 + h % 9_000_000
}

/// An application's activity moves with every change to it; the simulated company tracks
/// edits in `updated_at` as well, so the later of the two is both its `last_activity_at` and
/// its `updated_at` (a change always moves `updated_at`, which DELTA filters on).
pub(crate) fn application_updated(a: &Application) -> Ts {
    a.last_activity_at.max(a.updated_at)
}

pub(crate) fn user(u: &User) -> Value {
    json!({
        "id": u.id,
        "name": format!("{} {}", u.first_name, u.last_name),
        "first_name": u.first_name,
        "last_name": u.last_name,
        "job_title": null,
        "primary_email": u.email,
        "emails": [u.email],
        "deactivated": u.disabled,
        "site_admin": u.site_admin,
        "agency_id": null,
        "employee_id": null,
        "linked_candidate_ids": [],
        "office_ids": [],
        "department_ids": [],
        "interviewer_tags": [],
        "custom_fields": {},
        "created_at": ts(u.created_at),
        "updated_at": ts(u.updated_at),
    })
}

pub(crate) fn tag(t: &Tag) -> Value {
    json!({"id": t.id, "name": t.name, "created_at": ts(t.updated_at), "updated_at": ts(t.updated_at)})
}

/// `type.key` is one of `WE_REJECTED_THEM | THEY_REJECTED_US | NONE_SPECIFIED |
/// SECURITY_CONCERN` (get_v3-rejection-reasons).
fn rejection_type(name: &str) -> (u32, &'static str) {
    match name {
        "We rejected them" => (1, "WE_REJECTED_THEM"),
        "They rejected us" => (2, "THEY_REJECTED_US"),
        _ => (3, "NONE_SPECIFIED"),
    }
}

pub(crate) fn rejection_reason(r: &RejectionReason) -> Value {
    let (type_id, key) = rejection_type(&r.reason_type);
    json!({
        "id": r.id,
        "name": r.name,
        "type": {"id": type_id, "key": key, "name": r.reason_type},
        "created_at": ts(r.updated_at),
        "updated_at": ts(r.updated_at),
    })
}

/// A named dimension (department, office, source) and when it first appeared.
#[derive(Debug, Clone)]
pub(crate) struct Named {
    pub name: String,
    pub created_at: Ts,
}

fn named<'a>(names: impl Iterator<Item = (&'a str, Ts)>) -> BTreeMap<Id, Named> {
    let mut out: BTreeMap<Id, Named> = BTreeMap::new();
    for (name, at) in names {
        out.entry(name_id(name))
            .and_modify(|n| n.created_at = n.created_at.min(at))
            .or_insert_with(|| Named {
                name: name.to_owned(),
                created_at: at,
            });
    }
    out
}

pub(crate) fn departments(ats: &Ats) -> BTreeMap<Id, Named> {
    named(
        ats.jobs
            .values()
            .filter_map(|j| Some((j.department.as_deref()?, j.created_at))),
    )
}

pub(crate) fn offices(ats: &Ats) -> BTreeMap<Id, Named> {
    named(
        ats.jobs
            .values()
            .filter_map(|j| Some((j.office.as_deref()?, j.created_at))),
    )
}

pub(crate) fn sources(ats: &Ats) -> BTreeMap<Id, Named> {
    named(
        ats.applications
            .values()
            .filter_map(|a| Some((a.source.as_deref()?, a.applied_at))),
    )
}

pub(crate) fn department(id: Id, d: &Named) -> Value {
    json!({
        "id": id, "name": d.name, "parent_id": null, "external_id": null,
        "created_at": ts(d.created_at), "updated_at": ts(d.created_at),
    })
}

pub(crate) fn office(id: Id, o: &Named) -> Value {
    json!({
        "id": id, "name": o.name, "location": o.name, "parent_id": null, "external_id": null,
        "primary_in_house_contact_user_id": null,
        "created_at": ts(o.created_at), "updated_at": ts(o.created_at),
    })
}

pub(crate) fn source(id: Id, s: &Named) -> Value {
    json!({
        "id": id, "name": s.name, "type": {"id": 9, "name": "Other"},
        "created_at": ts(s.created_at), "updated_at": ts(s.created_at),
    })
}

pub(crate) fn job(j: &Job) -> Value {
    json!({
        "id": j.id,
        "name": j.name,
        "requisition_id": j.requisition_id,
        "notes": j.notes,
        "confidential": j.confidential,
        "status": j.status,
        "opened_at": opt_ts(j.opened_at),
        "closed_at": opt_ts(j.closed_at),
        "is_template": false,
        "copied_from_id": null,
        "department_id": j.department.as_deref().map(name_id),
        "office_ids": j.office.as_deref().map(name_id).into_iter().collect::<Vec<_>>(),
        "custom_fields": {},
        "created_at": ts(j.created_at),
        "updated_at": ts(j.updated_at),
    })
}

/// A member of a job's hiring team as v3 lists it: `/v3/job_owners` rows (recruiters,
/// coordinators, sourcers) and `/v3/job_hiring_managers` rows.
pub(crate) struct TeamRow {
    pub id: Id,
    pub job_id: Id,
    pub user_id: Id,
    /// `None` for a hiring manager; the owner `type` otherwise.
    pub owner_type: Option<&'static str>,
    pub responsible: bool,
    pub at: Ts,
}

/// Hiring managers and recruiters of one job, ids derived from job and position (below the
/// job's own id space, stable while the team is).
pub(crate) fn team(j: &Job) -> Vec<TeamRow> {
    let mut rows = Vec::new();
    for (i, user) in j.hiring_manager_ids.iter().enumerate() {
        rows.push(TeamRow {
            id: j.id * 100 + i as Id,
            job_id: j.id,
            user_id: *user,
            owner_type: None,
            responsible: false,
            at: j.updated_at,
        });
    }
    for (i, user) in j.recruiter_ids.iter().enumerate() {
        rows.push(TeamRow {
            id: j.id * 100 + 50 + i as Id,
            job_id: j.id,
            user_id: *user,
            owner_type: Some("recruiter"),
            responsible: i == 0,
            at: j.updated_at,
        });
    }
    rows
}

pub(crate) fn job_owner(r: &TeamRow) -> Value {
    json!({
        "id": r.id, "job_id": r.job_id, "user_id": r.user_id, "type": r.owner_type,
        "responsible": r.responsible, "created_at": ts(r.at), "updated_at": ts(r.at),
    })
}

pub(crate) fn job_hiring_manager(r: &TeamRow) -> Value {
    json!({
        "id": r.id, "job_id": r.job_id, "user_id": r.user_id,
        "created_at": ts(r.at), "updated_at": ts(r.at),
    })
}

/// Stages are created with their job's interview plan.
pub(crate) fn stage_created(j: &Job, s: &Stage) -> Ts {
    j.created_at.min(s.updated_at)
}

pub(crate) fn job_interview_stage(j: &Job, s: &Stage) -> Value {
    json!({
        "id": s.id,
        "job_id": j.id,
        "name": s.name,
        "sort_order": s.priority,
        "active": true,
        "created_at": ts(stage_created(j, s)),
        "updated_at": ts(s.updated_at),
    })
}

pub(crate) fn job_interview(j: &Job, s: &Stage) -> Value {
    json!({
        "id": job_interview_id(s.id),
        "job_id": j.id,
        "job_interview_stage_id": s.id,
        "name": s.name,
        "sort_order": 0,
        "scheduling_type": "needs_scheduling",
        "duration": 45,
        "active": true,
        "require_scorecard": true,
        "created_at": ts(stage_created(j, s)),
        "updated_at": ts(s.updated_at),
    })
}

/// v3's response enum is `rejected | hired | converted | in_process` (the query says `active`
/// for `in_process`; get_v3-applications).
pub(crate) fn application_status(a: &Application) -> &str {
    match a.status.as_str() {
        "active" => "in_process",
        other => other,
    }
}

pub(crate) fn application(ats: &Ats, a: &Application) -> Value {
    let job = ats.jobs.get(&a.job_id);
    let stage = a
        .current_stage_id
        .and_then(|id| job.and_then(|j| j.stages.iter().find(|s| s.id == id)));
    let recruiter = ats.candidates.get(&a.candidate_id).and_then(|c| c.recruiter_id);
    let updated = application_updated(a);
    json!({
        "id": a.id,
        "candidate_id": a.candidate_id,
        "job_id": a.job_id,
        "job_post_id": null,
        "prospect": false,
        "prospective_job_ids": [],
        "status": application_status(a),
        // The sim keeps the stage, not a stage-visit row: the visit id is the stage id.
        "stage_id": stage.map(|s| s.id),
        "stage_name": stage.map(|s| s.name.clone()),
        "job_interview_stage_id": stage.map(|s| s.id),
        "needs_decision": false,
        "recruiter_id": recruiter,
        "coordinator_id": null,
        "referrer_id": null,
        "source_id": a.source.as_deref().map(name_id),
        "rejection_reason_id": a.rejection_reason_id,
        "rejected_at": opt_ts(a.rejected_at),
        "last_activity_at": ts(updated),
        "location_address": null,
        "agency_note_id": null,
        "answers": [],
        "custom_fields": {},
        "created_at": ts(a.applied_at),
        "updated_at": ts(updated),
    })
}

pub(crate) fn candidate(ats: &Ats, c: &Candidate) -> Value {
    let emails: Vec<Value> = c
        .emails
        .iter()
        .enumerate()
        .map(|(i, e)| json!({"value": e, "type": if i == 0 { "personal" } else { "work" }}))
        .collect();
    let phones: Vec<Value> = c
        .phone_numbers
        .iter()
        .map(|p| json!({"value": p, "type": "mobile"}))
        .collect();
    // v3 still lists a candidate's tags by name.
    let tags: Vec<&str> = c
        .tag_ids
        .iter()
        .filter_map(|id| ats.tags.get(id))
        .map(|t| t.name.as_str())
        .collect();
    json!({
        "id": c.id,
        "first_name": c.first_name,
        "last_name": c.last_name,
        "preferred_name": null,
        "company": c.company,
        "title": c.title,
        "private": false,
        "can_email": true,
        "time_zone": null,
        "tags": tags,
        "linked_user_ids": [],
        "phone_numbers": phones,
        "addresses": [],
        "email_addresses": emails,
        "website_addresses": [],
        "social_media_addresses": [],
        "custom_fields": {},
        "last_activity_at": ts(c.last_activity),
        "created_at": ts(c.created_at),
        "updated_at": ts(c.updated_at),
    })
}

pub(crate) fn interview(ats: &Ats, i: &Interview) -> Value {
    let job_id = ats.applications.get(&i.application_id).map(|a| a.job_id);
    json!({
        "id": i.id,
        "application_id": i.application_id,
        "job_id": job_id,
        "job_interview_id": i.stage_id.map(job_interview_id),
        "starts_at": ts(i.start),
        "ends_at": ts(i.end),
        "all_day_start_on": null,
        "all_day_end_on": null,
        "location": i.location,
        "video_conferencing_url": null,
        "external_event_id": null,
        "status": i.status,
        "organizer_id": i.organizer_id,
        "scheduled_at": ts(i.created_at),
        "availability_received_at": null,
        "created_at": ts(i.created_at),
        "updated_at": ts(i.updated_at),
    })
}

/// Interviewer rows of one interview, newest id first (the order lists are served in). Ids
/// are derived from the interview's and the panel position.
pub(crate) fn interviewers<'a>(ats: &'a Ats, i: &'a Interview) -> impl Iterator<Item = (Id, Value)> + 'a {
    i.interviewer_ids.iter().enumerate().rev().map(move |(n, user)| {
        let id = i.id * 32 + n as Id;
        let email = ats.users.get(user).map(|u| u.email.clone());
        (
            id,
            json!({
                "id": id,
                "interview_id": i.id,
                "user_id": user,
                "email": email,
                "response_status": "accepted",
                "scorecard_id": null,
                "created_at": ts(i.created_at),
                "updated_at": ts(i.updated_at),
            }),
        )
    })
}

/// v3 capitalises offer statuses: `Created | Accepted | Rejected | Deprecated` (get_v3-offers).
pub(crate) fn offer_status(o: &Offer) -> &'static str {
    match o.status.as_str() {
        "accepted" => "Accepted",
        "rejected" => "Rejected",
        "deprecated" => "Deprecated",
        _ => "Created",
    }
}

pub(crate) fn offer(o: &Offer) -> Value {
    json!({
        "id": o.id,
        "version": o.version,
        "application_id": o.application_id,
        "job_id": o.job_id,
        "candidate_id": o.candidate_id,
        "opening_id": null,
        "status": offer_status(o),
        "sent_on": date(o.sent_at),
        "starts_on": date(o.starts_at),
        "resolved_at": opt_ts(o.resolved_at),
        "custom_fields": {},
        "created_at": ts(o.created_at),
        "updated_at": ts(o.updated_at),
    })
}
