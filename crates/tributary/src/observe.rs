//! Each role's metrics surface: the recorder, `/metrics` with the fleet gauges, and the
//! `--http-listen` listener of the worker and the scheduler (`/metrics`, `/health`, `/ready`).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use async_trait::async_trait;
use axum::Router;
use tokio::sync::watch;
use tributary_metrics::{Exposition, Readiness};
use tributary_queue::JobQueue;
use tributary_store::MirrorStore;

use crate::cli::MetricsArgs;
use crate::gauges::FleetGauges;

/// How long `/ready` waits for the mirror and Redis, like the gateway's `/ready`.
const READY_TIMEOUT: Duration = Duration::from_secs(1);

/// Installs the recorder (once per process) and builds `GET /metrics` with the fleet gauges.
pub fn metrics_router(
    store: &Arc<dyn MirrorStore>,
    queue: Option<Arc<dyn JobQueue>>,
    args: &MetricsArgs,
) -> anyhow::Result<Router> {
    let handle = tributary_metrics::install().context("cannot start metrics")?;
    let gauges = FleetGauges {
        store: store.clone(),
        queue,
        stalest: args.metrics_stalest.into(),
    };
    let exposition =
        Exposition::new(handle, Duration::from_millis(args.metrics_timeout_ms)).with_collector(Arc::new(gauges));
    Ok(tributary_metrics::router(exposition))
}

/// Starts the `--http-listen` listener, if asked for; it stops when `shutdown` turns true.
pub async fn spawn_listener(
    addr: Option<SocketAddr>,
    store: &Arc<dyn MirrorStore>,
    queue: &Arc<dyn JobQueue>,
    args: &MetricsArgs,
    mut shutdown: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let Some(addr) = addr else {
        return Ok(());
    };
    let checks: Vec<Arc<dyn Readiness>> =
        vec![Arc::new(StoreReady(store.clone())), Arc::new(QueueReady(queue.clone()))];
    let app = metrics_router(store, Some(queue.clone()), args)?.merge(tributary_metrics::probes(checks, READY_TIMEOUT));
    let server = tributary_metrics::serve(addr, app, async move {
        let _ = shutdown.wait_for(|s| *s).await;
    })
    .await?;
    tokio::spawn(async move {
        if let Ok(Err(e)) = server.await {
            tracing::error!(error = %e, "the --http-listen listener stopped");
        }
    });
    Ok(())
}

struct StoreReady(Arc<dyn MirrorStore>);

#[async_trait]
impl Readiness for StoreReady {
    fn name(&self) -> &'static str {
        "store"
    }

    async fn check(&self) -> Result<(), String> {
        self.0.ping().await.map_err(|e| e.to_string())
    }
}

/// Redis answers when the queues can be counted (the same calls the operator API makes).
struct QueueReady(Arc<dyn JobQueue>);

#[async_trait]
impl Readiness for QueueReady {
    fn name(&self) -> &'static str {
        "queue"
    }

    async fn check(&self) -> Result<(), String> {
        self.0.depths().await.map(|_| ()).map_err(|e| e.to_string())
    }
}
