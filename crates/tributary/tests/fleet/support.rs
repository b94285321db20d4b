//! A fleet under test: a fresh Postgres mirror, a Redis key prefix of its own, the simulator,
//! and `tributary` worker/scheduler processes started from the built binary.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::process::{Child, Command};
use tributary_engine::{EngineConfig, RunControl, SyncEngine};
use tributary_model::{Model, RunState, ScopeConfig, SyncType, ToolKind};
use tributary_queue::{ConnectionManager, RedisCoordinator, RedisQueue};
use tributary_scheduler::{Triggered, trigger};
use tributary_sim::{RequestFilter, SimConfig, Simulator};
use tributary_source::ClientConfig;
use tributary_store::testing::{TestDatabase, fresh_pg_store_concrete, fresh_sqlite_store, services_required};
use tributary_store::{CredentialKey, MirrorStore, NewIntegration, PgStore, RecordQuery, StoredRecord, SyncRun};

pub const REDIS_URL: &str = "redis://127.0.0.1:6379";

pub struct Stack {
    pub redis_url: String,
    pub store: Arc<dyn MirrorStore>,
    pub sim: Simulator,
    pub prefix: String,
    pub redis: ConnectionManager,
    pub queue: RedisQueue,
    pub coordinator: RedisCoordinator,
    db: TestDatabase,
    key: String,
    logs: PathBuf,
    children: Vec<(String, Child)>,
}

/// A process of the fleet, by the name it was started under (also its `$HOSTNAME`, so its
/// worker id starts with `worker-<name>-`).
pub struct Proc {
    pub name: String,
}

impl Stack {
    /// `None` (test skipped) without Postgres or Redis, unless TRIBUTARY_REQUIRE_SERVICES is set.
    pub async fn start(tools: &[ToolKind], employees: usize) -> Option<Stack> {
        Self::start_on(tools, employees, REDIS_URL).await
    }

    /// [`Stack::start`] on the Redis at `redis_url`.
    pub async fn start_on(tools: &[ToolKind], employees: usize, redis_url: &str) -> Option<Stack> {
        let (pg, db) = match fresh_pg_store_concrete().await {
            Ok(found) => found,
            Err(e) => return skip(&format!("no Postgres: {e}")),
        };
        drop(pg);
        let redis = match tributary_queue::connect(redis_url).await {
            Ok(c) => c,
            Err(e) => return skip(&format!("no Redis at {redis_url}: {e}")),
        };
        let key = CredentialKey::generate();
        let key_b64 = key.to_base64();
        let store: Arc<dyn MirrorStore> = Arc::new(PgStore::connect(db.url(), key).await.expect("mirror connects"));
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
        let prefix = format!("fleettest-{}", db.name());
        let queue = RedisQueue::new(redis.clone(), &prefix);
        let coordinator = RedisCoordinator::new(redis.clone(), prefix.clone(), store.clone());
        let logs = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(&prefix);
        std::fs::create_dir_all(&logs).expect("log dir");
        Some(Stack {
            redis_url: redis_url.to_owned(),
            store,
            sim,
            prefix,
            redis,
            queue,
            coordinator,
            db,
            key: key_b64,
            logs,
            children: Vec::new(),
        })
    }

    /// Creates `<tool>:<name>` against the simulator. With `only_employees`, the absence models
    /// are disabled (their streams are never requested), so a sync is the employee pages alone.
    pub async fn integration(&self, tool: ToolKind, name: &str, only_employees: bool) -> String {
        let scope = if only_employees {
            let disabled: Vec<Value> = [Model::AbsenceTypes, Model::Absences, Model::TimeOffBalances]
                .iter()
                .map(|m| json!({"id": m.scope_id(), "scope_config_setting": "DISABLED"}))
                .collect();
            serde_json::from_value::<ScopeConfig>(json!({ "read_models": disabled })).expect("scope")
        } else {
            ScopeConfig::default()
        };
        let id = format!("{}:{name}", tool.as_str());
        self.store
            .create_integration(NewIntegration {
                id: id.clone(),
                tool,
                environment: "test".into(),
                base_url: self.sim.base_url(tool),
                credentials: self.sim.integration_credentials(tool),
                scope_config: scope,
            })
            .await
            .expect("integration created");
        id
    }

