//! Greenhouse Harvest (v3) connector.
//!
//! Harvest v1/v2 were switched off on 31 August 2026; v3 is documented at
//! <https://harvestdocs.greenhouse.io> (read 2026-12-06; every behaviour relied on is in
//! `docs/sources/greenhouse.md`).
//!
//! Credentials: `{"client_id", "client_secret"}` of a "Harvest V3 (OAuth)" credential, with an
//! optional `user_id` (the token's `sub`) and `token_url` (default
//! `https://auth.greenhouse.io/token`); see `auth`. A v1 `{"api_key"}` is refused with the way
//! to create v3 credentials.
//!
//! Every list is read newest id first in pages of 500 (the maximum), following the `Link`
//! header's cursor (see `paging`). Deltas filter `updated_at=gte|<since>`, which every list
//! endpoint takes; candidate tags and rejection reasons are small and re-read whole.
//!
//! v3 objects are flat: what v1 embedded is referenced by id. The ids a page points at
//! (departments, offices, sources, rejection reasons, interview-plan slots) and the children
//! it needs (hiring teams, interview panels, a candidate's applications) are read for the
//! whole page at once through the lists' id filters (at most 50 ids a request), so a page
//! costs a bounded number of requests, and a run resumed after a pause or crash rebuilds
//! nothing record by record.

mod auth;
mod map;
mod paging;
pub(crate) mod webhook;
mod wire;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Mutex;

use async_trait::async_trait;
use chrono::SecondsFormat;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tributary_model::{IdGen, Model, SourceRecord, Timestamp, ToolKind};
use tributary_source::{
    BodyVerdict, Connector, FetchMode, Lookup, Page, RateLimit, RecordRef, SourceClient, SourceError, SourceResponse,
    Stream,
};
use url::Url;

pub(crate) use map::remote_paths;
use paging::Cursor;

/// Rate limits this tool documents as numbers (see `tributary_connectors::documented_limits`):
/// none. Harvest v3's guide shows `X-RateLimit-Limit: 75` per 30-second window as an example
/// only; the real limit is set per integration (custom and partner differ) and reported in
/// that header, which the client honours with `X-RateLimit-Remaining`/`-Reset` and
/// `Retry-After` (`docs/sources/greenhouse.md`).
pub(crate) const DOCUMENTED_LIMITS: &[RateLimit] = &[];

/// "Number of results per page": 1 to 500.
const PER_PAGE: u32 = 500;

/// `ids` and every `*_ids` filter take at most 50 ids.
const MAX_IDS: usize = 50;

/// Following `next` links while reading a lookup list stops here: far beyond any real tag
/// list, and a guard against a link chain that never ends.
const MAX_LOOKUP_PAGES: usize = 10_000;

const STREAM_CANDIDATES: &str = "candidates";
const STREAM_APPLICATIONS: &str = "applications";

/// The streams of a sync, in order: reference lists first, so a consumer reading mid-sync
/// finds what candidates and applications point at. The flag: whether DELTA filters it.
const STREAMS: &[(&str, &str, &[Model], bool)] = &[
    ("users", map::USERS, &[Model::Users], true),
    ("candidate_tags", map::TAGS, &[Model::Tags], false),
    (
        "rejection_reasons",
        map::REJECTION_REASONS,
        &[Model::RejectionReasons],
        false,
    ),
    ("jobs", map::JOBS, &[Model::Jobs], true),
    ("job_stages", map::JOB_STAGES, &[Model::ApplicationStages], true),
    (STREAM_CANDIDATES, map::CANDIDATES, &[Model::Candidates], true),
    (STREAM_APPLICATIONS, map::APPLICATIONS, &[Model::Applications], true),
    ("interviews", map::INTERVIEWS, &[Model::Interviews], true),
    ("offers", map::OFFERS, &[Model::Offers], true),
];

pub struct GreenhouseConnector {
    /// Always ends in `/`, so joining `v3/...` keeps any path prefix of the configured URL.
    base_url: Url,
    tokens: auth::Tokens,
    ids: IdGen,
    client: SourceClient,
    lookups: Mutex<Lookups>,
}

