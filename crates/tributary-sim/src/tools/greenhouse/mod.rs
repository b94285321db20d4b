//! The simulated Greenhouse Harvest API, v3 only, rendered from the company's `ats` half.
//!
//! Harvest v1/v2 were switched off on 31 August 2026; v3 is what Greenhouse documents today at
//! <https://harvestdocs.greenhouse.io> (read 2026-12-06). Every behaviour below is in the
//! fidelity ledger `docs/sources/greenhouse.md` with its source; in short:
//!
//! - Authentication: OAuth 2.0 client credentials. `POST https://auth.greenhouse.io/token`
//!   (served here at `<base>/token`) with HTTP Basic `client_id:client_secret` and the form body
//!   `grant_type=client_credentials` (optionally `sub=<user id>`) answers
//!   `{"access_token", "token_type": "Bearer", "expires_at"}`; an access token lives one hour
//!   (`SimCredentials::greenhouse_token_ttl_secs`, shorter in tests). API calls carry
//!   `Authorization: Bearer <token>`; a missing, unknown or expired token is a 401.
//! - Pagination and filters: see `listing`.
//! - Rate limiting: a fixed 30-second window, `X-RateLimit-Limit`, `X-RateLimit-Remaining` and
//!   `X-RateLimit-Reset` (epoch seconds) on every response; past the limit a 429 with
//!   `Retry-After`. Token requests count against a window of their own (60 seconds). The
//!   simulator throttles only while `SimState::documented_limits()` is on.
//! - Errors: `{"message": ..., "errors": [...]}`.
//! - v1 and v2 paths are gone: 404 `{"message": "Resource not found"}`.

mod listing;
mod render;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::extract::{OriginalUri, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::{Extension, Router};
use base64::Engine;
use chrono::SecondsFormat;
use rand::Rng;
use serde_json::{Value, json};
use tributary_model::ToolKind;

use crate::SimState;
use crate::company::{Ats, Id, Ts};
use listing::{ListRequest, TimeFilter};

/// The rate-limit guide's window: "fixed 30-second window".
pub(crate) const RATE_WINDOW: Duration = Duration::from_secs(30);
/// The limit the rate-limit guide shows in its example (`X-RateLimit-Limit: 75`); Greenhouse
/// sets the real one per integration and reports it in that header. Played while
/// `documented_limits()` is on.
pub const DOCUMENTED_RATE_LIMIT: u32 = 75;
/// Token requests have a window of their own: 60 seconds (the v3 rate-limit guide as the
/// ledger transcribed it). How many it admits is not in any source we can read, so
/// [`TOKEN_RATE_LIMIT`] is the simulator's stand-in; a client that reuses its hour-long token
/// never comes near it.
pub(crate) const TOKEN_WINDOW: Duration = Duration::from_secs(60);
/// Token requests per [`TOKEN_WINDOW`] while `documented_limits()` is on (a stand-in, see
/// `docs/sources/greenhouse.md`).
pub const TOKEN_RATE_LIMIT: u32 = 20;
/// Reported (never enforced) otherwise: a generous allowance so that tests not about
/// throttling are not slowed by the client honouring `X-RateLimit-Remaining`.
const GENEROUS_RATE_LIMIT: u32 = 100_000;

/// Routes relative to the tool's base URL (`https://harvest.greenhouse.io` for the real tool;
/// `/token` stands for `https://auth.greenhouse.io/token`).
pub fn router() -> Router<SimState> {
    let harvest = Arc::new(Harvest::default());
    let mut router = Router::new().route("/token", post(issue_token));
    for &(path, allowed, list) in LISTS {
        router = router.route(
            path,
            get(
                move |State(state): State<SimState>,
                      Extension(harvest): Extension<Arc<Harvest>>,
                      headers: HeaderMap,
                      OriginalUri(uri): OriginalUri,
                      RawQuery(query): RawQuery| async move {
                    harvest.serve(&state, &headers, |ats| {
                        let req = ListRequest::parse(&headers, &uri, query.as_deref().unwrap_or(""), allowed)?;
                        list(ats, &req)
                    })
                },
            ),
        );
    }
    router
        .route("/v1/{*rest}", any(gone))
        .route("/v2/{*rest}", any(gone))
        .fallback(not_found)
        .layer(Extension(harvest))
}

/// What the simulated Greenhouse remembers between requests: issued tokens and the rate
/// windows of the API and of the token endpoint.
struct Harvest {
    /// Access token → when it expires.
    tokens: Mutex<HashMap<String, Instant>>,
    api: FixedWindow,
    token_requests: FixedWindow,
}

impl Default for Harvest {
    fn default() -> Self {
        Harvest {
            tokens: Mutex::default(),
            api: FixedWindow::new(RATE_WINDOW),
            token_requests: FixedWindow::new(TOKEN_WINDOW),
        }
    }
}

/// A fixed window: it opens with the first request after the last one closed, and admits a
/// number of requests until it closes.
struct FixedWindow {
    length: Duration,
    /// When the open window began (monotonic and wall clock) and how many it admitted.
    open: Mutex<Option<(Instant, SystemTime, u32)>>,
}

/// How a request stands against the rate window.
struct RateState {
    limit: u32,
    remaining: u32,
    /// Epoch seconds at which the window resets.
    reset: u64,
    /// Seconds until then, rounded up (for `Retry-After`).
    retry_after: u64,
}

impl FixedWindow {
    fn new(length: Duration) -> Self {
        FixedWindow {
            length,
            open: Mutex::new(None),
        }
    }

