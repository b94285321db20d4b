//! `GET /integrations/{id}/schedules`, `PUT /integrations/{id}/schedules/{sync_type}` and
//! `POST …/{sync_type}/pause|resume`: when each sync type is next due, an operator's
//! per-integration interval, and holding a schedule. A paused schedule is not claimed by the
//! scheduler; its due time stays, so resuming makes it due at its normal time (or at once,
//! claimed once, when that passed during the pause). Manual triggers still queue runs.

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tributary_gateway::Success;
use tributary_model::SyncType;
use tributary_store::SyncSchedule;

use crate::error::OpsError;
use crate::inputs;
use crate::state::OperatorState;

#[derive(Debug, Serialize)]
pub struct ScheduleView {
    pub sync_type: SyncType,
    /// The interval the next claim moves `next_due_at` forward by, in seconds.
    pub every_seconds: u64,
    pub default_every_seconds: u64,
    pub override_every_seconds: Option<u64>,
    /// Polling drops to once a day while the integration's inbound webhooks are active.
    pub webhooks_active: bool,
    pub next_due_at: tributary_model::Timestamp,
    pub last_claimed_at: Option<tributary_model::Timestamp>,
    pub claimed_by: Option<String>,
    /// An operator paused it: the scheduler does not claim it until it is resumed.
    pub paused: bool,
    pub paused_at: Option<tributary_model::Timestamp>,
}

impl From<SyncSchedule> for ScheduleView {
    fn from(s: SyncSchedule) -> Self {
        Self {
            sync_type: s.sync_type,
            every_seconds: s.every.as_secs(),
            default_every_seconds: s.default_every.as_secs(),
            override_every_seconds: s.override_every.map(|d| d.as_secs()),
            webhooks_active: s.webhooks_active,
            next_due_at: s.next_due_at,
            last_claimed_at: s.last_claimed_at,
            claimed_by: s.claimed_by,
            paused: s.paused_at.is_some(),
            paused_at: s.paused_at,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct Schedules {
    pub integration_id: String,
    pub results: Vec<ScheduleView>,
}

async fn schedules_of(state: &OperatorState, integration_id: String) -> Result<Schedules, OpsError> {
    inputs::path_id("integration", &integration_id)?;
    if state.store.get_integration(&integration_id).await?.is_none() {
        return Err(OpsError::IntegrationNotFound(integration_id));
    }
    let results = state
        .store
        .list_schedules(&integration_id)
        .await?
        .into_iter()
        .map(ScheduleView::from)
        .collect();
    Ok(Schedules {
        integration_id,
        results,
    })
}

pub async fn list(
    State(state): State<OperatorState>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Success<Schedules>, OpsError> {
    let Path(integration_id) = path?;
    Ok(Success::new(schedules_of(&state, integration_id).await?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OverrideBody {
    /// Seconds, at least 60; `null` returns to the default.
    every_seconds: Option<u64>,
}

/// The shortest interval an operator may set: more often than once a minute would only queue
/// syncs behind the one still running.
const MIN_EVERY: Duration = Duration::from_secs(60);

pub async fn set(
    State(state): State<OperatorState>,
    path: Result<Path<(String, String)>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Success<Schedules>, OpsError> {
    let Path((integration_id, sync_type)) = path?;
    let sync_type = path_sync_type(&sync_type)?;
    let invalid = |detail: String| {
        OpsError::invalid(format!(
            "The body must be a JSON object like {{\"every_seconds\": 3600}} (or null for the default): {detail}."
        ))
    };
    let value: Value = serde_json::from_slice(&body?).map_err(|e| invalid(e.to_string()))?;
    if !value.is_object() {
        return Err(invalid(format!("got {value}")));
    }
    let body: OverrideBody = serde_json::from_value(value).map_err(|e| invalid(e.to_string()))?;
    let every = body.every_seconds.map(Duration::from_secs);
    if every.is_some_and(|e| e < MIN_EVERY) {
        return Err(OpsError::invalid(format!(
            "`every_seconds` must be at least {}.",
            MIN_EVERY.as_secs()
        )));
    }
    has_schedule(&state, &integration_id, sync_type).await?;
    state
        .store
        .set_schedule_interval(&integration_id, sync_type, every)
        .await?;
    tracing::info!(integration_id, sync_type = sync_type.as_str(), every_seconds = ?body.every_seconds, "operator set a schedule interval");
    Ok(Success::new(schedules_of(&state, integration_id).await?))
}

fn path_sync_type(text: &str) -> Result<SyncType, OpsError> {
    SyncType::parse(&text.trim().to_ascii_uppercase()).ok_or_else(|| {
        OpsError::invalid(format!(
            "The sync type must be `FULL`, `DELTA` or `DEFAULT`, got `{text}`."
        ))
    })
}

/// 404 for an unknown integration, 400 for a sync type its tool does not take.
async fn has_schedule(state: &OperatorState, integration_id: &str, sync_type: SyncType) -> Result<(), OpsError> {
    let current = schedules_of(state, integration_id.to_owned()).await?;
    if !current.results.iter().any(|s| s.sync_type == sync_type) {
        return Err(OpsError::invalid(format!(
            "{integration_id} has no {} schedule (its tool does not take that sync type).",
            sync_type.as_str()
        )));
    }
    Ok(())
}

#[derive(Debug, Serialize)]
pub struct ScheduleChange {
    /// `false` when the schedule already was paused (or running).
    pub changed: bool,
    #[serde(flatten)]
    pub schedules: Schedules,
}

async fn set_paused(
    state: OperatorState,
    path: Result<Path<(String, String)>, PathRejection>,
    pause: bool,
) -> Result<Success<ScheduleChange>, OpsError> {
    let Path((integration_id, sync_type)) = path?;
    let sync_type = path_sync_type(&sync_type)?;
    has_schedule(&state, &integration_id, sync_type).await?;
    let changed = if pause {
        state.store.pause_schedule(&integration_id, sync_type).await?
    } else {
        state.store.resume_schedule(&integration_id, sync_type).await?
    };
    tracing::info!(
        integration_id,
        sync_type = sync_type.as_str(),
        pause,
        changed,
        "operator paused or resumed a schedule"
    );
    Ok(Success::new(ScheduleChange {
        changed,
        schedules: schedules_of(&state, integration_id).await?,
    }))
}

pub async fn pause(
    State(state): State<OperatorState>,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<Success<ScheduleChange>, OpsError> {
    set_paused(state, path, true).await
}

pub async fn resume(
    State(state): State<OperatorState>,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<Success<ScheduleChange>, OpsError> {
    set_paused(state, path, false).await
}
