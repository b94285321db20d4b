//! How a run looks to an operator: the mirror's row joined with what the coordinator knows
//! about it (the integration's lease holder, whether a job for it waits in a queue), and the
//! run that preempted it.

use std::collections::HashMap;

use serde::Serialize;
use tributary_engine::Checkpoint;
use tributary_model::{PauseReason, RunCounts, RunState, SyncType, Timestamp};
use tributary_store::SyncRun;

use crate::error::OpsError;
use crate::state::OperatorState;

#[derive(Debug, Clone, Serialize)]
pub struct RunView {
    pub id: String,
    pub integration_id: String,
    pub sync_type: SyncType,
    pub state: RunState,
    /// The worker process that last started (or resumed) the run.
    pub worker_id: Option<String>,
    /// Who holds the integration's lease now (`<worker id>/<run id>`), whichever run it is for.
    pub lease_holder: Option<String>,
    /// A job for the run waits in a queue (its queued marker stands).
    pub job_queued: bool,
    pub created_at: Timestamp,
    /// The first start; kept across pauses.
    pub started_at: Option<Timestamp>,
    pub ended_at: Option<Timestamp>,
    /// From the first start to the end, pauses included; `null` until the run ends.
    pub duration_seconds: Option<f64>,
    pub counts: RunCounts,
    /// The index, in the connector's sync order, of the stream the run resumes at.
    pub checkpoint_stream: Option<usize>,
    pub attempts: i32,
    pub error: Option<String>,
    pub pause_reason: Option<PauseReason>,
    pub preempted_by: Option<Preempter>,
    pub resume_at: Option<Timestamp>,
}

/// The run (a DELTA) a PAUSED run waits for; `sync_type` and `state` are `null` when it no
/// longer exists.
#[derive(Debug, Clone, Serialize)]
pub struct Preempter {
    pub id: String,
    pub sync_type: Option<SyncType>,
    pub state: Option<RunState>,
}

/// Describes `runs`, asking the coordinator once for all their markers and lease holders.
/// Preempting runs are looked up among `known` first (usually the open runs already read),
/// then in the mirror.
pub async fn describe(state: &OperatorState, runs: Vec<SyncRun>, known: &[SyncRun]) -> Result<Vec<RunView>, OpsError> {
    if runs.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<String> = runs.iter().map(|r| r.id.clone()).collect();
    let queued = state.coordinator.queued(&ids).await?;

    let mut integrations: Vec<String> = runs.iter().map(|r| r.integration_id.clone()).collect();
    integrations.sort();
    integrations.dedup();
    let holders = state.coordinator.holders(&integrations).await?;
    let holders: HashMap<String, Option<String>> = integrations.into_iter().zip(holders).collect();

    let mut preempters: HashMap<String, Option<(SyncType, RunState)>> = HashMap::new();
    for id in runs.iter().filter_map(|r| r.preempted_by.as_ref()) {
        if preempters.contains_key(id) {
            continue;
        }
        let found = match known.iter().chain(&runs).find(|r| r.id == *id) {
            Some(run) => Some((run.sync_type, run.state)),
            None => state.store.get_run(id).await?.map(|run| (run.sync_type, run.state)),
        };
        preempters.insert(id.clone(), found);
    }

    Ok(runs
        .into_iter()
        .zip(queued)
        .map(|(run, job_queued)| {
            let lease_holder = holders.get(&run.integration_id).cloned().flatten();
            let preempted_by = run.preempted_by.as_ref().map(|id| {
                let found = preempters.get(id).copied().flatten();
                Preempter {
                    id: id.clone(),
                    sync_type: found.map(|(t, _)| t),
                    state: found.map(|(_, s)| s),
                }
            });
            view(run, lease_holder, job_queued, preempted_by)
        })
        .collect())
}

/// One run, as [`describe`] shows it.
pub async fn describe_one(state: &OperatorState, run: SyncRun) -> Result<RunView, OpsError> {
    let id = run.id.clone();
    describe(state, vec![run], &[])
        .await?
        .pop()
        .ok_or(OpsError::SyncNotFound(id))
}

fn view(run: SyncRun, lease_holder: Option<String>, job_queued: bool, preempted_by: Option<Preempter>) -> RunView {
    let duration_seconds = match (run.started_at, run.ended_at) {
        (Some(start), Some(end)) => Some((end - start).num_milliseconds() as f64 / 1000.0),
        _ => None,
    };
    // A checkpoint the engine cannot read shows no stream rather than a made-up one.
    let checkpoint_stream = run
        .checkpoint
        .as_ref()
        .and_then(|c| serde_json::from_value::<Checkpoint>(c.clone()).ok())
        .map(|c| c.stream);
    RunView {
        id: run.id,
        integration_id: run.integration_id,
        sync_type: run.sync_type,
        state: run.state,
        worker_id: run.worker_id,
        lease_holder,
        job_queued,
        created_at: run.created_at,
        started_at: run.started_at,
        ended_at: run.ended_at,
        duration_seconds,
        counts: run.counts,
        checkpoint_stream,
        attempts: run.attempts,
        error: run.error,
        pause_reason: run.pause_reason,
        preempted_by,
        resume_at: run.resume_at,
    }
}
