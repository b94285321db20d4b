//! Harvest's JSON objects, field for field as the docs show them
//! (<https://developers.greenhouse.io/harvest.html>: "The user object", "The candidate tag
//! object", "The rejection reason object", "The job object", "The job stage object", "The
//! candidate object", "The application object", "The Scheduled Interview object", "The offer
//! object"). Properties without a value are `null`, never left out (#general-considerations).
//! Where the simulated company keeps less than Greenhouse shows (attachments, addresses,
//! openings, custom fields), the field is present and empty.

use chrono::{NaiveDate, SecondsFormat};
use serde_json::{Value, json};

use crate::company::{Application, Ats, Candidate, Id, Interview, Job, Offer, RejectionReason, Stage, Tag, Ts, User};

/// Greenhouse stamps milliseconds with a `Z`: `2016-02-03T16:38:46.985Z`.
fn ts(t: Ts) -> Value {
    Value::String(t.to_rfc3339_opts(SecondsFormat::Millis, true))
}

fn opt_ts(t: Option<Ts>) -> Value {
    t.map_or(Value::Null, ts)
}

fn date(d: Option<NaiveDate>) -> Value {
    d.map_or(Value::Null, |d| Value::String(d.format("%Y-%m-%d").to_string()))
}

/// Interview steps (the interview types of a stage's plan) have their own ids in Greenhouse.
/// The simulated plan has one step per stage; its id is derived from the stage's so that it
/// is stable and never equal to it (a connector must resolve it through the job stages).
pub(crate) fn interview_step_id(stage: Id) -> Id {
    stage + 7_000_000_000
}

/// Departments, offices and sources are named in the simulated company but have ids in
/// Greenhouse: derive stable ones from the name (FNV-1a).
fn name_id(name: &str) -> Id {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in name.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x100000001b3);
    }
    10_000 + h % 9_000_000
}

/// Greenhouse's application activity moves with every change to the application; the
/// simulated company tracks edits in `updated_at` as well, so the later of the two counts.
pub(crate) fn last_activity(a: &Application) -> Ts {
    a.last_activity_at.max(a.updated_at)
}

fn user_ref(ats: &Ats, id: Id) -> Value {
    match ats.users.get(&id) {
        Some(u) => json!({
            "id": u.id,
            "first_name": u.first_name,
            "last_name": u.last_name,
            "name": format!("{} {}", u.first_name, u.last_name),
            "employee_id": null,
        }),
        None => json!({"id": id, "first_name": null, "last_name": null, "name": null, "employee_id": null}),
    }
}

pub(crate) fn user(u: &User) -> Value {
    json!({
        "id": u.id,
        "name": format!("{} {}", u.first_name, u.last_name),
        "first_name": u.first_name,
        "last_name": u.last_name,
        "primary_email_address": u.email,
        "updated_at": ts(u.updated_at),
        "created_at": ts(u.created_at),
        "disabled": u.disabled,
        "site_admin": u.site_admin,
        "emails": [u.email],
        "employee_id": null,
        "linked_candidate_ids": [],
        "offices": [],
        "departments": [],
    })
}

pub(crate) fn tag(t: &Tag) -> Value {
    json!({"id": t.id, "name": t.name})
}

fn rejection_type_id(name: &str) -> u32 {
    match name {
        "We rejected them" => 1,
        "They rejected us" => 2,
        _ => 3,
    }
}

pub(crate) fn rejection_reason(r: &RejectionReason) -> Value {
    json!({
        "id": r.id,
        "name": r.name,
        "type": {"id": rejection_type_id(&r.reason_type), "name": r.reason_type},
    })
}

pub(crate) fn job(ats: &Ats, j: &Job) -> Value {
    let departments: Vec<Value> = j
        .department
        .iter()
        .map(|d| {
            json!({
                "id": name_id(d), "name": d, "parent_id": null, "parent_department_external_id": null,
                "child_ids": [], "child_department_external_ids": [], "external_id": null,
            })
        })
        .collect();
    let offices: Vec<Value> = j
        .office
        .iter()
        .map(|o| {
            json!({
                "id": name_id(o), "name": o, "location": {"name": o}, "primary_contact_user_id": null,
                "parent_id": null, "parent_office_external_id": null, "child_ids": [],
                "child_office_external_ids": [], "external_id": null,
            })
        })
        .collect();
    let recruiters: Vec<Value> = j
        .recruiter_ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            let mut r = user_ref(ats, *id);
            r["responsible"] = json!(i == 0);
            r
        })
        .collect();
    json!({
        "id": j.id,
        "name": j.name,
        "requisition_id": j.requisition_id,
        "notes": j.notes,
        "confidential": j.confidential,
        "status": j.status,
        "created_at": ts(j.created_at),
        "opened_at": opt_ts(j.opened_at),
        "closed_at": opt_ts(j.closed_at),
        "updated_at": ts(j.updated_at),
        "is_template": false,
        "copied_from_id": null,
        "departments": departments,
        "offices": offices,
        "custom_fields": {},
        "keyed_custom_fields": {},
        "hiring_team": {
            "hiring_managers": j.hiring_manager_ids.iter().map(|id| user_ref(ats, *id)).collect::<Vec<_>>(),
            "recruiters": recruiters,
            "coordinators": [],
            "sourcers": [],
        },
        "openings": [],
    })
}

