//! Issue 16's "bad input": a misconfigured role exits 1 with one clear line on stderr before it
//! binds any port, so its probe never goes ready and nothing half-starts; and `tributary probe`,
//! the health check of an image without a shell or curl.

use std::path::PathBuf;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use tokio::process::Command;
use tributary_store::testing::{TestDatabase, pg_store_or_skip};

/// Base64 of 32 zero bytes.
const KEY: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";

fn free_port() -> u16 {
    let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    probe.local_addr().expect("its address").port()
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tributary-startup-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// `tributary <args>` with nothing inherited from whoever runs the tests but what `env` gives.
fn tributary(data_dir: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tributary"));
    cmd.args(args)
        .env("TRIBUTARY_DATA_DIR", data_dir)
        .stdin(Stdio::null())
        .kill_on_drop(true);
    for var in [
        "DATABASE_URL",
        "REDIS_URL",
        "TRIBUTARY_SECRET_KEY",
        "TRIBUTARY_ADMIN_TOKEN",
        "DATABASE_URL_FILE",
        "REDIS_URL_FILE",
        "TRIBUTARY_SECRET_KEY_FILE",
        "TRIBUTARY_ADMIN_TOKEN_FILE",
        "TRIBUTARY_SKIP_MIGRATIONS",
        "TRIBUTARY_CONNECT_TIMEOUT_SECS",
        "TRIBUTARY_LOG_FORMAT",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    ] {
        cmd.env_remove(var);
    }
    cmd.envs(env.iter().copied());
    cmd
}

/// Runs `role` listening on a free port (`--listen` for the gateway, `--http-listen` for the
/// others, `extra` after), and asserts it exits 1 within `within` with exactly one line on
/// stderr containing `needle`, the port never having been bound.
async fn assert_refused(role: &str, extra: &[&str], env: &[(&str, &str)], needle: &str, within: Duration) {
    let dir = temp_dir(role);
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let flag = if role == "gateway" { "--listen" } else { "--http-listen" };
    let mut args = vec![role, flag, &listen];
    args.extend_from_slice(extra);
    let start = Instant::now();
    let out: Output = tokio::time::timeout(within, tributary(&dir, &args, env).output())
        .await
        .unwrap_or_else(|_| panic!("`tributary {args:?}` did not exit within {within:?}"))
        .expect("tributary runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "{args:?}: one line, got: {stderr}");
    assert!(
        lines[0].starts_with("error: ") && lines[0].contains(needle),
        "{args:?}: {needle:?} in {stderr}"
    );
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "{args:?}: port {port} was bound before the error ({:?} after start)",
        start.elapsed()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

const QUICK: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_secret_keys_are_refused_before_anything_connects() {
    // The database is never reached: the key is checked first.
    let db = "postgres://postgres@127.0.0.1:1/never";
    let redis = "redis://127.0.0.1:1";
    assert_refused(
        "worker",
        &[],
        &[("DATABASE_URL", db), ("REDIS_URL", redis)],
        "TRIBUTARY_SECRET_KEY is required with DATABASE_URL",
        QUICK,
    )
    .await;
    // Base64 of 16 bytes: a key of the wrong length, as `openssl rand -base64 16` makes.
    assert_refused(
        "gateway",
        &[],
        &[
            ("DATABASE_URL", db),
            ("TRIBUTARY_SECRET_KEY", "AAAAAAAAAAAAAAAAAAAAAA=="),
        ],
        "TRIBUTARY_SECRET_KEY must be base64 of 32 bytes: credential key must be 32 bytes, got 16",
        QUICK,
    )
    .await;
    assert_refused(
        "scheduler",
        &[],
        &[
            ("DATABASE_URL", db),
            ("REDIS_URL", redis),
            ("TRIBUTARY_SECRET_KEY", "not a key!"),
        ],
        "TRIBUTARY_SECRET_KEY must be base64 of 32 bytes: credential key is not valid base64",
        QUICK,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_database_is_an_error_within_the_connect_timeout() {
    assert_refused(
        "worker",
        &[],
        &[
            ("DATABASE_URL", "postgres://postgres@127.0.0.1:1/mirror"),
            ("REDIS_URL", "redis://127.0.0.1:1"),
            ("TRIBUTARY_SECRET_KEY", KEY),
        ],
        "cannot connect to the database at postgres://postgres@127.0.0.1:1/mirror",
        QUICK,
    )
    .await;
    // A listener that accepts and never answers, like a firewall that drops packets: only the
    // timeout ends the wait.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("postgres://postgres@{}/mirror", silent.local_addr().unwrap());
    assert_refused(
        "gateway",
        &[],
        &[
            ("DATABASE_URL", &url),
            ("TRIBUTARY_SECRET_KEY", KEY),
            ("TRIBUTARY_CONNECT_TIMEOUT_SECS", "2"),
        ],
        "no answer within 2 s",
        QUICK,
    )
    .await;
}

/// A fresh migrated database for the roles that get past it, or `None` (skipped).
async fn database() -> Option<TestDatabase> {
    pg_store_or_skip().await.map(|(_, db)| db)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_redis_stops_every_role_that_uses_it() {
    let Some(db) = database().await else {
        return;
    };
    let refused = format!("redis://127.0.0.1:{}", free_port());
    for role in ["worker", "scheduler"] {
        assert_refused(
            role,
            &[],
            &[
                ("DATABASE_URL", db.url()),
                ("REDIS_URL", &refused),
                ("TRIBUTARY_SECRET_KEY", KEY),
            ],
            &format!("cannot connect to Redis at {refused}"),
            QUICK,
        )
        .await;
    }
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("redis://{}", silent.local_addr().unwrap());
    assert_refused(
        "gateway",
        &["--connect-timeout-secs", "2"],
        &[
            ("DATABASE_URL", db.url()),
            ("REDIS_URL", &url),
            ("TRIBUTARY_SECRET_KEY", KEY),
        ],
        &format!("cannot connect to Redis at {url}: no answer within 2 s"),
        QUICK,
    )
    .await;
    assert_refused(
        "scheduler",
        &[],
        &[
            ("DATABASE_URL", db.url()),
            ("REDIS_URL", "redis://no:pe:rt"),
            ("TRIBUTARY_SECRET_KEY", KEY),
        ],
        "REDIS_URL is not a valid URL",
        QUICK,
    )
    .await;
}

/// An operator listener without a token would refuse every request: refused at start, on the
/// gateway and on serve, neither port bound.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ops_listen_without_an_admin_token_is_refused() {
    let ops = free_port();
    let ops_listen = format!("127.0.0.1:{ops}");
    assert_refused(
        "gateway",
        &["--ops-listen", &ops_listen],
        &[
            ("DATABASE_URL", "postgres://postgres@127.0.0.1:1/mirror"),
            ("REDIS_URL", "redis://127.0.0.1:1"),
            ("TRIBUTARY_SECRET_KEY", KEY),
        ],
        "--ops-listen needs TRIBUTARY_ADMIN_TOKEN",
        QUICK,
    )
    .await;
    let dir = temp_dir("serve-ops");
    let listen = format!("127.0.0.1:{}", free_port());
    let out = tributary(&dir, &["serve", "--listen", &listen, "--ops-listen", &ops_listen], &[])
        .output()
        .await
        .expect("serve runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.trim()
            == "error: --ops-listen needs TRIBUTARY_ADMIN_TOKEN (the operator API refuses every request without one)",
        "{stderr}"
    );
    assert!(std::net::TcpStream::connect(("127.0.0.1", ops)).is_err());
    let _ = std::fs::remove_dir_all(&dir);
}

/// `tributary probe`: exit 0 on a 2xx answer (a gateway's `/ready`), 1 with one line on any
/// other answer or none.
/// Secrets mounted as files (`*_FILE`, as a Kubernetes Secret volume gives them): read with
/// one trailing line break dropped; a missing or empty file is one line naming it; a secret
/// given both ways is a usage error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_are_read_from_files() {
    let dir = temp_dir("secret-files");
    let missing = dir.join("no-such-file");
    let empty = dir.join("empty");
    std::fs::write(&empty, "").expect("write");
    let db = "postgres://postgres@127.0.0.1:1/never";
    assert_refused(
        "gateway",
        &[],
        &[
            ("DATABASE_URL", db),
            ("TRIBUTARY_SECRET_KEY_FILE", missing.to_str().unwrap()),
        ],
        &format!("cannot read --secret-key-file {}", missing.display()),
        QUICK,
    )
    .await;
    assert_refused(
        "worker",
        &[],
        &[
            ("DATABASE_URL_FILE", empty.to_str().unwrap()),
            ("TRIBUTARY_SECRET_KEY", KEY),
        ],
        &format!("--database-url-file {} is empty", empty.display()),
        QUICK,
    )
    .await;
    let short = dir.join("short-key");
    std::fs::write(&short, "AAAAAAAAAAAAAAAAAAAAAA==\n").expect("write");
    assert_refused(
        "scheduler",
        &[],
        &[
            ("DATABASE_URL", db),
            ("REDIS_URL", "redis://127.0.0.1:1"),
            ("TRIBUTARY_SECRET_KEY_FILE", short.to_str().unwrap()),
        ],
        "must be base64 of 32 bytes: credential key must be 32 bytes, got 16",
        QUICK,
    )
    .await;
    let key = dir.join("key");
    std::fs::write(&key, format!("{KEY}\n")).expect("write");
    let both = tributary(
        &dir,
        &["gateway"],
        &[
            ("TRIBUTARY_SECRET_KEY", KEY),
            ("TRIBUTARY_SECRET_KEY_FILE", key.to_str().unwrap()),
        ],
    )
    .output()
    .await
    .expect("runs");
    assert_eq!(both.status.code(), Some(2), "{}", String::from_utf8_lossy(&both.stderr));

    // Both from files, each ending in a line break: the gateway serves.
    let Some(database) = database().await else { return };
    let url = dir.join("database-url");
    std::fs::write(&url, format!("{}\n", database.url())).expect("write");
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let mut gateway = tributary(
        &dir,
        &["gateway", "--listen", &listen],
        &[
            ("DATABASE_URL_FILE", url.to_str().unwrap()),
            ("TRIBUTARY_SECRET_KEY_FILE", key.to_str().unwrap()),
        ],
    )
    .stdout(Stdio::null())
    .stderr(Stdio::piped())
    .spawn()
    .expect("the gateway starts");
    let start = Instant::now();
    loop {
        if let Ok(r) = reqwest::get(format!("http://{listen}/ready")).await
            && r.status().is_success()
        {
            break;
        }
        if let Some(status) = gateway.try_wait().expect("try_wait") {
            let out = gateway.wait_with_output().await.expect("output");
            panic!(
                "the gateway exited ({status}): {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the gateway was not ready within 60 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_answers_like_a_health_check() {
    let dir = temp_dir("probe");
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let _gateway = tributary(&dir, &["gateway", "--listen", &listen], &[])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the gateway starts");
    let probe = |url: String| {
        let dir = dir.clone();
        async move {
            tributary(&dir, &["probe", &url, "--timeout-secs", "2"], &[])
                .output()
                .await
                .expect("probe runs")
        }
    };
    let ready = format!("http://{listen}/ready");
    let start = Instant::now();
    loop {
        let out = probe(ready.clone()).await;
        if out.status.success() {
            assert!(out.stdout.is_empty() && out.stderr.is_empty(), "a quiet success");
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the gateway's /ready did not answer 200 within 60 s: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let missing = format!("http://{listen}/no-such-page");
    let out = probe(missing.clone()).await;
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        format!("error: {missing} answered 404 Not Found")
    );

    let closed = format!("http://127.0.0.1:{}/ready", free_port());
    let out = probe(closed.clone()).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(
        lines[0].starts_with(&format!("error: cannot reach {closed}: ")),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// `gateway --shutdown-timeout-secs`: a client that never finishes its request head would hold
/// a terminating gateway for the whole header-read timeout (two minutes here); the bound ends
/// the wait, so the pod exits within its grace period.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_shutdown_is_bounded_by_its_flag() {
    use tokio::io::AsyncWriteExt;
    let dir = temp_dir("shutdown");
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let mut gateway = tributary(
        &dir,
        &[
            "gateway",
            "--listen",
            &listen,
            "--header-read-timeout-secs",
            "120",
            "--idle-timeout-secs",
            "300",
            "--shutdown-timeout-secs",
            "2",
        ],
        &[],
    )
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .spawn()
    .expect("the gateway starts");
    let start = Instant::now();
    let mut slow = loop {
        if let Ok(stream) = tokio::net::TcpStream::connect(&listen).await {
            break stream;
        }
        assert!(start.elapsed() < Duration::from_secs(60), "the gateway did not listen");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    slow.write_all(b"GET /health HTTP/1.1\r\nHost: gateway\r\n")
        .await
        .expect("half a request head");
    // The connection is being served before the signal arrives.
    tokio::time::sleep(Duration::from_millis(500)).await;

    let pid = gateway.id().expect("running").to_string();
    let asked = Instant::now();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    assert!(killed.success());
    let status = tokio::time::timeout(Duration::from_secs(30), gateway.wait())
        .await
        .expect("the gateway exits within 30 s of SIGTERM")
        .expect("wait");
    assert!(status.success(), "{status}");
    let took = asked.elapsed();
    assert!(took < Duration::from_secs(20), "exited {took:?} after SIGTERM");
    drop(slow);
    let _ = std::fs::remove_dir_all(&dir);
}
