//! The types and the trait every mirror backend implements. The engine writes through
//! [`MirrorStore::apply_page`] and friends; the gateway reads through
//! [`MirrorStore::query_records`]. Both backends pass the same conformance suite
//! (`tests/conformance.rs`).

use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use tributary_model::{Model, PauseReason, RunCounts, RunState, ScopeConfig, SyncType, Timestamp, ToolKind};

use crate::{RawJson, StoreError};

/// A connected tool instance, e.g. `personio:acme`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Integration {
    /// `<tool>:<name>`, e.g. `personio:demo`.
    pub id: String,
    pub tool: ToolKind,
    /// The environment (tenant) whose API keys may read this integration.
    pub environment: String,
    /// The tool's API root, e.g. `https://api.personio.de` or the simulator's URL.
    pub base_url: String,
    pub scope_config: ScopeConfig,
    /// Moves with every change of `scope_config`. Pages are prepared under one version and
    /// refused once it is not the current one; records remember the version they were written
    /// under (see [`StoredRecord::scope_version`]).
    pub scope_version: i64,
    /// Incremented by every lease acquisition; writes carrying an older token are rejected
    /// (invariant I4).
    pub fence: i64,
    pub created_at: Timestamp,
}

/// What creating an integration takes. `credentials` is the tool's auth material as JSON
/// (e.g. `{"client_id": "...", "client_secret": "..."}`); it is encrypted at rest and only
/// [`MirrorStore::integration_credentials`] returns it.
#[derive(Debug, Clone)]
pub struct NewIntegration {
    pub id: String,
    pub tool: ToolKind,
    pub environment: String,
    pub base_url: String,
    pub credentials: Value,
    pub scope_config: ScopeConfig,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiKey {
    pub id: String,
    pub environment: String,
    pub label: String,
    pub created_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
}

/// An integration's lease, whoever grants it: the mirror's lease row (the embedded mode,
/// [`MirrorStore::acquire_lease`]) or Redis (the fleet's `tributary-lease`, which advances the
/// mirror's fence to the token it issues). Write to the mirror only under `fence`: only the
/// holder of the integration's newest fence may write to its mirror (invariant I4). Renew well
/// within `ttl` (every third of it) and stop when a renewal answers `false`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub integration_id: String,
    /// Names the holder. The worker's leases are `<worker id>/<run id>`: the process *and* the
    /// run, so two runs of one integration in one process never share (or re-take) a lease.
    pub owner: String,
    pub fence: i64,
    /// How long the lease lasts from its grant or its last renewal; renewals extend it by
    /// this much again. The expiry itself is kept where the lease is (the lease row, the Redis
    /// key), never on this copy.
    pub ttl: Duration,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SyncRun {
    pub id: String,
    pub integration_id: String,
    pub sync_type: SyncType,
    pub state: RunState,
    pub created_at: Timestamp,
    /// When the run first started; kept across pauses and resumes, because the deletion sweep
    /// protects everything written after it.
    pub started_at: Option<Timestamp>,
    pub ended_at: Option<Timestamp>,
    pub counts: RunCounts,
    /// The engine's resume point: which stream, which cursor. Committed with each page.
    pub checkpoint: Option<Value>,
    pub error: Option<String>,
    pub fence: Option<i64>,
    /// The worker process that last started (or resumed) the run.
    pub worker_id: Option<String>,
    /// How many executions of the run ended with the source unavailable (PAUSED for RETRY);
    /// the worker gives up and ends the run FAILED after its configured maximum.
    pub attempts: i32,
    /// Set while PAUSED: why, and so who resumes it. `None` on a PAUSED run means "ready to
    /// resume" (an operator resumed it).
    pub pause_reason: Option<PauseReason>,
    /// The run (a DELTA) that preempted this one, while PAUSED for PREEMPTED.
    pub preempted_by: Option<String>,
    /// While PAUSED for RETRY: not to be resumed before this instant.
    pub resume_at: Option<Timestamp>,
}

/// How a run pauses (see [`MirrorStore::pause_run`]).
#[derive(Debug, Clone, PartialEq)]
pub struct PauseInfo {
    pub reason: PauseReason,
    pub preempted_by: Option<String>,
    pub resume_at: Option<Timestamp>,
    /// Kept on the run so operators see why it is waiting (the source error for RETRY).
    pub error: Option<String>,
}

impl PauseInfo {
    pub fn new(reason: PauseReason) -> Self {
        Self {
            reason,
            preempted_by: None,
            resume_at: None,
            error: None,
        }
    }
}

/// A schedule claimed by [`MirrorStore::claim_due_runs`] and the run it stands for.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimedRun {
    pub due: DueSync,
    /// The QUEUED run created for the claim, or the open run of that integration and type that
    /// already existed.
    pub run: SyncRun,
    /// `false` when `run` already existed (the claim added nothing: invariant I5).
    pub created: bool,
}

