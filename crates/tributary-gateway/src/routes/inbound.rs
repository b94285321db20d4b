//! `POST /v1/webhooks/{tool}/{integration_id}`: webhooks the source tools send when their data
//! changes, so the mirror follows within a second instead of at the next scheduled sync.
//!
//! No API key: the tool authenticates with the secret it signs (or, for Personio, sends) with,
//! which an operator stores per integration (`PUT /ops/v1/integrations/{id}/inbound-webhook`).
//! The route sits outside the per-key rate limit and takes bodies up to [`BODY_LIMIT`].
//!
//! How each tool proves a delivery (a signature, a signed timestamp, a static token) and
//! names its events is the tool's connector's business ([`tributary_connectors::InboundVerifier`]);
//! this route does what is the same for every tool.
//!
//! The flow: the integration (404 when unknown, of another tool, or taking no webhooks, all
//! alike so the route reveals nothing more), the tool's proof checked in constant time (401
//! `PLATFORM.AUTHENTICATION_INVALID` when missing, forged or stale; nothing else happens; past
//! a per-integration budget of refusals, 429: see [`super::inbound_rejections`]), the
//! delivery remembered by a digest of what its proof covers so a retried or replayed delivery
//! is applied once (200 with `"duplicate": true`), then a DELTA (DEFAULT for a tool without deltas) asked of the
//! fleet and 202 at once.
//!
//! Design choice: the event is applied by a sync, not from its payload. A DELTA goes through
//! the same engine path as every other sync (lease and fence, scope stripping, content hashes,
//! change tracking, `updated_after` bumps), so a webhook can never write something a sync would
//! not, needs no per-event mapping, and an event that arrives twice or out of order is
//! harmless: the DELTA reads the tool's current state. Webhook payloads are also partial
//! (BambooHR's name the employee and the fields that changed, Personio's only ids). While a
//! DELTA of the integration is already running it may have read the changed stream before the
//! change; a follow-up DELTA is then queued when it ends.

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde::Serialize;
use serde_json::Value;
use tributary_model::{RunState, SyncType, ToolKind};

use super::inbound_rejections::tool_label;
use crate::error::ApiError;
use crate::response::Success;
use crate::state::GatewayState;
use crate::sync::TriggerError;

/// Tools put whole records in some payloads (Greenhouse's applications with their candidate
/// and jobs); 1 MiB leaves room for the largest while still refusing junk early.
pub const BODY_LIMIT: usize = 1024 * 1024;
/// How long a follow-up waits for the running DELTA it follows to end.
const FOLLOW_UP_WAIT: Duration = Duration::from_secs(30 * 60);
const FOLLOW_UP_POLL: Duration = Duration::from_millis(200);

#[derive(Debug, Serialize)]
pub struct Accepted {
    duplicate: bool,
    /// The run that applies the event; `null` when no fleet answered and the schedule was
    /// made due instead (the scheduler queues it at its next tick).
    sync_id: Option<String>,
    #[serde(rename = "type")]
    sync_type: &'static str,
    /// The run was queued already (it reads the change too, or a follow-up is queued after it).
    already_queued: bool,
}

#[derive(Debug, Serialize)]
pub struct Duplicate {
    duplicate: bool,
}

#[derive(Debug, Serialize)]
pub struct Ping {
    ping: bool,
}

pub async fn receive(
    State(state): State<GatewayState>,
    path: Result<Path<(String, String)>, PathRejection>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let Path((tool, id)) = path.map_err(|e| ApiError::invalid(format!("Invalid webhook path: {}", e.body_text())))?;
    let tool = ToolKind::parse(&tool);
    let mut taking = None;
    match accept(&state, tool, &id, &headers, body, &mut taking).await {
        // Refusals are counted against a budget and logged at a sampled rate (see
        // `inbound_rejections`): anyone may send them.
        Err(error @ (ApiError::SignatureInvalid(_) | ApiError::IntegrationNotFound(_))) => Ok(state
            .inbound_rejections
            .answer(taking.as_deref(), tool_label(tool), error)),
        other => other,
    }
}