/// What a run has learnt about the ids records point at. It lives in the connector, which a
/// run builds afresh, so a resumed run starts empty and fills it page by page again.
#[derive(Debug, Default)]
struct Lookups {
    /// Candidate tag name → tag id: v3 still lists a candidate's tags by name.
    tag_by_name: HashMap<String, u64>,
    /// Names still unknown after the tag list was last read: not worth reading it again for.
    tags_absent: HashSet<String>,
    /// Resolved names by endpoint and id; `None`: the source has no such record.
    names: HashMap<(&'static str, u64), Option<String>>,
    /// Interview-plan slot → (its stage, its name).
    slots: HashMap<u64, Option<(u64, Option<String>)>>,
}

/// One id list split into requests the lists accept.
fn chunks(ids: &BTreeSet<u64>) -> Vec<String> {
    let ids: Vec<u64> = ids.iter().copied().collect();
    ids.chunks(MAX_IDS)
        .map(|c| c.iter().map(u64::to_string).collect::<Vec<_>>().join(","))
        .collect()
}

impl GreenhouseConnector {
    pub fn new(base_url: Url, credentials: &Value, ids: IdGen, client: SourceClient) -> Result<Self, SourceError> {
        let credentials = auth::Credentials::from_json(credentials)?;
        let mut base_url = base_url;
        if !base_url.path().ends_with('/') {
            let path = format!("{}/", base_url.path());
            base_url.set_path(&path);
        }
        Ok(Self {
            base_url,
            tokens: auth::Tokens::new(credentials),
            ids,
            client,
            lookups: Mutex::new(Lookups::default()),
        })
    }

    fn url(&self, path: &str) -> Result<Url, SourceError> {
        self.base_url
            .join(path.trim_start_matches('/'))
            .map_err(|e| SourceError::Config(format!("cannot build URL for {path}: {e}")))
    }

    /// The first page's URL: `per_page` and the filters, which later pages never repeat.
    fn first_url(&self, path: &str, filters: &[(&str, String)]) -> Result<Url, SourceError> {
        let mut url = self.url(path)?;
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("per_page", &PER_PAGE.to_string());
            for (k, v) in filters {
                q.append_pair(k, v);
            }
        }
        Ok(url)
    }

    fn lookups(&self) -> std::sync::MutexGuard<'_, Lookups> {
        self.lookups.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// GETs `url` with a bearer token; a 401 (a token expired early, rotated or revoked) gets
    /// one new token and one more try, after which the failure stands. `label` names the
    /// endpoint in errors.
    async fn get(&self, label: &str, url: &Url) -> Result<SourceResponse, SourceError> {
        let mut renewed = false;
        loop {
            let token = self.tokens.token(&self.client).await?;
            let result = self
                .client
                .send_checked(
                    label,
                    |http| {
                        http.get(url.clone())
                            .bearer_auth(token.expose())
                            .header(reqwest::header::ACCEPT, "application/json")
                    },
                    error_body,
                )
                .await;
            match result {
                Err(SourceError::Auth { .. }) if !renewed => {
                    renewed = true;
                    self.tokens.forget(&token).await;
                }
                other => return other,
            }
        }
    }

    /// One page of a list endpoint: its raw objects and its `next` link.
    async fn get_list(&self, label: &str, url: &Url) -> Result<(Vec<Value>, Option<String>), SourceError> {
        let resp = self.get(label, url).await?;
        let rows: Vec<Value> = resp.json()?;
        let next = resp.header("link").and_then(paging::next_link);
        Ok((rows, next))
    }

    /// Every page of a list, from its first URL.
    async fn get_all(&self, path: &str, filters: &[(&str, String)]) -> Result<Vec<Value>, SourceError> {
        let label = format!("GET {path}");
        let mut url = self.first_url(path, filters)?;
        let mut all = Vec::new();
        for _ in 0..MAX_LOOKUP_PAGES {
            let (rows, next) = self.get_list(&label, &url).await?;
            let n = rows.len();
            all.extend(rows);
            match paging::next_cursor(&self.base_url, &url, next, n, &label)? {
                Some(next) => url = Url::parse(&next.url).map_err(|e| SourceError::Config(e.to_string()))?,
                None => return Ok(all),
            }
        }
        Err(SourceError::Pagination {
            endpoint: label,
            detail: format!("more than {MAX_LOOKUP_PAGES} pages"),
        })
    }

    /// Every row of `path` whose `filter` (`ids`, `job_ids`, ...) is among `ids`.
    async fn get_by(&self, path: &str, filter: &'static str, ids: &BTreeSet<u64>) -> Result<Vec<Value>, SourceError> {
        self.get_fields_by(path, filter, ids, None).await
    }

