use std::time::Duration;

use chrono::TimeDelta;
use tributary_model::{SyncType, Timestamp, ToolKind};
use tributary_store::{Integration, RunHistory, StoreError, WEBHOOK_POLL_INTERVAL};

/// How far before the previous successful sync's start a delta looks back, so a clock skew
/// between us and the tool, or a change committed at the source while that sync ran, is never
/// missed. Re-reading a few unchanged records costs nothing: hashing makes them no-ops.
pub const DELTA_OVERLAP: TimeDelta = TimeDelta::minutes(5);

/// Sync frequencies (the design card's defaults; overridable per integration by the fleet).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    /// DEFAULT syncs, for tools without delta support.
    pub default_every: Duration,
    /// FULL syncs, for tools with delta support.
    pub full_every: Duration,
    /// DELTA syncs, in between fulls.
    pub delta_every: Duration,
}

impl Default for Schedule {
    fn default() -> Self {
        Self {
            default_every: Duration::from_secs(3 * 3600),
            full_every: Duration::from_secs(10 * 3600),
            delta_every: Duration::from_secs(3 * 3600),
        }
    }
}

impl Schedule {
    /// The sync types `tool` is scheduled for and how often each runs: FULL and DELTA for tools
    /// with a changed-since filter, DEFAULT for the others; all of them every
    /// [`WEBHOOK_POLL_INTERVAL`] while the integration's inbound webhooks are active.
    pub fn intervals(&self, tool: ToolKind, webhooks_active: bool) -> Vec<(SyncType, Duration)> {
        let polling = if tool.supports_delta() {
            vec![(SyncType::Full, self.full_every), (SyncType::Delta, self.delta_every)]
        } else {
            vec![(SyncType::Default, self.default_every)]
        };
        if webhooks_active {
            polling
                .into_iter()
                .map(|(sync_type, _)| (sync_type, WEBHOOK_POLL_INTERVAL))
                .collect()
        } else {
            polling
        }
    }
}

/// [`Schedule::intervals`] of the default [`Schedule`].
///
/// Seed `Schedules::ensure_schedules` with `webhooks_active = false`: the store applies webhook
/// polling itself once `Schedules::set_webhooks_active` says so, and falls back to these
/// polling intervals when webhooks stop, without being seeded again.
pub fn default_intervals(tool: ToolKind, webhooks_active: bool) -> Vec<(SyncType, Duration)> {
    Schedule::default().intervals(tool, webhooks_active)
}

/// The sync type a due sync of `tool` should have, given when its last complete (FULL or
/// DEFAULT) sync succeeded. Consumers never choose: tools without a changed-since filter always
/// get DEFAULT; others get FULL when no full succeeded within `full_every`, DELTA otherwise.
pub fn pick_sync_type(
    tool: ToolKind,
    last_complete_success: Option<Timestamp>,
    now: Timestamp,
    schedule: &Schedule,
) -> SyncType {
    if !tool.supports_delta() {
        return SyncType::Default;
    }
    match last_complete_success {
        Some(at) if now.signed_duration_since(at).to_std().unwrap_or_default() < schedule.full_every => SyncType::Delta,
        _ => SyncType::Full,
    }
}

/// The sync type a new run of `integration` gets now, from one query (the newest complete
/// success, however many deltas came after it): the one policy behind the engine's own choice
/// and the scheduler's triggers without a type.
pub async fn sync_type_due(
    store: &dyn RunHistory,
    integration: &Integration,
    schedule: &Schedule,
) -> Result<SyncType, StoreError> {
    let last_complete = store.last_complete_success(&integration.id).await?;
    Ok(pick_sync_type(
        integration.tool,
        last_complete,
        chrono::Utc::now(),
        schedule,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    const HOUR: Duration = Duration::from_secs(3600);

    #[test]
    fn every_tool_gets_full_and_delta() {
        for &tool in ToolKind::ALL {
            assert_eq!(
                default_intervals(tool, false),
                vec![(SyncType::Full, 10 * HOUR), (SyncType::Delta, 3 * HOUR)],
                "{tool}"
            );
        }
    }

    #[test]
    fn active_webhooks_poll_every_type_daily() {
        assert_eq!(
            default_intervals(ToolKind::Personio, true),
            vec![(SyncType::Full, 24 * HOUR), (SyncType::Delta, 24 * HOUR)]
        );
        assert_eq!(
            default_intervals(ToolKind::Bamboohr, true),
            vec![(SyncType::Full, 24 * HOUR), (SyncType::Delta, 24 * HOUR)]
        );
    }

    #[test]
    fn custom_schedule_sets_the_polling_intervals() {
        let s = Schedule {
            default_every: HOUR,
            full_every: 2 * HOUR,
            delta_every: Duration::from_secs(900),
        };
        assert_eq!(
            s.intervals(ToolKind::Greenhouse, false),
            vec![(SyncType::Full, 2 * HOUR), (SyncType::Delta, Duration::from_secs(900))]
        );
        assert_eq!(
            s.intervals(ToolKind::Bamboohr, false),
            vec![(SyncType::Full, 2 * HOUR), (SyncType::Delta, Duration::from_secs(900))]
        );
    }

    #[test]
    fn picks_by_tool_and_age_of_last_full() {
        let now = Utc::now();
        let s = Schedule::default();
        assert_eq!(pick_sync_type(ToolKind::Bamboohr, None, now, &s), SyncType::Full);
        assert_eq!(pick_sync_type(ToolKind::Bamboohr, Some(now), now, &s), SyncType::Delta);
        assert_eq!(pick_sync_type(ToolKind::Personio, None, now, &s), SyncType::Full);
        let an_hour_ago = now - TimeDelta::hours(1);
        assert_eq!(
            pick_sync_type(ToolKind::Personio, Some(an_hour_ago), now, &s),
            SyncType::Delta
        );
        let long_ago = now - TimeDelta::hours(11);
        assert_eq!(
            pick_sync_type(ToolKind::Greenhouse, Some(long_ago), now, &s),
            SyncType::Full
        );
    }
}
