//! One job: from a queued pointer to a run, to the run executed (or recognised as not ours).

use std::sync::Arc;
use std::time::{Duration, Instant};

use tracing::Instrument as _;
use tributary_engine::{EngineError, Heartbeat, RunControl, SyncEngine};
use tributary_model::{PauseReason, RunState, SyncType};
use tributary_queue::{Coordinator, JobQueue, SyncJob, dispatch, stranded};
use tributary_store::{Lease, SyncRun, SyncStore};
use tributary_telemetry::propagation;

use crate::signals::Claim;
use crate::{RunningRuns, WorkerConfig, WorkerError};

/// Why a re-delivered job for a run this process is executing is dropped.
pub const ALREADY_EXECUTING: &str = "this worker is executing the run already (a re-delivered job)";
/// Why a FULL or DEFAULT steps aside: another run of the integration holds its lease.
const LEASE_HELD: &str = "another run of the integration holds its lease";
/// Why a DELTA gives up: the running sync did not pause within `preempt_wait`.
const LEASE_HELD_TOO_LONG: &str = "lease held too long";
/// Why an execution ends without an outcome: the lease was taken over meanwhile.
const LEASE_LOST: &str = "lease lost";

/// Everything a job needs; one per worker process, shared by all its jobs.
pub struct JobContext {
    pub store: Arc<dyn SyncStore>,
    pub engine: SyncEngine,
    pub queue: Arc<dyn JobQueue>,
    pub coordinator: Arc<dyn Coordinator>,
    pub config: WorkerConfig,
    pub running: RunningRuns,
    /// Told when an execution of a run starts and how it ended (the demo and `tributary sync`
    /// print them).
    pub observer: Option<Arc<dyn RunObserver>>,
}

/// Watches the executions of a [`JobContext`]: each run this process executes is announced
/// once its lease is taken, with the control it runs under (to follow its progress), and again
/// when the execution is over: with the run as it ended or paused, or with the error that
/// stopped it (the lease lost, the mirror away). Jobs skipped are not announced.
pub trait RunObserver: Send + Sync + 'static {
    fn started(&self, run: &SyncRun, control: &RunControl);
    fn ended(&self, run: &SyncRun, outcome: Result<&SyncRun, &EngineError>);
}

/// What became of a job, for logs and tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobEnd {
    /// The run was executed until it ended or paused in this state.
    Executed(RunState),
    /// Nothing to do: the run ended, waits for an operator or its retry time, another
    /// worker has it, or this process is executing it already (a re-delivered job).
    Skipped(&'static str),
}

impl JobContext {
    /// A context for syncs of this process only: the mirror's lease (no Redis) and in-memory
    /// queues, as `tributary serve` has without Redis. Build a pool over `queue` with
    /// [`crate::run_pool`] for scheduled syncs, or run one sync with [`JobContext::sync_now`].
    pub fn embedded(engine: SyncEngine, queue: tributary_queue::MemoryQueue, config: WorkerConfig) -> Self {
        let store = engine.store().clone();
        Self {
            coordinator: Arc::new(tributary_queue::EmbeddedCoordinator::new(store.clone())),
            store,
            engine,
            queue: Arc::new(queue),
            config,
            running: RunningRuns::default(),
            observer: None,
        }
    }

    /// Runs one sync of `integration_id` now, through the same path as a queued job: the open
    /// run of `sync_type` (a paused or crashed one) is resumed, or a new one created, and
    /// handled as its job would be, under `control` (follow its progress there). The run as
    /// it ended or paused; [`EngineError::Busy`] when another sync holds the integration's
    /// lease and does not give it up (a delta waits for it at most `preempt_wait`).
    pub async fn sync_now(
        &self,
        integration_id: &str,
        sync_type: SyncType,
        control: RunControl,
    ) -> Result<SyncRun, WorkerError> {
        if self.store.get_integration(integration_id).await?.is_none() {
            return Err(EngineError::IntegrationNotFound(integration_id.to_owned()).into());
        }
        let run = match self.store.open_run(integration_id, sync_type).await? {
            Some(run) => run,
            None => self.store.create_run(integration_id, sync_type).await?,
        };
        // As a queued job's run is: the worker removes the marker when it takes the run.
        self.coordinator.mark_queued(&run.id).await?;
        let job = SyncJob {
            run_id: run.id.clone(),
            integration_id: run.integration_id.clone(),
            sync_type: run.sync_type,
            trace_context: run.trace_context.clone(),
        };
        match self.handle_with(job, control).await? {
            JobEnd::Executed(_) => Ok(self
                .store
                .get_run(&run.id)
                .await?
                .ok_or_else(|| WorkerError::Pool(format!("run {} vanished", run.id)))?),
            JobEnd::Skipped(LEASE_HELD | LEASE_HELD_TOO_LONG) => {
                Err(EngineError::Busy(integration_id.to_owned()).into())
            }
            JobEnd::Skipped(LEASE_LOST) => Err(EngineError::LeaseLost(format!("run {}", run.id)).into()),
            JobEnd::Skipped(why) => Err(WorkerError::NotRun(why)),
        }
    }

