//! What the mirror can do, as one trait per concern, so that each caller takes only what it
//! uses: the gateway never sees run or mirror writes, the engine never sees API keys or the
//! outbox. Both backends implement every role and pass one conformance suite
//! (`tests/conformance.rs`).
//!
//! Callers that keep a store in a struct hold one of the views at the end of this file (a
//! trait object can name only one trait); functions take `&(impl RoleA + RoleB + ?Sized)`.
//! [`MirrorStore`] is every role at once: what the binary opens and hands out.

use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;
use tributary_model::{Model, RunState, ScopeConfig, SyncType, Timestamp};

use crate::StoreError;
use crate::api::*;

/// Which database this is, its migrations and whether it answers.
#[async_trait]
pub trait Backend: Send + Sync + 'static {
    /// `"postgres"` or `"sqlite"`, for logs and the operator API.
    fn backend(&self) -> &'static str;

    /// Applies pending migrations. Idempotent; run at start and by `tributary migrate`.
    async fn migrate(&self) -> Result<(), StoreError>;

    /// How the database's applied migrations compare with this release's, without changing
    /// anything (no migrations table yet: none applied).
    async fn schema_status(&self) -> Result<crate::SchemaStatus, StoreError>;

    /// Whether the database answers, for `/ready`.
    async fn ping(&self) -> Result<(), StoreError>;
}

/// Connected tools: their settings, scope and sealed credentials.
#[async_trait]
pub trait Integrations: Send + Sync + 'static {
    /// Fails with [`StoreError::Conflict`] when the id exists.
    async fn create_integration(&self, new: NewIntegration) -> Result<Integration, StoreError>;
    async fn get_integration(&self, id: &str) -> Result<Option<Integration>, StoreError>;
    async fn list_integrations(&self) -> Result<Vec<Integration>, StoreError>;
    /// Replaces the scope config and, when it differs from the stored one, moves the
    /// integration's scope version on, under the integration's write lock: a page prepared under
    /// the old config either committed before or is refused. Returns the scope version now.
    async fn set_scope_config(&self, id: &str, scope: &ScopeConfig) -> Result<i64, StoreError>;
    /// Points the integration at another API root with new credentials (rotated keys, a moved
    /// tenant). The mirrored data stays.
    async fn update_integration_source(&self, id: &str, base_url: &str, credentials: &Value) -> Result<(), StoreError>;
    /// The decrypted credentials. Never log or return them over the API (invariant I8).
    async fn integration_credentials(&self, id: &str) -> Result<Value, StoreError>;
    /// Removes the integration with its records, runs, schedules and change log. `false` if absent.
    async fn delete_integration(&self, id: &str) -> Result<bool, StoreError>;
}

/// API keys of the read API; only a hash is stored.
#[async_trait]
pub trait ApiKeys: Send + Sync + 'static {
    async fn create_api_key(&self, environment: &str, label: &str, key_hash: &[u8]) -> Result<ApiKey, StoreError>;
    /// The live (not revoked) key with this hash.
    async fn find_api_key(&self, key_hash: &[u8]) -> Result<Option<ApiKey>, StoreError>;
    /// The live key with this hash and, if `integration_id` names an integration of the key's
    /// environment, that integration: the read API's two lookups of a request in one statement
    /// (one round trip to the database instead of two).
    async fn find_api_key_and_integration(
        &self,
        key_hash: &[u8],
        integration_id: &str,
    ) -> Result<Option<(ApiKey, Option<Integration>)>, StoreError>;
    async fn revoke_api_key(&self, id: &str) -> Result<bool, StoreError>;
    /// Every key, revoked ones too, newest first on `(created_at, id)`, after `after`. Never
    /// the hash.
    async fn list_api_keys(&self, after: Option<&PageKey>, limit: i64) -> Result<Vec<ApiKey>, StoreError>;
}

