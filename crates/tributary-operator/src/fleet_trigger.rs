//! Kombo's `POST /v1/force-sync` reaching the fleet: the read API's [`SyncTrigger`] done with
//! the scheduler's `trigger`, exactly as the operator API's manual syncs are.

use std::sync::Arc;

use async_trait::async_trait;
use tributary_gateway::{ForcedSync, SyncTrigger, TriggerError};
use tributary_model::SyncType;
use tributary_queue::{Coordinator, JobQueue};
use tributary_scheduler::SchedulerError;
use tributary_store::{SchedulerStore, StoreError};

pub struct FleetTrigger {
    pub store: Arc<dyn SchedulerStore>,
    pub queue: Arc<dyn JobQueue>,
    pub coordinator: Arc<dyn Coordinator>,
}

#[async_trait]
impl SyncTrigger for FleetTrigger {
    async fn force_sync(&self, integration_id: &str, sync_type: SyncType) -> Result<ForcedSync, TriggerError> {
        let triggered = tributary_scheduler::trigger(
            self.store.as_ref(),
            self.queue.as_ref(),
            self.coordinator.as_ref(),
            integration_id,
            Some(sync_type),
        )
        .await
        .map_err(|e| match e {
            SchedulerError::Store(StoreError::NotFound(_)) => {
                TriggerError::IntegrationNotFound(integration_id.to_owned())
            }
            other => TriggerError::Unavailable(other.to_string()),
        })?;
        Ok(ForcedSync {
            sync_id: triggered.run.id,
            sync_type: triggered.run.sync_type,
            already_queued: triggered.already_queued,
        })
    }
}
