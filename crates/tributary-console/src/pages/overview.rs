//! `/ops/`: the queues, the open runs (live over SSE), and what failed lately.

use std::collections::HashMap;

use askama::Template;
use axum::extract::State;
use axum::response::Response;
use tributary_model::{RunState, SyncType};

use crate::ConsoleState;
use crate::error::{ConsoleError, render};
use crate::ops;
use crate::view::{RunRow, age};

struct QueueRow {
    sync_type: &'static str,
    queue: String,
    pending: u64,
    scheduled: u64,
    running: u64,
    queued_runs: u64,
    running_runs: u64,
    paused_runs: u64,
    /// The age of the oldest QUEUED run of this type.
    oldest: String,
}

#[derive(Template)]
#[template(path = "overview.html")]
struct Overview {
    backend: &'static str,
    store: &'static str,
    queues: Vec<QueueRow>,
    truncated: bool,
    runs: Vec<RunRow>,
}

pub(crate) async fn show(State(state): State<ConsoleState>) -> Result<Response, ConsoleError> {
    let queues = ops::queues(&state.ops).await?;
    let open = ops::open_syncs(&state.ops).await?;
    // Open runs come oldest first, so the first queued one of a type is its oldest.
    let mut oldest: HashMap<SyncType, String> = HashMap::new();
    for run in open.results.iter().filter(|r| r.state == RunState::Queued) {
        oldest.entry(run.sync_type).or_insert_with(|| age(&run.created_at));
    }
    let (backend, store) = (queues.backend, queues.store);
    let queues = queues
        .queues
        .into_iter()
        .map(|q| QueueRow {
            sync_type: q.sync_type.as_str(),
            queue: q.queue,
            pending: q.pending,
            scheduled: q.scheduled,
            running: q.running,
            queued_runs: q.open_runs.queued,
            running_runs: q.open_runs.running,
            paused_runs: q.open_runs.paused,
            oldest: oldest.remove(&q.sync_type).unwrap_or_else(|| "—".to_owned()),
        })
        .collect();
    let runs = open
        .results
        .iter()
        .filter(|r| matches!(r.state, RunState::Running | RunState::Paused))
        .map(RunRow::from)
        .collect();
    Ok(render(&Overview {
        backend,
        store,
        queues,
        truncated: open.truncated,
        runs,
    }))
}