    /// As [`Self::get_by`], each row narrowed to `fields` (v3's `fields` parameter) when given.
    async fn get_fields_by(
        &self,
        path: &str,
        filter: &'static str,
        ids: &BTreeSet<u64>,
        fields: Option<&str>,
    ) -> Result<Vec<Value>, SourceError> {
        let mut all = Vec::new();
        for chunk in chunks(ids) {
            let mut filters = vec![(filter, chunk)];
            if let Some(fields) = fields {
                filters.push(("fields", fields.to_owned()));
            }
            all.extend(self.get_all(path, &filters).await?);
        }
        Ok(all)
    }

    /// Names of `ids` at `path` (departments, sources, rejection reasons), reading the
    /// unknown ones in bulk. `field` is the name's field.
    async fn names(&self, path: &'static str, ids: BTreeSet<u64>) -> Result<HashMap<u64, Option<String>>, SourceError> {
        let unknown: BTreeSet<u64> = {
            let l = self.lookups();
            ids.iter()
                .copied()
                .filter(|id| !l.names.contains_key(&(path, *id)))
                .collect()
        };
        if !unknown.is_empty() {
            // Only the name is wanted: v3's `fields` spares reading whole objects.
            let fields = if path == map::OFFICES {
                "id,name,location"
            } else {
                "id,name"
            };
            let rows = self.get_fields_by(path, "ids", &unknown, Some(fields)).await?;
            let mut found = HashMap::new();
            for raw in &rows {
                if path == map::OFFICES {
                    let office: wire::Office = parse(raw, path)?;
                    // Kombo's location is where the office is; its name when it states none.
                    found.insert(office.id, office.location.or(office.name));
                } else {
                    let named: wire::Named = parse(raw, path)?;
                    found.insert(named.id, named.name);
                }
            }
            let mut l = self.lookups();
            for id in unknown {
                l.names.insert((path, id), found.remove(&id).flatten());
            }
        }
        let l = self.lookups();
        Ok(ids
            .into_iter()
            .map(|id| (id, l.names.get(&(path, id)).cloned().flatten()))
            .collect())
    }

    /// Unified tag ids of the named tags, re-reading the tag list once if a name is unknown
    /// (a tag created since the list was read, or a run resumed past the tags stream). A name
    /// the fresh list lacks too is not looked for again.
    async fn resolve_tags(&self, names: &[&str]) -> Result<HashMap<String, u64>, SourceError> {
        let missing = {
            let l = self.lookups();
            names
                .iter()
                .any(|n| !l.tag_by_name.contains_key(*n) && !l.tags_absent.contains(*n))
        };
        if missing {
            let rows = self.get_all(map::TAGS, &[]).await?;
            let listed = rows
                .iter()
                .map(|r| parse::<wire::Tag>(r, map::TAGS).map(|t| (t.name, t.id)))
                .collect::<Result<Vec<_>, _>>()?;
            let mut l = self.lookups();
            l.tag_by_name.extend(listed);
            let absent: Vec<String> = names
                .iter()
                .filter(|n| !l.tag_by_name.contains_key(**n))
                .map(|n| (*n).to_owned())
                .collect();
            l.tags_absent.extend(absent);
        }
        Ok(self.lookups().tag_by_name.clone())
    }

    /// The stage and name of each interview-plan slot, reading the unknown ones in bulk.
    async fn resolve_slots(&self, slots: BTreeSet<u64>) -> Result<HashMap<u64, (u64, Option<String>)>, SourceError> {
        let unknown: BTreeSet<u64> = {
            let l = self.lookups();
            slots.iter().copied().filter(|id| !l.slots.contains_key(id)).collect()
        };
        if !unknown.is_empty() {
            let rows = self.get_by(map::JOB_INTERVIEWS, "ids", &unknown).await?;
            let mut found = HashMap::new();
            for raw in &rows {
                let slot: wire::JobInterview = parse(raw, map::JOB_INTERVIEWS)?;
                found.insert(slot.id, (slot.job_interview_stage_id, slot.name));
            }
            let mut l = self.lookups();
            for id in unknown {
                l.slots.insert(id, found.remove(&id));
            }
        }
        let l = self.lookups();
        Ok(slots
            .into_iter()
            .filter_map(|id| Some((id, l.slots.get(&id).cloned().flatten()?)))
            .collect())
    }

