//! The operator API's handlers, called in-process. Each takes the extractors the router would
//! have built; what they answer is the API's data (or its error), so the console can never
//! drift from `/ops/v1`.

use axum::body::Bytes;
use axum::extract::{Path, Query, RawQuery, State};
use axum::response::Response;
use serde_json::{Value, json};
use tributary_operator::OpsError;
use tributary_operator::routes::api_keys::Keys;
use tributary_operator::routes::health::{HealthList, IntegrationHealth};
use tributary_operator::routes::integration_setup::IntegrationView;
use tributary_operator::routes::integrations::{RecentSyncs, Triggered};
use tributary_operator::routes::queues::Queues;
use tributary_operator::routes::retry::Retried;
use tributary_operator::routes::runs::Runs;
use tributary_operator::routes::schedules::Schedules;
use tributary_operator::routes::syncs::OpenSyncs;
use tributary_operator::routes::webhooks::{Deliveries, Endpoints, Redelivered};
use tributary_operator::routes::{
    api_keys, control, health, integration_setup, integrations, queues, retry, runs, schedules, syncs, webhooks,
};
use tributary_operator::{OperatorState, RunView};

use crate::error::ConsoleError;

type Result<T> = std::result::Result<T, ConsoleError>;

/// A query the API parses itself, built from JSON so its checks run as for a URL's.
fn query<T: serde::de::DeserializeOwned>(value: Value) -> Result<Query<T>> {
    serde_json::from_value(value)
        .map(Query)
        .map_err(|e| ConsoleError::Form(e.to_string()))
}

/// The `data` of a handler that answers a whole response (202/201 ones).
async fn data(response: Response) -> Result<Value> {
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .map_err(|e| ConsoleError::Form(format!("unreadable answer: {e}")))?;
    let mut envelope: Value = serde_json::from_slice(&bytes).map_err(|e| ConsoleError::Form(e.to_string()))?;
    Ok(envelope["data"].take())
}

pub(crate) async fn queues(state: &OperatorState) -> Result<Queues> {
    Ok(queues::show(State(state.clone())).await?.into_data())
}

pub(crate) async fn open_syncs(state: &OperatorState) -> Result<OpenSyncs> {
    Ok(syncs::list(State(state.clone()), Ok(query(json!({}))?))
        .await?
        .into_data())
}

pub(crate) async fn run(state: &OperatorState, id: &str) -> Result<RunView> {
    Ok(syncs::show(State(state.clone()), Ok(Path(id.to_owned())))
        .await?
        .into_data())
}

pub(crate) async fn integration(state: &OperatorState, id: &str) -> Result<IntegrationView> {
    Ok(integration_setup::show(State(state.clone()), Ok(Path(id.to_owned())))
        .await?
        .into_data())
}

pub(crate) async fn recent_runs(state: &OperatorState, id: &str, limit: u32) -> Result<RecentSyncs> {
    Ok(integrations::recent(
        State(state.clone()),
        Ok(Path(id.to_owned())),
        Ok(query(json!({ "limit": limit.to_string() }))?),
    )
    .await?
    .into_data())
}

pub(crate) async fn schedules(state: &OperatorState, id: &str) -> Result<Schedules> {
    Ok(schedules::list(State(state.clone()), Ok(Path(id.to_owned())))
        .await?
        .into_data())
}

pub(crate) async fn trigger(state: &OperatorState, id: &str, sync_type: &str) -> Result<Triggered> {
    let body = if sync_type.is_empty() {
        Bytes::new()
    } else {
        Bytes::from(json!({ "sync_type": sync_type }).to_string())
    };
    Ok(
        integrations::trigger(State(state.clone()), Ok(Path(id.to_owned())), Ok(body))
            .await?
            .into_data(),
    )
}

/// Pause, resume or cancel: what the API answered, as its `data`.
pub(crate) async fn control(state: &OperatorState, id: &str, action: &str) -> Result<Value> {
    let path = Ok(Path(id.to_owned()));
    let state = State(state.clone());
    let response = match action {
        "pause" => control::pause(state, path).await?,
        "resume" => control::resume(state, path).await?,
        "cancel" => control::cancel(state, path).await?,
        other => return Err(OpsError::invalid(format!("no action `{other}` on a sync")).into()),
    };
    data(response).await
}

pub(crate) async fn endpoints(state: &OperatorState) -> Result<Endpoints> {
    Ok(webhooks::list_endpoints(State(state.clone()), Ok(query(json!({}))?))
        .await?
        .into_data())
}

/// Deliveries newest first, of one state (`pending`, `delivered`, `dead`) or all.
pub(crate) async fn deliveries(state: &OperatorState, delivery_state: Option<&str>, limit: i64) -> Result<Deliveries> {
    let filter = match delivery_state {
        Some(s) => json!({ "state": s, "limit": limit }),
        None => json!({ "limit": limit }),
    };
    Ok(webhooks::list_deliveries(State(state.clone()), Ok(query(filter)?))
        .await?
        .into_data())
}

pub(crate) async fn redeliver(state: &OperatorState, id: &str) -> Result<Redelivered> {
    Ok(webhooks::redeliver(State(state.clone()), Ok(Path(id.to_owned())))
        .await?
        .into_data())
}

/// A new API key: the API's answer, with the key shown this once.
pub(crate) async fn create_key(state: &OperatorState, environment: &str, label: &str) -> Result<Value> {
    let body = Bytes::from(json!({ "environment": environment, "label": label }).to_string());
    data(api_keys::create(State(state.clone()), Ok(body)).await?).await
}

pub(crate) async fn revoke_key(state: &OperatorState, id: &str) -> Result<()> {
    api_keys::revoke(State(state.clone()), Ok(Path(id.to_owned()))).await?;
    Ok(())
}

/// Runs of every integration, newest first: `query` is `GET /ops/v1/runs`'s query string
/// (filters, `limit`, `cursor`).
pub(crate) async fn search_runs(state: &OperatorState, query: String) -> Result<Runs> {
    Ok(runs::search(State(state.clone()), RawQuery(Some(query)))
        .await?
        .into_data())
}

/// Integrations with their health: `query` is `GET /ops/v1/integrations/health`'s.
pub(crate) async fn health_list(state: &OperatorState, query: String) -> Result<HealthList> {
    Ok(health::list(State(state.clone()), RawQuery(Some(query)))
        .await?
        .into_data())
}

pub(crate) async fn health(state: &OperatorState, id: &str) -> Result<IntegrationHealth> {
    Ok(health::show(State(state.clone()), Ok(Path(id.to_owned())))
        .await?
        .into_data())
}

/// Pauses (`true`) or resumes a schedule.
pub(crate) async fn pause_schedule(state: &OperatorState, id: &str, sync_type: &str, paused: bool) -> Result<()> {
    let path = Ok(Path((id.to_owned(), sync_type.to_owned())));
    if paused {
        schedules::pause(State(state.clone()), path).await?;
    } else {
        schedules::resume(State(state.clone()), path).await?;
    }
    Ok(())
}

pub(crate) async fn retry(state: &OperatorState, id: &str) -> Result<Retried> {
    Ok(retry::retry(State(state.clone()), Ok(Path(id.to_owned())))
        .await?
        .into_data())
}

/// API keys (never the keys themselves): `query` is `GET /ops/v1/api-keys`'s.
pub(crate) async fn keys(state: &OperatorState, query: String) -> Result<Keys> {
    Ok(api_keys::list(State(state.clone()), RawQuery(Some(query)))
        .await?
        .into_data())
}
