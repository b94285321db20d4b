//! tributary-operator: the operator API, for people and scripts that run a tributary
//! deployment. [`router`] serves it below `/ops/v1`; the caller merges it into the gateway's
//! router. JSON only, every request behind `Authorization: Bearer <admin token>`
//! (`TRIBUTARY_ADMIN_TOKEN`; with none configured every request gets 403), every error in the
//! gateway's envelope (`{"status":"error","error":{"code","title","message","log_url"}}`),
//! every success as `{"status":"success","data":...}`. Bodies are read as JSON whatever their
//! Content-Type; unknown fields in them are refused.
//!
//! Admin (what `tributary integration` and `tributary api-key` do, over HTTP):
//!
//! - `POST /ops/v1/integrations`, body `{"id": "personio:acme", "tool":
//!   "personio"|"greenhouse"|"bamboohr", "environment", "base_url", "credentials": {...},
//!   "scope_config": {...}}` (scope config optional, checked as for `PUT …/scope-config`): 201 with the integration; its schedules
//!   are created due at once, so the scheduler queues its first sync at its next tick. The
//!   credentials must have the shape the tool's connector needs; they are sealed by the store
//!   and never returned. 409 when the id exists.
//! - `GET /ops/v1/integrations?environment=...`: every integration (of that environment), by id,
//!   as `{"results": [...]}`: `id`, `tool`, `environment`, `base_url`, `scope_config`,
//!   `created_at`.
//! - `GET /ops/v1/integrations/{integration_id}`: one, in the same shape.
//! - `PUT /ops/v1/integrations/{integration_id}/scope-config`, body a scope config in Kombo's
//!   `read_models` shape: replaces it, moves the integration's scope version and queues a
//!   complete sync that applies it (an open complete run restarts its pass under it). Every
//!   model and field it names must be the tool's, and `{}` is no reset: 400 naming them.
//! - `PUT /ops/v1/integrations/{integration_id}/source`, body `{"base_url", "credentials"}`: a
//!   new API root and credentials; the mirror stays.
//! - `POST /ops/v1/api-keys`, body `{"environment", "label"}`: 201 with the key (`trb_...`),
//!   shown only here; the store keeps its hash.
//! - `GET /ops/v1/api-keys?limit=&cursor=`: keys newest first, revoked ones too, never the key
//!   or its hash; `next` is the following page's cursor.
//! - `DELETE /ops/v1/api-keys/{api_key_id}`: revokes it (again: still 200).
//! - `PUT /ops/v1/integrations/{integration_id}/inbound-webhook`, body `{"secret"}`: the secret
//!   the tool signs its webhooks with (encrypted); polling drops to every 24 h. `DELETE` stops.
//! - `POST /ops/v1/webhooks/endpoints`, body `{"environment", "url", "secret"?, "event_types"?}`:
//!   201 with the signing secret (generated unless given), shown only here.
//!   `GET /ops/v1/webhooks/endpoints?environment=`, `DELETE /ops/v1/webhooks/endpoints/{id}`.
//! - `GET /ops/v1/webhooks/deliveries?environment=&endpoint_id=&integration_id=&state=pending|delivered|dead&limit=50`:
//!   deliveries, newest first; `GET /ops/v1/webhooks/deliveries/{id}`: one with every attempt
//!   (status, latency, response excerpt, error); `POST …/{id}/redeliver`: sent again, same
//!   event id.
//!
//! Operations:
//!
//! - `GET /ops/v1/queues`: the queue backend, and per sync type the queue's name, its
//!   pending, scheduled and running jobs and the open runs by state; open runs in total.
//! - `GET /ops/v1/syncs?state=running|queued|paused`: open runs (all of them by default), each
//!   with its worker, its integration's lease holder, whether a job for it is queued, progress
//!   counts, checkpoint stream, attempts, error and, while PAUSED, why, by whom, until when.
//! - `GET /ops/v1/syncs/{sync_id}`: one run in the same shape, in any state.
//! - `GET /ops/v1/integrations/{integration_id}/syncs?limit=20`: the integration's recent
//!   runs, newest first (`limit` 1 to 200).
//! - `POST /ops/v1/integrations/{integration_id}/syncs`, optional body
//!   `{"sync_type": "FULL"|"DELTA"|"DEFAULT"}`: queues a sync now (or returns the open one,
//!   `already_queued: true`); without a type the engine picks it.
//! - `GET /ops/v1/integrations/{integration_id}/schedules`: per sync type, the interval
//!   (default, override, webhook polling), when it is next due and who claimed it last.
//! - `PUT /ops/v1/integrations/{integration_id}/schedules/{sync_type}`, body
//!   `{"every_seconds": N}` (at least 60) or `{"every_seconds": null}` (back to the default):
//!   a per-integration interval.
//! - `POST /ops/v1/syncs/{sync_id}/pause`: RUNNING → its worker is asked (202); QUEUED, or
//!   PAUSED for another reason (it would resume on its own) → PAUSED for OPERATOR (200);
//!   already held by an operator → nothing to do (200); ended → 409.
//! - `POST /ops/v1/syncs/{sync_id}/resume`: PAUSED → ready to run and pushed to its queue
//!   (200); any other state → 409.
//! - `POST /ops/v1/syncs/{sync_id}/cancel`: RUNNING → its worker is asked (202); QUEUED or
//!   PAUSED → CANCELLED (200); ended → 409.
//! - `POST /ops/v1/syncs/{sync_id}/retry`: a FAILED, PARTIALLY_FAILED or AUTHENTICATION_FAILED
//!   run → a new run of its type, queued (`routes/retry.rs` says why a new one); others → 409.
//! - `GET /ops/v1/runs?state=&sync_type=&tool=&integration_id=&started_after=&started_before=&limit=&cursor=`:
//!   runs of every integration, newest first, keyset-paginated (`routes/runs.rs`).
//! - `GET /ops/v1/integrations/health?tool=&state=&limit=&cursor=` and
//!   `GET /ops/v1/integrations/{integration_id}/health`: healthy, stale, failing, paused or
//!   never synced, with the facts behind it (`routes/health.rs` defines them).
//! - `POST /ops/v1/integrations/{integration_id}/schedules/{sync_type}/pause` and `/resume`:
//!   the scheduler skips a paused schedule; a resume keeps its due time.
//! - `GET /ops/v1/openapi.json`: the OpenAPI 3.1 document of all of the above.
//!
//! Codes: `PLATFORM.AUTHENTICATION_INVALID` (401, or 403 when disabled),
//! `PLATFORM.INPUT_INVALID` (400), `PLATFORM.INTEGRATION_NOT_FOUND`, `PLATFORM.SYNC_NOT_FOUND`
//! `PLATFORM.API_KEY_NOT_FOUND`, `PLATFORM.WEBHOOK_ENDPOINT_NOT_FOUND` and
//! `PLATFORM.WEBHOOK_DELIVERY_NOT_FOUND` (404), `PLATFORM.SYNC_CONFLICT` and
//! `PLATFORM.INTEGRATION_ALREADY_EXISTS` (409), `PLATFORM.RATE_LIMIT_EXCEEDED` (429, too many
//! wrong admin tokens from one client), `PLATFORM.UNKNOWN_ERROR` (500, or 503 when the database
//! does not answer).
//!
//! The mirror's runs are the source of truth and are always read from it; the coordinator
//! only adds what it knows (lease holders, queued markers) and carries signals to workers.