    /// The Postgres mirror's URL, for tests that must reach beneath the store.
    pub fn database_url(&self) -> &str {
        self.db.url()
    }

    /// Starts `tributary <role> <args>` against this stack, logging to a file of its own.
    pub fn spawn(&mut self, role: &str, name: &str, args: &[&str]) -> Proc {
        let log = std::fs::File::create(self.logs.join(format!("{name}.log"))).expect("log file");
        let child = Command::new(env!("CARGO_BIN_EXE_tributary"))
            .arg(role)
            .args(args)
            .env("DATABASE_URL", self.db.url())
            .env("REDIS_URL", &self.redis_url)
            .env("TRIBUTARY_REDIS_PREFIX", &self.prefix)
            .env("TRIBUTARY_SECRET_KEY", &self.key)
            .env("TRIBUTARY_LOG", "info,tributary_worker=debug")
            .env("HOSTNAME", name)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .expect("tributary starts");
        self.children.push((name.to_owned(), child));
        Proc { name: name.to_owned() }
    }

    /// A worker with a short lease, quick retries and unlimited source rate.
    pub fn worker(&mut self, name: &str, extra: &[&str]) -> Proc {
        let mut args = vec![
            "--lease-ttl-secs",
            "3",
            "--retry-base-secs",
            "0.2",
            "--source-rps",
            "100000",
            "--source-attempts",
            "2",
        ];
        args.extend_from_slice(extra);
        self.spawn("worker", name, &args)
    }

    pub fn scheduler(&mut self, name: &str) -> Proc {
        self.spawn("scheduler", name, &["--tick-secs", "0.2", "--reconcile-secs", "0.5"])
    }

    fn child(&mut self, proc: &Proc) -> &mut Child {
        &mut self
            .children
            .iter_mut()
            .find(|(n, _)| *n == proc.name)
            .expect("known process")
            .1
    }

    pub fn pid(&mut self, proc: &Proc) -> i32 {
        self.child(proc).id().expect("process is running") as i32
    }

    /// Sends `signal` (`-KILL`, `-TERM`) to the process.
    pub fn signal(&mut self, proc: &Proc, signal: &str) {
        let pid = self.pid(proc);
        let status = std::process::Command::new("kill")
            .arg(signal)
            .arg(pid.to_string())
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill {signal} {pid}");
    }

    /// Waits for the process to exit; its exit code.
    pub async fn wait_exit(&mut self, proc: &Proc, within: Duration) -> Option<i32> {
        let child = self.child(proc);
        match tokio::time::timeout(within, child.wait()).await {
            Ok(status) => status.expect("wait").code(),
            Err(_) => panic!("{} did not exit within {within:?}\n{}", proc.name, self.log(proc)),
        }
    }

    pub fn log(&self, proc: &Proc) -> String {
        std::fs::read_to_string(self.logs.join(format!("{}.log", proc.name))).unwrap_or_default()
    }

    /// Every process's log, for failure messages.
    pub fn all_logs(&self) -> String {
        let mut out = String::new();
        for (name, _) in &self.children {
            let log = std::fs::read_to_string(self.logs.join(format!("{name}.log"))).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(40).collect();
            out.push_str(&format!("\n----- {name} (last lines) -----\n"));
            for line in tail.into_iter().rev() {
                out.push_str(line);
                out.push('\n');
            }
        }
        out
    }

    pub async fn trigger(&self, integration: &str, sync_type: SyncType) -> Triggered {
        trigger(
            self.store.as_ref(),
            &self.queue,
            &self.coordinator,
            integration,
            Some(sync_type),
        )
        .await
        .expect("trigger")
    }

    pub async fn run(&self, run_id: &str) -> SyncRun {
        self.store.get_run(run_id).await.expect("read run").expect("run exists")
    }

