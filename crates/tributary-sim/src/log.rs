//! The log of requests the simulated tools served, for tests that assert how a connector
//! talked to a source ("this endpoint was never requested", "each page was fetched exactly
//! once"). Control API calls are not logged.
//!
//! Bounded: the oldest entries are dropped beyond the capacity, but sequence numbers keep
//! counting, so `since_seq` stays meaningful across drops and clears.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};
use tributary_model::ToolKind;

use crate::company::Ts;
use crate::faults::FaultId;

pub const DEFAULT_CAPACITY: usize = 1_000_000;

/// Status logged for a request whose client went away before it was answered (nginx's
/// convention).
pub const CLIENT_CLOSED: u16 = 499;

/// One served request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogEntry {
    /// Increases by one per logged request, in the order requests finished.
    pub seq: u64,
    pub tool: ToolKind,
    pub method: String,
    /// Relative to the tool's base (the path the tool's router sees).
    pub path: String,
    /// The raw query string, empty when there was none.
    pub query: String,
    /// The scheme of the `Authorization` header (`Basic`, `Bearer`), if one was sent: contract
    /// tests hold it against the operation's documented security scheme.
    #[serde(default)]
    pub auth_scheme: Option<String>,
    /// The `Accept` header, if one was sent (BambooHR answers XML without it).
    #[serde(default)]
    pub accept: Option<String>,
    pub status: u16,
    /// The fault rule that acted on this request, if any.
    pub fault: Option<AppliedFault>,
    /// When the request arrived.
    pub at: Ts,
    pub duration_ms: u64,
}

impl LogEntry {
    pub fn fault_applied(&self) -> bool {
        self.fault.is_some()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AppliedFault {
    pub rule_id: FaultId,
    /// The action's type, e.g. `status` or `truncate`.
    pub action: String,
}

/// Which entries to return; every set field must match.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RequestFilter {
    pub tool: Option<ToolKind>,
    pub path_contains: Option<String>,
    pub query_contains: Option<String>,
    pub method: Option<String>,
    /// Only entries with a greater sequence number.
    pub since_seq: Option<u64>,
}

impl RequestFilter {
    pub fn tool(tool: ToolKind) -> Self {
        Self {
            tool: Some(tool),
            ..Self::default()
        }
    }

    pub fn path(mut self, contains: impl Into<String>) -> Self {
        self.path_contains = Some(contains.into());
        self
    }

    pub fn query(mut self, contains: impl Into<String>) -> Self {
        self.query_contains = Some(contains.into());
        self
    }

    pub fn since(mut self, seq: u64) -> Self {
        self.since_seq = Some(seq);
        self
    }

    fn matches(&self, e: &LogEntry) -> bool {
        self.tool.is_none_or(|t| e.tool == t)
            && self.path_contains.as_deref().is_none_or(|p| e.path.contains(p))
            && self.query_contains.as_deref().is_none_or(|q| e.query.contains(q))
            && self.method.as_deref().is_none_or(|m| e.method.eq_ignore_ascii_case(m))
    }
}

#[derive(Debug)]
pub struct RequestLog {
    entries: VecDeque<LogEntry>,
    capacity: usize,
    last_seq: u64,
}

impl Default for RequestLog {
    fn default() -> Self {
        Self::with_capacity(DEFAULT_CAPACITY)
    }
}

impl RequestLog {
    pub fn with_capacity(capacity: usize) -> Self {
        // Grows on demand: most runs log far fewer requests than the bound.
        Self {
            entries: VecDeque::new(),
            capacity: capacity.max(1),
            last_seq: 0,
        }
    }

    /// Appends `entry` with the next sequence number (its own `seq` is overwritten).
    pub fn record(&mut self, mut entry: LogEntry) -> u64 {
        self.last_seq += 1;
        entry.seq = self.last_seq;
        if self.entries.len() == self.capacity {
            self.entries.pop_front();
        }
        self.entries.push_back(entry);
        self.last_seq
    }

    /// The sequence number of the latest request logged (0 before the first).
    pub fn last_seq(&self) -> u64 {
        self.last_seq
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn clear(&mut self) {
        self.entries.clear();
    }

    fn matching<'a>(&'a self, filter: &'a RequestFilter) -> impl Iterator<Item = &'a LogEntry> + 'a {
        // Entries are in seq order, so `since_seq` is a binary search, not a scan.
        let start = filter
            .since_seq
            .map_or(0, |s| self.entries.partition_point(|e| e.seq <= s));
        self.entries.range(start..).filter(move |e| filter.matches(e))
    }

    pub fn entries(&self, filter: &RequestFilter) -> Vec<LogEntry> {
        self.matching(filter).cloned().collect()
    }

    pub fn count(&self, filter: &RequestFilter) -> usize {
        self.matching(filter).count()
    }
}