/// The embedded lease; the fleet's Redis lease bumps the same fence.
#[async_trait]
pub trait Leases: Send + Sync + 'static {
    /// Takes the lease if it is free or expired, bumping the integration's fence.
    async fn acquire_lease(
        &self,
        integration_id: &str,
        owner: &str,
        ttl: Duration,
    ) -> Result<Option<Lease>, StoreError>;
    /// Extends a lease still held by its owner with the same fence; `false` once lost.
    async fn renew_lease(&self, lease: &Lease, ttl: Duration) -> Result<bool, StoreError>;
    async fn release_lease(&self, lease: &Lease) -> Result<(), StoreError>;
    /// Raises the fence to a token issued elsewhere (the Redis lease). Never lowers it.
    async fn advance_fence(&self, integration_id: &str, fence: i64) -> Result<(), StoreError>;
}

/// A sync run's life: queued, started, paused, finished (the writes).
#[async_trait]
pub trait Runs: Send + Sync + 'static {
    /// A new run in state QUEUED.
    async fn create_run(&self, integration_id: &str, sync_type: SyncType) -> Result<SyncRun, StoreError>;
    /// The open (QUEUED, RUNNING or PAUSED) run of this integration and type, or a new QUEUED
    /// one; `true` when it was created. At most one run per (integration, type) is open
    /// (invariant I5, a unique index): concurrent callers get the same run.
    async fn enqueue_run(&self, integration_id: &str, sync_type: SyncType) -> Result<(SyncRun, bool), StoreError>;
    /// Marks the run RUNNING under `fence` by `worker_id`, clearing its pause fields; sets
    /// `started_at` only the first time. Fails with `Invalid` once the run has ended.
    async fn start_run(&self, run_id: &str, fence: i64, worker_id: &str) -> Result<SyncRun, StoreError>;
    /// PAUSED, keeping the checkpoint, with why (fenced). A RETRY pause adds one to `attempts`
    /// and keeps `info.error`.
    async fn pause_run(&self, run: &RunWrite, info: &PauseInfo) -> Result<(), StoreError>;
    /// Ends a run nobody executes (QUEUED or PAUSED) as CANCELLED with `reason` as its error.
    /// `false` when the run is RUNNING or already ended: a running run is cancelled through
    /// its worker, at a page boundary.
    async fn cancel_idle_run(&self, run_id: &str, reason: &str) -> Result<bool, StoreError>;
    /// An operator's pause of a run no worker executes: a QUEUED run, or one PAUSED for another
    /// reason (which would otherwise resume on its own), becomes PAUSED for OPERATOR. `false`
    /// when it is RUNNING, already held by an operator, or ended.
    async fn pause_idle_run(&self, run_id: &str) -> Result<bool, StoreError>;
    /// An operator's resume: a PAUSED run loses its pause reason (and `resume_at`), so the
    /// scheduler queues it again. `false` unless PAUSED.
    async fn resume_paused_run(&self, run_id: &str) -> Result<bool, StoreError>;
    /// A terminal state with an optional error (fenced). SUCCEEDED for a complete run (FULL or
    /// DEFAULT) is refused with [`StoreError::ScopeChanged`] when the run's pass started under
    /// an older scope version than the integration's: that pass did not rewrite every record
    /// under the current scope.
    async fn finish_run(&self, run: &RunWrite, state: RunState, error: Option<&str>) -> Result<SyncRun, StoreError>;
    /// Records the W3C `traceparent` the run descends from, unless it has one already (a run
    /// joins one trace for good). Its job spans and the events it causes join that trace.
    async fn trace_run(&self, run_id: &str, traceparent: &str) -> Result<(), StoreError>;
}

/// What runs there were and are (reads only).
#[async_trait]
pub trait RunHistory: Send + Sync + 'static {
    async fn get_run(&self, run_id: &str) -> Result<Option<SyncRun>, StoreError>;
    /// The newest QUEUED, RUNNING or PAUSED run of this integration and type.
    async fn open_run(&self, integration_id: &str, sync_type: SyncType) -> Result<Option<SyncRun>, StoreError>;
    /// Every open run of every integration, oldest first, up to `limit`: what the scheduler
    /// makes sure is queued or running, and what operators see.
    async fn list_open_runs(&self, limit: i64) -> Result<Vec<SyncRun>, StoreError>;
    /// Newest first.
    async fn list_runs(&self, integration_id: &str, limit: i64) -> Result<Vec<SyncRun>, StoreError>;
    /// The newest SUCCEEDED run (any type), whose start bounds the next delta.
    async fn last_succeeded_run(&self, integration_id: &str) -> Result<Option<SyncRun>, StoreError>;
    /// When the newest SUCCEEDED complete run (FULL or DEFAULT) started (created, if it never
    /// recorded a start), however many deltas followed it: what the sync-type policy measures
    /// the full interval from.
    async fn last_complete_success(&self, integration_id: &str) -> Result<Option<Timestamp>, StoreError>;
    /// Runs of every integration matching `search`, newest first on `(created_at, id)`: a walk
    /// page by page (`search.after`, the last run of the previous page) returns each run at
    /// most once, however many runs are inserted meanwhile (they sort before the walk's place).
    async fn search_runs(&self, search: &RunSearch) -> Result<Vec<SyncRun>, StoreError>;
}

