//! `/ops/runs`: runs of every integration, filtered by state, type, tool, integration and
//! start time, newest first, a page at a time (the operator API's `GET /runs` and its cursor).

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::response::Response;

use crate::ConsoleState;
use crate::error::{ConsoleError, render};
use crate::forms::{list_query, value_of, with_cursor};
use crate::ops;
use crate::view::RunRow;

/// An option of a filter's select, and whether the current search chose it.
struct Choice {
    value: &'static str,
    selected: bool,
}

fn choices(values: &[&'static str], chosen: &str) -> Vec<Choice> {
    values
        .iter()
        .map(|&value| Choice {
            value,
            selected: value.eq_ignore_ascii_case(chosen),
        })
        .collect()
}

const STATES: [&str; 8] = [
    "QUEUED",
    "RUNNING",
    "PAUSED",
    "SUCCEEDED",
    "FAILED",
    "PARTIALLY_FAILED",
    "AUTHENTICATION_FAILED",
    "CANCELLED",
];

#[derive(Template)]
#[template(path = "runs.html")]
struct RunsPage {
    states: Vec<Choice>,
    sync_types: Vec<Choice>,
    tools: Vec<Choice>,
    integration_id: String,
    started_after: String,
    started_before: String,
    limit: String,
    runs: Vec<RunRow>,
    /// The next page's query string, if there is one.
    next: Option<String>,
}

pub(crate) async fn search(
    State(state): State<ConsoleState>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ConsoleError> {
    let query = list_query(raw.as_deref());
    let found = ops::search_runs(&state.ops, query.clone()).await?;
    // The form shows times as the browser's datetime-local inputs take them.
    let local = |key: &str| value_of(&query, key).chars().take(16).collect::<String>();
    Ok(render(&RunsPage {
        states: choices(&STATES, &value_of(&query, "state")),
        sync_types: choices(&["FULL", "DELTA", "DEFAULT"], &value_of(&query, "sync_type")),
        tools: choices(&["personio", "greenhouse", "bamboohr"], &value_of(&query, "tool")),
        integration_id: value_of(&query, "integration_id"),
        started_after: local("started_after"),
        started_before: local("started_before"),
        limit: value_of(&query, "limit"),
        runs: found.results.iter().map(RunRow::from).collect(),
        next: found.next.map(|cursor| with_cursor(&query, &cursor)),
    }))
}
