//! A real headless Chromium for tests of web pages, driven over WebDriver (fantoccini +
//! chromedriver).
//!
//! ```ignore
//! use tributary_tests::browser::{Browser, Network};
//! let Some(browser) = Browser::launch_or_skip(Network::Offline).await else { return };
//! browser.goto(&format!("{base}/v1/docs")).await?;            // Deref to fantoccini::Client
//! browser.wait_for_text("List employees").await?;
//! assert_eq!(browser.left_loopback().await?, Vec::<String>::new()); // nothing past 127.0.0.1
//! browser.close().await;
//! ```
//!
//! Each [`Browser`] owns its chromedriver (on a free port), a Chromium with a fresh profile
//! directory, and, with [`Network::Offline`], a resolver that knows only loopback and a sink proxy
//! that refuses every request bound elsewhere. What the page asked for is read from Chromium's own
//! network log (chromedriver's performance log), so [`Browser::left_loopback`] lists the page's
//! outside requests, blocked or not, and not Chromium's calls home. Chromedriver and every Chromium process run in their own
//! process group, which is killed when the `Browser` drops, so a panicking test leaves no
//! orphans behind.
//!
//! Binaries: `CHROMEDRIVER` and `CHROMIUM` name them explicitly; otherwise `chromedriver` and
//! `chromium` (then `chromium-browser`, `google-chrome`) are looked up on `PATH`. Debian's
//! packages are `chromium` and `chromium-driver`.

use std::ffi::OsString;
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// How long chromedriver may take to listen and Chromium to open a session on a loaded
/// two-core CI box; generous because a slow start is not what the tests examine.
const STARTUP_DEADLINE: Duration = Duration::from_secs(60);

/// How many times a browser is started before a failure to open its first session counts.
const SESSION_ATTEMPTS: u32 = 3;

/// Chromium features that call home (network time, optimisation hints, translation, sign-in,
/// search preconnects) and would otherwise appear among a page's outside requests.
const QUIET_FEATURES: &str = "NetworkTimeServiceQuerying,OptimizationHints,OptimizationGuideModelDownloading,\
Translate,MediaRouter,DialMediaRouteProvider,CertificateTransparencyComponentUpdater,\
InterestFeedContentSuggestions,AutofillServerCommunication,PrivacySandboxSettings4,\
LensOverlay,HttpsUpgrades,SafeBrowsingEnhancedProtection,PreconnectToSearch,\
SpareRendererForSitePerProcess,AccountConsistency";

/// Whether the browser may reach beyond 127.0.0.1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Network {
    /// No request leaves loopback: names other than 127.0.0.1/localhost do not resolve, and
    /// every non-loopback request (IP literals included) goes to a sink proxy that refuses it.
    Offline,
    /// The machine's own network, as a user's browser would have.
    Online,
}