/// Mirror writes: fenced, one transaction each.
#[async_trait]
pub trait MirrorWrites: Send + Sync + 'static {
    /// Upserts the page's records whose hash (or deletion state) changed, records the ids it
    /// saw for the deletion sweep, logs changes, moves dependents' `updated_at`, adds to the
    /// run's counts and stores the checkpoint — atomically. Records unchanged but written under
    /// an older scope version only have their version moved (their content already is what the
    /// current scope makes of it, or their hash would differ).
    async fn apply_page(&self, run: &RunWrite, page: PageWrite) -> Result<WriteOutcome, StoreError> {
        let PageWrite {
            records,
            checkpoint,
            scope_version,
        } = page;
        let batch = PageBatch {
            pages: vec![records],
            checkpoint,
            scope_version,
        };
        self.apply_pages(run, batch).await
    }
    /// [`MirrorWrites::apply_page`] for consecutive pages in one transaction, with the last
    /// page's checkpoint: all of them are committed or none is. The mirror, the change log and
    /// the run's counts end as if the pages had been written one by one; a record two pages
    /// list is upserted once, with the later page's content.
    async fn apply_pages(&self, run: &RunWrite, batch: PageBatch) -> Result<WriteOutcome, StoreError>;
    /// Starts the run's pass again from `checkpoint` under scope version `scope_version` (fenced;
    /// refused with [`StoreError::ScopeChanged`] unless that is the integration's version): a
    /// complete run does this when the scope changed under it.
    async fn restart_pass(&self, run: &RunWrite, checkpoint: &Value, scope_version: i64) -> Result<(), StoreError>;
    /// Records (deleted ones included) written under a scope version older than
    /// `scope_version`, by id after `after_id`: what a complete pass under it did not rewrite,
    /// because the tool no longer lists them. Read with `remote_data`.
    async fn records_before_scope(
        &self,
        integration_id: &str,
        scope_version: i64,
        after_id: Option<&str>,
        limit: i64,
    ) -> Result<Vec<StoredRecord>, StoreError>;
    /// Replaces `data` and `remote_data` of `records` (read by
    /// [`MirrorWrites::records_before_scope`]) with what the config of `scope_version` leaves of
    /// them and stamps them with it (fenced; refused with [`StoreError::ScopeChanged`] unless it
    /// is the integration's version). No change: no change-log entry, `changed_at` and
    /// `updated_at` stay. Returns how many rows it rewrote.
    async fn restrip_records(
        &self,
        run: &RunWrite,
        scope_version: i64,
        records: &[StoredRecord],
    ) -> Result<u64, StoreError>;
    /// The live records of `models` that neither this run nor any run started after it saw,
    /// and that nothing changed since this run started: what the sweep would mark if the
    /// source confirms them absent.
    async fn deletion_candidates(&self, run: &RunWrite, models: &[Model])
    -> Result<Vec<DeletionCandidate>, StoreError>;
    /// Marks deleted the confirmed ids that are still candidates (invariant I1: only on proof),
    /// and stores how many candidates stayed unconfirmed.
    async fn sweep_deletions(&self, run: &RunWrite, sweep: &Sweep<'_>) -> Result<WriteOutcome, StoreError>;
    /// Marks every live record of a model deleted (the model was disabled by scope).
    async fn delete_model(&self, run: &RunWrite, model: Model) -> Result<WriteOutcome, StoreError>;
    /// Renders up to `limit` of the integration's pending renderings with the run's renderer,
    /// in one fenced transaction, and returns how many it settled (rendered, or dropped for a
    /// record that is gone or deleted); 0 when none are pending or the run has no renderer.
    async fn render_pending(&self, run: &RunWrite, limit: i64) -> Result<u64, StoreError>;
    /// Renders with the run's renderer, in one fenced transaction, the live records without a
    /// ready rendering among the integration's next `limit` records after `after` (by id, a
    /// window that bounds the transaction): how a run with [`RunWrite::render_at_end`] renders
    /// what it wrote, and how every complete run catches up on what such a run, stopped before
    /// its end, left unrendered. Called with each [`RenderSweep::next`] until it is `None`.
    async fn render_unrendered(
        &self,
        run: &RunWrite,
        after: Option<&str>,
        limit: i64,
    ) -> Result<RenderSweep, StoreError>;
}

