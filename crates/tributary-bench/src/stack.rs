//! The stack a benchmark runs against, started by the benchmark itself: the local Postgres and
//! Redis (started the way `.ci/run` starts them when they are not up), a fresh mirror database,
//! a Redis key prefix of its own, the simulator, and `tributary` role processes (worker,
//! scheduler, gateway) started from the release binary beside this one.
//!
//! Roles run as their own processes so that what a benchmark reports of them (peak memory,
//! CPU) is theirs alone, and so that what is measured is what a deployment runs.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use serde_json::json;
use tokio::process::{Child, Command};
use tributary_model::{Model, RunState, ScopeConfig, SyncType, ToolKind};
use tributary_queue::{ConnectionManager, RedisCoordinator, RedisQueue};
use tributary_scheduler::trigger;
use tributary_sim::{SimConfig, Simulator};
use tributary_store::testing::{TestDatabase, fresh_pg_database};
use tributary_store::{CredentialKey, MirrorStore, NewIntegration, PgStore, SyncRun};

pub const REDIS_URL: &str = "redis://127.0.0.1:6379";

/// The models a "only employees" scope config disables, so a sync is employees with their
/// employments (and the org units the employee pages carry along), not time-off data.
pub const NON_EMPLOYEE_MODELS: [Model; 3] = [Model::Absences, Model::TimeOffBalances, Model::AbsenceTypes];

pub struct Stack {
    pub store: Arc<dyn MirrorStore>,
    pub prefix: String,
    pub redis: ConnectionManager,
    pub queue: RedisQueue,
    pub coordinator: RedisCoordinator,
    /// The mirror database's URL and name.
    pub db_url: String,
    pub db_name: String,
    /// Drops the database with the stack; taken (and forgotten) to keep it.
    db_guard: Option<TestDatabase>,
    /// Base64 of the credential key, handed to every role process.
    pub key: String,
    bin: PathBuf,
    logs: PathBuf,
    children: Vec<(String, Child)>,
}

/// A role process of the stack, by the name it was started under.
#[derive(Debug, Clone)]
pub struct Proc {
    pub name: String,
    pub pid: u32,
}

impl Stack {
    /// Brings up Postgres and Redis if needed, creates a fresh mirror database (dropped with the
    /// stack unless `keep_database`) and checks that the `tributary` binary is built.
    pub async fn start(label: &str) -> anyhow::Result<Stack> {
        Self::start_with(label, tributary_binary()?).await
    }

    /// [`Stack::start`] with another `tributary` binary (an older build, for a before/after
    /// in one run). Its database is migrated by that binary (`tributary migrate`): an older
    /// build refuses a schema newer than its own.
    pub async fn start_with(label: &str, bin: PathBuf) -> anyhow::Result<Stack> {
        ensure_services()?;
        ensure!(bin.is_file(), "{} is not a file", bin.display());
        let db = fresh_pg_database()
            .await
            .context("creating a fresh Postgres database")?;
        let key = CredentialKey::generate();
        let key_b64 = key.to_base64();
        let migrated = Command::new(&bin)
            .arg("migrate")
            .env("DATABASE_URL", db.url())
            .env("TRIBUTARY_SECRET_KEY", &key_b64)
            .env("TRIBUTARY_LOG", "warn")
            .stdin(Stdio::null())
            .output()
            .await
            .with_context(|| format!("running {} migrate", bin.display()))?;
        ensure!(
            migrated.status.success(),
            "{} migrate failed: {}",
            bin.display(),
            String::from_utf8_lossy(&migrated.stderr).trim()
        );
        let store: Arc<dyn MirrorStore> = Arc::new(
            PgStore::connect(db.url(), key)
                .await
                .context("connecting to the mirror")?,
        );
        let redis = tributary_queue::connect(REDIS_URL)
            .await
            .with_context(|| format!("connecting to Redis at {REDIS_URL}"))?;
        let prefix = format!("bench-{label}-{}", db.name());
        let (db_url, db_name) = (db.url().to_owned(), db.name().to_owned());
        let queue = RedisQueue::new(redis.clone(), &prefix);
        let coordinator = RedisCoordinator::new(redis.clone(), prefix.clone(), store.clone());
        let logs = std::env::temp_dir().join("tributary-bench").join(&prefix);
        std::fs::create_dir_all(&logs).with_context(|| format!("creating {}", logs.display()))?;
        println!(
            "stack: database {}, redis prefix {prefix}, logs {}",
            db.name(),
            logs.display()
        );
        Ok(Stack {
            store,
            prefix,
            redis,
            queue,
            coordinator,
            db_url,
            db_name,
            db_guard: Some(db),
            key: key_b64,
            bin,
            logs,
            children: Vec::new(),
        })
    }

