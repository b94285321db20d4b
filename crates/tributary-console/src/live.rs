//! `GET /ops/events`: the open runs' state and counts as server-sent events, one `runs` event
//! a second, so the pages' numbers move without a reload. Each event is the operator API's
//! `GET /ops/v1/syncs`, cut to what the pages show.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;
use serde::Serialize;

use crate::ConsoleState;
use crate::ops;
use crate::view::RunRow;

/// How often the open runs are read and sent.
const EVERY: Duration = Duration::from_secs(1);

#[derive(Serialize)]
struct Progress {
    id: String,
    state: &'static str,
    paused_for: String,
    pages: i64,
    created: i64,
    updated: i64,
    deleted: i64,
    unchanged: i64,
}

impl From<RunRow> for Progress {
    fn from(r: RunRow) -> Self {
        Progress {
            id: r.id,
            state: r.state,
            paused_for: r.paused_for,
            pages: r.pages,
            created: r.created,
            updated: r.updated,
            deleted: r.deleted,
            unchanged: r.unchanged,
        }
    }
}

async fn snapshot(state: &ConsoleState) -> Option<Event> {
    match ops::open_syncs(&state.ops).await {
        Ok(open) => {
            let runs: Vec<Progress> = open.results.iter().map(|r| RunRow::from(r).into()).collect();
            Event::default().event("runs").json_data(runs).ok()
        }
        Err(error) => {
            // The page keeps its last numbers; the next tick tries again.
            tracing::warn!(%error, "console: cannot read open runs for live progress");
            None
        }
    }
}

pub(crate) async fn events(State(state): State<ConsoleState>) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let mut ticks = tokio::time::interval(EVERY);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let stream = futures::stream::unfold((state, ticks), |(state, mut ticks)| async move {
        loop {
            ticks.tick().await;
            if let Some(event) = snapshot(&state).await {
                return Some((Ok(event), (state, ticks)));
            }
        }
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}
