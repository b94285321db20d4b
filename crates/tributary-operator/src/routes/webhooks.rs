//! Outbound webhooks: the endpoints an environment's events go to, and every delivery with its
//! attempts. `POST /webhooks/endpoints` answers the signing secret once (generated unless
//! given); the store keeps it encrypted.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tributary_gateway::{Success, generate_secret};
use tributary_model::Timestamp;
use tributary_store::{
    DeliveryAttempt, DeliveryFilter, DeliveryState, NewWebhookEndpoint, WebhookDelivery, WebhookEndpoint,
};
use tributary_webhooks::TargetPolicy;

use crate::body::{ObjectBody, kind};
use crate::error::OpsError;
use crate::inputs;
use crate::state::OperatorState;

/// The event types an endpoint may subscribe to.
pub const EVENT_TYPES: &[&str] = &[
    "data-changed",
    "sync-finished",
    "integration-created",
    "integration-deleted",
    "integration-state-changed",
];

const ENDPOINT_EXAMPLE: &str =
    r#"{"environment": "production", "url": "https://hooks.example.com/kombo", "event_types": ["data-changed"]}"#;

#[derive(Debug, Serialize)]
pub struct CreatedEndpoint {
    #[serde(flatten)]
    pub endpoint: WebhookEndpoint,
    /// The signing secret: shown here once.
    pub secret: String,
}