    async fn map_jobs(&self, rows: Vec<Value>) -> Result<Vec<SourceRecord>, SourceError> {
        let parsed = rows
            .into_iter()
            .map(|raw| parse::<wire::Job>(&raw, map::JOBS).map(|j| (j, raw)))
            .collect::<Result<Vec<_>, _>>()?;
        let job_ids: BTreeSet<u64> = parsed.iter().map(|(j, _)| j.id).collect();
        let departments = self
            .names(
                map::DEPARTMENTS,
                parsed.iter().filter_map(|(j, _)| j.department_id).collect(),
            )
            .await?;
        let offices = self
            .names(
                map::OFFICES,
                parsed
                    .iter()
                    .filter_map(|(j, _)| j.office_ids.as_ref()?.first().copied())
                    .collect(),
            )
            .await?;
        let mut team_rows = Vec::new();
        for path in [map::JOB_HIRING_MANAGERS, map::JOB_OWNERS] {
            for raw in self.get_by(path, "job_ids", &job_ids).await? {
                let mut row: wire::TeamRow = parse(&raw, path)?;
                if path == map::JOB_HIRING_MANAGERS {
                    row.owner_type = None;
                } else if row.owner_type.is_none() {
                    return Err(SourceError::malformed(
                        format!("GET {path}"),
                        format!("object with id {}: missing field `type`", row.id),
                    ));
                }
                team_rows.push(row);
            }
        }
        Ok(parsed
            .into_iter()
            .map(|(j, raw)| {
                let team = map::HiringTeam::from_rows(team_rows.iter().filter(|r| r.job_id == j.id).collect());
                let department = j.department_id.and_then(|d| departments.get(&d).cloned().flatten());
                let office = j.office_ids.as_ref().and_then(|o| o.first().copied());
                let location = office.and_then(|o| offices.get(&o).cloned().flatten());
                let ctx = map::JobContext {
                    department: department.as_deref(),
                    location: location.as_deref(),
                    team,
                };
                map::job(&self.ids, j, raw, ctx)
            })
            .collect())
    }

    async fn map_candidates(&self, rows: Vec<Value>) -> Result<Vec<SourceRecord>, SourceError> {
        let parsed = rows
            .into_iter()
            .map(|raw| parse::<wire::Candidate>(&raw, map::CANDIDATES).map(|c| (c, raw)))
            .collect::<Result<Vec<_>, _>>()?;
        let names: Vec<&str> = parsed
            .iter()
            .flat_map(|(c, _)| c.tags.iter().map(String::as_str))
            .collect();
        let tags = self.resolve_tags(&names).await?;
        // A candidate's source is its first application's; v3 no longer embeds applications.
        let candidate_ids: BTreeSet<u64> = parsed.iter().map(|(c, _)| c.id).collect();
        let mut first_source: HashMap<u64, (Option<Timestamp>, u64, u64)> = HashMap::new();
        for raw in self.get_by(map::APPLICATIONS, "candidate_ids", &candidate_ids).await? {
            let a: wire::Application = parse(&raw, map::APPLICATIONS)?;
            let Some(source) = a.source_id else { continue };
            let key = (a.created_at, a.id, source);
            first_source
                .entry(a.candidate_id)
                .and_modify(|k| {
                    if (key.0, key.1) < (k.0, k.1) {
                        *k = key;
                    }
                })
                .or_insert(key);
        }
        let sources = self
            .names(map::SOURCES, first_source.values().map(|(_, _, s)| *s).collect())
            .await?;
        let ids = &self.ids;
        Ok(parsed
            .into_iter()
            .map(|(c, raw)| {
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
                let source = first_source
                    .get(&c.id)
                    .and_then(|(_, _, s)| sources.get(s).cloned().flatten());
                map::candidate(c, raw, tag_ids, source.as_deref())
            })
            .collect())
    }

    async fn map_applications(&self, rows: Vec<Value>) -> Result<Vec<SourceRecord>, SourceError> {
        let parsed = rows
            .into_iter()
            .map(|raw| parse::<wire::Application>(&raw, map::APPLICATIONS).map(|a| (a, raw)))
            .collect::<Result<Vec<_>, _>>()?;
        let reasons = self
            .names(
                map::REJECTION_REASONS,
                parsed.iter().filter_map(|(a, _)| a.rejection_reason_id).collect(),
            )
            .await?;
        Ok(parsed
            .into_iter()
            .map(|(a, raw)| {
                let reason = a.rejection_reason_id.and_then(|r| reasons.get(&r).cloned().flatten());
                map::application(&self.ids, a, raw, reason.as_deref())
            })
            .collect())
    }

