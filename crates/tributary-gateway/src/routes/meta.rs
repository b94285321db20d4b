//! Liveness, readiness and Kombo's `GET /v1/check-api-key`.

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use serde_json::{Value, json};

use crate::auth::Caller;
use crate::error::ApiError;
use crate::response::Success;
use crate::state::GatewayState;

/// The process answers; says nothing about its dependencies, so an orchestrator does not
/// restart a healthy gateway because the database blipped.
pub async fn health() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// The mirror answers; load balancers stop routing here while it does not.
pub async fn ready(State(state): State<GatewayState>) -> Result<Json<Value>, ApiError> {
    state.store.ping().await.map_err(ApiError::Unavailable)?;
    Ok(Json(json!({"status": "ok", "store": state.store.backend()})))
}

#[derive(Debug, Serialize)]
pub struct ApiKeyCheck {
    environment_id: String,
    /// Deprecated alias of `environment_id` that Kombo still returns.
    customer_id: String,
}

/// `GetCheckApiKeyPositiveResponse`.
pub async fn check_api_key(Caller(key): Caller) -> Success<ApiKeyCheck> {
    Success::new(ApiKeyCheck {
        customer_id: key.environment.clone(),
        environment_id: key.environment,
    })
}