/// Identifies the run on whose behalf a write happens; every write checks `fence`.
#[derive(Debug, Clone)]
pub struct RunWrite {
    pub integration_id: String,
    pub run_id: String,
    pub fence: i64,
    pub sync_type: SyncType,
    pub started_at: Timestamp,
}

/// A record ready for storage: scope-filtered, id'd and hashed by the engine.
#[derive(Debug, Clone, PartialEq)]
pub struct PreparedRecord {
    pub model: Model,
    pub id: String,
    pub remote_id: String,
    /// Unified id of the record this one nests under (an employment's employee).
    pub parent_id: Option<String>,
    /// Unified ids whose changes move this record's `updated_at` (manager, location, ...).
    pub depends_on: Vec<String>,
    pub data: Map<String, Value>,
    pub remote_data: Option<Value>,
    pub remote_created_at: Option<Timestamp>,
    pub hash: [u8; 16],
}

/// One page of a run, written in one transaction with its checkpoint.
#[derive(Debug, Clone)]
pub struct PageWrite {
    pub records: Vec<PreparedRecord>,
    /// The checkpoint to store once this page is committed (the next page's cursor).
    pub checkpoint: Value,
    /// The integration's scope version the records were prepared (stripped) under. The write
    /// is refused with [`StoreError::ScopeChanged`] unless it is the current one — and, for a
    /// complete run, the one its pass started under.
    pub scope_version: i64,
}

/// What writing a page (or a sweep) did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteOutcome {
    pub created: i64,
    pub updated: i64,
    pub unchanged: i64,
    pub deleted: i64,
    /// The models that had at least one created, updated or deleted record.
    pub changed_models: Vec<Model>,
}

/// A live record that a complete run did not see: deleted at the source, or skipped by a
/// listing that shifted while the run paged through it (offset and page-number paging skip
/// live records when earlier ones are deleted). The engine confirms which before the sweep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeletionCandidate {
    pub model: Model,
    pub id: String,
    pub remote_id: String,
}

/// What a deletion sweep may mark: only candidates the engine confirmed absent at the source.
#[derive(Debug, Clone, Copy)]
pub struct Sweep<'a> {
    pub models: &'a [Model],
    /// Record ids confirmed absent. The sweep still marks only those that remain candidates
    /// when it commits (unseen by this run and by every run started after it, unchanged since).
    pub confirmed: &'a [String],
    /// Candidates that could not be confirmed and stay live; stored on the run's counts.
    pub unconfirmed: i64,
}

/// A record as the mirror holds it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredRecord {
    pub model: Model,
    pub id: String,
    pub remote_id: String,
    pub parent_id: Option<String>,
    pub data: Map<String, Value>,
    /// As stored, unparsed: reads only pass it through (see [`RawJson`]).
    pub remote_data: Option<RawJson>,
    pub remote_created_at: Option<Timestamp>,
    /// Moves only when the record's own content hash changes (invariant I2).
    pub changed_at: Timestamp,
    /// Moves with `changed_at` and also when nested or linked data changes; `updated_after`
    /// filters on it.
    pub updated_at: Timestamp,
    pub remote_deleted_at: Option<Timestamp>,
    /// The integration's scope version `data` and `remote_data` were prepared under. Older
    /// than the integration's: a field disabled since may still be in `remote_data`.
    pub scope_version: i64,
}

