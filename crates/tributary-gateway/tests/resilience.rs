//! The gateway under a slow or absent database and hostile connections (issue 12): the
//! per-read statement timeout, readiness and fast failure during a Postgres outage, and the
//! server's header-read and idle timeouts, all over real sockets.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::AbortHandle;
use tributary_gateway::{
    GatewayOptions, GatewayState, ServeOptions, generate_api_key, hash_api_key, router_with_options,
};
use tributary_model::{ScopeConfig, ToolKind};
use tributary_store::Backend;
use tributary_store::testing::{hold_pg_write_lock, pg_store_concrete_or_skip};
use tributary_store::{CredentialKey, MirrorStore, NewIntegration, PgPoolSettings, PgStore, SqliteStore};

const INTEGRATION: &str = "personio:acme";
const CURSOR_KEY: &[u8] = b"resilience tests: 32 byte key!!!";

/// An API key and an empty integration for it.
async fn seed(store: &dyn MirrorStore) -> String {
    let key = generate_api_key();
    store.create_api_key("env", "tests", &hash_api_key(&key)).await.unwrap();
    store
        .create_integration(NewIntegration {
            id: INTEGRATION.into(),
            tool: ToolKind::Personio,
            environment: "env".into(),
            base_url: "http://127.0.0.1:1".into(),
            credentials: json!({"client_id": "x", "client_secret": "y"}),
            scope_config: ScopeConfig::default(),
        })
        .await
        .unwrap();
    key
}

async fn serve(store: Arc<dyn MirrorStore>, options: GatewayOptions, serve_options: ServeOptions) -> String {
    let listener = tributary_gateway::bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = router_with_options(GatewayState::new(store, CURSOR_KEY.to_vec()), options);
    tokio::spawn(tributary_gateway::serve(
        listener,
        app,
        serve_options,
        std::future::pending(),
    ));
    base
}

/// A client that gives up after 10 s: every answer below must come before that.
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

async fn get(http: &reqwest::Client, url: String, key: &str) -> (u16, Value) {
    let response = http
        .get(url)
        .bearer_auth(key)
        .header("X-Integration-Id", INTEGRATION)
        .send()
        .await
        .expect("answered before the client's 10 s timeout");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[track_caller]
fn assert_error(reply: &(u16, Value), status: u16, code: &str) {
    assert_eq!(reply.0, status, "{:#}", reply.1);
    assert_eq!(reply.1["status"], "error", "{:#}", reply.1);
    assert_eq!(reply.1["error"]["code"], code, "{:#}", reply.1);
}

/// A read that the database cancels at the statement timeout answers 504 in the envelope; the
/// same read answers once nothing holds it up. The wait here is for a sync's page write (the
/// integration's write lock), which the timeout bounds too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_cancelled_by_the_statement_timeout_is_a_504() {
    let Some((store, _db)) = pg_store_concrete_or_skip().await else {
        return;
    };
    let key = seed(&store).await;
    let pool = store.pool().clone();
    let options = GatewayOptions {
        read_statement_timeout: Some(Duration::from_millis(300)),
        ..GatewayOptions::default()
    };
    let base = serve(Arc::new(store), options, ServeOptions::default()).await;
    let http = client();
    let url = format!("{base}/v1/hris/employees");

    let lock = hold_pg_write_lock(&pool, INTEGRATION).await.unwrap();
    let reply = get(&http, url.clone(), &key).await;
    assert_error(&reply, 504, "PLATFORM.TASK_TIMED_OUT");
    assert!(
        reply.1["error"]["message"]
            .as_str()
            .unwrap()
            .contains("statement timeout"),
        "{:#}",
        reply.1
    );
    lock.rollback().await.unwrap();

    let (status, body) = get(&http, url, &key).await;
    assert_eq!(status, 200, "{body:#}");
}

