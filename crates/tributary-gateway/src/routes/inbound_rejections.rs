//! Refused inbound webhooks: counted, rate-limited per integration, and logged at a sampled
//! rate.
//!
//! The inbound route takes no API key, so anyone can send it forged deliveries; each used to
//! be answered 401 and logged as a WARN line, so a flood of them cost one log line each. Now
//! each integration (and, all together, the paths that name no integration taking webhooks)
//! has a budget of refusals: [`BURST`] at once, [`PER_SECOND`] sustained (GCRA, `governor`).
//! Within it a refusal is answered as before (401 or 404) and logged; beyond it, 429
//! `PLATFORM.RATE_LIMIT_EXCEEDED` with `Retry-After` (at least 1 s), logged in one line a
//! minute per integration; the next refusal within budget says how many went unlogged.
//!
//! The budget counts refusals only, after the proof is checked: a delivery the tool signed is
//! never refused because someone flooded its integration with forgeries. Checking costs an
//! integration and a secret lookup per request, bounded by the gateway's in-flight limit.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::http::HeaderValue;
use axum::http::header::RETRY_AFTER;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use tributary_model::ToolKind;

use crate::error::ApiError;

/// Refusals per integration answered (and logged) at once after a quiet spell.
pub const BURST: u32 = 20;
/// Refusals per integration per second answered (and logged), sustained.
pub const PER_SECOND: u32 = 2;

/// At most one line per integration and this period says refusals are being answered 429.
const SPELL_LINE_EVERY: Duration = Duration::from_secs(60);

#[derive(Debug, Default)]
struct Spell {
    /// Refusals answered 429 and not logged one by one since the last refusal within budget.
    unlogged: u64,
    last_line: Option<Instant>,
}

/// The budget key of paths that name no integration taking this tool's webhooks.
const UNKNOWN: &str = "(unknown integration)";

/// How many refusals the gateway answered, rate-limited and logged since it started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RejectionStats {
    /// Answered 401 or 404 within the budget.
    pub refused: u64,
    /// Answered 429 beyond it.
    pub limited: u64,
    /// WARN lines written about refusals.
    pub logged: u64,
}

pub struct InboundRejections {
    limiter: DefaultKeyedRateLimiter<String>,
    /// Per budget key: the spell beyond the budget.
    spells: Mutex<HashMap<String, Spell>>,
    refused: AtomicU64,
    limited: AtomicU64,
    logged: AtomicU64,
}

impl Default for InboundRejections {
    fn default() -> Self {
        let quota = Quota::per_second(NonZeroU32::new(PER_SECOND).expect("non-zero"))
            .allow_burst(NonZeroU32::new(BURST).expect("non-zero"));
        Self {
            limiter: DefaultKeyedRateLimiter::keyed(quota),
            spells: Mutex::default(),
            refused: AtomicU64::new(0),
            limited: AtomicU64::new(0),
            logged: AtomicU64::new(0),
        }
    }
}

impl std::fmt::Debug for InboundRejections {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InboundRejections")
            .field("stats", &self.stats())
            .finish()
    }
}

impl InboundRejections {
    pub fn stats(&self) -> RejectionStats {
        RejectionStats {
            refused: self.refused.load(Ordering::Relaxed),
            limited: self.limited.load(Ordering::Relaxed),
            logged: self.logged.load(Ordering::Relaxed),
        }
    }

    /// The answer to a refused delivery: `error` itself within the integration's budget, 429
    /// beyond it. `integration` is the integration the path names, once it is known to take
    /// the tool's webhooks.
    pub fn answer(&self, integration: Option<&str>, tool: &str, error: ApiError) -> Response {
        let key = integration.unwrap_or(UNKNOWN).to_owned();
        let mut spells = self.spells.lock().unwrap_or_else(|p| p.into_inner());
        match self.limiter.check_key(&key) {
            Ok(()) => {
                self.refused.fetch_add(1, Ordering::Relaxed);
                let unlogged = spells.get_mut(&key).map_or(0, |s| std::mem::take(&mut s.unlogged));
                drop(spells);
                self.logged.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(
                    integration_id = %key,
                    tool,
                    reason = %error,
                    refused_unlogged_before = unlogged,
                    "inbound webhook refused"
                );
                error.into_response()
            }
            Err(not_until) => {
                self.limited.fetch_add(1, Ordering::Relaxed);
                let spell = spells.entry(key.clone()).or_default();
                spell.unlogged += 1;
                if spell.last_line.is_none_or(|at| at.elapsed() >= SPELL_LINE_EVERY) {
                    spell.last_line = Some(Instant::now());
                    self.logged.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(
                        integration_id = %key,
                        tool,
                        reason = %error,
                        "inbound webhooks refused beyond the budget; answering 429 and logging one line a minute"
                    );
                }
                drop(spells);
                let wait = not_until.wait_time_from(DefaultClock::default().now());
                let retry_after_secs = (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1);
                let mut response = ApiError::RateLimited {
                    limit: PER_SECOND,
                    retry_after_secs,
                }
                .into_response();
                response
                    .headers_mut()
                    .insert(RETRY_AFTER, HeaderValue::from(retry_after_secs));
                response
            }
        }
    }
}

/// The tool's name for logs, from the path segment when it names no tool we know.
pub fn tool_label(tool: Option<ToolKind>) -> &'static str {
    tool.map_or("(unknown tool)", ToolKind::as_str)
}
