//! What both backends share about sync schedules: intervals stored as whole seconds, and which
//! interval a schedule runs at. The arithmetic that moves `next_due_at` is SQL
//! (`crate::ops::schedules`): whole seconds on microsecond-truncated instants make it exact, so
//! the backends agree to the microsecond.

use std::time::Duration;

use tributary_model::{SyncType, Timestamp};

use crate::{StoreError, SyncSchedule, WEBHOOK_POLL_INTERVAL};

/// Longer than any sensible schedule, and far inside both backends' timestamp range, so adding
/// an interval to a stored instant cannot overflow.
const MAX_INTERVAL: Duration = Duration::from_secs(10 * 366 * 24 * 3600);

/// An interval as stored: whole seconds (a sub-second remainder is dropped), at least one.
pub(crate) fn to_secs(every: Duration) -> Result<i64, StoreError> {
    if every < Duration::from_secs(1) || every > MAX_INTERVAL {
        return Err(StoreError::Invalid(format!(
            "schedule interval {every:?} is outside 1 s ..= {MAX_INTERVAL:?}"
        )));
    }
    i64::try_from(every.as_secs()).map_err(|_| StoreError::Invalid(format!("schedule interval {every:?}")))
}

pub(crate) fn from_secs(secs: i64) -> Result<Duration, StoreError> {
    match u64::try_from(secs) {
        Ok(secs) if secs > 0 => Ok(Duration::from_secs(secs)),
        _ => Err(StoreError::Corrupt(format!("schedule interval of {secs} s"))),
    }
}

/// [`WEBHOOK_POLL_INTERVAL`] in stored form, bound into the statements that move `next_due_at`.
pub(crate) fn webhook_poll_secs() -> i64 {
    i64::try_from(WEBHOOK_POLL_INTERVAL.as_secs()).unwrap_or(i64::MAX)
}

/// The interval a schedule runs at: an operator's override first (an explicit choice beats
/// anything derived), then webhook polling while webhooks are active, then the tool's default.
/// The statements spell the same rule as `COALESCE(override, CASE WHEN webhooks_active ...)`.
pub(crate) fn effective_secs(default_secs: i64, override_secs: Option<i64>, webhooks_active: bool) -> i64 {
    match (override_secs, webhooks_active) {
        (Some(every), _) => every,
        (None, true) => webhook_poll_secs(),
        (None, false) => default_secs,
    }
}

/// The intervals of an `ensure_schedules` call in stored form; a type given twice is a caller
/// bug, rejected rather than resolved arbitrarily.
pub(crate) fn checked_intervals(intervals: &[(SyncType, Duration)]) -> Result<Vec<(SyncType, i64)>, StoreError> {
    let mut checked: Vec<(SyncType, i64)> = Vec::with_capacity(intervals.len());
    for &(sync_type, every) in intervals {
        if checked.iter().any(|(seen, _)| *seen == sync_type) {
            return Err(StoreError::Invalid(format!(
                "sync type {} given twice",
                sync_type.as_str()
            )));
        }
        checked.push((sync_type, to_secs(every)?));
    }
    Ok(checked)
}

/// The raw columns of a schedule row, decoded by each backend's `rows` module.
pub(crate) struct ScheduleColumns {
    pub integration_id: String,
    pub sync_type: SyncType,
    pub every_seconds: i64,
    pub override_every_seconds: Option<i64>,
    pub webhooks_active: bool,
    pub next_due_at: Timestamp,
    pub last_claimed_at: Option<Timestamp>,
    pub claimed_by: Option<String>,
    pub paused_at: Option<Timestamp>,
}

impl ScheduleColumns {
    pub(crate) fn into_schedule(self) -> Result<SyncSchedule, StoreError> {
        let every = effective_secs(self.every_seconds, self.override_every_seconds, self.webhooks_active);
        Ok(SyncSchedule {
            integration_id: self.integration_id,
            sync_type: self.sync_type,
            default_every: from_secs(self.every_seconds)?,
            override_every: self.override_every_seconds.map(from_secs).transpose()?,
            webhooks_active: self.webhooks_active,
            every: from_secs(every)?,
            next_due_at: self.next_due_at,
            last_claimed_at: self.last_claimed_at,
            claimed_by: self.claimed_by,
            paused_at: self.paused_at,
        })
    }
}

/// The error for a schedule that does not exist.
pub(crate) fn not_found(integration_id: &str, sync_type: SyncType) -> StoreError {
    StoreError::NotFound(format!(
        "{} schedule of integration {integration_id}",
        sync_type.as_str()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_are_whole_positive_seconds() {
        assert_eq!(to_secs(Duration::from_millis(90_500)).expect("valid"), 90);
        assert!(matches!(
            to_secs(Duration::from_millis(999)),
            Err(StoreError::Invalid(_))
        ));
        assert!(matches!(
            to_secs(Duration::from_secs(u64::MAX)),
            Err(StoreError::Invalid(_))
        ));
        assert!(matches!(from_secs(0), Err(StoreError::Corrupt(_))));
    }

    #[test]
    fn override_beats_webhooks_beat_default() {
        assert_eq!(effective_secs(10, Some(5), true), 5);
        assert_eq!(effective_secs(10, None, true), 86_400);
        assert_eq!(effective_secs(10, None, false), 10);
    }

    #[test]
    fn a_type_given_twice_is_refused() {
        assert!(checked_intervals(&[(SyncType::Full, Duration::from_secs(1)); 2]).is_err());
    }
}