/// A TCP proxy to the test Postgres that can play an outage: every open connection cut, and
/// new ones accepted but never answered (a blackholed database host).
struct Proxy {
    port: u16,
    down: Arc<Mutex<bool>>,
    open: Arc<Mutex<Vec<AbortHandle>>>,
}

impl Proxy {
    async fn start(upstream: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let down = Arc::new(Mutex::new(false));
        let open: Arc<Mutex<Vec<AbortHandle>>> = Arc::default();
        let (down_, open_) = (down.clone(), open.clone());
        tokio::spawn(async move {
            loop {
                let Ok((mut client, _)) = listener.accept().await else {
                    continue;
                };
                let blackholed = *down_.lock().unwrap();
                let upstream = upstream.clone();
                let task = tokio::spawn(async move {
                    if blackholed {
                        // Hold the socket, say nothing.
                        let mut sink = [0u8; 1024];
                        while matches!(client.read(&mut sink).await, Ok(n) if n > 0) {}
                        return;
                    }
                    if let Ok(mut server) = TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                open_.lock().unwrap().push(task.abort_handle());
            }
        });
        Self { port, down, open }
    }

    fn outage(&self) {
        *self.down.lock().unwrap() = true;
        for task in self.open.lock().unwrap().drain(..) {
            task.abort();
        }
    }

    fn restore(&self) {
        *self.down.lock().unwrap() = false;
        for task in self.open.lock().unwrap().drain(..) {
            task.abort();
        }
    }
}

/// Issue 12: during a Postgres outage `/ready` hung 16.3 s and then said 200, and reads hung
/// as long. Now `/ready` says 503 and reads fail in the envelope with 503, each well before
/// the client's 10 s timeout; both recover with the database.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn during_a_postgres_outage_ready_and_reads_fail_fast() {
    let Some((direct, db)) = pg_store_concrete_or_skip().await else {
        return;
    };
    let key = seed(&direct).await;
    let mut url = url::Url::parse(db.url()).unwrap();
    let upstream = format!("{}:{}", url.host_str().unwrap(), url.port().unwrap_or(5432));
    let proxy = Proxy::start(upstream).await;
    url.set_host(Some("127.0.0.1")).unwrap();
    url.set_port(Some(proxy.port)).unwrap();
    // The API's pool as `tributary gateway` builds it (`--db-acquire-timeout-secs` 2).
    let settings = PgPoolSettings {
        acquire_timeout: Duration::from_secs(2),
        ..PgPoolSettings::default()
    };
    let store = PgStore::connect_with(url.as_str(), CredentialKey::generate(), settings)
        .await
        .unwrap();
    let base = serve(Arc::new(store), GatewayOptions::default(), ServeOptions::default()).await;
    let http = client();
    let read = format!("{base}/v1/hris/employees");
    let ready = format!("{base}/ready");

    assert_eq!(get(&http, ready.clone(), &key).await.0, 200);
    assert_eq!(get(&http, read.clone(), &key).await.0, 200);

    proxy.outage();
    for _ in 0..3 {
        let started = std::time::Instant::now();
        let reply = get(&http, ready.clone(), &key).await;
        assert_error(&reply, 503, "PLATFORM.UNKNOWN_ERROR");
        println!("/ready during the outage: 503 after {:?}", started.elapsed());
        let started = std::time::Instant::now();
        let reply = get(&http, read.clone(), &key).await;
        assert_error(&reply, 503, "PLATFORM.UNKNOWN_ERROR");
        println!("read during the outage: 503 after {:?}", started.elapsed());
    }
    // The process itself is fine: liveness does not depend on the database.
    assert_eq!(get(&http, format!("{base}/health"), &key).await.0, 200);

    proxy.restore();
    let mut recovered = false;
    for _ in 0..20 {
        if get(&http, ready.clone(), &key).await.0 == 200 {
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(recovered, "/ready stayed 503 after the database came back");
    let (status, body) = get(&http, read, &key).await;
    assert_eq!(status, 200, "{body:#}");
}

async fn embedded_gateway(serve_options: ServeOptions) -> String {
    let store = SqliteStore::in_memory(CredentialKey::generate()).await.unwrap();
    store.migrate().await.unwrap();
    serve(Arc::new(store), GatewayOptions::default(), serve_options).await
}

/// Reads until the server closes the connection; the bytes read. Panics if it is still open
/// after `bound` (a generous bound, not a timing claim).
async fn read_until_closed(socket: &mut TcpStream, bound: Duration) -> Vec<u8> {
    let mut out = Vec::new();
    let closed = tokio::time::timeout(bound, async {
        let mut buf = [0u8; 8192];
        loop {
            match socket.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => out.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "the server kept the connection open for {bound:?}");
    out
}

/// Issue 12: 200 sockets trickling their headers a byte at a time stayed open for 60 s. With
/// a header-read timeout each is closed, however steadily it trickles.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sockets_that_trickle_their_headers_are_closed() {
    let base = embedded_gateway(ServeOptions {
        header_read_timeout: Duration::from_secs(1),
        // Far beyond the test: only the header timeout can close these.
        idle_timeout: Duration::from_secs(600),
    })
    .await;
    let addr = base.trim_start_matches("http://").to_owned();
    let mut tricklers = Vec::new();
    for _ in 0..200 {
        let addr = addr.clone();
        tricklers.push(tokio::spawn(async move {
            let socket = TcpStream::connect(&addr).await.unwrap();
            let (mut reader, mut writer) = socket.into_split();
            let trickle = tokio::spawn(async move {
                let head =
                    b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
                for byte in head.iter().cycle() {
                    if writer.write_all(&[*byte]).await.is_err() {
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            });
            let mut buf = [0u8; 1024];
            let closed = tokio::time::timeout(Duration::from_secs(10), async {
                loop {
                    match reader.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(_) => {}
                    }
                }
            })
            .await;
            trickle.abort();
            closed.is_ok()
        }));
    }
    let mut still_open = 0;
    for trickler in tricklers {
        if !trickler.await.unwrap() {
            still_open += 1;
        }
    }
    assert_eq!(
        still_open, 0,
        "{still_open} of 200 trickling sockets were still open after 10 s"
    );

    // A client that sends its request whole is served as before.
    let mut socket = TcpStream::connect(&addr).await.unwrap();
    socket
        .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let reply = read_until_closed(&mut socket, Duration::from_secs(10)).await;
    assert!(
        reply.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&reply)
    );
}

/// A kept-alive connection that says nothing after its response is closed: by the header-read
/// timer, which runs while the server waits for the next request; and, with that timer far
/// off, by the idle timeout. So is one that stopped reading a response.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_are_closed() {
    for (header_read_timeout, idle_timeout) in [(1, 600), (600, 1)] {
        let base = embedded_gateway(ServeOptions {
            header_read_timeout: Duration::from_secs(header_read_timeout),
            idle_timeout: Duration::from_secs(idle_timeout),
        })
        .await;
        let addr = base.trim_start_matches("http://").to_owned();
        let mut socket = TcpStream::connect(&addr).await.unwrap();
        socket
            .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let reply = read_until_closed(&mut socket, Duration::from_secs(10)).await;
        assert!(
            reply.starts_with(b"HTTP/1.1 200"),
            "{}",
            String::from_utf8_lossy(&reply)
        );
    }

    // Only the idle timeout can close this one: its request head arrived whole, and then the
    // client does not read (a small receive buffer, so the server's writes stall).
    let base = embedded_gateway(ServeOptions {
        header_read_timeout: Duration::from_secs(600),
        idle_timeout: Duration::from_secs(1),
    })
    .await;
    let addr = base.trim_start_matches("http://").to_owned();
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut socket = socket.connect(addr.parse().unwrap()).await.unwrap();
    socket
        .write_all(b"GET /v1/openapi.json HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let got = read_until_closed(&mut socket, Duration::from_secs(10)).await;
    assert!(
        got.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&got[..got.len().min(200)])
    );
}
