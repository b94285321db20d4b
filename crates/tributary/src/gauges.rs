//! The fleet gauges of `/metrics`: queue depths (Redis or the in-memory queues), open runs and
//! integration staleness (the mirror), computed at each scrape.
//!
//! At scrape rather than on an interval: a scrape then shows the fleet as it is, costs
//! nothing when nobody scrapes, and needs no background task per role. The exposition bounds
//! it with `--metrics-timeout-ms`; a slow mirror or Redis turns into
//! `tributary_collector_up{collector="fleet"} 0`, never a hung or failed scrape.
//!
//! Per-integration series stay bounded: every integration counts in
//! `tributary_integrations{tool,staleness}` (3 tools × 5 staleness values), and only the
//! `--metrics-stalest` stalest get a series of their own.

use std::sync::Arc;

use async_trait::async_trait;
use tributary_metrics::catalogue::{
    INTEGRATION_STALENESS, INTEGRATION_STALENESS_RATIO, INTEGRATIONS_BY_STALENESS, OPEN_RUNS, QUEUE_JOBS,
    QUEUE_OLDEST_JOB_AGE,
};
use tributary_metrics::{Collector, Families, Labels};
use tributary_model::{RunState, SyncType, Timestamp, ToolKind};
use tributary_queue::JobQueue;
use tributary_store::{FleetStats, Freshness};

const SYNC_TYPES: [SyncType; 3] = [SyncType::Full, SyncType::Delta, SyncType::Default];
const OPEN_STATES: [RunState; 3] = [RunState::Queued, RunState::Running, RunState::Paused];
/// Last success within this many intervals: `fresh`; within [`STALE_AFTER`]: `late`.
const LATE_AFTER: f64 = 2.0;
const STALE_AFTER: f64 = 5.0;
const STALENESS: [&str; 5] = ["fresh", "late", "stale", "never", "unscheduled"];

pub struct FleetGauges {
    pub store: Arc<dyn FleetStats>,
    /// `None` where the process has no queues to count (a gateway without Redis).
    pub queue: Option<Arc<dyn JobQueue>>,
    /// Integrations given a series of their own, stalest first.
    pub stalest: usize,
}

#[async_trait]
impl Collector for FleetGauges {
    fn name(&self) -> &'static str {
        "fleet"
    }

    async fn collect(&self) -> Result<Families, String> {
        let depths = async {
            match &self.queue {
                Some(q) => q.depths().await.map(Some).map_err(|e| format!("queues: {e}")),
                None => Ok(None),
            }
        };
        let (runs, freshness, depths) =
            tokio::join!(self.store.open_run_stats(), self.store.integration_freshness(), depths);
        let runs = runs.map_err(|e| format!("open runs: {e}"))?;
        let freshness = freshness.map_err(|e| format!("integrations: {e}"))?;
        let depths = depths?;
        let now = chrono::Utc::now();
        let mut out = Families::default();

        for depth in depths.iter().flatten() {
            for (state, n) in [
                ("pending", depth.pending),
                ("scheduled", depth.scheduled),
                ("running", depth.running),
            ] {
                let labels = Labels::new()
                    .with("queue", depth.sync_type.as_str())
                    .with("state", state);
                out.gauge(QUEUE_JOBS, labels, n as f64);
            }
        }
        for sync_type in SYNC_TYPES {
            let oldest = runs
                .iter()
                .filter(|r| r.sync_type == sync_type && r.state == RunState::Queued)
                .map(|r| seconds_since(now, r.oldest))
                .fold(0.0, f64::max);
            out.gauge(
                QUEUE_OLDEST_JOB_AGE,
                Labels::new().with("queue", sync_type.as_str()),
                oldest,
            );
            for state in OPEN_STATES {
                let n: u64 = runs
                    .iter()
                    .filter(|r| r.sync_type == sync_type && r.state == state)
                    .map(|r| r.count)
                    .sum();
                let labels = Labels::new()
                    .with("sync_type", sync_type.as_str())
                    .with("state", state.as_str());
                out.gauge(OPEN_RUNS, labels, n as f64);
            }
        }
        staleness(&mut out, now, &freshness, self.stalest);
        Ok(out)
    }
}

