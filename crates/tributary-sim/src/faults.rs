//! Fault injection: the ways real source APIs misbehave, on demand.
//!
//! A [`FaultPlan`] holds an ordered list of rules. Each rule matches requests to one tool
//! (optionally only paths / query strings containing a substring) and counts every request
//! it matches on its own clock: the first `skip` matches pass untouched, the next `times`
//! matches (all of them when `times` is null) get the rule's action. When several rules are
//! due for one request the first in order acts and the others only count it, so one request
//! suffers at most one rule's fault. Exhausted rules stay listed with their counters.
//!
//! The actions are applied by [`crate::gate::middleware`], which `server::app` wraps around
//! each tool's router: the tool modules contain no fault code. The same middleware writes the
//! request log and applies the per-tool latency setting (added to every request, for
//! benchmarks of slow sources).
//!
//! `repeat_page` makes pagination loop: the middleware serves the previous successful
//! response to the same path again (for a page request: the previous page, with its
//! headers, so a `Link: rel="next"` cursor repeats too). Tool modules need not know about
//! it; one that wants a more tool-specific loop (say, a next-page cursor pointing back at
//! the current page) may ask [`FaultPlan::pagination_loop`] while rendering a page.

use std::collections::HashMap;
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use serde::{Deserialize, Serialize};
use tributary_model::ToolKind;

pub type FaultId = u64;

/// How long a `timeout` fault hangs unless told otherwise: longer than any sane client
/// timeout, so the client gives up first.
pub const DEFAULT_TIMEOUT_MS: u64 = 120_000;

/// What to do to a matching request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FaultAction {
    /// Wait `ms`, then serve normally.
    Latency { ms: u64 },
    /// Answer with `code` instead of serving. `retry_after` becomes the Retry-After header
    /// verbatim (seconds, or an HTTP date); `body` defaults to a small JSON error.
    Status {
        code: u16,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_after: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        body: Option<String>,
    },
    /// Hang without answering for `ms` (default two minutes); if the client is still there
    /// afterwards it gets a 504.
    Timeout {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ms: Option<u64>,
    },
    /// Serve the real response with status 200 and its body cut at half its length.
    Truncate,
    /// Serve 200 with a JSON body that breaks off mid-document.
    Malformed,
    /// Serve 200 with `Content-Type: application/json` and no body at all.
    EmptyBody,
    /// Serve the previous successful response to the same path again.
    RepeatPage,
    /// Not a failure: the world moving. The mutations are applied to the tool's company as the
    /// request arrives, then the request is served from the changed data — so a test can delete,
    /// insert or reorder records exactly between two pages of a listing (`skip` picks the page).
    /// A mutation that no longer applies (its record already gone) is skipped.
    Mutate { mutations: Vec<crate::Mutation> },
}

impl FaultAction {
    pub fn name(&self) -> &'static str {
        match self {
            FaultAction::Latency { .. } => "latency",
            FaultAction::Status { .. } => "status",
            FaultAction::Timeout { .. } => "timeout",
            FaultAction::Truncate => "truncate",
            FaultAction::Malformed => "malformed",
            FaultAction::EmptyBody => "empty_body",
            FaultAction::RepeatPage => "repeat_page",
            FaultAction::Mutate { .. } => "mutate",
        }
    }
}

/// A fault rule as a caller describes it (the body of `POST /_control/faults`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaultRule {
    pub tool: ToolKind,
    /// Only requests whose path (relative to the tool's base, e.g.
    /// `/v1/company/employees`) contains this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_contains: Option<String>,
    /// Only requests whose raw query string contains this (e.g. `offset=200`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query_contains: Option<String>,
    /// Only requests with this HTTP method (case-insensitive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// Let this many matching requests through before acting.
    #[serde(default)]
    pub skip: u64,
    /// Act on this many matches after the skipped ones; absent or null: on all of them.
    #[serde(default)]
    pub times: Option<u64>,
    /// Act on only this fraction of the due matches (0.2: a 20 % error rate). Which ones is
    /// drawn from `seed` and the match count, so the same traffic meets the same faults.
    /// Absent: every due match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<f64>,
    #[serde(default)]
    pub seed: u64,
    pub action: FaultAction,
}

impl FaultRule {
    /// A rule for every request to `tool`, acting on all of them.
    pub fn new(tool: ToolKind, action: FaultAction) -> Self {
        Self {
            tool,
            path_contains: None,
            query_contains: None,
            method: None,
            skip: 0,
            times: None,
            rate: None,
            seed: 0,
            action,
        }
    }