/// Reads of the mirror: gap-free (invariant I3).
#[async_trait]
pub trait MirrorReads: Send + Sync + 'static {
    async fn query_records(&self, query: &RecordQuery) -> Result<Vec<StoredRecord>, StoreError>;
    /// Live and deleted records of `model` whose `parent_id` is one of `parent_ids`.
    async fn records_by_parent(
        &self,
        integration_id: &str,
        model: Model,
        parent_ids: &[String],
    ) -> Result<Vec<StoredRecord>, StoreError>;
    async fn count_records(&self, integration_id: &str, model: Model, include_deleted: bool)
    -> Result<i64, StoreError>;
    /// The page `query` selects (its ids, in order) with each record's stored rendering where
    /// one made under `scope_version` is ready, `None` elsewhere (see `crate::rendering`).
    async fn rendered_page(&self, query: &RecordQuery, scope_version: i64) -> Result<Vec<RenderedRow>, StoreError>;
    /// The change log after `after_seq`, oldest first.
    async fn changes_since(&self, integration_id: &str, after_seq: i64, limit: i64) -> Result<Vec<Change>, StoreError>;
}

/// Sync schedules: the scheduler's source of truth (Redis only carries the jobs).
#[async_trait]
pub trait Schedules: Send + Sync + 'static {
    /// Creates the missing schedules of the integration, due at once, and returns how many it
    /// created. An existing schedule keeps its `next_due_at`, override and last claim, and takes
    /// the given default interval. Called when an integration is created and by the scheduler at
    /// start (re-creating what a lost database row or a new sync type left missing). Types absent
    /// from `intervals` are left alone. Intervals are whole seconds, at least one.
    async fn ensure_schedules(
        &self,
        integration_id: &str,
        intervals: &[(SyncType, Duration)],
    ) -> Result<u64, StoreError>;
    /// Overrides the interval of one schedule (`None` returns to the default). A shorter
    /// interval pulls `next_due_at` in to `last_claimed_at + interval`; a longer one takes
    /// effect from the next claim, so a pending (e.g. forced) sync is never pushed out.
    async fn set_schedule_interval(
        &self,
        integration_id: &str,
        sync_type: SyncType,
        every: Option<Duration>,
    ) -> Result<(), StoreError>;
    /// Records whether the integration's inbound webhooks are active. While they are, every
    /// schedule without an override runs every [`WEBHOOK_POLL_INTERVAL`]; turning them off pulls
    /// schedules in as [`Schedules::set_schedule_interval`] does.
    async fn set_webhooks_active(&self, integration_id: &str, active: bool) -> Result<(), StoreError>;
    /// Claims up to `limit` schedules due at `now` (oldest due first) for `owner`, moving each
    /// one's `next_due_at` to `now + interval` in the same transaction: a schedule that missed
    /// many intervals fires once, not once per interval. Each due schedule is returned to exactly
    /// one caller, however many replicas claim concurrently.
    async fn claim_due_syncs(&self, now: Timestamp, owner: &str, limit: i64) -> Result<Vec<DueSync>, StoreError>;
    /// [`Schedules::claim_due_syncs`] and [`Runs::enqueue_run`] for each claim in one
    /// transaction: a scheduler that dies after the claim leaves a QUEUED run behind, never a
    /// claim with nothing to show for it.
    async fn claim_due_runs(&self, now: Timestamp, owner: &str, limit: i64) -> Result<Vec<ClaimedRun>, StoreError>;
    /// Makes the schedule due at `now` (or keeps it due earlier), so the next claim picks it up;
    /// that claim then restarts its cadence from there.
    async fn force_sync(&self, integration_id: &str, sync_type: SyncType, now: Timestamp) -> Result<(), StoreError>;
    /// The integration's schedules, ordered by sync type name; empty when it has none.
    async fn list_schedules(&self, integration_id: &str) -> Result<Vec<SyncSchedule>, StoreError>;
    /// An operator's pause: the claim skips the schedule until it is resumed. Its interval and
    /// `next_due_at` stay. `false` when it was paused already; `NotFound` when it does not exist.
    async fn pause_schedule(&self, integration_id: &str, sync_type: SyncType) -> Result<bool, StoreError>;
    /// Lifts the pause; `next_due_at` is left as it was, so the schedule is due at its normal
    /// time, or at once (claimed once) when that passed during the pause. `false` when it was
    /// not paused; `NotFound` when it does not exist.
    async fn resume_schedule(&self, integration_id: &str, sync_type: SyncType) -> Result<bool, StoreError>;
}

