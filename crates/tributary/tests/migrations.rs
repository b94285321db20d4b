//! Migrations once (issue 16): replicas and migrate Jobs started together against a fresh
//! database all succeed and apply each migration exactly once (sqlx holds a Postgres advisory
//! lock for the whole run), and a role started with `--skip-migrations` serves a migrated
//! database but refuses an unmigrated one with one line, before it listens.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::process::{Child, Command};
use tributary_store::testing::{TestDatabase, pg_database_or_skip};

/// Base64 of 32 zero bytes: any valid key will do, nothing here is encrypted.
const KEY: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";

fn free_port() -> u16 {
    let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    probe.local_addr().expect("its address").port()
}

fn log_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tributary-migrations-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("log directory");
    dir
}

/// `tributary <args>` on `db`, without Redis, its stdout and stderr in `<logs>/<name>.log`.
fn spawn(db: &TestDatabase, logs: &Path, name: &str, args: &[&str]) -> Child {
    let log = std::fs::File::create(logs.join(format!("{name}.log"))).expect("log file");
    Command::new(env!("CARGO_BIN_EXE_tributary"))
        .args(args)
        .env("DATABASE_URL", db.url())
        .env("TRIBUTARY_SECRET_KEY", KEY)
        .env("TRIBUTARY_DATA_DIR", logs)
        .env_remove("REDIS_URL")
        .env_remove("TRIBUTARY_SKIP_MIGRATIONS")
        .env_remove("TRIBUTARY_ADMIN_TOKEN")
        .env_remove("TRIBUTARY_LOG_FORMAT")
        .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
        .env_remove("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log file"))
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .expect("tributary starts")
}

fn log(logs: &Path, name: &str) -> String {
    std::fs::read_to_string(logs.join(format!("{name}.log"))).unwrap_or_default()
}

/// Waits until `GET /ready` on `port` answers 200; panics with the process's log if it exits
/// first or takes more than a minute.
async fn wait_ready(child: &mut Child, port: u16, logs: &Path, name: &str) {
    let http = reqwest::Client::new();
    let start = Instant::now();
    loop {
        if let Ok(r) = http
            .get(format!("http://127.0.0.1:{port}/ready"))
            .timeout(Duration::from_secs(5))
            .send()
            .await
            && r.status() == 200
        {
            return;
        }
        if let Some(status) = child.try_wait().expect("try_wait") {
            panic!("{name} exited ({status}) before it was ready:\n{}", log(logs, name));
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "{name} was not ready within 60 s:\n{}",
            log(logs, name)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn applied_migrations(db: &TestDatabase) -> Vec<(i64, bool)> {
    let pool = sqlx::PgPool::connect(db.url()).await.expect("connect");
    let rows: Vec<(i64, bool)> = sqlx::query_as("SELECT version, success FROM _sqlx_migrations ORDER BY version")
        .fetch_all(&pool)
        .await
        .expect("the migrations table");
    pool.close().await;
    rows
}

/// The release's Postgres migrations: `0001_mirror.sql` → 1, in order.
fn release_versions() -> Vec<i64> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../migrations/postgres");
    let mut versions: Vec<i64> = std::fs::read_dir(&dir)
        .expect("the migrations directory")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".sql"))
        .map(|name| {
            name.split('_')
                .next()
                .and_then(|v| v.parse().ok())
                .expect("NNNN_name.sql")
        })
        .collect();
    versions.sort_unstable();
    versions
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_starts_on_a_fresh_database_migrate_it_once() {
    let Some(db) = pg_database_or_skip().await else {
        return;
    };
    let logs = log_dir("concurrent");

    // Three migrate Jobs and three gateways that migrate at start, all at once.
    let mut migrates: Vec<(String, Child)> = (0..3)
        .map(|i| {
            let name = format!("migrate-{i}");
            let child = spawn(&db, &logs, &name, &["migrate"]);
            (name, child)
        })
        .collect();
    let mut gateways: Vec<(String, u16, Child)> = (0..3)
        .map(|i| {
            let name = format!("gateway-{i}");
            let port = free_port();
            let listen = format!("127.0.0.1:{port}");
            let child = spawn(&db, &logs, &name, &["gateway", "--listen", &listen]);
            (name, port, child)
        })
        .collect();

    for (name, child) in &mut migrates {
        let status = tokio::time::timeout(Duration::from_secs(60), child.wait())
            .await
            .unwrap_or_else(|_| panic!("{name} did not exit within 60 s:\n{}", log(&logs, name)))
            .expect("wait");
        assert!(status.success(), "{name} failed ({status}):\n{}", log(&logs, name));
    }
    for (name, port, child) in &mut gateways {
        wait_ready(child, *port, &logs, name).await;
    }

    let applied = applied_migrations(&db).await;
    let expected: Vec<(i64, bool)> = release_versions().into_iter().map(|v| (v, true)).collect();
    assert!(
        expected.len() >= 11,
        "the release's migrations were found: {expected:?}"
    );
    assert_eq!(applied, expected, "each migration applied exactly once, successfully");

    // A replica that leaves migrations to the Job starts on the migrated database.
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let mut skipping = spawn(
        &db,
        &logs,
        "skipping",
        &["gateway", "--skip-migrations", "--listen", &listen],
    );
    wait_ready(&mut skipping, port, &logs, "skipping").await;
    let _ = std::fs::remove_dir_all(&logs);
}

/// `tributary gateway` with `TRIBUTARY_SKIP_MIGRATIONS=true` on `db`: it must exit 1 with
/// exactly `line` on stderr, never having bound its port.
async fn assert_refused(db: &TestDatabase, line: &str) {
    let logs = log_dir("refused");
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let out = Command::new(env!("CARGO_BIN_EXE_tributary"))
        .args(["gateway", "--listen", &listen])
        .env("DATABASE_URL", db.url())
        .env("TRIBUTARY_SECRET_KEY", KEY)
        .env("TRIBUTARY_SKIP_MIGRATIONS", "true")
        .env("TRIBUTARY_DATA_DIR", &logs)
        .env_remove("REDIS_URL")
        .env_remove("TRIBUTARY_LOG_FORMAT")
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(60), out)
        .await
        .expect("the gateway exits within 60 s")
        .expect("tributary runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines, [line], "one line on stderr");
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "the port was never bound"
    );
    let _ = std::fs::remove_dir_all(&logs);
}

/// `--skip-migrations` on a database nobody migrated, then on one whose migrate Job stopped
/// after 0009: one line saying how far behind it is and what to run, exit 1, the port never
/// bound (so the probe never goes ready), and the database left as it was found.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skip_migrations_refuses_an_unmigrated_database_before_listening() {
    let Some(db) = pg_database_or_skip().await else {
        return;
    };
    let total = release_versions().len();
    assert_refused(
        &db,
        &format!(
            "error: the database schema is not this release's (0 of {total} migrations applied; next: 0001_mirror): run `tributary migrate` first"
        ),
    )
    .await;
    let pool = sqlx::PgPool::connect(db.url()).await.expect("connect");
    let tables: i64 = sqlx::query_scalar("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
        .fetch_one(&pool)
        .await
        .expect("count tables");
    assert_eq!(tables, 0, "the check created nothing");

    sqlx::migrate!("../../migrations/postgres")
        .run_to(9, &pool)
        .await
        .expect("migrate to 0009");
    pool.close().await;
    assert_refused(
        &db,
        &format!(
            "error: the database schema is not this release's (9 of {total} migrations applied; next: 0010_trace_context): run `tributary migrate` first"
        ),
    )
    .await;
    assert_eq!(applied_migrations(&db).await.len(), 9, "the check migrated nothing");
}