    /// Counts one request against the window.
    fn take(&self, limit: u32) -> (RateState, bool) {
        let mut guard = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        let (start, wall, used) = match *guard {
            Some((start, wall, used)) if now.duration_since(start) < self.length => (start, wall, used),
            _ => (now, SystemTime::now(), 0),
        };
        let allowed = used < limit;
        let used = if allowed { used + 1 } else { used };
        *guard = Some((start, wall, used));
        let reset_at = wall + self.length;
        let reset = reset_at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let left = self.length.saturating_sub(now.duration_since(start));
        let retry_after = left.as_secs() + u64::from(left.subsec_nanos() > 0);
        (
            RateState {
                limit,
                remaining: limit.saturating_sub(used),
                reset,
                retry_after: retry_after.max(1),
            },
            allowed,
        )
    }
}

impl RateState {
    fn headers(&self, resp: &mut Response) {
        let h = resp.headers_mut();
        h.insert("x-ratelimit-limit", HeaderValue::from(self.limit));
        h.insert("x-ratelimit-remaining", HeaderValue::from(self.remaining));
        h.insert("x-ratelimit-reset", HeaderValue::from(self.reset));
    }

    /// The refusal past the limit: 429 with `Retry-After`.
    fn refusal(&self) -> Response {
        let mut resp = HarvestError::TooManyRequests.into_response();
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(self.retry_after));
        resp
    }
}

impl Harvest {
    fn check_token(&self, state: &SimState, headers: &HeaderMap) -> Result<(), HarvestError> {
        if state.is_revoked(ToolKind::Greenhouse) {
            return Err(HarvestError::Unauthorized("Token could not be decoded."));
        }
        let presented = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .ok_or(HarvestError::Unauthorized("Token could not be decoded."))?;
        let tokens = self.tokens.lock().unwrap_or_else(|p| p.into_inner());
        match tokens.get(presented) {
            None => Err(HarvestError::Unauthorized("Token could not be decoded.")),
            Some(expires) if Instant::now() >= *expires => Err(HarvestError::Unauthorized("Token has expired.")),
            Some(_) => Ok(()),
        }
    }

