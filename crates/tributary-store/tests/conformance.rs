//! One behavioural suite, run against both backends: every test is an async function over a
//! [`Harness`] (a `&dyn MirrorStore` plus raw access to its database for the few checks that
//! must look beneath the trait), instantiated for Postgres and SQLite by `conformance!`.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::{Map, Value, json};
use tributary_model::{
    IdGen, Model, PauseReason, RunState, ScopeConfig, SourceRecord, SyncType, ToolKind, content_hash,
};
use tributary_store::testing::{self, TestDatabase, TestFile, sweep_unseen};
use tributary_store::{
    AttemptOutcome, ChangeKind, ClaimedDelivery, DeletionCandidate, DeliveryAttempt, DeliveryFilter, DeliveryState,
    DueSync, FieldFilter, FieldMatch, HealthFilter, Integration, MirrorStore, NewIntegration, NewWebhookEndpoint,
    PageBatch, PageKey, PageWrite, PauseInfo, PreparedRecord, RecordQuery, RecordReads, RenderHook, RenderSweep,
    Renderer, Rendering, RunSearch, RunWrite, StoreError, StoredRecord, Sweep, SyncRun, SyncSchedule,
    WEBHOOK_POLL_INTERVAL, WebhookEndpoint,
};

enum Raw {
    Pg(sqlx::PgPool, #[allow(dead_code)] TestDatabase),
    Sqlite(sqlx::SqlitePool, #[allow(dead_code)] TestFile),
}

/// One scalar read straight from the backend's tables, bypassing the store (to check what it
/// really wrote); the two SQL texts differ only in their placeholder syntax.
macro_rules! raw_one {
    ($h:expr, $pg:literal, $sqlite:literal, $bind:expr) => {
        match &$h.raw {
            Raw::Pg(pool, _) => sqlx::query_scalar($pg)
                .bind($bind)
                .fetch_one(pool)
                .await
                .expect("raw read"),
            Raw::Sqlite(pool, _) => sqlx::query_scalar($sqlite)
                .bind($bind)
                .fetch_one(pool)
                .await
                .expect("raw read"),
        }
    };
}

struct Harness {
    store: Arc<dyn MirrorStore>,
    raw: Raw,
}

impl Harness {
    /// `None` when Postgres is missing on a machine that does not require it.
    async fn postgres() -> Option<Self> {
        let (store, db) = testing::pg_store_concrete_or_skip().await?;
        let pool = store.pool().clone();
        Some(Self {
            store: Arc::new(store),
            raw: Raw::Pg(pool, db),
        })
    }

    async fn sqlite() -> Self {
        let (store, file) = testing::fresh_sqlite_store_concrete().await.expect("fresh SQLite file");
        let pool = store.pool().clone();
        Self {
            store: Arc::new(store),
            raw: Raw::Sqlite(pool, file),
        }
    }

    fn store(&self) -> &dyn MirrorStore {
        self.store.as_ref()
    }

    async fn raw_credentials(&self, id: &str) -> Vec<u8> {
        raw_one!(
            self,
            "SELECT credentials_ciphertext FROM integrations WHERE id = $1",
            "SELECT credentials_ciphertext FROM integrations WHERE id = ?1",
            id
        )
    }

    async fn run_seen_rows(&self, run_id: &str) -> i64 {
        raw_one!(
            self,
            "SELECT count(*) FROM run_seen WHERE run_id = $1",
            "SELECT count(*) FROM run_seen WHERE run_id = ?1",
            run_id
        )
    }

    /// Every byte the store keeps about an endpoint or an integration's inbound webhooks, to
    /// check that no secret is stored in clear text (I8).
    async fn raw_webhook_secrets(&self) -> Vec<Vec<u8>> {
        let pg = "SELECT secret_ciphertext FROM webhook_endpoints UNION ALL \
                  SELECT inbound_webhook_secret_ciphertext FROM integrations WHERE inbound_webhook_secret_ciphertext IS NOT NULL";
        match &self.raw {
            Raw::Pg(pool, _) => sqlx::query_scalar(pg).fetch_all(pool).await.expect("raw read"),
            Raw::Sqlite(pool, _) => sqlx::query_scalar(pg).fetch_all(pool).await.expect("raw read"),
        }
    }

    /// Makes every insert into the outbox fail (a trigger), to show that the change it
    /// describes rolls back with it.
    async fn break_outbox(&self) {
        match &self.raw {
            Raw::Pg(pool, _) => {
                for statement in [
                    "CREATE FUNCTION refuse_event() RETURNS trigger LANGUAGE plpgsql AS \
                     $$ BEGIN RAISE EXCEPTION 'outbox refused'; END $$",
                    "CREATE TRIGGER refuse_event BEFORE INSERT ON webhook_events \
                     FOR EACH ROW EXECUTE FUNCTION refuse_event()",
                ] {
                    sqlx::query(statement).execute(pool).await.expect("trigger");
                }
            }
            Raw::Sqlite(pool, _) => {
                sqlx::query(
                    "CREATE TRIGGER refuse_event BEFORE INSERT ON webhook_events \
                     BEGIN SELECT RAISE(ABORT, 'outbox refused'); END",
                )
                .execute(pool)
                .await
                .expect("trigger");
            }
        }
    }

    /// Makes every change-log insert fail, as a database error in the middle of a page write
    /// would: after the upsert and the edges, before the run's counters and checkpoint.
    async fn break_change_log(&self) {
        match &self.raw {
            Raw::Pg(pool, _) => {
                for statement in [
                    "CREATE FUNCTION refuse_change() RETURNS trigger LANGUAGE plpgsql AS \
                     $$ BEGIN RAISE EXCEPTION 'change log refused'; END $$",
                    "CREATE TRIGGER refuse_change BEFORE INSERT ON changes \
                     FOR EACH ROW EXECUTE FUNCTION refuse_change()",
                ] {
                    sqlx::query(statement).execute(pool).await.expect("trigger");
                }
            }
            Raw::Sqlite(pool, _) => {
                sqlx::query(
                    "CREATE TRIGGER refuse_change BEFORE INSERT ON changes \
                     BEGIN SELECT RAISE(ABORT, 'change log refused'); END",
                )
                .execute(pool)
                .await
                .expect("trigger");
            }
        }
    }

    async fn mend_change_log(&self) {
        match &self.raw {
            Raw::Pg(pool, _) => sqlx::query("DROP TRIGGER refuse_change ON changes")
                .execute(pool)
                .await
                .map(|_| ()),
            Raw::Sqlite(pool, _) => sqlx::query("DROP TRIGGER refuse_change")
                .execute(pool)
                .await
                .map(|_| ()),
        }
        .expect("trigger dropped");
    }

    /// Makes every record look written before migration 0005 (join digest NULL, "unknown").
    async fn forget_join_digests(&self) {
        let sql = "UPDATE records SET join_digest = NULL";
        match &self.raw {
            Raw::Pg(pool, _) => {
                sqlx::query(sql).execute(pool).await.expect("raw write");
            }
            Raw::Sqlite(pool, _) => {
                sqlx::query(sql).execute(pool).await.expect("raw write");
            }
        }
    }

    async fn event_rows(&self, integration_id: &str) -> i64 {
        raw_one!(
            self,
            "SELECT count(*) FROM webhook_events WHERE integration_id = $1",
            "SELECT count(*) FROM webhook_events WHERE integration_id = ?1",
            integration_id
        )
    }

    async fn schedule_rows(&self, integration_id: &str) -> i64 {
        raw_one!(
            self,
            "SELECT count(*) FROM sync_schedules WHERE integration_id = $1",
            "SELECT count(*) FROM sync_schedules WHERE integration_id = ?1",
            integration_id
        )
    }
}

macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod postgres {
            $( #[tokio::test] async fn $name() {
                if let Some(h) = super::Harness::postgres().await { super::$name(&h).await; }
            } )*
        }
        mod sqlite {
            $( #[tokio::test] async fn $name() { super::$name(&super::Harness::sqlite().await).await; } )*
        }
    };
}

conformance!(
    stored_renderings_follow_every_write,
    a_run_renders_at_its_end,
    a_sweep_holds_the_write_lock_while_it_renders,
    schema_status_reads_the_migrations_table,
    integrations_and_credentials,
    api_keys_store_only_hashes,
    leases_and_fences,
    run_life_cycle,
    identical_page_twice_writes_nothing,
    pages_in_one_batch_end_as_written_one_by_one,
    a_failing_batch_rolls_back_whole,
    one_changed_field_moves_only_that_record,
    child_change_moves_parent_updated_at_not_changed_at,
    linked_record_change_moves_dependent,
    sweep_deletes_only_what_nobody_saw,
    sweep_marks_only_confirmed_candidates,
    reappearing_record_is_undeleted,
    fenced_writes_are_rejected,
    query_filters_keyset_and_updated_after,
    remote_data_round_trips_and_is_read_only_when_asked,
    read_waits_for_in_flight_writer,
    concurrent_read_sees_none_or_all_of_a_page,
    delete_model_and_delete_integration,
    ensure_schedules_is_idempotent_and_keeps_next_due_at,
    claim_takes_only_due_schedules_and_moves_them_forward,
    backlogged_schedule_is_claimed_once,
    override_and_webhooks_change_the_next_interval,
    force_sync_makes_a_schedule_due_now,
    deleting_an_integration_removes_its_schedules,
    concurrent_claims_hand_out_each_due_sync_once,
    enqueue_run_returns_the_one_open_run,
    concurrent_enqueues_open_one_run,
    claim_due_runs_queue_each_claim,
    concurrent_claim_due_runs_hand_out_each_schedule_once,
    pause_reasons_round_trip_and_start_clears_them,
    idle_runs_are_cancelled_paused_and_resumed,
    list_open_runs_lists_open_runs_oldest_first,
    webhook_endpoints_round_trip_with_sealed_secrets,
    create_and_delete_integration_write_their_events,
    finish_run_writes_sync_finished_and_data_changed_when_something_changed,
    cancelling_a_paused_run_announces_what_its_pages_changed,
    data_changed_lists_the_joins_whose_memberships_changed,
    failed_or_fenced_finish_writes_no_event,
    an_outbox_failure_rolls_the_change_back,
    auth_failures_turn_the_integration_invalid_and_back,
    events_fan_out_to_matching_endpoints_only,
    concurrent_claimers_each_get_a_delivery_once,
    claimed_delivery_comes_due_again_after_its_lease,
    deliveries_of_one_integration_go_out_in_order,
    record_attempt_outcomes_and_redeliver,
    inbound_secret_round_trip_sets_webhooks_active,
    inbound_deliveries_are_deduplicated,
    scope_changes_fence_pages_and_complete_passes,
    delta_pages_need_only_the_current_scope,
    api_keys_are_listed_newest_first_by_keyset,
    search_runs_filters_and_walks_newest_first,
    paused_schedules_are_not_claimed_until_resumed,
    integration_health_reads_outcomes_and_schedules,
    a_runs_trace_context_reaches_its_deliveries,
    fleet_stats_count_open_runs_and_read_freshness,
);

// ---- helpers ---------------------------------------------------------------------------------

const INTEGRATION: &str = "personio:acme";

async fn integration(store: &dyn MirrorStore, id: &str) {
    store
        .create_integration(NewIntegration {
            id: id.into(),
            tool: ToolKind::Personio,
            environment: "production".into(),
            base_url: "http://127.0.0.1:1".into(),
            credentials: json!({"client_id": "id-123", "client_secret": "very-secret-value"}),
            scope_config: ScopeConfig::default(),
        })
        .await
        .expect("integration created");
}

/// Takes the lease as `owner` and starts `run_id` (or a new run) under its fence.
async fn begin_run(store: &dyn MirrorStore, sync_type: SyncType, owner: &str, run_id: Option<&str>) -> RunWrite {
    let lease = store
        .acquire_lease(INTEGRATION, owner, Duration::from_secs(60))
        .await
        .expect("lease query")
        .expect("lease free");
    let id = match run_id {
        Some(id) => id.to_string(),
        None => store.create_run(INTEGRATION, sync_type).await.expect("run created").id,
    };
    let run = store.start_run(&id, lease.fence, owner).await.expect("run started");
    RunWrite {
        integration_id: INTEGRATION.into(),
        run_id: run.id,
        fence: lease.fence,
        sync_type,
        started_at: run.started_at.expect("started"),
        renderer: None,
        render_at_end: false,
    }
}

async fn end_run(store: &dyn MirrorStore, run: &RunWrite, owner: &str) {
    store
        .finish_run(run, RunState::Succeeded, None)
        .await
        .expect("finished");
    release(store, owner, run.fence).await;
}

async fn release(store: &dyn MirrorStore, owner: &str, fence: i64) {
    let lease = tributary_store::Lease {
        integration_id: INTEGRATION.into(),
        owner: owner.into(),
        fence,
        ttl: Duration::from_secs(30),
    };
    store.release_lease(&lease).await.expect("released");
}

fn ids() -> IdGen {
    IdGen::new(INTEGRATION)
}

/// A record as the engine would prepare it from a connector's `SourceRecord`.
fn prepared(source: SourceRecord) -> PreparedRecord {
    let ids = ids();
    PreparedRecord {
        model: source.model,
        id: ids.id(source.model, &source.remote_id),
        remote_id: source.remote_id.clone(),
        parent_id: source.parent.as_ref().map(|(m, r)| ids.id(*m, r)),
        depends_on: source.depends_on.iter().map(|(m, r)| ids.id(*m, r)).collect(),
        hash: content_hash(&source),
        data: source.data,
        remote_data: source.remote_data,
        remote_created_at: source.remote_created_at,
    }
}

fn obj(value: Value) -> Map<String, Value> {
    value.as_object().expect("object").clone()
}

fn employee(remote_id: &str, name: &str) -> SourceRecord {
    SourceRecord::new(
        Model::Employees,
        remote_id,
        obj(json!({"first_name": name, "employment_status": "ACTIVE"})),
    )
    .with_remote_data(json!({"/v1/company/employees": {"id": remote_id, "first_name": name}}))
}

fn employment(remote_id: &str, employee_remote: &str, title: &str) -> SourceRecord {
    SourceRecord::new(
        Model::Employments,
        remote_id,
        obj(json!({"job_title": title, "employee_id": ids().id(Model::Employees, employee_remote)})),
    )
    .with_parent(Model::Employees, employee_remote)
}

fn page(records: Vec<SourceRecord>) -> PageWrite {
    PageWrite {
        records: records.into_iter().map(prepared).collect(),
        checkpoint: json!({"offset": 0}),
        scope_version: 1,
    }
}

async fn get(store: &dyn MirrorStore, model: Model, remote_id: &str) -> StoredRecord {
    let mut query = RecordQuery::new(INTEGRATION, model);
    query.ids = Some(vec![ids().id(model, remote_id)]);
    query.include_deleted = true;
    let mut found = store.query_records(&query).await.expect("query");
    assert_eq!(found.len(), 1, "record {model}/{remote_id} present");
    found.remove(0)
}

/// Lets the clock move on, so "later" is observable at microsecond resolution.
async fn tick() {
    tokio::time::sleep(Duration::from_millis(3)).await;
}

// ---- integrations, keys, leases, runs ----------------------------------------------------------

/// A statement straight on the backend's database, beneath the store.
async fn raw_execute(h: &Harness, sql: &'static str) {
    match &h.raw {
        Raw::Pg(pool, _) => sqlx::query(sql).execute(pool).await.map(|_| ()),
        Raw::Sqlite(pool, _) => sqlx::query(sql).execute(pool).await.map(|_| ()),
    }
    .expect("raw statement");
}

/// `--skip-migrations` trusts this: a migrated mirror is current; a missing last migration
/// and a failed one are each named.
async fn schema_status_reads_the_migrations_table(h: &Harness) {
    use tributary_store::SchemaStatus;
    assert_eq!(h.store.schema_status().await.unwrap(), SchemaStatus::Current);
    raw_execute(
        h,
        "DELETE FROM _sqlx_migrations WHERE version = (SELECT max(version) FROM _sqlx_migrations)",
    )
    .await;
    match h.store.schema_status().await.unwrap() {
        SchemaStatus::Behind { applied, known, next } => {
            assert_eq!(applied + 1, known);
            assert!(next.starts_with(&format!("{known:04}_")), "{next}");
        }
        other => panic!("behind by one, not {other:?}"),
    }
    raw_execute(h, "UPDATE _sqlx_migrations SET success = false WHERE version = 1").await;
    assert_eq!(
        h.store.schema_status().await.unwrap(),
        SchemaStatus::Dirty {
            migration: "0001_mirror".into()
        }
    );
}

async fn integrations_and_credentials(h: &Harness) {
    let store = h.store();
    integration(store, INTEGRATION).await;
    let again = store
        .create_integration(NewIntegration {
            id: INTEGRATION.into(),
            tool: ToolKind::Personio,
            environment: "production".into(),
            base_url: "x".into(),
            credentials: json!({}),
            scope_config: ScopeConfig::default(),
        })
        .await;
    assert!(matches!(again, Err(StoreError::Conflict(_))));

    let got = store.get_integration(INTEGRATION).await.expect("get").expect("present");
    assert_eq!(
        (got.tool, got.fence, got.environment.as_str()),
        (ToolKind::Personio, 0, "production")
    );
    assert_eq!(store.list_integrations().await.expect("list").len(), 1);

    let creds = store.integration_credentials(INTEGRATION).await.expect("decrypts");
    assert_eq!(creds["client_secret"], "very-secret-value");
    let raw = h.raw_credentials(INTEGRATION).await;
    let raw_text = String::from_utf8_lossy(&raw);
    assert!(
        !raw_text.contains("very-secret-value") && !raw_text.contains("client_secret"),
        "stored in clear"
    );

    let scope: ScopeConfig =
        serde_json::from_value(json!({"read_models": [{"id": "hris_absences", "scope_config_setting": "DISABLED"}]}))
            .expect("scope");
    store.set_scope_config(INTEGRATION, &scope).await.expect("scope set");
    let got = store.get_integration(INTEGRATION).await.expect("get").expect("present");
    assert!(!got.scope_config.model_enabled(Model::Absences));
    let bad: ScopeConfig = serde_json::from_value(json!({"read_models": [{"id": "hris_nope"}]})).expect("scope");
    assert!(matches!(
        store.set_scope_config(INTEGRATION, &bad).await,
        Err(StoreError::Invalid(_))
    ));
}

async fn api_keys_store_only_hashes(h: &Harness) {
    let store = h.store();
    let key = store
        .create_api_key("production", "ci", b"hash-1")
        .await
        .expect("created");
    assert_eq!(key.id.len(), 24);
    let found = store.find_api_key(b"hash-1").await.expect("find").expect("present");
    assert_eq!(found, key);
    assert!(store.find_api_key(b"hash-2").await.expect("find").is_none());

    // The key and the integration it reads, in one lookup: only an integration of the key's
    // environment comes back with it.
    integration(store, INTEGRATION).await;
    let (with_key, with) = store
        .find_api_key_and_integration(b"hash-1", INTEGRATION)
        .await
        .expect("find")
        .expect("the key");
    assert_eq!(with_key, key);
    assert_eq!(
        with,
        Some(store.get_integration(INTEGRATION).await.expect("get").expect("present"))
    );
    let (_, missing) = store
        .find_api_key_and_integration(b"hash-1", "nope")
        .await
        .expect("find")
        .expect("the key");
    assert_eq!(missing, None);
    let sandbox = store
        .create_api_key("sandbox", "other environment", b"hash-3")
        .await
        .expect("created");
    let (sandbox_key, other) = store
        .find_api_key_and_integration(b"hash-3", INTEGRATION)
        .await
        .expect("find")
        .expect("the key");
    assert_eq!(
        (sandbox_key, other),
        (sandbox, None),
        "a production integration is not a sandbox key's"
    );
    assert!(
        store
            .find_api_key_and_integration(b"hash-2", INTEGRATION)
            .await
            .expect("find")
            .is_none()
    );

    assert!(store.revoke_api_key(&key.id).await.expect("revoke"));
    assert!(store.find_api_key(b"hash-1").await.expect("find").is_none());
    assert!(
        store
            .find_api_key_and_integration(b"hash-1", INTEGRATION)
            .await
            .expect("find")
            .is_none(),
        "a revoked key finds nothing"
    );
    assert!(!store.revoke_api_key("nope").await.expect("revoke"));
}