    /// Acts on about `rate` of the due matches (see [`FaultRule::rate`]).
    pub fn rate(mut self, rate: f64, seed: u64) -> Self {
        self.rate = Some(rate);
        self.seed = seed;
        self
    }

    pub fn path(mut self, contains: impl Into<String>) -> Self {
        self.path_contains = Some(contains.into());
        self
    }

    pub fn query(mut self, contains: impl Into<String>) -> Self {
        self.query_contains = Some(contains.into());
        self
    }

    pub fn skip(mut self, n: u64) -> Self {
        self.skip = n;
        self
    }

    pub fn times(mut self, n: u64) -> Self {
        self.times = Some(n);
        self
    }

    fn matches(&self, tool: ToolKind, method: &str, path: &str, query: &str) -> bool {
        self.tool == tool
            && self.path_contains.as_deref().is_none_or(|p| path.contains(p))
            && self.query_contains.as_deref().is_none_or(|q| query.contains(q))
            && self.method.as_deref().is_none_or(|m| m.eq_ignore_ascii_case(method))
    }

    fn validate(&self) -> Result<(), FaultError> {
        match &self.action {
            FaultAction::Status { code, retry_after, .. } => {
                if StatusCode::from_u16(*code).is_err() {
                    return Err(FaultError::Invalid(format!("status code {code} is not an HTTP status")));
                }
                if let Some(r) = retry_after
                    && HeaderValue::from_str(r).is_err()
                {
                    return Err(FaultError::Invalid(format!(
                        "retry_after `{r}` is not a valid header value"
                    )));
                }
            }
            FaultAction::Latency { ms } if *ms > 3_600_000 => {
                return Err(FaultError::Invalid(format!(
                    "latency of {ms} ms is longer than an hour"
                )));
            }
            _ => {}
        }
        if let Some(rate) = self.rate
            && !(rate > 0.0 && rate <= 1.0)
        {
            return Err(FaultError::Invalid(format!("rate {rate} must be in (0, 1]")));
        }
        if self.times == Some(0) {
            return Err(FaultError::Invalid(
                "times is 0: the rule would never act (use null for always)".into(),
            ));
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum FaultError {
    #[error("invalid fault rule: {0}")]
    Invalid(String),
}

/// An installed rule with its counters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InstalledFault {
    pub id: FaultId,
    #[serde(flatten)]
    pub rule: FaultRule,
    /// Requests the matcher accepted so far.
    pub matched: u64,
    /// Requests the action was applied to so far.
    pub applied: u64,
}

impl InstalledFault {
    fn exhausted(&self) -> bool {
        self.rule.times.is_some_and(|t| self.applied >= t)
    }
}

/// A number in [0, 1) determined by (seed, n): SplitMix64's finaliser, enough to spread a
/// fault rate evenly and reproducibly over a rule's matches.
fn unit_draw(seed: u64, n: u64) -> f64 {
    let mut z = seed ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

/// The response a `repeat_page` rule replays.
#[derive(Debug, Clone)]
pub(crate) struct Remembered {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
}

/// The decision for one request.
#[derive(Debug, Clone)]
pub struct Decision {
    pub rule_id: FaultId,
    pub action: FaultAction,
    pub(crate) replay: Option<Remembered>,
}

#[derive(Debug, Default)]
pub struct FaultPlan {
    rules: Vec<InstalledFault>,
    next_id: FaultId,
    latency_ms: HashMap<ToolKind, u64>,
    /// Last successful response per (tool, path), kept only while a `repeat_page` rule
    /// could use it.
    remembered: HashMap<(ToolKind, String), Remembered>,
}

impl FaultPlan {
    /// Installs `rule` after the existing ones; returns its id.
    pub fn add(&mut self, rule: FaultRule) -> Result<FaultId, FaultError> {
        rule.validate()?;
        self.next_id += 1;
        let id = self.next_id;
        self.rules.push(InstalledFault {
            id,
            rule,
            matched: 0,
            applied: 0,
        });
        Ok(id)
    }

    pub fn remove(&mut self, id: FaultId) -> bool {
        let before = self.rules.len();
        self.rules.retain(|r| r.id != id);
        self.forget_unused();
        self.rules.len() != before
    }

    /// Removes all rules, or those of one tool. Latency settings stay.
    pub fn clear(&mut self, tool: Option<ToolKind>) {
        self.rules.retain(|r| tool.is_some_and(|t| r.rule.tool != t));
        self.forget_unused();
    }

    pub fn rules(&self) -> &[InstalledFault] {
        &self.rules
    }

    pub fn rule(&self, id: FaultId) -> Option<&InstalledFault> {
        self.rules.iter().find(|r| r.id == id)
    }

    /// Latency added to every request to `tool` (0 turns it off).
    pub fn set_latency(&mut self, tool: ToolKind, ms: u64) {
        if ms == 0 {
            self.latency_ms.remove(&tool);
        } else {
            self.latency_ms.insert(tool, ms);
        }
    }

    pub fn latency(&self, tool: ToolKind) -> Duration {
        Duration::from_millis(self.latency_ms.get(&tool).copied().unwrap_or(0))
    }

    /// Whether a `repeat_page` rule that has not run out covers `path` of `tool`.
    ///
    /// For tool modules, optionally: while this is true the framework already replays the
    /// previous page for due requests, so a module needs to do nothing; a module may use
    /// it to loop in its own terms instead (e.g. emit a next-page cursor equal to the
    /// current one). It does not count as a match.
    pub fn pagination_loop(&self, tool: ToolKind, path: &str) -> bool {
        self.rules.iter().any(|r| {
            r.rule.action == FaultAction::RepeatPage
                && !r.exhausted()
                && r.rule.tool == tool
                && r.rule.path_contains.as_deref().is_none_or(|p| path.contains(p))
        })
    }

    /// Counts the request against every matching rule and picks the first that is due.
    pub fn decide(&mut self, tool: ToolKind, method: &str, path: &str, query: &str) -> Option<Decision> {
        let mut decision = None;
        for installed in &mut self.rules {
            if !installed.rule.matches(tool, method, path, query) {
                continue;
            }
            installed.matched += 1;
            let due = installed.matched > installed.rule.skip
                && !installed.exhausted()
                && installed
                    .rule
                    .rate
                    .is_none_or(|rate| unit_draw(installed.rule.seed, installed.matched) < rate);
            if !due || decision.is_some() {
                continue;
            }
            let replay = if installed.rule.action == FaultAction::RepeatPage {
                // Nothing served yet to repeat: this request passes and is remembered.
                match self.remembered.get(&(tool, path.to_string())) {
                    Some(r) => Some(r.clone()),
                    None => continue,
                }
            } else {
                None
            };
            installed.applied += 1;
            decision = Some(Decision {
                rule_id: installed.id,
                action: installed.rule.action.clone(),
                replay,
            });
        }
        decision
    }

    pub(crate) fn remember(&mut self, tool: ToolKind, path: &str, response: Remembered) {
        self.remembered.insert((tool, path.to_string()), response);
    }

    fn forget_unused(&mut self) {
        let rules = &self.rules;
        self.remembered.retain(|(tool, path), _| {
            rules.iter().any(|r| {
                r.rule.action == FaultAction::RepeatPage
                    && !r.exhausted()
                    && r.rule.tool == *tool
                    && r.rule.path_contains.as_deref().is_none_or(|p| path.contains(p))
            })
        });
    }
}

#[cfg(test)]
mod rate_tests {
    use super::*;

    fn acted(plan: &mut FaultPlan, n: u64) -> u64 {
        (0..n)
            .filter(|_| {
                plan.decide(ToolKind::Personio, "GET", "/v1/company/employees", "")
                    .is_some()
            })
            .count() as u64
    }

    #[test]
    fn rate_acts_on_about_that_fraction_reproducibly() {
        let rule = FaultRule::new(
            ToolKind::Personio,
            FaultAction::Status {
                code: 503,
                retry_after: None,
                body: None,
            },
        )
        .rate(0.3, 7);
        let mut a = FaultPlan::default();
        a.add(rule.clone()).unwrap();
        let mut b = FaultPlan::default();
        b.add(rule).unwrap();
        let (na, nb) = (acted(&mut a, 2000), acted(&mut b, 2000));
        assert_eq!(na, nb, "same seed, same faults");
        assert!((500..700).contains(&na), "about 30 % of 2000: {na}");
    }

    #[test]
    fn rate_outside_unit_interval_is_refused() {
        for rate in [0.0, -0.5, 1.5, f64::NAN] {
            let rule = FaultRule::new(ToolKind::Personio, FaultAction::Truncate).rate(rate, 0);
            assert!(FaultPlan::default().add(rule).is_err(), "{rate}");
        }
    }
}
