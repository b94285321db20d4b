//! `GET /integrations/health` and `GET /integrations/{id}/health`: is each integration's
//! mirror being kept up to date?
//!
//! States, the first that applies:
//! - `paused`: every schedule of the integration is paused; nothing syncs it on its own.
//! - `failing`: its newest run to end with an outcome (SUCCEEDED, FAILED, PARTIALLY_FAILED or
//!   AUTHENTICATION_FAILED; CANCELLED runs are no outcome) did not succeed.
//! - `never_synced`: no run of it has succeeded yet.
//! - `stale`: its last success is older than twice its shortest running schedule's interval:
//!   at least one whole cycle was missed (a sync takes time, so one interval late is normal).
//! - `healthy`: otherwise.
//!
//! `staleness_seconds` is the time since the last success; `interval_seconds` what it is
//! measured against.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use serde::Serialize;
use tributary_model::{SyncType, Timestamp, ToolKind};
use tributary_store::{HealthFacts, HealthFilter};

use crate::cursor;
use crate::error::OpsError;
use crate::inputs;
use crate::list_query::ListQuery;
use crate::routes::runs::tool;
use crate::state::OperatorState;
use tributary_gateway::Success;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HealthState {
    Healthy,
    Stale,
    Failing,
    Paused,
    NeverSynced,
}

impl HealthState {
    const ALL: [HealthState; 5] = [
        HealthState::Healthy,
        HealthState::Stale,
        HealthState::Failing,
        HealthState::Paused,
        HealthState::NeverSynced,
    ];

    fn as_str(self) -> &'static str {
        match self {
            HealthState::Healthy => "healthy",
            HealthState::Stale => "stale",
            HealthState::Failing => "failing",
            HealthState::Paused => "paused",
            HealthState::NeverSynced => "never_synced",
        }
    }
}

#[derive(Debug, Serialize)]
pub struct LastError {
    pub run_id: String,
    pub message: Option<String>,
    /// When that run ended.
    pub at: Option<Timestamp>,
}

#[derive(Debug, Serialize)]
pub struct IntegrationHealth {
    pub integration_id: String,
    pub tool: ToolKind,
    pub environment: String,
    pub state: HealthState,
    /// When its newest successful run ended.
    pub last_success_at: Option<Timestamp>,
    /// Seconds since `last_success_at`.
    pub staleness_seconds: Option<i64>,
    /// The shortest interval of its running (not paused) schedules.
    pub interval_seconds: Option<u64>,
    /// The soonest due time of its running schedules.
    pub next_due_at: Option<Timestamp>,
    pub paused_schedules: Vec<SyncType>,
    /// Its newest failed run, whatever happened since.
    pub last_error: Option<LastError>,
}

/// How many whole intervals without a success make an integration stale.
const STALE_AFTER_INTERVALS: u32 = 2;

fn judge(facts: HealthFacts, now: Timestamp) -> IntegrationHealth {
    let running: Vec<_> = facts.schedules.iter().filter(|s| s.paused_at.is_none()).collect();
    let interval = running.iter().map(|s| s.every).min();
    let staleness = facts.last_success_at.map(|at| (now - at).num_seconds().max(0));
    let state = if !facts.schedules.is_empty() && running.is_empty() {
        HealthState::Paused
    } else if facts.last_outcome_failed {
        HealthState::Failing
    } else if facts.last_success_at.is_none() {
        HealthState::NeverSynced
    } else if let (Some(interval), Some(staleness)) = (interval, staleness)
        && staleness as u64 > (interval * STALE_AFTER_INTERVALS).as_secs()
    {
        HealthState::Stale
    } else {
        HealthState::Healthy
    };
    IntegrationHealth {
        state,
        last_success_at: facts.last_success_at,
        staleness_seconds: staleness,
        interval_seconds: interval.map(|i| i.as_secs()),
        next_due_at: running.iter().map(|s| s.next_due_at).min(),
        paused_schedules: facts
            .schedules
            .iter()
            .filter(|s| s.paused_at.is_some())
            .map(|s| s.sync_type)
            .collect(),
        last_error: facts.last_failure.map(|run| LastError {
            run_id: run.id,
            message: run.error,
            at: run.ended_at,
        }),
        integration_id: facts.integration_id,
        tool: facts.tool,
        environment: facts.environment,
    }
}

