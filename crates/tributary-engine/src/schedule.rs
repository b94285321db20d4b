use std::time::Duration;

use chrono::TimeDelta;
use tributary_model::{SyncType, Timestamp, ToolKind};

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

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    #[test]
    fn picks_by_tool_and_age_of_last_full() {
        let now = Utc::now();
        let s = Schedule::default();
        assert_eq!(pick_sync_type(ToolKind::Bamboohr, None, now, &s), SyncType::Default);
        assert_eq!(
            pick_sync_type(ToolKind::Bamboohr, Some(now), now, &s),
            SyncType::Default
        );
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