    /// Keeps the mirror database after the run (its name was printed at start).
    pub fn keep_database(&mut self) {
        std::mem::forget(self.db_guard.take());
    }

    /// Creates `<tool>:<name>` against the simulator; `only_employees` disables the time-off
    /// models (see [`NON_EMPLOYEE_MODELS`]).
    pub async fn integration(
        &self,
        sim: &Simulator,
        tool: ToolKind,
        name: &str,
        only_employees: bool,
    ) -> anyhow::Result<String> {
        let id = format!("{}:{name}", tool.as_str());
        self.store
            .create_integration(NewIntegration {
                id: id.clone(),
                tool,
                environment: "bench".into(),
                base_url: sim.base_url(tool),
                credentials: sim.integration_credentials(tool),
                scope_config: if only_employees {
                    only_employees_scope()
                } else {
                    ScopeConfig::default()
                },
            })
            .await
            .with_context(|| format!("creating integration {id}"))?;
        Ok(id)
    }

    /// Starts `tributary <role> <args>` against this stack's database and Redis prefix, its
    /// output in a log file of its own.
    pub fn spawn(&mut self, role: &str, name: &str, args: &[&str]) -> anyhow::Result<Proc> {
        let path = self.logs.join(format!("{name}.log"));
        let log = std::fs::File::create(&path).with_context(|| format!("creating {}", path.display()))?;
        let child = Command::new(&self.bin)
            .arg(role)
            .args(args)
            .env("DATABASE_URL", &self.db_url)
            .env("REDIS_URL", REDIS_URL)
            .env("TRIBUTARY_REDIS_PREFIX", &self.prefix)
            .env("TRIBUTARY_SECRET_KEY", &self.key)
            .env("TRIBUTARY_LOG", role_log_filter())
            .env("HOSTNAME", name)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {} {role}", self.bin.display()))?;
        let pid = child.id().context("the process has no pid")?;
        self.children.push((name.to_owned(), child));
        Ok(Proc {
            name: name.to_owned(),
            pid,
        })
    }