/// `data->>field` equals any of `any_of` (compared case-insensitively when asked); `matching`
/// widens that to arrays and to entries of an object field.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldFilter {
    pub field: String,
    pub any_of: Vec<String>,
    pub case_insensitive: bool,
    pub matching: FieldMatch,
}

impl FieldFilter {
    /// `data->>field` is one of `any_of`.
    pub fn equals(field: impl Into<String>, any_of: Vec<String>) -> Self {
        Self {
            field: field.into(),
            any_of,
            case_insensitive: false,
            matching: FieldMatch::Equals,
        }
    }
}

/// How a [`FieldFilter`] reads `data->field`. Added for the gateway's filters; every variant
/// compares text, as `->>` does.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum FieldMatch {
    /// `data->>field` is one of `any_of`.
    #[default]
    Equals,
    /// `data->field` is a JSON array with at least one element (a string) in `any_of`:
    /// an employee's `group_ids`.
    ArrayContainsAny,
    /// `data->field` is an object whose entry `key` is a scalar whose text is one of `any_of`
    /// (`"x"` → `x`, `5` → `5`, `true` → `true`): a custom field such as
    /// `data->'custom_fields'->>'cost_center'`.
    EntryEquals(String),
    /// `data->field` has no entry `key`, or its entry `key` is JSON null; `any_of` is unused.
    EntryIsNull(String),
    /// `data->>field` is one of `any_of`, or the field is missing or null (`types=TEAM,null`).
    EqualsOrNull,
    /// `data->field` is an array of objects one of which has entry `key` in `any_of`: a
    /// candidate's `email_addresses[].email_address`.
    ArrayEntryEquals(String),
    /// `data->>field` contains one of `any_of` as a substring (`name_contains`).
    Contains,
    /// `data->>field` sorts at or after `any_of[0]` (byte order, so ISO 8601 dates and times
    /// compare as time); a record without the field matches only when `or_missing`.
    AtLeast { or_missing: bool },
    /// `data->>field` sorts at or before `any_of[0]`; see [`FieldMatch::AtLeast`].
    AtMost { or_missing: bool },
    /// The record whose id is `data->>via` (same integration) has `data->>field` in `any_of`:
    /// interviews by their application's `job_id`.
    ReferenceHas { via: String },
    /// A live child of `model` (its `parent_id` is this record) has `data->>field` in
    /// `any_of`: candidates by their applications' `job_id`.
    ChildHas { model: Model },
}

/// A gateway read. Results are ordered by `id`, which never changes, so a keyset cursor walk
/// returns each row exactly once even while rows change.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordQuery {
    pub integration_id: String,
    pub model: Model,
    /// Strictly after this instant, on `updated_at`.
    pub updated_after: Option<Timestamp>,
    pub include_deleted: bool,
    pub ids: Option<Vec<String>>,
    pub remote_ids: Option<Vec<String>>,
    pub filters: Vec<FieldFilter>,
    /// Only records the tool created at or after this instant.
    pub remote_created_after: Option<Timestamp>,
    /// Keyset cursor: only ids greater than this.
    pub after_id: Option<String>,
    pub limit: i64,
    /// Whether to read `remote_data`. Without it records come back with `None`: a caller that
    /// does not show it (a nested employee summary) skips the largest column.
    pub with_remote_data: bool,
    /// How long the database may work on this read before cancelling it (Postgres:
    /// `statement_timeout` for the read's transaction, lock waits included; a cancelled read
    /// fails with SQLSTATE 57014). `None`: the server's own setting. SQLite has no statement
    /// timeout and ignores it.
    pub statement_timeout: Option<std::time::Duration>,
}

impl RecordQuery {
    pub fn new(integration_id: impl Into<String>, model: Model) -> Self {
        Self {
            integration_id: integration_id.into(),
            model,
            updated_after: None,
            include_deleted: false,
            ids: None,
            remote_ids: None,
            filters: Vec::new(),
            remote_created_after: None,
            after_id: None,
            limit: 100,
            with_remote_data: true,
            statement_timeout: None,
        }
    }
}

