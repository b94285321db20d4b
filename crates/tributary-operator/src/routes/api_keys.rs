//! `GET /api-keys`, `POST /api-keys` and `DELETE /api-keys/{id}`: the read API's keys. A key is
//! shown once, in the answer that creates it; the store keeps only its hash (invariant I8), as
//! after `tributary api-key create`, and the listing shows neither.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use tributary_gateway::{Success, generate_api_key, hash_api_key};
use tributary_model::Timestamp;
use tributary_store::ApiKey;

use crate::body::ObjectBody;
use crate::cursor;
use crate::error::OpsError;
use crate::inputs;
use crate::list_query::ListQuery;
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

/// A key as listed: never the key, never its hash. The store does not record when a key was
/// last used (that would be a write on every read request), so neither does this.
#[derive(Debug, Serialize)]
pub struct KeyView {
    pub id: String,
    pub environment: String,
    pub label: String,
    pub created_at: Timestamp,
    pub revoked: bool,
    pub revoked_at: Option<Timestamp>,
}

impl From<ApiKey> for KeyView {
    fn from(key: ApiKey) -> Self {
        Self {
            id: key.id,
            environment: key.environment,
            label: key.label,
            created_at: key.created_at,
            revoked: key.revoked_at.is_some(),
            revoked_at: key.revoked_at,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct Keys {
    /// Newest first, revoked keys included.
    pub results: Vec<KeyView>,
    /// The `cursor` of the next page; `null` on the last one.
    pub next: Option<String>,
}

const LIST: &str = "api-keys";
pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 500;

pub async fn list(State(state): State<OperatorState>, RawQuery(raw): RawQuery) -> Result<Success<Keys>, OpsError> {
    let query = ListQuery::parse(raw.as_deref(), &[])?;
    let filters = query.filters();
    let limit = query.limit(DEFAULT_LIMIT, MAX_LIMIT)?;
    let after = query
        .cursor()?
        .map(|text| cursor::decode_key(LIST, &filters, text))
        .transpose()?;
    let mut keys = state.store.list_api_keys(after.as_ref(), limit + 1).await?;
    let more = keys.len() as i64 > limit;
    keys.truncate(limit as usize);
    let next = more
        .then(|| {
            keys.last()
                .map(|k| cursor::encode(LIST, &filters, Some(k.created_at), &k.id))
        })
        .flatten();
    Ok(Success::new(Keys {
        results: keys.into_iter().map(KeyView::from).collect(),
        next,
    }))
}
