//! The admin token. One shared secret guards the whole operator API; it comes from
//! `TRIBUTARY_ADMIN_TOKEN` and travels as `Authorization: Bearer <token>`.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use sha2::{Digest, Sha256};

use crate::error::OpsError;
use crate::state::OperatorState;

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
    fn blocked(&self, client: IpAddr) -> Option<Duration> {
        let blocked = self.blocked.lock().unwrap_or_else(|e| e.into_inner());
        let until = *blocked.get(&client)?;
        until.checked_duration_since(Instant::now())
    }

    /// Charges one failure to `client`: `Some(wait)` once it is over its budget.
    fn charge(&self, client: IpAddr) -> Option<Duration> {
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
    fn log(&self, client: IpAddr, path: &str, error: &OpsError, limited: bool) -> bool {
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

/// The client a failure is charged to: its address, an IPv6 one cut to its /64.
fn client_of(request: &Request) -> IpAddr {
    match request.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip()) {
        Some(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let bits = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(Ipv6Addr::from(bits))
            }
        },
        Some(v4) => v4,
        None => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    }
}

/// The configured token, kept only as its SHA-256 digest.
#[derive(Debug)]
pub(crate) struct AdminToken {
    digest: Option<Vec<u8>>,
}

impl AdminToken {
    pub(crate) fn new(token: Option<&str>) -> Self {
        let digest = token.map(str::trim).filter(|t| !t.is_empty()).map(digest);
        Self { digest }
    }

    /// Compares digests rather than the tokens, and every byte of them, so the time taken says
    /// nothing about how much of a guess was right.
    fn check(&self, given: &str) -> Result<(), OpsError> {
        let Some(expected) = &self.digest else {
            return Err(OpsError::NotConfigured);
        };
        let given = digest(given);
        let difference = expected.iter().zip(&given).fold(0u8, |acc, (a, b)| acc | (a ^ b));
        if difference == 0 && expected.len() == given.len() {
            Ok(())
        } else {
            Err(OpsError::Unauthenticated("The admin token is wrong.".into()))
        }
    }

    fn configured(&self) -> bool {
        self.digest.is_some()
    }
}

fn digest(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// Lets a request through only with the admin token. With none configured every request is
/// refused (403), whatever it carries. Wrong bearer tokens are charged to the client
/// ([`Failures`]): past its budget it gets 429 with `Retry-After`. A request with no bearer
/// token at all is refused without a charge (it guesses nothing). Every failure is logged,
/// sampled.
pub(crate) async fn require_admin(State(state): State<OperatorState>, request: Request, next: Next) -> Response {
    if !state.admin.configured() {
        return OpsError::NotConfigured.into_response();
    }
    let client = client_of(&request);
    if let Some(wait) = state.failures.blocked(client) {
        let error = OpsError::TooManyFailures {
            retry_after_secs: tributary_gateway::retry_after_secs(wait),
        };
        state.failures.log(client, request.uri().path(), &error, true);
        return error.into_response();
    }
    let token = match bearer_token(request.headers()) {
        Ok(token) => token,
        // No token, or not a bearer one: it cannot be right, so it is no guess to charge.
        Err(error) => {
            state.failures.log(client, request.uri().path(), &error, false);
            return error.into_response();
        }
    };
    match state.admin.check(token) {
        Ok(()) => next.run(request).await,
        Err(error) => {
            let limited = state.failures.charge(client);
            state
                .failures
                .log(client, request.uri().path(), &error, limited.is_some());
            match limited {
                Some(wait) => OpsError::TooManyFailures {
                    retry_after_secs: tributary_gateway::retry_after_secs(wait),
                }
                .into_response(),
                None => error.into_response(),
            }
        }
    }
}

fn bearer_token(headers: &HeaderMap) -> Result<&str, OpsError> {
    let value = headers
        .get(AUTHORIZATION)
        .ok_or_else(|| OpsError::Unauthenticated("Missing `Authorization: Bearer <admin token>` header.".into()))?;
    let value = value
        .to_str()
        .map_err(|_| OpsError::Unauthenticated("The Authorization header is not valid ASCII.".into()))?;
    // RFC 9110 §11.1: the auth scheme is case-insensitive.
    let (scheme, token) = value.split_once(' ').unwrap_or((value, ""));
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return Err(OpsError::Unauthenticated(
            "The Authorization header must be `Bearer <admin token>`.".into(),
        ));
    }
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_tokens_by_digest() {
        let admin = AdminToken::new(Some("s3cret"));
        assert!(admin.check("s3cret").is_ok());
        assert!(matches!(admin.check("s3cres"), Err(OpsError::Unauthenticated(_))));
        assert!(matches!(admin.check(""), Err(OpsError::Unauthenticated(_))));
    }

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

    #[test]
    fn no_or_blank_token_disables_the_api() {
        for token in [None, Some(""), Some("  ")] {
            let admin = AdminToken::new(token);
            assert!(!admin.configured());
            assert!(matches!(admin.check(""), Err(OpsError::NotConfigured)));
        }
    }
}
