//! Harvest v3 objects → unified ATS records, in the shape of Kombo's `GetAts*PositiveResponse`
//! items (Kombo's OpenAPI document, vendored at
//! `crates/tributary-render/openapi/kombo-openapi.json`): Kombo's field names and enums,
//! ISO-8601 dates with milliseconds, references as unified ids, and nested models left to the
//! gateway.

use chrono::{NaiveDate, SecondsFormat};
use serde_json::{Map, Value, json};
use tributary_model::{IdGen, Model, SourceRecord, Timestamp};

use super::wire;

pub(crate) const USERS: &str = "/v3/users";
pub(crate) const TAGS: &str = "/v3/candidate_tags";
pub(crate) const REJECTION_REASONS: &str = "/v3/rejection_reasons";
pub(crate) const DEPARTMENTS: &str = "/v3/departments";
pub(crate) const OFFICES: &str = "/v3/offices";
pub(crate) const SOURCES: &str = "/v3/sources";
pub(crate) const JOBS: &str = "/v3/jobs";
pub(crate) const JOB_OWNERS: &str = "/v3/job_owners";
pub(crate) const JOB_HIRING_MANAGERS: &str = "/v3/job_hiring_managers";
pub(crate) const JOB_STAGES: &str = "/v3/job_interview_stages";
pub(crate) const JOB_INTERVIEWS: &str = "/v3/job_interviews";
pub(crate) const CANDIDATES: &str = "/v3/candidates";
pub(crate) const APPLICATIONS: &str = "/v3/applications";
pub(crate) const INTERVIEWS: &str = "/v3/interviews";
pub(crate) const INTERVIEWERS: &str = "/v3/interviewers";
pub(crate) const OFFERS: &str = "/v3/offers";
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
        "email": u.primary_email,
        "status": if u.deactivated { "INACTIVE" } else { "ACTIVE" },
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

