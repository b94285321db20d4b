//! The Greenhouse connector against the simulated Harvest v3 API over real HTTP, plus tiny
//! hostile servers for the failures the simulator never serves on its own.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use chrono::{TimeZone, Utc};
use serde_json::{Value, json};
use tributary_connectors::GreenhouseConnector;
use tributary_model::{IdGen, Model, SourceRecord, ToolKind};
use tributary_sim::company::{
    Application, Ats, Candidate, Interview, Job, Offer, RejectionReason, Stage, Tag, Ts, User,
};
use tributary_sim::{RequestFilter, SimConfig, SimCredentials, Simulator};
use tributary_source::{ClientConfig, Connector, FetchMode, SourceClient, SourceError, Stream};
use url::Url;

type TestResult = Result<(), Box<dyn std::error::Error>>;

const INTEGRATION: &str = "greenhouse:test";

fn at(day: u32) -> Ts {
    Utc.with_ymd_and_hms(2025, 3, day, 9, 0, 0)
        .single()
        .expect("valid date")
}

fn client() -> SourceClient {
    SourceClient::new(ClientConfig {
        min_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(50),
        max_attempts: 3,
        requests_per_second: None,
        ..ClientConfig::default()
    })
    .expect("client")
}

fn connector_at(base: &str, credentials: &Value) -> Result<GreenhouseConnector, SourceError> {
    GreenhouseConnector::new(
        Url::parse(base).expect("url"),
        credentials,
        IdGen::new(INTEGRATION),
        client(),
    )
}

async fn start() -> Result<(Simulator, GreenhouseConnector), Box<dyn std::error::Error>> {
    start_with(SimConfig::default()).await
}

async fn start_with(config: SimConfig) -> Result<(Simulator, GreenhouseConnector), Box<dyn std::error::Error>> {
    let sim = Simulator::start(config, "127.0.0.1:0".parse()?).await?;
    let gh = connector_at(
        &sim.base_url(ToolKind::Greenhouse),
        &sim.integration_credentials(ToolKind::Greenhouse),
    )?;
    Ok((sim, gh))
}

fn user(id: u64, first: &str, site_admin: bool) -> User {
    User {
        id,
        first_name: first.into(),
        last_name: "Recruiter".into(),
        email: format!("{}@example.com", first.to_lowercase()),
        disabled: id == 3,
        site_admin,
        created_at: at(1),
        updated_at: at(2),
    }
}

fn stage(id: u64, name: &str, priority: u32) -> Stage {
    Stage {
        id,
        name: name.into(),
        priority,
        updated_at: at(2),
    }
}

fn job(id: u64, name: &str, stages: Vec<Stage>) -> Job {
    Job {
        id,
        name: name.into(),
        requisition_id: format!("REQ-{id}"),
        status: "open".into(),
        confidential: id == 21,
        department: Some("Engineering".into()),
        office: Some("Berlin".into()),
        notes: None,
        hiring_manager_ids: vec![1],
        recruiter_ids: vec![2],
        stages,
        opened_at: Some(at(3)),
        closed_at: None,
        created_at: at(3),
        updated_at: at(4),
    }
}

fn candidate(id: u64, first: &str, tag_ids: Vec<u64>, application_ids: Vec<u64>) -> Candidate {
    Candidate {
        id,
        first_name: first.into(),
        last_name: "Candidate".into(),
        company: Some("Acme".into()),
        title: Some("Engineer".into()),
        emails: vec![format!("{}@mail.example", first.to_lowercase())],
        phone_numbers: vec!["+49 30 1234".into()],
        tag_ids,
        recruiter_id: Some(2),
        application_ids,
        created_at: at(5),
        updated_at: at(6),
        last_activity: at(6),
    }
}

fn application(id: u64, candidate_id: u64, job_id: u64, status: &str, stage: Option<u64>) -> Application {
    Application {
        id,
        candidate_id,
        job_id,
        status: status.into(),
        current_stage_id: stage,
        source: Some("LinkedIn".into()),
        rejection_reason_id: (status == "rejected").then_some(41),
        rejected_at: (status == "rejected").then(|| at(8)),
        applied_at: at(5),
        last_activity_at: at(7),
        updated_at: at(7),
    }
}

