//! How `POST /v1/force-sync` reaches the fleet. The gateway knows nothing of queues: whoever
//! assembles it (the `tributary` binary) hands it a [`SyncTrigger`] that queues a run the way
//! the scheduler does.

use async_trait::async_trait;
use tributary_model::SyncType;

/// A sync queued (or found queued) by a trigger.
#[derive(Debug, Clone, PartialEq)]
pub struct ForcedSync {
    pub sync_id: String,
    pub sync_type: SyncType,
    /// An open run of that integration and type existed and is returned instead of a new one.
    pub already_queued: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum TriggerError {
    #[error("integration {0} not found")]
    IntegrationNotFound(String),
    /// The queue or the mirror could not take the run; retrying later may help.
    #[error("the sync could not be queued: {0}")]
    Unavailable(String),
}

#[async_trait]
pub trait SyncTrigger: Send + Sync + 'static {
    /// Queues a sync of `integration_id` of `sync_type` now, or returns the open one.
    async fn force_sync(&self, integration_id: &str, sync_type: SyncType) -> Result<ForcedSync, TriggerError>;
}
