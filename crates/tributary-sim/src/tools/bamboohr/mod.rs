//! The simulated BambooHR API, rendered from the simulator's HRIS company.
//!
//! Written against BambooHR's public documentation:
//! - Technical overview (base URL, HTTP Basic auth with the API key as user name, error codes):
//!   <https://documentation.bamboohr.com/docs/api-details> and
//!   <https://documentation.bamboohr.com/docs/getting-started>
//! - The OpenAPI document BambooHR publishes with its official SDK
//!   (`BambooHR/bhr-api-python`, `specs/public.yaml`): request/response shapes of every
//!   endpoint served here.
//! - Rate limiting moving from 503 to 429 on 16 September 2026, always with `Retry-After`:
//!   <https://documentation.bamboohr.com/docs/planned-changes-to-the-api>
//! - XML unless the request sends `Accept: application/json` ([`xml`]).
//!
//! Every behaviour with its source and test: `docs/sources/bamboohr.md`.
//!
//! Routes are relative to the tool's base URL, which the server nests under `/bamboohr`; the
//! company domain is the path segment after `gateway.php`, as in
//! `https://api.bamboohr.com/api/gateway.php/{companyDomain}/v1/...`.
//!
//! None of BambooHR's bulk endpoints paginate, so a million-employee company yields
//! million-row bodies. They are rendered by [`render::JsonArray`] in chunks, each under a
//! short read lock, without cloning the company's maps.

mod employees;
mod org;
mod render;
mod tables;
mod time_off;
mod users;
mod xml;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use tributary_model::ToolKind;

use crate::SimState;

const TOOL: ToolKind = ToolKind::Bamboohr;

/// BambooHR reports request errors in this header, usually with an empty body.
const ERROR_HEADER: &str = "x-bamboohr-error-message";

/// Routes relative to the tool's base URL.
///
/// Paths are served as BambooHR documents them. The current OpenAPI document writes every path
/// without a trailing slash; the reference it replaced wrote some with one (`/v1/meta/users/`,
/// `/v1/meta/fields/`, `/v1/meta/lists/`, `/v1/meta/time_off/types/`, `/v1/time_off/requests/`,
/// `/v1/employees/{id}/`; its "Last Changed" page `/v1/employees/changed/`, its tables page
/// `/v1/employees/{id}/tables/{table}/`) and clients
/// written against it work today, so those are served in both spellings. Any other spelling is a 404, as an unknown path is.
pub fn router() -> Router<SimState> {
    let throttle = Arc::new(Throttle::new());
    const BASE: &str = "/api/gateway.php/{company}/v1";
    let both = |router: Router<SimState>, path: &str, handler: axum::routing::MethodRouter<SimState>| {
        router
            .route(&format!("{BASE}{path}"), handler.clone())
            .route(&format!("{BASE}{path}/"), handler)
    };
    let router = Router::new()
        .route(&format!("{BASE}/reports/custom"), post(employees::custom_report))
        .route(&format!("{BASE}/employees/directory"), get(employees::directory))
        .route(&format!("{BASE}/hris/org/locations"), get(org::locations))
        .route(
            &format!("{BASE}/employees/{{id}}/time_off/calculator"),
            get(time_off::calculator),
        );
    let router = both(router, "/meta/fields", get(employees::fields));
    let router = both(router, "/meta/lists", get(org::lists));
    let router = both(router, "/meta/users", get(users::users));
    let router = both(router, "/meta/time_off/types", get(time_off::types));
    let router = both(router, "/time_off/requests", get(time_off::requests));
    let router = both(router, "/employees/{id}", get(employees::employee));
    // BambooHR's "Last Changed" page writes this one with a slash
    // (`/v1/employees/changed/?since=`), the current document without.
    let router = both(router, "/employees/changed", get(employees::changed));
    // Its tables page asks for `GET /employees/1/tables/jobInfo/` in its sample request.
    let router = both(router, "/employees/{id}/tables/{table}", get(tables::table));
    router.layer(middleware::from_fn(move |mut req: Request, next: Next| {
        let throttle = throttle.clone();
        async move {
            req.extensions_mut().insert(throttle);
            let negotiation = xml::negotiation(req.uri().path());
            let to_xml = xml::wants_xml(negotiation, req.headers(), req.uri().query().unwrap_or(""));
            let response = next.run(req).await;
            if to_xml {
                xml::into_xml(negotiation, response).await
            } else {
                response
            }
        }
    }))
}

/// An error the way BambooHR sends it: a status, the message in `X-BambooHR-Error-Message`,
/// and an empty body; failed authentication also carries a Basic challenge.
struct Rejection {
    status: StatusCode,
    message: String,
    challenge: bool,
    /// Seconds, for a throttled request.
    retry_after: Option<u64>,
}

