use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::Instrument as _;
use tributary_model::{IdGen, Model, PauseReason, RunCounts, RunState, ScopeConfig, SyncType, ToolKind};
use tributary_render::StoredRenderer;
use tributary_source::{ClientConfig, Connector, FetchMode, SharedBudget, SourceClient, SourceError, Stream};
use tributary_store::{
    Integration, PageBatch, PauseInfo, PreparedRecord, RENDER_BATCH, RenderHook, RunWrite, StoreError, Sweep, SyncRun,
    SyncStore, WriteOutcome,
};

use crate::policy::{RunAction, on_run_error};
use crate::schedule::{DELTA_OVERLAP, Schedule, sync_type_due};
use crate::telemetry;
use crate::{Checkpoint, EngineError, Heartbeat, Progress, RunControl, Signal, prepare_record};

/// How often the end-of-run rendering logs its progress.
const RENDER_PROGRESS_EVERY: Duration = Duration::from_secs(10);

#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// How the engine talks to source tools (timeouts, retries, rate budget).
    pub client: ClientConfig,
    /// The embedded lease's time to live; renewed every third of it while a run is alive.
    pub lease_ttl: Duration,
    /// Names this process in leases and runs; unique per process (host + uuid).
    pub worker_id: String,
    /// Pages fetched ahead, per stream, while earlier ones are written. A pause throws none
    /// away: the writer commits every page fetched before it stops. Pages waiting when the
    /// writer is free are written together (see `batch_records`), so when the database is
    /// the bottleneck this is also the largest batch a single stream forms.
    pub prefetch: usize,
    /// The most records one transaction writes: the writer takes every page already fetched
    /// when it is free, up to this many records (a page is never split). It never waits for a
    /// page to fill a batch, so against a source slower than the database each batch is one
    /// page, and progress and preemption wait at most for one batch's write.
    pub batch_records: usize,
    /// A stream with more pages than this is taken to paginate endlessly.
    pub max_pages_per_stream: u64,
    /// Streams of one run fetched at once. They share the integration's client, hence its
    /// rate budget: a real tool's latency, not its limit, is what one stream at a time wastes.
    pub stream_concurrency: usize,
    /// Where the fleet counts each integration's rate budget (Redis), so processes calling one
    /// tool at once share it; `None` (one process, or a test): each process counts its own.
    pub shared_budget: Option<Arc<dyn SharedBudget>>,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            client: ClientConfig::default(),
            lease_ttl: Duration::from_secs(30),
            worker_id: format!("worker-{}", uuid::Uuid::new_v4().simple()),
            prefetch: 3,
            batch_records: 2_000,
            max_pages_per_stream: 1_000_000,
            stream_concurrency: 4,
            shared_budget: None,
        }
    }
}

/// How an execution of a run ended.
#[derive(Debug, Clone)]
pub struct RunOutcome {
    /// The run as stored at the end (SUCCEEDED, FAILED, PAUSED, ...).
    pub run: SyncRun,
}

/// Runs syncs against one mirror store. Cheap to clone.
#[derive(Clone)]
pub struct SyncEngine {
    store: Arc<dyn SyncStore>,
    config: Arc<EngineConfig>,
    /// One HTTP client per integration, so every run of an integration in this process
    /// draws on the same rate budget and honours the same "quota spent until" marker.
    clients: Arc<std::sync::Mutex<std::collections::HashMap<String, SourceClient>>>,
}

pub(crate) enum StreamEnd {
    Done,
    Stopped(Signal),
}

pub(crate) enum FetchEnd {
    Done,
    Stopped,
}

/// A fetched page, already prepared for the mirror (scope applied, ids derived, hashed).
pub(crate) struct PreparedPage {
    pub(crate) records: Vec<PreparedRecord>,
    pub(crate) next: Option<Value>,
}

type Fetched = Result<PreparedPage, SourceError>;

