//! The headless-Chromium harness itself (`tributary_tests::browser`): it renders a page served
//! on loopback, refuses and records whatever the page sends beyond 127.0.0.1 when offline, and
//! leaves no process behind.

use std::time::{Duration, Instant};

use axum::Router;
use axum::response::Html;
use axum::routing::get;
use tributary_tests::browser::{Browser, Network};

/// A page that renders text from a script and then tries three ways out: a CDN script by
/// name, an image by IP literal, and a fetch.
const PAGE: &str = r#"<!doctype html>
<html><body>
<p id="static">served from loopback</p>
<script>document.body.insertAdjacentHTML('beforeend', '<p>rendered by script</p>')</script>
<script src="https://cdn.jsdelivr.net/npm/example@1/x.js"></script>
<img src="http://203.0.113.7/pixel.png">
<script>fetch('https://api.example.com/data').catch(() => {})</script>
</body></html>"#;

async fn serve(page: &'static str) -> String {
    let app = Router::new()
        .route("/", get(move || async move { Html(page) }))
        .route("/quiet", get(|| async { Html("<p>nothing leaves</p>") }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

async fn poll<T>(what: &str, mut probe: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(found) = probe().await {
            return found;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn offline_browser_renders_loopback_and_records_every_request_beyond_it() {
    let Some(browser) = Browser::launch_or_skip(Network::Offline).await else {
        return;
    };
    let base = serve(PAGE).await;

    browser.goto(&format!("{base}/quiet")).await.unwrap();
    browser.wait_for_text("nothing leaves").await.unwrap();
    assert_eq!(browser.left_loopback().await.unwrap(), Vec::<String>::new());

    browser.goto(&format!("{base}/")).await.unwrap();
    browser.wait_for_text("rendered by script").await.unwrap();
    let seen = poll("the three outside requests", async || {
        let seen = browser.left_loopback().await.unwrap();
        (seen.len() >= 3).then_some(seen)
    })
    .await;
    for expected in [
        "https://cdn.jsdelivr.net/npm/example@1/x.js",
        "http://203.0.113.7/pixel.png",
        "https://api.example.com/data",
    ] {
        assert!(seen.iter().any(|s| s == expected), "{expected} not among {seen:?}");
    }
    browser.close().await;
}

/// This machine's address on its outside interface, if it has one: reachable without leaving
/// the machine, yet not loopback, so it tells an offline browser from one that merely has no
/// route out. (Connecting a UDP socket sends nothing; it only picks the source address.)
fn outside_address() -> Option<std::net::IpAddr> {
    let socket = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    socket.connect("192.0.2.1:9").ok()?;
    Some(socket.local_addr().ok()?.ip()).filter(|ip| !ip.is_loopback() && !ip.is_unspecified())
}

/// Serves on every interface; the page fetches itself by the outside address and shows what
/// happened.
async fn fetch_by_outside_address(network: Network) -> Option<String> {
    let Some(ip) = outside_address() else {
        eprintln!("SKIPPED: this machine has no non-loopback address to try");
        return None;
    };
    let browser = Browser::launch_or_skip(network).await?;
    let listener = tokio::net::TcpListener::bind("0.0.0.0:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let app = Router::new()
        .route(
            "/",
            get(|| async {
                Html(
                    r#"<p id="out">pending</p><script>
            fetch(location.search.slice(1)).then(r => r.text()).then(
                t => document.body.insertAdjacentText('beforeend', 'fetched: ' + t),
                e => document.body.insertAdjacentText('beforeend', 'refused: ' + e))
            </script>"#,
                )
            }),
        )
        .route("/outside", get(|| async { "the outside address answered" }))
        .layer(axum::middleware::from_fn(
            |req, next: axum::middleware::Next| async move {
                let mut res = next.run(req).await;
                res.headers_mut()
                    .insert("access-control-allow-origin", "*".parse().unwrap());
                res
            },
        ));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    browser
        .goto(&format!("http://127.0.0.1:{port}/?http://{ip}:{port}/outside"))
        .await
        .unwrap();
    let shown = poll("the fetch to settle", async || {
        let text = browser.visible_text().await.unwrap();
        (text.contains("fetched:") || text.contains("refused:")).then_some(text)
    })
    .await;
    let left = browser.left_loopback().await.unwrap();
    assert_eq!(left, vec![format!("http://{ip}:{port}/outside")]);
    browser.close().await;
    Some(shown)
}

#[tokio::test]
async fn offline_means_an_ip_literal_beyond_loopback_is_refused_too() {
    let Some(shown) = fetch_by_outside_address(Network::Offline).await else {
        return;
    };
    assert!(shown.contains("refused:"), "the page showed {shown:?}");
}

#[tokio::test]
async fn online_the_same_fetch_is_answered() {
    let Some(shown) = fetch_by_outside_address(Network::Online).await else {
        return;
    };
    assert!(
        shown.contains("fetched: the outside address answered"),
        "the page showed {shown:?}"
    );
}

/// Members of the process group led by chromedriver, found through /proc.
fn group_members(pgid: i32) -> Vec<i32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
                // Fields after the parenthesised command: state ppid pgrp ...
                let rest = &stat[stat.rfind(')').map_or(0, |i| i + 1)..];
                let fields: Vec<&str> = rest.split_whitespace().collect();
                fields.get(2).and_then(|g| g.parse::<i32>().ok()) == Some(pgid) && fields.first() != Some(&"Z")
            })
        })
        .collect()
}

#[tokio::test]
async fn a_panicking_test_leaves_no_chromium_behind() {
    let Some(browser) = Browser::launch_or_skip(Network::Online).await else {
        return;
    };
    let pgid = browser.process_group();
    let base = serve(PAGE).await;
    browser.goto(&format!("{base}/quiet")).await.unwrap();
    // chromedriver plus Chromium's browser, renderer and helper processes.
    let members = group_members(pgid);
    assert!(
        members.len() > 2,
        "expected chromedriver and Chromium in group {pgid}, found {members:?}"
    );

    let outcome = tokio::spawn(async move {
        let _browser = browser;
        panic!("a test fails while the browser is open");
    })
    .await;
    assert!(outcome.unwrap_err().is_panic());
    // SIGKILL is delivered asynchronously; the group must empty soon after the drop.
    poll("the process group to empty", async || {
        group_members(pgid).is_empty().then_some(())
    })
    .await;
}
