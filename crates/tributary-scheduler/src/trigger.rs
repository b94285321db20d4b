//! Manual syncs: an operator's trigger, and later Kombo's `POST /force-sync`.

use tributary_engine::{Schedule, pick_sync_type};
use tributary_model::{RunState, SyncType};
use tributary_queue::{Coordinator, JobQueue, dispatch};
use tributary_store::{MirrorStore, StoreError, SyncRun};

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
/// DELTA otherwise). The type's schedule is made due too, so the scheduler's next claim
/// restarts its cadence from now instead of syncing again soon after.
pub async fn trigger(
    store: &dyn MirrorStore,
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
        None => {
            let runs = store.list_runs(integration_id, 100).await?;
            let last_complete = runs
                .iter()
                .find(|r| r.state == RunState::Succeeded && r.sync_type.is_complete())
                .map(|r| r.started_at.unwrap_or(r.created_at));
            pick_sync_type(
                integration.tool,
                last_complete,
                chrono::Utc::now(),
                &Schedule::default(),
            )
        }
    };
    if integration.tool.supports_delta() == (sync_type == SyncType::Default) {
        return Err(StoreError::Invalid(format!(
            "{} does not take {} syncs",
            integration.tool,
            sync_type.as_str()
        ))
        .into());
    }
    let (run, created) = store.enqueue_run(integration_id, sync_type).await?;
    // Pushed unless a job for it is queued already (its marker). Not only when the integration
    // is free: a DELTA must reach a worker to preempt a running FULL, and a FULL pushed while
    // another run holds the lease just steps aside until that run hands the integration on.
    if run.state != RunState::Running {
        dispatch(queue, coordinator, std::slice::from_ref(&run)).await?;
    }
    if let Err(e) = store.force_sync(integration_id, sync_type, chrono::Utc::now()).await {
        // The run is queued; only the cadence is not restarted.
        tracing::warn!(integration_id, error = %e, "could not move the schedule forward");
    }
    Ok(Triggered {
        run,
        already_queued: !created,
    })
}
