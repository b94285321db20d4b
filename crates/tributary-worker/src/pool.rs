//! The apalis worker pool: one apalis worker per queue, each running several jobs at once.

use std::sync::Arc;

use std::time::Duration;

use apalis::prelude::{BackendExt, BoxDynError, Data, Monitor, ParallelizeExt, WorkerBuilder, WorkerBuilderExt};
use tokio::sync::watch;
use tributary_model::SyncType;
use tributary_queue::{MemoryQueue, RedisQueue, SyncJob};

use crate::idle_poll::IdlePoll;
use crate::{JobContext, WorkerError};

/// The queues a pool consumes.
pub enum Queues {
    Redis(RedisQueue),
    Memory(MemoryQueue),
}

async fn run_job(job: SyncJob, ctx: Data<Arc<JobContext>>) -> Result<(), BoxDynError> {
    let run_id = job.run_id.clone();
    match ctx.handle(job).await {
        Ok(end) => {
            tracing::debug!(%run_id, ?end, "job done");
            Ok(())
        }
        Err(e) => {
            // apalis retries the job: the mirror or Redis was away, not the source.
            tracing::warn!(%run_id, error = %e, "job failed; apalis will retry it");
            Err(Box::new(e))
        }
    }
}

/// How often an idle worker asks Redis for a job (see [`IdlePoll`]): one cheap script call per
/// queue and period.
const IDLE_POLL: Duration = Duration::from_millis(100);

/// How many times each queue worker is rebuilt after its backend failed.
const MAX_RESTARTS: usize = 100;

/// Registers one apalis worker for `$storage` on `$monitor`; a macro rather than a function
/// because the bounds apalis puts on a generic backend would be longer than the body.
macro_rules! register {
    ($monitor:expr, $name:expr, $storage:expr, $concurrency:expr, $ctx:expr) => {{
        let storage = $storage;
        let ctx = $ctx.clone();
        let name = $name;
        let concurrency = $concurrency;
        $monitor.register(move |restarts| {
            WorkerBuilder::new(format!("{name}-{restarts}"))
                .backend(storage.clone().poll_with_strategy(IdlePoll::new(IDLE_POLL)))
                .concurrency(concurrency)
                // Each sync in a task of its own: polled inline, a long sync would share the
                // monitor's one task with every other worker of the process.
                .parallelize(tokio::spawn)
                .catch_panic()
                .data(ctx.clone())
                .build(run_job)
        })
    }};
}

/// Runs the pool until `shutdown` turns true (SIGTERM, say), then pauses every running sync
/// at its next page boundary and waits for them (at most `shutdown_timeout`). Returns when the
/// pool stops for good; a worker binary exits then, so that Kubernetes restarts it if the
/// stop was not asked for (apalis stops a pool whose backend keeps failing).
pub async fn run_pool(
    ctx: Arc<JobContext>,
    queues: Queues,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), WorkerError> {
    let config = ctx.config.clone();
    let (stop_watch, stop_rx) = watch::channel(false);
    let watcher = tokio::spawn(
        ctx.running
            .clone()
            .watch(ctx.coordinator.clone(), config.signal_poll, stop_rx),
    );
    let id = &config.worker_id;
    let monitor = Monitor::new()
        .shutdown_timeout(config.shutdown_timeout)
        // A worker whose backend failed (Redis restarted or flushed: "worker not registered")
        // is rebuilt, which registers it again. Past the limit the pool stops and the process
        // exits, for the orchestrator to restart it.
        .should_restart(|worker, error| {
            let again = worker.restarts() < MAX_RESTARTS;
            tracing::warn!(worker = worker.name(), restarts = worker.restarts(), %error, again, "queue worker failed");
            again
        });
    let monitor = match queues {
        Queues::Redis(q) => {
            let m = register!(
                monitor,
                format!("{id}-delta"),
                q.storage(SyncType::Delta),
                config.delta_concurrency,
                ctx
            );
            let m = register!(
                m,
                format!("{id}-full"),
                q.storage(SyncType::Full),
                config.full_concurrency,
                ctx
            );
            register!(
                m,
                format!("{id}-default"),
                q.storage(SyncType::Default),
                config.full_concurrency,
                ctx
            )
        }
        Queues::Memory(q) => {
            let delta = q.storage(SyncType::Delta)?;
            let full = q.storage(SyncType::Full)?;
            let default = q.storage(SyncType::Default)?;
            let m = register_once(monitor, format!("{id}-delta"), delta, config.delta_concurrency, &ctx);
            let m = register_once(m, format!("{id}-full"), full, config.full_concurrency, &ctx);
            register_once(m, format!("{id}-default"), default, config.full_concurrency, &ctx)
        }
    };
    let running = ctx.running.clone();
    // When the shutdown was asked for: the monitor's wait and ours below share one bound, so
    // the process exits within `shutdown_timeout` of SIGTERM, as documented, not twice that.
    let asked_at = Arc::new(std::sync::OnceLock::new());
    let signal_asked_at = asked_at.clone();
    let signal = async move {
        let _ = shutdown.wait_for(|s| *s).await;
        let _ = signal_asked_at.set(tokio::time::Instant::now());
        tracing::info!(
            running = running.len(),
            "shutting down: pausing running syncs at their next page boundary"
        );
        running.pause_all_for_shutdown();
        Ok(())
    };
    tracing::info!(worker_id = %config.worker_id, "worker pool started");
    let result = monitor.run_with_signal(signal).await;
    if !ctx.running.is_empty() {
        // Syncs still running: the pool stopped on its own (leave them resumable at once, as a
        // shutdown would, rather than to their lease's expiry), or the monitor returned before
        // the syncs it spawned reached their page boundary.
        ctx.running.pause_all_for_shutdown();
        let since = asked_at.get().copied().unwrap_or_else(tokio::time::Instant::now);
        let deadline = since + config.shutdown_timeout;
        while !ctx.running.is_empty() && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let _ = stop_watch.send(true);
    let _ = watcher.await;
    result.map_err(|e| WorkerError::Pool(e.to_string()))
}

/// In-memory storages cannot be cloned for a restart, so an embedded worker is registered to
/// run once; its backend never fails.
fn register_once(
    monitor: Monitor,
    name: String,
    storage: apalis::prelude::MemoryStorage<SyncJob>,
    concurrency: usize,
    ctx: &Arc<JobContext>,
) -> Monitor {
    let slot = std::sync::Mutex::new(Some(storage));
    let ctx = ctx.clone();
    monitor.register(move |restarts| {
        let storage = slot
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
            .unwrap_or_default();
        WorkerBuilder::new(format!("{name}-{restarts}"))
            .backend(storage)
            .concurrency(concurrency)
            .catch_panic()
            .data(ctx.clone())
            .build(run_job)
    })
}