/// A small ATS: 3 users, 2 tags, 2 rejection reasons, 2 jobs with 3 stages each, 3
/// candidates with 4 applications, 2 interviews and 2 offers.
fn small_ats() -> Ats {
    let mut ats = Ats::default();
    for u in [user(1, "Hana", true), user(2, "Ravi", false), user(3, "Olga", false)] {
        ats.users.insert(u.id, u);
    }
    for (id, name) in [(11, "Rust"), (12, "Senior")] {
        ats.tags.insert(
            id,
            Tag {
                id,
                name: name.into(),
                updated_at: at(1),
            },
        );
    }
    for (id, name, kind) in [
        (41, "Lacking skills", "We rejected them"),
        (42, "Took other offer", "They rejected us"),
    ] {
        ats.rejection_reasons.insert(
            id,
            RejectionReason {
                id,
                name: name.into(),
                reason_type: kind.into(),
                updated_at: at(1),
            },
        );
    }
    ats.jobs.insert(
        20,
        job(
            20,
            "Backend Engineer",
            vec![stage(201, "Screen", 0), stage(202, "Onsite", 1), stage(203, "Offer", 2)],
        ),
    );
    ats.jobs.insert(
        21,
        job(
            21,
            "Designer",
            vec![
                stage(211, "Screen", 0),
                stage(212, "Portfolio", 1),
                stage(213, "Offer", 2),
            ],
        ),
    );
    ats.candidates
        .insert(30, candidate(30, "Ada", vec![11, 12], vec![50, 51]));
    ats.candidates.insert(31, candidate(31, "Bo", vec![], vec![52]));
    ats.candidates.insert(32, candidate(32, "Cy", vec![12], vec![53]));
    for a in [
        application(50, 30, 20, "active", Some(202)),
        application(51, 30, 21, "rejected", Some(211)),
        application(52, 31, 20, "hired", Some(203)),
        application(53, 32, 21, "converted", None),
    ] {
        ats.applications.insert(a.id, a);
    }
    for (id, app, stage_id) in [(60, 50, 202), (61, 52, 203)] {
        ats.interviews.insert(
            id,
            Interview {
                id,
                application_id: app,
                stage_id: Some(stage_id),
                title: "Onsite interview".into(),
                start: at(10),
                end: at(10) + chrono::Duration::hours(1),
                location: Some("Room 1".into()),
                status: "scheduled".into(),
                interviewer_ids: vec![1, 2],
                organizer_id: Some(2),
                created_at: at(9),
                updated_at: at(9),
            },
        );
    }
    for (id, app, status, sent) in [(70, 52, "accepted", true), (71, 50, "unresolved", false)] {
        ats.offers.insert(
            id,
            Offer {
                id,
                application_id: app,
                candidate_id: ats.applications[&app].candidate_id,
                job_id: ats.applications[&app].job_id,
                status: status.into(),
                version: 1,
                starts_at: chrono::NaiveDate::from_ymd_opt(2025, 5, 1),
                sent_at: sent.then(|| chrono::NaiveDate::from_ymd_opt(2025, 3, 20)).flatten(),
                resolved_at: sent.then(|| at(21)),
                created_at: at(11),
                updated_at: at(12),
            },
        );
    }
    ats
}

fn stream(gh: &GreenhouseConnector, name: &str) -> Stream {
    gh.streams()
        .into_iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no stream {name}"))
}

/// Every page of a stream; returns the records and the number of pages.
async fn drain(
    gh: &GreenhouseConnector,
    name: &str,
    mode: FetchMode,
) -> Result<(Vec<SourceRecord>, usize), SourceError> {
    let s = stream(gh, name);
    let mut cursor: Option<Value> = None;
    let mut records = Vec::new();
    for pages in 1..=1000 {
        let page = gh.fetch_page(&s, cursor.as_ref(), mode).await?;
        records.extend(page.records);
        match page.next {
            Some(next) => cursor = Some(next),
            None => return Ok((records, pages)),
        }
    }
    panic!("stream {name} never ended");
}

fn by_remote_id<'a>(records: &'a [SourceRecord], id: &str) -> &'a SourceRecord {
    records
        .iter()
        .find(|r| r.remote_id == id)
        .unwrap_or_else(|| panic!("no record {id}"))
}

