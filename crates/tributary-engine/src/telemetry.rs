//! What the engine records about runs and pages (names and labels: `tributary-metrics`).

use std::time::Duration;

use tributary_metrics::catalogue::{
    PREEMPTION_LATENCY, PREEMPTIONS, SYNC_PAGE_DURATION, SYNC_RECORDS, SYNC_RUN_DURATION, SYNC_RUNS,
};
use tributary_model::{Model, SyncType, Timestamp, ToolKind};
use tributary_store::{PreparedRecord, WriteOutcome};

use crate::{EngineError, RunOutcome};

/// One execution ended: by the state the run was left in, or `INTERRUPTED` when the
/// execution itself failed (lease lost, database unreachable) and the run stays open.
pub(crate) fn run_ended(tool: ToolKind, sync_type: SyncType, result: &Result<RunOutcome, EngineError>, took: Duration) {
    let state = match result {
        Ok(outcome) => outcome.run.state.as_str(),
        Err(_) => "INTERRUPTED",
    };
    let labels = [
        ("tool", tool.as_str()),
        ("sync_type", sync_type.as_str()),
        ("state", state),
    ];
    metrics::counter!(SYNC_RUNS, &labels).increment(1);
    metrics::histogram!(SYNC_RUN_DURATION, &labels).record(took.as_secs_f64());
}

/// The model of a page's records: one for every stream but those yielding several models
/// in one page, which count as `mixed` (the store's outcome does not split by model).
pub(crate) fn page_model(records: &[PreparedRecord]) -> Option<Model> {
    let first = records.first()?.model;
    records.iter().all(|r| r.model == first).then_some(first)
}

pub(crate) fn page_written(tool: ToolKind, model: Option<Model>, out: &WriteOutcome, took: Duration) {
    metrics::histogram!(SYNC_PAGE_DURATION, "tool" => tool.as_str(), "stage" => "write").record(took.as_secs_f64());
    let model = model.map_or("mixed", Model::as_str);
    for (change, n) in [
        ("created", out.created),
        ("updated", out.updated),
        ("deleted", out.deleted),
        ("unchanged", out.unchanged),
    ] {
        if n > 0 {
            metrics::counter!(SYNC_RECORDS, "tool" => tool.as_str(), "model" => model, "change" => change)
                .increment(n as u64);
        }
    }
}

pub(crate) fn page_fetched(tool: ToolKind, took: Duration) {
    metrics::histogram!(SYNC_PAGE_DURATION, "tool" => tool.as_str(), "stage" => "fetch").record(took.as_secs_f64());
}

/// Deletions by the sweep or by a model disabled by scope, by model when only one changed.
pub(crate) fn records_deleted(tool: ToolKind, out: &WriteOutcome) {
    if out.deleted <= 0 {
        return;
    }
    let model = match out.changed_models.as_slice() {
        [one] => one.as_str(),
        _ => "mixed",
    };
    metrics::counter!(SYNC_RECORDS, "tool" => tool.as_str(), "model" => model, "change" => "deleted")
        .increment(out.deleted as u64);
}

/// A FULL paused for a DELTA queued at `due` (unknown when its run could not be read).
pub(crate) fn preempted(tool: ToolKind, due: Option<Timestamp>) {
    metrics::counter!(PREEMPTIONS, "tool" => tool.as_str()).increment(1);
    if let Some(due) = due {
        let latency = (chrono::Utc::now() - due).to_std().unwrap_or_default();
        metrics::histogram!(PREEMPTION_LATENCY, "tool" => tool.as_str()).record(latency.as_secs_f64());
    }
}