#[derive(Debug, thiserror::Error)]
pub enum BrowserError {
    #[error("{0} not found (set {1} or install Debian's chromium and chromium-driver)")]
    Missing(&'static str, &'static str),
    #[error("could not start {what}: {source}")]
    Spawn {
        what: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("chromedriver exited before it listened ({0})")]
    DriverExited(std::process::ExitStatus),
    #[error("chromedriver did not listen within {0:?}")]
    DriverTimeout(Duration),
    #[error("chromedriver could not open a Chromium session: {0}")]
    Session(#[from] fantoccini::error::NewSessionError),
    #[error("{0}")]
    Command(#[from] fantoccini::error::CmdError),
    #[error("timed out after {0:?} waiting for {1}")]
    Timeout(Duration, String),
}

/// A running headless Chromium. Derefs to the [`fantoccini::Client`] that drives it.
pub struct Browser {
    client: Client,
    driver: ProcessGroup,
    sink: Option<Sink>,
    // Every URL the page requested so far; chromedriver hands each log entry out only once.
    requested: Mutex<Vec<String>>,
    // Held so the profile lives as long as Chromium; removed on drop.
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts chromedriver and Chromium. A missing binary skips the test with one `SKIPPED` line
    /// (`None`), or fails it when `TRIBUTARY_REQUIRE_SERVICES` is set, as in CI. Any other
    /// failure to start panics: the browser is there but broken.
    pub async fn launch_or_skip(network: Network) -> Option<Self> {
        match Self::launch(network).await {
            Ok(browser) => Some(browser),
            Err(e @ BrowserError::Missing(..)) if !services_required() => {
                eprintln!("SKIPPED: {e}");
                None
            }
            Err(e) => panic!("headless Chromium is required but could not start: {e}"),
        }
    }

    pub async fn launch(network: Network) -> Result<Self, BrowserError> {
        let chromedriver = find_binary("CHROMEDRIVER", &["chromedriver"])
            .ok_or(BrowserError::Missing("chromedriver", "CHROMEDRIVER"))?;
        // Debian's /usr/bin/chromium is a shell wrapper that adds Google API keys (sign-in
        // traffic) and extensions; the binary behind it starts clean.
        let chromium = find_binary(
            "CHROMIUM",
            &[
                "/usr/lib/chromium/chromium",
                "chromium",
                "chromium-browser",
                "google-chrome",
            ],
        )
        .ok_or(BrowserError::Missing("chromium", "CHROMIUM"))?;

        let sink = match network {
            Network::Offline => Some(Sink::start().await.map_err(|source| BrowserError::Spawn {
                what: "the sink proxy",
                source,
            })?),
            Network::Online => None,
        };

        let mut args = vec![
            "--headless=new".to_owned(),
            // Containers run tests as root, where Chromium's sandbox cannot start.
            "--no-sandbox".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            "--disable-gpu".to_owned(),
            "--window-size=1280,1024".to_owned(),
            "--no-first-run".to_owned(),
            "--no-default-browser-check".to_owned(),
            // Chromium's own calls home would otherwise show up among (or add to) the page's
            // requests.
            "--disable-background-networking".to_owned(),
            "--disable-component-update".to_owned(),
            "--disable-component-extensions-with-background-pages".to_owned(),
            "--disable-extensions".to_owned(),
            "--disable-domain-reliability".to_owned(),
            "--disable-sync".to_owned(),
            "--disable-client-side-phishing-detection".to_owned(),
            "--disable-default-apps".to_owned(),
            "--disable-field-trial-config".to_owned(),
            "--disable-search-engine-choice-screen".to_owned(),
            "--disable-breakpad".to_owned(),
            "--no-pings".to_owned(),
            "--no-service-autorun".to_owned(),
            "--metrics-recording-only".to_owned(),
            "--password-store=basic".to_owned(),
            format!("--disable-features={QUIET_FEATURES}"),
        ];
        if let Some(sink) = &sink {
            args.push("--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost".to_owned());
            // Loopback is implicitly exempt from a proxy, so this catches exactly what would
            // leave the machine, even by IP literal (which the resolver rule cannot).
            args.push(format!("--proxy-server=http://127.0.0.1:{}", sink.port));
        }
        // A Chromium that dies while its first session opens (seen once on a freshly installed
        // Chromium on a loaded machine: "webdriver server did not respond") is started again,
        // with a new driver and profile; a browser that cannot start at all still fails.
        let mut attempt = 1;
        let (client, driver, profile) = loop {
            let profile = tempfile::Builder::new()
                .prefix("tributary-chromium-")
                .tempdir()
                .map_err(|source| BrowserError::Spawn {
                    what: "a profile directory",
                    source,
                })?;
            let mut args = args.clone();
            args.push(format!("--user-data-dir={}", profile.path().display()));
            let capabilities = serde_json::json!({
                "browserName": "chrome",
                "goog:loggingPrefs": { "performance": "ALL" },
                "goog:chromeOptions": {
                    "binary": chromium,
                    "args": args,
                    "perfLoggingPrefs": { "enableNetwork": true, "enablePage": false },
                },
            });
            let serde_json::Value::Object(capabilities) = capabilities else {
                unreachable!("built as an object")
            };
            let (mut driver, port) = start_driver(&chromedriver).await?;
            match ClientBuilder::new(HttpConnector::new())
                .capabilities(capabilities)
                .connect(&format!("http://127.0.0.1:{port}"))
                .await
            {
                Ok(client) => break (client, driver, profile),
                Err(e) if attempt < SESSION_ATTEMPTS => {
                    eprintln!("chromedriver could not open a session (attempt {attempt} of {SESSION_ATTEMPTS}): {e}");
                    driver.kill();
                    attempt += 1;
                }
                Err(e) => {
                    driver.kill();
                    return Err(e.into());
                }
            }
        };
        Ok(Self {
            client,
            driver,
            sink,
            requested: Mutex::new(Vec::new()),
            _profile: profile,
        })
    }

    /// Every URL the page has requested since launch (documents, scripts, styles, images,
    /// fetches, sockets), in order, whether or not it was answered.
    pub async fn requested_urls(&self) -> Result<Vec<String>, BrowserError> {
        let entries = self.client.issue_cmd(PerformanceLog).await?;
        let mut requested = self.requested.lock().expect("request log");
        for entry in entries.as_array().into_iter().flatten() {
            let Some(message) = entry["message"].as_str() else {
                continue;
            };
            let Ok(event) = serde_json::from_str::<serde_json::Value>(message) else {
                continue;
            };
            let event = &event["message"];
            let url = match event["method"].as_str() {
                Some("Network.requestWillBeSent") => &event["params"]["request"]["url"],
                Some("Network.webSocketCreated") => &event["params"]["url"],
                _ => continue,
            };
            if let Some(url) = url.as_str() {
                requested.push(url.to_owned());
            }
        }
        Ok(requested.clone())
    }

    /// The page's requests bound beyond 127.0.0.1/localhost (refused when offline), in order.
    /// Only network schemes count: `data:`, `blob:`, `about:` and `chrome:` (the new-tab page
    /// Chromium shows before the first `goto`) never touch the network.
    pub async fn left_loopback(&self) -> Result<Vec<String>, BrowserError> {
        Ok(self
            .requested_urls()
            .await?
            .into_iter()
            .filter(|raw| match url::Url::parse(raw) {
                Ok(url) => match url.scheme() {
                    "http" | "https" | "ws" | "wss" | "ftp" => {
                        !matches!(
                            url.host(),
                            Some(url::Host::Ipv4(ip)) if ip.is_loopback()
                        ) && !matches!(url.host(), Some(url::Host::Ipv6(ip)) if ip.is_loopback())
                            && url.host_str() != Some("localhost")
                    }
                    _ => false,
                },
                Err(_) => true,
            })
            .collect())
    }

    /// The process group of chromedriver and Chromium, killed on drop.
    pub fn process_group(&self) -> i32 {
        self.driver.0.id() as i32
    }

    /// Polls until the page's visible text (`document.body.innerText`) contains `needle`, or
    /// fails after a generous deadline, reporting what the page showed.
    pub async fn wait_for_text(&self, needle: &str) -> Result<(), BrowserError> {
        let deadline = Instant::now() + STARTUP_DEADLINE;
        loop {
            let text = self.visible_text().await?;
            if text.contains(needle) {
                return Ok(());
            }
            if Instant::now() > deadline {
                let shown: String = text.chars().take(2_000).collect();
                return Err(BrowserError::Timeout(
                    STARTUP_DEADLINE,
                    format!("{needle:?} on the page; it showed: {shown:?}"),
                ));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The page's rendered, visible text.
    pub async fn visible_text(&self) -> Result<String, BrowserError> {
        let text = self
            .client
            .execute("return document.body ? document.body.innerText : ''", vec![])
            .await?;
        Ok(text.as_str().unwrap_or_default().to_owned())
    }

    /// Ends the WebDriver session (Chromium quits), then stops chromedriver. Dropping without
    /// calling this is also safe: the process group is killed either way.
    pub async fn close(self) {
        // Best effort: whatever the session says, the drop below kills what is left.
        let _ = self.client.clone().close().await;
    }
}

impl Deref for Browser {
    type Target = Client;
    fn deref(&self) -> &Client {
        &self.client
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        self.driver.kill();
        if let Some(sink) = &self.sink {
            sink.task.abort();
        }
    }
}

fn services_required() -> bool {
    std::env::var_os("TRIBUTARY_REQUIRE_SERVICES").is_some_and(|v| !v.is_empty() && v != "0")
}

fn find_binary(var: &str, names: &[&str]) -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(var).filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(path)).filter(|p| is_executable(p));
    }
    let path = std::env::var_os("PATH").unwrap_or_else(|| OsString::from("/usr/bin:/bin"));
    names.iter().find_map(|name| {
        if name.starts_with('/') {
            return Some(PathBuf::from(name)).filter(|p| is_executable(p));
        }
        std::env::split_paths(&path)
            .map(|dir| dir.join(name))
            .find(|candidate| is_executable(candidate))
    })
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Chromedriver in a process group of its own; Chromium and its helpers, started by
/// chromedriver, join that group, so one `killpg` ends them all.
struct ProcessGroup(Child);

impl ProcessGroup {
    fn kill(&mut self) {
        let pgid = self.0.id() as libc::pid_t;
        // SAFETY: killpg has no memory-safety preconditions; the group is ours (process_group(0)
        // made chromedriver its leader) and still reserved, since the leader is not yet reaped.
        unsafe {
            libc::killpg(pgid, libc::SIGKILL);
        }
        let _ = self.0.wait();
    }
}

/// Starts chromedriver on a free port. Another process may take the port between our probe and
/// chromedriver's bind, so a driver that exits early is retried on a fresh port.
async fn start_driver(binary: &Path) -> Result<(ProcessGroup, u16), BrowserError> {
    use std::os::unix::process::CommandExt;
    let mut last = None;
    for _ in 0..3 {
        let port = free_port().map_err(|source| BrowserError::Spawn {
            what: "a free port",
            source,
        })?;
        let child = Command::new(binary)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .env_remove("GOOGLE_API_KEY")
            .env_remove("GOOGLE_DEFAULT_CLIENT_ID")
            .env_remove("GOOGLE_DEFAULT_CLIENT_SECRET")
            .process_group(0)
            .spawn()
            .map_err(|source| BrowserError::Spawn {
                what: "chromedriver",
                source,
            })?;
        let mut driver = ProcessGroup(child);
        match wait_listening(&mut driver, port).await {
            Ok(()) => return Ok((driver, port)),
            Err(e @ BrowserError::DriverExited(_)) => {
                driver.kill();
                last = Some(e);
            }
            Err(e) => {
                driver.kill();
                return Err(e);
            }
        }
    }
    Err(last.expect("three attempts"))
}

fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

async fn wait_listening(driver: &mut ProcessGroup, port: u16) -> Result<(), BrowserError> {
    let deadline = Instant::now() + STARTUP_DEADLINE;
    loop {
        if let Ok(Some(status)) = driver.0.try_wait() {
            return Err(BrowserError::DriverExited(status));
        }
        if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(BrowserError::DriverTimeout(STARTUP_DEADLINE));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// chromedriver's `POST /session/{id}/se/log` for the performance log: the DevTools events
/// buffered since the last call.
#[derive(Debug)]
struct PerformanceLog;

impl fantoccini::wd::WebDriverCompatibleCommand for PerformanceLog {
    fn endpoint(&self, base_url: &url::Url, session_id: Option<&str>) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!("session/{}/se/log", session_id.unwrap_or_default()))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(r#"{"type":"performance"}"#.to_owned()))
    }
}

/// The offline browser's proxy: it refuses whatever reaches it (`CONNECT host:443` for HTTPS,
/// `GET http://host/...` for plain HTTP). Its log of targets helps when debugging a page, but
/// Chromium's own calls home land there too, so tests assert on [`Browser::left_loopback`].
struct Sink {
    port: u16,
    task: JoinHandle<()>,
}

impl Sink {
    async fn start() -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut stream = BufReader::new(stream);
                    let mut line = String::new();
                    // The request line is read so the refusal reads as an HTTP answer.
                    let _ = stream.read_line(&mut line).await;
                    let _ = stream
                        .get_mut()
                        .write_all(b"HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                        .await;
                });
            }
        });
        Ok(Self { port, task })
    }
}