fn seconds_since(now: Timestamp, at: Timestamp) -> f64 {
    (now - at).to_std().unwrap_or_default().as_secs_f64()
}

struct Stale<'a> {
    f: &'a Freshness,
    age: f64,
    ratio: f64,
}

fn staleness(out: &mut Families, now: Timestamp, freshness: &[Freshness], stalest: usize) {
    let mut counts = [[0u64; STALENESS.len()]; 3];
    let mut all: Vec<Stale<'_>> = Vec::with_capacity(freshness.len());
    for f in freshness {
        // Never succeeded: stale since it was created.
        let age = seconds_since(now, f.last_success.unwrap_or(f.created_at));
        let ratio = f.every.map_or(0.0, |every| age / every.as_secs_f64().max(1.0));
        let bucket = match (f.every, f.last_success) {
            (None, _) => 4,
            (Some(_), None) => 3,
            _ if ratio <= LATE_AFTER => 0,
            _ if ratio <= STALE_AFTER => 1,
            _ => 2,
        };
        let tool = ToolKind::ALL.iter().position(|t| *t == f.tool).unwrap_or(0);
        counts[tool][bucket] += 1;
        all.push(Stale { f, age, ratio });
    }
    for (t, tool) in ToolKind::ALL.iter().enumerate() {
        for (b, bucket) in STALENESS.iter().enumerate() {
            let labels = Labels::new().with("tool", tool.as_str()).with("staleness", *bucket);
            out.gauge(INTEGRATIONS_BY_STALENESS, labels, counts[t][b] as f64);
        }
    }
    // Only the top N are needed: a partial selection, not a sort of 10,000.
    let n = stalest.min(all.len());
    if n == 0 {
        return;
    }
    let by_ratio = |a: &Stale<'_>, b: &Stale<'_>| b.ratio.total_cmp(&a.ratio).then(b.age.total_cmp(&a.age));
    if n < all.len() {
        all.select_nth_unstable_by(n - 1, by_ratio);
        all.truncate(n);
    }
    all.sort_by(by_ratio);
    for s in all {
        let labels = Labels::new()
            .with("integration", s.f.integration_id.clone())
            .with("tool", s.f.tool.as_str());
        out.gauge(INTEGRATION_STALENESS, labels.clone(), s.age);
        out.gauge(INTEGRATION_STALENESS_RATIO, labels, s.ratio);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn fresh(id: &str, last_success_ago: Option<i64>, every: u64, now: Timestamp) -> Freshness {
        Freshness {
            integration_id: id.into(),
            tool: ToolKind::Personio,
            created_at: now - chrono::Duration::days(30),
            last_success: last_success_ago.map(|s| now - chrono::Duration::seconds(s)),
            every: Some(Duration::from_secs(every)),
        }
    }

    #[test]
    fn buckets_every_integration_and_names_only_the_stalest() {
        let now = chrono::Utc::now();
        let list = vec![
            fresh("personio:a", Some(100), 100, now),
            fresh("personio:b", Some(300), 100, now),
            fresh("personio:c", Some(1000), 100, now),
            fresh("personio:d", None, 100, now),
        ];
        let mut out = Families::default();
        staleness(&mut out, now, &list, 2);
        let count = |bucket: &str| {
            out.samples(INTEGRATIONS_BY_STALENESS)
                .iter()
                .find(|(l, _)| {
                    format!("{l:?}").contains("\"personio\"") && format!("{l:?}").contains(&format!("\"{bucket}\""))
                })
                .map(|(_, v)| *v)
        };
        assert_eq!(
            (
                count("fresh"),
                count("late"),
                count("stale"),
                count("never"),
                count("unscheduled")
            ),
            (Some(1.0), Some(1.0), Some(1.0), Some(1.0), Some(0.0))
        );
        assert_eq!(out.samples(INTEGRATIONS_BY_STALENESS).len(), 15, "3 tools × 5 values");
        let named: Vec<String> = out
            .samples(INTEGRATION_STALENESS_RATIO)
            .iter()
            .map(|(l, _)| format!("{l:?}"))
            .collect();
        assert_eq!(named.len(), 2);
        // d never succeeded in 30 days (ratio ~25,920), then c (10).
        assert!(
            named[0].contains("personio:d") && named[1].contains("personio:c"),
            "{named:?}"
        );
    }
}
