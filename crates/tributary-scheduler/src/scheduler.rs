use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tributary_engine::default_intervals;
use tributary_queue::{Coordinator, JobQueue, dispatch, stranded};
use tributary_store::SchedulerStore;

use crate::SchedulerError;

#[derive(Debug, Clone)]
pub struct SchedulerConfig {
    /// Names this replica in `sync_schedules.claimed_by`; unique per process.
    pub owner: String,
    /// How often due schedules are claimed.
    pub tick: Duration,
    /// How often stranded runs are looked for. Each pass reads every open run, so not too often;
    /// a stranded run waits at most this long (plus a lease TTL when its worker died).
    pub reconcile_every: Duration,
    /// How often new integrations get their schedules and finished jobs are vacuumed.
    pub housekeeping_every: Duration,
    /// Schedules claimed per transaction.
    pub batch: i64,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        Self {
            owner: format!("scheduler-{}", std::process::id()),
            tick: Duration::from_secs(1),
            reconcile_every: Duration::from_secs(10),
            housekeeping_every: Duration::from_secs(60),
            batch: 1000,
        }
    }
}

/// What one tick did, for logs and benchmarks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TickReport {
    /// Schedules claimed.
    pub claimed: usize,
    /// Jobs pushed for runs the claims created.
    pub enqueued: usize,
    /// Claims whose (integration, type) already had an open run (invariant I5).
    pub already_open: usize,
}

pub struct Scheduler {
    store: Arc<dyn SchedulerStore>,
    queue: Arc<dyn JobQueue>,
    coordinator: Arc<dyn Coordinator>,
    config: SchedulerConfig,
    known: std::sync::Mutex<HashSet<String>>,
}

impl Scheduler {
    pub fn new(
        store: Arc<dyn SchedulerStore>,
        queue: Arc<dyn JobQueue>,
        coordinator: Arc<dyn Coordinator>,
        config: SchedulerConfig,
    ) -> Self {
        Self {
            store,
            queue,
            coordinator,
            config,
            known: Default::default(),
        }
    }

    /// Gives every integration not seen before its schedules (due at once when new). Cheap for
    /// known integrations, which are skipped.
    pub async fn ensure_schedules(&self) -> Result<u64, SchedulerError> {
        let integrations = self.store.list_integrations().await?;
        let mut created = 0;
        for integration in integrations {
            if self.known().contains(&integration.id) {
                continue;
            }
            created += self
                .store
                .ensure_schedules(&integration.id, &default_intervals(integration.tool, false))
                .await?;
            self.known().insert(integration.id);
        }
        Ok(created)
    }

    fn known(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        self.known.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Claims everything due now, batch by batch, and enqueues the runs the claims created.
    pub async fn tick(&self) -> Result<TickReport, SchedulerError> {
        let mut report = TickReport::default();
        loop {
            let now = chrono::Utc::now();
            let claims = self
                .store
                .claim_due_runs(now, &self.config.owner, self.config.batch)
                .await?;
            let batch_full = claims.len() as i64 >= self.config.batch;
            report.claimed += claims.len();
            let mut new_runs = Vec::new();
            for claim in claims {
                if claim.created {
                    new_runs.push(claim.run);
                } else {
                    report.already_open += 1;
                }
            }
            // A failed push leaves the runs QUEUED and unmarked: the next reconcile pushes them.
            report.enqueued += dispatch(self.queue.as_ref(), self.coordinator.as_ref(), &new_runs).await?;
            if !batch_full {
                return Ok(report);
            }
        }
    }

    /// Re-enqueues open runs that have no queued job and no worker. Returns how many.
    pub async fn reconcile(&self) -> Result<usize, SchedulerError> {
        let open = self.store.list_open_runs(100_000).await?;
        let stranded = stranded(self.coordinator.as_ref(), open).await?;
        if stranded.is_empty() {
            return Ok(0);
        }
        let pushed = dispatch(self.queue.as_ref(), self.coordinator.as_ref(), &stranded).await?;
        if pushed > 0 {
            tracing::info!(pushed, "re-enqueued runs that had no queued job and no worker");
        }
        Ok(pushed)
    }

    /// Runs until `shutdown` turns true: ensure schedules, then tick, reconcile and keep house
    /// at their intervals. Errors are logged and retried at the next interval: the database or
    /// Redis being away for a while must not stop the scheduler.
    pub async fn run(&self, mut shutdown: watch::Receiver<bool>) {
        tracing::info!(owner = %self.config.owner, queue = self.queue.backend(), "scheduler started");
        let mut last_reconcile: Option<Instant> = None;
        let mut last_housekeeping: Option<Instant> = None;
        loop {
            if last_housekeeping.is_none_or(|t| t.elapsed() >= self.config.housekeeping_every) {
                match self.ensure_schedules().await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(created = n, "schedules created for new integrations"),
                    Err(e) => tracing::warn!(error = %e, "could not ensure schedules"),
                }
                match self.queue.vacuum().await {
                    Ok(0) => {}
                    Ok(n) => tracing::debug!(removed = n, "finished jobs vacuumed"),
                    Err(e) => tracing::warn!(error = %e, "could not vacuum finished jobs"),
                }
                last_housekeeping = Some(Instant::now());
            }
            if let Err(e) = self.queue.promote_due().await {
                tracing::warn!(error = %e, "could not promote due jobs");
            }
            match self.tick().await {
                Ok(r) if r.claimed > 0 => {
                    tracing::info!(
                        claimed = r.claimed,
                        enqueued = r.enqueued,
                        already_open = r.already_open,
                        "due syncs claimed"
                    )
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "scheduler tick failed"),
            }
            if last_reconcile.is_none_or(|t| t.elapsed() >= self.config.reconcile_every) {
                if let Err(e) = self.reconcile().await {
                    tracing::warn!(error = %e, "reconcile failed");
                }
                last_reconcile = Some(Instant::now());
            }
            tokio::select! {
                _ = tokio::time::sleep(self.config.tick) => {}
                _ = shutdown.wait_for(|s| *s) => break,
            }
        }
        tracing::info!("scheduler stopped");
    }
}