mod auth;
mod body;
mod cursor;
mod error;
mod fleet_trigger;
mod inputs;
mod list_query;
mod params;
/// The handlers, public so that the console (`tributary-console`) calls the very code the
/// API runs rather than a copy of it.
pub mod routes;
mod state;
mod view;

use axum::Router;

pub use auth::{client_of, client_of_extensions};
pub use error::OpsError;
pub use fleet_trigger::FleetTrigger;
/// The scope config checks of `PUT …/scope-config`, shared with `tributary integration scope`.
pub use inputs::{credentials as check_credentials, tool_scope_config};
pub use routes::control::CANCEL_REASON;
pub use routes::openapi::OPENAPI;
pub use state::OperatorState;
pub use view::{Preempter, RunView};

/// The operator API below `/ops/v1`, with its state applied, ready to merge into another
/// router. It has no fallback of its own (the gateway's answers unknown paths).
pub fn router(state: OperatorState) -> Router {
    let api = routes::v1().route_layer(axum::middleware::from_fn_with_state(state.clone(), auth::require_admin));
    Router::new().nest("/ops/v1", api).with_state(state)
}

/// Every operation of [`router`] as `(method, path)`, the path below `/ops/v1` in axum's
/// syntax (`/syncs/{sync_id}`): what the OpenAPI document must describe.
pub fn operations() -> Vec<(axum::http::Method, &'static str)> {
    routes::operations()
}
