//! The simulated BambooHR API, rendered from the simulator's HRIS company.
//!
//! Written against BambooHR's public documentation:
//! - Technical overview (base URL, HTTP Basic auth with the API key as user name, error codes,
//!   throttling with 503): <https://documentation.bamboohr.com/docs/api-details> and
//!   <https://documentation.bamboohr.com/docs/getting-started>
//! - The OpenAPI document BambooHR publishes with its official SDK
//!   (`BambooHR/bhr-api-python`, `specs/public.yaml`): request/response shapes of every
//!   endpoint served here.
//! - Rate limiting moving from 503 to 429, always with `Retry-After`:
//!   <https://documentation.bamboohr.com/docs/planned-changes-to-the-api>
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

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::Request;
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
pub fn router() -> Router<SimState> {
    let window = Arc::new(RateWindow::new());
    Router::new()
        .route(
            "/api/gateway.php/{company}/v1/reports/custom",
            post(employees::custom_report),
        )
        .route(
            "/api/gateway.php/{company}/v1/employees/directory",
            get(employees::directory),
        )
        .route("/api/gateway.php/{company}/v1/meta/fields", get(employees::fields))
        .route("/api/gateway.php/{company}/v1/meta/lists", get(org::lists))
        .route("/api/gateway.php/{company}/v1/hris/org/locations", get(org::locations))
        .route(
            "/api/gateway.php/{company}/v1/employees/{id}/tables/{table}",
            get(tables::table),
        )
        .route(
            "/api/gateway.php/{company}/v1/meta/time_off/types",
            get(time_off::types),
        )
        .route(
            "/api/gateway.php/{company}/v1/time_off/requests",
            get(time_off::requests),
        )
        .route(
            "/api/gateway.php/{company}/v1/employees/{id}/time_off/calculator",
            get(time_off::calculator),
        )
        .layer(middleware::from_fn(move |req: Request, next: Next| {
            let window = window.clone();
            async move { window.annotate(next.run(req).await) }
        }))
}

/// An error the way BambooHR sends it: a status, the message in `X-BambooHR-Error-Message`,
/// and an empty body; failed authentication also carries a Basic challenge.
struct Rejection {
    status: StatusCode,
    message: String,
    challenge: bool,
}

fn error(status: StatusCode, message: &str) -> Rejection {
    Rejection {
        status,
        message: message.to_owned(),
        challenge: false,
    }
}

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        let mut resp = self.status.into_response();
        if let Ok(v) = HeaderValue::from_str(&self.message) {
            resp.headers_mut().insert(ERROR_HEADER, v);
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

/// BambooHR answers in XML unless asked for JSON. The simulator renders JSON only, so a
/// client that does not ask for it gets a 406 rather than a silently different format.
fn require_json(headers: &HeaderMap) -> Result<(), Rejection> {
    let accepts_json = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/json"));
    if accepts_json {
        Ok(())
    } else {
        Err(error(
            StatusCode::NOT_ACCEPTABLE,
            "The simulator renders JSON only: send Accept: application/json",
        ))
    }
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

/// BambooHR publishes no numeric quota; throttling shows up as 503 (429 from September 2026)
/// with `Retry-After`, which the framework's fault middleware injects. The simulator still
/// reports a budget in the common `X-RateLimit-*` headers so clients that watch them can be
/// exercised: a fixed window of `LIMIT` requests per `WINDOW`.
struct RateWindow {
    state: Mutex<(Instant, u32)>,
}

impl RateWindow {
    const LIMIT: u32 = 1_000;
    const WINDOW: Duration = Duration::from_secs(10);

    fn new() -> Self {
        Self {
            state: Mutex::new((Instant::now(), 0)),
        }
    }

    fn annotate(&self, mut resp: Response) -> Response {
        let (remaining, reset) = {
            let mut guard = self.state.lock().unwrap_or_else(|p| p.into_inner());
            let now = Instant::now();
            if now.duration_since(guard.0) >= Self::WINDOW {
                *guard = (now, 0);
            }
            guard.1 = guard.1.saturating_add(1);
            let reset = Self::WINDOW
                .saturating_sub(now.duration_since(guard.0))
                .as_secs()
                .max(1);
            (Self::LIMIT.saturating_sub(guard.1), reset)
        };
        let h = resp.headers_mut();
        h.insert("x-ratelimit-limit", HeaderValue::from(Self::LIMIT));
        h.insert("x-ratelimit-remaining", HeaderValue::from(remaining));
        h.insert("x-ratelimit-reset", HeaderValue::from(reset));
        resp
    }
}