/// What operators judge an integration's health from (reads only).
#[async_trait]
pub trait Health: Send + Sync + 'static {
    /// Per integration (by id, after `filter.after_id`): its newest success, whether its newest
    /// outcome was a failure, its newest failed run and its schedules.
    async fn integration_health(&self, filter: &HealthFilter) -> Result<Vec<HealthFacts>, StoreError>;
}

/// Where consumers receive outbound webhooks.
#[async_trait]
pub trait WebhookEndpoints: Send + Sync + 'static {
    async fn create_webhook_endpoint(&self, new: NewWebhookEndpoint) -> Result<WebhookEndpoint, StoreError>;
    async fn list_webhook_endpoints(&self, environment: Option<&str>) -> Result<Vec<WebhookEndpoint>, StoreError>;
    async fn get_webhook_endpoint(&self, id: &str) -> Result<Option<WebhookEndpoint>, StoreError>;
    /// Removes the endpoint; its pending deliveries are dropped with it. `false` if absent.
    async fn delete_webhook_endpoint(&self, id: &str) -> Result<bool, StoreError>;
}

/// Outbound webhooks: a transactional outbox.
///
/// Events are written by the mirror itself, in the transaction of the change they describe:
/// `finish_run` writes `sync-finished` for every run and `data-changed` when the run created,
/// updated or deleted a record (listing the models it changed); `create_integration` and
/// `delete_integration` write `integration-created`/`-deleted`; `finish_run` writes
/// `integration-state-changed` when the integration turns INVALID (AUTHENTICATION_FAILED) or
/// back to ACTIVE. Each event gets one delivery per endpoint of its environment that takes
/// its type.
#[async_trait]
pub trait Outbox: Send + Sync + 'static {
    /// Hands up to `limit` PENDING deliveries whose `next_attempt_at` has come to one caller
    /// (oldest first; `FOR UPDATE SKIP LOCKED` on Postgres), moving their `next_attempt_at` to
    /// `now + lease` so a deliverer that dies mid-attempt loses nothing: the delivery comes due
    /// again. Deliveries of one integration to one endpoint are handed out in event order, one
    /// at a time: a later event is not claimed while an earlier one is pending.
    async fn claim_deliveries(
        &self,
        now: Timestamp,
        lease: Duration,
        limit: i64,
    ) -> Result<Vec<ClaimedDelivery>, StoreError>;
    /// Records an attempt and its outcome (attempts + 1; DELIVERED, PENDING at the retry time,
    /// or DEAD) in one transaction.
    async fn record_attempt(&self, attempt: &DeliveryAttempt, outcome: &AttemptOutcome) -> Result<(), StoreError>;
    /// Newest first.
    async fn list_deliveries(&self, filter: &DeliveryFilter) -> Result<Vec<WebhookDelivery>, StoreError>;
    async fn get_delivery(&self, id: &str) -> Result<Option<WebhookDelivery>, StoreError>;
    /// Oldest first.
    async fn delivery_attempts(&self, delivery_id: &str) -> Result<Vec<DeliveryAttempt>, StoreError>;
    /// A DEAD (or DELIVERED) delivery becomes PENDING, due now, with the same event (and so the
    /// same payload `id`). `false` if absent.
    async fn redeliver(&self, delivery_id: &str) -> Result<bool, StoreError>;
    /// A signal that deliveries were queued, so a deliverer sends them at once instead of at
    /// its next poll. `None` where the backend has none (SQLite): the deliverer polls.
    async fn outbox_listener(&self) -> Result<Option<Box<dyn OutboxListener>>, StoreError> {
        Ok(None)
    }
}

