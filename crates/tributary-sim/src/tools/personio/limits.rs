//! Personio's documented rate limits, imposed when `SimState::documented_limits()` is on:
//!
//! - `GET /v1/company/employees`: 300 requests a minute with bursts of at most 15 a second;
//!   beyond that "a 429 error", to be retried "with a delay of at least 1 second"
//!   (<https://developer.personio.de/changelog/rate-limits-on-get-employees-endpoint-may-6-2024>).
//! - `POST /v1/auth`: 60 requests a minute; once exceeded, "a 60 second cool-down period after
//!   which new Auth requests can be made" (<https://developer.personio.de/reference/auth>).
//! - Every v1 endpoint: 2,000 requests a minute per requesting IP address
//!   (<https://developer.personio.de/changelog/ip-address-based-rate-limiting-v1-endpoints>).
//!
//! Personio documents the status only; no `Retry-After` or `X-RateLimit-*` header is
//! documented, so none is sent, and the body is the v1 error envelope every other v1 error uses
//! (`ErrorResponse` in the Personnel Data OpenAPI file). A simulated tool has one client
//! address in practice (loopback), so the per-IP window is one window.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const MINUTE: Duration = Duration::from_secs(60);
const SECOND: Duration = Duration::from_secs(1);
pub(crate) const EMPLOYEES_PER_MINUTE: usize = 300;
const EMPLOYEES_PER_SECOND: usize = 15;
pub(crate) const AUTH_PER_MINUTE: usize = 60;
const AUTH_COOL_DOWN: Duration = Duration::from_secs(60);
pub(crate) const IP_PER_MINUTE: usize = 2_000;

/// Which documented limit a request falls under, besides the per-IP one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Auth,
    ListEmployees,
    Other,
}

/// Sliding windows of the requests admitted so far.
#[derive(Default)]
pub struct Limits {
    windows: Mutex<Windows>,
}

#[derive(Default)]
struct Windows {
    ip: VecDeque<Instant>,
    employees: VecDeque<Instant>,
    auth: VecDeque<Instant>,
    auth_blocked_until: Option<Instant>,
}

/// Whether fewer than `max` of `window`'s requests fall within `span` before `now` (dropping
/// the ones that no longer do).
fn room(window: &mut VecDeque<Instant>, now: Instant, span: Duration, max: usize) -> bool {
    while window.front().is_some_and(|t| now.duration_since(*t) >= span) {
        window.pop_front();
    }
    window.len() < max
}

fn within(window: &VecDeque<Instant>, now: Instant, span: Duration) -> usize {
    window
        .iter()
        .rev()
        .take_while(|t| now.duration_since(**t) < span)
        .count()
}

impl Limits {
    /// Admits a request (counting it) or refuses it; refused requests do not count.
    pub fn admit(&self, kind: Kind) -> bool {
        let now = Instant::now();
        let mut w = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        if !room(&mut w.ip, now, MINUTE, IP_PER_MINUTE) {
            return false;
        }
        match kind {
            Kind::Auth => {
                if w.auth_blocked_until.is_some_and(|until| now < until) {
                    return false;
                }
                if !room(&mut w.auth, now, MINUTE, AUTH_PER_MINUTE) {
                    w.auth_blocked_until = Some(now + AUTH_COOL_DOWN);
                    return false;
                }
                w.auth.push_back(now);
            }
            Kind::ListEmployees => {
                if !room(&mut w.employees, now, MINUTE, EMPLOYEES_PER_MINUTE)
                    || within(&w.employees, now, SECOND) >= EMPLOYEES_PER_SECOND
                {
                    return false;
                }
                w.employees.push_back(now);
            }
            Kind::Other => {}
        }
        w.ip.push_back(now);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn employees_burst_is_fifteen_a_second() {
        let limits = Limits::default();
        let admitted = (0..40).filter(|_| limits.admit(Kind::ListEmployees)).count();
        assert_eq!(admitted, EMPLOYEES_PER_SECOND);
        // Other endpoints are only under the per-IP window.
        assert!((0..100).all(|_| limits.admit(Kind::Other)));
    }

    #[test]
    fn auth_cools_down_after_sixty() {
        let limits = Limits::default();
        assert!((0..AUTH_PER_MINUTE).all(|_| limits.admit(Kind::Auth)));
        assert!(!limits.admit(Kind::Auth));
        let w = limits.windows.lock().unwrap();
        assert!(w.auth_blocked_until.is_some());
    }
}