/// How a listing pass ([`SyncEngine::list_streams`]) ended, short of an error that ends the run.
pub(crate) enum Listed {
    /// Every stream ran to its end or failed.
    Finished { errors: Vec<String>, succeeded: usize },
    /// A signal stopped it at page boundaries; every page fetched was written.
    Stopped(Signal),
    /// A stream's source is unavailable for a while: the run pauses for a retry and resumes
    /// every stream from its last committed page.
    RetryLater { stream: String, error: SourceError },
}

/// What a stream's fetcher tells the writer, in order: its pages, then how it ended.
pub(crate) enum Event {
    Page { index: usize, page: Fetched },
    End { index: usize, end: FetchEnd },
}

impl SyncEngine {
    pub fn new(store: Arc<dyn SyncStore>, config: EngineConfig) -> Self {
        Self {
            store,
            config: Arc::new(config),
            clients: Default::default(),
        }
    }

    pub fn store(&self) -> &Arc<dyn SyncStore> {
        &self.store
    }

    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// The sync type due now for `integration`: an interrupted (paused or crashed) run is
    /// resumed first; otherwise the schedule and the tool decide (see [`sync_type_due`]).
    pub async fn due_sync_type(&self, integration: &Integration, schedule: &Schedule) -> Result<SyncType, EngineError> {
        for t in [SyncType::Full, SyncType::Default] {
            if self
                .store
                .open_run(&integration.id, t)
                .await?
                .is_some_and(|r| r.state != RunState::Queued)
            {
                return Ok(t);
            }
        }
        Ok(sync_type_due(self.store.as_ref(), integration, schedule).await?)
    }

    /// One run of exactly `sync_type` under the store's lease, without the worker's policies
    /// (stepping aside, a delta superseded by the first full, retries): takes the integration's
    /// lease from the store, resumes the open run of `sync_type` (a paused or crashed one) or
    /// starts a new one, runs it to its end or to a pause under the one [`Heartbeat`], and
    /// releases the lease. The engine's tests run syncs through it; the `tributary` processes
    /// (`sync`, `serve`, the demo, the fleet) run theirs through `tributary-worker`'s job path.
    pub async fn sync(
        &self,
        integration_id: &str,
        sync_type: SyncType,
        control: &RunControl,
    ) -> Result<RunOutcome, EngineError> {
        if self.store.get_integration(integration_id).await?.is_none() {
            return Err(EngineError::IntegrationNotFound(integration_id.to_owned()));
        }
        let lease = self
            .store
            .acquire_lease(integration_id, &self.config.worker_id, self.config.lease_ttl)
            .await?
            .ok_or_else(|| EngineError::Busy(integration_id.to_owned()))?;
        let store = self.store.clone();
        let heartbeat = Heartbeat::start(lease.clone(), control.clone(), move |lease| {
            let store = store.clone();
            async move { store.renew_lease(&lease, lease.ttl).await }
        });
        let run = match self.store.open_run(integration_id, sync_type).await {
            Ok(Some(run)) => Ok(run),
            Ok(None) => self.store.create_run(integration_id, sync_type).await,
            Err(e) => Err(e),
        };
        let result = match run {
            Ok(run) => self.execute(run, lease.fence, control, heartbeat.lost()).await,
            Err(e) => Err(e.into()),
        };
        drop(heartbeat);
        if let Err(e) = self.store.release_lease(&lease).await {
            tracing::warn!(integration_id, error = %e, "could not release lease; it will expire");
        }
        result
    }

    /// Runs `run` under fence token `fence` until it ends or pauses. The caller holds the
    /// integration's lease (the store lease in embedded mode, the Redis lease in the fleet)
    /// and sets `lost` when it loses it.
    pub async fn execute(
        &self,
        run: SyncRun,
        fence: i64,
        control: &RunControl,
        lost: &AtomicBool,
    ) -> Result<RunOutcome, EngineError> {
        let integration = self
            .store
            .get_integration(&run.integration_id)
            .await?
            .ok_or_else(|| EngineError::IntegrationNotFound(run.integration_id.clone()))?;
        let (started, tool, sync_type) = (std::time::Instant::now(), integration.tool, run.sync_type);
        let result = self.execute_run(integration, run, fence, control, lost).await;
        let state = match &result {
            Ok(outcome) => outcome.run.state.as_str(),
            Err(_) => "INTERRUPTED",
        };
        telemetry::run_ended(tool, sync_type, state, started.elapsed());
        result
    }