/// v3 custom fields are keyed by the field's `name_key`, each value `{name, type, value}`;
/// the unified record keeps `name_key → value`, the shape v1 served.
pub(crate) fn custom_values(custom: Option<&Map<String, Value>>) -> Map<String, Value> {
    custom
        .map(|c| {
            c.iter()
                .map(|(k, v)| {
                    let value = match v {
                        Value::Object(o) if o.contains_key("value") => o["value"].clone(),
                        other => other.clone(),
                    };
                    (k.clone(), value)
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Greenhouse's default job field "employment_type" (shown as "Time type") holds free text.
fn employment_type(custom: &Map<String, Value>) -> Value {
    let Some(raw) = custom.get("employment_type").and_then(Value::as_str) else {
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

/// A job's hiring team as v3 lists it: `/v3/job_hiring_managers` and `/v3/job_owners` rows.
#[derive(Debug, Default)]
pub(crate) struct HiringTeam {
    pub hiring_managers: Vec<u64>,
    pub recruiters: Vec<u64>,
    pub coordinators: Vec<u64>,
    pub sourcers: Vec<u64>,
}

impl HiringTeam {
    /// `rows` of one job: owners carry a `type`, hiring managers none. Rows are put back in
    /// the order they were added (ids ascend with it; lists come newest first), and the
    /// responsible recruiter or coordinator leads its role.
    pub(crate) fn from_rows(mut rows: Vec<&wire::TeamRow>) -> Self {
        rows.sort_by_key(|r| (!r.responsible.unwrap_or(false), r.id));
        let mut team = HiringTeam::default();
        for r in rows {
            let list = match r.owner_type.as_deref() {
                None => &mut team.hiring_managers,
                Some("recruiter") => &mut team.recruiters,
                Some("coordinator") => &mut team.coordinators,
                Some("sourcer") => &mut team.sourcers,
                Some(_) => continue,
            };
            if !list.contains(&r.user_id) {
                list.push(r.user_id);
            }
        }
        team
    }
}

fn hiring_team(ids: &IdGen, team: &HiringTeam) -> Vec<Value> {
    // One entry per user with every role they hold, in the order v1 listed the roles.
    let mut members: Vec<(u64, Vec<(&str, &str)>)> = Vec::new();
    let roles = [
        (&team.hiring_managers, "HIRING_MANAGER", "Hiring Manager"),
        (&team.recruiters, "RECRUITER", "Recruiter"),
        (&team.coordinators, "COORDINATOR", "Coordinator"),
        (&team.sourcers, "SOURCER", "Sourcer"),
    ];
    for (users, unified, label) in roles {
        for u in users {
            match members.iter_mut().find(|(id, _)| id == u) {
                Some((_, r)) => r.push((unified, label)),
                None => members.push((*u, vec![(unified, label)])),
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

/// What a job's ids point at, resolved by the caller.
pub(crate) struct JobContext<'a> {
    pub department: Option<&'a str>,
    /// The first office's location, or its name.
    pub location: Option<&'a str>,
    pub team: HiringTeam,
}

pub(crate) fn job(ids: &IdGen, j: wire::Job, raw: Value, ctx: JobContext<'_>) -> SourceRecord {
    let team = ctx.team;
    let contact = team
        .recruiters
        .first()
        .or(team.hiring_managers.first())
        .map(|u| ids.id(Model::Users, &u.to_string()));
    let custom = custom_values(j.custom_fields.as_ref());
    let data = json!({
        "name": j.name,
        "job_code": j.requisition_id,
        // Harvest jobs carry internal notes, not a description; that lives on job posts.
        "description": null,
        "confidential": j.confidential,
        "weekly_hours": null,
        "employment_type": employment_type(&custom),
        "status": job_status(&j.status),
        // Harvest only knows "confidential"; public vs internal is a property of job posts.
        "visibility": if j.confidential == Some(true) { json!("CONFIDENTIAL") } else { Value::Null },
        "category": null,
        "department": ctx.department,
        "post_url": null,
        "experience_level": null,
        "remote_work_status": null,
        "salary_amount": null,
        "salary_amount_from": null,
        "salary_amount_to": null,
        "salary_currency": null,
        "salary_period": null,
        "location": raw_location(ctx.location),
        "custom_fields": custom,
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
pub(crate) fn job_stage(s: wire::JobInterviewStage, raw: Value) -> SourceRecord {
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

/// `tag_ids` are resolved by the caller: Harvest names a candidate's tags, it does not id
/// them; `source` is the name of the source of the candidate's first application, which v3
/// no longer embeds in the candidate. Kombo's `/ats/candidates` rule for `tags` is
/// "added/removed yes, linked record no": the ids are the candidate's own data (adding or
/// removing one changes it) and no edge runs to the tags, so renaming a tag moves no candidate.
pub(crate) fn candidate(c: wire::Candidate, raw: Value, tag_ids: Vec<String>, source: Option<&str>) -> SourceRecord {
    let typed = |list: &[wire::Typed], key: &str| -> Vec<Value> {
        list.iter().map(|t| json!({ key: t.value, "type": t.kind })).collect()
    };
    let data = json!({
        "first_name": c.first_name,
        "last_name": c.last_name,
        "company": c.company,
        "title": c.title,
        "confidential": c.private,
        "source": source,
        "phone_numbers": typed(&c.phone_numbers, "phone_number"),
        "email_addresses": typed(&c.email_addresses, "email_address"),
        "social_media": c.social_media_addresses.iter().map(|s| json!({"link": s.value, "type": null, "username": null})).collect::<Vec<_>>(),
        "location": raw_location(c.addresses.first().map(|a| a.value.as_str())),
        "custom_fields": custom_values(c.custom_fields.as_ref()),
        "integration_fields": [],
        "remote_url": null,
        "remote_updated_at": ts(Some(c.updated_at)),
        "tag_ids": tag_ids,
    });
    record(Model::Candidates, c.id, data, CANDIDATES, raw).with_remote_created_at(Some(c.created_at))
}

/// Kombo's outcome enum is PENDING | HIRED | DECLINED. v3 answers `in_process` for an active
/// application; a `converted` one is a prospect application that became a candidate
/// application: neither, so no outcome.
fn outcome(status: &str) -> Value {
    match status {
        "in_process" | "active" => json!("PENDING"),
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
/// bumps are one level deep. `rejection_reason_name` is resolved by the caller from the id v3
/// gives.
pub(crate) fn application(
    ids: &IdGen,
    a: wire::Application,
    raw: Value,
    rejection_reason_name: Option<&str>,
) -> SourceRecord {
    let stage = a.job_interview_stage_id.map(|s| s.to_string());
    let data = json!({
        "outcome": outcome(&a.status),
        "rejection_reason_name": rejection_reason_name,
        "rejection_reason_id": a.rejection_reason_id.map(|r| ids.id(Model::RejectionReasons, &r.to_string())),
        "rejected_at": ts(a.rejected_at),
        "current_stage_id": stage.as_deref().map(|s| ids.id(Model::ApplicationStages, s)),
        "job_id": a.job_id.map(|j| ids.id(Model::Jobs, &j.to_string())),
        "candidate_id": ids.id(Model::Candidates, &a.candidate_id.to_string()),
        "screening_question_answers": [],
        "custom_fields": custom_values(a.custom_fields.as_ref()),
        "integration_fields": [],
        "remote_url": null,
        "remote_updated_at": ts(a.updated_at),
    });
    let candidate = a.candidate_id.to_string();
    let mut rec = record(Model::Applications, a.id, data, APPLICATIONS, raw)
        .with_remote_created_at(a.created_at)
        .with_parent(Model::Candidates, candidate.clone())
        .depending_on(Model::Candidates, candidate);
    if let Some(stage) = stage {
        rec = rec.depending_on(Model::ApplicationStages, stage);
    }
    rec
}

/// A precise `starts_at`, or the date of an all-day interview.
fn when(at: Option<Timestamp>, all_day: Option<NaiveDate>) -> Value {
    match (at, all_day) {
        (Some(t), _) => ts(Some(t)),
        (None, Some(d)) => date(Some(d)),
        _ => Value::Null,
    }
}

/// The job interview (plan slot) an interview fulfils, resolved by the caller.
pub(crate) struct Slot<'a> {
    pub stage_id: Option<u64>,
    pub name: Option<&'a str>,
}

/// Edges per Kombo's rules: `/ats/applications` lists `interviews` (added/removed and changes
/// move the application), so the interview nests under its application; `/ats/interviews`
/// links its `application` (changes move the interview), so it also depends on it. The
/// application's candidate and job move no interview (bumps are one level deep), and the
/// interviewers are ids in the interview's own data: adding or removing one changes the
/// interview, a user's own change does not.
pub(crate) fn interview(
    ids: &IdGen,
    i: wire::Interview,
    raw: Value,
    slot: Slot<'_>,
    interviewers: &[u64],
) -> SourceRecord {
    let data = json!({
        "title": slot.name,
        "starting_at": when(i.starts_at, i.all_day_start_on),
        "ending_at": when(i.ends_at, i.all_day_end_on),
        "location": raw_location(i.location.as_deref()),
        "video_conferencing_url": i.video_conferencing_url,
        "application_id": ids.id(Model::Applications, &i.application_id.to_string()),
        "stage_id": slot.stage_id.map(|s| ids.id(Model::ApplicationStages, &s.to_string())),
        // Harvest drops cancelled interviews instead of flagging them.
        "canceled": null,
        "remote_updated_at": ts(i.updated_at),
        "user_ids": interviewers.iter().map(|u| ids.id(Model::Users, &u.to_string())).collect::<Vec<_>>(),
    });
    let application = i.application_id.to_string();
    record(Model::Interviews, i.id, data, INTERVIEWS, raw)
        .with_remote_created_at(i.created_at)
        .with_parent(Model::Applications, application.clone())
        .depending_on(Model::Applications, application)
}

/// Harvest v3: Created | Accepted | Rejected | Deprecated. Kombo: DRAFT → APPROVED → SENT →
/// ACCEPTED | DECLINED, or ABANDONED. A deprecated offer was superseded by a newer version.
fn offer_status(status: &str, sent: bool) -> Value {
    match status {
        "Accepted" => json!("ACCEPTED"),
        "Rejected" => json!("DECLINED"),
        "Deprecated" => json!("ABANDONED"),
        "Created" if sent => json!("SENT"),
        "Created" => json!("DRAFT"),
        _ => Value::Null,
    }
}

/// Like interviews: nested under the application (`/ats/applications` lists `offers`) and
/// depending on it (`/ats/offers` links `application`); its candidate and job move no offer.
pub(crate) fn offer(ids: &IdGen, o: wire::Offer, raw: Value) -> SourceRecord {
    let data = json!({
        "status": offer_status(&o.status, o.sent_on.is_some()),
        "employment_start_date": date(o.starts_on),
        "application_id": ids.id(Model::Applications, &o.application_id.to_string()),
        "custom_fields": custom_values(o.custom_fields.as_ref()),
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
        (Model::Users, "email") => (USERS, &["primary_email", "emails"]),
        (Model::Users, "status") => (USERS, &["deactivated"]),
        (Model::Users, "system_roles") => (USERS, &["site_admin"]),
        (Model::Tags, "name") => (TAGS, &["name"]),
        (Model::RejectionReasons, "name") => (REJECTION_REASONS, &["name"]),
        (Model::Jobs, "name") => (JOBS, &["name"]),
        (Model::Jobs, "job_code") => (JOBS, &["requisition_id"]),
        (Model::Jobs, "confidential" | "visibility") => (JOBS, &["confidential"]),
        (Model::Jobs, "status") => (JOBS, &["status"]),
        (Model::Jobs, "department") => (JOBS, &["department_id"]),
        (Model::Jobs, "location") => (JOBS, &["office_ids"]),
        (Model::Jobs, "employment_type") => (JOBS, &["custom_fields/employment_type"]),
        (Model::Jobs, "custom_fields") => (JOBS, &["custom_fields"]),
        (Model::Jobs, "opened_at") => (JOBS, &["opened_at"]),
        (Model::Jobs, "closed_at") => (JOBS, &["closed_at"]),
        (Model::Jobs, "remote_updated_at") => (JOBS, &["updated_at"]),
        // v3 jobs carry no hiring team: it is read from job owners and hiring managers, which
        // are not stored raw.
        (Model::Jobs, "contact_id" | "hiring_team") => return Vec::new(),
        (Model::ApplicationStages, "name") => (JOB_STAGES, &["name"]),
        (Model::Candidates, "first_name") => (CANDIDATES, &["first_name", "preferred_name"]),
        (Model::Candidates, "last_name") => (CANDIDATES, &["last_name"]),
        (Model::Candidates, "company") => (CANDIDATES, &["company"]),
        (Model::Candidates, "title") => (CANDIDATES, &["title"]),
        (Model::Candidates, "confidential") => (CANDIDATES, &["private"]),
        (Model::Candidates, "phone_numbers") => (CANDIDATES, &["phone_numbers"]),
        (Model::Candidates, "email_addresses") => (CANDIDATES, &["email_addresses"]),
        (Model::Candidates, "social_media") => (CANDIDATES, &["social_media_addresses", "website_addresses"]),
        (Model::Candidates, "location") => (CANDIDATES, &["addresses"]),
        (Model::Candidates, "custom_fields") => (CANDIDATES, &["custom_fields"]),
        (Model::Candidates, "tags") => (CANDIDATES, &["tags"]),
        (Model::Candidates, "remote_updated_at") => (CANDIDATES, &["updated_at"]),
        (Model::Applications, "outcome") => (APPLICATIONS, &["status"]),
        (Model::Applications, "rejection_reason_name") => (APPLICATIONS, &["rejection_reason_id"]),
        (Model::Applications, "rejected_at") => (APPLICATIONS, &["rejected_at"]),
        (Model::Applications, "current_stage_id" | "current_stage") => {
            (APPLICATIONS, &["job_interview_stage_id", "stage_id", "stage_name"])
        }
        (Model::Applications, "job_id" | "job") => (APPLICATIONS, &["job_id"]),
        (Model::Applications, "candidate_id") => (APPLICATIONS, &["candidate_id"]),
        (Model::Applications, "screening_question_answers") => (APPLICATIONS, &["answers"]),
        (Model::Applications, "custom_fields") => (APPLICATIONS, &["custom_fields"]),
        (Model::Applications, "remote_updated_at") => (APPLICATIONS, &["updated_at", "last_activity_at"]),
        (Model::Interviews, "title") => (INTERVIEWS, &["job_interview_id"]),
        (Model::Interviews, "starting_at") => (INTERVIEWS, &["starts_at", "all_day_start_on"]),
        (Model::Interviews, "ending_at") => (INTERVIEWS, &["ends_at", "all_day_end_on"]),
        (Model::Interviews, "location") => (INTERVIEWS, &["location"]),
        (Model::Interviews, "video_conferencing_url") => (INTERVIEWS, &["video_conferencing_url"]),
        (Model::Interviews, "application_id") => (INTERVIEWS, &["application_id"]),
        (Model::Interviews, "stage_id") => (INTERVIEWS, &["job_interview_id"]),
        (Model::Interviews, "users") => (INTERVIEWS, &["organizer_id"]),
        (Model::Interviews, "remote_updated_at") => (INTERVIEWS, &["updated_at"]),
        (Model::Offers, "status") => (OFFERS, &["status"]),
        (Model::Offers, "employment_start_date") => (OFFERS, &["starts_on"]),
        (Model::Offers, "application_id") => (OFFERS, &["application_id"]),
        (Model::Offers, "custom_fields") => (OFFERS, &["custom_fields"]),
        (Model::Offers, "remote_updated_at") => (OFFERS, &["updated_at"]),
        _ => return Vec::new(),
    };
    raw.iter().map(|f| pointer(path, f)).collect()
}