    /// Authentication, the rate window, then the endpoint; rate headers on every answer.
    fn serve(
        &self,
        state: &SimState,
        headers: &HeaderMap,
        handle: impl FnOnce(&Ats) -> Result<Response, HarvestError>,
    ) -> Response {
        if let Err(e) = self.check_token(state, headers) {
            return e.into_response();
        }
        let documented = state.documented_limits();
        let (rate, allowed) = self.api.take(if documented {
            DOCUMENTED_RATE_LIMIT
        } else {
            GENEROUS_RATE_LIMIT
        });
        let mut resp = if allowed || !documented {
            let company = state.company(ToolKind::Greenhouse);
            handle(&company.ats).unwrap_or_else(IntoResponse::into_response)
        } else {
            rate.refusal()
        };
        rate.headers(&mut resp);
        resp
    }
}

/// An error answered the way Harvest v3 answers it.
#[derive(Debug)]
pub(crate) enum HarvestError {
    Unauthorized(&'static str),
    NotFound,
    Validation { field: String, message: String },
    TooManyRequests,
}

impl HarvestError {
    pub(crate) fn validation(field: &'static str, message: &str) -> Self {
        HarvestError::Validation {
            field: field.to_owned(),
            message: message.to_owned(),
        }
    }

    pub(crate) fn validation_owned(field: &str, message: &str) -> Self {
        HarvestError::Validation {
            field: field.to_owned(),
            message: message.to_owned(),
        }
    }
}

impl IntoResponse for HarvestError {
    fn into_response(self) -> Response {
        let (status, body) = match self {
            HarvestError::Unauthorized(detail) => (
                StatusCode::UNAUTHORIZED,
                json!({"message": "Unauthorized", "errors": [detail]}),
            ),
            HarvestError::NotFound => (StatusCode::NOT_FOUND, json!({"message": "Resource not found"})),
            HarvestError::Validation { field, message } => (
                StatusCode::UNPROCESSABLE_ENTITY,
                json!({"message": "Validation error", "errors": [{"message": message, "field": field}]}),
            ),
            HarvestError::TooManyRequests => (StatusCode::TOO_MANY_REQUESTS, json!({"message": "Too Many Requests"})),
        };
        (status, axum::Json(body)).into_response()
    }
}

/// Harvest v1/v2 were switched off on 31 August 2026: their paths exist no more.
async fn gone() -> Response {
    HarvestError::NotFound.into_response()
}

async fn not_found() -> Response {
    HarvestError::NotFound.into_response()
}

/// RFC 6749 §5.2 error bodies, which the token endpoint follows ("This process follows the
/// OAuth 2.0 standard described in RFC 6749").
fn oauth_error(status: StatusCode, error: &str) -> Response {
    (status, axum::Json(json!({"error": error}))).into_response()
}

/// `POST /token` (auth.greenhouse.io): HTTP Basic client credentials, a form body with
/// `grant_type=client_credentials` and an optional numeric `sub`.
async fn issue_token(
    State(state): State<SimState>,
    Extension(harvest): Extension<Arc<Harvest>>,
    headers: HeaderMap,
    body: String,
) -> Response {
    // Every request to the endpoint counts, refused ones too: that is what a client asking for
    // a token per call spends.
    if state.documented_limits() {
        let (rate, allowed) = harvest.token_requests.take(TOKEN_RATE_LIMIT);
        let mut resp = if allowed {
            grant_token(&state, &harvest, &headers, &body)
        } else {
            rate.refusal()
        };
        rate.headers(&mut resp);
        return resp;
    }
    grant_token(&state, &harvest, &headers, &body)
}

fn grant_token(state: &SimState, harvest: &Harvest, headers: &HeaderMap, body: &str) -> Response {
    let creds = state.credentials();
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b.trim()).ok())
        .and_then(|raw| String::from_utf8(raw).ok());
    let valid = basic
        .as_deref()
        .and_then(|b| b.split_once(':'))
        .is_some_and(|(id, secret)| id == creds.greenhouse_client_id && secret == creds.greenhouse_client_secret);
    if !valid || state.is_revoked(ToolKind::Greenhouse) {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client");
    }
    let form: Vec<(String, String)> = url::form_urlencoded::parse(body.as_bytes()).into_owned().collect();
    let field = |k: &str| form.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str());
    match field("grant_type") {
        Some("client_credentials") => {}
        Some(_) => return oauth_error(StatusCode::BAD_REQUEST, "unsupported_grant_type"),
        None => return oauth_error(StatusCode::BAD_REQUEST, "invalid_request"),
    }
    if let Some(sub) = field("sub") {
        let known = sub
            .parse::<Id>()
            .is_ok_and(|id| state.company(ToolKind::Greenhouse).ats.users.contains_key(&id));
        if !known {
            return oauth_error(StatusCode::BAD_REQUEST, "invalid_request");
        }
    }
    let ttl = Duration::from_secs(creds.greenhouse_token_ttl_secs.max(1));
    let token = format!("gh-v3-{:032x}", rand::rng().random::<u128>());
    let expires_at = chrono::Utc::now() + chrono::Duration::from_std(ttl).unwrap_or_default();
    harvest
        .tokens
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(token.clone(), Instant::now() + ttl);
    axum::Json(json!({
        "access_token": token,
        "token_type": "Bearer",
        "expires_at": expires_at.to_rfc3339_opts(SecondsFormat::Millis, true),
    }))
    .into_response()
}