async fn leases_and_fences(h: &Harness) {
    let store = h.store();
    integration(store, INTEGRATION).await;
    let ttl = Duration::from_secs(60);
    let a = store
        .acquire_lease(INTEGRATION, "worker-a", ttl)
        .await
        .expect("acquire")
        .expect("free");
    assert_eq!(a.fence, 1);
    assert!(
        store
            .acquire_lease(INTEGRATION, "worker-b", ttl)
            .await
            .expect("acquire")
            .is_none(),
        "held by a"
    );
    assert!(store.renew_lease(&a, ttl).await.expect("renew"));
    store.release_lease(&a).await.expect("release");
    let b = store
        .acquire_lease(INTEGRATION, "worker-b", Duration::from_millis(1))
        .await
        .expect("acquire")
        .expect("free");
    assert_eq!(b.fence, 2);
    assert!(!store.renew_lease(&a, ttl).await.expect("renew"), "a lost its lease");
    tokio::time::sleep(Duration::from_millis(5)).await;
    let c = store
        .acquire_lease(INTEGRATION, "worker-c", ttl)
        .await
        .expect("acquire")
        .expect("b's lease expired");
    assert_eq!(c.fence, 3);
    assert!(!store.renew_lease(&b, ttl).await.expect("renew"));
    // A fence issued elsewhere (Redis) raises ours, never lowers it.
    store.advance_fence(INTEGRATION, 10).await.expect("advance");
    store.advance_fence(INTEGRATION, 5).await.expect("advance");
    assert_eq!(
        store
            .get_integration(INTEGRATION)
            .await
            .expect("get")
            .expect("present")
            .fence,
        10
    );
    assert!(!store.renew_lease(&c, ttl).await.expect("renew"), "fence moved past c");
    assert!(matches!(
        store.advance_fence("personio:missing", 1).await,
        Err(StoreError::NotFound(_))
    ));
}

async fn run_life_cycle(h: &Harness) {
    let store = h.store();
    integration(store, INTEGRATION).await;
    let queued = store.create_run(INTEGRATION, SyncType::Full).await.expect("created");
    assert_eq!((queued.state, queued.id.len()), (RunState::Queued, 24));
    assert_eq!(
        store
            .open_run(INTEGRATION, SyncType::Full)
            .await
            .expect("open")
            .map(|r| r.id),
        Some(queued.id.clone())
    );
    assert!(
        store
            .open_run(INTEGRATION, SyncType::Delta)
            .await
            .expect("open")
            .is_none()
    );

    let run = begin_run(store, SyncType::Full, "w", Some(&queued.id)).await;
    store
        .apply_page(&run, page(vec![employee("1", "Ada")]))
        .await
        .expect("page");
    store
        .pause_run(&run, &PauseInfo::new(PauseReason::Shutdown))
        .await
        .expect("paused");
    assert_eq!(
        store.get_run(&run.run_id).await.expect("get").expect("present").state,
        RunState::Paused
    );
    release(store, "w", run.fence).await;
    tick().await;

    let resumed = begin_run(store, SyncType::Full, "w", Some(&queued.id)).await;
    assert_eq!(
        resumed.started_at, run.started_at,
        "a resumed run keeps its first start"
    );
    let finished = store
        .finish_run(&resumed, RunState::Succeeded, None)
        .await
        .expect("finished");
    assert_eq!(finished.state, RunState::Succeeded);
    assert!(finished.ended_at.is_some());
    assert_eq!(finished.counts.pages_fetched, 1);
    assert_eq!(finished.counts.created, 1);
    assert_eq!(finished.checkpoint, Some(json!({"offset": 0})));
    assert!(
        store
            .open_run(INTEGRATION, SyncType::Full)
            .await
            .expect("open")
            .is_none()
    );
    assert!(matches!(
        store.start_run(&queued.id, resumed.fence, "w").await,
        Err(StoreError::Invalid(_))
    ));

    let later = store.create_run(INTEGRATION, SyncType::Delta).await.expect("created");
    let listed: Vec<String> = store
        .list_runs(INTEGRATION, 10)
        .await
        .expect("list")
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(listed, vec![later.id, queued.id.clone()]);
    assert_eq!(
        store.last_succeeded_run(INTEGRATION).await.expect("last").map(|r| r.id),
        Some(queued.id)
    );
}

// ---- page writes -----------------------------------------------------------------------------

async fn identical_page_twice_writes_nothing(h: &Harness) {
    let store = h.store();
    integration(store, INTEGRATION).await;
    let run = begin_run(store, SyncType::Full, "w", None).await;
    let records = vec![employee("1", "Ada"), employee("2", "Grace"), employee("3", "Edsger")];
    let first = store.apply_page(&run, page(records.clone())).await.expect("page");
    assert_eq!((first.created, first.updated, first.unchanged), (3, 0, 0));
    assert_eq!(first.changed_models, vec![Model::Employees]);
    let before = get(store, Model::Employees, "2").await;
    tick().await;

    let second = store.apply_page(&run, page(records)).await.expect("page");
    assert_eq!((second.created, second.updated, second.unchanged), (0, 0, 3));
    assert!(second.changed_models.is_empty());
    let after = get(store, Model::Employees, "2").await;
    assert_eq!(after, before, "no row was rewritten");
    let changes = store.changes_since(INTEGRATION, 0, 100).await.expect("changes");
    assert_eq!(changes.len(), 3, "only the first page logged changes");
    assert!(
        changes
            .iter()
            .all(|c| c.kind == ChangeKind::Created && c.run_id.as_deref() == Some(run.run_id.as_str()))
    );
    let counts = store.get_run(&run.run_id).await.expect("get").expect("present").counts;
    assert_eq!((counts.pages_fetched, counts.created, counts.unchanged), (2, 3, 3));
}

fn batch(pages: Vec<Vec<SourceRecord>>, offset: i64) -> PageBatch {
    PageBatch {
        pages: pages
            .into_iter()
            .map(|records| records.into_iter().map(prepared).collect())
            .collect(),
        checkpoint: json!({ "offset": offset }),
        scope_version: 1,
    }
}

/// Three pages in one transaction: a record two pages list is written with the later content,
/// and the counts, the change log and the checkpoint are what three page writes would leave.
async fn pages_in_one_batch_end_as_written_one_by_one(h: &Harness) {
    let store = h.store();
    integration(store, INTEGRATION).await;
    let run = begin_run(store, SyncType::Full, "w", None).await;
    let pages = vec![
        vec![
            employee("1", "Ada"),
            employee("2", "Grace"),
            employment("e1", "1", "Engineer"),
        ],
        vec![employee("1", "Ada L."), employee("3", "Edsger")],
        vec![employee("2", "Grace"), employment("e1", "1", "Lead")],
    ];
    let out = store.apply_pages(&run, batch(pages, 300)).await.expect("batch");
    assert_eq!((out.created, out.updated, out.unchanged), (4, 2, 1));
    assert_eq!(out.changed_models, vec![Model::Employees, Model::Employments]);

    assert_eq!(get(store, Model::Employees, "1").await.data["first_name"], "Ada L.");
    assert_eq!(get(store, Model::Employments, "e1").await.data["job_title"], "Lead");
    assert_eq!(get(store, Model::Employees, "3").await.data["first_name"], "Edsger");
    let logged: Vec<(String, ChangeKind)> = store
        .changes_since(INTEGRATION, 0, 100)
        .await
        .expect("changes")
        .into_iter()
        .map(|c| (c.record_id, c.kind))
        .collect();
    let id = |model, remote| ids().id(model, remote);
    let want = vec![
        (id(Model::Employees, "1"), ChangeKind::Created),
        (id(Model::Employees, "2"), ChangeKind::Created),
        (id(Model::Employments, "e1"), ChangeKind::Created),
        (id(Model::Employees, "1"), ChangeKind::Updated),
        (id(Model::Employees, "3"), ChangeKind::Created),
        (id(Model::Employments, "e1"), ChangeKind::Updated),
    ];
    assert_eq!(logged, want, "one entry per page that changed a record, in page order");
    let stored = run_now(store, &run.run_id).await;
    let counts = stored.counts;
    assert_eq!(
        (counts.pages_fetched, counts.created, counts.updated, counts.unchanged),
        (3, 4, 2, 1)
    );
    assert_eq!(
        stored.checkpoint,
        Some(json!({"offset": 300})),
        "the last page's checkpoint"
    );

    // The batch's edges are stored: the employment moves its employee.
    let before = get(store, Model::Employees, "1").await;
    tick().await;
    let moved = page(vec![employment("e1", "1", "Principal")]);
    store.apply_page(&run, moved).await.expect("page");
    let after = get(store, Model::Employees, "1").await;
    assert!(
        after.updated_at > before.updated_at,
        "the nested change moved the parent"
    );
    assert_eq!(after.changed_at, before.changed_at);
}

/// A batch that fails part-way (here its change-log insert, after the upsert) commits none of
/// its pages: the mirror, the run's counts and its checkpoint are as before it, and the same
/// batch written again succeeds.
async fn a_failing_batch_rolls_back_whole(h: &Harness) {
    let store = h.store();
    integration(store, INTEGRATION).await;
    let run = begin_run(store, SyncType::Full, "w", None).await;
    store
        .apply_pages(&run, batch(vec![vec![employee("1", "Ada")]], 100))
        .await
        .expect("first batch");
    let before = get(store, Model::Employees, "1").await;
    h.break_change_log().await;

    let pages = || {
        vec![
            vec![employee("1", "Ada L."), employee("2", "Grace")],
            vec![employee("3", "Edsger"), employment("e3", "3", "Engineer")],
        ]
    };
    assert!(store.apply_pages(&run, batch(pages(), 300)).await.is_err());
    assert_eq!(
        get(store, Model::Employees, "1").await,
        before,
        "the change was rolled back"
    );
    for (model, n) in [(Model::Employees, 1), (Model::Employments, 0)] {
        let count = store.count_records(INTEGRATION, model, true).await.expect("count");
        assert_eq!(count, n, "{model}: no record of the failed batch stayed");
    }
    let stored = run_now(store, &run.run_id).await;
    assert_eq!((stored.counts.pages_fetched, stored.counts.created), (1, 1));
    assert_eq!(stored.checkpoint, Some(json!({"offset": 100})), "the checkpoint stayed");

    h.mend_change_log().await;
    let out = store.apply_pages(&run, batch(pages(), 300)).await.expect("again");
    assert_eq!((out.created, out.updated), (3, 1));
    assert_eq!(run_now(store, &run.run_id).await.counts.pages_fetched, 3);
}

fn page_under(records: Vec<SourceRecord>, scope_version: i64) -> PageWrite {
    PageWrite {
        scope_version,
        ..page(records)
    }
}

fn scope_without(field: &str) -> ScopeConfig {
    serde_json::from_value(json!({"read_models": [{"id": "hris_employees", "fields": [
        {"id": field, "scope_config_setting": "DISABLED"}
    ]}]}))
    .expect("scope")
}

/// Issue 12: a scope change moves the scope version; a page prepared under an older version is
/// refused whole, in the transaction that would write it; a complete run whose pass began
/// under an older version can neither write nor end SUCCEEDED until it restarts its pass; an
/// unchanged row of an older version is restamped without counting as a change.
async fn scope_changes_fence_pages_and_complete_passes(h: &Harness) {
    let store = h.store();
    integration(store, INTEGRATION).await;
    let v1 = store
        .get_integration(INTEGRATION)
        .await
        .expect("get")
        .expect("present")
        .scope_version;
    let run = begin_run(store, SyncType::Full, "w", None).await;
    store
        .apply_page(
            &run,
            page_under(
                vec![employee("1", "Ada"), employee("2", "Grace"), employee("9", "Gone")],
                v1,
            ),
        )
        .await
        .expect("page under the current scope");
    assert_eq!(get(store, Model::Employees, "1").await.scope_version, v1);

    // The same config again is no change: the version stays.
    assert_eq!(
        store
            .set_scope_config(INTEGRATION, &ScopeConfig::default())
            .await
            .expect("set"),
        v1
    );
    let v2 = store
        .set_scope_config(INTEGRATION, &scope_without("first_name"))
        .await
        .expect("set");
    assert_eq!(v2, v1 + 1);
    assert_eq!(
        store
            .get_integration(INTEGRATION)
            .await
            .expect("get")
            .expect("present")
            .scope_version,
        v2
    );

    // A page prepared under v1 is refused, and nothing of it is written.
    let changes_before = store.changes_since(INTEGRATION, 0, 100).await.expect("changes").len();
    let refused = store
        .apply_page(&run, page_under(vec![employee("3", "Edsger")], v1))
        .await;
    assert!(
        matches!(refused, Err(StoreError::ScopeChanged { prepared, current, .. }) if prepared == v1 && current == v2),
        "{refused:?}"
    );
    let mut q = RecordQuery::new(INTEGRATION, Model::Employees);
    q.include_deleted = true;
    assert_eq!(
        store.query_records(&q).await.expect("query").len(),
        3,
        "the refused page wrote nothing"
    );
    assert_eq!(
        store.changes_since(INTEGRATION, 0, 100).await.expect("changes").len(),
        changes_before
    );
    let counts = store.get_run(&run.run_id).await.expect("get").expect("present").counts;
    assert_eq!(counts.pages_fetched, 1);

    // Prepared under v2, it is still refused: this complete run's pass began under v1, and the
    // rows it wrote then were prepared under the old scope.
    assert!(matches!(
        store
            .apply_page(&run, page_under(vec![employee("3", "Edsger")], v2))
            .await,
        Err(StoreError::ScopeChanged { .. })
    ));
    // Nor may it end SUCCEEDED (the change came between its last page and its end).
    assert!(matches!(
        store.finish_run(&run, RunState::Succeeded, None).await,
        Err(StoreError::ScopeChanged { .. })
    ));
    assert_eq!(
        store.get_run(&run.run_id).await.expect("get").expect("present").state,
        RunState::Running
    );
    // Restarting the pass under an old version is refused too; under v2 it takes.
    assert!(matches!(
        store.restart_pass(&run, &json!({"stream": 0}), v1).await,
        Err(StoreError::ScopeChanged { .. })
    ));
    store
        .restart_pass(&run, &json!({"stream": 0}), v2)
        .await
        .expect("restarted under the current scope");
    assert_eq!(
        store
            .get_run(&run.run_id)
            .await
            .expect("get")
            .expect("present")
            .checkpoint,
        Some(json!({"stream": 0}))
    );

    // The pass again: "2" prepared as before (its hash is the same) is restamped, not
    // rewritten; "1" now without its first name is updated.
    let before = get(store, Model::Employees, "2").await;
    tick().await;
    let mut stripped = employee("1", "Ada");
    stripped.data.remove("first_name");
    let out = store
        .apply_page(&run, page_under(vec![stripped, employee("2", "Grace")], v2))
        .await
        .expect("page of the new pass");
    assert_eq!((out.created, out.updated, out.unchanged), (0, 1, 1));
    let after = get(store, Model::Employees, "2").await;
    assert_eq!(after.scope_version, v2, "restamped");
    assert_eq!(
        (after.changed_at, after.updated_at, &after.data),
        (before.changed_at, before.updated_at, &before.data),
        "a restamp is no change"
    );
    let one = get(store, Model::Employees, "1").await;
    assert_eq!(one.scope_version, v2);
    assert!(!one.data.contains_key("first_name"));
    store
        .finish_run(&run, RunState::Succeeded, None)
        .await
        .expect("a pass under the current scope ends SUCCEEDED");

    // "9" was not listed again: it is what the pass left under the old scope, and is rewritten
    // stripped, as no change.
    let older = store
        .records_before_scope(INTEGRATION, v2, None, 100)
        .await
        .expect("older rows");
    assert_eq!(
        older.iter().map(|r| r.remote_id.as_str()).collect::<Vec<_>>(),
        vec!["9"]
    );
    let mut stripped = older.clone();
    stripped[0].data.remove("first_name");
    stripped[0].remote_data = Some(json!({"/v1/company/employees": {"id": "9"}}).into());
    assert!(matches!(
        store.restrip_records(&run, v1, &stripped).await,
        Err(StoreError::ScopeChanged { .. })
    ));
    assert_eq!(store.restrip_records(&run, v2, &stripped).await.expect("restrip"), 1);
    let nine = get(store, Model::Employees, "9").await;
    assert_eq!(nine.scope_version, v2);
    assert!(!nine.data.contains_key("first_name"));
    assert_eq!(
        nine.remote_data.expect("raw").to_value().expect("json"),
        json!({"/v1/company/employees": {"id": "9"}})
    );
    assert_eq!(
        (nine.changed_at, nine.updated_at),
        (older[0].changed_at, older[0].updated_at)
    );
    assert!(
        store
            .records_before_scope(INTEGRATION, v2, None, 100)
            .await
            .expect("older rows")
            .is_empty()
    );
    assert_eq!(
        store.restrip_records(&run, v2, &stripped).await.expect("restrip"),
        0,
        "a row of the current version is left alone"
    );

    release(store, "w", run.fence).await;

    // A fenced-off writer learns it is fenced, not that the scope moved.
    let run2 = begin_run(store, SyncType::Full, "w2", None).await;
    let stale = RunWrite {
        fence: run2.fence - 1,
        ..run2.clone()
    };
    assert!(matches!(
        store.apply_page(&stale, page_under(vec![], v1)).await,
        Err(StoreError::Fenced { .. })
    ));
    // A run that ended may end again as before (the check only guards a first SUCCEEDED end).
    store
        .finish_run(&run2, RunState::Failed, Some("x"))
        .await
        .expect("failed end");
}

/// A delta is no complete pass: a scope change only makes it prepare its next page again.
async fn delta_pages_need_only_the_current_scope(h: &Harness) {
    let store = h.store();
    integration(store, INTEGRATION).await;
    let v1 = store
        .get_integration(INTEGRATION)
        .await
        .expect("get")
        .expect("present")
        .scope_version;
    let run = begin_run(store, SyncType::Delta, "w", None).await;
    store
        .apply_page(&run, page_under(vec![employee("1", "Ada")], v1))
        .await
        .expect("page");
    let v2 = store
        .set_scope_config(INTEGRATION, &scope_without("first_name"))
        .await
        .expect("set");
    assert!(matches!(
        store
            .apply_page(&run, page_under(vec![employee("2", "Grace")], v1))
            .await,
        Err(StoreError::ScopeChanged { .. })
    ));
    store
        .apply_page(&run, page_under(vec![employee("2", "Grace")], v2))
        .await
        .expect("prepared again under the new scope");
    store
        .finish_run(&run, RunState::Succeeded, None)
        .await
        .expect("a delta ends as usual");
    assert!(matches!(
        store.set_scope_config("personio:nobody", &ScopeConfig::default()).await,
        Err(StoreError::NotFound(_))
    ));
}

async fn one_changed_field_moves_only_that_record(h: &Harness) {
    let store = h.store();
    integration(store, INTEGRATION).await;
    let run = begin_run(store, SyncType::Full, "w", None).await;
    store
        .apply_page(&run, page(vec![employee("1", "Ada"), employee("2", "Grace")]))
        .await
        .expect("page");
    let one = get(store, Model::Employees, "1").await;
    let two = get(store, Model::Employees, "2").await;
    tick().await;

    let outcome = store
        .apply_page(&run, page(vec![employee("1", "Ada"), employee("2", "Grace H.")]))
        .await
        .expect("page");
    assert_eq!((outcome.created, outcome.updated, outcome.unchanged), (0, 1, 1));
    assert_eq!(get(store, Model::Employees, "1").await, one);
    let two_after = get(store, Model::Employees, "2").await;
    assert!(two_after.changed_at > two.changed_at);
    assert_eq!(two_after.updated_at, two_after.changed_at);
    assert_eq!(two_after.data["first_name"], "Grace H.");
    let last = store.changes_since(INTEGRATION, 2, 100).await.expect("changes");
    assert_eq!(last.len(), 1);
    assert_eq!(
        (last[0].kind, last[0].record_id.as_str()),
        (ChangeKind::Updated, two.id.as_str())
    );
}

async fn child_change_moves_parent_updated_at_not_changed_at(h: &Harness) {
    let store = h.store();
    integration(store, INTEGRATION).await;
    let run = begin_run(store, SyncType::Full, "w", None).await;
    store
        .apply_page(&run, page(vec![employee("1", "Ada"), employee("2", "Grace")]))
        .await
        .expect("page");
    store
        .apply_page(&run, page(vec![employment("e1", "1", "Engineer")]))
        .await
        .expect("page");
    let ada = get(store, Model::Employees, "1").await;
    let grace = get(store, Model::Employees, "2").await;
    tick().await;

    // The employment's own content changes: its employee moves, not its changed_at.
    store
        .apply_page(&run, page(vec![employment("e1", "1", "Staff Engineer")]))
        .await
        .expect("page");
    let ada_after = get(store, Model::Employees, "1").await;
    let job = get(store, Model::Employments, "e1").await;
    assert_eq!(ada_after.changed_at, ada.changed_at);
    assert!(ada_after.updated_at > ada.updated_at);
    assert_eq!(ada_after.updated_at, job.changed_at);
    assert_eq!(
        get(store, Model::Employees, "2").await,
        grace,
        "unrelated employee untouched"
    );
    tick().await;

    // Moving the employment to another employee moves both the old and the new parent.
    store
        .apply_page(&run, page(vec![employment("e1", "2", "Staff Engineer")]))
        .await
        .expect("page");
    let job = get(store, Model::Employments, "e1").await;
    let ada_moved = get(store, Model::Employees, "1").await;
    let grace_moved = get(store, Model::Employees, "2").await;
    assert_eq!(ada_moved.updated_at, job.changed_at);
    assert_eq!(grace_moved.updated_at, job.changed_at);
    assert_eq!(grace_moved.changed_at, grace.changed_at);
    let children = store
        .records_by_parent(INTEGRATION, Model::Employments, std::slice::from_ref(&grace.id))
        .await
        .expect("by parent");
    assert_eq!(
        children.iter().map(|r| r.remote_id.as_str()).collect::<Vec<_>>(),
        vec!["e1"]
    );
    tick().await;

    // An unchanged child moves nobody.
    store
        .apply_page(&run, page(vec![employment("e1", "2", "Staff Engineer")]))
        .await
        .expect("page");
    assert_eq!(get(store, Model::Employees, "2").await, grace_moved);
}

