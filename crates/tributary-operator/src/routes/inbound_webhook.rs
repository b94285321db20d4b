//! `PUT` and `DELETE /integrations/{integration_id}/inbound-webhook`: the secret the source tool
//! signs its webhooks to this integration with (or, for Personio, sends as its token). Setting
//! it makes the gateway accept the tool's webhooks at `/v1/webhooks/{tool}/{integration_id}`
//! and lowers the integration's polling to once a day (the store's `WEBHOOK_POLL_INTERVAL`);
//! removing it refuses them again and restores the usual schedule. The secret is sealed by the
//! store and never shown again.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, State};
use serde::Serialize;
use tributary_gateway::Success;
use tributary_model::ToolKind;
use tributary_store::{Integration, StoreError};

use crate::body::ObjectBody;
use crate::error::OpsError;
use crate::inputs;
use crate::state::OperatorState;

const EXAMPLE: &str = r#"{"secret": "the secret key entered in the tool's webhook settings"}"#;

#[derive(Debug, Serialize)]
pub struct InboundWebhook {
    pub integration_id: String,
    pub tool: ToolKind,
    /// Whether the gateway takes this integration's webhooks.
    pub active: bool,
    /// Where the tool sends them, below the gateway's base URL.
    pub path: String,
}

fn view(integration: &Integration, active: bool) -> InboundWebhook {
    InboundWebhook {
        integration_id: integration.id.clone(),
        tool: integration.tool,
        active,
        path: format!("/v1/webhooks/{}/{}", integration.tool.as_str(), integration.id),
    }
}

pub async fn set(
    State(state): State<OperatorState>,
    path: Result<Path<String>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Success<InboundWebhook>, OpsError> {
    let Path(id) = path?;
    let mut body = ObjectBody::parse(&body?, &["secret"], EXAMPLE)?;
    let integration = load(&state, &id).await?;
    let secret = inputs::inbound_secret(&body.string("secret")?)?;
    state
        .store
        .set_inbound_webhook_secret(&id, Some(&secret))
        .await
        .map_err(|e| not_found_as(e, &id))?;
    tracing::info!(integration_id = %id, "operator set an integration's inbound webhook secret");
    Ok(Success::new(view(&integration, true)))
}

pub async fn remove(
    State(state): State<OperatorState>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Success<InboundWebhook>, OpsError> {
    let Path(id) = path?;
    let integration = load(&state, &id).await?;
    state
        .store
        .set_inbound_webhook_secret(&id, None)
        .await
        .map_err(|e| not_found_as(e, &id))?;
    tracing::info!(integration_id = %id, "operator removed an integration's inbound webhook secret");
    Ok(Success::new(view(&integration, false)))
}

async fn load(state: &OperatorState, id: &str) -> Result<Integration, OpsError> {
    inputs::path_id("integration", id)?;
    state
        .store
        .get_integration(id)
        .await?
        .ok_or_else(|| OpsError::IntegrationNotFound(id.to_owned()))
}

/// The integration went away between the lookup and the write.
fn not_found_as(error: StoreError, id: &str) -> OpsError {
    match error {
        StoreError::NotFound(_) => OpsError::IntegrationNotFound(id.to_owned()),
        other => other.into(),
    }
}
