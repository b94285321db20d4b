//! `GET /v1/integrations/{integration_id}`, `DELETE /v1/integrations/{integration_id}` and
//! `POST /v1/force-sync`.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::http::header::HOST;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use tributary_model::{Model, RunState, ScopeSetting, SyncType};
use tributary_store::Integration;

use crate::auth::{Caller, IntegrationAccess};
use crate::error::ApiError;
use crate::response::Success;
use crate::schema::{Nested, shape};
use crate::scope_names::NOT_DATA_POINTS;
use crate::state::GatewayState;
use crate::sync::TriggerError;
use crate::wire::{optional_timestamp, timestamp};

/// The integration of `{integration_id}`, if the caller's environment owns it.
async fn owned(
    state: &GatewayState,
    caller: &Caller,
    path: Result<Path<String>, PathRejection>,
) -> Result<Integration, ApiError> {
    let Path(id) = path.map_err(|e| ApiError::invalid(format!("Invalid integration id: {}", e.body_text())))?;
    if id.contains('\0') || id.len() > 256 {
        return Err(ApiError::IntegrationNotFound(
            id.replace('\0', "\\0").chars().take(256).collect(),
        ));
    }
    match state.store.get_integration(&id).await? {
        Some(integration) if integration.environment == caller.0.environment => Ok(integration),
        _ => Err(ApiError::IntegrationNotFound(id)),
    }
}

#[derive(Debug, Serialize)]
pub struct IntegrationDetails {
    id: String,
    tool: Tool,
    category: &'static str,
    status: &'static str,
    setup_status: &'static str,
    end_user: EndUser,
    scope_config: ScopeConfigRef,
    data_expired_at: Value,
    created_at: String,
    beta: bool,
    read_models: Vec<ReadModel>,
    /// The mirror is read-only: no write actions.
    write_actions: Vec<Value>,
}

#[derive(Debug, Serialize)]
struct Tool {
    id: &'static str,
    label: &'static str,
    internal_label: Option<String>,
    logo_url: String,
    icon_url: String,
}

#[derive(Debug, Serialize)]
struct EndUser {
    organization_name: String,
    creator_email: Option<String>,
    origin_id: Option<String>,
}

#[derive(Debug, Serialize)]
struct ScopeConfigRef {
    /// A digest of the config: it changes exactly when the config does.
    id: String,
    name: Option<String>,
}

#[derive(Debug, Serialize)]
struct ReadModel {
    id: &'static str,
    label: &'static str,
    is_available: bool,
    coverage_status: &'static str,
    scope_config_setting: &'static str,
    opted_out_by_customer: bool,
    fields: Vec<ReadField>,
}

#[derive(Debug, Serialize)]
struct ReadField {
    id: String,
    is_available: bool,
    coverage_status: &'static str,
    scope_config_setting: &'static str,
    opted_out_by_customer: bool,
}

fn setting_label(setting: ScopeSetting) -> &'static str {
    match setting {
        ScopeSetting::Enabled => "ENABLED",
        ScopeSetting::Disabled => "DISABLED",
        ScopeSetting::Optional => "OPTIONAL",
    }
}

pub async fn details(
    State(state): State<GatewayState>,
    headers: HeaderMap,
    caller: Caller,
    path: Result<Path<String>, PathRejection>,
) -> Result<Success<IntegrationDetails>, ApiError> {
    let integration = owned(&state, &caller, path).await?;
    let runs = state.store.list_runs(&integration.id, 50).await?;
    // INVALID while the newest ended run was refused its credentials: syncs stop working until
    // they are replaced.
    let last_ended = runs.iter().find(|r| r.state.is_terminal());
    let status = match last_ended.map(|r| r.state) {
        Some(RunState::AuthenticationFailed) => "INVALID",
        _ => "ACTIVE",
    };
    let synced = runs
        .iter()
        .any(|r| r.state == RunState::Succeeded && r.sync_type.is_complete())
        || state.store.last_succeeded_run(&integration.id).await?.is_some();
    let setup_status = if synced { "COMPLETED" } else { "FINAL_SYNC_PENDING" };

    let scope = &integration.scope_config;
    let read_models = Model::ALL
        .iter()
        .filter(|model| model.category() == integration.tool.category())
        .map(|&model| {
            let entry = scope.read_models.iter().find(|m| m.id == model.scope_id());
            let (setting, opted_out) = entry.map_or((ScopeSetting::Enabled, false), |m| {
                (m.scope_config_setting, m.opted_out_by_customer)
            });
            let enabled = scope.model_enabled(model);
            let disabled_fields = scope.disabled_fields(model);
            let fields = shape(model)
                .fields
                .iter()
                .filter(|f| !NOT_DATA_POINTS.contains(&f.name.as_str()) && f.nested == Nested::Scalar)
                .map(|f| {
                    let field = entry.and_then(|m| m.fields.iter().find(|x| x.id == f.name));
                    let (setting, opted_out) = field.map_or((ScopeSetting::Enabled, false), |x| {
                        (x.scope_config_setting, x.opted_out_by_customer)
                    });
                    ReadField {
                        id: f.name.clone(),
                        is_available: enabled && !disabled_fields.contains(&f.name.as_str()),
                        coverage_status: "SUPPORTED",
                        scope_config_setting: setting_label(setting),
                        opted_out_by_customer: opted_out,
                    }
                })
                .collect();
            ReadModel {
                id: model.scope_id(),
                label: model.label(),
                is_available: enabled,
                coverage_status: "SUPPORTED",
                scope_config_setting: setting_label(setting),
                opted_out_by_customer: opted_out,
                fields,
            }
        })
        .collect();

    let scope_json = serde_json::to_vec(scope).unwrap_or_default();
    let scope_id = Sha256::digest(&scope_json)
        .iter()
        .take(12)
        .map(|b| format!("{b:02x}"))
        .collect::<String>();
    // Absolute URLs on this gateway, as seen by the caller (the schema wants `uri`s).
    let host = headers
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| h.chars().all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c)))
        .unwrap_or("localhost");
    let asset = |kind: &str| format!("http://{host}/v1/tools/{}/{kind}.svg", integration.tool.as_str());
    let organization_name = integration
        .id
        .split_once(':')
        .map_or(integration.id.as_str(), |(_, name)| name)
        .to_owned();

    Ok(Success::new(IntegrationDetails {
        id: integration.id.clone(),
        tool: Tool {
            id: integration.tool.as_str(),
            label: integration.tool.label(),
            internal_label: None,
            logo_url: asset("logo"),
            icon_url: asset("icon"),
        },
        category: integration.tool.category().label(),
        status,
        setup_status,
        end_user: EndUser {
            organization_name,
            creator_email: None,
            origin_id: None,
        },
        scope_config: ScopeConfigRef {
            id: scope_id,
            name: None,
        },
        data_expired_at: optional_timestamp(None),
        created_at: timestamp(&integration.created_at),
        beta: false,
        read_models,
        write_actions: Vec::new(),
    }))
}