    async fn execute_run(
        &self,
        integration: Integration,
        run: SyncRun,
        fence: i64,
        control: &RunControl,
        lost: &AtomicBool,
    ) -> Result<RunOutcome, EngineError> {
        let run = self.store.start_run(&run.id, fence, &self.config.worker_id).await?;
        // Nothing is rendered yet before an integration's first complete sync succeeds: it
        // renders once, at its end, instead of in every write.
        let render_at_end =
            run.sync_type.is_complete() && self.store.last_succeeded_run(&run.integration_id).await?.is_none();
        let write = RunWrite {
            integration_id: run.integration_id.clone(),
            run_id: run.id.clone(),
            fence,
            sync_type: run.sync_type,
            started_at: run.started_at.unwrap_or(run.created_at),
            renderer: Some(RenderHook(Arc::new(StoredRenderer))),
            render_at_end,
        };
        tracing::info!(integration_id = %integration.id, run_id = %run.id, sync_type = run.sync_type.as_str(), "sync started");

        let connector = match self.connector(&integration).await {
            Ok(c) => c,
            Err(e) => return self.finish(&write, &e).await,
        };
        let (mut integration, mut run) = (integration, run);
        let end = loop {
            let error = match self
                .run_streams(&integration, &run, &write, connector.clone(), control, lost)
                .await
            {
                Ok(end) => break end,
                Err(e) => e,
            };
            match (on_run_error(&error, lost.load(Ordering::SeqCst)), error) {
                (RunAction::Rescope { prepared, current }, _) => {
                    (integration, run) = self.rescope(&write, prepared, current).await?;
                }
                (RunAction::LeaseLost, error) => return Err(EngineError::LeaseLost(error.to_string())),
                (RunAction::Finish, EngineError::Source(src)) => return self.finish(&write, &src).await,
                (RunAction::Finish | RunAction::Propagate, error) => return Err(error),
            }
        };
        if end.run.state == RunState::Succeeded && end.run.sync_type.is_complete() {
            self.restrip_unlisted(&write, &integration, connector.as_ref()).await;
        }
        Ok(end)
    }

    async fn connector(&self, integration: &Integration) -> Result<Arc<dyn Connector>, SourceError> {
        let credentials = self
            .store
            .integration_credentials(&integration.id)
            .await
            .map_err(|e| SourceError::Config(format!("credentials unavailable: {e}")))?;
        let client = {
            let mut clients = self.clients.lock().unwrap_or_else(|p| p.into_inner());
            match clients.get(&integration.id) {
                Some(client) => client.clone(),
                None => {
                    let limits = match self.config.client.documented_limits {
                        true => tributary_connectors::documented_limits(integration.tool),
                        false => &[],
                    };
                    let mut client = SourceClient::with_tool_limits(self.config.client.clone(), limits)?
                        .for_tool(integration.tool.as_str());
                    if let Some(shared) = &self.config.shared_budget {
                        client = client.with_shared_budget(shared.clone(), integration.id.clone());
                    }
                    clients.insert(integration.id.clone(), client.clone());
                    client
                }
            }
        };
        let ids = IdGen::new(integration.id.clone());
        let connector =
            tributary_connectors::build(integration.tool, &integration.base_url, &credentials, ids, client)?;
        Ok(Arc::from(connector))
    }