#[tokio::test]
async fn full_sync_maps_every_stream_to_unified_records() -> TestResult {
    let (sim, gh) = start().await?;
    sim.state.company_mut(ToolKind::Greenhouse).ats = small_ats();
    let ids = IdGen::new(INTEGRATION);

    let names: Vec<&str> = gh.streams().iter().map(|s| s.name).collect();
    assert_eq!(
        names,
        [
            "users",
            "candidate_tags",
            "rejection_reasons",
            "jobs",
            "job_stages",
            "candidates",
            "applications",
            "interviews",
            "offers"
        ]
    );

    let (users, _) = drain(&gh, "users", FetchMode::Full).await?;
    assert_eq!(users.len(), 3);
    let hana = by_remote_id(&users, "1");
    assert_eq!(hana.model, Model::Users);
    assert_eq!(hana.data["email"], "hana@example.com");
    assert_eq!(hana.data["status"], "ACTIVE");
    assert_eq!(hana.data["system_roles"][0]["unified_type"], "ADMIN");
    assert_eq!(by_remote_id(&users, "3").data["status"], "INACTIVE");
    assert_eq!(
        hana.remote_data.as_ref().unwrap()["/v3/users"]["primary_email"],
        "hana@example.com"
    );
    assert!(!hana.data.contains_key("id") && !hana.data.contains_key("remote_id"));

    let (tags, _) = drain(&gh, "candidate_tags", FetchMode::Full).await?;
    assert_eq!(
        tags.iter()
            .map(|t| t.data["name"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["Senior", "Rust"],
        "newest id first"
    );
    let (reasons, _) = drain(&gh, "rejection_reasons", FetchMode::Full).await?;
    assert_eq!(reasons.len(), 2);
    assert_eq!(by_remote_id(&reasons, "41").data["name"], "Lacking skills");

    let (jobs, _) = drain(&gh, "jobs", FetchMode::Full).await?;
    assert_eq!(jobs.len(), 2);
    let backend = by_remote_id(&jobs, "20");
    assert_eq!(backend.data["name"], "Backend Engineer");
    assert_eq!(backend.data["job_code"], "REQ-20");
    assert_eq!(backend.data["status"], "OPEN");
    assert_eq!(backend.data["department"], "Engineering");
    assert_eq!(backend.data["location"]["raw"], "Berlin");
    assert_eq!(backend.data["opened_at"], "2025-03-03T09:00:00.000Z");
    assert_eq!(backend.remote_created_at, Some(at(3)));
    assert_eq!(by_remote_id(&jobs, "21").data["visibility"], "CONFIDENTIAL");
    let team = backend.data["hiring_team_members"].as_array().unwrap();
    assert_eq!(team[0]["user_id"], ids.id(Model::Users, "1"));
    assert_eq!(team[0]["hiring_team_roles"], json!(["HIRING_MANAGER"]));

    let (stages, _) = drain(&gh, "job_stages", FetchMode::Full).await?;
    assert_eq!(stages.len(), 6);
    let onsite = by_remote_id(&stages, "202");
    assert_eq!(onsite.model, Model::ApplicationStages);
    assert_eq!(onsite.data["name"], "Onsite");
    assert_eq!(onsite.parent, Some((Model::Jobs, "20".to_owned())));
    assert!(onsite.depends_on.is_empty(), "job changes move no stage");

    let (candidates, _) = drain(&gh, "candidates", FetchMode::Full).await?;
    assert_eq!(candidates.len(), 3);
    let ada = by_remote_id(&candidates, "30");
    assert_eq!(ada.data["first_name"], "Ada");
    assert_eq!(
        ada.data["email_addresses"],
        json!([{"email_address": "ada@mail.example", "type": "personal"}])
    );
    assert_eq!(ada.data["phone_numbers"][0]["phone_number"], "+49 30 1234");
    assert_eq!(ada.data["source"], "LinkedIn");
    assert_eq!(
        ada.data["tag_ids"],
        json!([ids.id(Model::Tags, "11"), ids.id(Model::Tags, "12")])
    );
    assert_eq!(ada.data["custom_fields"], json!({}));
    assert_eq!(ada.data["integration_fields"], json!([]));
    let raw = &ada.remote_data.as_ref().unwrap()["/v3/candidates"];
    assert_eq!(raw["tags"], json!(["Rust", "Senior"]));
    assert!(raw.get("applications").is_none(), "v3 embeds no applications");

    let (applications, _) = drain(&gh, "applications", FetchMode::Full).await?;
    assert_eq!(applications.len(), 4);
    let a50 = by_remote_id(&applications, "50");
    assert_eq!(a50.data["candidate_id"], ids.id(Model::Candidates, "30"));
    assert_eq!(a50.data["job_id"], ids.id(Model::Jobs, "20"));
    assert_eq!(a50.data["current_stage_id"], ids.id(Model::ApplicationStages, "202"));
    assert_eq!(a50.data["outcome"], "PENDING");
    assert_eq!(a50.parent, Some((Model::Candidates, "30".to_owned())));
    // Kombo's /ats/applications: candidate and current stage are linked records whose changes
    // move the application; the job is not ("job: added/removed no, linked record no").
    assert_eq!(
        a50.depends_on,
        vec![
            (Model::Candidates, "30".to_owned()),
            (Model::ApplicationStages, "202".to_owned())
        ]
    );
    assert_eq!(
        by_remote_id(&applications, "53").depends_on,
        vec![(Model::Candidates, "32".to_owned())],
        "no current stage, no stage edge"
    );
    let a51 = by_remote_id(&applications, "51");
    assert_eq!(a51.data["outcome"], "DECLINED");
    assert_eq!(a51.data["rejection_reason_name"], "Lacking skills");
    assert_eq!(a51.data["rejection_reason_id"], ids.id(Model::RejectionReasons, "41"));
    assert_eq!(a51.data["rejected_at"], "2025-03-08T09:00:00.000Z");
    assert_eq!(by_remote_id(&applications, "52").data["outcome"], "HIRED");
    assert_eq!(by_remote_id(&applications, "53").data["outcome"], Value::Null);
    assert_eq!(by_remote_id(&applications, "53").data["current_stage_id"], Value::Null);

    let (interviews, _) = drain(&gh, "interviews", FetchMode::Full).await?;
    assert_eq!(interviews.len(), 2);
    let i60 = by_remote_id(&interviews, "60");
    assert_eq!(i60.data["application_id"], ids.id(Model::Applications, "50"));
    assert_eq!(i60.data["title"], "Onsite");
    // v3 names the plan slot (job interview); the connector resolves its stage through it,
    // and the panel through /v3/interviewers.
    assert_eq!(i60.data["stage_id"], ids.id(Model::ApplicationStages, "202"));
    assert_eq!(
        i60.data["user_ids"],
        json!([ids.id(Model::Users, "1"), ids.id(Model::Users, "2")])
    );
    assert_eq!(i60.data["starting_at"], "2025-03-10T09:00:00.000Z");
    assert_eq!(i60.data["ending_at"], "2025-03-10T10:00:00.000Z");
    assert_eq!(i60.data["location"]["raw"], "Room 1");
    // Nested under its application (its additions, removals and changes move it) and linked to
    // it (its changes move the interview); interviewers are ids in the interview's own data.
    assert_eq!(i60.parent, Some((Model::Applications, "50".to_owned())));
    assert_eq!(i60.depends_on, vec![(Model::Applications, "50".to_owned())]);

    let (offers, _) = drain(&gh, "offers", FetchMode::Full).await?;
    assert_eq!(offers.len(), 2);
    assert_eq!(by_remote_id(&offers, "70").data["status"], "ACCEPTED");
    assert_eq!(by_remote_id(&offers, "71").data["status"], "DRAFT");
    assert_eq!(
        by_remote_id(&offers, "70").data["application_id"],
        ids.id(Model::Applications, "52")
    );
    assert_eq!(
        by_remote_id(&offers, "70").data["employment_start_date"],
        "2025-05-01T00:00:00.000Z"
    );
    assert_eq!(
        by_remote_id(&offers, "70").parent,
        Some((Model::Applications, "52".to_owned()))
    );
    assert_eq!(
        by_remote_id(&offers, "70").depends_on,
        vec![(Model::Applications, "52".to_owned())]
    );

    sim.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn interview_stages_resolve_without_the_job_stages_stream() -> TestResult {
    // A delta, or a run resumed past job_stages, has not seen the plan: the connector reads it.
    let (sim, gh) = start().await?;
    sim.state.company_mut(ToolKind::Greenhouse).ats = small_ats();
    let (interviews, _) = drain(&gh, "interviews", FetchMode::Full).await?;
    let ids = IdGen::new(INTEGRATION);
    assert_eq!(
        by_remote_id(&interviews, "61").data["stage_id"],
        ids.id(Model::ApplicationStages, "203")
    );
    // Likewise tags: candidates alone still resolve their tag names.
    let (candidates, _) = drain(&gh, "candidates", FetchMode::Full).await?;
    assert_eq!(
        by_remote_id(&candidates, "32").data["tag_ids"],
        json!([ids.id(Model::Tags, "12")])
    );
    sim.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn pagination_follows_link_headers_to_the_last_page() -> TestResult {
    let (sim, gh) = start().await?;
    {
        let mut company = sim.state.company_mut(ToolKind::Greenhouse);
        company.ats = Ats::default();
        for id in 1..=1203u64 {
            company
                .ats
                .candidates
                .insert(id, candidate(id, &format!("C{id}"), vec![], vec![]));
        }
    }
    let (records, pages) = drain(&gh, "candidates", FetchMode::Full).await?;
    assert_eq!(pages, 3, "500 per page");
    assert_eq!(records.len(), 1203);
    let mut seen: Vec<u64> = records.iter().map(|r| r.remote_id.parse().unwrap()).collect();
    seen.dedup();
    assert_eq!(
        seen,
        (1..=1203).rev().collect::<Vec<_>>(),
        "each candidate exactly once, newest first"
    );

    // The connector sent per_page and no page on the first request, and the cursor alone after.
    let log = sim
        .state
        .requests(&RequestFilter::tool(ToolKind::Greenhouse).path("/v3/candidates"));
    let queries: Vec<&str> = log
        .iter()
        .filter(|e| e.query.contains("per_page") || e.query.contains("cursor"))
        .map(|e| e.query.as_str())
        .collect();
    assert!(queries[0].starts_with("per_page=500"), "{queries:?}");
    assert!(
        queries
            .iter()
            .skip(1)
            .take(2)
            .all(|q| q.starts_with("cursor=") && !q.contains('&')),
        "{queries:?}"
    );
    assert!(
        queries.iter().all(|q| !q.contains("page=") || q.contains("per_page=")),
        "{queries:?}"
    );
    assert!(log.iter().all(|e| e.auth_scheme.as_deref() == Some("Bearer")));
    sim.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn delta_returns_only_what_changed_since() -> TestResult {
    let (sim, gh) = start().await?;
    sim.state.company_mut(ToolKind::Greenhouse).ats = small_ats();
    let since = Utc::now();
    tokio::time::sleep(Duration::from_millis(5)).await;
    {
        let mut company = sim.state.company_mut(ToolKind::Greenhouse);
        let now = Utc::now();
        let bo = company.ats.candidates.get_mut(&31).unwrap();
        bo.title = Some("Staff Engineer".into());
        bo.updated_at = now;
        let app = company.ats.applications.get_mut(&50).unwrap();
        app.current_stage_id = Some(203);
        app.last_activity_at = now;
        app.updated_at = now;
        let j = company.ats.jobs.get_mut(&21).unwrap();
        j.status = "closed".into();
        j.updated_at = now;
    }
    let delta = FetchMode::Delta { since };
    let (candidates, _) = drain(&gh, "candidates", delta).await?;
    assert_eq!(
        candidates.iter().map(|r| r.remote_id.as_str()).collect::<Vec<_>>(),
        ["31"]
    );
    assert_eq!(candidates[0].data["title"], "Staff Engineer");
    let (applications, _) = drain(&gh, "applications", delta).await?;
    assert_eq!(
        applications.iter().map(|r| r.remote_id.as_str()).collect::<Vec<_>>(),
        ["50"]
    );
    let ids = IdGen::new(INTEGRATION);
    assert_eq!(
        applications[0].data["current_stage_id"],
        ids.id(Model::ApplicationStages, "203")
    );
    let (jobs, _) = drain(&gh, "jobs", delta).await?;
    assert_eq!(
        jobs.iter()
            .map(|r| (r.remote_id.as_str(), r.data["status"].clone()))
            .collect::<Vec<_>>(),
        [("21", json!("CLOSED"))]
    );
    for unchanged in ["users", "job_stages", "interviews", "offers"] {
        assert!(stream(&gh, unchanged).supports_since);
        assert!(drain(&gh, unchanged, delta).await?.0.is_empty(), "{unchanged}");
    }
    // The delta's first request filtered in v3 syntax, inclusive of `since`.
    let first = &sim
        .state
        .requests(&RequestFilter::tool(ToolKind::Greenhouse).path("/v3/candidates"))[0];
    assert!(first.query.contains("updated_at=gte%7C"), "{}", first.query);
    // Small reference lists are read whole.
    assert!(!stream(&gh, "candidate_tags").supports_since);
    assert_eq!(drain(&gh, "candidate_tags", delta).await?.0.len(), 2);
    sim.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn bad_or_revoked_credentials_fail_authentication() -> TestResult {
    let (sim, gh) = start().await?;
    let base = sim.base_url(ToolKind::Greenhouse);
    let mut creds = sim.integration_credentials(ToolKind::Greenhouse);
    creds["client_secret"] = json!("not-the-secret");
    let wrong = connector_at(&base, &creds)?;
    let err = drain(&wrong, "users", FetchMode::Full).await.unwrap_err();
    assert!(
        matches!(&err, SourceError::Auth { status: 401, message, .. } if message.contains("invalid_client")),
        "{err}"
    );

    drain(&gh, "users", FetchMode::Full).await?;
    sim.state.set_revoked(ToolKind::Greenhouse, true);
    let err = drain(&gh, "users", FetchMode::Full).await.unwrap_err();
    assert!(err.is_auth(), "{err}");
    assert!(
        !err.to_string().contains("sim-greenhouse-secret"),
        "errors never carry the secret"
    );

    // A Harvest v1/v2 key: refused when the integration is built, saying what to create.
    let err = connector_at(&base, &json!({"api_key": "x"})).err().unwrap();
    assert!(
        matches!(&err, SourceError::Config(m) if m.contains("31 August 2026") && m.contains("Harvest V3 (OAuth)")),
        "{err}"
    );
    sim.shutdown().await;
    Ok(())
}

/// Tokens: one per run while valid, a new one shortly before the old expires, none leaked.
#[tokio::test]
async fn tokens_are_reused_and_renewed_before_they_expire() -> TestResult {
    let config = SimConfig {
        credentials: SimCredentials {
            greenhouse_token_ttl_secs: 2,
            ..SimCredentials::default()
        },
        ..SimConfig::default()
    };
    let (sim, gh) = start_with(config).await?;
    sim.state.company_mut(ToolKind::Greenhouse).ats = small_ats();
    let tokens = || {
        sim.state
            .request_count(&RequestFilter::tool(ToolKind::Greenhouse).path("/token"))
    };
    drain(&gh, "users", FetchMode::Full).await?;
    drain(&gh, "jobs", FetchMode::Full).await?;
    assert_eq!(tokens(), 1, "a valid token is reused");
    tokio::time::sleep(Duration::from_millis(2100)).await;
    drain(&gh, "users", FetchMode::Full).await?;
    assert_eq!(tokens(), 2, "an expired token is replaced before use");
    let refused = sim
        .state
        .requests(&RequestFilter::tool(ToolKind::Greenhouse))
        .into_iter()
        .filter(|e| e.status == 401)
        .count();
    assert_eq!(refused, 0, "the connector never sent an expired token");
    sim.shutdown().await;
    Ok(())
}

/// The simulated Greenhouse refuses what v3 refuses: v1 paths, `page`, a cursor with company,
/// out-of-range `per_page`, and an expired token.
#[tokio::test]
async fn the_simulator_holds_clients_to_v3() -> TestResult {
    let config = SimConfig {
        credentials: SimCredentials {
            greenhouse_token_ttl_secs: 1,
            ..SimCredentials::default()
        },
        ..SimConfig::default()
    };
    let sim = Simulator::start(config, "127.0.0.1:0".parse()?).await?;
    let base = sim.base_url(ToolKind::Greenhouse);
    let c = sim.state.credentials().clone();
    let http = reqwest::Client::new();
    let token: Value = http
        .post(format!("{base}/token"))
        .basic_auth(&c.greenhouse_client_id, Some(&c.greenhouse_client_secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(token["token_type"], "Bearer");
    assert!(token["expires_at"].is_string());
    let bearer = token["access_token"].as_str().unwrap().to_owned();
    let get = |q: String| {
        let http = http.clone();
        let bearer = bearer.clone();
        async move { http.get(q).bearer_auth(bearer).send().await }
    };
    let v1 = get(format!("{base}/v1/candidates")).await?;
    assert_eq!(v1.status(), 404, "Harvest v1 is gone");
    // v3 reads one record through a list's `ids` filter; it has no `/v3/candidates/{id}`.
    let listed: Value = get(format!("{base}/v3/candidates?per_page=1")).await?.json().await?;
    let id = listed[0]["id"].as_u64().expect("a candidate");
    let single = get(format!("{base}/v3/candidates/{id}")).await?;
    assert_eq!(single.status(), 404, "no single-record read in v3");
    assert_eq!(single.json::<Value>().await?, json!({"message": "Resource not found"}));
    for resource in ["applications", "jobs", "users", "offers"] {
        assert_eq!(
            get(format!("{base}/v3/{resource}/1")).await?.status(),
            404,
            "{resource}"
        );
    }
    let by_ids: Value = get(format!("{base}/v3/candidates?ids={id}&fields=id,first_name"))
        .await?
        .json()
        .await?;
    assert_eq!(by_ids.as_array().map(Vec::len), Some(1), "{by_ids}");
    let keys: Vec<&String> = by_ids[0].as_object().unwrap().keys().collect();
    assert_eq!(keys, ["first_name", "id"], "`fields` narrows the object");
    let first = get(format!("{base}/v3/candidates?per_page=2")).await?;
    assert_eq!(first.status(), 200);
    for h in ["x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset"] {
        assert!(first.headers().contains_key(h), "{h}");
    }
    let link = first.headers()["link"].to_str()?.to_owned();
    assert!(link.ends_with("; rel=\"next\""), "{link}");
    let next = link.trim_start_matches('<').split('>').next().unwrap().to_owned();
    assert!(next.contains("?cursor=") && !next.contains('&'), "{next}");
    assert_eq!(get(next.clone()).await?.status(), 200);
    for refused in [
        format!("{next}&per_page=2"),
        format!("{base}/v3/candidates?page=2"),
        format!("{base}/v3/candidates?per_page=501"),
        format!("{base}/v3/candidates?updated_after=2024-01-01"),
        format!("{base}/v3/candidates?updated_at=2024-01-01"),
    ] {
        let resp = get(refused.clone()).await?;
        assert_eq!(resp.status(), 422, "{refused}");
        let body: Value = resp.json().await?;
        assert!(body["errors"][0]["field"].is_string(), "{refused}: {body}");
    }
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let expired = get(format!("{base}/v3/candidates")).await?;
    assert_eq!(expired.status(), 401);
    let body: Value = expired.json().await?;
    assert_eq!(body["message"], "Unauthorized");
    sim.shutdown().await;
    Ok(())
}

/// While the simulator plays Greenhouse's documented limit, the 76th request of a 30-second
/// window is a 429 with `Retry-After` and the rate headers, and a connector waits it out.
#[tokio::test]
async fn the_documented_rate_limit_is_waited_out() -> TestResult {
    let (sim, gh) = start().await?;
    sim.state.company_mut(ToolKind::Greenhouse).ats = small_ats();
    sim.state.set_documented_limits(true);
    let limit = tributary_sim::tools::greenhouse::DOCUMENTED_RATE_LIMIT as usize;
    let started = sim.state.last_request_seq();
    for _ in 0..limit + 5 {
        let (tags, _) = drain(&gh, "candidate_tags", FetchMode::Full).await?;
        assert_eq!(tags.len(), 2);
    }
    let served = sim.state.requests(
        &RequestFilter::tool(ToolKind::Greenhouse)
            .path("/v3/candidate_tags")
            .since(started),
    );
    assert!(served.iter().filter(|e| e.status == 200).count() >= limit + 5);
    // A client that does not wait is refused as Greenhouse documents.
    let c = sim.state.credentials().clone();
    let base = sim.base_url(ToolKind::Greenhouse);
    let http = reqwest::Client::new();
    let token: Value = http
        .post(format!("{base}/token"))
        .basic_auth(&c.greenhouse_client_id, Some(&c.greenhouse_client_secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await?
        .json()
        .await?;
    let bearer = token["access_token"].as_str().unwrap();
    let mut throttled = None;
    for _ in 0..=limit {
        let resp = http.get(format!("{base}/v3/users")).bearer_auth(bearer).send().await?;
        if resp.status() == 429 {
            throttled = Some(resp);
            break;
        }
    }
    let resp = throttled.expect("a 429 within one window's worth of requests");
    let retry: u64 = resp.headers()["retry-after"].to_str()?.parse()?;
    assert!((1..=30).contains(&retry), "{retry}");
    assert_eq!(resp.headers()["x-ratelimit-remaining"], "0");
    assert_eq!(resp.headers()["x-ratelimit-limit"], limit.to_string().as_str());
    assert!(resp.headers().contains_key("x-ratelimit-reset"));
    sim.shutdown().await;
    Ok(())
}

/// A token the API refuses (rotated, revoked in Greenhouse) is replaced once; a fresh token
/// refused too is an authentication failure, not a loop.
#[tokio::test]
async fn a_refused_token_is_renewed_once() -> TestResult {
    let issued = Arc::new(AtomicUsize::new(0));
    let refuse_all = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (i, r) = (issued.clone(), refuse_all.clone());
    let app = axum::Router::new()
        .route(
            "/token",
            axum::routing::post(move || {
                let n = i.fetch_add(1, Ordering::SeqCst) + 1;
                async move {
                    axum::Json(json!({"access_token": format!("t{n}"), "token_type": "Bearer", "expires_in": 3600}))
                }
            }),
        )
        .fallback(move |headers: axum::http::HeaderMap| {
            let refuse_all = r.clone();
            async move {
                let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or("");
                if auth == "Bearer t1" || refuse_all.load(Ordering::SeqCst) {
                    return (axum::http::StatusCode::UNAUTHORIZED, r#"{"message":"Unauthorized"}"#).into_response();
                }
                ([("content-type", "application/json")], r#"[{"id":1,"name":"Ruby"}]"#).into_response()
            }
        });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, app).await });
    let gh = connector_at(&format!("http://{addr}"), &hostile_creds(addr))?;
    let (tags, _) = drain(&gh, "candidate_tags", FetchMode::Full).await?;
    assert_eq!(tags.len(), 1);
    assert_eq!(issued.load(Ordering::SeqCst), 2, "t1 refused, t2 used");
    refuse_all.store(true, Ordering::SeqCst);
    let err = drain(&gh, "candidate_tags", FetchMode::Full).await.unwrap_err();
    assert!(err.is_auth(), "{err}");
    assert_eq!(issued.load(Ordering::SeqCst), 3, "one renewal, then the failure stands");
    Ok(())
}

use axum::response::IntoResponse;

/// Credentials for a hostile server that also plays the token endpoint.
fn hostile_creds(addr: SocketAddr) -> Value {
    json!({"client_id": "a", "client_secret": "b", "token_url": format!("http://{addr}/token")})
}

async fn token_reply() -> axum::Json<Value> {
    axum::Json(json!({"access_token": "t", "token_type": "Bearer", "expires_at": "2099-01-01T00:00:00Z"}))
}

/// Serves `body` with `link` for every request but the token's and counts the requests.
async fn hostile(body: &'static str, link: Option<String>) -> (SocketAddr, Arc<AtomicUsize>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    let app = axum::Router::new()
        .route("/token", axum::routing::post(token_reply))
        .fallback(move || {
            let counter = counter.clone();
            let link = link.clone();
            async move {
                counter.fetch_add(1, Ordering::SeqCst);
                let mut resp =
                    axum::response::IntoResponse::into_response(([("content-type", "application/json")], body));
                if let Some(link) = link {
                    resp.headers_mut().insert("link", link.parse().expect("header"));
                }
                resp
            }
        });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (addr, hits)
}

#[tokio::test]
async fn error_bodies_and_malformed_records_are_rejected() -> TestResult {
    let (addr, _) = hostile(r#"{"message":"Something went wrong"}"#, None).await;
    let gh = connector_at(&format!("http://{addr}"), &hostile_creds(addr))?;
    let err = drain(&gh, "users", FetchMode::Full).await.unwrap_err();
    assert!(
        matches!(&err, SourceError::Malformed { detail, .. } if detail.contains("Something went wrong")),
        "{err}"
    );

    let (addr, _) = hostile(r#"[{"id":"seven","name":"Ruby"}]"#, None).await;
    let gh = connector_at(&format!("http://{addr}"), &hostile_creds(addr))?;
    let err = drain(&gh, "candidate_tags", FetchMode::Full).await.unwrap_err();
    assert!(matches!(err, SourceError::Malformed { .. }), "{err}");

    let (addr, _) = hostile(r#"[{"id":1,"name":"Ruby"}"#, None).await;
    let gh = connector_at(&format!("http://{addr}"), &hostile_creds(addr))?;
    let err = drain(&gh, "candidate_tags", FetchMode::Full).await.unwrap_err();
    assert!(matches!(err, SourceError::Malformed { .. }), "truncated body: {err}");
    Ok(())
}

#[tokio::test]
async fn links_that_loop_or_leave_the_host_stop_the_stream() -> TestResult {
    let tags = r#"[{"id":1,"name":"Ruby"}]"#;
    let (evil, evil_hits) = hostile(tags, None).await;
    let (addr, _) = hostile(
        tags,
        Some(format!("<http://{evil}/v3/candidate_tags?cursor=abc>; rel=\"next\"")),
    )
    .await;
    let gh = connector_at(&format!("http://{addr}"), &hostile_creds(addr))?;
    let err = drain(&gh, "candidate_tags", FetchMode::Full).await.unwrap_err();
    assert!(matches!(err, SourceError::Pagination { .. }), "{err}");
    assert_eq!(
        evil_hits.load(Ordering::SeqCst),
        0,
        "credentials never went to the foreign host"
    );

    // A server whose next link always points at the same cursor loops: caught on the second page.
    let (self_addr, self_hits) = self_looping(tags).await;
    let gh = connector_at(&format!("http://{self_addr}"), &hostile_creds(self_addr))?;
    let err = drain(&gh, "candidate_tags", FetchMode::Full).await.unwrap_err();
    assert!(matches!(err, SourceError::Pagination { .. }), "{err}");
    assert_eq!(self_hits.load(Ordering::SeqCst), 2);
    Ok(())
}

/// A server whose `next` link always points at the same cursor of itself.
async fn self_looping(body: &'static str) -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    let link = format!("<http://{addr}/v3/candidate_tags?cursor=same>; rel=\"next\"");
    let app = axum::Router::new()
        .route("/token", axum::routing::post(token_reply))
        .fallback(move || {
            let counter = counter.clone();
            let link = link.clone();
            async move {
                counter.fetch_add(1, Ordering::SeqCst);
                ([("content-type", "application/json".to_owned()), ("link", link)], body)
            }
        });
    tokio::spawn(async move { axum::serve(listener, app).await });
    (addr, hits)
}

/// Deletion candidates of candidates and applications are confirmed through the lists' `ids`
/// filter; other streams leave theirs to a second listing.
#[tokio::test]
async fn lookups_confirm_candidates_and_applications_by_id() -> TestResult {
    let (sim, gh) = start().await?;
    sim.state.company_mut(ToolKind::Greenhouse).ats = small_ats();
    let lookup = gh
        .lookup(
            &stream(&gh, "candidates"),
            &[(Model::Candidates, "30".into()), (Model::Candidates, "99".into())],
        )
        .await?;
    assert_eq!(
        lookup.found.iter().map(|r| r.remote_id.as_str()).collect::<Vec<_>>(),
        ["30"],
        "30 is there, 99 is confirmed gone"
    );
    assert_eq!(lookup.found[0].data["source"], "LinkedIn", "found records are whole");
    assert!(lookup.unchecked.is_empty());
    let lookup = gh
        .lookup(
            &stream(&gh, "applications"),
            &[(Model::Applications, "51".into()), (Model::Applications, "77".into())],
        )
        .await?;
    assert_eq!(lookup.found.len(), 1);
    assert_eq!(lookup.found[0].data["rejection_reason_name"], "Lacking skills");
    let jobs = gh.lookup(&stream(&gh, "jobs"), &[(Model::Jobs, "20".into())]).await?;
    assert!(jobs.found.is_empty());
    assert_eq!(jobs.unchecked, vec![(Model::Jobs, "20".to_owned())]);
    let log = sim
        .state
        .requests(&RequestFilter::tool(ToolKind::Greenhouse).path("/v3/candidates"));
    assert!(
        log.iter()
            .any(|e| e.query.contains("ids=30%2C99") || e.query.contains("ids=30,99")),
        "{log:?}"
    );
    sim.shutdown().await;
    Ok(())
}

/// Names behind ids (departments, offices, sources, rejection reasons) are read with v3's
/// `fields`, only what the mapping uses.
#[tokio::test]
async fn names_are_read_with_only_the_fields_they_need() -> TestResult {
    let (sim, gh) = start().await?;
    sim.state.company_mut(ToolKind::Greenhouse).ats = small_ats();
    let (jobs, _) = drain(&gh, "jobs", FetchMode::Full).await?;
    assert!(jobs.iter().any(|j| j.data["department"].is_string()), "names resolved");
    drain(&gh, "applications", FetchMode::Full).await?;
    for (path, fields) in [
        ("/v3/departments", "id,name"),
        ("/v3/offices", "id,name,location"),
        ("/v3/rejection_reasons", "id,name"),
    ] {
        let log = sim
            .state
            .requests(&RequestFilter::tool(ToolKind::Greenhouse).path(path));
        assert!(!log.is_empty(), "{path} read");
        for e in &log {
            let sent: Vec<(String, String)> = url::form_urlencoded::parse(e.query.as_bytes())
                .into_owned()
                .filter(|(k, _)| k == "fields")
                .collect();
            assert_eq!(sent, [("fields".to_owned(), fields.to_owned())], "{path}?{}", e.query);
        }
    }
    sim.shutdown().await;
    Ok(())
}

/// Token requests have a rate window of their own. Runs build their connector afresh, yet all
/// connectors of one set of credentials share its token, so any number of runs (here twice the
/// window's allowance, half of them at once) ask for one token per token lifetime; a client
/// asking for a token per call is refused with the 429 and `Retry-After`.
#[tokio::test]
async fn one_token_serves_every_run_and_token_requests_stay_inside_their_window() -> TestResult {
    let sim = Simulator::start(SimConfig::default(), "127.0.0.1:0".parse()?).await?;
    sim.state.company_mut(ToolKind::Greenhouse).ats = small_ats();
    sim.state.set_documented_limits(true);
    let base = sim.base_url(ToolKind::Greenhouse);
    let creds = sim.integration_credentials(ToolKind::Greenhouse);
    let allowance = tributary_sim::tools::greenhouse::TOKEN_RATE_LIMIT as usize;
    let tokens = || {
        sim.state
            .request_count(&RequestFilter::tool(ToolKind::Greenhouse).path("/token"))
    };
    for _ in 0..allowance {
        let run = connector_at(&base, &creds)?;
        assert_eq!(drain(&run, "candidate_tags", FetchMode::Full).await?.0.len(), 2);
    }
    let concurrent: Vec<_> = (0..allowance)
        .map(|_| {
            let run = connector_at(&base, &creds).expect("connector");
            tokio::spawn(async move { drain(&run, "candidate_tags", FetchMode::Full).await.map(|r| r.0.len()) })
        })
        .collect();
    for run in concurrent {
        assert_eq!(run.await??, 2);
    }
    assert_eq!(tokens(), 1, "one token for every run within its lifetime");
    let refused = sim
        .state
        .requests(&RequestFilter::tool(ToolKind::Greenhouse))
        .into_iter()
        .filter(|e| e.status == 429)
        .count();
    assert_eq!(refused, 0, "no run met a limit");

    // Changed credentials (a rotated secret) never reuse the old ones' token.
    let mut rotated = creds.clone();
    rotated["client_secret"] = json!("rotated-secret");
    let err = drain(&connector_at(&base, &rotated)?, "users", FetchMode::Full)
        .await
        .unwrap_err();
    assert!(err.is_auth(), "{err}");
    assert_eq!(tokens(), 2);

    // A client that asks for a token per call meets the window.
    let c = sim.state.credentials().clone();
    let http = reqwest::Client::new();
    let mut throttled = None;
    for _ in 0..allowance {
        let resp = http
            .post(format!("{base}/token"))
            .basic_auth(&c.greenhouse_client_id, Some(&c.greenhouse_client_secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await?;
        if resp.status() == 429 {
            throttled = Some(resp);
            break;
        }
        assert_eq!(resp.status(), 200);
    }
    let resp = throttled.expect("the token window's allowance ran out");
    let retry: u64 = resp.headers()["retry-after"].to_str()?.parse()?;
    assert!((1..=60).contains(&retry), "{retry}");
    assert_eq!(resp.headers()["x-ratelimit-remaining"], "0");
    assert_eq!(resp.json::<Value>().await?, json!({"message": "Too Many Requests"}));
    sim.shutdown().await;
    Ok(())
}

/// A related list answering outside its contract (a job owner without its `type`) fails the
/// jobs stream, naming the endpoint and the field.
#[tokio::test]
async fn a_bad_related_row_fails_the_stream_naming_endpoint_and_field() -> TestResult {
    let (sim, gh) = start().await?;
    sim.state.company_mut(ToolKind::Greenhouse).ats = small_ats();
    sim.state.add_fault(
        tributary_sim::FaultRule::new(
            ToolKind::Greenhouse,
            tributary_sim::FaultAction::Status {
                code: 200,
                retry_after: None,
                body: Some(r#"[{"id": 1, "job_id": 20, "user_id": 2}]"#.into()),
            },
        )
        .path("/v3/job_owners"),
    )?;
    let err = drain(&gh, "jobs", FetchMode::Full).await.unwrap_err();
    assert!(
        matches!(&err, SourceError::Malformed { endpoint, detail } if endpoint.contains("/v3/job_owners") && detail.contains("type")),
        "{err}"
    );
    sim.shutdown().await;
    Ok(())
}
