//! `/ops/integrations`: every integration with its latest run and when each sync type is due.

use askama::Template;
use axum::extract::State;
use axum::response::Response;

use crate::ConsoleState;
use crate::error::{ConsoleError, render};
use crate::ops;
use crate::view::{at, at_opt};

struct Row {
    id: String,
    tool: &'static str,
    environment: String,
    created_at: String,
    last_run: String,
    last_run_id: String,
    last_run_bad: bool,
    last_error: String,
    next_due: String,
}

#[derive(Template)]
#[template(path = "integrations.html")]
struct Integrations {
    rows: Vec<Row>,
}

pub(crate) async fn list(State(state): State<ConsoleState>) -> Result<Response, ConsoleError> {
    let mut rows = Vec::new();
    for integration in ops::integrations(&state.ops).await? {
        let latest = ops::recent_runs(&state.ops, &integration.id, 1).await?.results.pop();
        let schedules = ops::schedules(&state.ops, &integration.id).await?.results;
        let next_due = schedules
            .iter()
            .map(|s| format!("{} {}", s.sync_type.as_str(), at(&s.next_due_at)))
            .collect::<Vec<_>>()
            .join(", ");
        let row = match latest {
            Some(run) => Row {
                last_run: format!(
                    "{} {} ({})",
                    run.sync_type.as_str(),
                    run.state.as_str(),
                    at_opt(run.ended_at.as_ref().or(run.started_at.as_ref()).or(Some(&run.created_at)))
                ),
                last_run_id: run.id.clone(),
                last_run_bad: crate::view::RunRow::from(&run).bad,
                last_error: run.error.unwrap_or_default(),
                ..blank(&integration, next_due)
            },
            None => blank(&integration, next_due),
        };
        rows.push(row);
    }
    Ok(render(&Integrations { rows }))
}

fn blank(integration: &tributary_operator::routes::integration_setup::IntegrationView, next_due: String) -> Row {
    Row {
        id: integration.id.clone(),
        tool: integration.tool.as_str(),
        environment: integration.environment.clone(),
        created_at: at(&integration.created_at),
        last_run: "never synced".to_owned(),
        last_run_id: String::new(),
        last_run_bad: false,
        last_error: String::new(),
        next_due,
    }
}