    /// The scope changed under the run (the store refused a page, or a complete run's end,
    /// prepared under an older scope version): re-reads the scope, and for a complete run starts
    /// the pass again from the first stream, so every record is rewritten under the new scope
    /// (the records it wrote already included). A delta goes on from its last committed page.
    /// The refused page was not written; it is fetched again and prepared under the new scope.
    async fn rescope(
        &self,
        write: &RunWrite,
        prepared: i64,
        current: i64,
    ) -> Result<(Integration, SyncRun), EngineError> {
        let integration = loop {
            let integration = self
                .store
                .get_integration(&write.integration_id)
                .await?
                .ok_or_else(|| EngineError::IntegrationNotFound(write.integration_id.clone()))?;
            if !write.sync_type.is_complete() {
                break integration;
            }
            let run = self.reload(&write.run_id).await?.run;
            let mut checkpoint = Checkpoint::from_value(run.checkpoint.as_ref());
            checkpoint.restart();
            match self
                .store
                .restart_pass(write, &checkpoint.to_value(), integration.scope_version)
                .await
            {
                Ok(()) => break integration,
                // The scope moved again between the read and the restart: read it again.
                Err(StoreError::ScopeChanged { .. }) => continue,
                Err(e) => return Err(e.into()),
            }
        };
        tracing::info!(run_id = %write.run_id, prepared, current, now = integration.scope_version,
            restart = write.sync_type.is_complete(), "scope changed during the run; preparing under the new scope");
        let run = self.reload(&write.run_id).await?.run;
        Ok((integration, run))
    }

    /// After a complete pass under the current scope, the rows it did not rewrite (records the
    /// tool no longer lists: deleted ones, or swept by this run) still hold what older scopes
    /// let through. They are stripped here, so a disabled value is not kept in the mirror
    /// either. Best effort: the read API strips such rows anyway, and the next complete run
    /// tries again.
    async fn restrip_unlisted(&self, write: &RunWrite, integration: &Integration, connector: &dyn Connector) {
        const BATCH: i64 = 500;
        let scope = &integration.scope_config;
        let version = integration.scope_version;
        let mut after: Option<String> = None;
        let mut rewritten = 0;
        loop {
            let found = match self
                .store
                .records_before_scope(&integration.id, version, after.as_deref(), BATCH)
                .await
            {
                Ok(found) => found,
                Err(e) => {
                    tracing::warn!(integration_id = %integration.id, error = %e, "could not read rows of an older scope");
                    return;
                }
            };
            let Some(last) = found.last() else { break };
            after = Some(last.id.clone());
            let full = found.len() as i64 == BATCH;
            let stripped: Vec<_> = found
                .into_iter()
                .map(|mut record| {
                    for field in scope.disabled_fields(record.model) {
                        record.data.remove(field);
                    }
                    let pointers: Vec<String> = scope
                        .disabled_fields(record.model)
                        .into_iter()
                        .flat_map(|f| connector.remote_paths(record.model, f))
                        .collect();
                    if let Some(raw) = record.remote_data.as_ref().filter(|_| !pointers.is_empty()) {
                        let value = raw.to_value().map(|mut value| {
                            for pointer in &pointers {
                                tributary_model::strip_pointer(&mut value, pointer);
                            }
                            value
                        });
                        // Unreadable raw JSON is dropped rather than kept unstripped.
                        record.remote_data = Some(value.map(Into::into).unwrap_or_else(|_| Value::Null.into()));
                    }
                    record
                })
                .collect();
            match self.store.restrip_records(write, version, &stripped).await {
                Ok(n) => rewritten += n,
                Err(e) => {
                    tracing::warn!(integration_id = %integration.id, error = %e, "could not strip rows of an older scope");
                    return;
                }
            }
            if !full {
                break;
            }
        }
        if rewritten > 0 {
            tracing::info!(integration_id = %integration.id, rewritten, scope_version = version, "rows the tool no longer lists stripped under the current scope");
        }
    }

    /// Ends the run for a source failure that stopped it as a whole.
    async fn finish(&self, write: &RunWrite, error: &SourceError) -> Result<RunOutcome, EngineError> {
        let state = if error.is_auth() {
            RunState::AuthenticationFailed
        } else {
            RunState::Failed
        };
        tracing::warn!(run_id = %write.run_id, state = state.as_str(), error = %error, "sync failed");
        let run = self.store.finish_run(write, state, Some(&error.to_string())).await?;
        Ok(RunOutcome { run })
    }

