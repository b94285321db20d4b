//! The types and the trait every mirror backend implements. The engine writes through
//! [`MirrorWrites::apply_page`](crate::MirrorWrites::apply_page) and friends; the gateway reads through
//! [`MirrorReads::query_records`](crate::MirrorReads::query_records). Both backends pass the same conformance suite
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
/// [`Integrations::integration_credentials`](crate::Integrations::integration_credentials) returns it.
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
/// [`Leases::acquire_lease`](crate::Leases::acquire_lease)) or Redis (the fleet's
/// `tributary-lease`, which advances the mirror's fence to the token it issues). Write to the
/// mirror only under `fence`: only the holder of the integration's newest fence may write to
/// its mirror (invariant I4). Renew well within `ttl` (every third of it) and stop when a
/// renewal answers `false`.
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
    /// The W3C `traceparent` of the span the run descends from (the request that queued it, or
    /// its first job span); `None` while traces are off.
    pub trace_context: Option<String>,
}

/// How a run pauses (see [`Runs::pause_run`](crate::Runs::pause_run)).
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

/// A schedule claimed by [`Schedules::claim_due_runs`](crate::Schedules::claim_due_runs) and the run it stands for.
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
    /// Keeps the records' stored renderings current in each write (see `crate::rendering`);
    /// without it, writes only mark them pending.
    pub renderer: Option<RenderHook>,
    /// The run renders once, at its end ([`crate::MirrorWrites::render_unrendered`]), what its
    /// writes change, instead of in each write: an integration's first complete sync, which
    /// has no renderings to keep current and would otherwise render an employee again for
    /// each model nested in it that a later stream writes. Its writes still make pending the
    /// renderings that exist (a webhook's, written meanwhile) and that they change.
    pub render_at_end: bool,
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

/// Consecutive pages of one run, written in one transaction with the checkpoint after the
/// last of them (see [`MirrorWrites::apply_pages`](crate::MirrorWrites::apply_pages)).
#[derive(Debug, Clone)]
pub struct PageBatch {
    /// Each page's records, in the order the pages were fetched.
    pub pages: Vec<Vec<PreparedRecord>>,
    /// The checkpoint to store once the batch is committed (after its last page).
    pub checkpoint: Value,
    /// As [`PageWrite::scope_version`], for every page of the batch.
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
    /// The counts above split by model, in model order (for metrics by model).
    pub by_model: Vec<(Model, ModelCounts)>,
}

/// One model's share of a [`WriteOutcome`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ModelCounts {
    pub created: i64,
    pub updated: i64,
    pub unchanged: i64,
    pub deleted: i64,
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

/// Open runs of one sync type in one state, for `/metrics`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenRunStats {
    pub sync_type: SyncType,
    pub state: RunState,
    pub count: u64,
    /// Creation of the oldest of them.
    pub oldest: Timestamp,
}

/// How recently an integration last synced successfully, against its schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Freshness {
    pub integration_id: String,
    pub tool: ToolKind,
    pub created_at: Timestamp,
    /// End of its last SUCCEEDED run.
    pub last_success: Option<Timestamp>,
    /// Its shortest effective schedule interval; `None` without schedules.
    pub every: Option<Duration>,
}

/// When one sync type of one integration is next due. Intervals are whole seconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncSchedule {
    pub integration_id: String,
    pub sync_type: SyncType,
    /// The engine's default for the tool, as last given to [`Schedules::ensure_schedules`](crate::Schedules::ensure_schedules).
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
    /// Set while an operator has paused the schedule: the scheduler does not claim it (manual
    /// triggers still queue runs).
    pub paused_at: Option<Timestamp>,
}

/// A sync that [`Schedules::claim_due_syncs`](crate::Schedules::claim_due_syncs) handed to exactly one caller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DueSync {
    pub integration_id: String,
    pub sync_type: SyncType,
    /// The `next_due_at` the claim found (how late the sync is: `now - due_at`).
    pub due_at: Timestamp,
}

// ---- webhooks --------------------------------------------------------------------------------

/// See [`Outbox::outbox_listener`](crate::Outbox::outbox_listener).
#[async_trait]
pub trait OutboxListener: Send {
    /// Returns once deliveries may have been queued since the last call: on a notification,
    /// or when the signal's connection was lost and re-established (notifications sent
    /// meanwhile are gone, so the caller should look). Polling remains the backstop.
    async fn changed(&mut self) -> Result<(), StoreError>;
}