type ListFn = fn(&Ats, &ListRequest) -> Result<Response, HarvestError>;

/// The v3 list endpoints served, each with the filters it declares beyond `per_page`, `ids`,
/// `created_at` and `updated_at` (the v3 reference, `get_v3-<resource>`).
const LISTS: &[(&str, &[&str], ListFn)] = &[
    (
        "/v3/users",
        &["show_service_accounts", "deactivated", "primary_email"],
        users,
    ),
    ("/v3/candidate_tags", &[], candidate_tags),
    ("/v3/rejection_reasons", &["include_defaults"], rejection_reasons),
    ("/v3/departments", &[], departments),
    ("/v3/offices", &[], offices),
    ("/v3/sources", &[], sources),
    ("/v3/jobs", &["status", "requisition_id"], jobs),
    ("/v3/job_owners", &["job_ids", "user_ids", "type"], job_owners),
    ("/v3/job_hiring_managers", &["job_ids", "user_ids"], job_hiring_managers),
    ("/v3/job_interview_stages", &["job_ids", "active"], job_interview_stages),
    (
        "/v3/job_interviews",
        &["job_ids", "job_interview_stage_ids", "active"],
        job_interviews,
    ),
    (
        "/v3/candidates",
        &["last_activity_at", "email", "tag", "private"],
        candidates,
    ),
    (
        "/v3/applications",
        &["candidate_ids", "job_ids", "status", "last_activity_at"],
        applications,
    ),
    (
        "/v3/interviews",
        &["application_ids", "job_ids", "status", "starts_at"],
        interviews,
    ),
    ("/v3/interviewers", &["interview_ids", "user_ids"], interviewers),
    (
        "/v3/offers",
        &["application_ids", "job_ids", "candidate_ids", "status", "current_only"],
        offers,
    ),
];

/// `ids`, `created_at` and `updated_at`, which every list endpoint takes.
struct Common {
    ids: Option<Vec<Id>>,
    created: TimeFilter,
    updated: TimeFilter,
}

impl Common {
    fn parse(req: &ListRequest) -> Result<Self, HarvestError> {
        Ok(Common {
            ids: req.ids("ids")?,
            created: req.time("created_at")?,
            updated: req.time("updated_at")?,
        })
    }

    fn keep(&self, id: Id, created: Ts, updated: Ts) -> bool {
        self.ids.as_ref().is_none_or(|ids| ids.contains(&id))
            && self.created.contains(created)
            && self.updated.contains(updated)
    }
}

/// Renders a window of entries and answers it with its `Link`.
fn page<T>(
    req: &ListRequest,
    window: listing::Window<T>,
    render: impl Fn(&T) -> Value,
) -> Result<Response, HarvestError> {
    let next = window.next_below();
    let items = window.items.iter().map(|(_, t)| render(t)).collect();
    Ok(req.respond(items, next))
}

