//! Greenhouse Harvest (v1) connector.
//!
//! Credentials: `{"api_key": "<Harvest API key>"}`, sent as the Basic-auth user name with a
//! blank password (<https://developers.greenhouse.io/harvest.html#authentication>).
//!
//! Every list is paged with `per_page=500` (the documented maximum) and followed through the
//! `Link` header (see `paging`). Deltas use `updated_after` where Harvest offers it and
//! `last_activity_after` for applications, which have no `updated_at`; candidate tags and
//! rejection reasons have no time filter and are re-read whole.

mod map;
mod paging;
mod wire;

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use async_trait::async_trait;
use chrono::SecondsFormat;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tributary_model::{IdGen, Model, SourceRecord, ToolKind};
use tributary_source::{
    RateLimit,
    BodyVerdict, Connector, FetchMode, Page, Secret, SourceClient, SourceError, SourceResponse, Stream,
};
use url::Url;

pub(crate) use map::remote_paths;
use paging::{Cursor, Links};

/// Rate limits this tool documents as numbers (see `tributary_connectors::documented_limits`).
pub(crate) const DOCUMENTED_LIMITS: &[RateLimit] = &[];

/// "Must be an integer between 1 and 500."
const PER_PAGE: u32 = 500;

/// Following `next` links while filling a lookup table stops here: far beyond any real tag
/// list, and a guard against a link chain that never ends.
const MAX_LOOKUP_PAGES: usize = 10_000;

/// Unknown interview steps a DELTA resolves one by one (the interview's application, then its
/// job's plan: two requests each) before it reads the whole stage list instead. A FULL reads
/// the list at its first unknown step: it meets thousands.
const SINGLE_STEP_LOOKUPS: usize = 10;

/// The streams of a sync, in order: reference lists first, so a consumer reading mid-sync
/// finds what candidates and applications point at.
const STREAMS: &[(&str, &str, &[Model], Option<&str>)] = &[
    ("users", map::USERS, &[Model::Users], Some("updated_after")),
    ("candidate_tags", map::TAGS, &[Model::Tags], None),
    (
        "rejection_reasons",
        map::REJECTION_REASONS,
        &[Model::RejectionReasons],
        None,
    ),
    ("jobs", map::JOBS, &[Model::Jobs], Some("updated_after")),
    (
        "job_stages",
        map::JOB_STAGES,
        &[Model::ApplicationStages],
        Some("updated_after"),
    ),
    (
        "candidates",
        map::CANDIDATES,
        &[Model::Candidates],
        Some("updated_after"),
    ),
    (
        "applications",
        map::APPLICATIONS,
        &[Model::Applications],
        Some("last_activity_after"),
    ),
    (
        "scheduled_interviews",
        map::SCHEDULED_INTERVIEWS,
        &[Model::Interviews],
        Some("updated_after"),
    ),
    ("offers", map::OFFERS, &[Model::Offers], Some("updated_after")),
];

pub struct GreenhouseConnector {
    /// Always ends in `/`, so joining `v1/...` keeps any path prefix of the configured URL.
    base_url: Url,
    api_key: Secret,
    ids: IdGen,
    client: SourceClient,
    /// Candidate tag name → tag id. Harvest lists a candidate's tags by name only.
    tags: Mutex<TagLookup>,
    /// Interview step id → job stage id. A scheduled interview names its interview step,
    /// which belongs to exactly one stage of its job's plan.
    steps: Mutex<StepLookup>,
}

/// Lookup state lives in the connector, which a run builds afresh: a run resumed after a pause
/// or a crash starts with none of it. Each table is therefore rebuilt in bulk, by listing its
/// endpoint once, never record by record, so resuming costs about what the remaining pages do.
#[derive(Debug, Default)]
struct TagLookup {
    by_name: HashMap<String, u64>,
    /// Names still unknown after the list was last read: not worth reading it again for.
    absent: HashSet<String>,
}

