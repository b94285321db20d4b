//! How values read on a page: times relative to now, absent values as a dash, runs as rows.

use chrono::Utc;
use tributary_model::{RunState, Timestamp};
use tributary_operator::RunView;

/// `2026-12-07 04:10:03 UTC`.
pub(crate) fn at(t: &Timestamp) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

pub(crate) fn at_opt(t: Option<&Timestamp>) -> String {
    t.map_or_else(|| "—".to_owned(), at)
}

/// `3 min 4 s`, for ages and durations.
pub(crate) fn span(seconds: i64) -> String {
    let s = seconds.max(0);
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min {} s", s / 60, s % 60),
        3600..86400 => format!("{} h {} min", s / 3600, (s % 3600) / 60),
        _ => format!("{} d {} h", s / 86400, (s % 86400) / 3600),
    }
}

/// How long ago `t` was.
pub(crate) fn age(t: &Timestamp) -> String {
    span((Utc::now() - *t).num_seconds())
}

pub(crate) fn or_dash(v: Option<&str>) -> String {
    v.map_or_else(|| "—".to_owned(), str::to_owned)
}

/// A run as a table row and a detail page show it.
pub(crate) struct RunRow {
    pub id: String,
    pub integration_id: String,
    pub sync_type: &'static str,
    pub state: &'static str,
    /// Why it is PAUSED (and for which run), or empty.
    pub paused_for: String,
    pub pages: i64,
    pub created: i64,
    pub updated: i64,
    pub deleted: i64,
    pub unchanged: i64,
    pub created_at: String,
    pub started_at: String,
    pub ended_at: String,
    pub duration: String,
    pub error: String,
    pub open: bool,
    /// It ended without its data: FAILED, PARTIALLY_FAILED or AUTHENTICATION_FAILED.
    pub bad: bool,
}

impl From<&RunView> for RunRow {
    fn from(run: &RunView) -> Self {
        let paused_for = match (run.pause_reason, &run.preempted_by) {
            (Some(reason), Some(by)) => format!(
                "{} by {} ({})",
                reason.as_str(),
                by.id,
                by.sync_type.map_or("gone", |t| t.as_str())
            ),
            (Some(reason), None) => match run.resume_at {
                Some(at) => format!("{} until {}", reason.as_str(), self::at(&at)),
                None => reason.as_str().to_owned(),
            },
            (None, _) => String::new(),
        };
        let state = run.state.as_str();
        RunRow {
            id: run.id.clone(),
            integration_id: run.integration_id.clone(),
            sync_type: run.sync_type.as_str(),
            state,
            paused_for,
            pages: run.counts.pages_fetched,
            created: run.counts.created,
            updated: run.counts.updated,
            deleted: run.counts.deleted,
            unchanged: run.counts.unchanged,
            created_at: at(&run.created_at),
            started_at: at_opt(run.started_at.as_ref()),
            ended_at: at_opt(run.ended_at.as_ref()),
            duration: run
                .duration_seconds
                .map_or_else(|| "—".to_owned(), |d| span(d.round() as i64)),
            error: run.error.clone().unwrap_or_default(),
            open: matches!(run.state, RunState::Queued | RunState::Running | RunState::Paused),
            bad: matches!(
                run.state,
                RunState::Failed | RunState::PartiallyFailed | RunState::AuthenticationFailed
            ),
        }
    }
}
