//! `/ops/runs/{id}`: one run, with pause, resume and cancel, and retry once it failed.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};

use crate::ConsoleState;
use crate::error::{ConsoleError, render};
use crate::ops;
use crate::pages::Notice;
use crate::view::{RunRow, or_dash};

#[derive(Template)]
#[template(path = "run.html")]
struct RunPage {
    notice: Option<&'static str>,
    run: RunRow,
    /// Kept to a slice so the row template shows this run alone.
    runs: Vec<RunRow>,
    worker_id: String,
    lease_holder: String,
    job_queued: bool,
    checkpoint_stream: String,
    attempts: i32,
    preempted_by: String,
    preempted_by_id: String,
    can_pause: bool,
    can_resume: bool,
    can_retry: bool,
}

pub(crate) async fn show(
    State(state): State<ConsoleState>,
    Path(id): Path<String>,
    Query(notice): Query<Notice>,
) -> Result<Response, ConsoleError> {
    let view = ops::run(&state.ops, &id).await?;
    let row = RunRow::from(&view);
    let (preempted_by, preempted_by_id) = match &view.preempted_by {
        Some(p) => (
            format!(
                "{} ({}, {})",
                p.id,
                p.sync_type.map_or("—", |t| t.as_str()),
                p.state.map_or("gone", |s| s.as_str())
            ),
            p.id.clone(),
        ),
        None => ("—".to_owned(), String::new()),
    };
    let paused = row.state == "PAUSED";
    Ok(render(&RunPage {
        notice: notice.text(),
        can_pause: row.open && !(paused && view.pause_reason == Some(tributary_model::PauseReason::Operator)),
        can_resume: paused,
        can_retry: row.bad,
        runs: vec![RunRow::from(&view)],
        run: row,
        worker_id: or_dash(view.worker_id.as_deref()),
        lease_holder: or_dash(view.lease_holder.as_deref()),
        job_queued: view.job_queued,
        checkpoint_stream: view
            .checkpoint_stream
            .map_or_else(|| "—".to_owned(), |s| format!("stream {s}")),
        attempts: view.attempts,
        preempted_by,
        preempted_by_id,
    }))
}

pub(crate) async fn act(
    State(state): State<ConsoleState>,
    Path((id, action)): Path<(String, String)>,
) -> Result<Response, ConsoleError> {
    if action == "retry" {
        let retried = ops::retry(&state.ops, &id).await?;
        let done = if retried.already_queued {
            "already-queued"
        } else {
            "retried"
        };
        return Ok(Redirect::to(&format!("/ops/runs/{}?done={done}", retried.sync.id)).into_response());
    }
    let answer = ops::control(&state.ops, &id, &action).await?;
    // 202 answers carry `requested`, 200 ones `changed`.
    let done = match (
        action.as_str(),
        answer.get("requested").is_some(),
        answer["changed"].as_bool(),
    ) {
        ("pause", true, _) => "pause-requested",
        ("cancel", true, _) => "cancel-requested",
        (_, _, Some(false)) => "unchanged",
        ("pause", _, _) => "paused",
        ("resume", _, _) => "resumed",
        _ => "cancelled",
    };
    Ok(Redirect::to(&format!("/ops/runs/{id}?done={done}")).into_response())
}
