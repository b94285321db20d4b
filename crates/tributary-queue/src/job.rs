//! The one job type the queues carry.

use serde::{Deserialize, Serialize};
use tributary_model::SyncType;

/// "Execute this run": a pointer to a row of `sync_runs`, which holds everything else
/// (checkpoint, attempts, why it paused). Small on purpose: a stale or duplicated job is
/// recognised by reading the run, never trusted for its contents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncJob {
    pub run_id: String,
    pub integration_id: String,
    pub sync_type: SyncType,
    /// The run's W3C `traceparent` (see `SyncRun::trace_context`): the worker's job span is its
    /// child. Absent while traces are off, and in jobs queued before traces existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_context: Option<String>,
}

impl SyncJob {
    pub fn for_run(run: &tributary_store::SyncRun) -> Self {
        Self {
            run_id: run.id.clone(),
            integration_id: run.integration_id.clone(),
            sync_type: run.sync_type,
            trace_context: run.trace_context.clone(),
        }
    }
}

/// The queue of a sync type: `sync-full`, `sync-delta`, `sync-default`.
pub(crate) fn queue_suffix(sync_type: SyncType) -> &'static str {
    match sync_type {
        SyncType::Full => "sync-full",
        SyncType::Delta => "sync-delta",
        SyncType::Default => "sync-default",
    }
}

pub(crate) const ALL_TYPES: [SyncType; 3] = [SyncType::Delta, SyncType::Full, SyncType::Default];
