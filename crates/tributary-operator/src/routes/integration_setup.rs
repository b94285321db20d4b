//! The admin half of `/integrations`: create (with its schedules, as `tributary integration
//! create` does), list, show, replace the scope config, and point at a new source (rotated
//! credentials). Credentials go in, sealed by the store, and never come back out.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use tributary_gateway::Success;
use tributary_model::{ScopeConfig, SyncType, Timestamp, ToolKind};
use tributary_store::{Integration, NewIntegration, StoreError};

use crate::body::ObjectBody;
use crate::error::OpsError;
use crate::inputs;
use crate::state::OperatorState;

/// An integration as the admin API shows it: everything but its credentials (and its fence,
/// which only matters to the engine).
#[derive(Debug, Serialize)]
pub struct IntegrationView {
    pub id: String,
    pub tool: ToolKind,
    pub environment: String,
    pub base_url: String,
    pub scope_config: ScopeConfig,
    pub created_at: Timestamp,
}

impl From<Integration> for IntegrationView {
    fn from(i: Integration) -> Self {
        Self {
            id: i.id,
            tool: i.tool,
            environment: i.environment,
            base_url: i.base_url,
            scope_config: i.scope_config,
            created_at: i.created_at,
        }
    }
}

const CREATE_EXAMPLE: &str = r#"{"id": "personio:acme", "tool": "personio", "environment": "production", "base_url": "https://api.personio.de", "credentials": {"client_id": "...", "client_secret": "..."}}"#;

