//! The control API under `/_control`: how tests, the demo and `tributary sim` steer a
//! running simulator over HTTP. Every operation is also a plain method on `SimState`.
//!
//! | method | path | body / query | answer |
//! |---|---|---|---|
//! | GET | `/_control/health` | | `{"status":"ok","tools":[..]}` |
//! | GET | `/_control/log` | `?tool=&path_contains=&query_contains=&method=&since_seq=` | `{"last_seq":n,"entries":[LogEntry]}` |
//! | DELETE | `/_control/log` | | 204 |
//! | POST | `/_control/faults` | `FaultRule` | `{"id":n}` |
//! | GET | `/_control/faults` | | `{"rules":[InstalledFault]}` |
//! | DELETE | `/_control/faults` | `?tool=` (optional) | 204 |
//! | DELETE | `/_control/faults/{id}` | | 204, or 404 |
//! | POST | `/_control/latency` | `{"tool":..,"ms":n}` | 204 |
//! | POST | `/_control/rate-limits` | `{"documented":bool}` | 204 |
//! | POST | `/_control/revoke` | `{"tool":..,"revoked":bool}` | 204 |
//! | POST | `/_control/mutate` | `{"tool":..,"kind":..,..params}` | `MutationOutcome` |
//! | POST | `/_control/mutate/random` | `{"tool":..,"count":n,"seed":n}` | `{"mutations":[MutationOutcome]}` |
//! | GET | `/_control/stats` | `?tool=` (optional) | `{"<tool>": CompanyStats, ..}` |
//! | POST | `/_control/webhooks` | `WebhookTarget` (`{"tool","url","secret","duplicate"?,"max_attempts"?}`) | 204 |
//! | GET | `/_control/webhooks` | | `{"targets":[TargetView],"in_flight":n}` |
//! | DELETE | `/_control/webhooks` | `?tool=` (optional) | 204 |
//! | GET | `/_control/webhooks/log` | `?tool=&since_seq=` | `{"last_seq":n,"entries":[SentWebhook]}` |
//!
//! Bad input is a 400 with `{"error": "<what is wrong>"}`.

use std::collections::BTreeMap;

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;
use tributary_model::ToolKind;

use crate::SimState;
use crate::faults::{FaultId, FaultRule};
use crate::log::RequestFilter;
use crate::mutate::{Mutation, MutationError};
use crate::webhooks::WebhookTarget;

/// Most mutations one `mutate/random` call applies; the write lock is held throughout.
const MAX_RANDOM_MUTATIONS: usize = 100_000;

pub fn router() -> Router<SimState> {
    Router::new()
        .route("/health", get(health))
        .route("/log", get(log).delete(clear_log))
        .route("/faults", post(add_fault).get(list_faults).delete(clear_faults))
        .route("/faults/{id}", delete(remove_fault))
        .route("/latency", post(set_latency))
        .route("/rate-limits", post(set_rate_limits))
        .route("/revoke", post(revoke))
        .route("/mutate", post(mutate))
        .route("/mutate/random", post(mutate_random))
        .route("/stats", get(stats))
        .route(
            "/webhooks",
            post(register_webhook).get(webhook_targets).delete(unregister_webhook),
        )
        .route("/webhooks/log", get(webhook_log))
}

/// A control API failure, rendered as `{"error": "..."}`.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    NotFound(String),
}

impl IntoResponse for ControlError {
    fn into_response(self) -> Response {
        let status = match self {
            ControlError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ControlError::NotFound(_) => StatusCode::NOT_FOUND,
        };
        (status, Json(json!({ "error": self.to_string() }))).into_response()
    }
}

impl From<JsonRejection> for ControlError {
    fn from(r: JsonRejection) -> Self {
        ControlError::BadRequest(r.body_text())
    }
}

impl From<QueryRejection> for ControlError {
    fn from(r: QueryRejection) -> Self {
        ControlError::BadRequest(r.body_text())
    }
}

impl From<MutationError> for ControlError {
    fn from(e: MutationError) -> Self {
        ControlError::BadRequest(e.to_string())
    }
}

type Result<T> = std::result::Result<T, ControlError>;

fn served(state: &SimState, tool: ToolKind) -> Result<ToolKind> {
    if state.has_tool(tool) {
        Ok(tool)
    } else {
        Err(ControlError::BadRequest(format!(
            "{tool} is not served by this simulator"
        )))
    }
}

async fn health(State(state): State<SimState>) -> Json<serde_json::Value> {
    Json(json!({ "status": "ok", "tools": state.tools() }))
}

async fn log(
    State(state): State<SimState>,
    filter: std::result::Result<Query<RequestFilter>, QueryRejection>,
) -> Result<Json<serde_json::Value>> {
    let Query(filter) = filter?;
    let log = state.log();
    Ok(Json(
        json!({ "last_seq": log.last_seq(), "entries": log.entries(&filter) }),
    ))
}

async fn clear_log(State(state): State<SimState>) -> StatusCode {
    state.clear_requests();
    StatusCode::NO_CONTENT
}

async fn add_fault(
    State(state): State<SimState>,
    rule: std::result::Result<Json<FaultRule>, JsonRejection>,
) -> Result<Json<serde_json::Value>> {
    let Json(rule) = rule?;
    served(&state, rule.tool)?;
    let id = state
        .add_fault(rule)
        .map_err(|e| ControlError::BadRequest(e.to_string()))?;
    Ok(Json(json!({ "id": id })))
}

async fn list_faults(State(state): State<SimState>) -> Json<serde_json::Value> {
    Json(json!({ "rules": state.fault_rules() }))
}