#[derive(Debug, Default)]
struct StepLookup {
    stage_of_step: HashMap<u64, u64>,
    /// The whole stage list is in `stage_of_step`: its stream was read from its first page to
    /// its last in this run, or it was listed for the lookup.
    complete: bool,
    /// The `job_stages` stream started at its first page in this run (not resumed mid-way).
    stream_from_start: bool,
    /// Jobs whose plan was read for a single step.
    plans_read: HashSet<u64>,
    /// Steps no stage holds, even after their job's plan was read.
    absent: HashSet<u64>,
    single_lookups: usize,
}

impl GreenhouseConnector {
    pub fn new(base_url: Url, credentials: &Value, ids: IdGen, client: SourceClient) -> Result<Self, SourceError> {
        let api_key = match credentials.get("api_key") {
            Some(Value::String(k)) if !k.trim().is_empty() => Secret::new(k.trim()),
            Some(_) => {
                return Err(SourceError::Config(
                    "greenhouse credential `api_key` must be a non-empty string".into(),
                ));
            }
            None => {
                return Err(SourceError::Config(
                    "greenhouse credentials need `api_key` (a Harvest API key from Configure > Dev Center > API Credential Management)".into(),
                ));
            }
        };
        let mut base_url = base_url;
        if !base_url.path().ends_with('/') {
            let path = format!("{}/", base_url.path());
            base_url.set_path(&path);
        }
        Ok(Self {
            base_url,
            api_key,
            ids,
            client,
            tags: Mutex::new(TagLookup::default()),
            steps: Mutex::new(StepLookup::default()),
        })
    }

    fn url(&self, path: &str) -> Result<Url, SourceError> {
        self.base_url
            .join(path.trim_start_matches('/'))
            .map_err(|e| SourceError::Config(format!("cannot build URL for {path}: {e}")))
    }

