//! Wrong admin tokens per client: the budget a guesser runs out of, and the sampled log of
//! failures. The operator state holds it; [`super::require_admin`] charges it.

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

use crate::error::OpsError;

/// Wrong admin tokens one client may send at once before it must wait (requests without a
/// bearer token guess nothing and are not counted).
const FAILURE_BURST: u32 = 10;
/// After the burst, one more wrong token every this long: ten a minute. A person who mistyped
/// the token is not held up; a guesser gets 14,400 guesses a day against a token that should
/// have 256 bits, and a WARN line says so.
const FAILURE_REFILL: Duration = Duration::from_secs(6);
/// Forget idle clients once the tables hold this many, so spoofed sources cannot grow them
/// forever.
const TRIM_AT: usize = 10_000;
/// At most one WARN line about failed attempts per this long; each says how many it stands for.
const LOG_EVERY: Duration = Duration::from_secs(1);

/// Failed admin-token attempts per client, and the sampled log of them.
///
/// Clients are told apart by the peer address of their connection (an IPv6 client by its /64,
/// which one host usually has to itself). `X-Forwarded-For` is not trusted: anyone can send
/// it. Behind a reverse proxy every client therefore shares the proxy's budget, and a guesser
/// there locks the operators out for as long as it keeps guessing — the safe way to fail for
/// an admin API. Without connection info (a router served by something other than
/// `tributary_gateway::serve`) all clients share one budget.
pub(crate) struct Failures {
    limiter: DefaultKeyedRateLimiter<IpAddr>,
    /// Clients refused until an instant, whatever token they bring: otherwise a blocked guesser
    /// would still learn from a 200 that its guess was right.
    blocked: Mutex<HashMap<IpAddr, Instant>>,
    log: Mutex<LogSample>,
}

#[derive(Default)]
struct LogSample {
    last: Option<Instant>,
    unlogged: u64,
}

impl std::fmt::Debug for Failures {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Failures").finish_non_exhaustive()
    }
}

impl Default for Failures {
    fn default() -> Self {
        let burst = NonZeroU32::new(FAILURE_BURST).unwrap_or(NonZeroU32::MIN);
        let quota = Quota::with_period(FAILURE_REFILL)
            .unwrap_or_else(|| Quota::per_minute(NonZeroU32::MIN))
            .allow_burst(burst);
        Self {
            limiter: governor::RateLimiter::keyed(quota),
            blocked: Mutex::default(),
            log: Mutex::default(),
        }
    }
}

impl Failures {
    /// Whether `client` must wait, and how long.
    pub(super) fn blocked(&self, client: IpAddr) -> Option<Duration> {
        let blocked = self.blocked.lock().unwrap_or_else(|e| e.into_inner());
        let until = *blocked.get(&client)?;
        until.checked_duration_since(Instant::now())
    }

    /// Charges one failure to `client`: `Some(wait)` once it is over its budget.
    pub(super) fn charge(&self, client: IpAddr) -> Option<Duration> {
        if self.limiter.len() > TRIM_AT {
            self.limiter.retain_recent();
        }
        let not_until = self.limiter.check_key(&client).err()?;
        let wait = not_until.wait_time_from(DefaultClock::default().now());
        let mut blocked = self.blocked.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        if blocked.len() > TRIM_AT {
            blocked.retain(|_, until| *until > now);
        }
        blocked.insert(client, now + wait);
        Some(wait)
    }

    /// A WARN line for this failure, unless one was written less than [`LOG_EVERY`] ago; then
    /// it is counted into the next line. Whether a line was written.
    pub(super) fn log(&self, client: IpAddr, path: &str, error: &OpsError, limited: bool) -> bool {
        let mut sample = self.log.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        if sample.last.is_some_and(|last| now.duration_since(last) < LOG_EVERY) {
            sample.unlogged += 1;
            return false;
        }
        let unlogged = std::mem::take(&mut sample.unlogged);
        sample.last = Some(now);
        drop(sample);
        tracing::warn!(
            client = %client,
            path,
            limited,
            also_failed_since_last_line = unlogged,
            "operator API: failed admin-token attempt: {error}"
        );
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_are_limited_per_client() {
        let failures = Failures::default();
        let guesser: IpAddr = "192.0.2.1".parse().unwrap();
        let bystander: IpAddr = "192.0.2.2".parse().unwrap();
        for _ in 0..FAILURE_BURST {
            assert_eq!(failures.charge(guesser), None);
        }
        let wait = failures.charge(guesser).expect("over budget");
        assert!(wait <= FAILURE_REFILL, "{wait:?}");
        assert!(failures.blocked(guesser).is_some());
        assert_eq!(failures.blocked(bystander), None);
        assert_eq!(failures.charge(bystander), None);
    }

    #[test]
    fn a_flood_of_failures_is_logged_sampled() {
        let failures = Failures::default();
        let client: IpAddr = "192.0.2.1".parse().unwrap();
        let error = OpsError::Unauthenticated("The admin token is wrong.".into());
        let written = (0..1000)
            .filter(|_| failures.log(client, "/ops/v1/queues", &error, false))
            .count();
        assert_eq!(written, 1, "1,000 failures within a second make one line");
        assert_eq!(failures.log.lock().unwrap().unlogged, 999);
    }
}