async fn linked_record_change_moves_dependent(h: &Harness) {
    let store = h.store();
    integration(store, INTEGRATION).await;
    let run = begin_run(store, SyncType::Full, "w", None).await;
    let location = |name: &str| SourceRecord::new(Model::Locations, "berlin", obj(json!({"name": name})));
    store
        .apply_page(&run, page(vec![location("Berlin")]))
        .await
        .expect("page");
    store
        .apply_page(
            &run,
            page(vec![
                employee("1", "Ada").depending_on(Model::Locations, "berlin"),
                employee("2", "Grace"),
            ]),
        )
        .await
        .expect("page");
    let ada = get(store, Model::Employees, "1").await;
    let grace = get(store, Model::Employees, "2").await;
    tick().await;

    store
        .apply_page(&run, page(vec![location("Berlin HQ")]))
        .await
        .expect("page");
    let ada_after = get(store, Model::Employees, "1").await;
    assert!(ada_after.updated_at > ada.updated_at);
    assert_eq!(ada_after.changed_at, ada.changed_at);
    assert_eq!(get(store, Model::Employees, "2").await, grace);
}

// ---- deletions -------------------------------------------------------------------------------

async fn sweep_deletes_only_what_nobody_saw(h: &Harness) {
    let store = h.store();
    integration(store, INTEGRATION).await;
    let all = ["a", "b", "c", "d", "e"];
    let first = begin_run(store, SyncType::Full, "w", None).await;
    store
        .apply_page(&first, page(all.iter().map(|id| employee(id, id)).collect()))
        .await
        .expect("page");
    store
        .apply_page(&first, page(vec![employment("job-b", "b", "Clerk")]))
        .await
        .expect("page");
    end_run(store, &first, "w").await;
    tick().await;

    // The full run sees a and c, then pauses for a delta.
    let full = begin_run(store, SyncType::Full, "w", None).await;
    store
        .apply_page(&full, page(vec![employee("a", "a"), employee("c", "c")]))
        .await
        .expect("page");
    store
        .pause_run(&full, &PauseInfo::new(PauseReason::Preempted))
        .await
        .expect("paused");
    release(store, "w", full.fence).await;
    tick().await;

    // The delta changes d and sees e unchanged.
    let delta = begin_run(store, SyncType::Delta, "w", None).await;
    store
        .apply_page(&delta, page(vec![employee("d", "d2")]))
        .await
        .expect("page");
    store
        .apply_page(&delta, page(vec![employee("e", "e")]))
        .await
        .expect("page");
    end_run(store, &delta, "w").await;
    tick().await;

    let full = begin_run(store, SyncType::Full, "w", Some(&full.run_id)).await;
    let b_parent_before = get(store, Model::Employees, "b").await;
    let outcome = sweep_unseen(store, &full, &[Model::Employees]).await.expect("sweep");
    assert_eq!(outcome.deleted, 1);
    assert_eq!(outcome.changed_models, vec![Model::Employees]);
    let b = get(store, Model::Employees, "b").await;
    assert!(b.remote_deleted_at.is_some());
    assert!(b.changed_at > b_parent_before.changed_at);
    for kept in ["a", "c", "d", "e"] {
        assert!(
            get(store, Model::Employees, kept).await.remote_deleted_at.is_none(),
            "{kept} kept"
        );
    }
    // Only the swept models: b's employment stays (it was not swept here).
    assert!(
        get(store, Model::Employments, "job-b")
            .await
            .remote_deleted_at
            .is_none()
    );
    let live = store
        .count_records(INTEGRATION, Model::Employees, false)
        .await
        .expect("count");
    assert_eq!(
        (
            live,
            store
                .count_records(INTEGRATION, Model::Employees, true)
                .await
                .expect("count")
        ),
        (4, 5)
    );
    let log = store.changes_since(INTEGRATION, 0, 1000).await.expect("changes");
    let deleted: Vec<_> = log.iter().filter(|c| c.kind == ChangeKind::Deleted).collect();
    assert_eq!(deleted.len(), 1);
    assert_eq!(deleted[0].record_id, b.id);

    // The employment sweep: job-b's deletion moves its employee's marker.
    let before = get(store, Model::Employees, "a").await;
    let outcome = sweep_unseen(store, &full, &[Model::Employments]).await.expect("sweep");
    assert_eq!(outcome.deleted, 1);
    assert_eq!(get(store, Model::Employees, "a").await, before);
    let b_after = get(store, Model::Employees, "b").await;
    assert_eq!(
        b_after.updated_at,
        get(store, Model::Employments, "job-b").await.changed_at
    );

    let finished = store
        .finish_run(&full, RunState::Succeeded, None)
        .await
        .expect("finished");
    assert_eq!(finished.counts.deleted, 2);
    // The finished delta's seen ids were cleaned up by the sweep; the sweeping run's own stay
    // until a later sweep.
    assert_eq!(h.run_seen_rows(&delta.run_id).await, 0);
    assert_eq!(h.run_seen_rows(&full.run_id).await, 1);
}

/// Invariant I1: not being seen is no proof. The store lists what the run did not see; the sweep
/// marks only the ids the engine confirmed absent at the source, and only while they are still
/// candidates when it commits; the rest stay live and are counted on the run.
async fn sweep_marks_only_confirmed_candidates(h: &Harness) {
    let store = h.store();
    integration(store, INTEGRATION).await;
    let first = begin_run(store, SyncType::Full, "w", None).await;
    store
        .apply_page(
            &first,
            page(["a", "b", "c", "d"].iter().map(|id| employee(id, id)).collect()),
        )
        .await
        .expect("page");
    end_run(store, &first, "w").await;
    tick().await;

    let full = begin_run(store, SyncType::Full, "w", None).await;
    store
        .apply_page(&full, page(vec![employee("a", "a")]))
        .await
        .expect("page");
    let candidates = store
        .deletion_candidates(&full, &[Model::Employees])
        .await
        .expect("candidates");
    let id = |remote: &str| ids().id(Model::Employees, remote);
    let mut expected: Vec<DeletionCandidate> = ["b", "c", "d"]
        .iter()
        .map(|r| DeletionCandidate {
            model: Model::Employees,
            id: id(r),
            remote_id: (*r).to_owned(),
        })
        .collect();
    expected.sort_by(|x, y| x.id.cmp(&y.id));
    assert_eq!(candidates, expected);
    // Listing candidates writes nothing.
    assert!(get(store, Model::Employees, "b").await.remote_deleted_at.is_none());

    // The confirmation wrote c (the listing had skipped it): no longer a candidate.
    store
        .apply_page(&full, page(vec![employee("c", "c")]))
        .await
        .expect("page");
    let confirmed = vec![id("b"), id("c"), id("unknown")];
    let swept = store
        .sweep_deletions(
            &full,
            &Sweep {
                models: &[Model::Employees],
                confirmed: &confirmed,
                unconfirmed: 1,
            },
        )
        .await
        .expect("sweep");
    assert_eq!(swept.deleted, 1, "only b: c was seen, d was not confirmed");
    assert!(get(store, Model::Employees, "b").await.remote_deleted_at.is_some());
    for live in ["a", "c", "d"] {
        assert!(
            get(store, Model::Employees, live).await.remote_deleted_at.is_none(),
            "{live} stays live"
        );
    }
    let finished = store
        .finish_run(&full, RunState::Succeeded, None)
        .await
        .expect("finished");
    assert_eq!((finished.counts.deleted, finished.counts.unconfirmed), (1, 1));
}

async fn reappearing_record_is_undeleted(h: &Harness) {
    let store = h.store();
    integration(store, INTEGRATION).await;
    let first = begin_run(store, SyncType::Full, "w", None).await;
    store
        .apply_page(&first, page(vec![employee("a", "a"), employee("b", "b")]))
        .await
        .expect("page");
    end_run(store, &first, "w").await;
    tick().await;
    let second = begin_run(store, SyncType::Full, "w", None).await;
    store
        .apply_page(&second, page(vec![employee("a", "a")]))
        .await
        .expect("page");
    assert_eq!(
        sweep_unseen(store, &second, &[Model::Employees])
            .await
            .expect("sweep")
            .deleted,
        1
    );
    end_run(store, &second, "w").await;
    let deleted = get(store, Model::Employees, "b").await;
    assert!(deleted.remote_deleted_at.is_some());
    tick().await;

    let third = begin_run(store, SyncType::Full, "w", None).await;
    let outcome = store
        .apply_page(&third, page(vec![employee("a", "a"), employee("b", "b")]))
        .await
        .expect("page");
    assert_eq!((outcome.updated, outcome.unchanged), (1, 1));
    let back = get(store, Model::Employees, "b").await;
    assert!(back.remote_deleted_at.is_none());
    assert!(back.changed_at > deleted.changed_at);
    assert_eq!(
        sweep_unseen(store, &third, &[Model::Employees])
            .await
            .expect("sweep")
            .deleted,
        0
    );
}

async fn fenced_writes_are_rejected(h: &Harness) {
    let store = h.store();
    integration(store, INTEGRATION).await;
    let stale = begin_run(store, SyncType::Full, "old-worker", None).await;
    store
        .apply_page(&stale, page(vec![employee("a", "a")]))
        .await
        .expect("page under current fence");
    // A newer lease is issued (here: by the fleet's Redis lease).
    store
        .advance_fence(INTEGRATION, stale.fence + 1)
        .await
        .expect("advance");

    let fenced = |r: Result<_, StoreError>| matches!(r, Err(StoreError::Fenced { held, current, .. }) if held == stale.fence && current == stale.fence + 1);
    assert!(fenced(
        store
            .apply_page(&stale, page(vec![employee("b", "b")]))
            .await
            .map(|_| ())
    ));
    assert!(fenced(
        sweep_unseen(store, &stale, &[Model::Employees]).await.map(|_| ())
    ));
    assert!(fenced(store.delete_model(&stale, Model::Employees).await.map(|_| ())));
    assert!(fenced(
        store.pause_run(&stale, &PauseInfo::new(PauseReason::Shutdown)).await
    ));
    assert!(fenced(
        store.finish_run(&stale, RunState::Failed, Some("x")).await.map(|_| ())
    ));

    // Nothing of the rejected writes landed.
    assert_eq!(
        store
            .count_records(INTEGRATION, Model::Employees, true)
            .await
            .expect("count"),
        1
    );
    let run = store.get_run(&stale.run_id).await.expect("get").expect("present");
    assert_eq!((run.state, run.counts.pages_fetched), (RunState::Running, 1));
}

// ---- reads -----------------------------------------------------------------------------------

async fn query_filters_keyset_and_updated_after(h: &Harness) {
    let store = h.store();
    integration(store, INTEGRATION).await;
    let run = begin_run(store, SyncType::Full, "w", None).await;
    let person = |id: &str, status: &str, team: Value| {
        let n: usize = id[1..].parse().expect("numbered");
        let custom = if n.is_multiple_of(5) {
            json!({"cost_center": "CC1", "level": n.is_multiple_of(2)})
        } else {
            json!({"cost_center": null})
        };
        SourceRecord::new(
            Model::Employees,
            id,
            obj(json!({
                "employment_status": status, "team": team, "n": 7,
                "group_ids": [format!("g{}", n % 4), "all"], "custom_fields": custom,
            })),
        )
    };
    let records: Vec<SourceRecord> = (0..25)
        .map(|i| {
            person(
                &format!("r{i}"),
                if i % 2 == 0 { "ACTIVE" } else { "INACTIVE" },
                json!(format!("Team{}", i % 3)),
            )
        })
        .collect();
    store.apply_page(&run, page(records)).await.expect("page");

    // Keyset walk: every record exactly once, in id order.
    let mut seen = Vec::new();
    let mut query = RecordQuery::new(INTEGRATION, Model::Employees);
    query.limit = 7;
    loop {
        let batch = store.query_records(&query).await.expect("query");
        if batch.is_empty() {
            break;
        }
        query.after_id = batch.last().map(|r| r.id.clone());
        seen.extend(batch.into_iter().map(|r| r.id));
    }
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(seen.len(), 25);
    assert_eq!(seen, sorted, "byte order of ids");

    let filtered = |filters: Vec<FieldFilter>| {
        let mut q = RecordQuery::new(INTEGRATION, Model::Employees);
        q.filters = filters;
        q.limit = 100;
        q
    };
    let f = |field: &str, any_of: &[&str], ci: bool| FieldFilter {
        field: field.into(),
        any_of: any_of.iter().map(|s| s.to_string()).collect(),
        case_insensitive: ci,
        matching: FieldMatch::Equals,
    };
    let with = |filter: FieldFilter, matching: FieldMatch| FieldFilter { matching, ..filter };
    let count = |q: RecordQuery| async move { store.query_records(&q).await.expect("query").len() };
    assert_eq!(
        count(filtered(vec![f("employment_status", &["ACTIVE"], false)])).await,
        13
    );
    assert_eq!(
        count(filtered(vec![f("employment_status", &["active"], false)])).await,
        0
    );
    assert_eq!(
        count(filtered(vec![f("employment_status", &["active"], true)])).await,
        13
    );
    assert_eq!(
        count(filtered(vec![
            f("employment_status", &["ACTIVE"], false),
            f("team", &["Team0", "Team1"], false)
        ]))
        .await,
        9
    );
    assert_eq!(
        count(filtered(vec![f("n", &["7"], false)])).await,
        25,
        "numbers compare as their JSON text"
    );
    assert_eq!(count(filtered(vec![f("missing", &["x"], false)])).await, 0);
    let groups = |any_of: &[&str]| with(f("group_ids", any_of, false), FieldMatch::ArrayContainsAny);
    assert_eq!(count(filtered(vec![groups(&["g1", "g2"])])).await, 12);
    assert_eq!(count(filtered(vec![groups(&["all"])])).await, 25);
    assert_eq!(count(filtered(vec![groups(&["g"])])).await, 0);
    assert_eq!(
        count(filtered(vec![with(
            f("team", &["Team0"], false),
            FieldMatch::ArrayContainsAny
        )]))
        .await,
        0
    );
    let entry =
        |key: &str, any_of: &[&str]| with(f("custom_fields", any_of, false), FieldMatch::EntryEquals(key.into()));
    assert_eq!(count(filtered(vec![entry("cost_center", &["CC1"])])).await, 5);
    assert_eq!(
        count(filtered(vec![entry("level", &["true"])])).await,
        3,
        "booleans compare as true/false"
    );
    assert_eq!(
        count(filtered(vec![with(
            f("custom_fields", &["cc1"], true),
            FieldMatch::EntryEquals("cost_center".into())
        )]))
        .await,
        5
    );
    let null_entry = |key: &str| with(f("custom_fields", &[], false), FieldMatch::EntryIsNull(key.into()));
    assert_eq!(
        count(filtered(vec![null_entry("cost_center")])).await,
        20,
        "null entries"
    );
    assert_eq!(count(filtered(vec![null_entry("level")])).await, 20, "absent entries");
    assert_eq!(
        count(filtered(vec![
            null_entry("level"),
            f("employment_status", &["ACTIVE"], false)
        ]))
        .await,
        10
    );

    let mut by_remote = RecordQuery::new(INTEGRATION, Model::Employees);
    by_remote.remote_ids = Some(vec!["r3".into(), "r4".into(), "nope".into()]);
    assert_eq!(store.query_records(&by_remote).await.expect("query").len(), 2);

    // updated_after is strict and sees later changes only.
    let r5 = get(store, Model::Employees, "r5").await;
    let mut after = RecordQuery::new(INTEGRATION, Model::Employees);
    after.updated_after = Some(r5.updated_at);
    assert!(store.query_records(&after).await.expect("query").is_empty());
    tick().await;
    store
        .apply_page(&run, page(vec![person("r5", "LEAVE", json!("Team2"))]))
        .await
        .expect("page");
    let changed = store.query_records(&after).await.expect("query");
    assert_eq!(
        changed.iter().map(|r| r.remote_id.as_str()).collect::<Vec<_>>(),
        vec!["r5"]
    );

    // Deleted records only when asked.
    store.delete_model(&run, Model::Employees).await.expect("delete");
    assert!(
        store
            .query_records(&RecordQuery::new(INTEGRATION, Model::Employees))
            .await
            .expect("query")
            .is_empty()
    );
    let mut with_deleted = RecordQuery::new(INTEGRATION, Model::Employees);
    with_deleted.include_deleted = true;
    assert_eq!(store.query_records(&with_deleted).await.expect("query").len(), 25);
}

async fn remote_data_round_trips_and_is_read_only_when_asked(h: &Harness) {
    let store = h.store();
    integration(store, INTEGRATION).await;
    let run = begin_run(store, SyncType::Full, "w", None).await;
    let raw = json!({"/v1/x": {"id": 1, "note": "a, b: \"c\"", "nested": [{"z": null, "a": 1.5}]}});
    let with = SourceRecord::new(Model::Employees, "e1", obj(json!({"n": 1}))).with_remote_data(raw.clone());
    let without = SourceRecord::new(Model::Employees, "e2", obj(json!({"n": 2})));
    store.apply_page(&run, page(vec![with, without])).await.expect("page");

    let mut query = RecordQuery::new(INTEGRATION, Model::Employees);
    let read = store.query_records(&query).await.expect("query");
    let by_remote_id = |remote_id: &str| read.iter().find(|r| r.remote_id == remote_id).expect("read");
    let stored = by_remote_id("e1").remote_data.as_ref().expect("stored remote_data");
    assert_eq!(*stored, raw);
    // Compact: as long as serde_json's own text (Postgres may order the keys differently).
    assert_eq!(
        serde_json::to_string(stored).expect("serializes").len(),
        serde_json::to_string(&raw).expect("serializes").len(),
        "{stored:?}"
    );
    assert_eq!(by_remote_id("e2").remote_data, None);

    query.with_remote_data = false;
    let read = store.query_records(&query).await.expect("query");
    assert_eq!(read.len(), 2);
    assert!(read.iter().all(|r| r.remote_data.is_none()));
    let e1 = read.iter().find(|r| r.remote_id == "e1").expect("read");
    assert_eq!(e1.data.get("n"), Some(&json!(1)));
}