    fn first_url(&self, path: &str, since_param: Option<&str>, mode: FetchMode) -> Result<Url, SourceError> {
        let mut url = self.url(path)?;
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("per_page", &PER_PAGE.to_string());
            if let (FetchMode::Delta { since }, Some(param)) = (mode, since_param) {
                q.append_pair(param, &since.to_rfc3339_opts(SecondsFormat::Millis, true));
            }
        }
        Ok(url)
    }

    /// GETs `url` with the API key. `label` names the endpoint in errors (no credentials).
    async fn get(&self, label: &str, url: &Url) -> Result<SourceResponse, SourceError> {
        let key = self.api_key.expose();
        self.client
            .send_checked(
                label,
                |http| http.get(url.clone()).basic_auth(key, Some("")),
                error_body,
            )
            .await
    }

    /// One page of a list endpoint: its raw objects and its links.
    async fn get_list(&self, label: &str, url: &Url) -> Result<(Vec<Value>, Links), SourceError> {
        let resp = self.get(label, url).await?;
        let rows: Vec<Value> = resp.json()?;
        let links = resp.header("link").map(paging::parse_link_header).unwrap_or_default();
        Ok((rows, links))
    }

    /// All pages of a small list, for lookup tables.
    async fn get_all(&self, path: &str) -> Result<Vec<Value>, SourceError> {
        let label = format!("GET {path}");
        let mut url = self.first_url(path, None, FetchMode::Full)?;
        let mut all = Vec::new();
        for _ in 0..MAX_LOOKUP_PAGES {
            let (rows, links) = self.get_list(&label, &url).await?;
            let n = rows.len();
            all.extend(rows);
            match paging::next_cursor(&self.base_url, &url, links, n, &label)? {
                Some(next) => url = paging::check_target(&self.base_url, url.path(), &next.url, &label)?,
                None => return Ok(all),
            }
        }
        Err(SourceError::Pagination {
            endpoint: label,
            detail: format!("more than {MAX_LOOKUP_PAGES} pages"),
        })
    }

    fn tags(&self) -> std::sync::MutexGuard<'_, TagLookup> {
        self.tags.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn steps(&self) -> std::sync::MutexGuard<'_, StepLookup> {
        self.steps.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn remember_steps(&self, stages: &[wire::JobStage]) {
        self.steps().stage_of_step.extend(
            stages
                .iter()
                .flat_map(|s| s.interviews.iter().map(move |i| (i.id, s.id))),
        );
    }

    /// Unified tag ids of the named tags, re-reading the tag list once if a name is unknown
    /// (a tag created since the list was read, or a run resumed past the tags stream). A name
    /// the fresh list lacks too is not looked for again.
    async fn resolve_tags(&self, names: &[&str]) -> Result<HashMap<String, u64>, SourceError> {
        let missing = {
            let tags = self.tags();
            names
                .iter()
                .any(|n| !tags.by_name.contains_key(*n) && !tags.absent.contains(*n))
        };
        if missing {
            let rows = self.get_all(map::TAGS).await?;
            let listed = rows
                .iter()
                .map(|r| parse::<wire::Tag>(r, map::TAGS).map(|t| (t.name, t.id)))
                .collect::<Result<Vec<_>, _>>()?;
            let mut tags = self.tags();
            tags.by_name.extend(listed);
            let absent: Vec<String> = names
                .iter()
                .filter(|n| !tags.by_name.contains_key(**n))
                .map(|n| (*n).to_owned())
                .collect();
            tags.absent.extend(absent);
        }
        Ok(self.tags().by_name.clone())
    }

    /// Reads the whole stage list into the step lookup: one request per 500 stages.
    async fn list_all_stages(&self) -> Result<(), SourceError> {
        let rows = self.get_all(map::JOB_STAGES).await?;
        let stages = rows
            .iter()
            .map(|r| parse::<wire::JobStage>(r, map::JOB_STAGES))
            .collect::<Result<Vec<_>, _>>()?;
        self.remember_steps(&stages);
        self.steps().complete = true;
        Ok(())
    }

    /// The job stage of each interview step. An unknown step (a run resumed past the stages
    /// stream, a delta that did not see the stage) has the whole stage list read in bulk, at
    /// once in a FULL and after [`SINGLE_STEP_LOOKUPS`] steps in a DELTA, which meets few;
    /// until then, and for a stage created since the list was read, the interview's
    /// application and its job's plan are read.
    async fn resolve_step(&self, step: u64, application_id: u64, mode: FetchMode) -> Result<Option<u64>, SourceError> {
        let bulk = {
            let steps = self.steps();
            if let Some(stage) = steps.stage_of_step.get(&step) {
                return Ok(Some(*stage));
            }
            if steps.absent.contains(&step) {
                return Ok(None);
            }
            !steps.complete && (mode == FetchMode::Full || steps.single_lookups >= SINGLE_STEP_LOOKUPS)
        };
        if bulk {
            self.list_all_stages().await?;
            if let Some(stage) = self.steps().stage_of_step.get(&step) {
                return Ok(Some(*stage));
            }
        }
        self.steps().single_lookups += 1;
        let path = format!("/v1/applications/{application_id}");
        let resp = match self.get("GET /v1/applications/{id}", &self.url(&path)?).await {
            Ok(r) => r,
            // Deleted since the interview list was read: nothing to resolve against.
            Err(SourceError::Rejected { status: 404, .. }) => return Ok(None),
            Err(e) => return Err(e),
        };
        let app: wire::Application = resp.json()?;
        let Some(job) = app.jobs.first().map(|j| j.id) else {
            return Ok(None);
        };
        let first_read = self.steps().plans_read.insert(job);
        if first_read {
            let path = format!("/v1/jobs/{job}/stages");
            match self.get("GET /v1/jobs/{id}/stages", &self.url(&path)?).await {
                Ok(resp) => {
                    let stages: Vec<wire::JobStage> = resp.json()?;
                    self.remember_steps(&stages);
                }
                Err(SourceError::Rejected { status: 404, .. }) => {}
                Err(e) => return Err(e),
            }
        }
        let mut steps = self.steps();
        let found = steps.stage_of_step.get(&step).copied();
        if found.is_none() {
            steps.absent.insert(step);
        }
        Ok(found)
    }

    async fn map_page(
        &self,
        stream: &str,
        rows: Vec<Value>,
        path: &str,
        mode: FetchMode,
    ) -> Result<Vec<SourceRecord>, SourceError> {
        let ids = &self.ids;
        let mut out = Vec::with_capacity(rows.len());
        match stream {
            "users" => {
                for raw in rows {
                    out.push(map::user(parse(&raw, path)?, raw));
                }
            }
            "candidate_tags" => {
                for raw in rows {
                    let tag: wire::Tag = parse(&raw, path)?;
                    self.tags().by_name.insert(tag.name.clone(), tag.id);
                    out.push(map::tag(tag, raw));
                }
            }
            "rejection_reasons" => {
                for raw in rows {
                    out.push(map::rejection_reason(parse(&raw, path)?, raw));
                }
            }
            "jobs" => {
                for raw in rows {
                    out.push(map::job(ids, parse(&raw, path)?, raw));
                }
            }
            "job_stages" => {
                for raw in rows {
                    let stage: wire::JobStage = parse(&raw, path)?;
                    self.remember_steps(std::slice::from_ref(&stage));
                    out.push(map::job_stage(stage, raw));
                }
            }
            "candidates" => {
                let parsed = rows
                    .into_iter()
                    .map(|raw| parse::<wire::Candidate>(&raw, path).map(|c| (c, raw)))
                    .collect::<Result<Vec<_>, _>>()?;
                let names: Vec<&str> = parsed
                    .iter()
                    .flat_map(|(c, _)| c.tags.iter().map(String::as_str))
                    .collect();
                let tags = self.resolve_tags(&names).await?;
                for (c, raw) in parsed {
                    let tag_ids = c
                        .tags
                        .iter()
                        .filter_map(|name| match tags.get(name) {
                            Some(id) => Some(ids.id(Model::Tags, &id.to_string())),
                            None => {
                                tracing::warn!(candidate = c.id, tag = %name, "candidate tag not in the tag list; left out");
                                None
                            }
                        })
                        .collect();
                    out.push(map::candidate(c, raw, tag_ids));
                }
            }
            "applications" => {
                for raw in rows {
                    out.push(map::application(ids, parse(&raw, path)?, raw));
                }
            }
            "scheduled_interviews" => {
                for raw in rows {
                    let interview: wire::ScheduledInterview = parse(&raw, path)?;
                    let stage = match interview.interview.as_ref().map(|s| s.id) {
                        Some(step) => self.resolve_step(step, interview.application_id, mode).await?,
                        None => None,
                    };
                    out.push(map::scheduled_interview(ids, interview, raw, stage));
                }
            }
            "offers" => {
                for raw in rows {
                    out.push(map::offer(ids, parse(&raw, path)?, raw));
                }
            }
            other => return Err(SourceError::Config(format!("greenhouse has no stream `{other}`"))),
        }
        Ok(out)
    }
}

