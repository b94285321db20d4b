//! The recorder and `GET /metrics`.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::get;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::MetricsError;
use crate::catalogue::{self, COLLECTOR_DURATION, COLLECTOR_FAILURES, COLLECTOR_UP};
use crate::fleet::{Collector, Families, Labels};

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the process-wide recorder (once; later calls return the same handle), with each
/// histogram's buckets from the catalogue and every metric described.
pub fn install() -> Result<PrometheusHandle, MetricsError> {
    if let Some(handle) = HANDLE.get() {
        return Ok(handle.clone());
    }
    let mut builder = PrometheusBuilder::new();
    for (name, buckets) in catalogue::BUCKETS {
        builder = builder
            .set_buckets_for_metric(Matcher::Full((*name).to_owned()), buckets)
            .map_err(|e| MetricsError::Install(e.to_string()))?;
    }
    let recorder = builder.build_recorder();
    let handle = recorder.handle();
    // A second caller racing the first loses here and uses the winner's handle.
    if metrics::set_global_recorder(recorder).is_ok() {
        let _ = HANDLE.set(handle);
        catalogue::describe();
    }
    HANDLE
        .get()
        .cloned()
        .ok_or_else(|| MetricsError::Install("another metrics recorder is installed".into()))
}

/// What `GET /metrics` serves: the recorder's metrics and the collectors' gauges.
#[derive(Clone)]
pub struct Exposition {
    handle: PrometheusHandle,
    collectors: Vec<Arc<dyn Collector>>,
    timeout: Duration,
}

impl Exposition {
    /// `timeout` bounds each collector at every scrape: a slow database costs a scrape this
    /// long at most, and the collector reports `tributary_collector_up 0` instead of gauges.
    pub fn new(handle: PrometheusHandle, timeout: Duration) -> Self {
        Self {
            handle,
            collectors: Vec::new(),
            timeout,
        }
    }

    pub fn with_collector(mut self, collector: Arc<dyn Collector>) -> Self {
        self.collectors.push(collector);
        self
    }

    /// The exposition text, as `GET /metrics` answers it.
    pub async fn render(&self) -> String {
        // Collectors run concurrently, so two slow ones cost one timeout, not two.
        let runs = self.collectors.iter().map(|c| self.collect(c.as_ref()));
        let results = futures::future::join_all(runs).await;
        let mut status = Families::default();
        let mut gauges = String::new();
        for (name, ok, took, families) in results {
            let labels = Labels::new().with("collector", name);
            status.gauge(COLLECTOR_UP, labels.clone(), if ok { 1.0 } else { 0.0 });
            status.gauge(COLLECTOR_DURATION, labels, took);
            if let Some(families) = families {
                families.render_into(&mut gauges);
            }
        }
        // Histograms are drained into their summaries by upkeep; there is no exporter thread
        // (the HTTP listener feature is off), so each scrape does it.
        self.handle.run_upkeep();
        let mut out = self.handle.render();
        out.push_str(&gauges);
        status.render_into(&mut out);
        out
    }

    async fn collect(&self, collector: &dyn Collector) -> (&'static str, bool, f64, Option<Families>) {
        let name = collector.name();
        let started = Instant::now();
        let result = tokio::time::timeout(self.timeout, collector.collect()).await;
        let took = started.elapsed().as_secs_f64();
        match result {
            Ok(Ok(families)) => (name, true, took, Some(families)),
            Ok(Err(e)) => {
                tracing::warn!(collector = name, error = %e, "metrics collector failed");
                metrics::counter!(COLLECTOR_FAILURES, "collector" => name, "reason" => "error").increment(1);
                (name, false, took, None)
            }
            Err(_) => {
                tracing::warn!(collector = name, timeout = ?self.timeout, "metrics collector timed out");
                metrics::counter!(COLLECTOR_FAILURES, "collector" => name, "reason" => "timeout").increment(1);
                (name, false, took, None)
            }
        }
    }
}

/// `GET /metrics`, unauthenticated (like `/health`): mount it on any router.
pub fn router(exposition: Exposition) -> Router {
    Router::new().route("/metrics", get(scrape)).with_state(exposition)
}

async fn scrape(State(exposition): State<Exposition>) -> impl IntoResponse {
    (
        [(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        exposition.render().await,
    )
}
