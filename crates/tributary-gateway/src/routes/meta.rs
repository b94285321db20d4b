//! Liveness, readiness and Kombo's `GET /v1/check-api-key`.

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use serde_json::{Value, json};

use crate::auth::Caller;
use crate::error::ApiError;
use crate::response::Success;
use crate::state::GatewayState;
use tributary_store::StoreError;

/// The process answers; says nothing about its dependencies, so an orchestrator does not
/// restart a healthy gateway because the database blipped.
pub async fn health() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// The mirror answers within [`crate::GatewayOptions::ready_timeout`]; load balancers stop
/// routing here while it does not. Bounded here rather than by the pool: during an outage a
/// ping waits for a connection until the pool's acquire timeout, and a probe that hangs
/// tells an orchestrator nothing until its own timeout.
pub async fn ready(State(state): State<GatewayState>) -> Result<Json<Value>, ApiError> {
    match tokio::time::timeout(state.ready_timeout, state.store.ping()).await {
        Ok(Ok(())) => Ok(Json(json!({"status": "ok", "store": state.store.backend()}))),
        Ok(Err(e)) => Err(ApiError::Unavailable(e)),
        Err(_) => Err(ApiError::Unavailable(StoreError::no_answer(format!(
            "no answer to a ping within {:?}",
            state.ready_timeout
        )))),
    }
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
