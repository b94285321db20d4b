//! `/ops/integrations`: every integration with its health (the operator API's
//! `GET /integrations/health`): state, last success, staleness, next due, last error.

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::response::Response;
use tributary_operator::routes::health::IntegrationHealth;

use crate::ConsoleState;
use crate::error::{ConsoleError, render};
use crate::forms::{list_query, value_of, with_cursor};
use crate::ops;
use crate::view::{at_opt, span};

pub(crate) struct HealthRow {
    pub id: String,
    pub tool: &'static str,
    pub environment: String,
    /// `healthy`, `stale`, `failing`, `paused` or `never_synced`.
    pub state: String,
    pub last_success: String,
    pub staleness: String,
    pub next_due: String,
    pub paused_schedules: String,
    pub last_error: String,
    pub last_error_run: String,
}

impl From<IntegrationHealth> for HealthRow {
    fn from(h: IntegrationHealth) -> Self {
        let state = serde_json::to_value(h.state)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let staleness = match (h.staleness_seconds, h.interval_seconds) {
            (Some(stale), Some(every)) => format!("{} (every {})", span(stale), span(every as i64)),
            (Some(stale), None) => span(stale),
            (None, _) => "—".to_owned(),
        };
        let (last_error, last_error_run) = match h.last_error {
            Some(e) => (
                format!(
                    "{} ({})",
                    e.message.unwrap_or_else(|| "no message".to_owned()),
                    at_opt(e.at.as_ref())
                ),
                e.run_id,
            ),
            None => (String::new(), String::new()),
        };
        HealthRow {
            id: h.integration_id,
            tool: h.tool.as_str(),
            environment: h.environment,
            state,
            last_success: at_opt(h.last_success_at.as_ref()),
            staleness,
            next_due: at_opt(h.next_due_at.as_ref()),
            paused_schedules: h
                .paused_schedules
                .iter()
                .map(|t| t.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            last_error,
            last_error_run,
        }
    }
}

#[derive(Template)]
#[template(path = "integrations.html")]
struct Integrations {
    rows: Vec<HealthRow>,
    state: String,
    next: Option<String>,
}

pub(crate) async fn list(State(state): State<ConsoleState>, RawQuery(raw): RawQuery) -> Result<Response, ConsoleError> {
    let query = list_query(raw.as_deref());
    let found = ops::health_list(&state.ops, query.clone()).await?;
    Ok(render(&Integrations {
        rows: found.results.into_iter().map(HealthRow::from).collect(),
        state: value_of(&query, "state"),
        next: found.next.map(|cursor| with_cursor(&query, &cursor)),
    }))
}
