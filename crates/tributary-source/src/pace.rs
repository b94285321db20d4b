//! Pacing for the limits a client must keep to without being told their numbers.
//!
//! Two kinds: a tool's *documented* limits ([`documented_quota`]), kept from the first request,
//! and a pace *learnt* from a tool that publishes no number and only answers 429 with
//! `Retry-After` ([`LearntPace`]; BambooHR: "Rate limits stay the same", no figure given).

use std::collections::VecDeque;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use governor::Quota;

/// A tool's documented request allowance for each set of credentials: `requests` per `per`,
/// for one endpoint (as connectors name it in [`crate::SourceClient::send`], e.g.
/// `GET /v1/company/employees`) or, with `endpoint: None`, for every request together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub endpoint: Option<&'static str>,
    pub requests: NonZeroU32,
    pub per: Duration,
}

impl RateLimit {
    /// Requests per second in the long run.
    pub fn per_second(&self) -> f64 {
        self.requests.get() as f64 / self.per.as_secs_f64()
    }
}

/// The quota that keeps to a documented "N requests per window" whether the tool counts in a
/// sliding or a fixed window: a burst of `B` and the other `N - B` spread evenly, so any span
/// of one window holds at most `N`. The burst lets the client catch up after a lull (a page
/// boundary, a stream waiting on its next page) instead of losing the lull for good; it is a
/// fiftieth of the window, small enough that the evenly spaced remainder costs ~2 % of the
/// rate.
pub(crate) fn documented_quota(limit: &RateLimit) -> Option<Quota> {
    let n = limit.requests.get();
    let burst = (n / 50).max(1);
    let spaced = n.saturating_sub(burst).max(1);
    // Rounded up to the nanosecond: a period rounded down would let one request too many in
    // over enough windows.
    let period = limit.per / spaced + Duration::from_nanos(1);
    Some(Quota::with_period(period)?.allow_burst(NonZeroU32::new(burst)?))
}

/// How long the accepted requests are counted to estimate the rate a tool lets through.
const OBSERVED: Duration = Duration::from_secs(1);
/// After a refusal the pace settles at this share of what the tool was accepting.
const BACK_OFF: f64 = 0.9;
/// Each second without a refusal the pace rises by this factor, probing for a raised limit
/// (or a first estimate that was too low) at a cost of one refusal every ~10 s near the limit.
const RAISE: f64 = 1.01;
const RAISE_EVERY: Duration = Duration::from_secs(1);
/// The slowest pace learnt: one request every five seconds.
const FLOOR: f64 = 0.2;
/// A refusal teaches a rate only when at least this many requests were accepted just before
/// it. Fewer means the window was spent by someone else (another client of the same account)
/// or by an earlier run: waiting out `Retry-After` is the whole answer, and a rate taken from
/// so few would pace the run at a crawl for minutes.
const EVIDENCE: usize = 3;

/// A rate learnt from the tool's own refusals, additive-increase/multiplicative-decrease as
/// TCP does with its window: unpaced until the first 429, then a little under the rate the
/// tool was accepting, rising slowly while nothing is refused.
///
/// Waiting out `Retry-After` alone is not enough for such a tool: with several requests in
/// flight, every window ends in a volley of refusals, each of which blocks the integration
/// for at least a whole second of `Retry-After`; measured against BambooHR's simulated stand-in
/// (10 a second) that halved the throughput (BENCHMARKS.md §8).
pub(crate) struct LearntPace {
    state: Mutex<State>,
}

struct State {
    /// When the tool accepted requests, newest last, within [`OBSERVED`].
    accepted: VecDeque<Instant>,
    /// Requests per second kept to; `None` until the tool first refuses.
    rate: Option<f64>,
    /// The earliest moment the next request may go. Slots are handed out here rather than by
    /// a `governor` limiter because the rate changes every second and a limiter's quota is
    /// fixed: swapping limiters would let requests queued on the old one and new ones on the
    /// new one run side by side, at twice the rate.
    next_slot: Instant,
    /// The end of the current refusal episode: refusals before it are the same volley of
    /// in-flight requests and lower the rate only once.
    episode_until: Option<Instant>,
    last_raise: Instant,
}

impl LearntPace {
    pub(crate) fn new() -> Self {
        Self {
            state: Mutex::new(State {
                accepted: VecDeque::new(),
                rate: None,
                next_slot: Instant::now(),
                episode_until: None,
                last_raise: Instant::now(),
            }),
        }
    }

    /// The rate currently kept to, if the tool has refused anything yet.
    pub(crate) fn rate(&self) -> Option<f64> {
        self.lock().rate
    }

    /// Waits for this pace's next slot (at once while nothing has been refused).
    pub(crate) async fn until_ready(&self) {
        let slot = {
            let mut s = self.lock();
            let Some(rate) = s.rate else { return };
            let slot = s.next_slot.max(Instant::now());
            s.next_slot = slot + Duration::from_secs_f64(1.0 / rate);
            slot
        };
        tokio::time::sleep_until(slot.into()).await;
    }

