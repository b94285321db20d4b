//! Pause, resume and cancel. A RUNNING run belongs to its worker, so it is only *asked*
//! (a signal the worker acts on at its next page boundary: 202); a QUEUED or PAUSED run nobody
//! executes is changed in the mirror directly (200). Each change is conditional on the state
//! the store finds, so a run that moves between our read and our write (a worker starts it,
//! it ends) is read again and handled in its new state.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use tributary_model::{PauseReason, RunState};
use tributary_queue::{RunSignal, dispatch, stranded};
use tributary_store::SyncRun;

use crate::error::OpsError;
use crate::routes::syncs::load;
use crate::state::OperatorState;
use crate::view::{RunView, describe_one};
use tributary_gateway::Success;

/// How often an action reads the run again after losing a race with a state change.
const ATTEMPTS: usize = 3;

/// The reason stored on runs an operator cancels.
pub const CANCEL_REASON: &str = "cancelled by an operator";

/// 202: the run's worker was asked.
#[derive(Debug, Serialize)]
struct Requested {
    requested: RunSignal,
    sync: RunView,
}

/// 200: the mirror was changed (or nothing needed changing).
#[derive(Debug, Serialize)]
struct Applied {
    changed: bool,
    sync: RunView,
}

async fn requested(state: &OperatorState, run: SyncRun, signal: RunSignal) -> Result<Response, OpsError> {
    state.coordinator.send_signal(&run.id, signal).await?;
    tracing::info!(sync_id = %run.id, signal = signal.as_str(), "operator signalled a running sync");
    let sync = describe_one(state, run).await?;
    // 202: the worker acts on it at the run's next page boundary.
    Ok((
        StatusCode::ACCEPTED,
        Success::new(Requested {
            requested: signal,
            sync,
        }),
    )
        .into_response())
}

async fn applied(state: &OperatorState, id: &str, changed: bool) -> Result<Response, OpsError> {
    let run = load(state, id).await?;
    let sync = describe_one(state, run).await?;
    Ok(Success::new(Applied { changed, sync }).into_response())
}

fn ended(run: &SyncRun) -> OpsError {
    OpsError::Conflict(format!("sync `{}` has already ended ({}).", run.id, run.state.as_str()))
}

fn raced(id: &str) -> OpsError {
    OpsError::Conflict(format!("sync `{id}` kept changing state; try again."))
}

pub async fn pause(
    State(state): State<OperatorState>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, OpsError> {
    let Path(id) = path?;
    for _ in 0..ATTEMPTS {
        let run = load(&state, &id).await?;
        match run.state {
            RunState::Running => return requested(&state, run, RunSignal::Pause).await,
            RunState::Queued | RunState::Paused => {
                if state.store.pause_idle_run(&id).await? {
                    // Its job may still sit in a queue; the worker that takes it skips an
                    // operator-paused run, and a resume pushes a new one.
                    state.coordinator.unmark_queued(&id).await?;
                    tracing::info!(sync_id = %id, "operator paused a sync that was not running");
                    return applied(&state, &id, true).await;
                }
                if run.state == RunState::Paused && run.pause_reason == Some(PauseReason::Operator) {
                    return applied(&state, &id, false).await;
                }
            }
            _ => return Err(ended(&run)),
        }
    }
    Err(raced(&id))
}

pub async fn resume(
    State(state): State<OperatorState>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, OpsError> {
    let Path(id) = path?;
    for _ in 0..ATTEMPTS {
        let run = load(&state, &id).await?;
        if run.state != RunState::Paused {
            return Err(OpsError::Conflict(format!(
                "only a PAUSED sync can be resumed; sync `{id}` is {}.",
                run.state.as_str()
            )));
        }
        if state.store.resume_paused_run(&id).await? {
            // Push it now rather than wait for the scheduler's next reconcile; `stranded`
            // leaves it alone if a job or a lease holder already covers it.
            let run = load(&state, &id).await?;
            let to_push = stranded(state.coordinator.as_ref(), vec![run]).await?;
            let pushed = dispatch(state.queue.as_ref(), state.coordinator.as_ref(), &to_push).await?;
            tracing::info!(sync_id = %id, pushed, "operator resumed a sync");
            return applied(&state, &id, true).await;
        }
    }
    Err(raced(&id))
}

pub async fn cancel(
    State(state): State<OperatorState>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, OpsError> {
    let Path(id) = path?;
    for _ in 0..ATTEMPTS {
        let run = load(&state, &id).await?;
        match run.state {
            RunState::Running => return requested(&state, run, RunSignal::Cancel).await,
            RunState::Queued | RunState::Paused => {
                if state.store.cancel_idle_run(&id, CANCEL_REASON).await? {
                    state.coordinator.unmark_queued(&id).await?;
                    tracing::info!(sync_id = %id, "operator cancelled an idle sync");
                    return applied(&state, &id, true).await;
                }
            }
            _ => return Err(ended(&run)),
        }
    }
    Err(raced(&id))
}