/// Removes the integration with everything mirrored for it. A sync still running for it
/// stops at its next page: its writes find no integration to write to.
pub async fn delete(
    State(state): State<GatewayState>,
    caller: Caller,
    path: Result<Path<String>, PathRejection>,
) -> Result<Success<Map<String, Value>>, ApiError> {
    let integration = owned(&state, &caller, path).await?;
    if !state.store.delete_integration(&integration.id).await? {
        return Err(ApiError::IntegrationNotFound(integration.id));
    }
    tracing::info!(integration_id = %integration.id, "integration deleted through the API");
    Ok(Success::new(Map::new()))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ForceSyncBody {
    #[serde(rename = "type")]
    sync_type: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct ForceSyncData {
    already_queued: bool,
    sync_id: String,
    #[serde(rename = "type")]
    sync_type: &'static str,
}

pub async fn force_sync(
    State(state): State<GatewayState>,
    access: IntegrationAccess,
    body: Result<Bytes, BytesRejection>,
) -> Result<Success<ForceSyncData>, ApiError> {
    let body = body.map_err(|e| match e.status() {
        axum::http::StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge(state.body_limit),
        _ => ApiError::invalid(format!("Unreadable request body: {}", e.body_text())),
    })?;
    let invalid_body = |why: String| {
        ApiError::invalid(format!(
            "The body must be a JSON object like {{\"type\": \"FULL\"}} or {{\"type\": \"DELTA\"}}: {why}"
        ))
    };
    let request: ForceSyncBody = if body.iter().all(u8::is_ascii_whitespace) {
        ForceSyncBody::default()
    } else {
        // Parsed as a value first: serde would also read the struct from an array.
        match serde_json::from_slice::<Value>(&body).map_err(|e| invalid_body(e.to_string()))? {
            object @ Value::Object(_) => serde_json::from_value(object).map_err(|e| invalid_body(e.to_string()))?,
            other => return Err(invalid_body(format!("got {}", crate::wire::json_kind(&other)))),
        }
    };
    let wants_delta = match request.sync_type.as_deref() {
        None | Some("FULL") => false,
        Some("DELTA") => true,
        Some(other) => {
            return Err(ApiError::invalid(format!(
                "`type` must be `FULL` or `DELTA`, got `{other}`."
            )));
        }
    };
    let integration = &access.integration;
    // A tool without deltas gets its one complete sync type; the response says which ran.
    let sync_type = match (integration.tool.supports_delta(), wants_delta) {
        (false, _) => SyncType::Default,
        (true, true) => SyncType::Delta,
        (true, false) => SyncType::Full,
    };
    let trigger = state.sync.as_ref().ok_or_else(|| {
        ApiError::SyncUnavailable(
            "This gateway has no fleet to queue syncs on (start it with REDIS_URL, or use `tributary serve`).".into(),
        )
    })?;
    let forced = trigger
        .force_sync(&integration.id, sync_type)
        .await
        .map_err(|e| match e {
            TriggerError::IntegrationNotFound(id) => ApiError::IntegrationNotFound(id),
            TriggerError::Unavailable(why) => ApiError::SyncUnavailable(format!("The sync could not be queued: {why}")),
        })?;
    tracing::info!(
        integration_id = %integration.id,
        sync_id = %forced.sync_id,
        sync_type = forced.sync_type.as_str(),
        already_queued = forced.already_queued,
        "sync forced through the API"
    );
    Ok(Success::new(ForceSyncData {
        already_queued: forced.already_queued,
        sync_id: forced.sync_id,
        // Kombo knows FULL and DELTA; a DEFAULT sync is the complete kind.
        sync_type: if forced.sync_type == SyncType::Delta {
            "DELTA"
        } else {
            "FULL"
        },
    }))
}
