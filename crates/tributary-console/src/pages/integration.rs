//! `/ops/integrations/{id}`: its health, runs, schedules (paused and resumed here), scope and
//! inbound webhooks; a manual sync.

use askama::Template;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};

use crate::ConsoleState;
use crate::error::{ConsoleError, render};
use crate::forms::TriggerForm;
use crate::ops;
use crate::pages::Notice;
use crate::pages::integrations::HealthRow;
use crate::view::{RunRow, at, at_opt, or_dash, span};

/// Runs on the timeline: the operator API's recent runs, newest first.
const TIMELINE: u32 = 50;

struct ScheduleRow {
    sync_type: &'static str,
    paused: bool,
    every: String,
    source: &'static str,
    next_due: String,
    last_claimed: String,
    claimed_by: String,
}

#[derive(Template)]
#[template(path = "integration.html")]
struct IntegrationPage {
    notice: Option<&'static str>,
    id: String,
    tool: &'static str,
    environment: String,
    base_url: String,
    created_at: String,
    scope_config: String,
    sync_types: Vec<&'static str>,
    schedules: Vec<ScheduleRow>,
    webhooks_active: bool,
    webhook_path: String,
    health: HealthRow,
    runs: Vec<RunRow>,
}

pub(crate) async fn show(
    State(state): State<ConsoleState>,
    Path(id): Path<String>,
    Query(notice): Query<Notice>,
) -> Result<Response, ConsoleError> {
    let integration = ops::integration(&state.ops, &id).await?;
    let schedules = ops::schedules(&state.ops, &id).await?.results;
    let runs = ops::recent_runs(&state.ops, &id, TIMELINE).await?.results;
    let health = HealthRow::from(ops::health(&state.ops, &id).await?);
    let sync_types = schedules.iter().map(|s| s.sync_type.as_str()).collect();
    let webhooks_active = schedules.iter().any(|s| s.webhooks_active);
    let schedules = schedules
        .iter()
        .map(|s| ScheduleRow {
            sync_type: s.sync_type.as_str(),
            paused: s.paused,
            every: span(s.every_seconds as i64),
            source: if s.webhooks_active {
                "webhook polling"
            } else if s.override_every_seconds.is_some() {
                "override"
            } else {
                "default"
            },
            next_due: at(&s.next_due_at),
            last_claimed: at_opt(s.last_claimed_at.as_ref()),
            claimed_by: or_dash(s.claimed_by.as_deref()),
        })
        .collect();
    Ok(render(&IntegrationPage {
        notice: notice.text(),
        webhook_path: format!("/v1/webhooks/{}/{}", integration.tool.as_str(), integration.id),
        id: integration.id,
        tool: integration.tool.as_str(),
        environment: integration.environment,
        base_url: integration.base_url,
        created_at: at(&integration.created_at),
        scope_config: serde_json::to_string_pretty(&integration.scope_config).unwrap_or_default(),
        sync_types,
        schedules,
        webhooks_active,
        health,
        runs: runs.iter().map(RunRow::from).collect(),
    }))
}

pub(crate) async fn trigger(
    State(state): State<ConsoleState>,
    Path(id): Path<String>,
    form: Result<Form<TriggerForm>, FormRejection>,
) -> Result<Response, ConsoleError> {
    let Form(form) = form.map_err(|e| ConsoleError::Form(e.body_text()))?;
    let triggered = ops::trigger(&state.ops, &id, form.sync_type.trim()).await?;
    let done = if triggered.already_queued {
        "already-queued"
    } else {
        "triggered"
    };
    Ok(Redirect::to(&format!("/ops/runs/{}?done={done}", triggered.sync_id)).into_response())
}

/// Pauses or resumes one of the integration's schedules.
pub(crate) async fn schedule(
    State(state): State<ConsoleState>,
    Path((id, sync_type, action)): Path<(String, String, String)>,
) -> Result<Response, ConsoleError> {
    let paused = match action.as_str() {
        "pause" => true,
        "resume" => false,
        other => return Err(ConsoleError::Form(format!("no action `{other}` on a schedule"))),
    };
    ops::pause_schedule(&state.ops, &id, &sync_type, paused).await?;
    let done = if paused { "schedule-paused" } else { "schedule-resumed" };
    Ok(Redirect::to(&format!("/ops/integrations/{id}?done={done}")).into_response())
}