/// Strict parse of one raw object into its documented shape.
fn parse<T: DeserializeOwned>(raw: &Value, path: &str) -> Result<T, SourceError> {
    T::deserialize(raw).map_err(|e| {
        let id = raw.get("id").map_or_else(|| "?".to_owned(), Value::to_string);
        SourceError::malformed(format!("GET {path}"), format!("object with id {id}: {e}"))
    })
}

/// Harvest answers list requests with a JSON array. An object carrying `message` on a 2xx is
/// an error reported in the body (as its 4xx bodies are written), not data.
fn error_body(resp: &SourceResponse) -> BodyVerdict {
    let body = resp.body.trim_ascii_start();
    if body.first() != Some(&b'{') {
        return BodyVerdict::Ok;
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(obj)) => match obj.get("message").and_then(Value::as_str) {
            Some(message) => BodyVerdict::Fail(SourceError::malformed(
                &resp.endpoint,
                format!("HTTP {} with an error body: {message}", resp.status.as_u16()),
            )),
            None => BodyVerdict::Ok,
        },
        _ => BodyVerdict::Ok,
    }
}

#[async_trait]
impl Connector for GreenhouseConnector {
    fn tool(&self) -> ToolKind {
        ToolKind::Greenhouse
    }

    fn streams(&self) -> Vec<Stream> {
        STREAMS
            .iter()
            .map(|(name, _, models, since)| Stream {
                name,
                models,
                supports_since: since.is_some(),
            })
            .collect()
    }

