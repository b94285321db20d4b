//! `POST /syncs/{sync_id}/retry`: a failed run is tried again as a new run of its type.
//!
//! A new run, not the old one requeued: an ended run never reopens (reopening could make a
//! second open run of the pair, invariant I5) and has announced its end in the outbox already
//! (`sync-finished`, I7), so consumers never see one run end twice. The new run goes through
//! the scheduler's `trigger`, like any manual sync: if a run of that integration and type is
//! open already, that one is returned (`already_queued`) rather than a second one queued. The
//! failed run's committed pages stay in the mirror; a FULL retry reads everything again, which
//! its deletion sweep needs anyway.
//!
//! Retried: FAILED, PARTIALLY_FAILED and AUTHENTICATION_FAILED runs (after fixing the
//! credentials, say). Not a CANCELLED run: someone or something stopped it on purpose, and
//! starting it again is a new decision (`POST /integrations/{id}/syncs`). Open or succeeded
//! runs: 409.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use serde::Serialize;
use tributary_model::RunState;
use tributary_scheduler::SchedulerError;
use tributary_store::StoreError;

use crate::error::OpsError;
use crate::routes::syncs::load;
use crate::state::OperatorState;
use crate::view::{RunView, describe_one};
use tributary_gateway::Success;

#[derive(Debug, Serialize)]
pub struct Retried {
    /// The failed run.
    pub retry_of: String,
    /// An open run of that integration and type existed and is returned instead of a new one.
    pub already_queued: bool,
    /// The run that retries it.
    pub sync: RunView,
}

fn retryable(state: RunState) -> bool {
    matches!(
        state,
        RunState::Failed | RunState::PartiallyFailed | RunState::AuthenticationFailed
    )
}

pub async fn retry(
    State(state): State<OperatorState>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Success<Retried>, OpsError> {
    let Path(id) = path?;
    let failed = load(&state, &id).await?;
    if !retryable(failed.state) {
        return Err(OpsError::Conflict(format!(
            "only a FAILED, PARTIALLY_FAILED or AUTHENTICATION_FAILED sync can be retried; sync `{id}` is {}{}.",
            failed.state.as_str(),
            if failed.state == RunState::Cancelled {
                " (trigger a new sync instead)"
            } else {
                ""
            }
        )));
    }
    let triggered = tributary_scheduler::trigger(
        state.store.as_ref(),
        state.queue.as_ref(),
        state.coordinator.as_ref(),
        &failed.integration_id,
        Some(failed.sync_type),
    )
    .await
    .map_err(|e| match e {
        // The integration went away since the run failed.
        SchedulerError::Store(StoreError::NotFound(_)) => OpsError::IntegrationNotFound(failed.integration_id.clone()),
        other => other.into(),
    })?;
    tracing::info!(
        sync_id = %id,
        retry = %triggered.run.id,
        already_queued = triggered.already_queued,
        "operator retried a failed sync"
    );
    Ok(Success::new(Retried {
        retry_of: id,
        already_queued: triggered.already_queued,
        sync: describe_one(&state, triggered.run).await?,
    }))
}