pub async fn create_endpoint(
    State(state): State<OperatorState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, OpsError> {
    let mut body = ObjectBody::parse(
        &body?,
        &["environment", "url", "secret", "event_types"],
        ENDPOINT_EXAMPLE,
    )?;
    let environment = inputs::environment(&body.string("environment")?)?;
    // The address checks are repeated at every delivery attempt (DNS can change); this refuses
    // what can never be delivered.
    let url = tributary_webhooks::check_url(&body.string("url")?, &TargetPolicy::default())
        .map_err(|e| OpsError::invalid(format!("`url`: {e}.")))?
        .to_string();
    let secret = match body.optional("secret") {
        None => generate_secret("whsec_"),
        Some(Value::String(secret)) if secret.len() >= 16 && secret.len() <= 512 => secret,
        Some(Value::String(_)) => return Err(OpsError::invalid("`secret` must be 16 to 512 characters.")),
        Some(other) => {
            return Err(OpsError::invalid(format!(
                "`secret` must be a string, got {}.",
                kind(&other)
            )));
        }
    };
    let event_types = match body.optional("event_types") {
        None => Vec::new(),
        Some(Value::Array(items)) => items
            .into_iter()
            .map(|item| match item {
                Value::String(t) if EVENT_TYPES.contains(&t.as_str()) => Ok(t),
                other => Err(OpsError::invalid(format!(
                    "`event_types` takes {}; got {}.",
                    EVENT_TYPES
                        .iter()
                        .map(|t| format!("`{t}`"))
                        .collect::<Vec<_>>()
                        .join(", "),
                    match &other {
                        Value::String(t) => format!("`{}`", t.chars().take(64).collect::<String>()),
                        other => kind(other).to_owned(),
                    }
                ))),
            })
            .collect::<Result<_, _>>()?,
        Some(other) => {
            return Err(OpsError::invalid(format!(
                "`event_types` must be an array of event types, got {}.",
                kind(&other)
            )));
        }
    };
    let endpoint = state
        .store
        .create_webhook_endpoint(NewWebhookEndpoint {
            environment,
            url,
            secret: secret.clone(),
            event_types,
        })
        .await?;
    tracing::info!(endpoint_id = %endpoint.id, environment = %endpoint.environment, "operator added a webhook endpoint");
    Ok((StatusCode::CREATED, Success::new(CreatedEndpoint { endpoint, secret })).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndpointsQuery {
    environment: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Endpoints {
    pub results: Vec<WebhookEndpoint>,
}

pub async fn list_endpoints(
    State(state): State<OperatorState>,
    query: Result<Query<EndpointsQuery>, QueryRejection>,
) -> Result<Success<Endpoints>, OpsError> {
    let Query(query) = query?;
    let results = state.store.list_webhook_endpoints(query.environment.as_deref()).await?;
    Ok(Success::new(Endpoints { results }))
}

#[derive(Debug, Serialize)]
pub struct Deleted {
    pub id: String,
    pub deleted: bool,
}

pub async fn delete_endpoint(
    State(state): State<OperatorState>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Success<Deleted>, OpsError> {
    let Path(id) = path?;
    inputs::path_id("webhook endpoint", &id)?;
    if !state.store.delete_webhook_endpoint(&id).await? {
        return Err(OpsError::WebhookEndpointNotFound(id));
    }
    tracing::info!(endpoint_id = %id, "operator removed a webhook endpoint");
    Ok(Success::new(Deleted { id, deleted: true }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliveriesQuery {
    environment: Option<String>,
    endpoint_id: Option<String>,
    integration_id: Option<String>,
    state: Option<String>,
    limit: Option<i64>,
}

#[derive(Debug, Serialize)]
pub struct Deliveries {
    /// Newest first.
    pub results: Vec<WebhookDelivery>,
}

pub async fn list_deliveries(
    State(state): State<OperatorState>,
    query: Result<Query<DeliveriesQuery>, QueryRejection>,
) -> Result<Success<Deliveries>, OpsError> {
    let Query(query) = query?;
    let delivery_state = match query.state.as_deref() {
        None => None,
        Some("pending") => Some(DeliveryState::Pending),
        Some("delivered") => Some(DeliveryState::Delivered),
        Some("dead") => Some(DeliveryState::Dead),
        Some(other) => {
            return Err(OpsError::invalid(format!(
                "`state` takes `pending`, `delivered` or `dead`; got `{}`.",
                other.chars().take(32).collect::<String>()
            )));
        }
    };
    let limit = match query.limit {
        None => 50,
        Some(n @ 1..=500) => n,
        Some(n) => return Err(OpsError::invalid(format!("`limit` must be from 1 to 500, got {n}."))),
    };
    let results = state
        .store
        .list_deliveries(&DeliveryFilter {
            environment: query.environment,
            endpoint_id: query.endpoint_id,
            integration_id: query.integration_id,
            state: delivery_state,
            limit,
        })
        .await?;
    Ok(Success::new(Deliveries { results }))
}

#[derive(Debug, Serialize)]
pub struct DeliveryDetail {
    #[serde(flatten)]
    pub delivery: WebhookDelivery,
    /// Oldest first: status, latency and the start of the response of each.
    pub attempts: Vec<DeliveryAttempt>,
}

pub async fn show_delivery(
    State(state): State<OperatorState>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Success<DeliveryDetail>, OpsError> {
    let Path(id) = path?;
    inputs::path_id("webhook delivery", &id)?;
    let delivery = state
        .store
        .get_delivery(&id)
        .await?
        .ok_or_else(|| OpsError::DeliveryNotFound(id.clone()))?;
    let attempts = state.store.delivery_attempts(&id).await?;
    Ok(Success::new(DeliveryDetail { delivery, attempts }))
}

#[derive(Debug, Serialize)]
pub struct Redelivered {
    pub id: String,
    pub state: DeliveryState,
    pub next_attempt_at: Timestamp,
}

/// A dead (or delivered) delivery is sent again, with the same event id.
pub async fn redeliver(
    State(state): State<OperatorState>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Success<Redelivered>, OpsError> {
    let Path(id) = path?;
    inputs::path_id("webhook delivery", &id)?;
    if !state.store.redeliver(&id).await? {
        return Err(OpsError::DeliveryNotFound(id));
    }
    let delivery = state
        .store
        .get_delivery(&id)
        .await?
        .ok_or_else(|| OpsError::DeliveryNotFound(id.clone()))?;
    tracing::info!(delivery_id = %id, "operator asked for a webhook redelivery");
    Ok(Success::new(Redelivered {
        id,
        state: delivery.state,
        next_attempt_at: delivery.next_attempt_at,
    }))
}