    /// Polls the run until `done` holds; fails with every process's log after `within`.
    pub async fn wait_run(
        &self,
        run_id: &str,
        within: Duration,
        what: &str,
        done: impl Fn(&SyncRun) -> bool,
    ) -> SyncRun {
        let start = Instant::now();
        loop {
            let run = self.run(run_id).await;
            if done(&run) {
                return run;
            }
            if start.elapsed() > within {
                panic!(
                    "run {run_id} never {what} within {within:?}; it is {:?} (pause {:?}, error {:?}, pages {})\n{}",
                    run.state,
                    run.pause_reason,
                    run.error,
                    run.counts.pages_fetched,
                    self.all_logs()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn wait_ended(&self, run_id: &str, within: Duration) -> SyncRun {
        self.wait_run(run_id, within, "ended", |r| r.state.is_terminal()).await
    }

    /// Live records of every model, by id, with their content.
    pub async fn live_snapshot(store: &dyn MirrorStore, integration: &str) -> BTreeMap<String, Value> {
        let mut out = BTreeMap::new();
        for model in Model::ALL {
            for r in all_records(store, integration, *model).await {
                if r.remote_deleted_at.is_none() {
                    out.insert(r.id, json!({"data": r.data, "remote_data": r.remote_data}));
                }
            }
        }
        out
    }

    /// Asserts the mirror holds exactly what a fresh FULL sync of the source gives now (into a
    /// mirror of its own, by the in-process engine): nothing lost, nothing extra, nothing
    /// stale, nothing falsely deleted.
    pub async fn assert_mirror_equals_source(&self, integration: &str) {
        for tool in ToolKind::ALL.iter().filter(|t| self.sim.state.has_tool(**t)) {
            self.sim.state.set_latency(*tool, 0);
        }
        let (reference, _file) = fresh_sqlite_store().await.expect("reference mirror");
        let source = self
            .store
            .get_integration(integration)
            .await
            .unwrap()
            .expect("integration");
        reference
            .create_integration(NewIntegration {
                id: source.id.clone(),
                tool: source.tool,
                environment: source.environment.clone(),
                base_url: source.base_url.clone(),
                credentials: self.store.integration_credentials(integration).await.unwrap(),
                scope_config: source.scope_config.clone(),
            })
            .await
            .expect("reference integration");
        let engine = SyncEngine::new(
            reference.clone(),
            EngineConfig {
                client: ClientConfig {
                    requests_per_second: None,
                    ..ClientConfig::default()
                },
                ..EngineConfig::default()
            },
        );
        let sync_type = if source.tool.supports_delta() {
            SyncType::Full
        } else {
            SyncType::Default
        };
        let run = engine
            .sync(integration, sync_type, &RunControl::new())
            .await
            .expect("reference sync")
            .run;
        assert_eq!(run.state, RunState::Succeeded, "reference sync: {:?}", run.error);
        let expected = Self::live_snapshot(reference.as_ref(), integration).await;
        let actual = Self::live_snapshot(self.store.as_ref(), integration).await;
        let missing: Vec<&String> = expected.keys().filter(|k| !actual.contains_key(*k)).collect();
        let extra: Vec<&String> = actual.keys().filter(|k| !expected.contains_key(*k)).collect();
        let stale: Vec<&String> = expected
            .iter()
            .filter(|(k, v)| actual.get(*k).is_some_and(|a| a != *v))
            .map(|(k, _)| k)
            .collect();
        assert!(
            missing.is_empty() && extra.is_empty() && stale.is_empty(),
            "mirror differs from source: {} missing {:?}, {} extra {:?}, {} stale {:?}",
            missing.len(),
            missing.iter().take(5).collect::<Vec<_>>(),
            extra.len(),
            extra.iter().take(5).collect::<Vec<_>>(),
            stale.len(),
            stale.iter().take(5).collect::<Vec<_>>(),
        );
        assert!(!expected.is_empty(), "the source has records");
    }

    /// Deletes every Redis key of this deployment: what a `FLUSHALL` does to it, without
    /// touching the keys of tests running beside it.
    pub async fn flush_redis(&self) -> usize {
        let mut conn = self.redis.clone();
        let mut cursor: u64 = 0;
        let mut deleted = 0;
        loop {
            let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(format!("{}:*", self.prefix))
                .arg("COUNT")
                .arg(1000)
                .query_async(&mut conn)
                .await
                .expect("scan");
            if !keys.is_empty() {
                let n: usize = redis::cmd("DEL").arg(&keys).query_async(&mut conn).await.expect("del");
                deleted += n;
            }
            cursor = next;
            if cursor == 0 {
                return deleted;
            }
        }
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        for (_, child) in &mut self.children {
            let _ = child.start_kill();
        }
        let prefix = self.prefix.clone();
        let url = self.redis_url.clone();
        let _ = std::thread::spawn(move || {
            let Ok(client) = redis::Client::open(url.as_str()) else {
                return;
            };
            let Ok(mut conn) = client.get_connection() else { return };
            let keys: Vec<String> = redis::cmd("KEYS")
                .arg(format!("{prefix}:*"))
                .query(&mut conn)
                .unwrap_or_default();
            if !keys.is_empty() {
                let _: redis::RedisResult<usize> = redis::cmd("DEL").arg(&keys).query(&mut conn);
            }
        })
        .join();
    }
}

/// How many times each employee page of a complete sync (deltas carry `updated_since`) was
/// answered with 200 since request `since`.
pub fn employee_pages(s: &Stack, since: u64) -> BTreeMap<String, usize> {
    let mut fetched = BTreeMap::new();
    for entry in s.sim.state.requests(
        &RequestFilter::tool(ToolKind::Personio)
            .path("/company/employees")
            .since(since),
    ) {
        // The list itself, not the attribute definitions under it (a lookup each run makes).
        if entry.path == "/v1/company/employees" && !entry.query.contains("updated_since") && entry.status == 200 {
            *fetched.entry(entry.query).or_default() += 1;
        }
    }
    fetched
}

pub async fn all_records(store: &dyn MirrorStore, integration: &str, model: Model) -> Vec<StoredRecord> {
    let mut out = Vec::new();
    let mut query = RecordQuery::new(integration, model);
    query.include_deleted = true;
    query.limit = 1000;
    loop {
        let page = store.query_records(&query).await.expect("query");
        let done = (page.len() as i64) < query.limit;
        query.after_id = page.last().map(|r| r.id.clone());
        out.extend(page);
        if done {
            return out;
        }
    }
}

fn skip<T>(why: &str) -> Option<T> {
    if services_required() {
        panic!("services are required (TRIBUTARY_REQUIRE_SERVICES) but: {why}");
    }
    eprintln!("SKIPPED: {why}");
    None
}

impl Stack {
    /// Who holds the integration's lease in Redis now.
    pub async fn coordinator_holder(&self, integration: &str) -> Option<String> {
        use tributary_queue::Coordinator;
        self.coordinator
            .holders(&[integration.to_owned()])
            .await
            .expect("holders")
            .pop()
            .flatten()
    }
}

impl Stack {
    /// Starts `tributary gateway` (with REDIS_URL, so force-sync and inbound webhooks reach the
    /// fleet) on a free port of 127.0.0.1 and waits until it answers; its base URL.
    pub async fn gateway(&mut self, name: &str) -> (Proc, String) {
        let port = {
            let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
            probe.local_addr().expect("its address").port()
        };
        let base = format!("http://127.0.0.1:{port}");
        let proc = self.spawn("gateway", name, &["--listen", &format!("127.0.0.1:{port}")]);
        let client = reqwest::Client::new();
        let start = Instant::now();
        loop {
            if let Ok(r) = client.get(format!("{base}/v1/openapi.json")).send().await
                && r.status().is_success()
            {
                return (proc, base);
            }
            if let Some(status) = self.child(&proc).try_wait().expect("try_wait") {
                panic!("{name} exited ({status}) before answering\n{}", self.log(&proc));
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "{name} did not answer on {base} within 20 s\n{}",
                self.log(&proc)
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Polls `check` every 50 ms until it holds; fails naming `what`, with every process's log,
    /// after `within`.
    pub async fn wait_until<F, Fut>(&self, within: Duration, what: &str, mut check: F)
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let start = Instant::now();
        while !check().await {
            assert!(
                start.elapsed() < within,
                "{what}: not within {within:?}\n{}",
                self.all_logs()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// A `redis-server` of the test's own on a free port of 127.0.0.1, to restart at will (the
/// shared one on 6379 serves every other test). No persistence: a restart loses everything,
/// like a Redis without a volume.
pub struct OwnRedis {
    pub port: u16,
    child: Option<std::process::Child>,
}

impl OwnRedis {
    /// `None` (test skipped) without `redis-server`, unless TRIBUTARY_REQUIRE_SERVICES is set.
    pub async fn start() -> Option<OwnRedis> {
        let port = {
            let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
            probe.local_addr().expect("its address").port()
        };
        let mut redis = OwnRedis { port, child: None };
        if let Err(e) = redis.spawn().await {
            return skip(&format!("cannot start redis-server: {e}"));
        }
        Some(redis)
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    async fn spawn(&mut self) -> Result<(), String> {
        let child = std::process::Command::new("redis-server")
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| e.to_string())?;
        self.child = Some(child);
        let start = Instant::now();
        loop {
            if let Ok(client) = redis::Client::open(self.url().as_str())
                && let Ok(mut conn) = client.get_multiplexed_async_connection().await
                && redis::cmd("PING").query_async::<String>(&mut conn).await.is_ok()
            {
                return Ok(());
            }
            if start.elapsed() > Duration::from_secs(10) {
                return Err(format!("redis-server on port {} did not answer within 10 s", self.port));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Kills the server and starts it again on the same port, empty.
    pub async fn restart(&mut self) {
        self.kill();
        self.spawn().await.expect("redis-server restarts");
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.kill();
    }
}

// ---- `tributary` processes on the embedded mode ----------------------------------------------

/// A port free when asked (the process given it binds it soon after).
pub fn free_port() -> u16 {
    let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    probe.local_addr().expect("its address").port()
}

/// The admin token of the embedded processes below.
pub const EMBEDDED_ADMIN: &str = "admin-secret";

/// The `tributary` binary on the embedded mode under `data_dir`: no database, Redis, key, log or
/// OpenTelemetry settings inherited from whoever runs the tests; admin token [`EMBEDDED_ADMIN`].
pub fn embedded_tributary(data_dir: &std::path::Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tributary"));
    cmd.env("TRIBUTARY_DATA_DIR", data_dir)
        .env_remove("DATABASE_URL")
        .env_remove("REDIS_URL")
        .env_remove("TRIBUTARY_SECRET_KEY")
        .env_remove("TRIBUTARY_LOG")
        .env_remove("TRIBUTARY_LOG_FORMAT")
        .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
        .env_remove("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        .env_remove("OTEL_SERVICE_NAME")
        .env_remove("OTEL_RESOURCE_ATTRIBUTES")
        .env("TRIBUTARY_ADMIN_TOKEN", EMBEDDED_ADMIN)
        .kill_on_drop(true);
    cmd
}

/// A simulated Personio of `employees` connected as `personio:acme` in a fresh embedded data
/// directory (`tributary-<name>-<pid>` under the temporary directory), with an API key made by
/// the CLI: the simulator, the directory and the key.
pub async fn embedded_personio(name: &str, employees: usize) -> (Simulator, PathBuf, String) {
    let sim = Simulator::start(
        SimConfig {
            employees,
            tools: vec![ToolKind::Personio],
            ..SimConfig::default()
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .expect("simulator");
    let dir = std::env::temp_dir().join(format!("tributary-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let created = embedded_tributary(&dir)
        .args(["integration", "create", "personio:acme", "--base-url"])
        .arg(sim.base_url(ToolKind::Personio))
        .arg("--credentials")
        .arg(sim.integration_credentials(ToolKind::Personio).to_string())
        .output()
        .await
        .expect("create");
    assert!(created.status.success(), "{}", String::from_utf8_lossy(&created.stderr));
    let key = embedded_tributary(&dir)
        .args(["api-key", "create"])
        .output()
        .await
        .expect("key");
    let key = String::from_utf8_lossy(&key.stdout).trim().to_owned();
    (sim, dir, key)
}