    pub async fn handle(&self, job: SyncJob) -> Result<JobEnd, WorkerError> {
        self.handle_with(job, RunControl::new()).await
    }

    /// [`JobContext::handle`], running the sync under `control` (the caller's, to follow it).
    ///
    /// Everything the job does happens in its `job` span, whose fields (the run and its
    /// integration) every log line of the run carries; with traces on, the span continues the
    /// run's trace (the job's `traceparent`), or starts one that the run then keeps.
    async fn handle_with(&self, job: SyncJob, control: RunControl) -> Result<JobEnd, WorkerError> {
        let span = tracing::info_span!(
            "job",
            run_id = %job.run_id,
            integration_id = %job.integration_id,
            sync_type = job.sync_type.as_str(),
            otel.kind = "consumer",
        );
        if let Some(traceparent) = &job.trace_context {
            propagation::adopt(&span, traceparent);
        }
        self.handle_in_span(job, control).instrument(span).await
    }

    async fn handle_in_span(&self, job: SyncJob, control: RunControl) -> Result<JobEnd, WorkerError> {
        // Held until this job is done with the run and its lease, whatever becomes of it.
        let Some(claim) = self.running.claim(&job.run_id) else {
            // A queued marker now is this duplicate's own (the executing job removed the one it
            // came with when it started): left behind, it would keep the run's next push (a
            // retry, a resumption) from being made.
            self.coordinator.unmark_queued(&job.run_id).await?;
            tracing::info!(run_id = %job.run_id, "job for a run this worker is executing already; dropped");
            return Ok(JobEnd::Skipped(ALREADY_EXECUTING));
        };
        let started = Instant::now();
        let mut asked = false;
        let grant = loop {
            let Some(run) = self.store.get_run(&job.run_id).await? else {
                self.coordinator.unmark_queued(&job.run_id).await?;
                return Ok(JobEnd::Skipped("run no longer exists"));
            };
            if let Some(skip) = self.not_ready(&run).await? {
                return Ok(JobEnd::Skipped(skip));
            }
            if run.sync_type.is_complete() && self.delta_waiting(&run).await? {
                // The waiting delta takes the lease next and hands the integration back.
                if self.step_aside(&run).await? {
                    return Ok(JobEnd::Skipped("a delta of the integration goes first"));
                }
                continue;
            }
            let owner = format!("{}/{}", self.config.worker_id, run.id);
            match self
                .coordinator
                .acquire(&run.integration_id, &owner, self.config.lease_ttl)
                .await?
            {
                Some(grant) => break grant,
                None if run.sync_type == SyncType::Delta => {
                    if started.elapsed() > self.config.preempt_wait {
                        self.coordinator.clear_preemption(&run.integration_id, &run.id).await?;
                        self.coordinator.unmark_queued(&run.id).await?;
                        tracing::warn!(run_id = %run.id, "the integration's lease stayed taken; leaving the delta to the scheduler");
                        return Ok(JobEnd::Skipped(LEASE_HELD_TOO_LONG));
                    }
                    if !asked {
                        tracing::info!(run_id = %run.id, integration_id = %run.integration_id, "lease held: asking the running sync to pause");
                        asked = true;
                    }
                    self.coordinator
                        .request_preemption(&run.integration_id, &run.id)
                        .await?;
                    tokio::time::sleep(self.config.signal_poll).await;
                }
                None => {
                    if self.step_aside(&run).await? {
                        return Ok(JobEnd::Skipped(LEASE_HELD));
                    }
                }
            }
        };
        self.execute(&job, grant, claim, control).await
    }