/// A read issued while a writer holds the integration's write lock waits for it (I3).
async fn read_waits_for_in_flight_writer(h: &Harness) {
    let store = h.store.clone();
    integration(store.as_ref(), INTEGRATION).await;
    let held: Box<dyn std::any::Any + Send> = match &h.raw {
        Raw::Pg(pool, _) => Box::new(testing::hold_pg_write_lock(pool, INTEGRATION).await.expect("lock")),
        Raw::Sqlite(pool, _) => Box::new(testing::hold_sqlite_write_lock(pool).await.expect("lock")),
    };
    let reader = tokio::spawn(async move {
        store
            .query_records(&RecordQuery::new(INTEGRATION, Model::Employees))
            .await
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!reader.is_finished(), "the read must wait for the in-flight writer");
    drop(held); // rolls the writer back, releasing its lock
    let result = tokio::time::timeout(Duration::from_secs(10), reader)
        .await
        .expect("read finished")
        .expect("joined");
    assert!(result.expect("query").is_empty());
}

/// Reads racing a large page see none of it or all of it, never part.
async fn concurrent_read_sees_none_or_all_of_a_page(h: &Harness) {
    let store = h.store.clone();
    integration(store.as_ref(), INTEGRATION).await;
    let run = begin_run(store.as_ref(), SyncType::Full, "w", None).await;
    let records: Vec<SourceRecord> = (0..2000).map(|i| employee(&format!("p{i}"), "someone")).collect();
    let writer = {
        let store = store.clone();
        let run = run.clone();
        tokio::spawn(async move { store.apply_page(&run, page(records)).await })
    };
    let mut sizes = Vec::new();
    loop {
        let mut q = RecordQuery::new(INTEGRATION, Model::Employees);
        q.limit = 5000;
        let n = store.query_records(&q).await.expect("query").len();
        sizes.push(n);
        assert!(n == 0 || n == 2000, "a read saw {n} of 2000 records");
        if writer.is_finished() {
            break;
        }
        tokio::task::yield_now().await;
    }
    writer.await.expect("joined").expect("page");
    let mut q = RecordQuery::new(INTEGRATION, Model::Employees);
    q.limit = 5000;
    assert_eq!(store.query_records(&q).await.expect("query").len(), 2000);
}

async fn delete_model_and_delete_integration(h: &Harness) {
    let store = h.store();
    integration(store, INTEGRATION).await;
    integration(store, "personio:other").await;
    let run = begin_run(store, SyncType::Full, "w", None).await;
    store
        .apply_page(
            &run,
            page(vec![employee("1", "Ada"), employment("e1", "1", "Engineer")]),
        )
        .await
        .expect("page");
    let ada = get(store, Model::Employees, "1").await;
    tick().await;
    let outcome = store.delete_model(&run, Model::Employments).await.expect("deleted");
    assert_eq!(
        (outcome.deleted, outcome.changed_models.clone()),
        (1, vec![Model::Employments])
    );
    assert!(get(store, Model::Employments, "e1").await.remote_deleted_at.is_some());
    let ada_after = get(store, Model::Employees, "1").await;
    assert!(
        ada_after.updated_at > ada.updated_at,
        "a removed child moves its parent"
    );
    assert_eq!(
        store
            .delete_model(&run, Model::Employments)
            .await
            .expect("deleted")
            .deleted,
        0
    );

    assert!(store.delete_integration(INTEGRATION).await.expect("delete"));
    assert!(!store.delete_integration(INTEGRATION).await.expect("delete"));
    assert!(store.get_integration(INTEGRATION).await.expect("get").is_none());
    assert_eq!(
        store
            .count_records(INTEGRATION, Model::Employees, true)
            .await
            .expect("count"),
        0
    );
    assert!(
        store
            .changes_since(INTEGRATION, 0, 10)
            .await
            .expect("changes")
            .is_empty()
    );
    assert!(store.get_run(&run.run_id).await.expect("get").is_none());
    assert!(store.get_integration("personio:other").await.expect("get").is_some());
}

// ---- sync schedules ------------------------------------------------------------------------

const HOUR: Duration = Duration::from_secs(3600);

/// Instants as the store keeps them (microseconds), so values read back compare equal.
fn at(t: chrono::DateTime<chrono::Utc>) -> chrono::DateTime<chrono::Utc> {
    chrono::SubsecRound::trunc_subsecs(t, 6)
}

fn hours(n: i64) -> chrono::TimeDelta {
    chrono::TimeDelta::hours(n)
}

fn delta_tool_intervals() -> Vec<(SyncType, Duration)> {
    vec![(SyncType::Full, 10 * HOUR), (SyncType::Delta, 3 * HOUR)]
}

async fn schedule(store: &dyn MirrorStore, integration_id: &str, sync_type: SyncType) -> SyncSchedule {
    store
        .list_schedules(integration_id)
        .await
        .expect("list")
        .into_iter()
        .find(|s| s.sync_type == sync_type)
        .expect("schedule exists")
}

fn claimed(due: &[DueSync]) -> Vec<(&str, SyncType)> {
    due.iter().map(|d| (d.integration_id.as_str(), d.sync_type)).collect()
}

async fn ensure_schedules_is_idempotent_and_keeps_next_due_at(h: &Harness) {
    let store = h.store();
    integration(store, INTEGRATION).await;
    let before = at(chrono::Utc::now());
    assert_eq!(
        store
            .ensure_schedules(INTEGRATION, &delta_tool_intervals())
            .await
            .expect("ensure"),
        2
    );
    let fresh = store.list_schedules(INTEGRATION).await.expect("list");
    assert_eq!(
        fresh.iter().map(|s| (s.sync_type, s.every)).collect::<Vec<_>>(),
        vec![(SyncType::Delta, 3 * HOUR), (SyncType::Full, 10 * HOUR)],
        "ordered by type name"
    );
    for s in &fresh {
        assert!(
            s.next_due_at >= before && s.next_due_at <= at(chrono::Utc::now()),
            "new schedules are due at once"
        );
        assert_eq!(
            (s.last_claimed_at, s.claimed_by.as_deref(), s.override_every),
            (None, None, None)
        );
        assert!(!s.webhooks_active);
    }

    let t0 = at(chrono::Utc::now());
    assert_eq!(
        store.claim_due_syncs(t0, "scheduler-a", 10).await.expect("claim").len(),
        2
    );
    let claimed_once = store.list_schedules(INTEGRATION).await.expect("list");

    // Ensuring again creates nothing and moves nothing.
    assert_eq!(
        store
            .ensure_schedules(INTEGRATION, &delta_tool_intervals())
            .await
            .expect("ensure"),
        0
    );
    assert_eq!(store.list_schedules(INTEGRATION).await.expect("list"), claimed_once);

    // A changed default is adopted without moving next_due_at; a missing type is added, due now.
    let created = store
        .ensure_schedules(
            INTEGRATION,
            &[(SyncType::Delta, 2 * HOUR), (SyncType::Default, 3 * HOUR)],
        )
        .await
        .expect("ensure");
    assert_eq!(created, 1);
    let delta = schedule(store, INTEGRATION, SyncType::Delta).await;
    assert_eq!((delta.default_every, delta.every), (2 * HOUR, 2 * HOUR));
    assert_eq!(delta.next_due_at, t0 + hours(3));
    assert_eq!(
        schedule(store, INTEGRATION, SyncType::Full).await.next_due_at,
        t0 + hours(10)
    );
    assert!(schedule(store, INTEGRATION, SyncType::Default).await.next_due_at <= at(chrono::Utc::now()));

    assert!(matches!(
        store.ensure_schedules("personio:nobody", &delta_tool_intervals()).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store
            .ensure_schedules(INTEGRATION, &[(SyncType::Full, HOUR), (SyncType::Full, 2 * HOUR)])
            .await,
        Err(StoreError::Invalid(_))
    ));
    assert!(matches!(
        store
            .ensure_schedules(INTEGRATION, &[(SyncType::Full, Duration::from_millis(10))])
            .await,
        Err(StoreError::Invalid(_))
    ));
}

async fn claim_takes_only_due_schedules_and_moves_them_forward(h: &Harness) {
    let store = h.store();
    integration(store, INTEGRATION).await;
    integration(store, "bamboohr:beta").await;
    store
        .ensure_schedules(INTEGRATION, &delta_tool_intervals())
        .await
        .expect("ensure");
    store
        .ensure_schedules("bamboohr:beta", &[(SyncType::Default, 3 * HOUR)])
        .await
        .expect("ensure");

    // limit is honoured; the rest stays due for the next claim.
    let t0 = at(chrono::Utc::now());
    let first = store.claim_due_syncs(t0, "scheduler-a", 2).await.expect("claim");
    assert_eq!(first.len(), 2);
    let rest = store.claim_due_syncs(t0, "scheduler-b", 10).await.expect("claim");
    assert_eq!(rest.len(), 1);
    let mut all: Vec<_> = claimed(&first).into_iter().chain(claimed(&rest)).collect();
    all.sort_by_key(|(id, t)| (id.to_string(), t.as_str()));
    assert_eq!(
        all,
        vec![
            ("bamboohr:beta", SyncType::Default),
            (INTEGRATION, SyncType::Delta),
            (INTEGRATION, SyncType::Full),
        ]
    );
    assert!(first.iter().chain(&rest).all(|d| d.due_at <= t0));
    assert!(
        store
            .claim_due_syncs(t0, "scheduler-a", 10)
            .await
            .expect("claim")
            .is_empty()
    );

    let delta = schedule(store, INTEGRATION, SyncType::Delta).await;
    assert_eq!(delta.next_due_at, t0 + hours(3));
    assert_eq!(delta.last_claimed_at, Some(t0));
    assert!(delta.claimed_by.is_some());
    assert_eq!(
        schedule(store, INTEGRATION, SyncType::Full).await.next_due_at,
        t0 + hours(10)
    );
    let beta = schedule(store, "bamboohr:beta", SyncType::Default).await;
    assert_eq!(
        (beta.next_due_at, beta.claimed_by.as_deref()),
        (t0 + hours(3), Some("scheduler-b"))
    );

    // Nothing is due a microsecond early; at 3 h the two 3-hourly schedules are.
    let almost = t0 + hours(3) - chrono::TimeDelta::microseconds(1);
    assert!(
        store
            .claim_due_syncs(almost, "scheduler-a", 10)
            .await
            .expect("claim")
            .is_empty()
    );
    let t3 = t0 + hours(3);
    let due = store.claim_due_syncs(t3, "scheduler-a", 10).await.expect("claim");
    assert_eq!(
        claimed(&due),
        vec![("bamboohr:beta", SyncType::Default), (INTEGRATION, SyncType::Delta)],
        "oldest due first, then by id"
    );
    assert!(due.iter().all(|d| d.due_at == t3));
    assert_eq!(
        schedule(store, INTEGRATION, SyncType::Delta).await.next_due_at,
        t0 + hours(6)
    );
    assert!(
        store
            .claim_due_syncs(t3, "scheduler-a", 0)
            .await
            .expect("claim")
            .is_empty()
    );
}

async fn backlogged_schedule_is_claimed_once(h: &Harness) {
    let store = h.store();
    integration(store, INTEGRATION).await;
    store
        .ensure_schedules(INTEGRATION, &[(SyncType::Delta, 3 * HOUR)])
        .await
        .expect("ensure");
    let t0 = at(chrono::Utc::now());
    assert_eq!(store.claim_due_syncs(t0, "s", 10).await.expect("claim").len(), 1);

    // The scheduler was down for 30 days: 240 intervals missed, one sync due.
    let later = t0 + chrono::TimeDelta::days(30);
    let due = store.claim_due_syncs(later, "s", 10).await.expect("claim");
    assert_eq!(claimed(&due), vec![(INTEGRATION, SyncType::Delta)]);
    assert_eq!(due[0].due_at, t0 + hours(3), "reports how late it is");
    assert!(store.claim_due_syncs(later, "s", 10).await.expect("claim").is_empty());
    assert_eq!(
        schedule(store, INTEGRATION, SyncType::Delta).await.next_due_at,
        later + hours(3),
        "the cadence restarts from the claim"
    );
}

async fn override_and_webhooks_change_the_next_interval(h: &Harness) {
    let store = h.store();
    integration(store, INTEGRATION).await;
    store
        .ensure_schedules(INTEGRATION, &delta_tool_intervals())
        .await
        .expect("ensure");
    let t0 = at(chrono::Utc::now());
    store.claim_due_syncs(t0, "s", 10).await.expect("claim");

    // A shorter override pulls the pending sync in and drives the next claim.
    store
        .set_schedule_interval(INTEGRATION, SyncType::Delta, Some(HOUR))
        .await
        .expect("override");
    let delta = schedule(store, INTEGRATION, SyncType::Delta).await;
    assert_eq!(
        (delta.override_every, delta.every, delta.default_every),
        (Some(HOUR), HOUR, 3 * HOUR)
    );
    assert_eq!(delta.next_due_at, t0 + hours(1));
    let t1 = t0 + hours(1);
    assert_eq!(
        claimed(&store.claim_due_syncs(t1, "s", 10).await.expect("claim")),
        vec![(INTEGRATION, SyncType::Delta)]
    );
    assert_eq!(
        schedule(store, INTEGRATION, SyncType::Delta).await.next_due_at,
        t0 + hours(2)
    );

    // Webhooks stretch polling to 24 h, except where an operator chose otherwise; the pending
    // FULL is not pushed out.
    store.set_webhooks_active(INTEGRATION, true).await.expect("webhooks");
    let full = schedule(store, INTEGRATION, SyncType::Full).await;
    assert_eq!((full.webhooks_active, full.every), (true, WEBHOOK_POLL_INTERVAL));
    assert_eq!(full.next_due_at, t0 + hours(10));
    assert_eq!(schedule(store, INTEGRATION, SyncType::Delta).await.every, HOUR);
    let t10 = t0 + hours(10);
    let due = store.claim_due_syncs(t10, "s", 10).await.expect("claim");
    assert_eq!(due.len(), 2);
    assert_eq!(
        schedule(store, INTEGRATION, SyncType::Full).await.next_due_at,
        t10 + hours(24)
    );
    assert_eq!(
        schedule(store, INTEGRATION, SyncType::Delta).await.next_due_at,
        t10 + hours(1)
    );

    // Clearing the override falls back to webhook polling (not pulled in: it is longer).
    store
        .set_schedule_interval(INTEGRATION, SyncType::Delta, None)
        .await
        .expect("clear");
    let delta = schedule(store, INTEGRATION, SyncType::Delta).await;
    assert_eq!((delta.override_every, delta.every), (None, WEBHOOK_POLL_INTERVAL));
    assert_eq!(delta.next_due_at, t10 + hours(1));
    let t11 = t10 + hours(1);
    store.claim_due_syncs(t11, "s", 10).await.expect("claim");
    assert_eq!(
        schedule(store, INTEGRATION, SyncType::Delta).await.next_due_at,
        t11 + hours(24)
    );

    // Webhooks off: back to the defaults, pulled in from each schedule's last claim.
    store.set_webhooks_active(INTEGRATION, false).await.expect("webhooks");
    let full = schedule(store, INTEGRATION, SyncType::Full).await;
    assert_eq!((full.webhooks_active, full.every), (false, 10 * HOUR));
    assert_eq!(full.next_due_at, t10 + hours(10));
    assert_eq!(
        schedule(store, INTEGRATION, SyncType::Delta).await.next_due_at,
        t11 + hours(3)
    );

    assert!(matches!(
        store
            .set_schedule_interval(INTEGRATION, SyncType::Default, Some(HOUR))
            .await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store
            .set_schedule_interval(INTEGRATION, SyncType::Full, Some(Duration::ZERO))
            .await,
        Err(StoreError::Invalid(_))
    ));
    assert!(matches!(
        store.set_webhooks_active("personio:nobody", true).await,
        Err(StoreError::NotFound(_))
    ));
}

async fn force_sync_makes_a_schedule_due_now(h: &Harness) {
    let store = h.store();
    integration(store, INTEGRATION).await;
    store
        .ensure_schedules(INTEGRATION, &delta_tool_intervals())
        .await
        .expect("ensure");
    let t0 = at(chrono::Utc::now());
    store.claim_due_syncs(t0, "s", 10).await.expect("claim");

    let forced_at = t0 + chrono::TimeDelta::minutes(1);
    store
        .force_sync(INTEGRATION, SyncType::Full, forced_at)
        .await
        .expect("force");
    assert_eq!(
        schedule(store, INTEGRATION, SyncType::Full).await.next_due_at,
        forced_at
    );
    let due = store.claim_due_syncs(forced_at, "s", 10).await.expect("claim");
    assert_eq!(claimed(&due), vec![(INTEGRATION, SyncType::Full)]);
    assert_eq!(due[0].due_at, forced_at);
    assert_eq!(
        schedule(store, INTEGRATION, SyncType::Full).await.next_due_at,
        forced_at + hours(10)
    );

    // Forcing an overdue schedule keeps its (earlier) place in line.
    let much_later = t0 + hours(5);
    store
        .force_sync(INTEGRATION, SyncType::Delta, much_later)
        .await
        .expect("force");
    assert_eq!(
        schedule(store, INTEGRATION, SyncType::Delta).await.next_due_at,
        t0 + hours(3)
    );

    assert!(matches!(
        store.force_sync(INTEGRATION, SyncType::Default, forced_at).await,
        Err(StoreError::NotFound(_))
    ));
}

async fn deleting_an_integration_removes_its_schedules(h: &Harness) {
    let store = h.store();
    integration(store, INTEGRATION).await;
    integration(store, "personio:other").await;
    for id in [INTEGRATION, "personio:other"] {
        store
            .ensure_schedules(id, &delta_tool_intervals())
            .await
            .expect("ensure");
    }
    assert!(store.delete_integration(INTEGRATION).await.expect("delete"));
    assert_eq!(h.schedule_rows(INTEGRATION).await, 0);
    assert!(store.list_schedules(INTEGRATION).await.expect("list").is_empty());
    let due = store
        .claim_due_syncs(at(chrono::Utc::now()), "s", 10)
        .await
        .expect("claim");
    assert!(due.iter().all(|d| d.integration_id == "personio:other"));
    assert_eq!(due.len(), 2);

    // Re-created under the same id, it starts from scratch.
    integration(store, INTEGRATION).await;
    assert_eq!(
        store
            .ensure_schedules(INTEGRATION, &delta_tool_intervals())
            .await
            .expect("ensure"),
        2
    );
}

/// Eight scheduler replicas race for 50 due schedules: each is handed out exactly once. (Which
/// replica wins is not asserted: SQLite's busy handler often lets one writer take every round.
/// On Postgres, dropping `FOR UPDATE ... SKIP LOCKED` from the claim makes this test fail.)
async fn concurrent_claims_hand_out_each_due_sync_once(h: &Harness) {
    let store = h.store.clone();
    for n in 0..25 {
        let id = format!("personio:c{n:02}");
        integration(store.as_ref(), &id).await;
        store
            .ensure_schedules(&id, &delta_tool_intervals())
            .await
            .expect("ensure");
    }
    let now = at(chrono::Utc::now());
    let start = Arc::new(tokio::sync::Barrier::new(8));
    let replicas = (0..8).map(|r| {
        let store = store.clone();
        let start = start.clone();
        tokio::spawn(async move {
            start.wait().await;
            let mut mine = Vec::new();
            // Small batches and a few empty rounds, so replicas interleave and one replica's
            // empty answer (everything left is locked by others) does not end the race early.
            let mut empty_rounds = 0;
            while empty_rounds < 3 {
                let got = store
                    .claim_due_syncs(now, &format!("replica-{r}"), 3)
                    .await
                    .expect("claim");
                if got.is_empty() {
                    empty_rounds += 1;
                    tokio::task::yield_now().await;
                }
                mine.extend(got);
            }
            mine
        })
    });
    let mut all = Vec::new();
    for replica in futures::future::join_all(replicas).await {
        all.extend(replica.expect("joined"));
    }
    assert_eq!(all.len(), 50, "every due sync claimed, none twice");
    let mut keys: Vec<_> = all
        .iter()
        .map(|d| (d.integration_id.clone(), d.sync_type.as_str()))
        .collect();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), 50, "no sync claimed twice");
    assert!(store.claim_due_syncs(now, "late", 100).await.expect("claim").is_empty());
}

// ---- the fleet's runs: one open run per pair, pause reasons, operators --------------------------

/// Takes the lease of the run's integration as `worker` and starts the run under it.
async fn start_as(store: &dyn MirrorStore, run: &SyncRun, worker: &str) -> (SyncRun, RunWrite) {
    let lease = store
        .acquire_lease(&run.integration_id, worker, Duration::from_secs(60))
        .await
        .expect("lease query")
        .expect("lease free");
    let started = store
        .start_run(&run.id, lease.fence, worker)
        .await
        .expect("run started");
    let write = RunWrite {
        integration_id: run.integration_id.clone(),
        run_id: run.id.clone(),
        fence: lease.fence,
        sync_type: run.sync_type,
        started_at: started.started_at.expect("started"),
        renderer: None,
        render_at_end: false,
    };
    (started, write)
}

async fn enqueue(store: &dyn MirrorStore, integration_id: &str, sync_type: SyncType) -> SyncRun {
    store.enqueue_run(integration_id, sync_type).await.expect("enqueued").0
}

async fn run_now(store: &dyn MirrorStore, run_id: &str) -> SyncRun {
    store.get_run(run_id).await.expect("get").expect("present")
}

async fn enqueue_run_returns_the_one_open_run(h: &Harness) {
    let store = h.store();
    integration(store, INTEGRATION).await;
    let (first, created) = store.enqueue_run(INTEGRATION, SyncType::Full).await.expect("enqueue");
    assert!(created);
    assert_eq!(
        (
            first.state,
            first.attempts,
            first.worker_id.as_deref(),
            first.pause_reason
        ),
        (RunState::Queued, 0, None, None)
    );
    let (again, created) = store.enqueue_run(INTEGRATION, SyncType::Full).await.expect("enqueue");
    assert!(!created);
    assert_eq!(again, first);
    let (delta, created) = store.enqueue_run(INTEGRATION, SyncType::Delta).await.expect("enqueue");
    assert!(created && delta.id != first.id, "another type is another pair");
    assert!(matches!(
        store.create_run(INTEGRATION, SyncType::Full).await,
        Err(StoreError::Conflict(_))
    ));

    // RUNNING and PAUSED runs are open too.
    let (_, write) = start_as(store, &first, "w").await;
    let (running, created) = store.enqueue_run(INTEGRATION, SyncType::Full).await.expect("enqueue");
    assert_eq!(
        (running.id.as_str(), running.state, created),
        (first.id.as_str(), RunState::Running, false)
    );
    store
        .pause_run(&write, &PauseInfo::new(PauseReason::Shutdown))
        .await
        .expect("paused");
    let (paused, created) = store.enqueue_run(INTEGRATION, SyncType::Full).await.expect("enqueue");
    assert_eq!(
        (paused.id.as_str(), paused.state, created),
        (first.id.as_str(), RunState::Paused, false)
    );
    assert!(matches!(
        store.create_run(INTEGRATION, SyncType::Full).await,
        Err(StoreError::Conflict(_))
    ));

    // Once it has ended, the next enqueue opens a new run.
    let (_, write) = start_as(store, &first, "w").await;
    store
        .finish_run(&write, RunState::Succeeded, None)
        .await
        .expect("finished");
    let (next, created) = store.enqueue_run(INTEGRATION, SyncType::Full).await.expect("enqueue");
    assert!(created && next.id != first.id);
    assert_eq!(next.state, RunState::Queued);
    assert_eq!(
        store
            .open_run(INTEGRATION, SyncType::Full)
            .await
            .expect("open")
            .map(|r| r.id),
        Some(next.id)
    );

    assert!(matches!(
        store.enqueue_run("personio:nobody", SyncType::Full).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.create_run("personio:nobody", SyncType::Full).await,
        Err(StoreError::NotFound(_))
    ));
}

