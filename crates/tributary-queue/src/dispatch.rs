//! Putting open runs on their queues, exactly once each, from anywhere: the scheduler after a
//! claim or a reconcile, a worker handing its integration on, an operator's trigger.

use std::time::Duration;

use tributary_model::{PauseReason, RunState, SyncType};
use tributary_store::SyncRun;

use crate::{Coordinator, JobQueue, QueueError, SyncJob};

/// Whether an open run waits for a worker (rather than for an operator, or running).
pub fn wants_worker(run: &SyncRun) -> bool {
    match run.state {
        RunState::Queued => true,
        RunState::Paused => run.pause_reason != Some(PauseReason::Operator),
        RunState::Running => true,
        _ => false,
    }
}

/// Enqueues each run that has no queued marker yet, marking it first so that concurrent
/// dispatchers (two scheduler replicas, a worker and the scheduler) push it once. A run
/// paused for a retry is pushed with the delay left until its `resume_at`. Returns how many
/// jobs were pushed.
///
/// Callers make sure no one holds the run's lease (a held lease means a worker has it); a
/// duplicate push is harmless anyway: the worker that takes it finds the run ended or leased.
pub async fn dispatch(
    queue: &dyn JobQueue,
    coordinator: &dyn Coordinator,
    runs: &[SyncRun],
) -> Result<usize, QueueError> {
    let now = chrono::Utc::now();
    let runs: Vec<&SyncRun> = runs.iter().filter(|r| wants_worker(r)).collect();
    let ids: Vec<String> = runs.iter().map(|r| r.id.clone()).collect();
    let marked = coordinator.mark_queued_many(&ids).await?;
    let mut immediate = Vec::new();
    let mut pushed = 0;
    for run in runs.into_iter().zip(marked).filter(|(_, m)| *m).map(|(r, _)| r) {
        let delay = run
            .resume_at
            .filter(|_| run.pause_reason == Some(PauseReason::Retry))
            .and_then(|at| (at - now).to_std().ok())
            .filter(|d| *d > Duration::from_millis(500));
        match delay {
            Some(d) => {
                if let Err(e) = queue.push(vec![SyncJob::for_run(run)], Some(d)).await {
                    unmark_after_failed_push(coordinator, &run.id).await;
                    return Err(e);
                }
                pushed += 1;
            }
            None => immediate.push(run),
        }
    }
    if immediate.is_empty() {
        return Ok(pushed);
    }
    let jobs = immediate.iter().map(|r| SyncJob::for_run(r)).collect();
    if let Err(e) = queue.push(jobs, None).await {
        // Unmark so the next reconcile pushes them; the error goes to the caller.
        for run in &immediate {
            unmark_after_failed_push(coordinator, &run.id).await;
        }
        return Err(e);
    }
    Ok(pushed + immediate.len())
}

/// Takes a failed push's marker back. Failing that too (Redis is away), the marker expires on
/// its own; the caller hears about the push, which is what failed.
async fn unmark_after_failed_push(coordinator: &dyn Coordinator, run_id: &str) {
    if let Err(e) = coordinator.unmark_queued(run_id).await {
        tracing::warn!(run_id, error = %e, "could not take back the queued marker of a failed push");
    }
}

/// The open runs among `runs` that nobody is working on and that no one will hand on: no
/// queued marker, and either no lease holder on their integration or (for a DELTA) a holder
/// that is another run, which the DELTA must reach a worker to preempt. A FULL or DEFAULT
/// waiting behind another run's lease is not stranded: that run's worker enqueues it when it
/// releases the lease. What the scheduler re-enqueues after a Redis flush, a worker's death,
/// or a job lost any other way.
pub async fn stranded(coordinator: &dyn Coordinator, runs: Vec<SyncRun>) -> Result<Vec<SyncRun>, QueueError> {
    let runs: Vec<SyncRun> = runs.into_iter().filter(wants_worker).collect();
    let ids: Vec<String> = runs.iter().map(|r| r.id.clone()).collect();
    let queued = coordinator.queued(&ids).await?;
    let runs: Vec<SyncRun> = runs
        .into_iter()
        .zip(queued)
        .filter(|(_, q)| !q)
        .map(|(r, _)| r)
        .collect();
    let integrations: Vec<String> = runs.iter().map(|r| r.integration_id.clone()).collect();
    let holders = coordinator.holders(&integrations).await?;
    Ok(runs
        .into_iter()
        .zip(holders)
        .filter(|(run, holder)| match holder.as_deref().map(held_by_run) {
            None => true,
            Some(holder_run) if holder_run == run.id => false,
            Some(_) => run.sync_type == SyncType::Delta,
        })
        .map(|(r, _)| r)
        .collect())
}

/// The run id in a lease owner `<worker id>/<run id>` (see `Lease::owner`).
fn held_by_run(owner: &str) -> &str {
    owner.rsplit_once('/').map_or(owner, |(_, run)| run)
}