    async fn fetch_page(&self, stream: &Stream, cursor: Option<&Value>, mode: FetchMode) -> Result<Page, SourceError> {
        let &(name, path, _, since_param) = STREAMS
            .iter()
            .find(|(n, ..)| *n == stream.name)
            .ok_or_else(|| SourceError::Config(format!("greenhouse has no stream `{}`", stream.name)))?;
        let label = format!("GET {path}");
        let url = match cursor {
            None => self.first_url(path, since_param, mode)?,
            // A checkpoint is data like any other: it gets the same checks as a fresh link.
            Some(c) => {
                let cursor = Cursor::from_value(c, &label)?;
                paging::check_target(&self.base_url, self.url(path)?.path(), &cursor.url, &label)?
            }
        };
        if name == "job_stages" && cursor.is_none() {
            self.steps().stream_from_start = mode == FetchMode::Full;
        }
        let (rows, links) = self.get_list(&label, &url).await?;
        let n = rows.len();
        let next = paging::next_cursor(&self.base_url, &url, links, n, &label)?;
        let records = self.map_page(name, rows, path, mode).await?;
        if name == "job_stages" && next.is_none() {
            let mut steps = self.steps();
            // Read whole, first page to last: every step is known.
            steps.complete |= steps.stream_from_start;
        }
        Ok(Page {
            records,
            next: next.map(|c| c.to_value()),
        })
    }

    fn remote_paths(&self, model: Model, field: &str) -> Vec<String> {
        map::remote_paths(model, field)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn wrong_types_and_missing_ids_are_malformed() {
        let bad_type = json!({"id": 1, "first_name": "A", "last_name": "B", "primary_email_address": null,
            "disabled": "no", "site_admin": false, "created_at": null});
        let err = parse::<wire::User>(&bad_type, map::USERS).unwrap_err();
        assert!(matches!(err, SourceError::Malformed { .. }), "{err}");
        let no_id = json!({"name": "Ruby"});
        assert!(matches!(
            parse::<wire::Tag>(&no_id, map::TAGS),
            Err(SourceError::Malformed { .. })
        ));
        let bad_date = json!({"id": 3, "application_id": 4, "created_at": "yesterday", "updated_at": null,
            "sent_at": null, "starts_at": null, "status": "accepted", "custom_fields": {}});
        assert!(matches!(
            parse::<wire::Offer>(&bad_date, map::OFFERS),
            Err(SourceError::Malformed { .. })
        ));
    }

    #[test]
    fn remote_paths_escape_the_endpoint() {
        assert_eq!(
            map::remote_paths(Model::Candidates, "first_name"),
            vec!["/~1v1~1candidates/first_name"]
        );
        assert_eq!(
            map::remote_paths(Model::Users, "email"),
            vec!["/~1v1~1users/primary_email_address", "/~1v1~1users/emails"]
        );
        assert!(map::remote_paths(Model::Candidates, "id").is_empty());
    }

    #[test]
    fn credentials_name_the_missing_key() {
        let client = SourceClient::new(Default::default()).unwrap();
        let base = Url::parse("https://harvest.greenhouse.io").unwrap();
        let err = GreenhouseConnector::new(base.clone(), &json!({}), IdGen::new("g"), client.clone())
            .err()
            .unwrap();
        assert!(err.to_string().contains("api_key"), "{err}");
        let err = GreenhouseConnector::new(base.clone(), &json!({"api_key": ""}), IdGen::new("g"), client.clone())
            .err()
            .unwrap();
        assert!(matches!(err, SourceError::Config(_)));
        let ok = GreenhouseConnector::new(base, &json!({"api_key": "k"}), IdGen::new("g"), client).unwrap();
        assert_eq!(
            ok.url(map::USERS).unwrap().as_str(),
            "https://harvest.greenhouse.io/v1/users"
        );
    }
}