    async fn map_interviews(&self, rows: Vec<Value>) -> Result<Vec<SourceRecord>, SourceError> {
        let parsed = rows
            .into_iter()
            .map(|raw| parse::<wire::Interview>(&raw, map::INTERVIEWS).map(|i| (i, raw)))
            .collect::<Result<Vec<_>, _>>()?;
        let slots = self
            .resolve_slots(parsed.iter().filter_map(|(i, _)| i.job_interview_id).collect())
            .await?;
        let interview_ids: BTreeSet<u64> = parsed.iter().map(|(i, _)| i.id).collect();
        let mut panels: HashMap<u64, Vec<(u64, u64)>> = HashMap::new();
        for raw in self.get_by(map::INTERVIEWERS, "interview_ids", &interview_ids).await? {
            let row: wire::Interviewer = parse(&raw, map::INTERVIEWERS)?;
            if let Some(user) = row.user_id {
                panels.entry(row.interview_id).or_default().push((row.id, user));
            }
        }
        Ok(parsed
            .into_iter()
            .map(|(i, raw)| {
                let slot = i.job_interview_id.and_then(|s| slots.get(&s));
                let slot = map::Slot {
                    stage_id: slot.map(|(stage, _)| *stage),
                    name: slot.and_then(|(_, name)| name.as_deref()),
                };
                let mut panel = panels.remove(&i.id).unwrap_or_default();
                panel.sort_unstable();
                let users: Vec<u64> = panel.into_iter().map(|(_, user)| user).collect();
                map::interview(&self.ids, i, raw, slot, &users)
            })
            .collect())
    }