/// One entry of the change log: a record created, updated or deleted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    pub seq: i64,
    pub integration_id: String,
    pub model: Model,
    pub record_id: String,
    pub kind: ChangeKind,
    pub run_id: Option<String>,
    pub at: Timestamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeKind {
    Created,
    Updated,
    Deleted,
}

/// How often an integration whose inbound webhooks are active is still polled, for every sync
/// type without an override: the webhooks deliver changes, polling only repairs what they missed.
pub const WEBHOOK_POLL_INTERVAL: Duration = Duration::from_secs(24 * 3600);

/// When one sync type of one integration is next due. Intervals are whole seconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncSchedule {
    pub integration_id: String,
    pub sync_type: SyncType,
    /// The engine's default for the tool, as last given to [`MirrorStore::ensure_schedules`].
    pub default_every: Duration,
    /// An operator's per-integration interval; wins over the default and over webhook polling.
    pub override_every: Option<Duration>,
    /// The integration's inbound webhooks are active (see [`WEBHOOK_POLL_INTERVAL`]).
    pub webhooks_active: bool,
    /// What the next claim moves `next_due_at` forward by.
    pub every: Duration,
    pub next_due_at: Timestamp,
    pub last_claimed_at: Option<Timestamp>,
    /// The scheduler replica that made the last claim.
    pub claimed_by: Option<String>,
}

/// A sync that [`MirrorStore::claim_due_syncs`] handed to exactly one caller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DueSync {
    pub integration_id: String,
    pub sync_type: SyncType,
    /// The `next_due_at` the claim found (how late the sync is: `now - due_at`).
    pub due_at: Timestamp,
}

// ---- webhooks --------------------------------------------------------------------------------

/// See [`MirrorStore::outbox_listener`].
#[async_trait]
pub trait OutboxListener: Send {
    /// Returns once deliveries may have been queued since the last call: on a notification,
    /// or when the signal's connection was lost and re-established (notifications sent
    /// meanwhile are gone, so the caller should look). Polling remains the backstop.
    async fn changed(&mut self) -> Result<(), StoreError>;
}

/// Where an environment's outbound webhooks go. The signing secret is encrypted at rest and
/// only [`MirrorStore::claim_deliveries`] returns it (to the deliverer).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookEndpoint {
    pub id: String,
    pub environment: String,
    pub url: String,
    /// Event types sent to it (`data-changed`, `sync-finished`, `integration-created`,
    /// `integration-deleted`, `integration-state-changed`); empty: all of them.
    pub event_types: Vec<String>,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone)]
pub struct NewWebhookEndpoint {
    pub environment: String,
    pub url: String,
    pub secret: String,
    pub event_types: Vec<String>,
}

/// One event of the outbox, in Kombo's payload shape (`{"id", "type", "data"}`); `id` is the
/// payload's `id` and stays the same across every attempt to deliver it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookEvent {
    pub id: String,
    pub environment: String,
    pub integration_id: Option<String>,
    pub event_type: String,
    pub payload: Value,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DeliveryState {
    /// Waiting for its next attempt (`next_attempt_at`).
    Pending,
    Delivered,
    /// Gave up after the retry window; redelivered only on request.
    Dead,
}

/// One event on its way to one endpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookDelivery {
    pub id: String,
    pub event_id: String,
    pub endpoint_id: String,
    pub integration_id: Option<String>,
    pub event_type: String,
    pub state: DeliveryState,
    pub attempts: i32,
    pub next_attempt_at: Timestamp,
    pub last_status: Option<i32>,
    pub last_error: Option<String>,
    pub created_at: Timestamp,
    pub delivered_at: Option<Timestamp>,
}

/// One HTTP attempt of a delivery.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeliveryAttempt {
    pub delivery_id: String,
    /// 1 for the first attempt.
    pub attempt: i32,
    pub at: Timestamp,
    /// The receiver's HTTP status; `None` when no response came (refused, timed out).
    pub status: Option<i32>,
    pub latency_ms: i64,
    /// The start of the response body (at most 1 KiB), or why there was none.
    pub response_excerpt: Option<String>,
    pub error: Option<String>,
}

