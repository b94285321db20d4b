//! Harvest objects → unified ATS records, in the shape of Kombo's `GetAts*PositiveResponse`
//! items (see /work/shared/reference/kombo-openapi.json and the data conventions): Kombo's
//! field names and enums, ISO-8601 dates with milliseconds, references as unified ids, and
//! nested models left to the gateway.

use chrono::{NaiveDate, SecondsFormat};
use serde_json::{Map, Value, json};
use tributary_model::{IdGen, Model, SourceRecord, Timestamp};

use super::wire;

pub(crate) const USERS: &str = "/v1/users";
pub(crate) const TAGS: &str = "/v1/tags/candidate";
pub(crate) const REJECTION_REASONS: &str = "/v1/rejection_reasons";
pub(crate) const JOBS: &str = "/v1/jobs";
pub(crate) const JOB_STAGES: &str = "/v1/job_stages";
pub(crate) const CANDIDATES: &str = "/v1/candidates";
pub(crate) const APPLICATIONS: &str = "/v1/applications";
pub(crate) const SCHEDULED_INTERVIEWS: &str = "/v1/scheduled_interviews";
pub(crate) const OFFERS: &str = "/v1/offers";

fn ts(t: Option<Timestamp>) -> Value {
    t.map_or(Value::Null, |t| {
        Value::String(t.to_rfc3339_opts(SecondsFormat::Millis, true))
    })
}

fn date(d: Option<NaiveDate>) -> Value {
    d.and_then(|d| d.and_hms_opt(0, 0, 0))
        .map_or(Value::Null, |t| ts(Some(t.and_utc())))
}