/// The delivery checked and acted on. `taking` is set to the integration once it is known to
/// take the tool's webhooks, so a refusal is counted against its budget.
async fn accept(
    state: &GatewayState,
    tool: Option<ToolKind>,
    id: &str,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
    taking: &mut Option<String>,
) -> Result<Response, ApiError> {
    let not_found = || ApiError::IntegrationNotFound(id.replace('\0', "\\0").chars().take(256).collect());
    if id.contains('\0') || id.len() > 256 {
        return Err(not_found());
    }
    let tool = tool.ok_or_else(not_found)?;
    let integration = state
        .store
        .get_integration(id)
        .await?
        .filter(|i| i.tool == tool)
        .ok_or_else(not_found)?;
    tracing::Span::current().record("integration_id", integration.id.as_str());
    let secret = state
        .store
        .inbound_webhook_secret(&integration.id)
        .await?
        .ok_or_else(not_found)?;
    *taking = Some(integration.id.clone());
    let body = body.map_err(|e| match e.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge(BODY_LIMIT),
        _ => ApiError::invalid(format!("Unreadable request body: {}", e.body_text())),
    })?;
    let verifier = tributary_connectors::inbound_verifier(tool);
    let delivery = verifier
        .verify(&secret, headers, &body, Utc::now())
        .map_err(|rejected| ApiError::SignatureInvalid(rejected.to_string()))?;
    let event: Value = serde_json::from_slice(&body)
        .ok()
        .filter(Value::is_object)
        .ok_or_else(|| ApiError::invalid("The webhook body must be a JSON object."))?;
    // A signed ping proves the set-up and asks for nothing to be synced.
    if verifier.is_ping(&event) {
        return Ok(Success::new(Ping { ping: true }).into_response());
    }
    if !state
        .store
        .record_inbound_delivery(&integration.id, &delivery.key)
        .await?
    {
        tracing::info!(integration_id = %integration.id, delivery = %delivery.key, "inbound webhook delivered again; applied once");
        return Ok(Success::new(Duplicate { duplicate: true }).into_response());
    }
    let sync_type = if tool.supports_delta() {
        SyncType::Delta
    } else {
        SyncType::Default
    };
    let queued = queue(state, &integration.id, sync_type).await?;
    tracing::info!(
        integration_id = %integration.id,
        delivery = %delivery.key,
        event = verifier.event_name(&event).unwrap_or("-"),
        sync_id = queued.sync_id.as_deref().unwrap_or("-"),
        already_queued = queued.already_queued,
        "inbound webhook accepted"
    );
    Ok((StatusCode::ACCEPTED, Success::new(queued)).into_response())
}

/// Asks the fleet for the sync. Without a fleet, or with its queue down, the schedule is made
/// due instead so the scheduler queues it at its next tick: the delivery is remembered by now,
/// and a retry of it would be answered as a duplicate, so the change must not be dropped here.
async fn queue(state: &GatewayState, integration_id: &str, sync_type: SyncType) -> Result<Accepted, ApiError> {
    let wire_type = sync_type.as_str();
    if let Some(trigger) = &state.sync {
        match trigger.force_sync(integration_id, sync_type).await {
            Ok(forced) => {
                if forced.already_queued {
                    follow_up(state, integration_id, sync_type, &forced.sync_id).await;
                }
                return Ok(Accepted {
                    duplicate: false,
                    sync_id: Some(forced.sync_id),
                    sync_type: wire_type,
                    already_queued: forced.already_queued,
                });
            }
            Err(TriggerError::IntegrationNotFound(id)) => return Err(ApiError::IntegrationNotFound(id)),
            Err(TriggerError::Unavailable(why)) => {
                tracing::warn!(integration_id, error = %why, "the fleet did not take the webhook's sync; making its schedule due");
            }
        }
    }
    state.store.force_sync(integration_id, sync_type, Utc::now()).await?;
    Ok(Accepted {
        duplicate: false,
        sync_id: None,
        sync_type: wire_type,
        already_queued: false,
    })
}

/// The open run found may have read the changed data before it changed (it is running, or
/// paused mid-way): queue another once it has ended. A queued run has not read anything yet.
async fn follow_up(state: &GatewayState, integration_id: &str, sync_type: SyncType, run_id: &str) {
    let Some(trigger) = state.sync.clone() else { return };
    match state.store.get_run(run_id).await {
        Ok(Some(run)) if run.state == RunState::Queued || run.state.is_terminal() => return,
        Ok(_) => {}
        Err(e) => tracing::warn!(integration_id, error = %e, "could not read the open run; following up anyway"),
    }
    if !state.follow_ups.claim(integration_id) {
        return;
    }
    let (store, follow_ups) = (state.store.clone(), state.follow_ups.clone());
    let (integration_id, run_id) = (integration_id.to_owned(), run_id.to_owned());
    tokio::spawn(async move {
        let deadline = tokio::time::Instant::now() + FOLLOW_UP_WAIT;
        while tokio::time::Instant::now() < deadline {
            match store.get_run(&run_id).await {
                Ok(Some(run)) if !run.state.is_terminal() => tokio::time::sleep(FOLLOW_UP_POLL).await,
                _ => break,
            }
        }
        // Released first: a webhook arriving from here on finds the new run queued and needs
        // no follow-up of its own.
        follow_ups.release(&integration_id);
        match trigger.force_sync(&integration_id, sync_type).await {
            Ok(forced) => {
                tracing::info!(%integration_id, sync_id = %forced.sync_id, "follow-up sync for an inbound webhook queued")
            }
            Err(e) => tracing::warn!(%integration_id, error = %e, "follow-up sync for an inbound webhook not queued"),
        }
    });
}
