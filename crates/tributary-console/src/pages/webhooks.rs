//! `/ops/webhooks`: the endpoints, the latest deliveries, the dead letters, and redelivery.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use tributary_store::{DeliveryState, WebhookDelivery};

use crate::ConsoleState;
use crate::error::{ConsoleError, render};
use crate::ops;
use crate::pages::Notice;
use crate::view::{at, at_opt};

/// Deliveries shown per list: the operator API's default page.
const SHOWN: i64 = 50;

struct EndpointRow {
    id: String,
    environment: String,
    url: String,
    event_types: String,
    created_at: String,
}

struct DeliveryRow {
    id: String,
    event_id: String,
    endpoint_id: String,
    integration_id: String,
    event_type: String,
    state: &'static str,
    attempts: i32,
    last: String,
    next_attempt_at: String,
    created_at: String,
    delivered_at: String,
    redeliverable: bool,
}

impl From<WebhookDelivery> for DeliveryRow {
    fn from(d: WebhookDelivery) -> Self {
        let last = match (d.last_status, d.last_error) {
            (Some(status), Some(error)) => format!("HTTP {status}: {error}"),
            (Some(status), None) => format!("HTTP {status}"),
            (None, Some(error)) => error,
            (None, None) => "—".to_owned(),
        };
        DeliveryRow {
            state: match d.state {
                DeliveryState::Pending => "pending",
                DeliveryState::Delivered => "delivered",
                DeliveryState::Dead => "dead",
            },
            // A pending delivery is already on its way.
            redeliverable: d.state != DeliveryState::Pending,
            id: d.id,
            event_id: d.event_id,
            endpoint_id: d.endpoint_id,
            integration_id: d.integration_id.unwrap_or_default(),
            event_type: d.event_type,
            attempts: d.attempts,
            last,
            next_attempt_at: at(&d.next_attempt_at),
            created_at: at(&d.created_at),
            delivered_at: at_opt(d.delivered_at.as_ref()),
        }
    }
}

#[derive(Template)]
#[template(path = "webhooks.html")]
struct WebhooksPage {
    notice: Option<&'static str>,
    endpoints: Vec<EndpointRow>,
    dead: Vec<DeliveryRow>,
    recent: Vec<DeliveryRow>,
}

pub(crate) async fn show(
    State(state): State<ConsoleState>,
    Query(notice): Query<Notice>,
) -> Result<Response, ConsoleError> {
    let endpoints = ops::endpoints(&state.ops)
        .await?
        .results
        .into_iter()
        .map(|e| EndpointRow {
            id: e.id,
            environment: e.environment,
            url: e.url,
            event_types: if e.event_types.is_empty() {
                "all".to_owned()
            } else {
                e.event_types.join(", ")
            },
            created_at: at(&e.created_at),
        })
        .collect();
    let dead = ops::deliveries(&state.ops, Some("dead"), SHOWN).await?.results;
    let recent = ops::deliveries(&state.ops, None, SHOWN).await?.results;
    Ok(render(&WebhooksPage {
        notice: notice.text(),
        endpoints,
        dead: dead.into_iter().map(DeliveryRow::from).collect(),
        recent: recent.into_iter().map(DeliveryRow::from).collect(),
    }))
}

pub(crate) async fn redeliver(
    State(state): State<ConsoleState>,
    Path(id): Path<String>,
) -> Result<Response, ConsoleError> {
    ops::redeliver(&state.ops, &id).await?;
    Ok(Redirect::to("/ops/webhooks?done=redelivered").into_response())
}