/// Eight callers race to enqueue the same pair, round after round: one creates the run, all get
/// it. Then eight plain creates race: one succeeds, the others conflict.
async fn concurrent_enqueues_open_one_run(h: &Harness) {
    let store = h.store.clone();
    integration(store.as_ref(), INTEGRATION).await;
    for round in 0..4 {
        let start = Arc::new(tokio::sync::Barrier::new(8));
        let callers = (0..8).map(|_| {
            let store = store.clone();
            let start = start.clone();
            tokio::spawn(async move {
                start.wait().await;
                store.enqueue_run(INTEGRATION, SyncType::Full).await.expect("enqueue")
            })
        });
        let results: Vec<(SyncRun, bool)> = futures::future::join_all(callers)
            .await
            .into_iter()
            .map(|r| r.expect("joined"))
            .collect();
        assert_eq!(
            results.iter().filter(|(_, created)| *created).count(),
            1,
            "round {round}: exactly one caller created the run"
        );
        let id = results[0].0.id.clone();
        assert!(
            results.iter().all(|(run, _)| run.id == id),
            "round {round}: every caller got the same run"
        );
        // Close it, so the next round races for a new run.
        assert!(store.cancel_idle_run(&id, "next round").await.expect("cancel"));
    }
    assert_eq!(store.list_runs(INTEGRATION, 100).await.expect("list").len(), 4);

    let start = Arc::new(tokio::sync::Barrier::new(8));
    let creators = (0..8).map(|_| {
        let store = store.clone();
        let start = start.clone();
        tokio::spawn(async move {
            start.wait().await;
            store.create_run(INTEGRATION, SyncType::Full).await
        })
    });
    let mut created = 0;
    for result in futures::future::join_all(creators).await {
        match result.expect("joined") {
            Ok(_) => created += 1,
            Err(StoreError::Conflict(_)) => {}
            Err(other) => panic!("create_run failed with {other}"),
        }
    }
    assert_eq!(created, 1, "one plain create wins, the others conflict");
    assert_eq!(store.list_open_runs(100).await.expect("open").len(), 1);
}

async fn claim_due_runs_queue_each_claim(h: &Harness) {
    let store = h.store();
    integration(store, INTEGRATION).await;
    store
        .ensure_schedules(INTEGRATION, &delta_tool_intervals())
        .await
        .expect("ensure");
    let open_full = enqueue(store, INTEGRATION, SyncType::Full).await;

    let t0 = at(chrono::Utc::now());
    let claims = store.claim_due_runs(t0, "scheduler-a", 10).await.expect("claim");
    assert_eq!(
        claims
            .iter()
            .map(|c| (c.due.integration_id.as_str(), c.due.sync_type))
            .collect::<Vec<_>>(),
        vec![(INTEGRATION, SyncType::Delta), (INTEGRATION, SyncType::Full)]
    );
    let (delta, full) = (&claims[0], &claims[1]);
    assert!(delta.created, "the delta had no open run");
    assert_eq!(
        (delta.run.integration_id.as_str(), delta.run.sync_type, delta.run.state),
        (INTEGRATION, SyncType::Delta, RunState::Queued)
    );
    assert_eq!(run_now(store, &delta.run.id).await, delta.run);
    assert!(!full.created, "the full run was already open");
    assert_eq!(full.run, open_full);
    assert!(claims.iter().all(|c| c.due.due_at <= t0));
    let schedule_after = schedule(store, INTEGRATION, SyncType::Delta).await;
    assert_eq!(
        (schedule_after.next_due_at, schedule_after.claimed_by.as_deref()),
        (t0 + hours(3), Some("scheduler-a"))
    );
    assert!(
        store
            .claim_due_runs(t0, "scheduler-a", 10)
            .await
            .expect("claim")
            .is_empty()
    );

    // Due again while its run still waits: the claim reports that run and adds none.
    let t3 = t0 + hours(3);
    let again = store.claim_due_runs(t3, "scheduler-b", 10).await.expect("claim");
    assert_eq!(again.len(), 1);
    assert_eq!(
        (again[0].run.id.as_str(), again[0].created),
        (delta.run.id.as_str(), false)
    );
    assert_eq!(store.list_runs(INTEGRATION, 10).await.expect("list").len(), 2);
    assert!(
        store
            .claim_due_runs(t3 + hours(10), "scheduler-b", 0)
            .await
            .expect("claim")
            .is_empty()
    );
}

/// Eight scheduler replicas race for 50 due schedules through `claim_due_runs`: each schedule is
/// handed out once, with a run of its own.
async fn concurrent_claim_due_runs_hand_out_each_schedule_once(h: &Harness) {
    let store = h.store.clone();
    for n in 0..25 {
        let id = format!("personio:c{n:02}");
        integration(store.as_ref(), &id).await;
        store
            .ensure_schedules(&id, &delta_tool_intervals())
            .await
            .expect("ensure");
    }
    let now = at(chrono::Utc::now());
    let start = Arc::new(tokio::sync::Barrier::new(8));
    let replicas = (0..8).map(|r| {
        let store = store.clone();
        let start = start.clone();
        tokio::spawn(async move {
            start.wait().await;
            let mut mine = Vec::new();
            let mut empty_rounds = 0;
            while empty_rounds < 3 {
                let got = store
                    .claim_due_runs(now, &format!("replica-{r}"), 3)
                    .await
                    .expect("claim");
                if got.is_empty() {
                    empty_rounds += 1;
                    tokio::task::yield_now().await;
                }
                mine.extend(got);
            }
            mine
        })
    });
    let mut all = Vec::new();
    for replica in futures::future::join_all(replicas).await {
        all.extend(replica.expect("joined"));
    }
    assert_eq!(all.len(), 50, "every due schedule claimed, none twice");
    assert!(all.iter().all(|c| c.created), "each claim queued a run");
    let mut keys: Vec<_> = all
        .iter()
        .map(|c| (c.due.integration_id.clone(), c.due.sync_type.as_str()))
        .collect();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), 50, "no schedule claimed twice");
    assert!(
        all.iter()
            .all(|c| (c.run.integration_id.as_str(), c.run.sync_type)
                == (c.due.integration_id.as_str(), c.due.sync_type))
    );
    let open = store.list_open_runs(100).await.expect("open");
    assert_eq!(open.len(), 50);
    assert!(store.claim_due_runs(now, "late", 100).await.expect("claim").is_empty());
}

async fn pause_reasons_round_trip_and_start_clears_them(h: &Harness) {
    let store = h.store();
    integration(store, INTEGRATION).await;
    let queued = enqueue(store, INTEGRATION, SyncType::Full).await;
    let (started, mut write) = start_as(store, &queued, "worker-1").await;
    assert_eq!(
        (started.state, started.worker_id.as_deref()),
        (RunState::Running, Some("worker-1"))
    );
    // Nanoseconds on purpose: the store keeps microseconds.
    let resume_at = chrono::Utc::now() + chrono::TimeDelta::minutes(5);
    let retry = |error: &str| PauseInfo {
        reason: PauseReason::Retry,
        preempted_by: None,
        resume_at: Some(resume_at),
        error: Some(error.into()),
    };
    let cases = [
        PauseInfo {
            preempted_by: Some("delta-run".into()),
            ..PauseInfo::new(PauseReason::Preempted)
        },
        PauseInfo::new(PauseReason::Operator),
        retry("source unavailable: 503"),
        PauseInfo::new(PauseReason::Shutdown),
        retry("source unavailable: timeout"),
        // No error now: the last retry's does not linger.
        PauseInfo::new(PauseReason::Preempted),
    ];
    let mut retries = 0;
    for (n, info) in cases.iter().enumerate() {
        store.pause_run(&write, info).await.expect("paused");
        retries += i32::from(info.reason == PauseReason::Retry);
        let paused = run_now(store, &queued.id).await;
        assert_eq!(
            (
                paused.state,
                paused.pause_reason,
                paused.preempted_by.as_deref(),
                paused.resume_at,
                paused.error.as_deref(),
                paused.attempts
            ),
            (
                RunState::Paused,
                Some(info.reason),
                info.preempted_by.as_deref(),
                info.resume_at.map(at),
                info.error.as_deref(),
                retries
            ),
            "pause {n}"
        );
        // Another worker resumes it once the first has let go of the lease.
        release(store, &format!("worker-{}", n + 1), write.fence).await;
        let worker = format!("worker-{}", n + 2);
        if info.reason == PauseReason::Operator {
            // Not before an operator resumes it: a worker that read the run just before the
            // pause must not override the operator.
            let refused = store.start_run(&queued.id, write.fence, &worker).await;
            assert!(
                matches!(&refused, Err(StoreError::Invalid(m)) if m.contains("paused by an operator")),
                "{refused:?}"
            );
            assert!(store.resume_paused_run(&queued.id).await.expect("resume"));
        }
        let (resumed, resumed_write) = start_as(store, &queued, &worker).await;
        write = resumed_write;
        assert_eq!(
            (
                resumed.state,
                resumed.worker_id.as_deref(),
                resumed.pause_reason,
                resumed.preempted_by.as_deref(),
                resumed.resume_at,
                resumed.attempts
            ),
            (RunState::Running, Some(worker.as_str()), None, None, None, retries),
            "start after pause {n}"
        );
        assert_eq!(resumed.started_at, started.started_at, "the first start is kept");
    }
    assert_eq!(retries, 2);

    // An ended run does not pause again: that would reopen it beside a newer run.
    store
        .finish_run(&write, RunState::Failed, Some("gave up"))
        .await
        .expect("finished");
    assert!(matches!(
        store.pause_run(&write, &PauseInfo::new(PauseReason::Shutdown)).await,
        Err(StoreError::Invalid(_))
    ));
    let ended = run_now(store, &queued.id).await;
    assert_eq!(
        (ended.state, ended.error.as_deref(), ended.attempts),
        (RunState::Failed, Some("gave up"), 2)
    );
}

async fn idle_runs_are_cancelled_paused_and_resumed(h: &Harness) {
    let store = h.store();
    integration(store, INTEGRATION).await;
    let all_false = |id: String| async move {
        (
            store.cancel_idle_run(&id, "x").await.expect("cancel"),
            store.pause_idle_run(&id).await.expect("pause"),
            store.resume_paused_run(&id).await.expect("resume"),
        )
    };

    // QUEUED: an operator pauses it, resumes it and cancels it.
    let queued = enqueue(store, INTEGRATION, SyncType::Full).await;
    assert!(
        !store.resume_paused_run(&queued.id).await.expect("resume"),
        "not paused"
    );
    assert!(store.pause_idle_run(&queued.id).await.expect("pause"));
    let paused = run_now(store, &queued.id).await;
    assert_eq!(
        (paused.state, paused.pause_reason),
        (RunState::Paused, Some(PauseReason::Operator))
    );
    assert!(
        !store.pause_idle_run(&queued.id).await.expect("pause"),
        "already paused"
    );
    assert!(store.resume_paused_run(&queued.id).await.expect("resume"));
    let ready = run_now(store, &queued.id).await;
    assert_eq!(
        (ready.state, ready.pause_reason),
        (RunState::Paused, None),
        "ready to resume"
    );
    assert!(store.cancel_idle_run(&queued.id, "not needed").await.expect("cancel"));
    let cancelled = run_now(store, &queued.id).await;
    assert_eq!(
        (cancelled.state, cancelled.error.as_deref(), cancelled.pause_reason),
        (RunState::Cancelled, Some("not needed"), None)
    );
    assert!(cancelled.ended_at.is_some());
    assert_eq!(all_false(queued.id.clone()).await, (false, false, false));
    assert!(
        matches!(store.start_run(&queued.id, 1, "w").await, Err(StoreError::Invalid(_))),
        "a worker does not revive a cancelled run"
    );

    // QUEUED straight to CANCELLED.
    let queued = enqueue(store, INTEGRATION, SyncType::Full).await;
    assert!(store.cancel_idle_run(&queued.id, "superseded").await.expect("cancel"));
    assert_eq!(run_now(store, &queued.id).await.state, RunState::Cancelled);

    // RUNNING: only its worker pauses or ends it.
    let running = enqueue(store, INTEGRATION, SyncType::Delta).await;
    let (_, write) = start_as(store, &running, "w").await;
    assert_eq!(all_false(running.id.clone()).await, (false, false, false));
    assert_eq!(run_now(store, &running.id).await.state, RunState::Running);

    // PAUSED by its worker: an operator's pause holds it (it would otherwise resume on its
    // own); a resume drops the reason with its preempting run or retry instant.
    store
        .pause_run(
            &write,
            &PauseInfo {
                preempted_by: Some("delta-run".into()),
                ..PauseInfo::new(PauseReason::Preempted)
            },
        )
        .await
        .expect("paused");
    assert!(store.pause_idle_run(&running.id).await.expect("pause"));
    let held = run_now(store, &running.id).await;
    assert_eq!(
        (held.state, held.pause_reason, held.preempted_by.as_deref()),
        (RunState::Paused, Some(PauseReason::Operator), None)
    );
    assert!(!store.pause_idle_run(&running.id).await.expect("pause"), "already held");
    assert!(store.resume_paused_run(&running.id).await.expect("resume"));
    let ready = run_now(store, &running.id).await;
    assert_eq!(
        (ready.state, ready.pause_reason, ready.preempted_by),
        (RunState::Paused, None, None)
    );
    let (_, write) = start_as(store, &running, "w").await;
    store
        .pause_run(
            &write,
            &PauseInfo {
                resume_at: Some(at(chrono::Utc::now()) + hours(1)),
                error: Some("503".into()),
                ..PauseInfo::new(PauseReason::Retry)
            },
        )
        .await
        .expect("paused");
    assert!(store.resume_paused_run(&running.id).await.expect("resume"));
    let ready = run_now(store, &running.id).await;
    assert_eq!(
        (ready.state, ready.pause_reason, ready.resume_at, ready.attempts),
        (RunState::Paused, None, None, 1)
    );
    assert!(store.cancel_idle_run(&running.id, "operator").await.expect("cancel"));
    let cancelled = run_now(store, &running.id).await;
    assert_eq!(
        (cancelled.state, cancelled.error.as_deref()),
        (RunState::Cancelled, Some("operator"))
    );

    // Ended or unknown: nothing to do.
    let done = enqueue(store, INTEGRATION, SyncType::Default).await;
    let (_, write) = start_as(store, &done, "w").await;
    store
        .finish_run(&write, RunState::Succeeded, None)
        .await
        .expect("finished");
    assert_eq!(all_false(done.id.clone()).await, (false, false, false));
    assert_eq!(run_now(store, &done.id).await.state, RunState::Succeeded);
    assert_eq!(all_false("no-such-run".into()).await, (false, false, false));
}

async fn list_open_runs_lists_open_runs_oldest_first(h: &Harness) {
    let store = h.store();
    let other = "bamboohr:beta";
    integration(store, INTEGRATION).await;
    integration(store, other).await;
    let queued = enqueue(store, INTEGRATION, SyncType::Full).await;
    tick().await;
    let paused = enqueue(store, other, SyncType::Default).await;
    assert!(store.pause_idle_run(&paused.id).await.expect("pause"));
    tick().await;
    let succeeded = enqueue(store, INTEGRATION, SyncType::Delta).await;
    let (_, write) = start_as(store, &succeeded, "w").await;
    store
        .finish_run(&write, RunState::Succeeded, None)
        .await
        .expect("finished");
    tick().await;
    let running = enqueue(store, other, SyncType::Full).await;
    start_as(store, &running, "w").await;
    tick().await;
    let cancelled = enqueue(store, INTEGRATION, SyncType::Default).await;
    assert!(store.cancel_idle_run(&cancelled.id, "no").await.expect("cancel"));

    let ids = |runs: Vec<SyncRun>| runs.into_iter().map(|r| r.id).collect::<Vec<_>>();
    assert_eq!(
        ids(store.list_open_runs(10).await.expect("open")),
        vec![queued.id.clone(), paused.id.clone(), running.id.clone()]
    );
    assert_eq!(
        ids(store.list_open_runs(2).await.expect("open")),
        vec![queued.id, paused.id]
    );
    assert!(store.list_open_runs(0).await.expect("open").is_empty());
}

// ---- webhooks: the transactional outbox and inbound webhooks ----------------------------------

const SECRET: &str = "whsec-very-secret-signing-key";

async fn endpoint(store: &dyn MirrorStore, environment: &str, event_types: &[&str]) -> WebhookEndpoint {
    store
        .create_webhook_endpoint(NewWebhookEndpoint {
            environment: environment.into(),
            url: "http://127.0.0.1:9/hook".into(),
            secret: SECRET.into(),
            event_types: event_types.iter().map(|t| t.to_string()).collect(),
        })
        .await
        .expect("endpoint created")
}

fn delivered(claimed: &ClaimedDelivery) -> DeliveryAttempt {
    DeliveryAttempt {
        delivery_id: claimed.delivery.id.clone(),
        attempt: claimed.delivery.attempts + 1,
        at: chrono::Utc::now(),
        status: Some(200),
        latency_ms: 5,
        response_excerpt: Some("ok".into()),
        error: None,
    }
}

/// Delivers everything due, as a deliverer would, and returns what it sent in the order it
/// sent it (claims hand out one delivery per endpoint and integration at a time).
async fn drain(store: &dyn MirrorStore) -> Vec<ClaimedDelivery> {
    let mut sent = Vec::new();
    loop {
        let claimed = store
            .claim_deliveries(chrono::Utc::now(), Duration::from_secs(60), 100)
            .await
            .expect("claim");
        if claimed.is_empty() {
            return sent;
        }
        for c in claimed {
            store
                .record_attempt(&delivered(&c), &AttemptOutcome::Delivered)
                .await
                .expect("recorded");
            sent.push(c);
        }
    }
}

fn types_of(sent: &[ClaimedDelivery]) -> Vec<&str> {
    sent.iter().map(|c| c.event.event_type.as_str()).collect()
}

fn keys_of(value: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = value.as_object().expect("object").keys().map(String::as_str).collect();
    keys.sort_unstable();
    keys
}

/// `2024-05-01T00:00:00.000Z`: milliseconds and `Z`, as Kombo writes them.
fn is_kombo_time(value: &Value) -> bool {
    let text = value.as_str().unwrap_or_default();
    text.len() == 24
        && text.ends_with('Z')
        && text.as_bytes()[19] == b'.'
        && chrono::DateTime::parse_from_rfc3339(text).is_ok()
}

/// A finished run of `integration_id` (FULL, under a fresh lease), ending in `state`.
async fn run_ending(store: &dyn MirrorStore, integration_id: &str, state: RunState, pages: Vec<PageWrite>) -> SyncRun {
    let run = enqueue(store, integration_id, SyncType::Full).await;
    let (_, write) = start_as(store, &run, "w").await;
    for p in pages {
        store.apply_page(&write, p).await.expect("page");
    }
    let ended = store.finish_run(&write, state, None).await.expect("finished");
    store
        .release_lease(&tributary_store::Lease {
            integration_id: integration_id.into(),
            owner: "w".into(),
            fence: write.fence,
            ttl: Duration::from_secs(30),
        })
        .await
        .expect("released");
    ended
}