fn in_list(list: &Option<Vec<Id>>, id: Id) -> bool {
    list.as_ref().is_none_or(|l| l.contains(&id))
}

fn users(ats: &Ats, req: &ListRequest) -> Result<Response, HarvestError> {
    let c = Common::parse(req)?;
    let deactivated = req.boolean("deactivated")?;
    req.boolean("show_service_accounts")?;
    let email = req.get("primary_email").map(str::to_lowercase);
    let w = req.window(ats.users.iter().rev().map(|(id, u)| (*id, u)), |u| {
        c.keep(u.id, u.created_at, u.updated_at)
            && deactivated.is_none_or(|d| u.disabled == d)
            && email.as_deref().is_none_or(|e| u.email.eq_ignore_ascii_case(e))
    });
    page(req, w, |u| render::user(u))
}

fn candidate_tags(ats: &Ats, req: &ListRequest) -> Result<Response, HarvestError> {
    let c = Common::parse(req)?;
    let w = req.window(ats.tags.iter().rev().map(|(id, t)| (*id, t)), |t| {
        c.keep(t.id, t.updated_at, t.updated_at)
    });
    page(req, w, |t| render::tag(t))
}

fn rejection_reasons(ats: &Ats, req: &ListRequest) -> Result<Response, HarvestError> {
    let c = Common::parse(req)?;
    // `include_defaults` adds Greenhouse's built-in reasons; the simulated account has only
    // its own, so the flag changes nothing.
    req.boolean("include_defaults")?;
    let w = req.window(ats.rejection_reasons.iter().rev().map(|(id, r)| (*id, r)), |r| {
        c.keep(r.id, r.updated_at, r.updated_at)
    });
    page(req, w, |r| render::rejection_reason(r))
}

fn named_page(
    req: &ListRequest,
    all: std::collections::BTreeMap<Id, render::Named>,
    render: fn(Id, &render::Named) -> Value,
) -> Result<Response, HarvestError> {
    let c = Common::parse(req)?;
    let w = req.window(all.iter().rev().map(|(id, n)| (*id, (*id, n))), |(id, n)| {
        c.keep(*id, n.created_at, n.created_at)
    });
    page(req, w, |(id, n)| render(*id, n))
}

fn departments(ats: &Ats, req: &ListRequest) -> Result<Response, HarvestError> {
    named_page(req, render::departments(ats), render::department)
}

fn offices(ats: &Ats, req: &ListRequest) -> Result<Response, HarvestError> {
    named_page(req, render::offices(ats), render::office)
}

fn sources(ats: &Ats, req: &ListRequest) -> Result<Response, HarvestError> {
    named_page(req, render::sources(ats), render::source)
}

fn jobs(ats: &Ats, req: &ListRequest) -> Result<Response, HarvestError> {
    let c = Common::parse(req)?;
    let status = req.get("status").map(str::to_owned);
    if let Some(s) = status.as_deref().filter(|s| !matches!(*s, "open" | "closed" | "draft")) {
        return Err(HarvestError::validation_owned(
            "status",
            &format!("`{s}` is not one of open, closed, draft"),
        ));
    }
    let requisition = req.get("requisition_id").map(str::to_owned);
    let w = req.window(ats.jobs.iter().rev().map(|(id, j)| (*id, j)), |j| {
        c.keep(j.id, j.created_at, j.updated_at)
            && status.as_deref().is_none_or(|s| j.status == s)
            && requisition.as_deref().is_none_or(|r| j.requisition_id == r)
    });
    page(req, w, |j| render::job(j))
}

