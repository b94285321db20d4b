//! Manual syncs: an operator's trigger, and later Kombo's `POST /force-sync`.

use std::time::Duration;

use tributary_engine::{Schedule, sync_type_due};
use tributary_model::{RunState, SyncType};
use tributary_queue::{Coordinator, JobQueue, QueueError, dispatch};
use tributary_store::{SchedulerStore, StoreError, SyncRun};

use crate::SchedulerError;

/// What a trigger did.
#[derive(Debug, Clone, PartialEq)]
pub struct Triggered {
    pub run: SyncRun,
    /// A run of that integration and type was already queued or running: it is returned
    /// instead of a new one (invariant I5).
    pub already_queued: bool,
}

/// Queues a sync of `integration_id` now. Without a type, the engine's rule picks it (DEFAULT
/// for tools without deltas; FULL when no complete sync succeeded within the full interval,
/// DELTA otherwise).
///
/// The schedule is left as it was. (Making it due, as this once did to restart the cadence,
/// let the scheduler's claim create a second, unrequested run whenever the forced one had
/// ended before the scheduler's next tick.)
///
/// Once the run exists in the mirror, the answer is that run, whatever Redis does: a push
/// that fails is tried again once on the reconnected connection (a restarted Redis breaks the
/// pooled connection, and only its first command fails), and a push that fails twice is left
/// to the scheduler's reconcile, which pushes every open run that has no job.
pub async fn trigger(
    store: &dyn SchedulerStore,
    queue: &dyn JobQueue,
    coordinator: &dyn Coordinator,
    integration_id: &str,
    sync_type: Option<SyncType>,
) -> Result<Triggered, SchedulerError> {
    let integration = store
        .get_integration(integration_id)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("integration {integration_id}")))?;
    let sync_type = match sync_type {
        Some(t) => t,
        None => sync_type_due(store, &integration, &Schedule::default()).await?,
    };
    if integration.tool.supports_delta() == (sync_type == SyncType::Default) {
        return Err(StoreError::Invalid(format!(
            "{} does not take {} syncs",
            integration.tool,
            sync_type.as_str()
        ))
        .into());
    }
    let (mut run, created) = store.enqueue_run(integration_id, sync_type).await?;
    // A new run joins the trace of whoever asked for it (the force-sync request's span); an
    // open run found instead stays in its own.
    if created && let Some(traceparent) = tributary_telemetry::propagation::traceparent(&tracing::Span::current()) {
        store.trace_run(&run.id, &traceparent).await?;
        run.trace_context = Some(traceparent);
    }
    // Pushed unless a job for it is queued already (its marker). Not only when the integration
    // is free: a DELTA must reach a worker to preempt a running FULL, and a FULL pushed while
    // another run holds the lease just steps aside until that run hands the integration on.
    if run.state != RunState::Running
        && let Err(e) = push(queue, coordinator, &run).await
    {
        tracing::warn!(
            integration_id,
            run_id = %run.id,
            error = %e,
            "the run is queued in the mirror but its job could not be pushed; the scheduler's reconcile pushes it"
        );
    }
    Ok(Triggered {
        run,
        already_queued: !created,
    })
}

/// How long a failed push waits before its one retry: time for the Redis connection manager to
/// notice the broken connection and reconnect.
const PUSH_RETRY_AFTER: Duration = Duration::from_millis(250);

/// Pushes the run's job; once more after [`PUSH_RETRY_AFTER`] if Redis failed it.
async fn push(queue: &dyn JobQueue, coordinator: &dyn Coordinator, run: &SyncRun) -> Result<(), QueueError> {
    match dispatch(queue, coordinator, std::slice::from_ref(run)).await {
        Ok(_) => Ok(()),
        Err(e) if e.is_redis() => {
            tracing::info!(run_id = %run.id, error = %e, "pushing the run's job failed; trying once more");
            tokio::time::sleep(PUSH_RETRY_AFTER).await;
            // A marker the failed attempt may have left would make the retry push nothing. Should
            // it be another dispatcher's, the run is pushed twice, which is harmless: the worker
            // drops the job for a run that is executing or ended.
            coordinator.unmark_queued(&run.id).await?;
            dispatch(queue, coordinator, std::slice::from_ref(run))
                .await
                .map(|_| ())
        }
        Err(e) => Err(e),
    }
}
