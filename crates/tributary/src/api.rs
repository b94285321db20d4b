//! The HTTP surface of a process: the read API (`/v1`, with `POST /v1/force-sync` wired to the
//! fleet when there is one) and the operator API (`/ops/v1`).

use std::sync::Arc;

use async_trait::async_trait;
use axum::Router;
use tributary_gateway::{ForcedSync, GatewayState, SyncTrigger, TriggerError};
use tributary_model::SyncType;
use tributary_queue::{Coordinator, JobQueue};
use tributary_scheduler::SchedulerError;
use tributary_store::{MirrorStore, StoreError};

use crate::cli::{ApiLimitArgs, Global};
use crate::commands::cursor_key;
use crate::fleet::Fleet;

/// Kombo's force-sync, done the way the scheduler queues a run.
struct FleetTrigger {
    store: Arc<dyn MirrorStore>,
    queue: Arc<dyn JobQueue>,
    coordinator: Arc<dyn Coordinator>,
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
            SchedulerError::Store(StoreError::NotFound(_)) => TriggerError::IntegrationNotFound(integration_id.to_owned()),
            other => TriggerError::Unavailable(other.to_string()),
        })?;
        Ok(ForcedSync {
            sync_id: triggered.run.id,
            sync_type: triggered.run.sync_type,
            already_queued: triggered.already_queued,
        })
    }
}

/// The read API, plus the operator API when a fleet is there to operate.
pub fn router(global: &Global, store: Arc<dyn MirrorStore>, fleet: Option<&Fleet>, limits: &ApiLimitArgs) -> Router {
    let mut state = GatewayState::new(store.clone(), cursor_key(global));
    if let Some(fleet) = fleet {
        state = state.with_sync_trigger(Arc::new(FleetTrigger {
            store: store.clone(),
            queue: fleet.queue.clone(),
            coordinator: fleet.coordinator.clone(),
        }));
    }
    let app = tributary_gateway::router_with_options(state, limits.options());
    match fleet {
        Some(fleet) => app.merge(tributary_operator::router(tributary_operator::OperatorState::new(
            store,
            fleet.queue.clone(),
            fleet.coordinator.clone(),
            global.admin_token.clone(),
        ))),
        None => app,
    }
}
