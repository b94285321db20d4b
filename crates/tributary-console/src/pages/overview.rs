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
    failures: Vec<RunRow>,
    /// The runs search that lists them all.
    failures_query: String,
}

/// How many of the last day's failures the overview shows; the link lists them all.
const FAILURES_SHOWN: u32 = 20;

/// The runs search for failures of the last 24 hours.
fn failures_query() -> String {
    let since = (chrono::Utc::now() - chrono::TimeDelta::hours(24)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    for state in ["FAILED", "PARTIALLY_FAILED", "AUTHENTICATION_FAILED"] {
        query.append_pair("state", state);
    }
    query.append_pair("started_after", &since);
    query.finish()
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
    let failures_query = failures_query();
    let failures = ops::search_runs(&state.ops, format!("{failures_query}&limit={FAILURES_SHOWN}"))
        .await?
        .results;
    Ok(render(&Overview {
        failures: failures.iter().map(RunRow::from).collect(),
        failures_query,
        backend,
        store,
        queues,
        truncated: open.truncated,
        runs,
    }))
}