    async fn run_streams(
        &self,
        integration: &Integration,
        run: &SyncRun,
        write: &RunWrite,
        connector: Arc<dyn Connector>,
        control: &RunControl,
        lost: &AtomicBool,
    ) -> Result<RunOutcome, EngineError> {
        let scope = &integration.scope_config;
        self.delete_disabled_models(integration, write).await?;

        let mode = match run.sync_type {
            SyncType::Delta => match self.store.last_succeeded_run(&integration.id).await? {
                Some(prev) => FetchMode::Delta {
                    since: prev.started_at.unwrap_or(prev.created_at) - DELTA_OVERLAP,
                },
                // No sync ever succeeded: there is no "since", so read everything (still
                // without deletions: a delta never deletes).
                None => FetchMode::Full,
            },
            SyncType::Full | SyncType::Default => FetchMode::Full,
        };

        let streams = connector.streams();
        let enabled = |s: &Stream| s.models.iter().any(|m| scope.model_enabled(*m));
        let pass = Pass {
            integration,
            write,
            connector: &connector,
            control,
        };
        let mut tally = Tally {
            checkpoint: Checkpoint::from_value(run.checkpoint.as_ref()),
            counts: run.counts,
        };
        let listed = self.list_streams(&pass, &streams, mode, &mut tally).await?;
        let (errors, succeeded) = match listed {
            Listed::Finished { errors, succeeded } => (errors, succeeded),
            Listed::Stopped(signal) => {
                if lost.load(Ordering::SeqCst) {
                    return Err(EngineError::LeaseLost(format!(
                        "run {} stopped at a page boundary",
                        run.id
                    )));
                }
                return self.stop(integration.tool, write, signal, control).await;
            }
            Listed::RetryLater { stream, error } => {
                // The fleet retries the run later from each stream's last committed page.
                let delay = control.retry_after().unwrap_or_default();
                let info = PauseInfo {
                    reason: PauseReason::Retry,
                    preempted_by: None,
                    resume_at: Some(chrono::Utc::now() + delay),
                    error: Some(format!("{stream}: {error}")),
                };
                self.store.pause_run(write, &info).await?;
                tracing::warn!(run_id = %run.id, stream, error = %error, retry_in = ?delay, "source unavailable; run paused for a retry");
                return self.reload(&write.run_id).await;
            }
        };

        if errors.is_empty() {
            if run.sync_type.is_complete() {
                let models: BTreeSet<Model> = streams
                    .iter()
                    .filter(|s| enabled(s))
                    .flat_map(|s| s.models.iter().copied())
                    .filter(|m| scope.model_enabled(*m))
                    .collect();
                let models: Vec<Model> = models.into_iter().collect();
                let enabled_streams: Vec<Stream> = streams.iter().filter(|s| enabled(s)).cloned().collect();
                let confirmation = match self
                    .confirm_deletions(&pass, &enabled_streams, &models, &mut tally)
                    .await?
                {
                    Ok(confirmation) => confirmation,
                    Err(signal) => {
                        if lost.load(Ordering::SeqCst) {
                            return Err(EngineError::LeaseLost(format!(
                                "run {} stopped while confirming deletions",
                                run.id
                            )));
                        }
                        return self.stop(integration.tool, write, signal, control).await;
                    }
                };
                let sweep = Sweep {
                    models: &models,
                    confirmed: &confirmation.confirmed,
                    unconfirmed: confirmation.unconfirmed,
                };
                let swept = self.store.sweep_deletions(write, &sweep).await?;
                telemetry::records(integration.tool, &swept);
                tracing::info!(run_id = %run.id, deleted = swept.deleted, unconfirmed = confirmation.unconfirmed, "deletion sweep done");
            }
            self.render_pending(write, control).await?;
            let run = self.store.finish_run(write, RunState::Succeeded, None).await?;
            tracing::info!(run_id = %run.id, created = run.counts.created, updated = run.counts.updated,
                deleted = run.counts.deleted, unchanged = run.counts.unchanged, pages = run.counts.pages_fetched, "sync succeeded");
            return Ok(RunOutcome { run });
        }
        let state = if succeeded > 0 {
            RunState::PartiallyFailed
        } else {
            RunState::Failed
        };
        // What the failed run did write is served like any other data: render it too. Only
        // reads would be slower without it, so failing to does not hide the run's own errors.
        if let Err(e) = self.render_pending(write, control).await {
            tracing::warn!(run_id = %write.run_id, error = %e, "rendering after a failed run failed; the read API renders those records live");
        }
        let run = self.store.finish_run(write, state, Some(&errors.join("; "))).await?;
        Ok(RunOutcome { run })
    }

