//! `GET /syncs` (open runs) and `GET /syncs/{sync_id}` (one run, any state).

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use serde::Serialize;

use crate::error::OpsError;
use crate::inputs;
use crate::params::SyncsQuery;
use crate::routes::queues::OPEN_RUN_LIMIT;
use crate::state::OperatorState;
use crate::view::{RunView, describe, describe_one};
use tributary_gateway::Success;

#[derive(Debug, Serialize)]
pub struct OpenSyncs {
    /// Oldest first.
    pub results: Vec<RunView>,
    /// More runs are open than were read.
    pub truncated: bool,
}

pub async fn list(
    State(state): State<OperatorState>,
    query: Result<Query<SyncsQuery>, QueryRejection>,
) -> Result<Success<OpenSyncs>, OpsError> {
    let Query(query) = query?;
    let wanted = query.state()?;
    let open = state.store.list_open_runs(OPEN_RUN_LIMIT).await?;
    let truncated = open.len() as i64 >= OPEN_RUN_LIMIT;
    let runs = open
        .iter()
        .filter(|r| wanted.is_none_or(|s| r.state == s))
        .cloned()
        .collect();
    let results = describe(&state, runs, &open).await?;
    Ok(Success::new(OpenSyncs { results, truncated }))
}

pub async fn show(
    State(state): State<OperatorState>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Success<RunView>, OpsError> {
    let Path(id) = path?;
    let run = load(&state, &id).await?;
    Ok(Success::new(describe_one(&state, run).await?))
}

/// The run, or `PLATFORM.SYNC_NOT_FOUND`.
pub async fn load(state: &OperatorState, id: &str) -> Result<tributary_store::SyncRun, OpsError> {
    inputs::path_id("sync", id)?;
    state
        .store
        .get_run(id)
        .await?
        .ok_or_else(|| OpsError::SyncNotFound(id.to_owned()))
}
