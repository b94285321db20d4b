//! When a failed delivery is tried again, and when it is given up.
//!
//! Exponential backoff with *full* jitter (the wait is uniform in `[0, min(cap, base·2ⁿ⁻¹)]`
//! after the n-th failure): receivers that come back after an outage are not hit by every
//! sender's retries at the same instant. This is a tiny function rather than `backon`, whose
//! `ExponentialBuilder` is an iterator over one retry loop held in memory (ours resumes from a
//! stored attempt count in any process) and whose jitter *adds* up to one more delay instead
//! of drawing the whole wait (it can exceed the cap).

use std::time::Duration;

use rand::Rng;
use tributary_model::Timestamp;
use tributary_store::AttemptOutcome;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The longest wait after the first failure; doubles with each further failure.
    pub base: Duration,
    /// No single wait is longer than this.
    pub cap: Duration,
    /// Failures are retried until this long after the event was created; a failure after that
    /// dead-letters the delivery.
    pub window: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            base: Duration::from_secs(10),
            cap: Duration::from_secs(3600),
            window: Duration::from_secs(24 * 3600),
        }
    }
}

impl RetryPolicy {
    /// The upper bound of the wait after failure number `failures` (1 for the first).
    pub fn ceiling(&self, failures: u32) -> Duration {
        // 2^31 · base overflows long before it matters; past the cap nothing grows anyway.
        let doublings = failures.saturating_sub(1).min(31);
        self.base.saturating_mul(1u32 << doublings).min(self.cap)
    }

    /// A wait drawn uniformly from `[0, ceiling(failures)]`.
    pub fn wait(&self, failures: u32, rng: &mut impl Rng) -> Duration {
        let ceiling = self.ceiling(failures);
        Duration::from_nanos(rng.random_range(0..=ceiling.as_nanos().min(u64::MAX as u128) as u64))
    }

    /// What becomes of a delivery whose attempt number `attempt` (1 for the first) just
    /// failed at `now`, for an event created at `event_created_at`. The last retry is pulled in
    /// to the end of the window, so a delivery is tried at the window's end before it is dead.
    pub fn after_failure(
        &self,
        attempt: u32,
        now: Timestamp,
        event_created_at: Timestamp,
        rng: &mut impl Rng,
    ) -> AttemptOutcome {
        let deadline = event_created_at + chrono_duration(self.window);
        if now >= deadline {
            return AttemptOutcome::Dead;
        }
        let next = now + chrono_duration(self.wait(attempt, rng));
        AttemptOutcome::Retry(next.min(deadline))
    }
}

fn chrono_duration(d: Duration) -> chrono::TimeDelta {
    chrono::TimeDelta::from_std(d).unwrap_or(chrono::TimeDelta::MAX)
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use super::*;

    #[test]
    fn ceilings_double_from_the_base_up_to_the_cap() {
        let p = RetryPolicy::default();
        let secs: Vec<u64> = (1..=12).map(|n| p.ceiling(n).as_secs()).collect();
        assert_eq!(secs, [10, 20, 40, 80, 160, 320, 640, 1280, 2560, 3600, 3600, 3600]);
        assert_eq!(p.ceiling(0).as_secs(), 10);
        assert_eq!(p.ceiling(u32::MAX), Duration::from_secs(3600));
    }

    #[test]
    fn waits_are_spread_over_the_whole_range() {
        let p = RetryPolicy::default();
        let mut rng = StdRng::seed_from_u64(7);
        let waits: Vec<Duration> = (0..2000).map(|_| p.wait(3, &mut rng)).collect();
        assert!(waits.iter().all(|w| *w <= Duration::from_secs(40)));
        // Full jitter: both halves of [0, 40 s] are drawn, not just [40 s, 80 s] or a fixed value.
        assert!(waits.iter().any(|w| *w < Duration::from_secs(10)));
        assert!(waits.iter().any(|w| *w > Duration::from_secs(30)));
    }

    #[test]
    fn retries_inside_the_window_and_dies_after_it() {
        let p = RetryPolicy::default();
        let mut rng = StdRng::seed_from_u64(1);
        let created = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();

        let now = created + chrono::TimeDelta::seconds(5);
        match p.after_failure(1, now, created, &mut rng) {
            AttemptOutcome::Retry(at) => assert!(at >= now && at <= now + chrono::TimeDelta::seconds(10)),
            other => panic!("{other:?}"),
        }

        // Ten minutes before the end a one-hour wait is cut to the end of the window.
        let late = created + chrono::TimeDelta::hours(24) - chrono::TimeDelta::minutes(10);
        let deadline = created + chrono::TimeDelta::hours(24);
        for _ in 0..100 {
            match p.after_failure(20, late, created, &mut rng) {
                AttemptOutcome::Retry(at) => assert!(at >= late && at <= deadline),
                other => panic!("{other:?}"),
            }
        }

        assert_eq!(p.after_failure(30, deadline, created, &mut rng), AttemptOutcome::Dead);
        assert_eq!(
            p.after_failure(30, deadline + chrono::TimeDelta::hours(1), created, &mut rng),
            AttemptOutcome::Dead
        );
    }
}