    /// Brings the stored renderings up to date at the end of a run. First what its writes left
    /// pending: each write renders at most `RENDER_BATCH` records in its own transaction, and
    /// one change can touch more (a renamed group is shown by every member's rendering). Then,
    /// for a complete run, every live record without a rendering: all that a run with
    /// `render_at_end` wrote, and what such a run, stopped before its end, left. A pause or
    /// cancel request stops that second part between two transactions. Until they are
    /// rendered the read API renders those records live, so this only makes reads faster.
    async fn render_pending(&self, write: &RunWrite, control: &RunControl) -> Result<(), EngineError> {
        loop {
            let settled = self.store.render_pending(write, RENDER_BATCH).await?;
            if settled == 0 {
                break;
            }
            tracing::debug!(run_id = %write.run_id, settled, "rendered pending records");
        }
        if !write.sync_type.is_complete() {
            return Ok(());
        }
        let started = std::time::Instant::now();
        let (mut after, mut rendered, mut reported) = (None::<String>, 0u64, started);
        loop {
            if control.signal() != Signal::Continue {
                tracing::info!(run_id = %write.run_id, rendered, "rendering stopped by a pause or cancel request; \
                    the read API renders the rest live until the next complete run renders them");
                return Ok(());
            }
            let sweep = self
                .store
                .render_unrendered(write, after.as_deref(), RENDER_BATCH)
                .await?;
            rendered += sweep.rendered;
            let Some(next) = sweep.next else { break };
            if reported.elapsed() >= RENDER_PROGRESS_EVERY {
                tracing::info!(run_id = %write.run_id, rendered, at = %next, "rendering records that have no stored rendering");
                reported = std::time::Instant::now();
            }
            after = Some(next);
        }
        if rendered > 0 {
            tracing::info!(run_id = %write.run_id, rendered, secs = started.elapsed().as_secs_f64(), "rendered every record that had no stored rendering");
        }
        Ok(())
    }

    async fn delete_disabled_models(&self, integration: &Integration, write: &RunWrite) -> Result<(), EngineError> {
        for model in Model::ALL
            .iter()
            .copied()
            .filter(|m| !integration.scope_config.model_enabled(*m))
        {
            if self.store.count_records(&integration.id, model, false).await? > 0 {
                let out = self.store.delete_model(write, model).await?;
                telemetry::records(integration.tool, &out);
                tracing::info!(integration_id = %integration.id, model = %model, deleted = out.deleted, "model disabled by scope: rows marked deleted");
            }
        }
        Ok(())
    }

    pub(crate) async fn stop(
        &self,
        tool: ToolKind,
        write: &RunWrite,
        signal: Signal,
        control: &RunControl,
    ) -> Result<RunOutcome, EngineError> {
        match signal {
            Signal::Pause => {
                let request = control.pause_reason();
                let info = PauseInfo {
                    reason: request.reason,
                    preempted_by: request.preempted_by,
                    resume_at: None,
                    error: None,
                };
                self.store.pause_run(write, &info).await?;
                tracing::info!(run_id = %write.run_id, reason = request.reason.as_str(), "sync paused at a page boundary");
                if let Some(by) = info.preempted_by.as_deref() {
                    // Due is when the preempting run was queued; a failed read only loses the sample.
                    let due = self.store.get_run(by).await.ok().flatten().map(|r| r.created_at);
                    telemetry::preempted(tool, due);
                }
            }
            Signal::Cancel | Signal::Continue => {
                self.store
                    .finish_run(write, RunState::Cancelled, Some("cancelled"))
                    .await?;
                tracing::info!(run_id = %write.run_id, "sync cancelled");
            }
        }
        self.reload(&write.run_id).await
    }