/// Team rows of the jobs `job_ids` names (or all), newest id first.
fn team_rows(ats: &Ats, req: &ListRequest, managers: bool) -> Result<Response, HarvestError> {
    let c = Common::parse(req)?;
    let job_ids = req.ids("job_ids")?;
    let user_ids = req.ids("user_ids")?;
    let owner_type = req.get("type").map(str::to_owned);
    let rows = ats
        .jobs
        .iter()
        .rev()
        .filter(|(id, _)| in_list(&job_ids, **id))
        .flat_map(|(_, j)| render::team(j).into_iter().rev())
        .filter(move |r| r.owner_type.is_none() == managers)
        .map(|r| (r.id, r));
    let w = req.window(rows, |r| {
        c.keep(r.id, r.at, r.at)
            && in_list(&user_ids, r.user_id)
            && owner_type.as_deref().is_none_or(|t| r.owner_type == Some(t))
    });
    if managers {
        page(req, w, render::job_hiring_manager)
    } else {
        page(req, w, render::job_owner)
    }
}

fn job_owners(ats: &Ats, req: &ListRequest) -> Result<Response, HarvestError> {
    team_rows(ats, req, false)
}

fn job_hiring_managers(ats: &Ats, req: &ListRequest) -> Result<Response, HarvestError> {
    team_rows(ats, req, true)
}

/// Stages of every job (or those `job_ids` names), newest stage id first. Stage ids grow with
/// their jobs', so walking jobs newest first and each plan backwards keeps the order.
fn stages<'a>(
    ats: &'a Ats,
    job_ids: &'a Option<Vec<Id>>,
) -> impl Iterator<Item = (Id, (&'a crate::company::Job, &'a crate::company::Stage))> + 'a {
    let mut all: Vec<(Id, (&crate::company::Job, &crate::company::Stage))> = ats
        .jobs
        .values()
        .filter(|j| in_list(job_ids, j.id))
        .flat_map(|j| j.stages.iter().map(move |s| (s.id, (j, s))))
        .collect();
    all.sort_by_key(|s| std::cmp::Reverse(s.0));
    all.into_iter()
}

fn job_interview_stages(ats: &Ats, req: &ListRequest) -> Result<Response, HarvestError> {
    let c = Common::parse(req)?;
    let job_ids = req.ids("job_ids")?;
    // Every simulated stage is on its job's current plan.
    let active = req.boolean("active")?;
    let w = req.window(stages(ats, &job_ids), |(j, s)| {
        c.keep(s.id, render::stage_created(j, s), s.updated_at) && active != Some(false)
    });
    page(req, w, |(j, s)| render::job_interview_stage(j, s))
}

fn job_interviews(ats: &Ats, req: &ListRequest) -> Result<Response, HarvestError> {
    let c = Common::parse(req)?;
    let job_ids = req.ids("job_ids")?;
    let stage_ids = req.ids("job_interview_stage_ids")?;
    let active = req.boolean("active")?;
    let slots = stages(ats, &job_ids).map(|(stage, js)| (render::job_interview_id(stage), js));
    let w = req.window(slots, |(j, s)| {
        c.keep(
            render::job_interview_id(s.id),
            render::stage_created(j, s),
            s.updated_at,
        ) && in_list(&stage_ids, s.id)
            && active != Some(false)
    });
    page(req, w, |(j, s)| render::job_interview(j, s))
}

fn candidates(ats: &Ats, req: &ListRequest) -> Result<Response, HarvestError> {
    let c = Common::parse(req)?;
    let activity = req.time("last_activity_at")?;
    let email = req.get("email").map(str::to_lowercase);
    let tag = req.get("tag").map(str::to_owned);
    req.boolean("private")?;
    let w = req.window(ats.candidates.iter().rev().map(|(id, c)| (*id, c)), |cand| {
        c.keep(cand.id, cand.created_at, cand.updated_at)
            && activity.contains(cand.last_activity)
            && email
                .as_deref()
                .is_none_or(|e| cand.emails.iter().any(|m| m.eq_ignore_ascii_case(e)))
            && tag.as_deref().is_none_or(|t| {
                cand.tag_ids
                    .iter()
                    .any(|id| ats.tags.get(id).is_some_and(|tag| tag.name == t))
            })
    });
    page(req, w, |cand| render::candidate(ats, cand))
}

