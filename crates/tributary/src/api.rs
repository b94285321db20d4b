//! The HTTP surface of a process: the read API (`/v1`, with `POST /v1/force-sync` wired to the
//! fleet when there is one) and the operator API (`/ops/v1`).

use std::sync::Arc;

use axum::Router;
use tributary_gateway::GatewayState;
use tributary_operator::FleetTrigger;
use tributary_store::MirrorStore;

use crate::cli::{ApiLimitArgs, Global};
use crate::setup::{Fleet, cursor_key};

/// The read API, plus the operator API when a fleet is there to operate, plus `metrics`
/// (`GET /metrics`, unauthenticated like `/health`). `store` should be the API's own (see
/// `setup::open_api_store`).
pub fn router(
    global: &Global,
    store: Arc<dyn MirrorStore>,
    fleet: Option<&Fleet>,
    limits: &ApiLimitArgs,
    metrics: Router,
) -> Router {
    let mut state = GatewayState::new(store.clone(), cursor_key(global));
    if let Some(fleet) = fleet {
        state = state.with_sync_trigger(Arc::new(FleetTrigger {
            store: store.clone(),
            queue: fleet.queue.clone(),
            coordinator: fleet.coordinator.clone(),
        }));
    }
    // The operator API goes beneath the gateway's layers, so its responses carry request ids
    // and its requests trace spans, like every other.
    let operator = match fleet {
        Some(fleet) => tributary_operator::router(tributary_operator::OperatorState::new(
            store,
            fleet.queue.clone(),
            fleet.coordinator.clone(),
            global.admin_token.clone(),
        )),
        None => Router::new(),
    };
    tributary_gateway::router_with(state, limits.options(), operator.merge(metrics))
}
