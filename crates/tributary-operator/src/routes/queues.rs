//! `GET /queues`: what waits where, next to what the mirror says is open.

use axum::extract::State;
use serde::Serialize;
use tributary_model::{RunState, SyncType};

use crate::error::OpsError;
use crate::state::OperatorState;
use tributary_gateway::Success;

/// How many open runs are read to count them; beyond it the counts are marked truncated.
pub const OPEN_RUN_LIMIT: i64 = 10_000;

#[derive(Debug, Serialize)]
pub struct Queues {
    /// The queue backend: `redis` or `memory`.
    pub backend: &'static str,
    /// The mirror backend: `postgres` or `sqlite`.
    pub store: &'static str,
    pub queues: Vec<Queue>,
    /// Open runs of every type.
    pub open_runs: OpenRuns,
    /// More than `OPEN_RUN_LIMIT` runs are open; the counts cover the oldest of them.
    pub open_runs_truncated: bool,
}

#[derive(Debug, Serialize)]
pub struct Queue {
    pub sync_type: SyncType,
    pub queue: String,
    pub pending: u64,
    pub scheduled: u64,
    pub running: u64,
    /// Open runs of this type.
    pub open_runs: OpenRuns,
}

#[derive(Debug, Default, Clone, Copy, Serialize)]
pub struct OpenRuns {
    pub queued: u64,
    pub running: u64,
    pub paused: u64,
}

impl OpenRuns {
    fn count(&mut self, state: RunState) {
        match state {
            RunState::Queued => self.queued += 1,
            RunState::Running => self.running += 1,
            RunState::Paused => self.paused += 1,
            _ => {}
        }
    }
}

pub async fn show(State(state): State<OperatorState>) -> Result<Success<Queues>, OpsError> {
    let depths = state.queue.depths().await?;
    let runs = state.store.list_open_runs(OPEN_RUN_LIMIT).await?;
    let mut total = OpenRuns::default();
    for run in &runs {
        total.count(run.state);
    }
    let queues = depths
        .into_iter()
        .map(|depth| {
            let mut open_runs = OpenRuns::default();
            for run in runs.iter().filter(|r| r.sync_type == depth.sync_type) {
                open_runs.count(run.state);
            }
            Queue {
                sync_type: depth.sync_type,
                queue: depth.queue,
                pending: depth.pending,
                scheduled: depth.scheduled,
                running: depth.running,
                open_runs,
            }
        })
        .collect();
    Ok(Success::new(Queues {
        backend: state.queue.backend(),
        store: state.store.backend(),
        queues,
        open_runs: total,
        open_runs_truncated: runs.len() as i64 >= OPEN_RUN_LIMIT,
    }))
}