/// A run keeps the first trace context it is given, and the events it causes carry it to the
/// deliveries a deliverer claims; an untraced run's events carry none.
async fn a_runs_trace_context_reaches_its_deliveries(h: &Harness) {
    const FIRST: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    const SECOND: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    let store = h.store();
    endpoint(store, "production", &["sync-finished"]).await;
    integration(store, INTEGRATION).await;
    let untraced = run_ending(store, INTEGRATION, RunState::Succeeded, vec![]).await;
    assert_eq!(untraced.trace_context, None);

    let run = enqueue(store, INTEGRATION, SyncType::Full).await;
    store.trace_run(&run.id, FIRST).await.expect("traced");
    store.trace_run(&run.id, SECOND).await.expect("traced again");
    assert_eq!(run_now(store, &run.id).await.trace_context.as_deref(), Some(FIRST));
    let (started, write) = start_as(store, &run, "w").await;
    assert_eq!(started.trace_context.as_deref(), Some(FIRST));
    let ended = store
        .finish_run(&write, RunState::Succeeded, None)
        .await
        .expect("finished");
    assert_eq!(ended.trace_context.as_deref(), Some(FIRST));
    let sent: Vec<(String, Option<String>)> = drain(store)
        .await
        .into_iter()
        .map(|c| {
            (
                c.event.payload["data"]["sync_id"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                c.event.trace_context,
            )
        })
        .collect();
    assert_eq!(sent, [(untraced.id, None), (run.id, Some(FIRST.to_owned()))]);
}

async fn webhook_endpoints_round_trip_with_sealed_secrets(h: &Harness) {
    let store = h.store();
    let all = endpoint(store, "production", &[]).await;
    let some = endpoint(store, "production", &["sync-finished", "data-changed"]).await;
    let other = endpoint(store, "staging", &["integration-created"]).await;
    assert_eq!(all.id.len(), 24);
    assert_eq!(all.event_types, Vec::<String>::new());
    assert_eq!(some.event_types, vec!["sync-finished", "data-changed"]);

    assert_eq!(
        store.list_webhook_endpoints(Some("production")).await.expect("list"),
        vec![all.clone(), some.clone()]
    );
    assert_eq!(store.list_webhook_endpoints(None).await.expect("list").len(), 3);
    assert_eq!(
        store.get_webhook_endpoint(&other.id).await.expect("get"),
        Some(other.clone())
    );
    assert_eq!(store.get_webhook_endpoint("nope").await.expect("get"), None);

    let invalid = store
        .create_webhook_endpoint(NewWebhookEndpoint {
            environment: "production".into(),
            url: "http://127.0.0.1:9/hook".into(),
            secret: SECRET.into(),
            event_types: vec!["data-change".into()],
        })
        .await;
    assert!(matches!(invalid, Err(StoreError::Invalid(_))), "{invalid:?}");

    // Sealed at rest: the raw column never holds the secret.
    let raw = h.raw_webhook_secrets().await;
    assert_eq!(raw.len(), 3);
    for sealed in raw {
        assert!(!sealed.windows(SECRET.len()).any(|w| w == SECRET.as_bytes()));
    }

    assert!(store.delete_webhook_endpoint(&other.id).await.expect("delete"));
    assert!(!store.delete_webhook_endpoint(&other.id).await.expect("delete again"));
    assert_eq!(store.list_webhook_endpoints(None).await.expect("list").len(), 2);
}

async fn create_and_delete_integration_write_their_events(h: &Harness) {
    let store = h.store();
    let hook = endpoint(store, "production", &[]).await;
    integration(store, INTEGRATION).await;

    let sent = drain(store).await;
    assert_eq!(types_of(&sent), ["integration-created"]);
    let created = &sent[0];
    assert_eq!(
        (created.url.as_str(), created.secret.as_str()),
        ("http://127.0.0.1:9/hook", SECRET)
    );
    assert_eq!(created.delivery.endpoint_id, hook.id);
    assert_eq!(created.delivery.integration_id.as_deref(), Some(INTEGRATION));
    assert_eq!(created.event.environment, "production");
    let payload = &created.event.payload;
    assert_eq!(keys_of(payload), ["data", "id", "type"]);
    assert_eq!(payload["id"], created.event.id.as_str());
    assert_eq!(created.event.id.len(), 24);
    assert_eq!(payload["type"], "integration-created");
    assert_eq!(
        payload["data"],
        json!({"id": INTEGRATION, "tool": "personio", "category": "HRIS",
               "end_user": {"organization_name": "acme", "creator_email": null, "origin_id": null}})
    );

    // A duplicate create writes no second event.
    let again = store
        .create_integration(NewIntegration {
            id: INTEGRATION.into(),
            tool: ToolKind::Personio,
            environment: "production".into(),
            base_url: "http://127.0.0.1:1".into(),
            credentials: json!({}),
            scope_config: ScopeConfig::default(),
        })
        .await;
    assert!(matches!(again, Err(StoreError::Conflict(_))));
    assert_eq!(h.event_rows(INTEGRATION).await, 1);

    assert!(store.delete_integration(INTEGRATION).await.expect("deleted"));
    // The event outlives the integration and still goes out.
    let sent = drain(store).await;
    assert_eq!(types_of(&sent), ["integration-deleted"]);
    let data = &sent[0].event.payload["data"];
    assert_eq!(keys_of(data), ["category", "deleted_at", "end_user", "id", "tool"]);
    assert_eq!(data["id"], INTEGRATION);
    assert!(is_kombo_time(&data["deleted_at"]), "{data}");
    assert_eq!(h.event_rows(INTEGRATION).await, 2);
    // Deleting a missing integration writes nothing.
    assert!(!store.delete_integration(INTEGRATION).await.expect("absent"));
    assert_eq!(h.event_rows(INTEGRATION).await, 2);
}

/// An operator's cancel of a PAUSED run ends a run whose pages committed changes: consumers
/// hear of them as of any ended run (I7). A run cancelled while still QUEUED never ran and
/// announces nothing.
async fn cancelling_a_paused_run_announces_what_its_pages_changed(h: &Harness) {
    let store = h.store();
    endpoint(store, "production", &[]).await;
    integration(store, INTEGRATION).await;
    drain(store).await;

    let run = begin_run(store, SyncType::Full, "w1", None).await;
    store
        .apply_page(&run, page(vec![employee("e1", "Ada")]))
        .await
        .expect("page");
    store
        .pause_run(&run, &PauseInfo::new(PauseReason::Shutdown))
        .await
        .expect("paused");
    release(store, "w1", run.fence).await;
    assert!(store.cancel_idle_run(&run.run_id, "not needed").await.expect("cancel"));
    assert!(
        !store.cancel_idle_run(&run.run_id, "again").await.expect("cancel"),
        "a second cancel changes nothing"
    );
    let sent = drain(store).await;
    assert_eq!(types_of(&sent), ["data-changed", "sync-finished"]);
    assert_eq!(
        sent[0].event.payload["data"]["changed_models"],
        json!([{"name": "hris_employees"}])
    );
    assert_eq!(sent[1].event.payload["data"]["sync_id"], run.run_id.as_str());
    assert_eq!(sent[1].event.payload["data"]["sync_state"], "CANCELLED");

    let queued = enqueue(store, INTEGRATION, SyncType::Full).await;
    assert!(store.cancel_idle_run(&queued.id, "not needed").await.expect("cancel"));
    assert!(
        drain(store).await.is_empty(),
        "a run that never started announces nothing"
    );
}

async fn finish_run_writes_sync_finished_and_data_changed_when_something_changed(h: &Harness) {
    let store = h.store();
    endpoint(store, "production", &[]).await;
    integration(store, INTEGRATION).await;
    drain(store).await;

    // A run that changes employees, pauses, resumes and changes employments: data-changed lists
    // both models, then sync-finished follows.
    let first = begin_run(store, SyncType::Full, "w1", None).await;
    store
        .apply_page(&first, page(vec![employee("e1", "Ada")]))
        .await
        .expect("page");
    store
        .pause_run(&first, &PauseInfo::new(PauseReason::Shutdown))
        .await
        .expect("paused");
    store
        .start_run(&first.run_id, first.fence, "w1")
        .await
        .expect("resumed");
    store
        .apply_page(
            &first,
            page(vec![employee("e1", "Ada"), employment("m1", "e1", "Engineer")]),
        )
        .await
        .expect("page");
    let ended = store
        .finish_run(&first, RunState::Succeeded, None)
        .await
        .expect("finished");
    release(store, "w1", first.fence).await;

    // Finishing the ended run again (a retried call) announces nothing a second time.
    store
        .finish_run(&first, RunState::Succeeded, None)
        .await
        .expect("finished again");

    let sent = drain(store).await;
    assert_eq!(types_of(&sent), ["data-changed", "sync-finished"]);
    let changed = &sent[0].event.payload;
    assert_eq!(keys_of(changed), ["data", "id", "type"]);
    assert_eq!(
        changed["data"],
        json!({"integration_id": INTEGRATION, "integration_tool": "personio", "integration_category": "HRIS",
               "changed_models": [{"name": "hris_employees"}, {"name": "hris_employments"}]})
    );
    let finished = &sent[1].event.payload["data"];
    assert_eq!(
        keys_of(finished),
        [
            "end_user",
            "integration_category",
            "integration_id",
            "integration_tool",
            "log_url",
            "sync_duration_seconds",
            "sync_ended_at",
            "sync_id",
            "sync_started_at",
            "sync_state",
        ]
    );
    assert_eq!(finished["sync_id"], ended.id.as_str());
    assert_eq!(finished["sync_state"], "SUCCEEDED");
    assert!(finished["sync_duration_seconds"].is_u64());
    assert!(is_kombo_time(&finished["sync_started_at"]) && is_kombo_time(&finished["sync_ended_at"]));
    assert_eq!(
        finished["end_user"],
        json!({"organization_name": "acme", "creator_email": null, "origin_id": null})
    );
    assert!(finished["log_url"].is_string());

    // The same data again changes nothing: sync-finished only.
    let second = begin_run(store, SyncType::Full, "w2", None).await;
    store
        .apply_page(
            &second,
            page(vec![employee("e1", "Ada"), employment("m1", "e1", "Engineer")]),
        )
        .await
        .expect("page");
    end_run(store, &second, "w2").await;
    assert_eq!(types_of(&drain(store).await), ["sync-finished"]);

    // A sweep that deletes the employment is a change of employments alone.
    let third = begin_run(store, SyncType::Full, "w3", None).await;
    store
        .apply_page(&third, page(vec![employee("e1", "Ada")]))
        .await
        .expect("page");
    let swept = sweep_unseen(store, &third, &[Model::Employees, Model::Employments])
        .await
        .expect("sweep");
    assert_eq!(swept.deleted, 1);
    end_run(store, &third, "w3").await;
    let sent = drain(store).await;
    assert_eq!(types_of(&sent), ["data-changed", "sync-finished"]);
    assert_eq!(
        sent[0].event.payload["data"]["changed_models"],
        json!([{"name": "hris_employments"}])
    );

    // Disabling a model deletes its rows: a change of that model.
    let fourth = begin_run(store, SyncType::Full, "w4", None).await;
    store
        .delete_model(&fourth, Model::Employees)
        .await
        .expect("delete model");
    store
        .finish_run(&fourth, RunState::Failed, Some("boom"))
        .await
        .expect("finished");
    release(store, "w4", fourth.fence).await;
    let sent = drain(store).await;
    assert_eq!(types_of(&sent), ["data-changed", "sync-finished"]);
    assert_eq!(
        sent[0].event.payload["data"]["changed_models"],
        json!([{"name": "hris_employees"}])
    );
    assert_eq!(sent[1].event.payload["data"]["sync_state"], "FAILED");
}

fn member(model: Model, remote_id: &str, data: Value) -> SourceRecord {
    SourceRecord::new(model, remote_id, obj(data))
}

fn grouped(remote_id: &str, name: &str, groups: &[&str]) -> SourceRecord {
    let groups: Vec<String> = groups.iter().map(|g| ids().id(Model::Groups, g)).collect();
    member(
        Model::Employees,
        remote_id,
        json!({"first_name": name, "group_ids": groups}),
    )
}

fn tagged(remote_id: &str, tags: &[&str]) -> SourceRecord {
    let tags: Vec<String> = tags.iter().map(|t| ids().id(Model::Tags, t)).collect();
    member(
        Model::Candidates,
        remote_id,
        json!({"first_name": remote_id, "tag_ids": tags}),
    )
}

fn stage(remote_id: &str, job: &str, name: &str) -> SourceRecord {
    member(Model::ApplicationStages, remote_id, json!({"name": name})).with_parent(Model::Jobs, job)
}

/// Runs one FULL run of `pages` (then sweeps `sweep`, then deletes `delete`) and returns the
/// names its `data-changed` listed, or `None` when it sent sync-finished alone.
async fn changed_names(
    store: &dyn MirrorStore,
    owner: &str,
    pages: Vec<Vec<SourceRecord>>,
    sweep: &[Model],
    delete: Option<Model>,
) -> Option<Vec<String>> {
    let run = begin_run(store, SyncType::Full, owner, None).await;
    for p in pages {
        store.apply_page(&run, page(p)).await.expect("page");
    }
    if !sweep.is_empty() {
        sweep_unseen(store, &run, sweep).await.expect("sweep");
    }
    if let Some(model) = delete {
        store.delete_model(&run, model).await.expect("delete model");
    }
    end_run(store, &run, owner).await;
    let sent = drain(store).await;
    match types_of(&sent)[..] {
        ["sync-finished"] => None,
        ["data-changed", "sync-finished"] => Some(
            sent[0].event.payload["data"]["changed_models"]
                .as_array()
                .expect("list")
                .iter()
                .map(|m| m["name"].as_str().expect("name").to_owned())
                .collect(),
        ),
        ref other => panic!("unexpected events {other:?}"),
    }
}

async fn data_changed_lists_the_joins_whose_memberships_changed(h: &Harness) {
    let store = h.store();
    endpoint(store, "production", &[]).await;
    integration(store, INTEGRATION).await;
    drain(store).await;
    let names = |n: &[&str]| Some(n.iter().map(|s| s.to_string()).collect::<Vec<_>>());

    // New employees: one with groups adds memberships, one without adds none.
    let first = vec![grouped("e1", "Ada", &["g1", "g2"]), grouped("e2", "Bo", &[])];
    assert_eq!(
        changed_names(store, "w1", vec![first.clone()], &[], None).await,
        names(&["hris_employees", "hris_join_employees_teams"])
    );
    // The same again: nothing changed, no data-changed at all.
    assert_eq!(changed_names(store, "w2", vec![first], &[], None).await, None);
    // A new name and the same groups in another order: the employee changed, its teams not.
    assert_eq!(
        changed_names(
            store,
            "w3",
            vec![vec![grouped("e1", "Ada L.", &["g2", "g1"]), grouped("e2", "Bo", &[])]],
            &[],
            None
        )
        .await,
        names(&["hris_employees"])
    );
    // A group removed from e1, one added to e2: the join changed.
    assert_eq!(
        changed_names(
            store,
            "w4",
            vec![vec![grouped("e1", "Ada L.", &["g2"]), grouped("e2", "Bo", &["g1"])]],
            &[],
            None
        )
        .await,
        names(&["hris_employees", "hris_join_employees_teams"])
    );

    // Rows written before the digest existed are unknown: changing their groups reports the
    // employee but no join (no flood after the upgrade); from then on the digest is known.
    h.forget_join_digests().await;
    assert_eq!(
        changed_names(store, "w5", vec![vec![grouped("e1", "Ada L.", &["g3"])]], &[], None).await,
        names(&["hris_employees"])
    );
    assert_eq!(
        changed_names(store, "w6", vec![vec![grouped("e1", "Ada L.", &["g1"])]], &[], None).await,
        names(&["hris_employees", "hris_join_employees_teams"])
    );

    // A new candidate with tags lists the candidates-tags join; one without tags does not.
    assert_eq!(
        changed_names(store, "w7", vec![vec![tagged("c1", &["t1"])]], &[], None).await,
        names(&["ats_candidates", "ats_join_candidates_tags"])
    );
    assert_eq!(
        changed_names(store, "w8", vec![vec![tagged("c2", &[])]], &[], None).await,
        names(&["ats_candidates"])
    );

    // Stages: created, renamed (no membership change), swept away.
    assert_eq!(
        changed_names(
            store,
            "w9",
            vec![vec![stage("s1", "j1", "Screen"), stage("s2", "j1", "Offer")]],
            &[],
            None
        )
        .await,
        names(&["ats_application_stages", "ats_join_jobs_application_stages"])
    );
    assert_eq!(
        changed_names(
            store,
            "w10",
            vec![vec![stage("s1", "j1", "Phone screen"), stage("s2", "j1", "Offer")]],
            &[],
            None
        )
        .await,
        names(&["ats_application_stages"])
    );
    assert_eq!(
        changed_names(
            store,
            "w11",
            vec![vec![stage("s1", "j1", "Phone screen")]],
            &[Model::ApplicationStages],
            None
        )
        .await,
        names(&["ats_application_stages", "ats_join_jobs_application_stages"])
    );

    // Disabling candidates deletes c1 (tagged) and c2 (untagged): the tags join changed.
    assert_eq!(
        changed_names(store, "w12", vec![], &[], Some(Model::Candidates)).await,
        names(&["ats_candidates", "ats_join_candidates_tags"])
    );
    // A sweep of an untagged candidate alone is no join change.
    assert_eq!(
        changed_names(store, "w13", vec![vec![tagged("c3", &[])]], &[], None).await,
        names(&["ats_candidates"])
    );
    assert_eq!(
        changed_names(store, "w14", vec![vec![]], &[Model::Candidates], None).await,
        names(&["ats_candidates"])
    );
}

async fn failed_or_fenced_finish_writes_no_event(h: &Harness) {
    let store = h.store();
    endpoint(store, "production", &[]).await;
    integration(store, INTEGRATION).await;
    drain(store).await;
    let before = h.event_rows(INTEGRATION).await;

    let stale = begin_run(store, SyncType::Full, "old", None).await;
    store
        .apply_page(&stale, page(vec![employee("e1", "Ada")]))
        .await
        .expect("page");
    store
        .advance_fence(INTEGRATION, stale.fence + 1)
        .await
        .expect("advance");
    let fenced = store.finish_run(&stale, RunState::Succeeded, None).await;
    assert!(matches!(fenced, Err(StoreError::Fenced { .. })), "{fenced:?}");
    // A finish that fails inside its transaction (no such run) rolls back as well.
    let current = RunWrite {
        run_id: "no-such-run".into(),
        fence: stale.fence + 1,
        ..stale.clone()
    };
    let missing = store.finish_run(&current, RunState::Succeeded, None).await;
    assert!(matches!(missing, Err(StoreError::NotFound(_))), "{missing:?}");

    assert_eq!(h.event_rows(INTEGRATION).await, before);
    assert!(drain(store).await.is_empty());
}

async fn auth_failures_turn_the_integration_invalid_and_back(h: &Harness) {
    let store = h.store();
    endpoint(store, "production", &["integration-state-changed"]).await;
    integration(store, INTEGRATION).await;
    let states = |sent: Vec<ClaimedDelivery>| -> Vec<String> {
        sent.iter()
            .map(|c| {
                let data = &c.event.payload["data"];
                assert_eq!(
                    keys_of(data),
                    [
                        "end_user",
                        "integration_category",
                        "integration_id",
                        "integration_tool",
                        "qa_status",
                        "setup_status",
                        "state",
                        "updated_at"
                    ]
                );
                assert!(is_kombo_time(&data["updated_at"]));
                data["state"].as_str().expect("state").to_owned()
            })
            .collect()
    };
    assert!(drain(store).await.is_empty(), "only the endpoint's type is delivered");

    run_ending(store, INTEGRATION, RunState::Succeeded, vec![]).await;
    assert_eq!(states(drain(store).await), Vec::<String>::new());
    run_ending(store, INTEGRATION, RunState::AuthenticationFailed, vec![]).await;
    assert_eq!(states(drain(store).await), ["INVALID"]);
    run_ending(store, INTEGRATION, RunState::AuthenticationFailed, vec![]).await;
    assert_eq!(
        states(drain(store).await),
        Vec::<String>::new(),
        "still invalid: no news"
    );
    run_ending(store, INTEGRATION, RunState::Failed, vec![]).await;
    assert_eq!(states(drain(store).await), Vec::<String>::new());
    // The previous ended run (FAILED) was not refused, so this refusal is a change again.
    run_ending(store, INTEGRATION, RunState::AuthenticationFailed, vec![]).await;
    assert_eq!(states(drain(store).await), ["INVALID"]);
    run_ending(store, INTEGRATION, RunState::Succeeded, vec![]).await;
    assert_eq!(states(drain(store).await), ["ACTIVE"]);
    run_ending(store, INTEGRATION, RunState::Succeeded, vec![]).await;
    assert_eq!(states(drain(store).await), Vec::<String>::new());
}

async fn events_fan_out_to_matching_endpoints_only(h: &Harness) {
    let store = h.store();
    let all = endpoint(store, "production", &[]).await;
    let finished_only = endpoint(store, "production", &["sync-finished"]).await;
    let elsewhere = endpoint(store, "staging", &[]).await;
    integration(store, INTEGRATION).await;
    run_ending(
        store,
        INTEGRATION,
        RunState::Succeeded,
        vec![page(vec![employee("e1", "Ada")])],
    )
    .await;

    let of = |endpoint_id: &str| DeliveryFilter {
        endpoint_id: Some(endpoint_id.into()),
        limit: 100,
        ..DeliveryFilter::default()
    };
    let types = |list: Vec<tributary_store::WebhookDelivery>| -> Vec<String> {
        list.into_iter().rev().map(|d| d.event_type).collect()
    };
    assert_eq!(
        types(store.list_deliveries(&of(&all.id)).await.expect("list")),
        ["integration-created", "data-changed", "sync-finished"]
    );
    assert_eq!(
        types(store.list_deliveries(&of(&finished_only.id)).await.expect("list")),
        ["sync-finished"]
    );
    assert!(
        store
            .list_deliveries(&of(&elsewhere.id))
            .await
            .expect("list")
            .is_empty()
    );
    let pending = store
        .list_deliveries(&DeliveryFilter {
            environment: Some("production".into()),
            integration_id: Some(INTEGRATION.into()),
            state: Some(DeliveryState::Pending),
            limit: 100,
            ..DeliveryFilter::default()
        })
        .await
        .expect("list");
    assert_eq!(pending.len(), 4);
    assert!(pending.iter().all(|d| d.attempts == 0 && d.last_status.is_none()));
    // One event per change, shared by the deliveries of every endpoint.
    let finished: Vec<_> = pending.iter().filter(|d| d.event_type == "sync-finished").collect();
    assert_eq!(finished.len(), 2);
    assert_eq!(finished[0].event_id, finished[1].event_id);
    assert_ne!(finished[0].id, finished[1].id);
    assert_eq!(h.event_rows(INTEGRATION).await, 3);

    // Removing an endpoint drops its deliveries.
    let dropped: Vec<String> = pending
        .iter()
        .filter(|d| d.endpoint_id == all.id)
        .map(|d| d.id.clone())
        .collect();
    assert_eq!(dropped.len(), 3);
    assert!(store.delete_webhook_endpoint(&all.id).await.expect("deleted"));
    for id in &dropped {
        assert_eq!(store.get_delivery(id).await.expect("get"), None);
    }
    assert_eq!(
        store
            .list_deliveries(&DeliveryFilter {
                limit: 100,
                ..DeliveryFilter::default()
            })
            .await
            .expect("list")
            .len(),
        1
    );
}

async fn concurrent_claimers_each_get_a_delivery_once(h: &Harness) {
    let store = h.store.clone();
    endpoint(store.as_ref(), "production", &[]).await;
    // Twenty integrations: twenty independent (endpoint, integration) pairs, all due.
    for n in 0..20 {
        integration(store.as_ref(), &format!("personio:d{n:02}")).await;
    }
    let now = chrono::Utc::now();
    let start = Arc::new(tokio::sync::Barrier::new(2));
    let claimers = (0..2).map(|_| {
        let store = store.clone();
        let start = start.clone();
        tokio::spawn(async move {
            start.wait().await;
            let mut mine = Vec::new();
            let mut empty_rounds = 0;
            while empty_rounds < 3 {
                let got = store
                    .claim_deliveries(now, Duration::from_secs(60), 3)
                    .await
                    .expect("claim");
                if got.is_empty() {
                    empty_rounds += 1;
                    tokio::task::yield_now().await;
                }
                mine.extend(got.into_iter().map(|c| c.delivery.id));
            }
            mine
        })
    });
    let mut all = Vec::new();
    for claimer in futures::future::join_all(claimers).await {
        all.extend(claimer.expect("joined"));
    }
    assert_eq!(all.len(), 20, "every delivery claimed");
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 20, "none claimed twice");
}

