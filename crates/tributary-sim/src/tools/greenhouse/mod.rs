//! The simulated Greenhouse Harvest API (v1), rendered from the company's `ats` half.
//!
//! Written against Greenhouse's public Harvest documentation,
//! <https://developers.greenhouse.io/harvest.html> (source: github.com/grnhse/greenhouse-api-docs,
//! `source/includes/harvest/*.md`):
//!
//! - Authentication: HTTP Basic, the API key as user name and a blank password; anything else
//!   is `401 {"message":"Invalid Basic Auth credentials"}` (#authentication).
//! - Rate limiting: `X-RateLimit-Limit` / `X-RateLimit-Remaining` per 10-second window on every
//!   response (#rate-limiting). 429s themselves are injected by the framework's fault layer.
//! - Pagination: `page` / `per_page` (1..=500, default 100) and `skip_count`, with an RFC 5988
//!   `Link` header carrying `next`, `prev` and `last` (absent when there is only one page)
//!   (#pagination).
//! - Bad parameters: `422 {"message":"Validation error","errors":[{"message","field"}]}`
//!   (#validation).
//! - Lists are bare JSON arrays of the documented objects (see `render`).

mod listing;
mod render;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{OriginalUri, Path, RawQuery, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine;
use serde_json::{Value, json};
use tributary_model::ToolKind;

use crate::SimState;
use crate::company::Id;
use listing::{ListRequest, Params, Window};

/// Greenhouse sets the limit per integration (the docs' example shows 50 per 10 s). The
/// simulator plays a generous approved-partner allowance so that syncing a million-record
/// company is not throttled by the simulator itself; throttling tests inject 429s instead.
const RATE_LIMIT_PER_WINDOW: u32 = 500;
const RATE_WINDOW: Duration = Duration::from_secs(10);

/// Routes relative to the tool's base URL (`https://harvest.greenhouse.io` for the real tool).
pub fn router() -> Router<SimState> {
    let rate = Arc::new(RateWindow::default());
    Router::new()
        .route("/v1/users", get(list_users))
        .route("/v1/tags/candidate", get(list_candidate_tags))
        .route("/v1/rejection_reasons", get(list_rejection_reasons))
        .route("/v1/jobs", get(list_jobs))
        .route("/v1/jobs/{id}/stages", get(list_stages_for_job))
        .route("/v1/job_stages", get(list_job_stages))
        .route("/v1/candidates", get(list_candidates))
        .route("/v1/applications", get(list_applications))
        .route("/v1/applications/{id}", get(retrieve_application))
        .route("/v1/scheduled_interviews", get(list_scheduled_interviews))
        .route("/v1/offers", get(list_offers))
        .fallback(not_found)
        .layer(axum::middleware::from_fn(move |req: Request, next: Next| {
            let rate = rate.clone();
            async move {
                let remaining = rate.take();
                let mut resp = next.run(req).await;
                let h = resp.headers_mut();
                h.insert("x-ratelimit-limit", HeaderValue::from(RATE_LIMIT_PER_WINDOW));
                h.insert("x-ratelimit-remaining", HeaderValue::from(remaining));
                resp
            }
        }))
}

/// A fixed 10-second window counting the requests served, for honest `X-RateLimit-Remaining`.
#[derive(Default)]
struct RateWindow {
    state: Mutex<Option<(Instant, u32)>>,
}

impl RateWindow {
    /// Counts one request and returns what is left of the window afterwards.
    fn take(&self) -> u32 {
        let mut guard = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        let used = match *guard {
            Some((start, used)) if now.duration_since(start) < RATE_WINDOW => used + 1,
            _ => {
                *guard = Some((now, 0));
                1
            }
        };
        if let Some((_, u)) = guard.as_mut() {
            *u = used;
        }
        RATE_LIMIT_PER_WINDOW.saturating_sub(used)
    }
}

/// An error answered the way Harvest answers it.
#[derive(Debug)]
pub(crate) enum HarvestError {
    Unauthorized,
    NotFound,
    Validation { field: &'static str, message: String },
}

impl IntoResponse for HarvestError {
    fn into_response(self) -> Response {
        match self {
            HarvestError::Unauthorized => (
                StatusCode::UNAUTHORIZED,
                axum::Json(json!({"message": "Invalid Basic Auth credentials"})),
            )
                .into_response(),
            HarvestError::NotFound => (
                StatusCode::NOT_FOUND,
                axum::Json(json!({"message": "Resource not found"})),
            )
                .into_response(),
            HarvestError::Validation { field, message } => (
                StatusCode::UNPROCESSABLE_ENTITY,
                axum::Json(json!({
                    "message": "Validation error",
                    "errors": [{"message": message, "field": field}],
                })),
            )
                .into_response(),
        }
    }
}

/// Basic auth with the API key as user name; Harvest ignores the (blank) password.
fn authorize(state: &SimState, headers: &HeaderMap) -> Result<(), HarvestError> {
    if state.is_revoked(ToolKind::Greenhouse) {
        return Err(HarvestError::Unauthorized);
    }
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b64| base64::engine::general_purpose::STANDARD.decode(b64.trim()).ok())
        .and_then(|raw| String::from_utf8(raw).ok());
    let user = presented
        .as_deref()
        .map(|s| s.split_once(':').map_or(s, |(user, _)| user));
    if user == Some(state.credentials().greenhouse_api_key.as_str()) {
        Ok(())
    } else {
        Err(HarvestError::Unauthorized)
    }
}

async fn not_found(State(state): State<SimState>, headers: HeaderMap) -> Response {
    match authorize(&state, &headers) {
        Err(e) => e.into_response(),
        Ok(()) => HarvestError::NotFound.into_response(),
    }
}

/// The shared prologue of every list endpoint: authentication, then paging parameters.
fn begin(
    state: &SimState,
    headers: &HeaderMap,
    uri: &OriginalUri,
    query: Option<String>,
) -> Result<ListRequest, HarvestError> {
    authorize(state, headers)?;
    ListRequest::parse(headers, &uri.0, query.as_deref().unwrap_or(""))
}

/// Pages through `map` in id order, keeping entries `keep` accepts, and renders only the page.
fn list_map<T>(
    req: &ListRequest,
    map: &BTreeMap<Id, T>,
    keep: impl Fn(&T) -> bool,
    render: impl Fn(&T) -> Value,
    unfiltered: bool,
) -> Response {
    let window = if unfiltered {
        Window::unfiltered(map.values(), map.len(), req)
    } else {
        Window::filtered(map.values(), |t: &&T| keep(t), req)
    };
    let items: Vec<Value> = window.items.iter().map(|t| render(t)).collect();
    req.respond(items, window.total)
}

async fn list_users(
    State(state): State<SimState>,
    headers: HeaderMap,
    uri: OriginalUri,
    RawQuery(query): RawQuery,
) -> Result<Response, HarvestError> {
    let req = begin(&state, &headers, &uri, query)?;
    let p = &req.params;
    let created = p.time_range("created_after", "created_before")?;
    let updated = p.time_range("updated_after", "updated_before")?;
    let email = p.get("email").map(str::to_lowercase);
    let unfiltered = created.is_open() && updated.is_open() && email.is_none();
    let company = state.company(ToolKind::Greenhouse);
    Ok(list_map(
        &req,
        &company.ats.users,
        |u| {
            created.contains(u.created_at)
                && updated.contains(u.updated_at)
                && email.as_deref().is_none_or(|e| u.email.eq_ignore_ascii_case(e))
        },
        render::user,
        unfiltered,
    ))
}

async fn list_candidate_tags(
    State(state): State<SimState>,
    headers: HeaderMap,
    uri: OriginalUri,
    RawQuery(query): RawQuery,
) -> Result<Response, HarvestError> {
    let req = begin(&state, &headers, &uri, query)?;
    let company = state.company(ToolKind::Greenhouse);
    Ok(list_map(&req, &company.ats.tags, |_| true, render::tag, true))
}

async fn list_rejection_reasons(
    State(state): State<SimState>,
    headers: HeaderMap,
    uri: OriginalUri,
    RawQuery(query): RawQuery,
) -> Result<Response, HarvestError> {
    let req = begin(&state, &headers, &uri, query)?;
    // `include_defaults` would add Greenhouse's built-in reasons; the simulated account has
    // only its own, so the flag changes nothing.
    let company = state.company(ToolKind::Greenhouse);
    Ok(list_map(
        &req,
        &company.ats.rejection_reasons,
        |_| true,
        render::rejection_reason,
        true,
    ))
}

async fn list_jobs(
    State(state): State<SimState>,
    headers: HeaderMap,
    uri: OriginalUri,
    RawQuery(query): RawQuery,
) -> Result<Response, HarvestError> {
    let req = begin(&state, &headers, &uri, query)?;
    let p = &req.params;
    let created = p.time_range("created_after", "created_before")?;
    let updated = p.time_range("updated_after", "updated_before")?;
    let status = p.get("status").map(str::to_owned);
    let requisition = p.get("requisition_id").map(str::to_owned);
    let unfiltered = created.is_open() && updated.is_open() && status.is_none() && requisition.is_none();
    let company = state.company(ToolKind::Greenhouse);
    let ats = &company.ats;
    Ok(list_map(
        &req,
        &ats.jobs,
        |j| {
            created.contains(j.created_at)
                && updated.contains(j.updated_at)
                && status.as_deref().is_none_or(|s| j.status == s)
                && requisition.as_deref().is_none_or(|r| j.requisition_id == r)
        },
        |j| render::job(ats, j),
        unfiltered,
    ))
}

/// Not paginated in the docs: all stages of one job, optionally filtered by time.
async fn list_stages_for_job(
    State(state): State<SimState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, HarvestError> {
    authorize(&state, &headers)?;
    let params = Params::parse(query.as_deref().unwrap_or(""));
    let created = params.time_range("created_after", "created_before")?;
    let updated = params.time_range("updated_after", "updated_before")?;
    let id: Id = id.parse().map_err(|_| HarvestError::NotFound)?;
    let company = state.company(ToolKind::Greenhouse);
    let job = company.ats.jobs.get(&id).ok_or(HarvestError::NotFound)?;
    let stages: Vec<Value> = job
        .stages
        .iter()
        .filter(|s| created.contains(job.created_at.min(s.updated_at)) && updated.contains(s.updated_at))
        .map(|s| render::job_stage(job, s))
        .collect();
    Ok(axum::Json(stages).into_response())
}

async fn list_job_stages(
    State(state): State<SimState>,
    headers: HeaderMap,
    uri: OriginalUri,
    RawQuery(query): RawQuery,
) -> Result<Response, HarvestError> {
    let req = begin(&state, &headers, &uri, query)?;
    let p = &req.params;
    let created = p.time_range("created_after", "created_before")?;
    let updated = p.time_range("updated_after", "updated_before")?;
    let company = state.company(ToolKind::Greenhouse);
    let stages = company
        .ats
        .jobs
        .values()
        .flat_map(|j| j.stages.iter().map(move |s| (j, s)));
    let window = Window::filtered(
        stages,
        |(j, s)| created.contains(j.created_at.min(s.updated_at)) && updated.contains(s.updated_at),
        &req,
    );
    let items = window.items.iter().map(|(j, s)| render::job_stage(j, s)).collect();
    Ok(req.respond(items, window.total))
}

async fn list_candidates(
    State(state): State<SimState>,
    headers: HeaderMap,
    uri: OriginalUri,
    RawQuery(query): RawQuery,
) -> Result<Response, HarvestError> {
    let req = begin(&state, &headers, &uri, query)?;
    let p = &req.params;
    let created = p.time_range("created_after", "created_before")?;
    let updated = p.time_range("updated_after", "updated_before")?;
    let job_id = p.id("job_id")?;
    let email = p.get("email").map(str::to_lowercase);
    let ids = match p.get("candidate_ids") {
        // "A maximum of 50 candidates can be returned this way"; ignored when `email` is given.
        Some(list) if email.is_none() => Some(
            list.split(',')
                .map(|s| s.trim().parse::<Id>())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|_| HarvestError::Validation {
                    field: "candidate_ids",
                    message: "Must be a comma separated list of integers".into(),
                })?
                .into_iter()
                .take(50)
                .collect::<Vec<_>>(),
        ),
        _ => None,
    };
    let unfiltered = created.is_open() && updated.is_open() && job_id.is_none() && email.is_none() && ids.is_none();
    let company = state.company(ToolKind::Greenhouse);
    let ats = &company.ats;
    Ok(list_map(
        &req,
        &ats.candidates,
        |c| {
            created.contains(c.created_at)
                && updated.contains(c.updated_at)
                && ids.as_ref().is_none_or(|ids| ids.contains(&c.id))
                && email
                    .as_deref()
                    .is_none_or(|e| c.emails.iter().any(|m| m.eq_ignore_ascii_case(e)))
                && job_id.is_none_or(|job| {
                    c.application_ids
                        .iter()
                        .any(|a| ats.applications.get(a).is_some_and(|a| a.job_id == job))
                })
        },
        |c| render::candidate(ats, c),
        unfiltered,
    ))
}

async fn list_applications(
    State(state): State<SimState>,
    headers: HeaderMap,
    uri: OriginalUri,
    RawQuery(query): RawQuery,
) -> Result<Response, HarvestError> {
    let req = begin(&state, &headers, &uri, query)?;
    let p = &req.params;
    // Applications have no created_at/updated_at: `created_*` filter on `applied_at`, and
    // deltas use `last_activity_after`.
    let created = p.time_range("created_after", "created_before")?;
    let activity = p.time_range("last_activity_after", "")?;
    let job_id = p.id("job_id")?;
    let status = p.get("status").map(str::to_owned);
    let unfiltered = created.is_open() && activity.is_open() && job_id.is_none() && status.is_none();
    let company = state.company(ToolKind::Greenhouse);
    let ats = &company.ats;
    Ok(list_map(
        &req,
        &ats.applications,
        |a| {
            created.contains(a.applied_at)
                && activity.contains(render::last_activity(a))
                && job_id.is_none_or(|j| a.job_id == j)
                // "If anything else is used, an empty response will be returned rather than an error."
                && status.as_deref().is_none_or(|s| a.status == s)
        },
        |a| render::application(ats, a),
        unfiltered,
    ))
}

/// "GET: Retrieve Application": the single object, or 404.
async fn retrieve_application(
    State(state): State<SimState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, HarvestError> {
    authorize(&state, &headers)?;
    let id: Id = id.parse().map_err(|_| HarvestError::NotFound)?;
    let company = state.company(ToolKind::Greenhouse);
    let app = company.ats.applications.get(&id).ok_or(HarvestError::NotFound)?;
    Ok(axum::Json(render::application(&company.ats, app)).into_response())
}

async fn list_scheduled_interviews(
    State(state): State<SimState>,
    headers: HeaderMap,
    uri: OriginalUri,
    RawQuery(query): RawQuery,
) -> Result<Response, HarvestError> {
    let req = begin(&state, &headers, &uri, query)?;
    let p = &req.params;
    let created = p.time_range("created_after", "created_before")?;
    let updated = p.time_range("updated_after", "updated_before")?;
    let starts = p.time_range("starts_after", "starts_before")?;
    let ends = p.time_range("ends_after", "ends_before")?;
    let unfiltered = created.is_open() && updated.is_open() && starts.is_open() && ends.is_open();
    let company = state.company(ToolKind::Greenhouse);
    let ats = &company.ats;
    Ok(list_map(
        &req,
        &ats.interviews,
        |i| {
            created.contains(i.created_at)
                && updated.contains(i.updated_at)
                && starts.contains(i.start)
                && ends.contains(i.end)
        },
        |i| render::scheduled_interview(ats, i),
        unfiltered,
    ))
}

async fn list_offers(
    State(state): State<SimState>,
    headers: HeaderMap,
    uri: OriginalUri,
    RawQuery(query): RawQuery,
) -> Result<Response, HarvestError> {
    let req = begin(&state, &headers, &uri, query)?;
    let p = &req.params;
    let created = p.time_range("created_after", "created_before")?;
    // Offers document `updated_before` and `resolved_before` as "at or before".
    let updated = p.time_range("updated_after", "updated_before")?.inclusive_end();
    let resolved = p.time_range("resolved_after", "resolved_before")?.inclusive_end();
    let sent = p.date_range("sent_after", "sent_before")?;
    let starts = p.date_range("starts_after", "starts_before")?;
    let status = p.get("status").map(str::to_owned);
    let unfiltered = created.is_open()
        && updated.is_open()
        && resolved.is_open()
        && sent.is_open()
        && starts.is_open()
        && status.is_none();
    let company = state.company(ToolKind::Greenhouse);
    Ok(list_map(
        &req,
        &company.ats.offers,
        |o| {
            created.contains(o.created_at)
                && updated.contains(o.updated_at)
                && resolved.contains_opt(o.resolved_at)
                && sent.contains_opt(o.sent_at)
                && starts.contains_opt(o.starts_at)
                && status.as_deref().is_none_or(|s| o.status == s)
        },
        render::offer,
        unfiltered,
    ))
}