pub(crate) fn job_stage(j: &Job, s: &Stage) -> Value {
    json!({
        "id": s.id,
        "name": s.name,
        // Stages are created with their job's interview plan.
        "created_at": ts(j.created_at.min(s.updated_at)),
        "updated_at": ts(s.updated_at),
        "active": true,
        "job_id": j.id,
        "priority": s.priority,
        "interviews": [{
            "id": interview_step_id(s.id),
            "name": s.name,
            "schedulable": true,
            "estimated_minutes": 45,
            "default_interviewer_users": [],
            "interview_kit": {"id": interview_step_id(s.id), "content": null, "questions": []},
        }],
    })
}

fn application_stage(ats: &Ats, a: &Application) -> Value {
    let Some(stage_id) = a.current_stage_id else {
        return Value::Null;
    };
    let name = ats
        .jobs
        .get(&a.job_id)
        .and_then(|j| j.stages.iter().find(|s| s.id == stage_id))
        .map(|s| s.name.clone());
    json!({"id": stage_id, "name": name})
}

pub(crate) fn application(ats: &Ats, a: &Application) -> Value {
    let job_name = ats.jobs.get(&a.job_id).map(|j| j.name.clone());
    let rejection_reason = a
        .rejection_reason_id
        .and_then(|id| ats.rejection_reasons.get(&id))
        .map_or(Value::Null, rejection_reason);
    let rejected = a.status == "rejected";
    let recruiter = ats
        .candidates
        .get(&a.candidate_id)
        .and_then(|c| c.recruiter_id)
        .map_or(Value::Null, |id| user_ref(ats, id));
    json!({
        "id": a.id,
        "candidate_id": a.candidate_id,
        "prospect": false,
        "applied_at": ts(a.applied_at),
        "rejected_at": opt_ts(a.rejected_at),
        "last_activity_at": ts(last_activity(a)),
        "location": null,
        "source": a.source.as_ref().map_or(Value::Null, |s| json!({"id": name_id(s), "public_name": s})),
        "credited_to": null,
        "recruiter": recruiter,
        "coordinator": null,
        "rejection_reason": rejection_reason,
        "rejection_details": if rejected { json!({"custom_fields": {}, "keyed_custom_fields": {}}) } else { Value::Null },
        "jobs": [{"id": a.job_id, "name": job_name}],
        "job_post_id": null,
        "status": a.status,
        "current_stage": application_stage(ats, a),
        "answers": [],
        "prospective_office": null,
        "prospective_department": null,
        "prospect_detail": {"prospect_pool": null, "prospect_stage": null, "prospect_owner": null},
        "custom_fields": {},
        "keyed_custom_fields": {},
        "attachments": [],
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
    // Harvest lists a candidate's tags by name, not by id.
    let tags: Vec<&str> = c
        .tag_ids
        .iter()
        .filter_map(|id| ats.tags.get(id))
        .map(|t| t.name.as_str())
        .collect();
    let applications: Vec<Value> = c
        .application_ids
        .iter()
        .filter_map(|id| ats.applications.get(id))
        .map(|a| application(ats, a))
        .collect();
    json!({
        "id": c.id,
        "first_name": c.first_name,
        "last_name": c.last_name,
        "company": c.company,
        "title": c.title,
        "created_at": ts(c.created_at),
        "updated_at": ts(c.updated_at),
        "last_activity": ts(c.last_activity),
        "is_private": false,
        "photo_url": null,
        "attachments": [],
        "application_ids": c.application_ids,
        "phone_numbers": phones,
        "addresses": [],
        "email_addresses": emails,
        "website_addresses": [],
        "social_media_addresses": [],
        "recruiter": c.recruiter_id.map_or(Value::Null, |id| user_ref(ats, id)),
        "coordinator": null,
        "can_email": true,
        "tags": tags,
        "applications": applications,
        "educations": [],
        "employments": [],
        "linked_user_ids": [],
        "custom_fields": {},
        "keyed_custom_fields": {},
    })
}

pub(crate) fn scheduled_interview(ats: &Ats, i: &Interview) -> Value {
    let interviewers: Vec<Value> = i
        .interviewer_ids
        .iter()
        .map(|id| {
            let u = ats.users.get(id);
            json!({
                "id": id,
                "employee_id": null,
                "name": u.map(|u| format!("{} {}", u.first_name, u.last_name)),
                "email": u.map(|u| u.email.clone()),
                "response_status": "accepted",
                "scorecard_id": null,
            })
        })
        .collect();
    json!({
        "id": i.id,
        "application_id": i.application_id,
        "external_event_id": null,
        "start": {"date_time": ts(i.start)},
        "end": {"date_time": ts(i.end)},
        "location": i.location,
        "video_conferencing_url": null,
        "status": i.status,
        "created_at": ts(i.created_at),
        "updated_at": ts(i.updated_at),
        "interview": i.stage_id.map_or(Value::Null, |s| json!({"id": interview_step_id(s), "name": i.title})),
        "organizer": i.organizer_id.map_or(Value::Null, |id| user_ref(ats, id)),
        "interviewers": interviewers,
    })
}

pub(crate) fn offer(o: &Offer) -> Value {
    json!({
        "id": o.id,
        "version": o.version,
        "application_id": o.application_id,
        "job_id": o.job_id,
        "candidate_id": o.candidate_id,
        "opening": null,
        "created_at": ts(o.created_at),
        "updated_at": ts(o.updated_at),
        "sent_at": date(o.sent_at),
        "resolved_at": opt_ts(o.resolved_at),
        "starts_at": date(o.starts_at),
        "status": o.status,
        "custom_fields": {},
        "keyed_custom_fields": {},
    })
}