async fn claimed_delivery_comes_due_again_after_its_lease(h: &Harness) {
    let store = h.store();
    endpoint(store, "production", &[]).await;
    integration(store, INTEGRATION).await;
    let now = chrono::Utc::now() + chrono::TimeDelta::seconds(1);
    let lease = Duration::from_secs(30);
    let first = store.claim_deliveries(now, lease, 10).await.expect("claim");
    assert_eq!(first.len(), 1);
    let leased = store
        .get_delivery(&first[0].delivery.id)
        .await
        .expect("get")
        .expect("present");
    assert_eq!(leased.state, DeliveryState::Pending);
    assert_eq!(leased.next_attempt_at, at(now) + chrono::TimeDelta::seconds(30));
    // Leased: nobody else gets it meanwhile.
    assert!(store.claim_deliveries(now, lease, 10).await.expect("claim").is_empty());
    assert!(
        store
            .claim_deliveries(now + chrono::TimeDelta::seconds(29), lease, 10)
            .await
            .expect("claim")
            .is_empty()
    );
    // The deliverer died: after the lease the same delivery (same event) comes due again.
    let again = store
        .claim_deliveries(now + chrono::TimeDelta::seconds(31), lease, 10)
        .await
        .expect("claim");
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].delivery.id, first[0].delivery.id);
    assert_eq!(again[0].event.id, first[0].event.id);
    assert_eq!(again[0].event.payload, first[0].event.payload);
}

async fn deliveries_of_one_integration_go_out_in_order(h: &Harness) {
    let store = h.store();
    endpoint(store, "production", &[]).await;
    integration(store, INTEGRATION).await;
    run_ending(
        store,
        INTEGRATION,
        RunState::Succeeded,
        vec![page(vec![employee("e1", "Ada")])],
    )
    .await;
    integration(store, "personio:other").await;
    let now = chrono::Utc::now() + chrono::TimeDelta::seconds(1);
    let lease = Duration::from_secs(60);

    // One delivery per (endpoint, integration) at a time: the acme pair's oldest, and the other
    // integration's, which acme's backlog does not hold up.
    let first = store.claim_deliveries(now, lease, 10).await.expect("claim");
    let first_types: Vec<(&str, &str)> = first
        .iter()
        .map(|c| {
            (
                c.delivery.integration_id.as_deref().unwrap_or(""),
                c.event.event_type.as_str(),
            )
        })
        .collect();
    assert_eq!(
        first_types,
        [
            (INTEGRATION, "integration-created"),
            ("personio:other", "integration-created")
        ]
    );
    let acme = &first[0];
    store
        .record_attempt(&delivered(&first[1]), &AttemptOutcome::Delivered)
        .await
        .expect("recorded");

    // A retry keeps the later events waiting, even once the lease is over.
    let mut attempt = delivered(acme);
    attempt.status = Some(500);
    attempt.error = Some("HTTP 500".into());
    store
        .record_attempt(&attempt, &AttemptOutcome::Retry(now + chrono::TimeDelta::seconds(600)))
        .await
        .expect("recorded");
    let later = now + chrono::TimeDelta::seconds(120);
    assert!(
        store
            .claim_deliveries(later, lease, 10)
            .await
            .expect("claim")
            .is_empty()
    );
    let retried = store
        .claim_deliveries(now + chrono::TimeDelta::seconds(601), lease, 10)
        .await
        .expect("claim");
    assert_eq!(retried.len(), 1);
    assert_eq!(retried[0].delivery.id, acme.delivery.id);
    store
        .record_attempt(&delivered(&retried[0]), &AttemptOutcome::Delivered)
        .await
        .expect("recorded");

    let rest = now + chrono::TimeDelta::seconds(700);
    let mut order = Vec::new();
    loop {
        let got = store.claim_deliveries(rest, lease, 10).await.expect("claim");
        if got.is_empty() {
            break;
        }
        assert_eq!(got.len(), 1, "one at a time");
        order.push(got[0].event.event_type.clone());
        store
            .record_attempt(&delivered(&got[0]), &AttemptOutcome::Delivered)
            .await
            .expect("recorded");
    }
    assert_eq!(order, ["data-changed", "sync-finished"]);
}

async fn record_attempt_outcomes_and_redeliver(h: &Harness) {
    let store = h.store();
    endpoint(store, "production", &[]).await;
    integration(store, INTEGRATION).await;
    let now = chrono::Utc::now() + chrono::TimeDelta::seconds(1);
    let claimed = store
        .claim_deliveries(now, Duration::from_secs(60), 10)
        .await
        .expect("claim")
        .remove(0);
    let id = claimed.delivery.id.clone();

    let refused = DeliveryAttempt {
        delivery_id: id.clone(),
        attempt: 1,
        at: now,
        status: None,
        latency_ms: 3,
        response_excerpt: None,
        error: Some("connection refused".into()),
    };
    let retry_at = now + chrono::TimeDelta::seconds(30);
    store
        .record_attempt(&refused, &AttemptOutcome::Retry(retry_at))
        .await
        .expect("recorded");
    let d = store.get_delivery(&id).await.expect("get").expect("present");
    assert_eq!(
        (
            d.state,
            d.attempts,
            d.next_attempt_at,
            d.last_status,
            d.last_error.as_deref()
        ),
        (
            DeliveryState::Pending,
            1,
            at(retry_at),
            None,
            Some("connection refused")
        )
    );

    let gone = DeliveryAttempt {
        attempt: 2,
        at: now + chrono::TimeDelta::seconds(31),
        status: Some(410),
        response_excerpt: Some("gone".into()),
        error: Some("HTTP 410".into()),
        ..refused.clone()
    };
    store
        .record_attempt(&gone, &AttemptOutcome::Dead)
        .await
        .expect("recorded");
    let d = store.get_delivery(&id).await.expect("get").expect("present");
    assert_eq!(
        (d.state, d.attempts, d.last_status),
        (DeliveryState::Dead, 2, Some(410))
    );
    assert_eq!(d.delivered_at, None);
    // Dead letters are not claimed.
    assert!(
        store
            .claim_deliveries(now + chrono::TimeDelta::seconds(3600), Duration::from_secs(60), 10)
            .await
            .expect("claim")
            .is_empty()
    );
    let attempts = store.delivery_attempts(&id).await.expect("attempts");
    assert_eq!(
        attempts,
        vec![
            DeliveryAttempt {
                at: at(refused.at),
                ..refused.clone()
            },
            DeliveryAttempt {
                at: at(gone.at),
                ..gone.clone()
            }
        ]
    );

    // Redelivery: pending, due now, the same event and so the same payload id.
    assert!(store.redeliver(&id).await.expect("redeliver"));
    assert!(!store.redeliver("no-such-delivery").await.expect("redeliver"));
    let d = store.get_delivery(&id).await.expect("get").expect("present");
    assert_eq!(d.state, DeliveryState::Pending);
    assert!(d.next_attempt_at <= chrono::Utc::now());
    let again = store
        .claim_deliveries(chrono::Utc::now(), Duration::from_secs(60), 10)
        .await
        .expect("claim");
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].delivery.id, id);
    assert_eq!(again[0].event.id, claimed.event.id);
    assert_eq!(again[0].event.payload["id"], claimed.event.payload["id"]);
    let ok = DeliveryAttempt {
        attempt: 3,
        at: chrono::Utc::now(),
        status: Some(204),
        response_excerpt: None,
        error: None,
        ..refused.clone()
    };
    store
        .record_attempt(&ok, &AttemptOutcome::Delivered)
        .await
        .expect("recorded");
    let d = store.get_delivery(&id).await.expect("get").expect("present");
    assert_eq!(
        (d.state, d.attempts, d.last_status, d.last_error),
        (DeliveryState::Delivered, 3, Some(204), None)
    );
    assert_eq!(d.delivered_at, Some(at(ok.at)));
    // A late report from a deliverer whose lease ran out does not undo the delivery.
    store
        .record_attempt(
            &DeliveryAttempt {
                attempt: 3,
                ..refused.clone()
            },
            &AttemptOutcome::Retry(retry_at),
        )
        .await
        .expect("recorded");
    let d = store.get_delivery(&id).await.expect("get").expect("present");
    assert_eq!((d.state, d.attempts), (DeliveryState::Delivered, 4));
    assert_eq!(store.delivery_attempts(&id).await.expect("attempts").len(), 4);

    // Redelivering a delivered one sends it again too.
    assert!(store.redeliver(&id).await.expect("redeliver"));
    let d = store.get_delivery(&id).await.expect("get").expect("present");
    assert_eq!((d.state, d.delivered_at), (DeliveryState::Pending, None));

    let missing = store
        .record_attempt(
            &DeliveryAttempt {
                delivery_id: "nope".into(),
                ..refused
            },
            &AttemptOutcome::Dead,
        )
        .await;
    assert!(matches!(missing, Err(StoreError::NotFound(_))), "{missing:?}");
}

async fn inbound_secret_round_trip_sets_webhooks_active(h: &Harness) {
    let store = h.store();
    integration(store, INTEGRATION).await;
    store
        .ensure_schedules(INTEGRATION, &delta_tool_intervals())
        .await
        .expect("ensure");
    assert_eq!(store.inbound_webhook_secret(INTEGRATION).await.expect("read"), None);
    assert!(!schedule(store, INTEGRATION, SyncType::Delta).await.webhooks_active);

    store
        .set_inbound_webhook_secret(INTEGRATION, Some(SECRET))
        .await
        .expect("set");
    assert_eq!(
        store
            .inbound_webhook_secret(INTEGRATION)
            .await
            .expect("read")
            .as_deref(),
        Some(SECRET)
    );
    let delta = schedule(store, INTEGRATION, SyncType::Delta).await;
    assert!(delta.webhooks_active);
    assert_eq!(delta.every, WEBHOOK_POLL_INTERVAL);
    let raw = h.raw_webhook_secrets().await;
    assert_eq!(raw.len(), 1);
    assert!(!raw[0].windows(SECRET.len()).any(|w| w == SECRET.as_bytes()));
    // Sealed for its purpose: the credentials' ciphertext is not accepted in its place.
    assert_ne!(raw[0], h.raw_credentials(INTEGRATION).await);

    store
        .set_inbound_webhook_secret(INTEGRATION, None)
        .await
        .expect("unset");
    assert_eq!(store.inbound_webhook_secret(INTEGRATION).await.expect("read"), None);
    assert!(!schedule(store, INTEGRATION, SyncType::Delta).await.webhooks_active);
    assert!(h.raw_webhook_secrets().await.is_empty());

    assert!(matches!(
        store.set_inbound_webhook_secret("personio:none", Some(SECRET)).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.inbound_webhook_secret("personio:none").await,
        Err(StoreError::NotFound(_))
    ));
}

async fn inbound_deliveries_are_deduplicated(h: &Harness) {
    let store = h.store();
    integration(store, INTEGRATION).await;
    integration(store, "personio:other").await;
    assert!(
        store
            .record_inbound_delivery(INTEGRATION, "evt-1")
            .await
            .expect("first")
    );
    assert!(
        !store
            .record_inbound_delivery(INTEGRATION, "evt-1")
            .await
            .expect("retry")
    );
    assert!(
        store
            .record_inbound_delivery(INTEGRATION, "evt-2")
            .await
            .expect("another")
    );
    assert!(
        store
            .record_inbound_delivery("personio:other", "evt-1")
            .await
            .expect("other integration")
    );
    assert!(matches!(
        store.record_inbound_delivery("personio:none", "evt-1").await,
        Err(StoreError::NotFound(_))
    ));
    // They go with their integration: a re-created one starts afresh.
    assert!(store.delete_integration(INTEGRATION).await.expect("deleted"));
    integration(store, INTEGRATION).await;
    assert!(
        store
            .record_inbound_delivery(INTEGRATION, "evt-1")
            .await
            .expect("fresh")
    );
}

async fn an_outbox_failure_rolls_the_change_back(h: &Harness) {
    let store = h.store();
    integration(store, INTEGRATION).await;
    let run = begin_run(store, SyncType::Full, "w", None).await;
    store
        .apply_page(&run, page(vec![employee("e1", "Ada")]))
        .await
        .expect("page");
    h.break_outbox().await;

    assert!(store.finish_run(&run, RunState::Succeeded, None).await.is_err());
    assert_eq!(
        run_now(store, &run.run_id).await.state,
        RunState::Running,
        "the finish rolled back"
    );
    assert!(store.delete_integration(INTEGRATION).await.is_err());
    assert!(
        store.get_integration(INTEGRATION).await.expect("get").is_some(),
        "the delete rolled back"
    );
    assert_eq!(
        store
            .count_records(INTEGRATION, Model::Employees, false)
            .await
            .expect("count"),
        1
    );
    let created = store
        .create_integration(NewIntegration {
            id: "personio:new".into(),
            tool: ToolKind::Personio,
            environment: "production".into(),
            base_url: "http://127.0.0.1:1".into(),
            credentials: json!({}),
            scope_config: ScopeConfig::default(),
        })
        .await;
    assert!(created.is_err());
    assert!(
        store.get_integration("personio:new").await.expect("get").is_none(),
        "the create rolled back"
    );
}

// ---- the operator API's reads and schedule pauses --------------------------------------------

async fn api_keys_are_listed_newest_first_by_keyset(h: &Harness) {
    let store = h.store();
    let mut made = Vec::new();
    for n in 0..5 {
        let key = store
            .create_api_key("production", &format!("key-{n}"), format!("hash-{n}").as_bytes())
            .await
            .expect("created");
        made.push(key);
    }
    assert!(store.revoke_api_key(&made[1].id).await.expect("revoke"));
    let all = store.list_api_keys(None, 10).await.expect("list");
    let mut expected = made.clone();
    expected.sort_by(|a, b| (b.created_at, &b.id).cmp(&(a.created_at, &a.id)));
    assert_eq!(
        all.iter().map(|k| k.id.as_str()).collect::<Vec<_>>(),
        expected.iter().map(|k| k.id.as_str()).collect::<Vec<_>>()
    );
    let revoked = all.iter().find(|k| k.id == made[1].id).expect("listed");
    assert!(revoked.revoked_at.is_some(), "revoked keys are listed, marked");
    // Two at a time, each page after the last key of the one before: every key once.
    let mut walked = Vec::new();
    let mut after: Option<PageKey> = None;
    loop {
        let page = store.list_api_keys(after.as_ref(), 2).await.expect("page");
        if page.is_empty() {
            break;
        }
        let last = page.last().expect("non-empty");
        after = Some(PageKey {
            created_at: last.created_at,
            id: last.id.clone(),
        });
        walked.extend(page.into_iter().map(|k| k.id));
    }
    assert_eq!(walked, all.iter().map(|k| k.id.clone()).collect::<Vec<_>>());
}

async fn greenhouse(store: &dyn MirrorStore, id: &str) {
    store
        .create_integration(NewIntegration {
            id: id.into(),
            tool: ToolKind::Greenhouse,
            environment: "production".into(),
            base_url: "http://127.0.0.1:1".into(),
            credentials: json!({"client_id": "id-123", "client_secret": "very-secret-value"}),
            scope_config: ScopeConfig::default(),
        })
        .await
        .expect("integration created");
}

/// Starts `run` as `worker`, ends it in `state`, and gives the lease back.
async fn run_to_end(store: &dyn MirrorStore, run: &SyncRun, state: RunState, error: Option<&str>) -> SyncRun {
    let (_, write) = start_as(store, run, "worker-1").await;
    let ended = store.finish_run(&write, state, error).await.expect("finished");
    let lease = tributary_store::Lease {
        integration_id: run.integration_id.clone(),
        owner: "worker-1".into(),
        fence: write.fence,
        ttl: Duration::from_secs(30),
    };
    store.release_lease(&lease).await.expect("released");
    ended
}

async fn search_runs_filters_and_walks_newest_first(h: &Harness) {
    let store = h.store();
    integration(store, INTEGRATION).await;
    greenhouse(store, "greenhouse:globex").await;
    let full = enqueue(store, INTEGRATION, SyncType::Full).await;
    let full = run_to_end(store, &full, RunState::Succeeded, None).await;
    let delta = enqueue(store, INTEGRATION, SyncType::Delta).await;
    let delta = run_to_end(store, &delta, RunState::Failed, Some("source down")).await;
    let queued = enqueue(store, "greenhouse:globex", SyncType::Full).await;
    let search = |f: &dyn Fn(&mut RunSearch)| {
        let mut s = RunSearch {
            limit: 10,
            ..RunSearch::default()
        };
        f(&mut s);
        s
    };
    let found = |runs: Vec<SyncRun>| runs.into_iter().map(|r| r.id).collect::<Vec<_>>();
    let all = found(store.search_runs(&search(&|_| {})).await.expect("search"));
    assert_eq!(
        all,
        vec![queued.id.clone(), delta.id.clone(), full.id.clone()],
        "newest first"
    );
    let failed = store
        .search_runs(&search(&|s| s.states = vec![RunState::Failed]))
        .await
        .expect("search");
    assert_eq!(found(failed), vec![delta.id.clone()]);
    let some = store
        .search_runs(&search(&|s| s.states = vec![RunState::Queued, RunState::Succeeded]))
        .await
        .expect("search");
    assert_eq!(found(some), vec![queued.id.clone(), full.id.clone()]);
    let deltas = store
        .search_runs(&search(&|s| s.sync_type = Some(SyncType::Delta)))
        .await
        .expect("search");
    assert_eq!(found(deltas), vec![delta.id.clone()]);
    let by_tool = store
        .search_runs(&search(&|s| s.tool = Some(ToolKind::Greenhouse)))
        .await
        .expect("search");
    assert_eq!(found(by_tool), vec![queued.id.clone()]);
    let by_integration = store
        .search_runs(&search(&|s| s.integration_id = Some(INTEGRATION.into())))
        .await
        .expect("search");
    assert_eq!(found(by_integration), vec![delta.id.clone(), full.id.clone()]);
    // Time bounds apply to the start; a run never started has none and is left out.
    let delta_start = delta.started_at.expect("started");
    let after = store
        .search_runs(&search(&|s| s.started_after = Some(delta_start)))
        .await
        .expect("search");
    assert_eq!(found(after), vec![delta.id.clone()]);
    let before = store
        .search_runs(&search(&|s| s.started_before = Some(delta_start)))
        .await
        .expect("search");
    assert_eq!(found(before), vec![full.id.clone()]);
    // One run a page, each after the last: the same runs in the same order.
    let mut walked = Vec::new();
    let mut next: Option<PageKey> = None;
    loop {
        let page = store
            .search_runs(&search(&|s| {
                s.limit = 1;
                s.after = next.clone();
            }))
            .await
            .expect("page");
        let Some(last) = page.last() else { break };
        next = Some(PageKey {
            created_at: last.created_at,
            id: last.id.clone(),
        });
        walked.extend(found(page));
    }
    assert_eq!(walked, all);
}