/// Where an environment's outbound webhooks go. The signing secret is encrypted at rest and
/// only [`Outbox::claim_deliveries`](crate::Outbox::claim_deliveries) returns it (to the deliverer).
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
    /// The `traceparent` of the run that caused the event, if traced: its deliveries' spans
    /// join that trace.
    pub trace_context: Option<String>,
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

/// Filters of [`Outbox::list_deliveries`](crate::Outbox::list_deliveries).
#[derive(Debug, Clone, Default)]
pub struct DeliveryFilter {
    pub environment: Option<String>,
    pub endpoint_id: Option<String>,
    pub integration_id: Option<String>,
    pub state: Option<DeliveryState>,
    pub limit: i64,
}

/// Where a walk through runs or API keys stands: the last row returned, by the walk's order
/// (newest first on `(created_at, id)`, which no row ever leaves).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageKey {
    pub created_at: Timestamp,
    pub id: String,
}

/// A search through every integration's runs ([`RunHistory::search_runs`](crate::RunHistory::search_runs)),
/// newest first. Empty or `None` fields do not filter.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunSearch {
    pub states: Vec<RunState>,
    pub sync_type: Option<SyncType>,
    pub tool: Option<ToolKind>,
    pub integration_id: Option<String>,
    /// Runs that started at or after this instant (runs never started are left out).
    pub started_after: Option<Timestamp>,
    /// Runs that started before this instant (runs never started are left out).
    pub started_before: Option<Timestamp>,
    /// Only runs after this one in the walk's order.
    pub after: Option<PageKey>,
    pub limit: i64,
}

/// What an integration's health is judged from ([`Health::integration_health`](crate::Health::integration_health)).
#[derive(Debug, Clone, PartialEq)]
pub struct HealthFacts {
    pub integration_id: String,
    pub tool: ToolKind,
    pub environment: String,
    /// When its newest SUCCEEDED run ended.
    pub last_success_at: Option<Timestamp>,
    /// Whether its newest run to end SUCCEEDED or FAILED (by `ended_at`) failed.
    pub last_outcome_failed: bool,
    /// Its newest FAILED run.
    pub last_failure: Option<SyncRun>,
    /// Ordered by sync type name.
    pub schedules: Vec<SyncSchedule>,
}

/// Which integrations [`Health::integration_health`](crate::Health::integration_health) reads:
/// by id, after `after_id`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HealthFilter {
    pub tool: Option<ToolKind>,
    pub integration_id: Option<String>,
    pub after_id: Option<String>,
    pub limit: i64,
}

// ---- stored renderings (see `crate::rendering`) -------------------------------------------------

/// The reads a rendering needs: records by id and by parent.
#[async_trait]
pub trait RecordReads: Send + Sync {
    async fn query_records(&self, query: &RecordQuery) -> Result<Vec<StoredRecord>, StoreError>;
    /// Live and deleted records of `model` whose `parent_id` is one of `parent_ids`.
    async fn records_by_parent(
        &self,
        integration_id: &str,
        model: Model,
        parent_ids: &[String],
    ) -> Result<Vec<StoredRecord>, StoreError>;
}

/// One record's rendering.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendering {
    pub id: String,
    /// The JSON text of the record's item, exactly as the read API writes it.
    pub body: String,
    /// Every other record id the rendering shows or names (found or not), so that a change of
    /// one of them marks this rendering pending.
    pub deps: Vec<String>,
}

/// Renders live records into their list items.
#[async_trait]
pub trait Renderer: Send + Sync {
    /// One [`Rendering`] per record of `records` (live records of `integration`), reading what
    /// they nest through `reads`, which sees the caller's transaction.
    async fn render(
        &self,
        integration: &Integration,
        reads: &dyn RecordReads,
        records: Vec<StoredRecord>,
    ) -> Result<Vec<Rendering>, StoreError>;
}

/// The renderer a run's writes keep renderings current with; a write without one only marks
/// them pending.
#[derive(Clone)]
pub struct RenderHook(pub std::sync::Arc<dyn Renderer>);

impl std::fmt::Debug for RenderHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RenderHook")
    }
}

/// What one [`MirrorWrites::render_unrendered`](crate::MirrorWrites::render_unrendered) call
/// did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RenderSweep {
    /// Records it rendered (or found nothing to render for: a model without an item).
    pub rendered: u64,
    /// The last id of the window it looked at, to go on after; `None` when no record follows
    /// the id it started after.
    pub next: Option<String>,
}

/// One row of a page read from stored renderings: the record's id and its rendering, or
/// `None` where the reader must render it live (pending, or made under another scope).
#[derive(Debug, Clone, PartialEq)]
pub struct RenderedRow {
    pub id: String,
    pub body: Option<String>,
}
