//! The HTTP surface of a process: the read API (`/v1`, with `POST /v1/force-sync` wired to the
//! fleet when there is one) and the operator surface (`/ops/v1` and the console at `/ops/`),
//! either on the one listener or, with `--ops-listen`, on a listener of its own.

use std::sync::Arc;

use axum::Router;
use tributary_gateway::GatewayState;
use tributary_operator::FleetTrigger;
use tributary_store::MirrorStore;

use crate::cli::{ApiLimitArgs, Global};
use crate::setup::{Fleet, cursor_key};

/// The public listener's router: the read API, plus the operator surface (and `metrics`,
/// `GET /metrics`, unauthenticated like `/health`) unless it has a listener of its own
/// (`ops_separate`), the operator routes only when a fleet is there to operate. `store` should
/// be the API's own (see `setup::open_api_store`).
pub fn router(
    global: &Global,
    store: Arc<dyn MirrorStore>,
    fleet: Option<&Fleet>,
    limits: &ApiLimitArgs,
    ops_separate: bool,
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
    // The operator surface goes beneath the gateway's layers, so its responses carry request
    // ids and its requests trace spans, like every other.
    let operator = match fleet {
        Some(_) | None if ops_separate => Router::new(),
        Some(fleet) => operator_routes(global, store, fleet).merge(metrics),
        None => metrics,
    };
    tributary_gateway::router_with(state, limits.options(), operator)
}

/// Everything operators reach, without layers: `/ops/v1` and the console under `/ops/`
/// (`/metrics` is merged beside it by the callers, so it follows the operator API onto
/// whichever listener serves it).
pub fn operator_routes(global: &Global, store: Arc<dyn MirrorStore>, fleet: &Fleet) -> Router {
    let ops = tributary_operator::OperatorState::new(
        store,
        fleet.queue.clone(),
        fleet.coordinator.clone(),
        global.admin_token.clone(),
    );
    // The console drives the API in-process with the same state: the same admin token and
    // the same budget of wrong ones.
    tributary_operator::router(ops.clone()).merge(tributary_console::router(ops))
}

/// The operator listener's router (`--ops-listen`): [`operator_routes`] and `metrics` beneath the
/// same layers as the public listener (request ids, traces, body limit, 404/405 in the
/// envelope), and no read API: an operator listener kept off the public Service keeps
/// `/metrics` off it too.
pub fn ops_router(
    global: &Global,
    store: Arc<dyn MirrorStore>,
    fleet: &Fleet,
    limits: &ApiLimitArgs,
    metrics: Router,
) -> Router {
    tributary_gateway::layered(operator_routes(global, store, fleet).merge(metrics), &limits.options())
}