pub async fn create(
    State(state): State<OperatorState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, OpsError> {
    let mut body = ObjectBody::parse(
        &body?,
        &["id", "tool", "environment", "base_url", "credentials", "scope_config"],
        CREATE_EXAMPLE,
    )?;
    let tool = inputs::tool(&body.string("tool")?)?;
    let id = body.string("id")?;
    inputs::integration_id(&id, tool)?;
    let environment = inputs::environment(&body.string("environment")?)?;
    let base_url = inputs::base_url(&body.string("base_url")?)?;
    let credentials = inputs::credentials(tool, &id, &base_url, body.required("credentials")?)?;
    let scope_config = match body.optional("scope_config") {
        Some(value) => inputs::tool_scope_config(tool, value)?,
        None => ScopeConfig::default(),
    };
    let created = state
        .store
        .create_integration(NewIntegration {
            id: id.clone(),
            tool,
            environment,
            base_url,
            credentials,
            scope_config,
        })
        .await
        .map_err(|e| match e {
            StoreError::Conflict(_) => OpsError::IntegrationExists(id.clone()),
            other => other.into(),
        })?;
    // Due at once, as after `tributary integration create`: a running scheduler queues the
    // first sync at its next tick. Should this fail, the integration still exists and the
    // scheduler's housekeeping gives every integration it has not seen its schedules, so the
    // create is reported as done rather than as a failure a retry would turn into a 409.
    if let Err(e) = state
        .store
        .ensure_schedules(&id, &tributary_engine::default_intervals(tool, false))
        .await
    {
        tracing::warn!(integration_id = %id, error = %e, "integration created without its schedules; the scheduler will add them");
    }
    tracing::info!(integration_id = %id, tool = tool.as_str(), environment = %created.environment, "operator created an integration");
    Ok((StatusCode::CREATED, Success::new(IntegrationView::from(created))).into_response())
}

/// `GET /integrations`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntegrationsQuery {
    /// Only the integrations of this environment; empty or absent lists all.
    pub environment: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Integrations {
    /// Ordered by id.
    pub results: Vec<IntegrationView>,
}

pub async fn list(
    State(state): State<OperatorState>,
    query: Result<Query<IntegrationsQuery>, QueryRejection>,
) -> Result<Success<Integrations>, OpsError> {
    let Query(query) = query?;
    let wanted = query.environment.as_deref().filter(|e| !e.is_empty());
    let results = state
        .store
        .list_integrations()
        .await?
        .into_iter()
        .filter(|i| wanted.is_none_or(|e| i.environment == e))
        .map(IntegrationView::from)
        .collect();
    Ok(Success::new(Integrations { results }))
}

pub async fn show(
    State(state): State<OperatorState>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Success<IntegrationView>, OpsError> {
    let Path(id) = path?;
    Ok(Success::new(load(&state, &id).await?.into()))
}

/// `PUT /integrations/{id}/scope-config`: the whole config is replaced (every model and field
/// it names must be the tool's; `{}` is refused), the integration's scope version moves on,
/// and a complete sync (FULL, or DEFAULT for tools without deltas) is queued at once: a sync
/// stops fetching disabled models and marks their rows deleted, and strips disabled fields
/// from every record it writes, but only a complete pass rewrites every record. When a
/// complete run is already open (queued, running or paused), that run is the one: its pass
/// began under the old scope, so the store refuses its next page (and its SUCCEEDED end) and
/// it starts its pass again under the new one. Until the pass is done, the read API strips
/// newly disabled fields from `data` and `remote_data` of every row written before the change.
pub async fn set_scope(
    State(state): State<OperatorState>,
    path: Result<Path<String>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Success<IntegrationView>, OpsError> {
    let Path(id) = path?;
    let integration = load(&state, &id).await?;
    let body = body?;
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(OpsError::invalid(
            "The body must be the scope config as JSON, e.g. {\"read_models\": [{\"id\": \"hris_absences\", \"scope_config_setting\": \"DISABLED\"}]}.",
        ));
    }
    let value = serde_json::from_slice(&body).map_err(|e| OpsError::invalid(format!("The body is not JSON: {e}.")))?;
    let scope = inputs::tool_scope_config(integration.tool, value)?;
    let scope_version = state
        .store
        .set_scope_config(&id, &scope)
        .await
        .map_err(|e| not_found_as(e, &id))?;
    tracing::info!(integration_id = %id, scope_version, "operator replaced a scope config");
    let complete = if integration.tool.supports_delta() {
        SyncType::Full
    } else {
        SyncType::Default
    };
    match tributary_scheduler::trigger(
        state.store.as_ref(),
        state.queue.as_ref(),
        state.coordinator.as_ref(),
        &id,
        Some(complete),
    )
    .await
    {
        Ok(t) => tracing::info!(integration_id = %id, sync_id = %t.run.id, "complete sync queued for the new scope"),
        // The config is saved; the next scheduled complete sync applies it.
        Err(e) => tracing::warn!(integration_id = %id, error = %e, "could not queue a sync for the new scope"),
    }
    Ok(Success::new(load(&state, &id).await?.into()))
}

const SOURCE_EXAMPLE: &str =
    r#"{"base_url": "https://api.personio.de", "credentials": {"client_id": "...", "client_secret": "..."}}"#;

/// `PUT /integrations/{id}/source`: a new API root and credentials (rotated keys, a moved
/// tenant); the mirrored data stays. The next run's connector is built with them.
pub async fn set_source(
    State(state): State<OperatorState>,
    path: Result<Path<String>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Success<IntegrationView>, OpsError> {
    let Path(id) = path?;
    let mut body = ObjectBody::parse(&body?, &["base_url", "credentials"], SOURCE_EXAMPLE)?;
    let integration = load(&state, &id).await?;
    let base_url = inputs::base_url(&body.string("base_url")?)?;
    let credentials = inputs::credentials(integration.tool, &id, &base_url, body.required("credentials")?)?;
    state
        .store
        .update_integration_source(&id, &base_url, &credentials)
        .await
        .map_err(|e| not_found_as(e, &id))?;
    tracing::info!(integration_id = %id, "operator replaced an integration's base URL and credentials");
    Ok(Success::new(load(&state, &id).await?.into()))
}

/// The integration, or `PLATFORM.INTEGRATION_NOT_FOUND`.
async fn load(state: &OperatorState, id: &str) -> Result<Integration, OpsError> {
    inputs::path_id("integration", id)?;
    state
        .store
        .get_integration(id)
        .await?
        .ok_or_else(|| OpsError::IntegrationNotFound(id.to_owned()))
}

/// The store's `NotFound` for an update means the integration went away (or never was).
fn not_found_as(error: StoreError, id: &str) -> OpsError {
    match error {
        StoreError::NotFound(_) => OpsError::IntegrationNotFound(id.to_owned()),
        other => other.into(),
    }
}
