//! The harness every sync test uses: a fresh mirror (Postgres or SQLite), the simulator over
//! real HTTP, and an engine wired to both.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use sqlx::Row;
use tributary_engine::{EngineConfig, RunControl, SyncEngine};
use tributary_model::{Model, ScopeConfig, SyncType, Timestamp, ToolKind};
use tributary_sim::{FaultAction, FaultRule, Mutation, RequestFilter, SimConfig, Simulator};
use tributary_source::ClientConfig;
use tributary_store::testing::{TestDatabase, TestFile, fresh_sqlite_store, pg_store_or_skip};
use tributary_store::{MirrorStore, NewIntegration, RecordQuery, StoredRecord, SyncRun};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

enum Guard {
    Pg(TestDatabase),
    Sqlite(TestFile),
}

pub struct Harness {
    pub store: Arc<dyn MirrorStore>,
    pub sim: Simulator,
    pub engine: SyncEngine,
    guard: Guard,
}

/// Client settings for tests: real retries and timeouts, with delays short enough that a fault
/// matrix runs in seconds.
pub fn test_client() -> ClientConfig {
    ClientConfig {
        timeout: Duration::from_secs(3),
        connect_timeout: Duration::from_secs(1),
        max_attempts: 3,
        min_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(100),
        requests_per_second: None,
        max_retry_after: Duration::from_secs(5),
        documented_limits: true,
    }
}

pub fn engine_config() -> EngineConfig {
    EngineConfig {
        client: test_client(),
        lease_ttl: Duration::from_secs(2),
        ..EngineConfig::default()
    }
}

impl Harness {
    /// A harness whose simulator serves `tools` for a company of `employees`. `None` when the
    /// backend's service is missing and the run does not require it (a developer machine
    /// without Postgres); CI sets TRIBUTARY_REQUIRE_SERVICES=1, which turns that into a failure.
    pub async fn start(backend: Backend, tools: &[ToolKind], employees: usize) -> Option<Harness> {
        let (store, guard) = match backend {
            Backend::Postgres => {
                let (store, db) = pg_store_or_skip().await?;
                (store, Guard::Pg(db))
            }
            Backend::Sqlite => {
                let (store, file) = fresh_sqlite_store().await.expect("sqlite store");
                (store, Guard::Sqlite(file))
            }
        };
        let sim = Simulator::start(
            SimConfig {
                employees,
                tools: tools.to_vec(),
                ..SimConfig::default()
            },
            "127.0.0.1:0".parse().unwrap(),
        )
        .await
        .expect("simulator starts");
        let engine = SyncEngine::new(store.clone(), engine_config());
        Some(Harness {
            store,
            sim,
            engine,
            guard,
        })
    }

    /// Creates the integration `<tool>:test` pointing at the simulator.
    pub async fn connect(&self, tool: ToolKind) -> String {
        self.connect_with_scope(tool, ScopeConfig::default()).await
    }

    pub async fn connect_with_scope(&self, tool: ToolKind, scope_config: ScopeConfig) -> String {
        let id = format!("{}:test", tool.as_str());
        self.store
            .create_integration(NewIntegration {
                id: id.clone(),
                tool,
                environment: "test".into(),
                base_url: self.sim.base_url(tool),
                credentials: self.sim.integration_credentials(tool),
                scope_config,
            })
            .await
            .expect("integration created");
        id
    }

    /// Starts a sync in the background with the harness's engine.
    pub fn spawn_sync(
        &self,
        integration: &str,
        sync_type: SyncType,
    ) -> (
        RunControl,
        tokio::task::JoinHandle<Result<tributary_engine::RunOutcome, tributary_engine::EngineError>>,
    ) {
        self.spawn_sync_with(self.engine.clone(), integration, sync_type)
    }

    pub fn spawn_sync_with(
        &self,
        engine: SyncEngine,
        integration: &str,
        sync_type: SyncType,
    ) -> (
        RunControl,
        tokio::task::JoinHandle<Result<tributary_engine::RunOutcome, tributary_engine::EngineError>>,
    ) {
        let control = RunControl::new();
        let (id, c) = (integration.to_owned(), control.clone());
        (
            control,
            tokio::spawn(async move { engine.sync(&id, sync_type, &c).await }),
        )
    }

    pub async fn sync(&self, integration: &str, sync_type: SyncType) -> SyncRun {
        self.engine
            .sync(integration, sync_type, &RunControl::new())
            .await
            .expect("sync runs")
            .run
    }

    /// Every record of `model` (deleted ones too), walked with the gateway's keyset reads.
    pub async fn records(&self, integration: &str, model: Model) -> Vec<StoredRecord> {
        let mut out = Vec::new();
        let mut query = RecordQuery::new(integration, model);
        query.include_deleted = true;
        query.limit = 500;
        loop {
            let page = self.store.query_records(&query).await.expect("query");
            let done = (page.len() as i64) < query.limit;
            query.after_id = page.last().map(|r| r.id.clone());
            out.extend(page);
            if done {
                return out;
            }
        }
    }

    pub async fn live(&self, integration: &str, model: Model) -> Vec<StoredRecord> {
        self.records(integration, model)
            .await
            .into_iter()
            .filter(|r| r.remote_deleted_at.is_none())
            .collect()
    }