    /// Why the run needs no worker now, if so.
    async fn not_ready(&self, run: &SyncRun) -> Result<Option<&'static str>, WorkerError> {
        if run.state.is_terminal() {
            self.coordinator.unmark_queued(&run.id).await?;
            return Ok(Some("run already ended"));
        }
        if run.state == RunState::Paused && run.pause_reason == Some(PauseReason::Operator) {
            self.coordinator.unmark_queued(&run.id).await?;
            return Ok(Some("run paused by an operator"));
        }
        if run.state == RunState::Paused
            && run.pause_reason == Some(PauseReason::Retry)
            && run
                .resume_at
                .is_some_and(|at| at > chrono::Utc::now() + Duration::from_secs(1))
        {
            // Early (a duplicate, or a clock ahead of ours): queue it again for its time.
            self.coordinator.unmark_queued(&run.id).await?;
            dispatch(
                self.queue.as_ref(),
                self.coordinator.as_ref(),
                std::slice::from_ref(run),
            )
            .await?;
            return Ok(Some("retry not due yet"));
        }
        if run.sync_type == SyncType::Delta && run.state == RunState::Queued && self.first_full_pending(run).await? {
            let reason = "superseded: the integration's first complete sync is still under way";
            if self.store.cancel_idle_run(&run.id, reason).await? {
                self.coordinator.unmark_queued(&run.id).await?;
                return Ok(Some("delta superseded by the first full sync"));
            }
        }
        Ok(None)
    }

    /// A delta before the first successful sync would read everything (there is no "since")
    /// while the full that reads everything anyway is open: skip it.
    async fn first_full_pending(&self, run: &SyncRun) -> Result<bool, WorkerError> {
        if self.store.last_succeeded_run(&run.integration_id).await?.is_some() {
            return Ok(false);
        }
        for t in [SyncType::Full, SyncType::Default] {
            if self.store.open_run(&run.integration_id, t).await?.is_some() {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Whether an open DELTA of the run's integration asked for the lease.
    async fn delta_waiting(&self, run: &SyncRun) -> Result<bool, WorkerError> {
        let watched = [tributary_queue::WatchedRun {
            run_id: run.id.clone(),
            integration_id: run.integration_id.clone(),
        }];
        let Some(by) = self
            .coordinator
            .poll_signals(&watched)
            .await?
            .pop()
            .and_then(|s| s.preempted_by)
        else {
            return Ok(false);
        };
        match self.store.get_run(&by).await? {
            Some(delta) if !delta.state.is_terminal() => Ok(true),
            _ => {
                // The delta died or ended without withdrawing its request.
                self.coordinator.clear_preemption(&run.integration_id, &by).await?;
                Ok(false)
            }
        }
    }

    /// Drops the job because another run of the integration goes first. `false` when the
    /// lease turned out free after all, and the caller should try again. The order matters:
    /// the holder releases its lease *before* handing the integration on, so either it sees
    /// this run unmarked and enqueues it, or this check sees the lease free.
    async fn step_aside(&self, run: &SyncRun) -> Result<bool, WorkerError> {
        self.coordinator.unmark_queued(&run.id).await?;
        let holder = self
            .coordinator
            .holders(std::slice::from_ref(&run.integration_id))
            .await?
            .pop()
            .flatten();
        if holder.is_some() || self.delta_waiting(run).await? {
            return Ok(true);
        }
        // Re-mark: this job carries on as the run's queued job.
        self.coordinator.mark_queued(&run.id).await?;
        Ok(false)
    }

    async fn execute(
        &self,
        job: &SyncJob,
        grant: Lease,
        claim: Claim,
        control: RunControl,
    ) -> Result<JobEnd, WorkerError> {
        let run_id = job.run_id.as_str();
        let held = HeldLease::count();
        let result = self.execute_leased(job, &grant, control).await;
        self.running.remove(run_id);
        if let Err(e) = self.coordinator.clear_signal(run_id).await {
            tracing::warn!(run_id, error = %e, "could not clear the run's signal; it expires");
        }
        if let Err(e) = self.coordinator.release(&grant).await {
            tracing::warn!(run_id, error = %e, "could not release the lease; it expires");
        }
        drop(held);
        // The execution is over and its lease released: a job pushed for the run from here on
        // (its retry, its resumption after a shutdown) is a new one, which this process may take.
        drop(claim);
        let end = match result {
            Ok(run) => {
                if run.state == RunState::Paused
                    && matches!(run.pause_reason, Some(PauseReason::Shutdown | PauseReason::Retry))
                {
                    dispatch(
                        self.queue.as_ref(),
                        self.coordinator.as_ref(),
                        std::slice::from_ref(&run),
                    )
                    .await?;
                }
                JobEnd::Executed(run.state)
            }
            Err(WorkerError::Engine(tributary_engine::EngineError::LeaseLost(detail))) => {
                tracing::warn!(run_id, %detail, "lease lost; the run is left to its new holder");
                JobEnd::Skipped(LEASE_LOST)
            }
            Err(WorkerError::Engine(e)) if !e.is_recoverable() => {
                // Retrying the job would meet the same answer (an operator paused the run
                // meanwhile, the integration was deleted).
                tracing::warn!(run_id, error = %e, "run not executed");
                JobEnd::Skipped("run not executable")
            }
            Err(e) => return Err(e),
        };
        self.hand_on(&job.integration_id, run_id).await?;
        Ok(end)
    }

    async fn execute_leased(&self, job: &SyncJob, grant: &Lease, control: RunControl) -> Result<SyncRun, WorkerError> {
        // In here, not before: whatever fails from the moment the lease is taken, `execute`
        // releases it rather than leaving it to expire.
        self.coordinator.unmark_queued(&job.run_id).await?;
        if job.sync_type == SyncType::Delta {
            self.coordinator
                .clear_preemption(&job.integration_id, &job.run_id)
                .await?;
        }
        // Read again now that the lease is ours: what `handle` read before may have changed
        // under the previous holder (its attempts decide whether this execution may retry).
        let run = self
            .store
            .get_run(&job.run_id)
            .await?
            .ok_or_else(|| WorkerError::Pool(format!("run {} vanished", job.run_id)))?;
        // A run without a trace (scheduled, or queued while traces were off) joins this job's:
        // its later jobs and the webhooks it causes continue it.
        if run.trace_context.is_none()
            && let Some(traceparent) = propagation::traceparent(&tracing::Span::current())
        {
            self.store.trace_run(&run.id, &traceparent).await?;
        }
        let mut control = control;
        if run.attempts + 1 < self.config.max_attempts {
            control = control.with_retry_after(self.config.retry_delay(run.attempts + 1));
        }
        self.running
            .insert(&run.id, &run.integration_id, run.sync_type, control.clone());
        let started = run.clone();
        if let Some(observer) = &self.observer {
            observer.started(&started, &control);
        }
        let coordinator = self.coordinator.clone();
        let heartbeat = Heartbeat::start(grant.clone(), control.clone(), move |lease| {
            let coordinator = coordinator.clone();
            async move { coordinator.renew(&lease).await }
        });
        let outcome = self.engine.execute(run, grant.fence, &control, heartbeat.lost()).await;
        drop(heartbeat);
        if let Some(observer) = &self.observer {
            observer.ended(&started, outcome.as_ref().map(|o| &o.run));
        }
        let run = outcome?.run;
        if run.state == RunState::Failed && run.attempts + 1 >= self.config.max_attempts {
            tracing::warn!(run_id = %run.id, attempts = run.attempts + 1, "run failed after its last attempt");
        }
        Ok(run)
    }

    /// After the lease is released: enqueue what of the integration waited for it (a
    /// preempted full, a full that stepped aside).
    async fn hand_on(&self, integration_id: &str, finished: &str) -> Result<(), WorkerError> {
        let mut waiting = Vec::new();
        for t in [SyncType::Delta, SyncType::Full, SyncType::Default] {
            if let Some(run) = self.store.open_run(integration_id, t).await?
                && run.id != finished
            {
                waiting.push(run);
            }
        }
        if waiting.is_empty() {
            return Ok(());
        }
        let waiting = stranded(self.coordinator.as_ref(), waiting).await?;
        dispatch(self.queue.as_ref(), self.coordinator.as_ref(), &waiting).await?;
        Ok(())
    }
}

/// Counts a granted lease in `tributary_leases_held` until dropped (also on an early return).
struct HeldLease;

impl HeldLease {
    fn count() -> Self {
        metrics::gauge!(tributary_metrics::catalogue::LEASES_HELD).increment(1.0);
        HeldLease
    }
}

impl Drop for HeldLease {
    fn drop(&mut self) {
        metrics::gauge!(tributary_metrics::catalogue::LEASES_HELD).decrement(1.0);
    }
}
