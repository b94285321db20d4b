//! What the engine records about runs and pages (names and labels: `tributary-metrics`).

use std::time::Duration;

use tributary_metrics::catalogue::{
    PREEMPTION_LATENCY, PREEMPTIONS, SYNC_PAGE_DURATION, SYNC_RECORDS, SYNC_RUN_DURATION, SYNC_RUNS,
};
use tributary_model::{SyncType, Timestamp, ToolKind};
use tributary_store::WriteOutcome;

/// One execution ended in `state`: the state the run was left in, or `INTERRUPTED` when the
/// execution itself failed (lease lost, database unreachable) and the run stays open.
pub(crate) fn run_ended(tool: ToolKind, sync_type: SyncType, state: &'static str, took: Duration) {
    let labels = [
        ("tool", tool.as_str()),
        ("sync_type", sync_type.as_str()),
        ("state", state),
    ];
    metrics::counter!(SYNC_RUNS, &labels).increment(1);
    metrics::histogram!(SYNC_RUN_DURATION, &labels).record(took.as_secs_f64());
}

pub(crate) fn page_written(tool: ToolKind, out: &WriteOutcome, took: Duration) {
    metrics::histogram!(SYNC_PAGE_DURATION, "tool" => tool.as_str(), "stage" => "write").record(took.as_secs_f64());
    records(tool, out);
}

pub(crate) fn page_fetched(tool: ToolKind, took: Duration) {
    metrics::histogram!(SYNC_PAGE_DURATION, "tool" => tool.as_str(), "stage" => "fetch").record(took.as_secs_f64());
}

/// What a page, a sweep or a model disabled by scope did, by model and change.
pub(crate) fn records(tool: ToolKind, out: &WriteOutcome) {
    for (model, counts) in &out.by_model {
        for (change, n) in [
            ("created", counts.created),
            ("updated", counts.updated),
            ("deleted", counts.deleted),
            ("unchanged", counts.unchanged),
        ] {
            if n > 0 {
                metrics::counter!(SYNC_RECORDS, "tool" => tool.as_str(), "model" => model.as_str(), "change" => change)
                    .increment(n as u64);
            }
        }
    }
}

/// A FULL paused for a DELTA queued at `due` (unknown when its run could not be read).
pub(crate) fn preempted(tool: ToolKind, due: Option<Timestamp>) {
    metrics::counter!(PREEMPTIONS, "tool" => tool.as_str()).increment(1);
    if let Some(due) = due {
        let latency = (chrono::Utc::now() - due).to_std().unwrap_or_default();
        metrics::histogram!(PREEMPTION_LATENCY, "tool" => tool.as_str()).record(latency.as_secs_f64());
    }
}