/// Webhooks from source tools: their secrets and the deliveries seen.
#[async_trait]
pub trait InboundWebhooks: Send + Sync + 'static {
    /// Sets (or with `None` removes) the secret the tool signs its webhooks to this integration
    /// with, encrypted at rest, and marks its inbound webhooks active or not
    /// ([`Schedules::set_webhooks_active`]).
    async fn set_inbound_webhook_secret(&self, integration_id: &str, secret: Option<&str>) -> Result<(), StoreError>;
    /// The decrypted inbound secret; `None` when the integration takes no webhooks.
    async fn inbound_webhook_secret(&self, integration_id: &str) -> Result<Option<String>, StoreError>;
    /// Remembers an inbound delivery by the tool's id for it (or a digest of its body); `false`
    /// when it was seen before (the tool retried), so it is applied once.
    async fn record_inbound_delivery(&self, integration_id: &str, delivery_key: &str) -> Result<bool, StoreError>;
}

/// What `/metrics` reads about the whole fleet at each scrape (bounded by the scrape's timeout).
#[async_trait]
pub trait FleetStats: Send + Sync + 'static {
    /// Open runs by sync type and state, with the oldest one's creation.
    async fn open_run_stats(&self) -> Result<Vec<OpenRunStats>, StoreError>;
    /// Every integration's last success and shortest schedule interval.
    async fn integration_freshness(&self) -> Result<Vec<Freshness>, StoreError>;
}

/// What running a sync takes: the engine and the worker executing its job.
pub trait SyncStore: Backend + Integrations + Leases + Runs + RunHistory + MirrorWrites + MirrorReads {}
impl<T: Backend + Integrations + Leases + Runs + RunHistory + MirrorWrites + MirrorReads> SyncStore for T {}

/// What the read API takes: records, runs and integrations to read, keys to check, a forced
/// sync to schedule, inbound webhooks to accept. No writes of runs or records.
pub trait ReadStore: Backend + Integrations + ApiKeys + RunHistory + MirrorReads + Schedules + InboundWebhooks {}
impl<T: Backend + Integrations + ApiKeys + RunHistory + MirrorReads + Schedules + InboundWebhooks> ReadStore for T {}

/// What the scheduler takes: schedules to claim and runs to queue.
pub trait SchedulerStore: Backend + Integrations + Runs + RunHistory + Schedules {}
impl<T: Backend + Integrations + Runs + RunHistory + Schedules> SchedulerStore for T {}

/// What the operator API takes: everything but the mirror's records and the leases. It
/// triggers syncs the scheduler's way, so it is a [`SchedulerStore`] too.
pub trait AdminStore: SchedulerStore + ApiKeys + WebhookEndpoints + Outbox + InboundWebhooks + Health {}
impl<T: SchedulerStore + ApiKeys + WebhookEndpoints + Outbox + InboundWebhooks + Health> AdminStore for T {}

/// What a lease coordinator takes: the integration's fence and the embedded lease.
pub trait FenceStore: Integrations + Leases {}
impl<T: Integrations + Leases> FenceStore for T {}

/// Every role: implemented by [`crate::PgStore`] and [`crate::SqliteStore`], opened by the
/// binary, and narrowed (upcast) to a view or a role where it is handed to a caller. The views
/// together name every role but [`FleetStats`], which only the binary's metrics collector takes.
pub trait MirrorStore: SyncStore + ReadStore + SchedulerStore + AdminStore + FenceStore + FleetStats {}
impl<T: SyncStore + ReadStore + SchedulerStore + AdminStore + FenceStore + FleetStats> MirrorStore for T {}