    async fn map_page(&self, stream: &str, rows: Vec<Value>, path: &str) -> Result<Vec<SourceRecord>, SourceError> {
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
                    self.lookups().tag_by_name.insert(tag.name.clone(), tag.id);
                    out.push(map::tag(tag, raw));
                }
            }
            "rejection_reasons" => {
                for raw in rows {
                    let reason: wire::RejectionReason = parse(&raw, path)?;
                    self.lookups()
                        .names
                        .insert((map::REJECTION_REASONS, reason.id), Some(reason.name.clone()));
                    out.push(map::rejection_reason(reason, raw));
                }
            }
            "jobs" => return self.map_jobs(rows).await,
            "job_stages" => {
                for raw in rows {
                    out.push(map::job_stage(parse(&raw, path)?, raw));
                }
            }
            STREAM_CANDIDATES => return self.map_candidates(rows).await,
            STREAM_APPLICATIONS => return self.map_applications(rows).await,
            "interviews" => return self.map_interviews(rows).await,
            "offers" => {
                for raw in rows {
                    out.push(map::offer(&self.ids, parse(&raw, path)?, raw));
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

/// v3's date-time filter, inclusive of `since` ("gte").
fn updated_since(since: Timestamp) -> String {
    format!("gte|{}", since.to_rfc3339_opts(SecondsFormat::Millis, true))
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
                supports_since: *since,
            })
            .collect()
    }

    async fn fetch_page(&self, stream: &Stream, cursor: Option<&Value>, mode: FetchMode) -> Result<Page, SourceError> {
        let &(name, path, _, filtered) = STREAMS
            .iter()
            .find(|(n, ..)| *n == stream.name)
            .ok_or_else(|| SourceError::Config(format!("greenhouse has no stream `{}`", stream.name)))?;
        let label = format!("GET {path}");
        let url = match cursor {
            None => {
                let mut filters = Vec::new();
                if let (FetchMode::Delta { since }, true) = (mode, filtered) {
                    filters.push(("updated_at", updated_since(since)));
                }
                self.first_url(path, &filters)?
            }
            // A checkpoint is data like any other: it gets the same checks as a fresh link.
            Some(c) => {
                let cursor = Cursor::from_value(c, &label)?;
                paging::check_target(&self.base_url, self.url(path)?.path(), &cursor.url, &label)?
            }
        };
        let (rows, next) = self.get_list(&label, &url).await?;
        let n = rows.len();
        let next = paging::next_cursor(&self.base_url, &url, next, n, &label)?;
        let records = self.map_page(name, rows, path).await?;
        Ok(Page {
            records,
            next: next.map(|c| c.to_value()),
        })
    }

    /// Candidates and applications are looked up through their list's `ids` filter (50 a
    /// request): a record the filtered list does not return is gone.
    async fn lookup(&self, stream: &Stream, candidates: &[RecordRef]) -> Result<Lookup, SourceError> {
        let (model, path) = match stream.name {
            STREAM_CANDIDATES => (Model::Candidates, map::CANDIDATES),
            STREAM_APPLICATIONS => (Model::Applications, map::APPLICATIONS),
            _ => {
                return Ok(Lookup {
                    found: Vec::new(),
                    unchecked: candidates.to_vec(),
                });
            }
        };
        let mut targets = BTreeSet::new();
        let mut unchecked = Vec::new();
        for (m, remote_id) in candidates {
            match remote_id.parse::<u64>() {
                Ok(id) if *m == model => {
                    targets.insert(id);
                }
                _ => unchecked.push((*m, remote_id.clone())),
            }
        }
        let rows = self.get_by(path, "ids", &targets).await?;
        // The filter is the tool's promise; a row it was not asked for is not proof of anything.
        let rows: Vec<Value> = rows
            .into_iter()
            .filter(|r| {
                r.get("id")
                    .and_then(Value::as_u64)
                    .is_some_and(|id| targets.contains(&id))
            })
            .collect();
        let found = self.map_page(stream.name, rows, path).await?;
        Ok(Lookup { found, unchecked })
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
        let bad_type = json!({"id": 1, "first_name": "A", "last_name": "B", "primary_email": null,
            "deactivated": "no", "site_admin": false, "created_at": null});
        let err = parse::<wire::User>(&bad_type, map::USERS).unwrap_err();
        assert!(matches!(err, SourceError::Malformed { .. }), "{err}");
        let no_id = json!({"name": "Ruby"});
        assert!(matches!(
            parse::<wire::Tag>(&no_id, map::TAGS),
            Err(SourceError::Malformed { .. })
        ));
        let bad_date = json!({"id": 3, "application_id": 4, "created_at": "yesterday", "updated_at": null,
            "sent_on": null, "starts_on": null, "status": "Accepted", "custom_fields": {}});
        assert!(matches!(
            parse::<wire::Offer>(&bad_date, map::OFFERS),
            Err(SourceError::Malformed { .. })
        ));
    }

    #[test]
    fn remote_paths_escape_the_endpoint() {
        assert_eq!(
            map::remote_paths(Model::Candidates, "last_name"),
            vec!["/~1v3~1candidates/last_name"]
        );
        assert_eq!(
            map::remote_paths(Model::Users, "email"),
            vec!["/~1v3~1users/primary_email", "/~1v3~1users/emails"]
        );
        assert!(map::remote_paths(Model::Candidates, "id").is_empty());
    }

    #[test]
    fn v3_credentials_build_and_v1_keys_are_refused() {
        let client = SourceClient::new(Default::default()).unwrap();
        let base = Url::parse("https://harvest.greenhouse.io").unwrap();
        let err = GreenhouseConnector::new(base.clone(), &json!({"api_key": "k"}), IdGen::new("g"), client.clone())
            .err()
            .unwrap();
        assert!(err.to_string().contains("31 August 2026"), "{err}");
        let err = GreenhouseConnector::new(base.clone(), &json!({}), IdGen::new("g"), client.clone())
            .err()
            .unwrap();
        assert!(err.to_string().contains("client_id"), "{err}");
        let ok = GreenhouseConnector::new(
            base,
            &json!({"client_id": "a", "client_secret": "b"}),
            IdGen::new("g"),
            client,
        )
        .unwrap();
        assert_eq!(
            ok.url(map::USERS).unwrap().as_str(),
            "https://harvest.greenhouse.io/v3/users"
        );
        assert_eq!(
            updated_since("2026-12-06T10:00:00Z".parse().unwrap()),
            "gte|2026-12-06T10:00:00.000Z"
        );
    }

    #[test]
    fn id_lists_are_split_at_fifty() {
        let ids: BTreeSet<u64> = (1..=101).collect();
        let c = chunks(&ids);
        assert_eq!(c.len(), 3);
        assert_eq!(c[0].split(',').count(), 50);
        assert_eq!(c[2], "101");
    }
}
