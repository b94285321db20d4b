//! What the SDK talks to: a fresh Postgres mirror, the simulator (Personio and Greenhouse),
//! integrations and API keys made with the CLI, and `tributary serve` (embedded fleet, no
//! Redis) on a free port, all through the built binary as an operator would run it.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::process::{Child, Command};
use tributary_model::{Category, Model, RunState, SyncType, ToolKind};
use tributary_sim::{SimConfig, Simulator};
use tributary_store::MirrorReads;
use tributary_store::RunHistory;
use tributary_store::testing::{TestDatabase, fresh_pg_store_concrete};
use tributary_store::{CredentialKey, PgStore};

use super::compare::{self, Report};

pub const ENV_A: &str = "sdk-env-a";
pub const ENV_B: &str = "sdk-env-b";
pub const HRIS_ID: &str = "personio:sdk-hris";
pub const ATS_ID: &str = "greenhouse:sdk-ats";
pub const FOREIGN_ID: &str = "personio:sdk-foreign";
/// More than 1,000 employees, so a walk by pages of 100 crosses the thousand.
pub const EMPLOYEES: usize = 1_100;

pub struct Stack {
    pub sim: Simulator,
    pub store: PgStore,
    /// The comparing proxy in front of `tributary serve` (see `compare.rs`): what the SDK talks to.
    pub url: String,
    pub api_key: String,
    pub other_env_api_key: String,
    cli: Cli,
    serve: Child,
    /// `tributary gateway --render-live` on the same mirror, the proxy's reference.
    live: Child,
    comparison: Arc<Mutex<Report>>,
}

/// How to run the binary against this stack's database, key and data dir.
struct Cli {
    db: TestDatabase,
    secret_key: String,
    dir: PathBuf,
}

impl Cli {
    /// The binary with nothing from the caller's environment that would change its mode.
    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_tributary"));
        cmd.args(args)
            .env("DATABASE_URL", self.db.url())
            .env("TRIBUTARY_SECRET_KEY", &self.secret_key)
            .env("TRIBUTARY_DATA_DIR", &self.dir)
            .env("TRIBUTARY_ADMIN_TOKEN", "kombo-sdk-admin")
            .env("TRIBUTARY_LOG", "warn")
            // Plain log lines for the failure messages.
            .env("NO_COLOR", "1")
            .env_remove("REDIS_URL")
            .env_remove("TRIBUTARY_CREDENTIALS")
            .stdin(Stdio::null())
            .kill_on_drop(true);
        cmd
    }

    async fn create_integration(&self, sim: &Simulator, id: &str, tool: ToolKind, environment: &str) {
        let base_url = sim.base_url(tool);
        let out = self
            .command(&[
                "integration",
                "create",
                id,
                "--base-url",
                &base_url,
                "--environment",
                environment,
            ])
            .env("TRIBUTARY_CREDENTIALS", sim.integration_credentials(tool).to_string())
            .output()
            .await
            .expect("tributary integration create runs");
        assert_ok(&out, &format!("integration create {id}"));
    }

    /// `api-key create` prints the key, alone, on stdout.
    async fn create_api_key(&self, environment: &str) -> String {
        let out = self
            .command(&[
                "api-key",
                "create",
                "--environment",
                environment,
                "--label",
                "kombo-sdk",
            ])
            .output()
            .await
            .expect("tributary api-key create runs");
        assert_ok(&out, "api-key create");
        let key = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        assert!(
            !key.is_empty() && !key.contains(char::is_whitespace),
            "api-key create prints the key alone: {key:?}"
        );
        key
    }

    fn log_path(&self) -> PathBuf {
        self.dir.join("serve.log")
    }

    /// A gateway alone on the same mirror that renders every list item live.
    fn live_gateway(&self, listen: &str) -> Child {
        let log = std::fs::File::create(self.dir.join("live-gateway.log")).expect("live gateway log");
        let mut cmd = self.command(&["gateway", "--listen", listen, "--render-live", "--rate-limit", "0"]);
        cmd.stdout(log.try_clone().expect("live gateway log")).stderr(log);
        cmd.spawn().expect("tributary gateway starts")
    }

    /// `tributary serve`: gateway, scheduler and worker in one process on in-memory queues.
    /// Unlimited source rate so the first syncs take seconds, not minutes.
    fn serve(&self, listen: &str) -> Child {
        let log = std::fs::File::create(self.log_path()).expect("serve log");
        let mut cmd = self.command(&[
            "serve",
            "--listen",
            listen,
            "--tick-secs",
            "0.2",
            "--source-rps",
            "100000",
        ]);
        cmd.env("TRIBUTARY_LOG", "info")
            .stdout(log.try_clone().expect("serve log"))
            .stderr(log);
        cmd.spawn().expect("tributary serve starts")
    }
}

