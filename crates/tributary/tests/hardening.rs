//! `tributary serve` as deployed, over a real socket (issue 12, low findings): the embedded
//! data directory and files are owner-only whatever the umask; the operator API answers
//! beneath the gateway's request-id layer, in the envelope with a code for every error, and
//! limits wrong admin tokens per client with a `Retry-After` of at least a second.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

const ADMIN_TOKEN: &str = "hardening-test-admin-token";

/// The child process, killed when the test ends however it ends.
struct Serve(Child);

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `tributary serve` under umask 000, so every file it creates would be world-writable unless
/// it sets the mode itself.
fn spawn_serve(data_dir: &Path, port: u16) -> Serve {
    let child = Command::new("sh")
        .arg("-c")
        .arg("umask 000; exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_tributary"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .env("TRIBUTARY_DATA_DIR", data_dir)
        .env("TRIBUTARY_ADMIN_TOKEN", ADMIN_TOKEN)
        .env("TRIBUTARY_LOG", "warn")
        .env_remove("DATABASE_URL")
        .env_remove("REDIS_URL")
        .env_remove("TRIBUTARY_SECRET_KEY")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("tributary starts");
    Serve(child)
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

async fn call(request: reqwest::RequestBuilder) -> (u16, reqwest::header::HeaderMap, Value) {
    let response = request.send().await.expect("answered");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, headers, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_is_owner_only_and_its_operator_api_is_hardened() {
    let root = std::env::temp_dir().join(format!("tributary-hardening-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).unwrap();
    let data_dir = root.join("data");
    let port = free_port();
    let _serve = spawn_serve(&data_dir, port);
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let mut up = false;
    for _ in 0..120 {
        if http
            .get(format!("{base}/ready"))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200)
        {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(up, "tributary serve did not become ready");

    // Issue 12: the data directory and `tributary.db` were world-readable under umask 022.
    assert_eq!(mode(&data_dir), 0o700, "data directory");
    for file in ["tributary.db", "tributary.db-wal", "tributary.db-shm", "secret.key"] {
        assert_eq!(mode(&data_dir.join(file)), 0o600, "{file}");
    }

    // Every /ops response carries X-Request-Id, successes and failures alike.
    let ops = |path: &str| http.get(format!("{base}/ops/v1{path}"));
    let (status, headers, body) = call(ops("/queues").bearer_auth(ADMIN_TOKEN)).await;
    assert_eq!(status, 200, "{body:#}");
    assert!(headers.contains_key("x-request-id"), "{headers:?}");
    let (status, headers, body) = call(ops("/syncs/no-such-run").bearer_auth(ADMIN_TOKEN)).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("PLATFORM.SYNC_NOT_FOUND"))
    );
    assert!(headers.contains_key("x-request-id"));
    // Unknown routes and methods below /ops answer in the envelope with a code.
    let (status, headers, body) = call(ops("/no-such-route").bearer_auth(ADMIN_TOKEN)).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("PLATFORM.INPUT_INVALID")),
        "{body:#}"
    );
    assert!(headers.contains_key("x-request-id"));
    let (status, _, body) = call(http.delete(format!("{base}/ops/v1/queues")).bearer_auth(ADMIN_TOKEN)).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (405, Some("PLATFORM.INPUT_INVALID")),
        "{body:#}"
    );

    // Wrong admin tokens: refused, then limited, with Retry-After of at least a second; while
    // limited, even the right token is refused (a guesser must not learn it guessed right).
    let mut statuses = Vec::new();
    let mut limited = None;
    for n in 0..30 {
        let (status, headers, body) = call(ops("/queues").bearer_auth(format!("guess-{n}"))).await;
        assert!(headers.contains_key("x-request-id"));
        statuses.push(status);
        match status {
            401 => assert_eq!(body["error"]["code"], "PLATFORM.AUTHENTICATION_INVALID"),
            429 => {
                assert_eq!(body["error"]["code"], "PLATFORM.RATE_LIMIT_EXCEEDED", "{body:#}");
                let retry: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
                assert!(retry >= 1, "Retry-After {retry}");
                limited = Some(retry);
            }
            other => panic!("wrong token answered {other}: {body:#}"),
        }
    }
    let refused = statuses.iter().filter(|s| **s == 401).count();
    assert!(
        (10..=12).contains(&refused),
        "{refused} wrong tokens were checked: {statuses:?}"
    );
    assert!(limited.is_some(), "never limited: {statuses:?}");
    let (status, _, body) = call(ops("/queues").bearer_auth(ADMIN_TOKEN)).await;
    assert_eq!(status, 429, "{body:#}");

    // The read API is not affected by the operator API's limit.
    let (status, headers, _) = call(http.get(format!("{base}/v1/nope"))).await;
    assert_eq!(status, 404);
    assert!(headers.contains_key("x-request-id"));

    let _ = std::fs::remove_dir_all(&root);
}
