//! `POST /api-keys` and `DELETE /api-keys/{id}`: the read API's keys. A key is shown once, in
//! the answer that creates it; the store keeps only its hash (invariant I8), as after
//! `tributary api-key create`.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use tributary_gateway::{Success, generate_api_key, hash_api_key};
use tributary_model::Timestamp;

use crate::body::ObjectBody;
use crate::error::OpsError;
use crate::inputs;
use crate::state::OperatorState;

#[derive(Debug, Serialize)]
pub struct CreatedKey {
    pub id: String,
    pub environment: String,
    pub label: String,
    pub created_at: Timestamp,
    /// The key itself (`trb_...`): shown here once, never stored.
    pub key: String,
}

pub async fn create(
    State(state): State<OperatorState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, OpsError> {
    let mut body = ObjectBody::parse(
        &body?,
        &["environment", "label"],
        r#"{"environment": "production", "label": "payroll-export"}"#,
    )?;
    let environment = inputs::environment(&body.string("environment")?)?;
    let label = inputs::label(&body.string("label")?)?;
    let key = generate_api_key();
    let row = state
        .store
        .create_api_key(&environment, &label, &hash_api_key(&key))
        .await?;
    tracing::info!(api_key_id = %row.id, environment = %row.environment, "operator created an API key");
    let created = CreatedKey {
        id: row.id,
        environment: row.environment,
        label: row.label,
        created_at: row.created_at,
        key,
    };
    Ok((StatusCode::CREATED, Success::new(created)).into_response())
}

#[derive(Debug, Serialize)]
pub struct Revoked {
    pub id: String,
    pub revoked: bool,
}

/// Revoking a revoked key succeeds again (and keeps the first revocation time).
pub async fn revoke(
    State(state): State<OperatorState>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Success<Revoked>, OpsError> {
    let Path(id) = path?;
    inputs::path_id("API key", &id)?;
    if !state.store.revoke_api_key(&id).await? {
        return Err(OpsError::ApiKeyNotFound(id));
    }
    tracing::info!(api_key_id = %id, "operator revoked an API key");
    Ok(Success::new(Revoked { id, revoked: true }))
}