fn error(status: StatusCode, message: &str) -> Rejection {
    Rejection {
        status,
        message: message.to_owned(),
        challenge: false,
        retry_after: None,
    }
}

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        let mut resp = self.status.into_response();
        if let Ok(v) = HeaderValue::from_str(&self.message) {
            resp.headers_mut().insert(ERROR_HEADER, v);
        }
        if let Some(secs) = self.retry_after {
            resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if self.challenge {
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"BambooHR API\""),
            );
        }
        resp
    }
}

/// Checks the company domain and the API key, as every BambooHR endpoint does.
///
/// An unknown company domain is a 404 (there is no such account behind the gateway); a
/// missing, wrong or revoked key is a 401 with a Basic challenge. BambooHR accepts any
/// password: only the user name (the API key) is checked.
fn authorize(state: &SimState, company: &str, headers: &HeaderMap) -> Result<(), Rejection> {
    let creds = state.credentials();
    if company != creds.bamboohr_company_domain {
        return Err(error(StatusCode::NOT_FOUND, "Company not found"));
    }
    let key = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b64| base64::engine::general_purpose::STANDARD.decode(b64.trim()).ok())
        .and_then(|raw| String::from_utf8(raw).ok())
        .and_then(|pair| pair.split_once(':').map(|(user, _)| user.to_owned()));
    let valid = key.as_deref() == Some(creds.bamboohr_api_key.as_str()) && !state.is_revoked(TOOL);
    if !valid {
        return Err(Rejection {
            challenge: true,
            ..error(StatusCode::UNAUTHORIZED, "Invalid API key")
        });
    }
    Ok(())
}

/// A JSON body that was rendered into bytes already.
fn json_bytes(body: Vec<u8>) -> Response {
    ([(header::CONTENT_TYPE, "application/json; charset=utf-8")], body).into_response()
}

/// Renders a large body on the blocking pool: serialising a million rows takes long enough to
/// stall the async workers serving other tools.
async fn blocking<T: Send + 'static>(
    state: SimState,
    render: impl FnOnce(&SimState) -> serde_json::Result<T> + Send + 'static,
) -> Result<T, Rejection> {
    match tokio::task::spawn_blocking(move || render(&state)).await {
        Ok(Ok(body)) => Ok(body),
        Ok(Err(e)) => Err(error(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("rendering failed: {e}"),
        )),
        Err(e) => Err(error(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("rendering task failed: {e}"),
        )),
    }
}

/// BambooHR's throttling, imposed while `SimState::documented_limits()` is on.
///
/// What BambooHR documents is the answer: since 16 September 2026 a request over a rate limit
/// gets HTTP 429 (503 before), and "every rate-limited response includes a `Retry-After`
/// header" (<https://documentation.bamboohr.com/docs/planned-changes-to-the-api>, updated
/// 2026-09-10). It publishes no number ("Rate limits stay the same. Only the status code is
/// changing."), so the window here is the simulator's stand-in: [`Throttle::LIMIT`] requests
/// per [`Throttle::WINDOW`] per company, counted from the window's first request. No
/// `X-RateLimit-*` headers: BambooHR documents none.
pub(crate) struct Throttle {
    state: Mutex<(Instant, u32)>,
}

impl Throttle {
    pub(crate) const LIMIT: u32 = 10;
    pub(crate) const WINDOW: Duration = Duration::from_secs(1);

    fn new() -> Self {
        Self {
            state: Mutex::new((Instant::now(), 0)),
        }
    }

    /// Counts a request; `Err(seconds)` when it is over the limit, with the wait until the
    /// window ends (at least one second: `Retry-After` takes whole seconds).
    fn admit(&self) -> Result<(), u64> {
        let mut guard = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        if now.duration_since(guard.0) >= Self::WINDOW {
            *guard = (now, 0);
        }
        if guard.1 >= Self::LIMIT {
            let left = Self::WINDOW.saturating_sub(now.duration_since(guard.0));
            return Err(left.as_secs_f64().ceil().max(1.0) as u64);
        }
        guard.1 += 1;
        Ok(())
    }
}

/// A request BambooHR's throttling let through. Every handler takes one, so with documented
/// limits on, a request over the limit is answered 429 before anything else is looked at.
struct Admitted;

impl FromRequestParts<SimState> for Admitted {
    type Rejection = Rejection;

    async fn from_request_parts(parts: &mut Parts, state: &SimState) -> Result<Self, Rejection> {
        if !state.documented_limits() {
            return Ok(Admitted);
        }
        let Some(throttle) = parts.extensions.get::<Arc<Throttle>>() else {
            return Ok(Admitted);
        };
        throttle.admit().map(|()| Admitted).map_err(|secs| Rejection {
            retry_after: Some(secs),
            ..error(StatusCode::TOO_MANY_REQUESTS, "Too Many Requests")
        })
    }
}
