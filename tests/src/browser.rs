//! A real headless Chromium for tests of web pages, driven over WebDriver: Debian's
//! `chromium` through its `chromedriver`, started on a free port for the test and stopped
//! with it. Tests drive it with [`fantoccini`] (re-exported) and see what a user sees.

use std::process::Stdio;
use std::time::{Duration, Instant};

pub use fantoccini;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;
use tokio::process::{Child, Command};

/// Where Debian installs them; `CHROMEDRIVER` and `CHROMIUM` override.
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";

/// Generous: a loaded 2-core CI box starts Chromium slowly.
const START_WITHIN: Duration = Duration::from_secs(60);

pub struct Browser {
    pub client: Client,
    driver: Child,
}

fn skip(why: &str) -> Option<Browser> {
    if std::env::var_os("TRIBUTARY_REQUIRE_SERVICES").is_some() {
        panic!("TRIBUTARY_REQUIRE_SERVICES is set but {why}");
    }
    eprintln!("skipping: {why}");
    None
}

impl Browser {
    /// A headless Chromium with a 1400×1000 window; `None` (test skipped) when chromedriver
    /// or Chromium is missing, unless TRIBUTARY_REQUIRE_SERVICES is set.
    pub async fn start() -> Option<Browser> {
        let driver_path = std::env::var("CHROMEDRIVER").unwrap_or_else(|_| CHROMEDRIVER.to_owned());
        let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| CHROMIUM.to_owned());
        if !std::path::Path::new(&driver_path).exists() || !std::path::Path::new(&chromium).exists() {
            return skip(&format!("no {driver_path} or {chromium}"));
        }
        let port = {
            let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
            probe.local_addr().expect("its address").port()
        };
        let driver = Command::new(&driver_path)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("chromedriver starts");
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": chromium,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--window-size=1400,1000", "--no-first-run", "--disable-extensions"],
            }),
        );
        let url = format!("http://127.0.0.1:{port}");
        let start = Instant::now();
        let client = loop {
            match ClientBuilder::new(HttpConnector::new())
                .capabilities(capabilities.clone())
                .connect(&url)
                .await
            {
                Ok(client) => break client,
                Err(e) => {
                    assert!(start.elapsed() < START_WITHIN, "no WebDriver session within {START_WITHIN:?}: {e}");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        };
        Some(Browser { client, driver })
    }

    /// Polls the element's text until `check` holds; its text then. Fails after `within`
    /// with the last text seen (or why none was).
    pub async fn wait_text(&self, css: &str, within: Duration, what: &str, check: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        let mut last = String::from("(no such element)");
        loop {
            if let Ok(element) = self.client.find(Locator::Css(css)).await
                && let Ok(text) = element.text().await
            {
                if check(&text) {
                    return text;
                }
                last = text;
            }
            assert!(
                start.elapsed() < within,
                "{what}: `{css}` never matched within {within:?}; last text: {last}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Clicks the element once it is there.
    pub async fn click(&self, css: &str) {
        let element = self
            .client
            .wait()
            .at_most(Duration::from_secs(30))
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no `{css}` to click: {e}"));
        element.click().await.unwrap_or_else(|e| panic!("cannot click `{css}`: {e}"));
    }

    /// A PNG of the viewport to `path`, when `TRIBUTARY_SCREENSHOTS=1` (the committed
    /// screenshots are made this way).
    pub async fn screenshot(&self, path: &std::path::Path) {
        if std::env::var("TRIBUTARY_SCREENSHOTS").as_deref() != Ok("1") {
            return;
        }
        let png = self.client.screenshot().await.expect("screenshot");
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).expect("screenshot dir");
        }
        std::fs::write(path, png).expect("screenshot written");
    }

    /// Ends the session and stops chromedriver.
    pub async fn close(mut self) {
        let _ = self.client.close().await;
        let _ = self.driver.kill().await;
    }
}