    /// The tool accepted a request.
    pub(crate) fn accepted(&self, now: Instant) {
        let mut s = self.lock();
        s.accepted.push_back(now);
        while s.accepted.front().is_some_and(|t| now.duration_since(*t) > OBSERVED) {
            s.accepted.pop_front();
        }
        let calm = s.episode_until.is_none_or(|until| now >= until);
        if let Some(rate) = s.rate
            && calm
            && now.duration_since(s.last_raise) >= RAISE_EVERY
        {
            s.set_rate(rate * RAISE, now);
        }
    }

    /// The tool refused a request as over its limit, asking for `retry_after` (if it said).
    pub(crate) fn refused(&self, now: Instant, retry_after: Option<Duration>) {
        let mut s = self.lock();
        if s.episode_until.is_some_and(|until| now < until) {
            return;
        }
        let accepted = s
            .accepted
            .iter()
            .filter(|t| now.duration_since(**t) <= OBSERVED)
            .count();
        let seen = accepted as f64 / OBSERVED.as_secs_f64();
        let from = match s.rate {
            None if accepted < EVIDENCE => return,
            None => seen,
            // Too few to measure (the refusal came right after a wait): back off from the pace
            // kept so far, as AIMD does.
            Some(rate) if accepted < EVIDENCE => rate,
            Some(rate) => seen.min(rate),
        };
        // Requests in flight when the tool refused come back refused too; they belong to this
        // episode, which lasts as long as the tool asked us to wait, and at least a second.
        s.episode_until = Some(now + retry_after.unwrap_or_default().max(OBSERVED));
        s.set_rate((from * BACK_OFF).max(FLOOR), now);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl State {
    fn set_rate(&mut self, rate: f64, now: Instant) {
        self.rate = Some(rate);
        self.last_raise = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limit(requests: u32, secs: u64) -> RateLimit {
        RateLimit {
            endpoint: None,
            requests: NonZeroU32::new(requests).unwrap(),
            per: Duration::from_secs(secs),
        }
    }

    #[test]
    fn documented_quota_never_exceeds_the_window() {
        // GCRA admits at most `burst + window / interval` requests in any window; one short of
        // the documented number leaves room for jitter between our clock and the tool's.
        for (n, secs) in [(2000, 60), (300, 60), (60, 60), (75, 30), (10, 1), (2, 1)] {
            let q = documented_quota(&limit(n, secs)).unwrap();
            let burst = q.burst_size().get();
            let spaced = Duration::from_secs(secs).as_secs_f64() / q.replenish_interval().as_secs_f64();
            let most = burst as f64 + spaced;
            assert!(most <= n as f64, "{n}/{secs}s: at most {most}");
            assert!(most >= n as f64 - 1.0 - 1e-6, "{n}/{secs}s: only {most}");
        }
    }

    #[test]
    fn learnt_pace_backs_off_once_per_volley_and_rises_while_calm() {
        let pace = LearntPace::new();
        let start = Instant::now();
        assert_eq!(pace.rate(), None, "no pace until the tool refuses");
        for i in 0..10 {
            pace.accepted(start + Duration::from_millis(i * 90));
        }
        let refused_at = start + Duration::from_millis(950);
        pace.refused(refused_at, Some(Duration::from_secs(1)));
        let rate = pace.rate().unwrap();
        assert!((rate - 9.0).abs() < 1e-9, "ten accepted within the second: {rate}");
        // The rest of the volley does not lower it again.
        pace.refused(refused_at + Duration::from_millis(10), Some(Duration::from_secs(1)));
        assert_eq!(pace.rate(), Some(rate));
        // Calm after the episode: rises 1 % a second.
        pace.accepted(refused_at + Duration::from_millis(1100));
        let raised = pace.rate().unwrap();
        assert!(raised > rate && raised < rate * 1.02, "{raised}");
        // A refusal in a later episode never sets a pace above the one it was kept to.
        pace.refused(refused_at + Duration::from_secs(5), None);
        let lowered = pace.rate().unwrap();
        assert!(lowered <= raised * BACK_OFF + 1e-9, "{lowered}");
    }

    #[test]
    fn a_refusal_after_too_few_accepted_teaches_nothing() {
        // The window was spent before we came (another client of the account): no pace yet.
        let pace = LearntPace::new();
        let now = Instant::now();
        pace.accepted(now);
        pace.refused(now + Duration::from_millis(10), Some(Duration::from_secs(1)));
        assert_eq!(pace.rate(), None);
    }

    #[test]
    fn learnt_pace_has_a_floor() {
        let pace = LearntPace::new();
        let start = Instant::now();
        for i in 0..EVIDENCE as u64 {
            pace.accepted(start + Duration::from_millis(i));
        }
        pace.refused(start + Duration::from_millis(10), None);
        let first = pace.rate().expect("learnt");
        assert!((first - EVIDENCE as f64 * BACK_OFF).abs() < 1e-9, "{first}");
        // Later refusals with nothing accepted just before them back off from the pace kept,
        // down to the floor and no further.
        for n in 1..100 {
            pace.refused(start + Duration::from_secs(10 * n), None);
        }
        assert_eq!(pace.rate(), Some(FLOOR));
    }
}