/// What became of an attempt.
#[derive(Debug, Clone, PartialEq)]
pub enum AttemptOutcome {
    Delivered,
    /// Try again at this instant.
    Retry(Timestamp),
    /// The retry window is over: dead-lettered.
    Dead,
}

/// A delivery handed to one deliverer, with what it needs to send it.
#[derive(Debug, Clone)]
pub struct ClaimedDelivery {
    pub delivery: WebhookDelivery,
    pub event: WebhookEvent,
    pub url: String,
    /// The endpoint's signing secret, decrypted.
    pub secret: String,
}

/// Filters of [`MirrorStore::list_deliveries`].
#[derive(Debug, Clone, Default)]
pub struct DeliveryFilter {
    pub environment: Option<String>,
    pub endpoint_id: Option<String>,
    pub integration_id: Option<String>,
    pub state: Option<DeliveryState>,
    pub limit: i64,
}

/// The mirror. Implemented by [`crate::PgStore`] and [`crate::SqliteStore`].
#[async_trait]
pub trait MirrorStore: Send + Sync + 'static {
    /// `"postgres"` or `"sqlite"`, for logs and the operator API.
    fn backend(&self) -> &'static str;

    /// Applies pending migrations. Idempotent; run at start and by `tributary migrate`.
    async fn migrate(&self) -> Result<(), StoreError>;

    /// Whether the database answers, for `/ready`.
    async fn ping(&self) -> Result<(), StoreError>;

    // ---- integrations -------------------------------------------------------------------
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

    // ---- API keys (only a hash is stored) -----------------------------------------------
    async fn create_api_key(&self, environment: &str, label: &str, key_hash: &[u8]) -> Result<ApiKey, StoreError>;
    /// The live (not revoked) key with this hash.
    async fn find_api_key(&self, key_hash: &[u8]) -> Result<Option<ApiKey>, StoreError>;
    async fn revoke_api_key(&self, id: &str) -> Result<bool, StoreError>;

    // ---- leases (the embedded lease; the fleet's Redis lease bumps the same fence) --------
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

    // ---- sync runs ------------------------------------------------------------------------
    /// A new run in state QUEUED.
    async fn create_run(&self, integration_id: &str, sync_type: SyncType) -> Result<SyncRun, StoreError>;
    async fn get_run(&self, run_id: &str) -> Result<Option<SyncRun>, StoreError>;
    /// The newest QUEUED, RUNNING or PAUSED run of this integration and type.
    async fn open_run(&self, integration_id: &str, sync_type: SyncType) -> Result<Option<SyncRun>, StoreError>;
    /// The open (QUEUED, RUNNING or PAUSED) run of this integration and type, or a new QUEUED
    /// one; `true` when it was created. At most one run per (integration, type) is open
    /// (invariant I5, a unique index): concurrent callers get the same run.
    async fn enqueue_run(&self, integration_id: &str, sync_type: SyncType) -> Result<(SyncRun, bool), StoreError>;
    /// Every open run of every integration, oldest first, up to `limit`: what the scheduler
    /// makes sure is queued or running, and what operators see.
    async fn list_open_runs(&self, limit: i64) -> Result<Vec<SyncRun>, StoreError>;
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
    /// Newest first.
    async fn list_runs(&self, integration_id: &str, limit: i64) -> Result<Vec<SyncRun>, StoreError>;
    /// The newest SUCCEEDED run (any type), whose start bounds the next delta.
    async fn last_succeeded_run(&self, integration_id: &str) -> Result<Option<SyncRun>, StoreError>;
    /// When the newest SUCCEEDED complete run (FULL or DEFAULT) started (created, if it never
    /// recorded a start), however many deltas followed it: what the sync-type policy measures
    /// the full interval from.
    async fn last_complete_success(&self, integration_id: &str) -> Result<Option<Timestamp>, StoreError>;

    // ---- mirror writes: fenced, one transaction each ----------------------------------------
    /// Upserts the page's records whose hash (or deletion state) changed, records the ids it
    /// saw for the deletion sweep, logs changes, moves dependents' `updated_at`, adds to the
    /// run's counts and stores the checkpoint — atomically. Records unchanged but written under
    /// an older scope version only have their version moved (their content already is what the
    /// current scope makes of it, or their hash would differ).
    async fn apply_page(&self, run: &RunWrite, page: PageWrite) -> Result<WriteOutcome, StoreError>;
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
    /// [`MirrorStore::records_before_scope`]) with what the config of `scope_version` leaves of
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

    // ---- reads: gap-free (invariant I3) ------------------------------------------------------
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
    /// The change log after `after_seq`, oldest first.
    async fn changes_since(&self, integration_id: &str, after_seq: i64, limit: i64) -> Result<Vec<Change>, StoreError>;

    // ---- sync schedules: the scheduler's source of truth (Redis only carries the jobs) ----------
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
    /// schedules in as [`MirrorStore::set_schedule_interval`] does.
    async fn set_webhooks_active(&self, integration_id: &str, active: bool) -> Result<(), StoreError>;
    /// Claims up to `limit` schedules due at `now` (oldest due first) for `owner`, moving each
    /// one's `next_due_at` to `now + interval` in the same transaction: a schedule that missed
    /// many intervals fires once, not once per interval. Each due schedule is returned to exactly
    /// one caller, however many replicas claim concurrently.
    async fn claim_due_syncs(&self, now: Timestamp, owner: &str, limit: i64) -> Result<Vec<DueSync>, StoreError>;
    /// [`MirrorStore::claim_due_syncs`] and [`MirrorStore::enqueue_run`] for each claim in one
    /// transaction: a scheduler that dies after the claim leaves a QUEUED run behind, never a
    /// claim with nothing to show for it.
    async fn claim_due_runs(&self, now: Timestamp, owner: &str, limit: i64) -> Result<Vec<ClaimedRun>, StoreError>;
    /// Makes the schedule due at `now` (or keeps it due earlier), so the next claim picks it up;
    /// that claim then restarts its cadence from there.
    async fn force_sync(&self, integration_id: &str, sync_type: SyncType, now: Timestamp) -> Result<(), StoreError>;
    /// The integration's schedules, ordered by sync type name; empty when it has none.
    async fn list_schedules(&self, integration_id: &str) -> Result<Vec<SyncSchedule>, StoreError>;

    // ---- outbound webhooks: a transactional outbox ------------------------------------------
    // Events are written by the mirror itself, in the transaction of the change they describe:
    // `finish_run` writes `sync-finished` for every run and `data-changed` when the run created,
    // updated or deleted a record (listing the models it changed); `create_integration` and
    // `delete_integration` write `integration-created`/`-deleted`; `finish_run` writes
    // `integration-state-changed` when the integration turns INVALID (AUTHENTICATION_FAILED) or
    // back to ACTIVE. Each event gets one delivery per endpoint of its environment that takes
    // its type.
    async fn create_webhook_endpoint(&self, new: NewWebhookEndpoint) -> Result<WebhookEndpoint, StoreError>;
    async fn list_webhook_endpoints(&self, environment: Option<&str>) -> Result<Vec<WebhookEndpoint>, StoreError>;
    async fn get_webhook_endpoint(&self, id: &str) -> Result<Option<WebhookEndpoint>, StoreError>;
    /// Removes the endpoint; its pending deliveries are dropped with it. `false` if absent.
    async fn delete_webhook_endpoint(&self, id: &str) -> Result<bool, StoreError>;
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

    // ---- inbound webhooks from source tools -------------------------------------------------
    /// Sets (or with `None` removes) the secret the tool signs its webhooks to this integration
    /// with, encrypted at rest, and marks its inbound webhooks active or not
    /// ([`MirrorStore::set_webhooks_active`]).
    async fn set_inbound_webhook_secret(&self, integration_id: &str, secret: Option<&str>) -> Result<(), StoreError>;
    /// The decrypted inbound secret; `None` when the integration takes no webhooks.
    async fn inbound_webhook_secret(&self, integration_id: &str) -> Result<Option<String>, StoreError>;
    /// Remembers an inbound delivery by the tool's id for it (or a digest of its body); `false`
    /// when it was seen before (the tool retried), so it is applied once.
    async fn record_inbound_delivery(&self, integration_id: &str, delivery_key: &str) -> Result<bool, StoreError>;
}