fn applications(ats: &Ats, req: &ListRequest) -> Result<Response, HarvestError> {
    let c = Common::parse(req)?;
    let candidate_ids = req.ids("candidate_ids")?;
    let job_ids = req.ids("job_ids")?;
    let activity = req.time("last_activity_at")?;
    // The query enum says `active` for what the response calls `in_process`.
    let status = match req.get("status") {
        None => None,
        Some("active") => Some("in_process"),
        Some(s @ ("rejected" | "hired" | "converted")) => Some(s),
        Some(s) => {
            return Err(HarvestError::validation_owned(
                "status",
                &format!("`{s}` is not one of rejected, hired, converted, active"),
            ));
        }
    };
    let w = req.window(ats.applications.iter().rev().map(|(id, a)| (*id, a)), |a| {
        let updated = render::application_updated(a);
        c.keep(a.id, a.applied_at, updated)
            && activity.contains(updated)
            && in_list(&candidate_ids, a.candidate_id)
            && in_list(&job_ids, a.job_id)
            && status.is_none_or(|s| render::application_status(a) == s)
    });
    page(req, w, |a| render::application(ats, a))
}

fn interviews(ats: &Ats, req: &ListRequest) -> Result<Response, HarvestError> {
    let c = Common::parse(req)?;
    let application_ids = req.ids("application_ids")?;
    let job_ids = req.ids("job_ids")?;
    let starts = req.time("starts_at")?;
    let status = req.get("status").map(str::to_owned);
    let w = req.window(ats.interviews.iter().rev().map(|(id, i)| (*id, i)), |i| {
        c.keep(i.id, i.created_at, i.updated_at)
            && starts.contains(i.start)
            && in_list(&application_ids, i.application_id)
            && (job_ids.is_none()
                || ats
                    .applications
                    .get(&i.application_id)
                    .is_some_and(|a| in_list(&job_ids, a.job_id)))
            && status.as_deref().is_none_or(|s| i.status == s)
    });
    page(req, w, |i| render::interview(ats, i))
}

fn interviewers(ats: &Ats, req: &ListRequest) -> Result<Response, HarvestError> {
    let c = Common::parse(req)?;
    let interview_ids = req.ids("interview_ids")?;
    let user_ids = req.ids("user_ids")?;
    let rows = ats
        .interviews
        .iter()
        .rev()
        .filter(|(id, _)| in_list(&interview_ids, **id))
        .flat_map(|(_, i)| render::interviewers(ats, i).map(move |(id, v)| (id, (i, v))));
    let w = req.window(rows, |(i, v)| {
        let id = v["id"].as_u64().unwrap_or_default();
        let user = v["user_id"].as_u64().unwrap_or_default();
        c.keep(id, i.created_at, i.updated_at) && in_list(&user_ids, user)
    });
    page(req, w, |(_, v)| v.clone())
}

fn offers(ats: &Ats, req: &ListRequest) -> Result<Response, HarvestError> {
    let c = Common::parse(req)?;
    let application_ids = req.ids("application_ids")?;
    let job_ids = req.ids("job_ids")?;
    let candidate_ids = req.ids("candidate_ids")?;
    let current_only = req.boolean("current_only")?.unwrap_or(false);
    let status = req.get("status").map(str::to_owned);
    if let Some(s) = status
        .as_deref()
        .filter(|s| !matches!(*s, "Created" | "Accepted" | "Rejected" | "Deprecated"))
    {
        return Err(HarvestError::validation_owned(
            "status",
            &format!("`{s}` is not one of Created, Accepted, Rejected, Deprecated"),
        ));
    }
    let w = req.window(ats.offers.iter().rev().map(|(id, o)| (*id, o)), |o| {
        c.keep(o.id, o.created_at, o.updated_at)
            && in_list(&application_ids, o.application_id)
            && in_list(&job_ids, o.job_id)
            && in_list(&candidate_ids, o.candidate_id)
            && status.as_deref().is_none_or(|s| render::offer_status(o) == s)
            && (!current_only || o.status != "deprecated")
    });
    page(req, w, |o| render::offer(o))
}
