//! The gate in front of each simulated tool's router ([`middleware`]): it writes the request
//! log and applies the per-tool latency and the fault rules of [`crate::faults`]. Apart from
//! the rules and the log it reads, so that neither of those needs the simulator's state.

use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use tributary_model::ToolKind;

use crate::SimState;
use crate::faults::{DEFAULT_TIMEOUT_MS, FaultAction, Remembered};
use crate::log::{AppliedFault, CLIENT_CLOSED, LogEntry};

/// Largest response body the middleware buffers (to truncate it or remember it for
/// `repeat_page`); tool pages are far smaller.
const MAX_BUFFERED_BODY: usize = 256 * 1024 * 1024;

/// The state of [`middleware`]: which tool the wrapped router serves.
#[derive(Clone)]
pub struct ToolGate {
    pub state: SimState,
    pub tool: ToolKind,
}

/// Logs every request to a tool and applies latency and fault rules to it.
pub async fn middleware(State(gate): State<ToolGate>, request: Request, next: Next) -> Response {
    let ToolGate { state, tool } = gate;
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let query = request.uri().query().unwrap_or("").to_string();
    // The entry is written when this future ends, also when the client hangs up mid-way
    // (then with status 499), so a timed-out request is still in the log.
    let mut entry = PendingEntry::start(state.clone(), tool, &request);

    let latency = state.faults().latency(tool);
    if !latency.is_zero() && !state.pause(latency).await {
        return entry.finish(shutting_down());
    }

    let decision = state.faults().decide(tool, method.as_str(), &path, &query);
    let Some(decision) = decision else {
        let response = next.run(request).await;
        let response = remember_if_needed(&state, tool, &method, &path, response).await;
        return entry.finish(response);
    };
    entry.fault(AppliedFault {
        rule_id: decision.rule_id,
        action: decision.action.name().into(),
    });
    tracing::debug!(%tool, %path, fault = decision.action.name(), "injecting fault");

    let response = match decision.action {
        FaultAction::Latency { ms } => {
            if !state.pause(Duration::from_millis(ms)).await {
                return entry.finish(shutting_down());
            }
            let response = next.run(request).await;
            remember_if_needed(&state, tool, &method, &path, response).await
        }
        FaultAction::Status {
            code,
            retry_after,
            body,
        } => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let body = body.unwrap_or_else(|| {
                serde_json::json!({
                    "error": { "code": code, "message": status.canonical_reason().unwrap_or("injected fault") }
                })
                .to_string()
            });
            let mut response = (status, [(header::CONTENT_TYPE, "application/json")], body).into_response();
            if let Some(value) = retry_after.and_then(|r| HeaderValue::from_str(&r).ok()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
            response
        }
        FaultAction::Timeout { ms } => {
            let waited = Instant::now();
            state
                .pause(Duration::from_millis(ms.unwrap_or(DEFAULT_TIMEOUT_MS)))
                .await;
            tracing::debug!(%tool, %path, waited_ms = waited.elapsed().as_millis() as u64, "timeout fault ended");
            StatusCode::GATEWAY_TIMEOUT.into_response()
        }
        FaultAction::Truncate => {
            let response = next.run(request).await;
            let (mut parts, body) = response.into_parts();
            let bytes = match axum::body::to_bytes(body, MAX_BUFFERED_BODY).await {
                Ok(bytes) => bytes,
                Err(_) => Bytes::new(),
            };
            parts.status = StatusCode::OK;
            parts.headers.remove(header::CONTENT_LENGTH);
            Response::from_parts(parts, Body::from(bytes.slice(..bytes.len() / 2)))
        }
        FaultAction::Malformed => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            r#"{"data": [{"id": 1, "#,
        )
            .into_response(),
        FaultAction::EmptyBody => (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], "").into_response(),
        FaultAction::Mutate { mutations } => {
            for mutation in &mutations {
                if let Err(e) = state.mutate(tool, mutation) {
                    tracing::debug!(%tool, error = %e, "mutation on request skipped");
                }
            }
            next.run(request).await
        }
        FaultAction::RepeatPage => match decision.replay {
            Some(r) => {
                let mut response = Response::new(Body::from(r.body));
                *response.status_mut() = r.status;
                *response.headers_mut() = r.headers;
                response
            }
            None => next.run(request).await,
        },
    };
    entry.finish(response)
}

fn shutting_down() -> Response {
    (StatusCode::SERVICE_UNAVAILABLE, "simulator shutting down").into_response()
}

/// Buffers and remembers a successful response while a `repeat_page` rule may replay it.
async fn remember_if_needed(
    state: &SimState,
    tool: ToolKind,
    method: &Method,
    path: &str,
    response: Response,
) -> Response {
    if method != Method::GET || !response.status().is_success() || !state.faults().pagination_loop(tool, path) {
        return response;
    }
    let (parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_BUFFERED_BODY).await else {
        return (StatusCode::INTERNAL_SERVER_ERROR, "response body too large to remember").into_response();
    };
    state.faults().remember(
        tool,
        path,
        Remembered {
            status: parts.status,
            headers: parts.headers.clone(),
            body: bytes.clone(),
        },
    );
    Response::from_parts(parts, Body::from(bytes))
}

/// A request being served; logged when finished or dropped.
pub(crate) struct PendingEntry {
    state: SimState,
    entry: Option<LogEntry>,
    started: Instant,
}

impl PendingEntry {
    pub(crate) fn start(state: SimState, tool: ToolKind, request: &Request) -> Self {
        let header = |name| request.headers().get(name).and_then(|v| v.to_str().ok());
        let entry = LogEntry {
            seq: 0,
            tool,
            method: request.method().as_str().to_string(),
            path: request.uri().path().to_string(),
            query: request.uri().query().unwrap_or("").to_string(),
            auth_scheme: header(header::AUTHORIZATION)
                .and_then(|v| v.split_whitespace().next())
                .map(str::to_string),
            accept: header(header::ACCEPT).map(str::to_string),
            status: CLIENT_CLOSED,
            fault: None,
            at: Utc::now(),
            duration_ms: 0,
        };
        Self {
            state,
            entry: Some(entry),
            started: Instant::now(),
        }
    }

    pub(crate) fn fault(&mut self, fault: AppliedFault) {
        if let Some(e) = &mut self.entry {
            e.fault = Some(fault);
        }
    }

    /// Logs the request with the response's status and hands the response back.
    pub(crate) fn finish(mut self, response: Response) -> Response {
        if let Some(e) = &mut self.entry {
            e.status = response.status().as_u16();
        }
        response
    }
}

impl Drop for PendingEntry {
    fn drop(&mut self) {
        if let Some(mut entry) = self.entry.take() {
            entry.duration_ms = self.started.elapsed().as_millis() as u64;
            self.state.log().record(entry);
        }
    }
}