    async fn reload(&self, run_id: &str) -> Result<RunOutcome, EngineError> {
        let run = self
            .store
            .get_run(run_id)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("run {run_id}")))?;
        Ok(RunOutcome { run })
    }

    /// Writes prepared records as one page of the run (see [`SyncEngine::write_pages`]).
    pub(crate) async fn write_page(
        &self,
        pass: &Pass<'_>,
        records: Vec<PreparedRecord>,
        tally: &mut Tally,
        pages_fetched: i64,
    ) -> Result<WriteOutcome, StoreError> {
        self.write_pages(pass, vec![records], tally, pages_fetched).await
    }

    /// Writes consecutive pages of the run in one transaction — fenced, under the scope
    /// version they were prepared with (the store refuses them if the scope changed since) —
    /// with the tally's checkpoint, and adds what they did to the tally's counts.
    pub(crate) async fn write_pages(
        &self,
        pass: &Pass<'_>,
        pages: Vec<Vec<PreparedRecord>>,
        tally: &mut Tally,
        pages_fetched: i64,
    ) -> Result<WriteOutcome, StoreError> {
        let started = std::time::Instant::now();
        let out = self
            .store
            .apply_pages(
                pass.write,
                PageBatch {
                    pages,
                    checkpoint: tally.checkpoint.to_value(),
                    scope_version: pass.integration.scope_version,
                },
            )
            .await?;
        tally.counts.add(RunCounts {
            pages_fetched,
            created: out.created,
            updated: out.updated,
            deleted: out.deleted,
            unchanged: out.unchanged,
            unconfirmed: 0,
        });
        telemetry::page_written(pass.integration.tool, &out, started.elapsed());
        Ok(out)
    }

    /// Lists `stream` once more from its first page to confirm deletion candidates, after
    /// every stream was listed. Its pages are written (what they return is seen) but keep the
    /// run's checkpoint where it is: a run paused or killed during it resumes by confirming
    /// again, and whatever this pass already saw no longer needs confirming.
    pub(crate) async fn relist_stream(
        &self,
        pass: &Pass<'_>,
        stream: &Stream,
        tally: &mut Tally,
    ) -> Result<StreamEnd, EngineError> {
        let control = pass.control;
        let (tx, mut rx) = mpsc::channel::<Event>(self.config.prefetch.max(1));
        let span = tracing::info_span!("stream", stream = stream.name, phase = "confirm");
        let _fetcher = AbortOnDrop(tokio::spawn(
            Fetcher {
                index: 0,
                connector: pass.connector.clone(),
                stream: stream.clone(),
                cursor: None,
                mode: FetchMode::Full,
                control: control.clone(),
                max_pages: self.config.max_pages_per_stream,
                preparer: Preparer::for_integration(pass.integration),
                tx,
            }
            .run()
            .instrument(span),
        ));
        loop {
            let page = match rx.recv().await {
                Some(Event::Page { page: Ok(page), .. }) => page,
                Some(Event::Page { page: Err(e), .. }) => return Err(e.into()),
                // Every page it fetched has been written above, so a resumed run never
                // fetches a page twice.
                Some(Event::End {
                    end: FetchEnd::Done, ..
                }) => return Ok(StreamEnd::Done),
                Some(Event::End {
                    end: FetchEnd::Stopped, ..
                }) => return Ok(StreamEnd::Stopped(control.signal())),
                None => {
                    return Err(EngineError::Source(SourceError::Config(
                        "page fetcher crashed".to_owned(),
                    )));
                }
            };
            self.write_page(pass, page.records, tally, 1).await?;
            control.report(Progress {
                stream: stream.name.to_owned(),
                counts: tally.counts,
            });
            if control.signal() == Signal::Cancel {
                return Ok(StreamEnd::Stopped(Signal::Cancel));
            }
        }
    }
}