    /// Runs a one-shot `tributary` command (e.g. `api-key create`) against this stack; its
    /// standard output.
    pub async fn command(&self, args: &[&str]) -> anyhow::Result<String> {
        let output = Command::new(&self.bin)
            .args(args)
            .env("DATABASE_URL", &self.db_url)
            .env("TRIBUTARY_SECRET_KEY", &self.key)
            .env("TRIBUTARY_LOG", "warn")
            .stdin(Stdio::null())
            .output()
            .await
            .with_context(|| format!("running tributary {}", args.join(" ")))?;
        if !output.status.success() {
            bail!(
                "tributary {} failed: {}",
                args.join(" "),
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    /// A worker process: no source rate limit (the simulator answers at zero latency), the
    /// given concurrency per sync type.
    pub fn worker(&mut self, name: &str, extra: &[&str]) -> anyhow::Result<Proc> {
        let mut args = vec!["--source-rps", "100000"];
        args.extend_from_slice(extra);
        self.spawn("worker", name, &args)
    }

    /// Starts a `tributary gateway` on a free loopback port with `extra` flags and waits until
    /// it answers `/health`; the process and its base URL.
    pub async fn gateway(&mut self, name: &str, extra: &[&str]) -> anyhow::Result<(Proc, String)> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let listen = format!("127.0.0.1:{port}");
        let mut args = vec!["--listen", listen.as_str()];
        args.extend_from_slice(extra);
        let proc = self.spawn("gateway", name, &args)?;
        let base = format!("http://{listen}");
        let client = reqwest::Client::new();
        let started = Instant::now();
        loop {
            if let Ok(r) = client.get(format!("{base}/health")).send().await
                && r.status().is_success()
            {
                return Ok((proc, base));
            }
            if started.elapsed() > Duration::from_secs(30) {
                bail!("the gateway did not answer /health within 30 s{}", self.log_tails());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Stops a role with SIGTERM (it finishes or pauses what it holds) and waits for it.
    pub async fn stop(&mut self, proc: &Proc) -> anyhow::Result<()> {
        signal(proc.pid, "-TERM")?;
        let Some(index) = self.children.iter().position(|(n, _)| *n == proc.name) else {
            bail!("{} is not a process of this stack", proc.name);
        };
        let (_, mut child) = self.children.swap_remove(index);
        match tokio::time::timeout(Duration::from_secs(30), child.wait()).await {
            Ok(status) => {
                status?;
                Ok(())
            }
            Err(_) => {
                let _ = child.start_kill();
                bail!("{} did not stop within 30 s after SIGTERM", proc.name)
            }
        }
    }

    /// The last lines of every role's log, for error messages.
    pub fn log_tails(&self) -> String {
        let mut out = String::new();
        for (name, _) in &self.children {
            let log = std::fs::read_to_string(self.logs.join(format!("{name}.log"))).unwrap_or_default();
            let lines: Vec<&str> = log.lines().collect();
            out.push_str(&format!("\n----- {name} (last lines) -----\n"));
            for line in &lines[lines.len().saturating_sub(20)..] {
                out.push_str(line);
                out.push('\n');
            }
        }
        out
    }

    /// Queues a sync of `integration` the way the scheduler and `POST /v1/force-sync` do; the
    /// id of the run.
    pub async fn trigger(&self, integration: &str, sync_type: SyncType) -> anyhow::Result<String> {
        let triggered = trigger(
            self.store.as_ref(),
            &self.queue,
            &self.coordinator,
            integration,
            Some(sync_type),
        )
        .await
        .with_context(|| format!("triggering a {sync_type:?} of {integration}"))?;
        Ok(triggered.run.id)
    }

    /// Waits for the run to end and requires it to have succeeded (else the error names its
    /// state, its error and the roles' log tails).
    pub async fn wait_succeeded(&self, run_id: &str, within: Duration, poll: Duration) -> anyhow::Result<SyncRun> {
        let run = self.wait_ended(run_id, within, poll).await?;
        if run.state != RunState::Succeeded {
            bail!(
                "run {run_id} ({:?}) ended {}: {}{}",
                run.sync_type,
                run.state.as_str(),
                run.error.as_deref().unwrap_or("no error"),
                self.log_tails()
            );
        }
        Ok(run)
    }

    /// Polls the run every `poll` until it has ended; fails with the roles' logs after `within`.
    pub async fn wait_ended(&self, run_id: &str, within: Duration, poll: Duration) -> anyhow::Result<SyncRun> {
        let started = Instant::now();
        loop {
            let run = self
                .store
                .get_run(run_id)
                .await?
                .with_context(|| format!("run {run_id} does not exist"))?;
            if run.state.is_terminal() {
                return Ok(run);
            }
            if started.elapsed() > within {
                bail!(
                    "run {run_id} did not end within {within:?}: it is {:?} after {} pages{}",
                    run.state,
                    run.counts.pages_fetched,
                    self.log_tails()
                );
            }
            tokio::time::sleep(poll).await;
        }
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        for (_, child) in &mut self.children {
            let _ = child.start_kill();
        }
        let prefix = self.prefix.clone();
        // The async connection may already be gone with the runtime; a blocking one on a
        // thread of its own deletes this run's keys.
        let _ = std::thread::spawn(move || {
            let Ok(client) = redis::Client::open(REDIS_URL) else {
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

/// A simulator of `tools` in this process, at zero latency, on a free loopback port.
pub async fn simulator(tools: &[ToolKind], employees: usize, seed: u64) -> anyhow::Result<Simulator> {
    let started = Instant::now();
    let sim = Simulator::start(
        SimConfig {
            tools: tools.to_vec(),
            employees,
            seed,
            ..SimConfig::default()
        },
        "127.0.0.1:0".parse().context("listen address")?,
    )
    .await
    .context("starting the simulator")?;
    println!(
        "simulator: {employees} employees generated in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(sim)
}

/// An integration that is never synced (the fleet and outbox parts only need its row): a
/// Personio integration pointing at a closed port.
pub fn idle_integration(id: String, environment: &str) -> NewIntegration {
    NewIntegration {
        id,
        tool: ToolKind::Personio,
        environment: environment.into(),
        base_url: "http://127.0.0.1:1".into(),
        credentials: json!({"client_id": "unused", "client_secret": "unused"}),
        scope_config: ScopeConfig::default(),
    }
}

pub fn only_employees_scope() -> ScopeConfig {
    let disabled: Vec<serde_json::Value> = NON_EMPLOYEE_MODELS
        .iter()
        .map(|m| json!({"id": m.scope_id(), "scope_config_setting": "DISABLED"}))
        .collect();
    serde_json::from_value(json!({ "read_models": disabled })).expect("a scope config in Kombo's shape")
}

/// Sends `signal` (`-TERM`, `-KILL`, `-STOP`, `-CONT`) to a process.
pub fn signal(pid: u32, signal: &str) -> anyhow::Result<()> {
    let status = std::process::Command::new("kill")
        .arg(signal)
        .arg(pid.to_string())
        .status()
        .context("running kill")?;
    if !status.success() {
        bail!("kill {signal} {pid} failed");
    }
    Ok(())
}

/// The log filter of the roles a benchmark starts (their logs are in the stack's log
/// directory): `$TRIBUTARY_BENCH_LOG` (e.g. `warn,tributary_engine=info` to see a run's
/// phases), else `warn`, so that logging costs the measured processes nothing.
fn role_log_filter() -> String {
    std::env::var("TRIBUTARY_BENCH_LOG").unwrap_or_else(|_| "warn".to_owned())
}

/// The `tributary` binary: `$TRIBUTARY_BIN`, else the one beside this benchmark's executable
/// (`cargo build --release -p tributary` puts both in `target/release`).
pub fn tributary_binary() -> anyhow::Result<PathBuf> {
    if let Some(path) = std::env::var_os("TRIBUTARY_BIN") {
        let path = PathBuf::from(path);
        if path.is_file() {
            return Ok(path);
        }
        bail!("TRIBUTARY_BIN={} is not a file", path.display());
    }
    let exe = std::env::current_exe().context("locating this executable")?;
    let dir = exe.parent().context("this executable has no directory")?;
    // Test binaries live in target/<profile>/deps; the binaries one level up.
    for candidate in [dir.join("tributary"), dir.join("../tributary")] {
        if candidate.is_file() {
            return Ok(candidate);
        }
    }
    bail!(
        "the tributary binary is not built next to {}: run `cargo build --release -p tributary` (or set TRIBUTARY_BIN)",
        dir.display()
    )
}

/// Starts the local Postgres and Redis when they do not answer, with the same commands as
/// `.ci/run`; a service that still does not answer is an error.
pub fn ensure_services() -> anyhow::Result<()> {
    if !answers("pg_isready", &["-q", "-h", "127.0.0.1", "-p", "5432"]) {
        println!("starting PostgreSQL");
        let version = std::fs::read_dir("/etc/postgresql")
            .context("PostgreSQL does not answer on 127.0.0.1:5432 and is not installed (/etc/postgresql)")?
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .next()
            .context("no PostgreSQL cluster under /etc/postgresql")?;
        run(
            "pg_ctlcluster",
            &["--skip-systemctl-redirect", &version, "main", "start"],
        )?;
        wait_for("PostgreSQL", || {
            answers("pg_isready", &["-q", "-h", "127.0.0.1", "-p", "5432"])
        })?;
    }
    if !answers("redis-cli", &["-h", "127.0.0.1", "-p", "6379", "ping"]) {
        println!("starting Redis");
        std::fs::create_dir_all("/var/lib/redis").ok();
        std::fs::create_dir_all("/var/log/redis").ok();
        run(
            "redis-server",
            &[
                "--daemonize",
                "yes",
                "--bind",
                "127.0.0.1",
                "-::1",
                "--port",
                "6379",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                "/var/lib/redis",
                "--logfile",
                "/var/log/redis/ci.log",
            ],
        )?;
        wait_for("Redis", || {
            answers("redis-cli", &["-h", "127.0.0.1", "-p", "6379", "ping"])
        })?;
    }
    Ok(())
}

fn answers(program: &str, args: &[&str]) -> bool {
    std::process::Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn run(program: &str, args: &[&str]) -> anyhow::Result<()> {
    let status = std::process::Command::new(program)
        .args(args)
        .status()
        .with_context(|| format!("running {program}"))?;
    if !status.success() {
        bail!("{program} {} failed with {status}", args.join(" "));
    }
    Ok(())
}

fn wait_for(what: &str, up: impl Fn() -> bool) -> anyhow::Result<()> {
    for _ in 0..30 {
        if up() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_secs(1));
    }
    bail!("{what} did not come up within 30 s")
}
