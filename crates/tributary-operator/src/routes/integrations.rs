//! `GET /integrations/{id}/syncs` (recent runs) and `POST /integrations/{id}/syncs` (a manual
//! sync, through the scheduler's `trigger`).

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use serde::Serialize;
use tributary_model::{RunState, SyncType};
use tributary_scheduler::SchedulerError;
use tributary_store::StoreError;

use crate::error::OpsError;
use crate::inputs;
use crate::params::{RecentQuery, trigger_sync_type};
use crate::state::OperatorState;
use crate::view::{RunView, describe};
use tributary_gateway::Success;

#[derive(Debug, Serialize)]
pub struct RecentSyncs {
    pub integration_id: String,
    /// Newest first.
    pub results: Vec<RunView>,
}

pub async fn recent(
    State(state): State<OperatorState>,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<RecentQuery>, QueryRejection>,
) -> Result<Success<RecentSyncs>, OpsError> {
    let Path(integration_id) = path?;
    let Query(query) = query?;
    let limit = query.limit()?;
    inputs::path_id("integration", &integration_id)?;
    if state.store.get_integration(&integration_id).await?.is_none() {
        return Err(OpsError::IntegrationNotFound(integration_id));
    }
    let runs = state.store.list_runs(&integration_id, limit).await?;
    let results = describe(&state, runs, &[]).await?;
    Ok(Success::new(RecentSyncs {
        integration_id,
        results,
    }))
}

#[derive(Debug, Serialize)]
pub struct Triggered {
    pub sync_id: String,
    pub sync_type: SyncType,
    pub state: RunState,
    /// An open run of that integration and type existed and is returned instead of a new one.
    pub already_queued: bool,
}

pub async fn trigger(
    State(state): State<OperatorState>,
    path: Result<Path<String>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Success<Triggered>, OpsError> {
    let Path(integration_id) = path?;
    inputs::path_id("integration", &integration_id)?;
    let sync_type = trigger_sync_type(&body?)?;
    let triggered = tributary_scheduler::trigger(
        state.store.as_ref(),
        state.queue.as_ref(),
        state.coordinator.as_ref(),
        &integration_id,
        sync_type,
    )
    .await
    .map_err(|e| match e {
        // The only NotFound `trigger` returns is for the integration (checked first).
        SchedulerError::Store(StoreError::NotFound(_)) => OpsError::IntegrationNotFound(integration_id.clone()),
        other => other.into(),
    })?;
    tracing::info!(
        %integration_id,
        sync_id = %triggered.run.id,
        sync_type = triggered.run.sync_type.as_str(),
        already_queued = triggered.already_queued,
        "operator triggered a sync"
    );
    Ok(Success::new(Triggered {
        sync_id: triggered.run.id,
        sync_type: triggered.run.sync_type,
        state: triggered.run.state,
        already_queued: triggered.already_queued,
    }))
}