async fn paused_schedules_are_not_claimed_until_resumed(h: &Harness) {
    let store = h.store();
    integration(store, INTEGRATION).await;
    store
        .ensure_schedules(INTEGRATION, &delta_tool_intervals())
        .await
        .expect("ensure");
    let due_at = schedule(store, INTEGRATION, SyncType::Full).await.next_due_at;
    assert!(store.pause_schedule(INTEGRATION, SyncType::Full).await.expect("pause"));
    assert!(
        !store
            .pause_schedule(INTEGRATION, SyncType::Full)
            .await
            .expect("pause again")
    );
    let paused = schedule(store, INTEGRATION, SyncType::Full).await;
    assert!(paused.paused_at.is_some());
    assert_eq!(paused.next_due_at, due_at, "a pause keeps the due time");
    let later = at(chrono::Utc::now() + hours(1));
    let claimed_now = store.claim_due_runs(later, "scheduler-a", 10).await.expect("claim");
    assert_eq!(
        claimed_now
            .iter()
            .map(|c| (c.due.integration_id.as_str(), c.due.sync_type))
            .collect::<Vec<_>>(),
        vec![(INTEGRATION, SyncType::Delta)],
        "the paused FULL is skipped"
    );
    assert!(
        store
            .open_run(INTEGRATION, SyncType::Full)
            .await
            .expect("open")
            .is_none()
    );
    assert!(
        store
            .resume_schedule(INTEGRATION, SyncType::Full)
            .await
            .expect("resume")
    );
    assert!(
        !store
            .resume_schedule(INTEGRATION, SyncType::Full)
            .await
            .expect("resume again")
    );
    let resumed = schedule(store, INTEGRATION, SyncType::Full).await;
    assert_eq!((resumed.paused_at, resumed.next_due_at), (None, due_at));
    let claimed_after = store.claim_due_runs(later, "scheduler-a", 10).await.expect("claim");
    assert_eq!(
        claimed(&claimed_after.iter().map(|c| c.due.clone()).collect::<Vec<_>>()),
        vec![(INTEGRATION, SyncType::Full)]
    );
    assert!(matches!(
        store.pause_schedule(INTEGRATION, SyncType::Default).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.resume_schedule("personio:nobody", SyncType::Full).await,
        Err(StoreError::NotFound(_))
    ));
}

async fn integration_health_reads_outcomes_and_schedules(h: &Harness) {
    let store = h.store();
    integration(store, INTEGRATION).await;
    greenhouse(store, "greenhouse:globex").await;
    store
        .ensure_schedules(INTEGRATION, &delta_tool_intervals())
        .await
        .expect("ensure");
    let full = enqueue(store, INTEGRATION, SyncType::Full).await;
    let full = run_to_end(store, &full, RunState::Succeeded, None).await;
    let delta = enqueue(store, INTEGRATION, SyncType::Delta).await;
    let delta = run_to_end(store, &delta, RunState::Failed, Some("source down")).await;
    let all = |after: Option<&str>, limit| HealthFilter {
        after_id: after.map(str::to_owned),
        limit,
        ..HealthFilter::default()
    };
    let facts = store.integration_health(&all(None, 10)).await.expect("health");
    assert_eq!(
        facts.iter().map(|f| f.integration_id.as_str()).collect::<Vec<_>>(),
        vec!["greenhouse:globex", INTEGRATION]
    );
    let globex = &facts[0];
    assert_eq!(
        (
            globex.tool,
            globex.last_success_at,
            globex.last_outcome_failed,
            globex.last_failure.is_none(),
            globex.schedules.len()
        ),
        (ToolKind::Greenhouse, None, false, true, 0)
    );
    let acme = &facts[1];
    assert_eq!(acme.last_success_at, full.ended_at);
    assert!(acme.last_outcome_failed);
    let failure = acme.last_failure.as_ref().expect("a failure");
    assert_eq!(
        (failure.id.as_str(), failure.error.as_deref()),
        (delta.id.as_str(), Some("source down"))
    );
    assert_eq!(
        acme.schedules.iter().map(|s| s.sync_type).collect::<Vec<_>>(),
        vec![SyncType::Delta, SyncType::Full]
    );
    // A later success makes the newest outcome a success; the failure stays the newest failure.
    let again = enqueue(store, INTEGRATION, SyncType::Delta).await;
    run_to_end(store, &again, RunState::Succeeded, None).await;
    let page = store
        .integration_health(&all(Some("greenhouse:globex"), 1))
        .await
        .expect("health");
    assert_eq!(page.len(), 1);
    assert!(!page[0].last_outcome_failed);
    assert_eq!(
        page[0].last_failure.as_ref().map(|r| r.id.as_str()),
        Some(delta.id.as_str())
    );
    let by_tool = store
        .integration_health(&HealthFilter {
            tool: Some(ToolKind::Greenhouse),
            limit: 10,
            ..HealthFilter::default()
        })
        .await
        .expect("health");
    assert_eq!(by_tool.len(), 1);
    assert_eq!(by_tool[0].integration_id, "greenhouse:globex");
}

/// What `/metrics` reads: open runs by type and state with the oldest, and each integration's
/// last success (the newest SUCCEEDED run's end) and shortest effective interval.
async fn fleet_stats_count_open_runs_and_read_freshness(h: &Harness) {
    let store = h.store.as_ref();
    integration(store, INTEGRATION).await;
    integration(store, "personio:other").await;
    store
        .ensure_schedules(
            INTEGRATION,
            &[
                (SyncType::Full, Duration::from_secs(3600)),
                (SyncType::Delta, Duration::from_secs(300)),
            ],
        )
        .await
        .expect("schedules");
    let fresh = store.integration_freshness().await.expect("freshness");
    let acme = fresh.iter().find(|f| f.integration_id == INTEGRATION).expect("acme");
    assert_eq!((acme.last_success, acme.every), (None, Some(Duration::from_secs(300))));
    let other = fresh
        .iter()
        .find(|f| f.integration_id == "personio:other")
        .expect("other");
    assert_eq!((other.tool, other.every), (ToolKind::Personio, None), "no schedules");

    let run = begin_run(store, SyncType::Full, "w1", None).await;
    end_run(store, &run, "w1").await;
    let (queued, _) = store.enqueue_run(INTEGRATION, SyncType::Delta).await.expect("enqueue");
    let fresh = store.integration_freshness().await.expect("freshness");
    let acme = fresh.iter().find(|f| f.integration_id == INTEGRATION).expect("acme");
    let finished = store.get_run(&run.run_id).await.expect("read").expect("run");
    assert_eq!(acme.last_success, finished.ended_at);
    store.set_webhooks_active(INTEGRATION, true).await.expect("webhooks on");
    let fresh = store.integration_freshness().await.expect("freshness");
    let acme = fresh.iter().find(|f| f.integration_id == INTEGRATION).expect("acme");
    assert_eq!(
        acme.every,
        Some(WEBHOOK_POLL_INTERVAL),
        "polled daily while webhooks deliver"
    );

    let open = store.open_run_stats().await.expect("open runs");
    assert_eq!(open.len(), 1, "{open:?}");
    assert_eq!(
        (open[0].sync_type, open[0].state, open[0].count),
        (SyncType::Delta, RunState::Queued, 1)
    );
    assert_eq!(open[0].oldest, queued.created_at);
}

// ---- stored renderings -------------------------------------------------------------------------

/// A renderer small enough to predict: an employee is its name and its employments' titles, an
/// employment its title and its employee's name, each read through the write's transaction.
struct NameRenderer;

#[async_trait]
impl Renderer for NameRenderer {
    async fn render(
        &self,
        integration: &Integration,
        reads: &dyn RecordReads,
        records: Vec<StoredRecord>,
    ) -> Result<Vec<Rendering>, StoreError> {
        let mut out = Vec::new();
        for record in records {
            let (body, deps) = match record.model {
                Model::Employees => {
                    let jobs = reads
                        .records_by_parent(&integration.id, Model::Employments, std::slice::from_ref(&record.id))
                        .await?;
                    let jobs: Vec<&StoredRecord> = jobs.iter().filter(|j| j.remote_deleted_at.is_none()).collect();
                    let mut titles: Vec<&str> = jobs.iter().filter_map(|j| j.data["job_title"].as_str()).collect();
                    titles.sort_unstable();
                    (
                        json!({"name": record.data["first_name"], "jobs": titles}),
                        jobs.iter().map(|j| j.id.clone()).collect(),
                    )
                }
                _ => {
                    let employee = record.data["employee_id"].as_str().unwrap_or_default().to_owned();
                    let mut query = RecordQuery::new(&integration.id, Model::Employees);
                    query.ids = Some(vec![employee.clone()]);
                    let found = reads.query_records(&query).await?;
                    let name = found.first().map(|e| e.data["first_name"].clone());
                    (json!({"title": record.data["job_title"], "of": name}), vec![employee])
                }
            };
            out.push(Rendering {
                id: record.id,
                body: body.to_string(),
                deps,
            });
        }
        Ok(out)
    }
}

/// The stored items of `model`'s first page, as JSON (`None`: pending or from another scope).
async fn items(store: &dyn MirrorStore, model: Model, scope_version: i64) -> Vec<Option<Value>> {
    let mut query = RecordQuery::new(INTEGRATION, model);
    query.limit = 100;
    store
        .rendered_page(&query, scope_version)
        .await
        .expect("rendered page")
        .into_iter()
        .map(|row| row.body.map(|b| serde_json::from_str(&b).expect("stored JSON")))
        .collect()
}

/// The stored item of one record (`None`: pending, or none stored).
async fn item(store: &dyn MirrorStore, model: Model, remote_id: &str) -> Option<Value> {
    let mut query = RecordQuery::new(INTEGRATION, model);
    query.ids = Some(vec![ids().id(model, remote_id)]);
    let rows = store.rendered_page(&query, 1).await.expect("rendered page");
    assert_eq!(rows.len(), 1, "record {model}/{remote_id} is live");
    rows.into_iter()
        .next()
        .and_then(|row| row.body)
        .map(|b| serde_json::from_str(&b).expect("stored JSON"))
}

/// `render_unrendered` from the first record to the last, windows of `limit`: how many records
/// it rendered, in how many calls.
async fn render_all(store: &dyn MirrorStore, run: &RunWrite, limit: i64) -> (u64, usize) {
    let (mut after, mut calls, mut rendered) = (None::<String>, 0, 0);
    loop {
        let sweep = store
            .render_unrendered(run, after.as_deref(), limit)
            .await
            .expect("render");
        calls += 1;
        rendered += sweep.rendered;
        match sweep.next {
            Some(next) => after = Some(next),
            None => return (rendered, calls),
        }
    }
}

/// A FULL that renders at its end, with `renderer`, after its first page: employees Ada (an
/// engineer) and Bo.
async fn deferring_run(store: &dyn MirrorStore, renderer: Arc<dyn Renderer>) -> RunWrite {
    let mut first = begin_run(store, SyncType::Full, "w1", None).await;
    first.renderer = Some(RenderHook(renderer));
    first.render_at_end = true;
    store
        .apply_page(
            &first,
            page(vec![
                employee("1", "Ada"),
                employment("j1", "1", "Engineer"),
                employee("2", "Bo"),
            ]),
        )
        .await
        .expect("page");
    first
}

/// A run that renders at its end stores no item in its writes, yet makes pending the items
/// that exist (a webhook's, written meanwhile) and show what it changes; `render_unrendered`
/// then renders, a page at a time, every live record that has no ready item, and nothing twice.
async fn a_run_renders_at_its_end(h: &Harness) {
    let store = h.store();
    integration(store, INTEGRATION).await;
    let first = deferring_run(store, Arc::new(NameRenderer)).await;
    assert_eq!(item(store, Model::Employees, "1").await, None);
    assert_eq!(item(store, Model::Employments, "j1").await, None);

    // A write that renders as it goes stores items meanwhile...
    let mut each = first.clone();
    each.render_at_end = false;
    store
        .apply_page(&each, page(vec![employment("j2", "2", "Lead")]))
        .await
        .expect("page");
    assert_eq!(
        item(store, Model::Employees, "2").await,
        Some(json!({"name": "Bo", "jobs": ["Lead"]}))
    );
    assert_eq!(
        item(store, Model::Employments, "j2").await,
        Some(json!({"title": "Lead", "of": "Bo"}))
    );
    // ...which the deferring run's next write makes pending: it changes what they show.
    store
        .apply_page(&first, page(vec![employee("2", "Cy")]))
        .await
        .expect("page");
    assert_eq!(item(store, Model::Employees, "2").await, None);
    assert_eq!(item(store, Model::Employments, "j2").await, None);

    // Two a window: a call renders windows while it may hold the write lock, says where to go
    // on, and the last says it is done; every record is rendered once.
    assert_eq!(
        render_all(store, &first, 2).await.0,
        4,
        "four live records, two a window"
    );
    assert_eq!(
        item(store, Model::Employees, "1").await,
        Some(json!({"name": "Ada", "jobs": ["Engineer"]}))
    );
    assert_eq!(
        item(store, Model::Employees, "2").await,
        Some(json!({"name": "Cy", "jobs": ["Lead"]}))
    );
    assert_eq!(
        item(store, Model::Employments, "j1").await,
        Some(json!({"title": "Engineer", "of": "Ada"}))
    );
    assert_eq!(
        item(store, Model::Employments, "j2").await,
        Some(json!({"title": "Lead", "of": "Cy"}))
    );

    // Deleting makes pending what shows the deleted records, which get no item themselves.
    store.delete_model(&first, Model::Employments).await.expect("deleted");
    assert_eq!(item(store, Model::Employees, "1").await, None);
    assert_eq!(render_all(store, &first, 10).await.0, 2, "the live employees");
    assert_eq!(
        item(store, Model::Employees, "1").await,
        Some(json!({"name": "Ada", "jobs": []}))
    );
    let mut with_deleted = RecordQuery::new(INTEGRATION, Model::Employments);
    with_deleted.include_deleted = true;
    let rows = store.rendered_page(&with_deleted, 1).await.expect("rendered page");
    assert_eq!(rows.len(), 2);
    assert!(rows.iter().all(|r| r.body.is_none()), "a deleted record has no item");

    // Rendered items are kept: nothing is left to render, and a run without a renderer renders
    // nothing.
    assert_eq!(
        render_all(store, &first, 3).await,
        (0, 3),
        "four records, three a window"
    );
    let mut plain = first.clone();
    plain.renderer = None;
    store
        .apply_page(&plain, page(vec![employee("1", "Ed")]))
        .await
        .expect("page");
    assert_eq!(
        store.render_unrendered(&plain, None, 10).await.expect("no renderer"),
        RenderSweep::default()
    );
    assert_eq!(item(store, Model::Employees, "1").await, None);
    end_run(store, &first, "w1").await;
}

/// [`NameRenderer`] whose first call waits for the test: it signals `entered`, then waits for
/// `release`.
struct GatedRenderer {
    entered: tokio::sync::Notify,
    release: tokio::sync::Semaphore,
}

#[async_trait]
impl Renderer for GatedRenderer {
    async fn render(
        &self,
        integration: &Integration,
        reads: &dyn RecordReads,
        records: Vec<StoredRecord>,
    ) -> Result<Vec<Rendering>, StoreError> {
        self.entered.notify_one();
        // Closed once released: every later call passes straight through.
        let _ = self.release.acquire().await;
        NameRenderer.render(integration, reads, records).await
    }
}

/// The sweep reads records beside its write transaction (on Postgres, through other pooled
/// connections), which is only safe while it holds the integration's write lock: a write
/// arriving while it renders waits for its commit, then renders what it changed, so no stored
/// item shows the records as they were before the write.
async fn a_sweep_holds_the_write_lock_while_it_renders(h: &Harness) {
    let store = h.store();
    integration(store, INTEGRATION).await;
    let gate = Arc::new(GatedRenderer {
        entered: tokio::sync::Notify::new(),
        release: tokio::sync::Semaphore::new(0),
    });
    let first = deferring_run(store, gate.clone()).await;

    // A webhook's write, rendering as it goes, renames Ada while the sweep renders.
    let mut webhook = first.clone();
    webhook.render_at_end = false;
    let sweep = render_all(store, &first, 2);
    let rename = async {
        gate.entered.notified().await;
        let mut write = std::pin::pin!(store.apply_page(&webhook, page(vec![employee("1", "Eve")])));
        tokio::select! {
            done = &mut write => panic!("a write went through while the sweep held the lock: {done:?}"),
            () = tokio::time::sleep(Duration::from_millis(300)) => {}
        }
        gate.release.close();
        write.await.expect("the write, once the sweep committed")
    };
    let ((rendered, _), _) = tokio::join!(sweep, rename);
    assert_eq!(rendered, 3, "every live record, once");

    assert_eq!(
        item(store, Model::Employees, "1").await,
        Some(json!({"name": "Eve", "jobs": ["Engineer"]}))
    );
    assert_eq!(
        item(store, Model::Employments, "j1").await,
        Some(json!({"title": "Engineer", "of": "Eve"})),
        "the employment shows its employee as the write left it"
    );
    assert_eq!(
        item(store, Model::Employees, "2").await,
        Some(json!({"name": "Bo", "jobs": []}))
    );
    end_run(store, &first, "w1").await;
}

/// A write renders, in its transaction, what it changed, the parents of what it wrote and what
/// depends on what it changed; a write without a renderer leaves those pending, for
/// `render_pending`; a scope change retires every item; a deleted record loses its item.
async fn stored_renderings_follow_every_write(h: &Harness) {
    let store = h.store();
    integration(store, INTEGRATION).await;
    let mut run = begin_run(store, SyncType::Full, "w1", None).await;
    run.renderer = Some(RenderHook(Arc::new(NameRenderer)));
    store
        .apply_page(
            &run,
            page(vec![employee("1", "Ada"), employment("j1", "1", "Engineer")]),
        )
        .await
        .expect("page");
    assert_eq!(
        items(store, Model::Employees, 1).await,
        [Some(json!({"name": "Ada", "jobs": ["Engineer"]}))]
    );
    assert_eq!(
        items(store, Model::Employments, 1).await,
        [Some(json!({"title": "Engineer", "of": "Ada"}))]
    );

    // Only the employee changes: the employment's item depends on it.
    store
        .apply_page(&run, page(vec![employee("1", "Ada B")]))
        .await
        .expect("page");
    assert_eq!(
        items(store, Model::Employments, 1).await,
        [Some(json!({"title": "Engineer", "of": "Ada B"}))]
    );
    // A new employment changes its employee's list.
    store
        .apply_page(&run, page(vec![employment("j2", "1", "Lead")]))
        .await
        .expect("page");
    assert_eq!(
        items(store, Model::Employees, 1).await,
        [Some(json!({"name": "Ada B", "jobs": ["Engineer", "Lead"]}))]
    );

    // Without a renderer the items it touches are pending, then rendered by whoever renders.
    let mut plain = run.clone();
    plain.renderer = None;
    store
        .apply_page(&plain, page(vec![employee("1", "Cy")]))
        .await
        .expect("page");
    assert_eq!(items(store, Model::Employees, 1).await, [None]);
    assert_eq!(
        items(store, Model::Employments, 1)
            .await
            .iter()
            .filter(|i| i.is_none())
            .count(),
        2
    );
    assert_eq!(store.render_pending(&plain, 100).await.expect("no renderer"), 0);
    assert_eq!(store.render_pending(&run, 2).await.expect("render"), 2);
    assert_eq!(store.render_pending(&run, 2).await.expect("render"), 1);
    assert_eq!(store.render_pending(&run, 2).await.expect("render"), 0);
    assert_eq!(
        items(store, Model::Employees, 1).await,
        [Some(json!({"name": "Cy", "jobs": ["Engineer", "Lead"]}))]
    );

    // Deleted employments leave their employee's list and lose their own items.
    store.delete_model(&run, Model::Employments).await.expect("deleted");
    assert_eq!(
        items(store, Model::Employees, 1).await,
        [Some(json!({"name": "Cy", "jobs": []}))]
    );
    let mut with_deleted = RecordQuery::new(INTEGRATION, Model::Employments);
    with_deleted.include_deleted = true;
    let rows = store.rendered_page(&with_deleted, 1).await.expect("rendered page");
    assert_eq!(rows.len(), 2);
    assert!(rows.iter().all(|r| r.body.is_none()), "a deleted record has no item");

    // Items are trusted only under the scope version they were rendered with, and a scope
    // change erases the older ones at once (they may show what it disables).
    assert_eq!(items(store, Model::Employees, 2).await, [None]);
    end_run(store, &run, "w1").await;
    let scope: ScopeConfig = serde_json::from_value(json!({"read_models": [{"id": "hris_employees", "fields": [
        {"id": "work_email", "scope_config_setting": "DISABLED"}
    ]}]}))
    .expect("scope");
    let version = store.set_scope_config(INTEGRATION, &scope).await.expect("scope set");
    assert_eq!(version, 2);
    assert_eq!(
        items(store, Model::Employees, 1).await,
        [None],
        "erased, not only untrusted"
    );
    end_run(store, &run, "w1").await;
}