fn object(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// Kombo's location object when all we have is free text.
fn raw_location(raw: Option<&str>) -> Value {
    match raw {
        Some(raw) => json!({
            "city": null, "country": null, "raw": raw, "state": null,
            "street_1": null, "street_2": null, "zip_code": null,
        }),
        None => Value::Null,
    }
}

fn record(model: Model, id: u64, data: Value, path: &str, raw: Value) -> SourceRecord {
    SourceRecord::new(model, id.to_string(), object(data)).with_remote_data(json!({ path: raw }))
}

pub(crate) fn user(u: wire::User, raw: Value) -> SourceRecord {
    // Harvest shows only the site-admin flag at the system level; job-level roles live on jobs.
    let system_roles = if u.site_admin {
        json!([{"remote_id": null, "remote_label": "Site Admin", "scope": "SYSTEM", "unified_type": "ADMIN"}])
    } else {
        json!([])
    };
    let data = json!({
        "first_name": u.first_name,
        "last_name": u.last_name,
        "email": u.primary_email_address,
        "status": if u.disabled { "INACTIVE" } else { "ACTIVE" },
        "system_roles": system_roles,
    });
    record(Model::Users, u.id, data, USERS, raw).with_remote_created_at(u.created_at)
}

pub(crate) fn tag(t: wire::Tag, raw: Value) -> SourceRecord {
    record(Model::Tags, t.id, json!({ "name": t.name }), TAGS, raw)
}

pub(crate) fn rejection_reason(r: wire::RejectionReason, raw: Value) -> SourceRecord {
    record(
        Model::RejectionReasons,
        r.id,
        json!({ "name": r.name }),
        REJECTION_REASONS,
        raw,
    )
}

fn job_status(status: &str) -> Value {
    match status {
        "open" => json!("OPEN"),
        "closed" => json!("CLOSED"),
        "draft" => json!("DRAFT"),
        // Kombo passes unmapped values through.
        other => json!(other),
    }
}

/// Greenhouse's default job field "employment_type" (shown as "Time type") holds free text.
fn employment_type(custom: Option<&Map<String, Value>>) -> Value {
    let Some(raw) = custom.and_then(|c| c.get("employment_type")).and_then(Value::as_str) else {
        return Value::Null;
    };
    let norm: String = raw
        .to_ascii_lowercase()
        .chars()
        .filter(char::is_ascii_alphabetic)
        .collect();
    match norm.as_str() {
        "fulltime" => json!("FULL_TIME"),
        "parttime" => json!("PART_TIME"),
        "contract" | "contractor" => json!("CONTRACT"),
        "seasonal" | "temporary" => json!("SEASONAL"),
        "intern" | "internship" => json!("INTERNSHIP"),
        _ => json!(raw),
    }
}

fn hiring_team(ids: &IdGen, team: &wire::HiringTeam) -> Vec<Value> {
    // One entry per user with every role they hold, in the order Harvest lists the roles.
    let mut members: Vec<(u64, Vec<(&str, &str)>)> = Vec::new();
    let roles = [
        (&team.hiring_managers, "HIRING_MANAGER", "Hiring Manager"),
        (&team.recruiters, "RECRUITER", "Recruiter"),
        (&team.coordinators, "COORDINATOR", "Coordinator"),
        (&team.sourcers, "SOURCER", "Sourcer"),
    ];
    for (users, unified, label) in roles {
        for u in users {
            match members.iter_mut().find(|(id, _)| *id == u.id) {
                Some((_, r)) => r.push((unified, label)),
                None => members.push((u.id, vec![(unified, label)])),
            }
        }
    }
    members
        .into_iter()
        .map(|(id, roles)| {
            json!({
                "user_id": ids.id(Model::Users, &id.to_string()),
                // Kombo's deprecated list maps only recruiters and hiring managers.
                "hiring_team_roles": roles.iter().map(|(u, _)| *u).filter(|u| matches!(*u, "RECRUITER" | "HIRING_MANAGER")).collect::<Vec<_>>(),
                "job_roles": roles.iter().map(|(u, l)| json!({
                    "remote_id": null, "remote_label": l, "scope": "JOB", "unified_type": u,
                })).collect::<Vec<_>>(),
            })
        })
        .collect()
}

pub(crate) fn job(ids: &IdGen, j: wire::Job, raw: Value) -> SourceRecord {
    let team = j.hiring_team.unwrap_or_default();
    let contact = team
        .recruiters
        .first()
        .or(team.hiring_managers.first())
        .map(|u| ids.id(Model::Users, &u.id.to_string()));
    let office = j
        .offices
        .first()
        .and_then(|o| o.location.as_ref().and_then(|l| l.name.clone()).or(o.name.clone()));
    let data = json!({
        "name": j.name,
        "job_code": j.requisition_id,
        // Harvest jobs carry internal notes, not a description; that lives on job posts.
        "description": null,
        "confidential": j.confidential,
        "weekly_hours": null,
        "employment_type": employment_type(j.custom_fields.as_ref()),
        "status": job_status(&j.status),
        // Harvest only knows "confidential"; public vs internal is a property of job posts.
        "visibility": if j.confidential == Some(true) { json!("CONFIDENTIAL") } else { Value::Null },
        "category": null,
        "department": j.departments.first().and_then(|d| d.name.clone()),
        "post_url": null,
        "experience_level": null,
        "remote_work_status": null,
        "salary_amount": null,
        "salary_amount_from": null,
        "salary_amount_to": null,
        "salary_currency": null,
        "salary_period": null,
        "location": raw_location(office.as_deref()),
        "custom_fields": j.custom_fields.unwrap_or_default(),
        "integration_fields": [],
        "remote_url": null,
        "opened_at": ts(j.opened_at),
        "closed_at": ts(j.closed_at),
        "remote_updated_at": ts(j.updated_at),
        "contact_id": contact,
        "hiring_team_members": hiring_team(ids, &team),
    });
    record(Model::Jobs, j.id, data, JOBS, raw).with_remote_created_at(j.created_at)
}

/// A stage nests under its job (Kombo's `/ats/jobs` lists them as `stages`), so adding or
/// removing one moves the job's `updated_at`, as Kombo's rules for `/ats/jobs` ask.
///
/// Those rules also say a stage's own change (a rename) must not move the job; a `parent`
/// edge moves it on every change, so renames over-report the job. The edge model has no
/// "membership only" kind, and Harvest's job object does not list its stages, so the job
/// cannot carry the list itself; over-reporting is the safe side (a consumer re-reads a job
/// it did not need to, it never misses one).
pub(crate) fn job_stage(s: wire::JobStage, raw: Value) -> SourceRecord {
    record(
        Model::ApplicationStages,
        s.id,
        json!({ "name": s.name }),
        JOB_STAGES,
        raw,
    )
    .with_remote_created_at(s.created_at)
    .with_parent(Model::Jobs, s.job_id.to_string())
}

/// `tag_ids` are resolved by the caller: Harvest names a candidate's tags, it does not id them.
/// Kombo's `/ats/candidates` rule for `tags` is "added/removed yes, linked record no": the ids
/// are the candidate's own data (adding or removing one changes it) and no edge runs to the
/// tags, so renaming a tag moves no candidate.
pub(crate) fn candidate(c: wire::Candidate, mut raw: Value, tag_ids: Vec<String>) -> SourceRecord {
    // The embedded applications are each application's own raw object, stored with the
    // application record; keeping a second copy here would defeat field scoping of those.
    if let Some(obj) = raw.as_object_mut() {
        obj.remove("applications");
    }
    let source = c
        .applications
        .iter()
        .filter(|a| a.source.is_some())
        .min_by_key(|a| a.applied_at)
        .and_then(|a| a.source.as_ref()?.public_name.clone());
    let typed = |list: &[wire::Typed], key: &str| -> Vec<Value> {
        list.iter().map(|t| json!({ key: t.value, "type": t.kind })).collect()
    };
    let data = json!({
        "first_name": c.first_name,
        "last_name": c.last_name,
        "company": c.company,
        "title": c.title,
        "confidential": c.is_private,
        "source": source,
        "phone_numbers": typed(&c.phone_numbers, "phone_number"),
        "email_addresses": typed(&c.email_addresses, "email_address"),
        "social_media": c.social_media_addresses.iter().map(|s| json!({"link": s.value, "type": null, "username": null})).collect::<Vec<_>>(),
        "location": raw_location(c.addresses.first().map(|a| a.value.as_str())),
        "custom_fields": c.custom_fields.unwrap_or_default(),
        "integration_fields": [],
        "remote_url": null,
        "remote_updated_at": ts(Some(c.updated_at)),
        "tag_ids": tag_ids,
    });
    record(Model::Candidates, c.id, data, CANDIDATES, raw).with_remote_created_at(Some(c.created_at))
}

/// Kombo's outcome enum is PENDING | HIRED | DECLINED. A `converted` application is a
/// prospect application that became a candidate application: it is neither, so no outcome.
fn outcome(status: &str) -> Value {
    match status {
        "active" => json!("PENDING"),
        "hired" => json!("HIRED"),
        "rejected" => json!("DECLINED"),
        _ => Value::Null,
    }
}

/// Kombo's rules for `/ats/candidates` and `/ats/applications`: an application nests under its
/// candidate (its additions, removals and changes move the candidate), and the candidate and
/// the current stage are linked records whose changes move the application. The job is
/// neither: Kombo states job changes move no application (nor, through it, any candidate), so
/// there is no edge to it. Stage changes move the application but not its candidate, because
/// bumps are one level deep.
pub(crate) fn application(ids: &IdGen, a: wire::Application, raw: Value) -> SourceRecord {
    // Candidate applications have exactly one job; prospect applications may have none.
    let job = a.jobs.first().map(|j| j.id.to_string());
    let stage = a.current_stage.as_ref().map(|s| s.id.to_string());
    let data = json!({
        "outcome": outcome(&a.status),
        "rejection_reason_name": a.rejection_reason.as_ref().map(|r| r.name.clone()),
        "rejection_reason_id": a.rejection_reason.as_ref().map(|r| ids.id(Model::RejectionReasons, &r.id.to_string())),
        "rejected_at": ts(a.rejected_at),
        "current_stage_id": stage.as_deref().map(|s| ids.id(Model::ApplicationStages, s)),
        "job_id": job.as_deref().map(|j| ids.id(Model::Jobs, j)),
        "candidate_id": ids.id(Model::Candidates, &a.candidate_id.to_string()),
        "screening_question_answers": [],
        "custom_fields": a.custom_fields.unwrap_or_default(),
        "integration_fields": [],
        "remote_url": null,
        "remote_updated_at": ts(a.last_activity_at),
    });
    let candidate = a.candidate_id.to_string();
    let mut rec = record(Model::Applications, a.id, data, APPLICATIONS, raw)
        .with_remote_created_at(a.applied_at)
        .with_parent(Model::Candidates, candidate.clone())
        .depending_on(Model::Candidates, candidate);
    if let Some(stage) = stage {
        rec = rec.depending_on(Model::ApplicationStages, stage);
    }
    rec
}

fn when(w: Option<&wire::When>) -> Value {
    match w {
        Some(wire::When { date_time: Some(t), .. }) => ts(Some(*t)),
        Some(wire::When { date: Some(d), .. }) => date(Some(*d)),
        _ => Value::Null,
    }
}

/// `stage_id` is resolved by the caller from the interview step (`interview.id`), which
/// belongs to one job stage's interview plan.
///
/// Edges per Kombo's rules: `/ats/applications` lists `interviews` (added/removed and changes
/// move the application), so the interview nests under its application; `/ats/interviews`
/// links its `application` (changes move the interview), so it also depends on it. The
/// application's candidate and job move no interview (bumps are one level deep), and the
/// interviewers are ids in the interview's own data: adding or removing one changes the
/// interview, a user's own change does not.
pub(crate) fn scheduled_interview(
    ids: &IdGen,
    i: wire::ScheduledInterview,
    raw: Value,
    stage: Option<u64>,
) -> SourceRecord {
    let data = json!({
        "title": i.interview.as_ref().and_then(|s| s.name.clone()),
        "starting_at": when(i.start.as_ref()),
        "ending_at": when(i.end.as_ref()),
        "location": raw_location(i.location.as_deref()),
        "video_conferencing_url": i.video_conferencing_url,
        "application_id": ids.id(Model::Applications, &i.application_id.to_string()),
        "stage_id": stage.map(|s| ids.id(Model::ApplicationStages, &s.to_string())),
        // Harvest drops cancelled interviews instead of flagging them.
        "canceled": null,
        "remote_updated_at": ts(i.updated_at),
        "user_ids": i.interviewers.iter().map(|u| ids.id(Model::Users, &u.id.to_string())).collect::<Vec<_>>(),
    });
    let application = i.application_id.to_string();
    record(Model::Interviews, i.id, data, SCHEDULED_INTERVIEWS, raw)
        .with_remote_created_at(i.created_at)
        .with_parent(Model::Applications, application.clone())
        .depending_on(Model::Applications, application)
}

/// Harvest: unresolved | accepted | rejected | deprecated. Kombo: DRAFT → APPROVED → SENT →
/// ACCEPTED | DECLINED, or ABANDONED. A deprecated offer was superseded by a newer version.
fn offer_status(status: &str, sent: bool) -> Value {
    match status {
        "accepted" => json!("ACCEPTED"),
        "rejected" => json!("DECLINED"),
        "deprecated" => json!("ABANDONED"),
        "unresolved" if sent => json!("SENT"),
        "unresolved" => json!("DRAFT"),
        _ => Value::Null,
    }
}

/// Like interviews: nested under the application (`/ats/applications` lists `offers`) and
/// depending on it (`/ats/offers` links `application`); its candidate and job move no offer.
pub(crate) fn offer(ids: &IdGen, o: wire::Offer, raw: Value) -> SourceRecord {
    let data = json!({
        "status": offer_status(&o.status, o.sent_at.is_some()),
        "employment_start_date": date(o.starts_at),
        "application_id": ids.id(Model::Applications, &o.application_id.to_string()),
        "custom_fields": o.custom_fields.unwrap_or_default(),
        "integration_fields": [],
        "remote_updated_at": ts(o.updated_at),
    });
    let application = o.application_id.to_string();
    record(Model::Offers, o.id, data, OFFERS, raw)
        .with_remote_created_at(o.created_at)
        .with_parent(Model::Applications, application.clone())
        .depending_on(Model::Applications, application)
}

/// RFC 6901: `~` → `~0`, `/` → `~1`.
fn pointer(path: &str, field: &str) -> String {
    format!("/{}/{}", path.replace('~', "~0").replace('/', "~1"), field)
}

/// Raw places a unified field's value comes from, for scope stripping of `remote_data`.
pub(crate) fn remote_paths(model: Model, field: &str) -> Vec<String> {
    let (path, raw): (&str, &[&str]) = match (model, field) {
        (Model::Users, "first_name") => (USERS, &["first_name", "name"]),
        (Model::Users, "last_name") => (USERS, &["last_name", "name"]),
        (Model::Users, "email") => (USERS, &["primary_email_address", "emails"]),
        (Model::Users, "status") => (USERS, &["disabled"]),
        (Model::Users, "system_roles") => (USERS, &["site_admin"]),
        (Model::Tags, "name") => (TAGS, &["name"]),
        (Model::RejectionReasons, "name") => (REJECTION_REASONS, &["name"]),
        (Model::Jobs, "name") => (JOBS, &["name"]),
        (Model::Jobs, "job_code") => (JOBS, &["requisition_id"]),
        (Model::Jobs, "confidential" | "visibility") => (JOBS, &["confidential"]),
        (Model::Jobs, "status") => (JOBS, &["status"]),
        (Model::Jobs, "department") => (JOBS, &["departments"]),
        (Model::Jobs, "location") => (JOBS, &["offices"]),
        (Model::Jobs, "employment_type") => (
            JOBS,
            &["custom_fields/employment_type", "keyed_custom_fields/employment_type"],
        ),
        (Model::Jobs, "custom_fields") => (JOBS, &["custom_fields", "keyed_custom_fields"]),
        (Model::Jobs, "opened_at") => (JOBS, &["opened_at"]),
        (Model::Jobs, "closed_at") => (JOBS, &["closed_at"]),
        (Model::Jobs, "remote_updated_at") => (JOBS, &["updated_at"]),
        (Model::Jobs, "contact_id" | "hiring_team") => (JOBS, &["hiring_team"]),
        // A stage's interviews are commonly named after it ("Phone Screen"): they go with it.
        (Model::ApplicationStages, "name") => (JOB_STAGES, &["name", "interviews/*/name"]),
        (Model::Candidates, "first_name") => (CANDIDATES, &["first_name"]),
        (Model::Candidates, "last_name") => (CANDIDATES, &["last_name"]),
        (Model::Candidates, "company") => (CANDIDATES, &["company"]),
        (Model::Candidates, "title") => (CANDIDATES, &["title"]),
        (Model::Candidates, "confidential") => (CANDIDATES, &["is_private"]),
        (Model::Candidates, "phone_numbers") => (CANDIDATES, &["phone_numbers"]),
        (Model::Candidates, "email_addresses") => (CANDIDATES, &["email_addresses"]),
        (Model::Candidates, "social_media") => (CANDIDATES, &["social_media_addresses", "website_addresses"]),
        (Model::Candidates, "location") => (CANDIDATES, &["addresses"]),
        (Model::Candidates, "custom_fields") => (CANDIDATES, &["custom_fields", "keyed_custom_fields"]),
        (Model::Candidates, "tags") => (CANDIDATES, &["tags"]),
        (Model::Candidates, "remote_updated_at") => (CANDIDATES, &["updated_at"]),
        (Model::Applications, "outcome") => (APPLICATIONS, &["status"]),
        (Model::Applications, "rejection_reason_name") => (APPLICATIONS, &["rejection_reason", "rejection_details"]),
        (Model::Applications, "rejected_at") => (APPLICATIONS, &["rejected_at"]),
        (Model::Applications, "current_stage_id" | "current_stage") => (APPLICATIONS, &["current_stage"]),
        (Model::Applications, "job_id" | "job") => (APPLICATIONS, &["jobs"]),
        (Model::Applications, "candidate_id") => (APPLICATIONS, &["candidate_id"]),
        (Model::Applications, "screening_question_answers") => (APPLICATIONS, &["answers"]),
        (Model::Applications, "custom_fields") => (APPLICATIONS, &["custom_fields", "keyed_custom_fields"]),
        (Model::Applications, "remote_updated_at") => (APPLICATIONS, &["last_activity_at"]),
        (Model::Interviews, "title") => (SCHEDULED_INTERVIEWS, &["interview/name"]),
        (Model::Interviews, "starting_at") => (SCHEDULED_INTERVIEWS, &["start"]),
        (Model::Interviews, "ending_at") => (SCHEDULED_INTERVIEWS, &["end"]),
        (Model::Interviews, "location") => (SCHEDULED_INTERVIEWS, &["location"]),
        (Model::Interviews, "video_conferencing_url") => (SCHEDULED_INTERVIEWS, &["video_conferencing_url"]),
        (Model::Interviews, "application_id") => (SCHEDULED_INTERVIEWS, &["application_id"]),
        (Model::Interviews, "stage_id") => (SCHEDULED_INTERVIEWS, &["interview/id"]),
        (Model::Interviews, "users") => (SCHEDULED_INTERVIEWS, &["interviewers", "organizer"]),
        (Model::Interviews, "remote_updated_at") => (SCHEDULED_INTERVIEWS, &["updated_at"]),
        (Model::Offers, "status") => (OFFERS, &["status"]),
        (Model::Offers, "employment_start_date") => (OFFERS, &["starts_at"]),
        (Model::Offers, "application_id") => (OFFERS, &["application_id"]),
        (Model::Offers, "custom_fields") => (OFFERS, &["custom_fields", "keyed_custom_fields"]),
        (Model::Offers, "remote_updated_at") => (OFFERS, &["updated_at"]),
        _ => return Vec::new(),
    };
    raw.iter().map(|f| pointer(path, f)).collect()
}