pub async fn show(
    State(state): State<OperatorState>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Success<IntegrationHealth>, OpsError> {
    let Path(integration_id) = path?;
    inputs::path_id("integration", &integration_id)?;
    let facts = state
        .store
        .integration_health(&HealthFilter {
            integration_id: Some(integration_id.clone()),
            limit: 1,
            ..HealthFilter::default()
        })
        .await?
        .pop()
        .ok_or(OpsError::IntegrationNotFound(integration_id))?;
    Ok(Success::new(judge(facts, chrono::Utc::now())))
}

#[derive(Debug, Serialize)]
pub struct HealthList {
    /// By integration id.
    pub results: Vec<IntegrationHealth>,
    /// The `cursor` of the next page; `null` on the last one.
    pub next: Option<String>,
}

const LIST: &str = "health";
pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 500;
/// Integrations read per statement while filling a page filtered by state.
const BATCH: i64 = 200;

pub async fn list(
    State(state): State<OperatorState>,
    RawQuery(raw): RawQuery,
) -> Result<Success<HealthList>, OpsError> {
    let query = ListQuery::parse(raw.as_deref(), &["tool", "state"])?;
    let wanted: Vec<HealthState> = query
        .many("state")
        .into_iter()
        .map(|text| {
            HealthState::ALL
                .into_iter()
                .find(|s| s.as_str().eq_ignore_ascii_case(text))
                .ok_or_else(|| {
                    OpsError::invalid(format!(
                        "`state` takes healthy, stale, failing, paused or never_synced (repeated, or a comma list); got `{text}`."
                    ))
                })
        })
        .collect::<Result<_, _>>()?;
    let filters = query.filters();
    let limit = query.limit(DEFAULT_LIMIT, MAX_LIMIT)?;
    let mut after_id = query
        .cursor()?
        .map(|text| cursor::decode_id(LIST, &filters, text))
        .transpose()?;
    let tool = tool(&query)?;
    let now = chrono::Utc::now();
    // The state is judged here, not in SQL, so a page filtered by state reads integrations in
    // id order until it has one more match than asked (which says another page follows).
    let mut results = Vec::new();
    loop {
        let batch = state
            .store
            .integration_health(&HealthFilter {
                tool,
                integration_id: None,
                after_id: after_id.clone(),
                limit: BATCH,
            })
            .await?;
        let exhausted = (batch.len() as i64) < BATCH;
        after_id = batch.last().map(|f| f.integration_id.clone());
        for facts in batch {
            let judged = judge(facts, now);
            if wanted.is_empty() || wanted.contains(&judged.state) {
                results.push(judged);
            }
            if results.len() as i64 > limit {
                break;
            }
        }
        if exhausted || results.len() as i64 > limit {
            break;
        }
    }
    let more = results.len() as i64 > limit;
    results.truncate(limit as usize);
    let next = more
        .then(|| {
            results
                .last()
                .map(|h| cursor::encode(LIST, &filters, None, &h.integration_id))
        })
        .flatten();
    Ok(Success::new(HealthList { results, next }))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use tributary_store::SyncSchedule;

    fn schedule(sync_type: SyncType, every_secs: u64, paused: bool, now: Timestamp) -> SyncSchedule {
        SyncSchedule {
            integration_id: "personio:acme".into(),
            sync_type,
            default_every: Duration::from_secs(every_secs),
            override_every: None,
            webhooks_active: false,
            every: Duration::from_secs(every_secs),
            next_due_at: now,
            last_claimed_at: None,
            claimed_by: None,
            paused_at: paused.then_some(now),
        }
    }

    fn facts(now: Timestamp, success_ago: Option<i64>, failed: bool, schedules: Vec<SyncSchedule>) -> HealthFacts {
        HealthFacts {
            integration_id: "personio:acme".into(),
            tool: ToolKind::Personio,
            environment: "production".into(),
            last_success_at: success_ago.map(|s| now - chrono::TimeDelta::seconds(s)),
            last_outcome_failed: failed,
            last_failure: None,
            schedules,
        }
    }

    #[test]
    fn states_in_order_of_precedence() {
        let now = chrono::Utc::now();
        let both = |p1, p2| {
            vec![
                schedule(SyncType::Delta, 3600, p1, now),
                schedule(SyncType::Full, 86400, p2, now),
            ]
        };
        let judged = |f| judge(f, now).state;
        assert_eq!(
            judged(facts(now, Some(10), true, both(true, true))),
            HealthState::Paused
        );
        assert_eq!(
            judged(facts(now, Some(10), true, both(true, false))),
            HealthState::Failing
        );
        assert_eq!(
            judged(facts(now, None, false, both(false, false))),
            HealthState::NeverSynced
        );
        assert_eq!(
            judged(facts(now, Some(7201), false, both(false, false))),
            HealthState::Stale
        );
        assert_eq!(
            judged(facts(now, Some(7200), false, both(false, false))),
            HealthState::Healthy
        );
        // Only running schedules count: with the DELTA paused, the FULL's day is the measure.
        let h = judge(facts(now, Some(7201), false, both(true, false)), now);
        assert_eq!(
            (h.state, h.interval_seconds, h.paused_schedules),
            (HealthState::Healthy, Some(86400), vec![SyncType::Delta])
        );
    }
}