impl Stack {
    /// `Err` only when Postgres is unreachable (the caller skips or fails); everything after
    /// that is expected to work and panics with the server's log when it does not.
    pub async fn start() -> Result<Stack, String> {
        let (pg, db) = fresh_pg_store_concrete()
            .await
            .map_err(|e| format!("no Postgres: {e}"))?;
        drop(pg);
        let key = CredentialKey::generate();
        let secret_key = key.to_base64();
        let store = PgStore::connect(db.url(), key).await.expect("mirror connects");
        let sim = Simulator::start(
            SimConfig {
                employees: EMPLOYEES,
                tools: vec![ToolKind::Personio, ToolKind::Greenhouse],
                ..SimConfig::default()
            },
            "127.0.0.1:0".parse().unwrap(),
        )
        .await
        .expect("simulator starts");
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("kombo-sdk-{}", db.name()));
        std::fs::create_dir_all(&dir).expect("data dir");
        let cli = Cli { db, secret_key, dir };
        cli.create_integration(&sim, HRIS_ID, ToolKind::Personio, ENV_A).await;
        cli.create_integration(&sim, ATS_ID, ToolKind::Greenhouse, ENV_A).await;
        cli.create_integration(&sim, FOREIGN_ID, ToolKind::Personio, ENV_B)
            .await;
        let api_key = cli.create_api_key(ENV_A).await;
        let other_env_api_key = cli.create_api_key(ENV_B).await;
        let listen = free_address();
        let serve = cli.serve(&listen);
        let live_listen = free_address();
        let live = cli.live_gateway(&live_listen);
        let (url, comparison) = compare::start(format!("http://{listen}"), format!("http://{live_listen}")).await;
        let mut stack = Stack {
            sim,
            store,
            url,
            api_key,
            other_env_api_key,
            cli,
            serve,
            live,
            comparison,
        };
        stack.wait_healthy(&format!("http://{listen}")).await;
        stack.wait_healthy(&format!("http://{live_listen}")).await;
        Ok(stack)
    }

    /// The last `lines` lines of the server's log, for failure messages.
    pub fn log_tail(&self, lines: usize) -> String {
        let log = std::fs::read_to_string(self.cli.log_path()).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(lines).collect();
        tail.into_iter().rev().collect::<Vec<_>>().join("\n")
    }

    /// What the comparing proxy saw so far.
    pub fn comparison(&self) -> Report {
        self.comparison.lock().unwrap().clone()
    }

    async fn wait_healthy(&mut self, url: &str) {
        let http = reqwest::Client::new();
        let start = Instant::now();
        loop {
            if let Ok(r) = http.get(format!("{url}/health")).send().await
                && r.status().is_success()
            {
                return;
            }
            if let Ok(Some(status)) = self.serve.try_wait() {
                panic!("tributary serve exited ({status}):\n{}", self.log_tail(60));
            }
            if let Ok(Some(status)) = self.live.try_wait() {
                let log = std::fs::read_to_string(self.cli.dir.join("live-gateway.log")).unwrap_or_default();
                panic!("tributary gateway --render-live exited ({status}):\n{log}");
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "tributary serve not healthy within 60 s:\n{}",
                self.log_tail(60)
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until each integration's first FULL sync has SUCCEEDED (the scheduler makes the
    /// new integrations due at once); fails at once on a FULL that ended otherwise.
    pub async fn wait_first_syncs(&mut self, within: Duration) {
        let start = Instant::now();
        for id in [HRIS_ID, ATS_ID, FOREIGN_ID] {
            loop {
                let runs = self.store.list_runs(id, 50).await.expect("list runs");
                let fulls: Vec<_> = runs.iter().filter(|r| r.sync_type == SyncType::Full).collect();
                if fulls.iter().any(|r| r.state == RunState::Succeeded) {
                    break;
                }
                if let Some(bad) = fulls.iter().find(|r| r.state.is_terminal()) {
                    panic!(
                        "{id}: first FULL ended {:?}: {:?}\n{}",
                        bad.state,
                        bad.error,
                        self.log_tail(60)
                    );
                }
                if let Ok(Some(status)) = self.serve.try_wait() {
                    panic!("tributary serve exited ({status}):\n{}", self.log_tail(60));
                }
                assert!(
                    start.elapsed() < within,
                    "{id}: no successful FULL within {within:?}; runs: {:?}\n{}",
                    runs.iter()
                        .map(|r| (r.sync_type, r.state, r.error.clone()))
                        .collect::<Vec<_>>(),
                    self.log_tail(60)
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }

    /// Live records per endpoint path (`/hris/employees` → n) of the two environment-A
    /// integrations, as the mirror holds them now.
    pub async fn expected_counts(&self) -> BTreeMap<&'static str, i64> {
        let mut counts = BTreeMap::new();
        for model in Model::ALL {
            let integration = match model.category() {
                Category::Hris => HRIS_ID,
                Category::Ats => ATS_ID,
            };
            let n = self
                .store
                .count_records(integration, *model, false)
                .await
                .expect("count records");
            counts.insert(model.api_path(), n);
        }
        counts
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        let _ = self.serve.start_kill();
        let _ = self.live.start_kill();
        let _ = std::fs::remove_dir_all(&self.cli.dir);
    }
}

fn free_address() -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    format!("127.0.0.1:{port}")
}

fn assert_ok(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
