//! `GET /runs`: runs of every integration, filtered, newest first, a cursor per page.
//!
//! The walk is a keyset on `(created_at, id)`, newest first: no run ever changes either, so a
//! page never repeats a run of an earlier one, and runs created during the walk sort before
//! the cursor (they show up when the walk starts again from the top) instead of shifting what
//! an offset would have counted.

use axum::extract::{RawQuery, State};
use serde::Serialize;
use tributary_model::{RunState, SyncType, ToolKind};
use tributary_store::RunSearch;

use crate::cursor;
use crate::error::OpsError;
use crate::list_query::ListQuery;
use crate::state::OperatorState;
use crate::view::{RunView, describe};
use tributary_gateway::Success;

pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 500;
const LIST: &str = "runs";

#[derive(Debug, Serialize)]
pub struct Runs {
    /// Newest first.
    pub results: Vec<RunView>,
    /// The `cursor` of the next page; `null` on the last one.
    pub next: Option<String>,
}

fn states(query: &ListQuery) -> Result<Vec<RunState>, OpsError> {
    query
        .many("state")
        .into_iter()
        .map(|text| {
            RunState::parse(&text.to_ascii_uppercase()).ok_or_else(|| {
                OpsError::invalid(format!(
                    "`state` takes QUEUED, RUNNING, PAUSED, SUCCEEDED, FAILED, PARTIALLY_FAILED, \
                     AUTHENTICATION_FAILED or CANCELLED (repeated, or a comma list); got `{text}`."
                ))
            })
        })
        .collect()
}

fn sync_type(query: &ListQuery) -> Result<Option<SyncType>, OpsError> {
    query
        .one("sync_type")?
        .map(|text| {
            SyncType::parse(&text.to_ascii_uppercase()).ok_or_else(|| {
                OpsError::invalid(format!(
                    "`sync_type` must be `FULL`, `DELTA` or `DEFAULT`, got `{text}`."
                ))
            })
        })
        .transpose()
}

/// `?tool=`, shared with the health list.
pub fn tool(query: &ListQuery) -> Result<Option<ToolKind>, OpsError> {
    query
        .one("tool")?
        .map(|text| {
            ToolKind::parse(&text.to_ascii_lowercase()).ok_or_else(|| {
                OpsError::invalid(format!(
                    "`tool` must be `personio`, `greenhouse` or `bamboohr`, got `{text}`."
                ))
            })
        })
        .transpose()
}

pub async fn search(State(state): State<OperatorState>, RawQuery(raw): RawQuery) -> Result<Success<Runs>, OpsError> {
    let query = ListQuery::parse(
        raw.as_deref(),
        &[
            "state",
            "sync_type",
            "tool",
            "integration_id",
            "started_after",
            "started_before",
        ],
    )?;
    let integration_id = query.one("integration_id")?.map(str::to_owned);
    let (started_after, started_before) = (query.instant("started_after")?, query.instant("started_before")?);
    if let (Some(after), Some(before)) = (started_after, started_before)
        && after >= before
    {
        return Err(OpsError::invalid(
            "`started_after` must be earlier than `started_before`.",
        ));
    }
    let filters = query.filters();
    let limit = query.limit(DEFAULT_LIMIT, MAX_LIMIT)?;
    let after = query
        .cursor()?
        .map(|text| cursor::decode_key(LIST, &filters, text))
        .transpose()?;
    let search = RunSearch {
        states: states(&query)?,
        sync_type: sync_type(&query)?,
        tool: tool(&query)?,
        integration_id,
        started_after,
        started_before,
        after,
        // One more than asked tells whether another page follows.
        limit: limit + 1,
    };
    let mut runs = state.store.search_runs(&search).await?;
    let more = runs.len() as i64 > limit;
    runs.truncate(limit as usize);
    let next = more
        .then(|| {
            runs.last()
                .map(|r| cursor::encode(LIST, &filters, Some(r.created_at), &r.id))
        })
        .flatten();
    let results = describe(&state, runs, &[]).await?;
    Ok(Success::new(Runs { results, next }))
}