#[derive(Deserialize)]
struct ToolQuery {
    tool: Option<ToolKind>,
}

async fn clear_faults(
    State(state): State<SimState>,
    query: std::result::Result<Query<ToolQuery>, QueryRejection>,
) -> Result<StatusCode> {
    let Query(ToolQuery { tool }) = query?;
    state.clear_faults(tool);
    Ok(StatusCode::NO_CONTENT)
}

async fn remove_fault(
    State(state): State<SimState>,
    id: std::result::Result<Path<FaultId>, axum::extract::rejection::PathRejection>,
) -> Result<StatusCode> {
    let Path(id) = id.map_err(|r| ControlError::BadRequest(r.body_text()))?;
    if state.remove_fault(id) {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ControlError::NotFound(format!("no fault rule {id}")))
    }
}

#[derive(Deserialize)]
struct LatencyBody {
    tool: ToolKind,
    ms: u64,
}

async fn set_latency(
    State(state): State<SimState>,
    body: std::result::Result<Json<LatencyBody>, JsonRejection>,
) -> Result<StatusCode> {
    let Json(body) = body?;
    served(&state, body.tool)?;
    if body.ms > 3_600_000 {
        return Err(ControlError::BadRequest(format!(
            "latency of {} ms is longer than an hour",
            body.ms
        )));
    }
    state.set_latency(body.tool, body.ms);
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RateLimitsBody {
    documented: bool,
}

/// Every tool imposes its documented rate limit (or stops doing so).
async fn set_rate_limits(
    State(state): State<SimState>,
    body: std::result::Result<Json<RateLimitsBody>, JsonRejection>,
) -> Result<StatusCode> {
    let Json(body) = body?;
    state.set_documented_limits(body.documented);
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
struct RevokeBody {
    tool: ToolKind,
    revoked: bool,
}

async fn revoke(
    State(state): State<SimState>,
    body: std::result::Result<Json<RevokeBody>, JsonRejection>,
) -> Result<StatusCode> {
    let Json(body) = body?;
    served(&state, body.tool)?;
    state.set_revoked(body.tool, body.revoked);
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
struct MutateBody {
    tool: ToolKind,
    #[serde(flatten)]
    mutation: Mutation,
}

async fn mutate(
    State(state): State<SimState>,
    body: std::result::Result<Json<MutateBody>, JsonRejection>,
) -> Result<Response> {
    let Json(body) = body?;
    served(&state, body.tool)?;
    Ok(Json(state.mutate(body.tool, &body.mutation)?).into_response())
}

#[derive(Deserialize)]
struct RandomBody {
    tool: ToolKind,
    count: usize,
    #[serde(default)]
    seed: u64,
}

async fn mutate_random(
    State(state): State<SimState>,
    body: std::result::Result<Json<RandomBody>, JsonRejection>,
) -> Result<Json<serde_json::Value>> {
    let Json(body) = body?;
    served(&state, body.tool)?;
    if body.count > MAX_RANDOM_MUTATIONS {
        return Err(ControlError::BadRequest(format!(
            "count {} is more than {MAX_RANDOM_MUTATIONS} mutations per call",
            body.count
        )));
    }
    // Large batches hold the company's write lock for a while; keep that off the runtime.
    let mutations = tokio::task::spawn_blocking(move || state.mutate_random(body.tool, body.count, body.seed))
        .await
        .map_err(|e| ControlError::BadRequest(format!("mutation task failed: {e}")))??;
    Ok(Json(json!({ "mutations": mutations })))
}

async fn stats(
    State(state): State<SimState>,
    query: std::result::Result<Query<ToolQuery>, QueryRejection>,
) -> Result<Json<BTreeMap<&'static str, crate::state::CompanyStats>>> {
    let Query(ToolQuery { tool }) = query?;
    let tools = match tool {
        Some(t) => vec![served(&state, t)?],
        None => state.tools(),
    };
    Ok(Json(
        tools
            .into_iter()
            .filter_map(|t| state.stats(t).map(|s| (t.as_str(), s)))
            .collect(),
    ))
}

async fn register_webhook(
    State(state): State<SimState>,
    body: std::result::Result<Json<WebhookTarget>, JsonRejection>,
) -> Result<StatusCode> {
    let Json(target) = body?;
    served(&state, target.tool)?;
    state
        .register_webhook(target)
        .map_err(|e| ControlError::BadRequest(e.to_string()))?;
    Ok(StatusCode::NO_CONTENT)
}

async fn webhook_targets(State(state): State<SimState>) -> Json<serde_json::Value> {
    Json(json!({ "targets": state.webhook_targets(), "in_flight": state.webhooks_in_flight() }))
}

async fn unregister_webhook(
    State(state): State<SimState>,
    query: std::result::Result<Query<ToolQuery>, QueryRejection>,
) -> Result<StatusCode> {
    let Query(ToolQuery { tool }) = query?;
    state.unregister_webhook(tool);
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
struct WebhookLogQuery {
    tool: Option<ToolKind>,
    #[serde(default)]
    since_seq: u64,
}

async fn webhook_log(
    State(state): State<SimState>,
    query: std::result::Result<Query<WebhookLogQuery>, QueryRejection>,
) -> Result<Json<serde_json::Value>> {
    let Query(WebhookLogQuery { tool, since_seq }) = query?;
    let (last_seq, entries) = state.webhook_log(tool, since_seq);
    Ok(Json(json!({ "last_seq": last_seq, "entries": entries })))
}