    /// (changed_at, updated_at, deleted?) of every record of every model, by id.
    pub async fn snapshot(
        &self,
        integration: &str,
    ) -> BTreeMap<String, (Timestamp, Timestamp, Option<Timestamp>, Value)> {
        let mut out = BTreeMap::new();
        for model in Model::ALL {
            for r in self.records(integration, *model).await {
                let content = serde_json::json!({"data": r.data, "remote_data": r.remote_data});
                out.insert(r.id, (r.changed_at, r.updated_at, r.remote_deleted_at, content));
            }
        }
        out
    }

    pub async fn change_log_len(&self, integration: &str) -> usize {
        self.store
            .changes_since(integration, 0, i64::MAX)
            .await
            .expect("changes")
            .len()
    }

    pub fn mutate(&self, tool: ToolKind, mutation: Value) -> tributary_sim::MutationOutcome {
        let m: Mutation = serde_json::from_value(mutation).expect("valid mutation");
        self.sim.state.mutate(tool, &m).expect("mutation applies")
    }

    pub fn fault(
        &self,
        tool: ToolKind,
        path: &str,
        query: Option<&str>,
        skip: u64,
        times: Option<u64>,
        action: FaultAction,
    ) {
        let mut rule = FaultRule::new(tool, action).path(path).skip(skip);
        if let Some(q) = query {
            rule = rule.query(q);
        }
        if let Some(t) = times {
            rule = rule.times(t);
        }
        self.sim.state.add_fault(rule).expect("fault accepted");
    }

    /// Requests the simulator served for `tool` whose path contains `path`.
    pub fn requests(&self, tool: ToolKind, path: &str) -> Vec<tributary_sim::LogEntry> {
        self.sim.state.requests(&RequestFilter::tool(tool).path(path))
    }

    /// Whether `needle` occurs anywhere in the mirror's database, in any column of any table.
    pub async fn database_contains(&self, needle: &str) -> bool {
        match &self.guard {
            Guard::Pg(db) => {
                let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(db.url())
                    .await
                    .unwrap();
                let tables: Vec<String> = sqlx::query_scalar(
                    "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public'",
                )
                .fetch_all(&mut conn)
                .await
                .unwrap();
                for table in tables {
                    let sql = format!("SELECT count(*) FROM \"{table}\" t WHERE t::text LIKE '%' || $1 || '%'");
                    let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                        .bind(needle)
                        .fetch_one(&mut conn)
                        .await
                        .unwrap();
                    if n > 0 {
                        return true;
                    }
                }
                false
            }
            Guard::Sqlite(file) => {
                let url = format!("sqlite://{}", file.path().display());
                let mut conn = <sqlx::SqliteConnection as sqlx::Connection>::connect(&url)
                    .await
                    .unwrap();
                let tables: Vec<String> = sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table'")
                    .fetch_all(&mut conn)
                    .await
                    .unwrap();
                for table in tables {
                    let sql = format!("SELECT * FROM \"{table}\"");
                    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                        .fetch_all(&mut conn)
                        .await
                        .unwrap();
                    for row in rows {
                        for i in 0..row.columns().len() {
                            let text = row.try_get::<Option<String>, _>(i).ok().flatten().or_else(|| {
                                row.try_get::<Option<Vec<u8>>, _>(i)
                                    .ok()
                                    .flatten()
                                    .map(|b| String::from_utf8_lossy(&b).into_owned())
                            });
                            if text.is_some_and(|t| t.contains(needle)) {
                                return true;
                            }
                        }
                    }
                }
                false
            }
        }
    }
}

/// The simulator answering `code` with its default body and no Retry-After.
pub fn status(code: u16) -> FaultAction {
    FaultAction::Status {
        code,
        retry_after: None,
        body: None,
    }
}

/// Waits until the run has committed at least `pages` pages (or 30 s pass without progress).
pub async fn wait_for_pages(control: &RunControl, pages: i64) {
    let mut progress = control.subscribe_progress();
    while progress.borrow_and_update().counts.pages_fetched < pages {
        if tokio::time::timeout(Duration::from_secs(30), progress.changed())
            .await
            .is_err()
        {
            panic!("no progress for 30 s before page {pages}");
        }
    }
}

/// Asserts two snapshots are equal, naming only the records that differ.
pub fn assert_same_snapshot<V: PartialEq + std::fmt::Debug>(
    after: &BTreeMap<String, V>,
    before: &BTreeMap<String, V>,
    what: &str,
) {
    let added: Vec<&String> = after.keys().filter(|k| !before.contains_key(*k)).collect();
    let removed: Vec<&String> = before.keys().filter(|k| !after.contains_key(*k)).collect();
    let changed: Vec<(&String, &V, &V)> = after
        .iter()
        .filter_map(|(k, v)| before.get(k).filter(|b| *b != v).map(|b| (k, b, v)))
        .collect();
    assert!(
        added.is_empty() && removed.is_empty() && changed.is_empty(),
        "{what}: added {added:?}, removed {removed:?}, changed (id, before, after) {:?}",
        changed.iter().take(3).collect::<Vec<_>>()
    );
}

/// Generates one `#[tokio::test]` per backend for each listed `async fn case(Backend)`.
#[macro_export]
macro_rules! on_both_backends {
    ($($case:ident),* $(,)?) => {
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case($crate::support::Backend::Postgres).await;
                }
            )*
        }
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case($crate::support::Backend::Sqlite).await;
                }
            )*
        }
    };
}