/// Aborts a spawned task when dropped, so cancelling a run cancels its helpers too.
struct AbortOnDrop<T>(JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// What a pass over the streams works with, the same for every stream and page of it.
#[derive(Clone, Copy)]
pub(crate) struct Pass<'a> {
    pub(crate) integration: &'a Integration,
    pub(crate) write: &'a RunWrite,
    pub(crate) connector: &'a Arc<dyn Connector>,
    pub(crate) control: &'a RunControl,
}

/// Where the run stands: the checkpoint every page write commits, and what the run did so far.
pub(crate) struct Tally {
    pub(crate) checkpoint: Checkpoint,
    pub(crate) counts: RunCounts,
}

/// What the fetcher needs to prepare records: hashing runs there, beside the fetch, so it
/// overlaps the previous page's write instead of adding to it (a third of the worker's CPU in
/// a FULL of Personio employees is the content hash).
pub(crate) struct Preparer {
    pub(crate) scope: ScopeConfig,
    pub(crate) ids: IdGen,
}

impl Preparer {
    pub(crate) fn for_integration(integration: &Integration) -> Self {
        Preparer {
            scope: integration.scope_config.clone(),
            ids: IdGen::new(integration.id.clone()),
        }
    }
}

/// Fetches the pages of stream `index` one after another into `tx`, checking the run's signal
/// before each request and detecting pagination that never ends; then says how it ended.
pub(crate) struct Fetcher {
    pub(crate) index: usize,
    pub(crate) connector: Arc<dyn Connector>,
    pub(crate) stream: Stream,
    /// Where the stream resumes; `None` from its first page.
    pub(crate) cursor: Option<Value>,
    pub(crate) mode: FetchMode,
    pub(crate) control: RunControl,
    /// More pages than this are taken for pagination that never ends.
    pub(crate) max_pages: u64,
    pub(crate) preparer: Preparer,
    pub(crate) tx: mpsc::Sender<Event>,
}

impl Fetcher {
    pub(crate) async fn run(self) {
        let Fetcher {
            index,
            connector,
            stream,
            mut cursor,
            mode,
            control,
            max_pages,
            preparer,
            tx,
        } = self;
        let mut seen: HashSet<String> = HashSet::new();
        if let Some(c) = &cursor {
            seen.insert(c.to_string());
        }
        let mut pages = 0u64;
        let end = loop {
            if control.signal() != Signal::Continue {
                break FetchEnd::Stopped;
            }
            pages += 1;
            let span = tracing::info_span!("page", page = pages);
            let fetch_started = std::time::Instant::now();
            let result = connector
                .fetch_page(&stream, cursor.as_ref(), mode)
                .instrument(span)
                .await;
            telemetry::page_fetched(connector.tool(), fetch_started.elapsed());
            let result = result.and_then(|page| {
                if let Some(next) = &page.next {
                    if !seen.insert(next.to_string()) {
                        return Err(SourceError::Pagination {
                            endpoint: stream.name.to_owned(),
                            detail: format!("cursor {next} came back a second time"),
                        });
                    }
                    if pages >= max_pages {
                        return Err(SourceError::Pagination {
                            endpoint: stream.name.to_owned(),
                            detail: format!("more than {max_pages} pages"),
                        });
                    }
                }
                Ok(page)
            });
            let result = result.map(|page| PreparedPage {
                records: page
                    .records
                    .into_iter()
                    .filter_map(|r| prepare_record(r, &preparer.scope, &preparer.ids, connector.as_ref()))
                    .collect(),
                next: page.next,
            });
            let next = match &result {
                Ok(page) => page.next.clone(),
                Err(_) => None,
            };
            let failed = result.is_err();
            if tx.send(Event::Page { index, page: result }).await.is_err() {
                return;
            }
            if failed {
                break FetchEnd::Done;
            }
            match next {
                Some(n) => cursor = Some(n),
                None => break FetchEnd::Done,
            }
        };
        let _ = tx.send(Event::End { index, end }).await;
    }
}
