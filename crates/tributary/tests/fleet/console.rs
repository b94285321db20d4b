//! The operator console (`/ops/`) in a real headless Chromium, against `tributary serve` on
//! Postgres and Redis, the simulator slowed down so a FULL runs long enough to steer: sign in
//! (a wrong token refused), watch a running sync's counts move without a reload, pause and
//! resume it, trigger a DELTA and see the FULL pause for it and resume, create and revoke an
//! API key, find a dead webhook delivery and redeliver it. With `TRIBUTARY_SCREENSHOTS=1` it
//! saves a screenshot of each page to docs/console/.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use fantoccini::Locator;
use serde_json::{Value, json};
use tributary_model::{PauseReason, RunState, SyncType, ToolKind};
use tributary_sim::{FaultAction, FaultRule};
use tributary_store::{DeliveryFilter, DeliveryState};
use tributary_tests::browser::{Browser, Network};

use crate::support::Stack;

const TOKEN: &str = "console-admin-token-0123456789";
/// Generous: everything here waits on a slowed source and a browser on a loaded box.
const WITHIN: Duration = Duration::from_secs(90);

/// A number shown in a cell.
fn number(text: &str) -> i64 {
    text.trim().parse().unwrap_or_else(|_| panic!("not a number: `{text}`"))
}

/// `tributary serve` with the admin token on a free port; its base URL once it answers.
async fn serve(s: &mut Stack) -> String {
    let port = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
        probe.local_addr().expect("its address").port()
    };
    let listen = format!("127.0.0.1:{port}");
    s.spawn(
        "serve",
        "console",
        &[
            "--admin-token",
            TOKEN,
            "--listen",
            &listen,
            "--tick-secs",
            "0.2",
            "--reconcile-secs",
            "0.5",
            "--lease-ttl-secs",
            "3",
            "--source-rps",
            "100000",
            "--webhook-poll-ms",
            "100",
        ],
    );
    let base = format!("http://{listen}");
    let client = reqwest::Client::new();
    s.wait_until(Duration::from_secs(30), "serve answers", || {
        let url = format!("{base}/ops/sign-in");
        let client = client.clone();
        async move { client.get(url).send().await.is_ok_and(|r| r.status().is_success()) }
    })
    .await;
    base
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_steers_the_fleet_from_the_console() {
    let Some(mut s) = Stack::start(&[ToolKind::Personio], 5000).await else {
        return;
    };
    // Offline: the console must need nothing beyond the process serving it.
    let Some(browser) = Browser::launch_or_skip(Network::Offline).await else {
        return;
    };
    let browser = Page(browser);
    let id = s.integration(ToolKind::Personio, "acme", true).await;
    let base = serve(&mut s).await;
    // A first FULL at full speed, so that a DELTA has a "since".
    let first = s.trigger(&id, SyncType::Full).await;
    let first = s.wait_ended(&first.run.id, WITHIN).await;
    assert_eq!(first.state, RunState::Succeeded, "{:?}", first.error);
    // Then four seconds a page: 50 employee pages keep a FULL running for the whole test,
    // and a DELTA's page takes long enough to see the FULL wait for it.
    s.sim.state.set_latency(ToolKind::Personio, 4000);
    s.sim
        .state
        .add_fault(FaultRule {
            query_contains: Some("updated_since".into()),
            ..FaultRule::new(ToolKind::Personio, FaultAction::Latency { ms: 10_000 })
        })
        .expect("fault installed");
    let api = reqwest::Client::new();

    // A webhook endpoint nobody listens at: every delivery to it fails.
    let closed = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
        probe.local_addr().expect("its address").port()
    };
    let endpoint: Value = api
        .post(format!("{base}/ops/v1/webhooks/endpoints"))
        .bearer_auth(TOKEN)
        .json(&json!({"environment": "test", "url": format!("http://127.0.0.1:{closed}/hooks"), "event_types": ["sync-finished"]}))
        .send()
        .await
        .expect("endpoint created")
        .json()
        .await
        .expect("endpoint JSON");
    let endpoint_id = endpoint["data"]["id"].as_str().expect("endpoint id").to_owned();

    let c = &*browser.0;

    // Signing in: a page asked for without a session leads to the form; a wrong token is
    // refused there, the right one lands on the overview.
    c.goto(&format!("{base}/ops/integrations")).await.expect("goto");
    assert!(c.current_url().await.unwrap().path().ends_with("/ops/sign-in"));
    browser.screenshot("sign-in").await;
    let field = c.find(Locator::Id("token")).await.expect("token field");
    field.send_keys("not-the-token").await.expect("type");
    browser.click("#sign-in").await;
    let refused = browser
        .wait_text("#sign-in-error", WITHIN, "a wrong token is refused", |t| !t.is_empty())
        .await;
    assert!(refused.contains("wrong"), "{refused}");
    let field = c.find(Locator::Id("token")).await.expect("token field");
    field.send_keys(TOKEN).await.expect("type");
    browser.click("#sign-in").await;
    browser
        .wait_text("h1", WITHIN, "signed in to the overview", |t| t == "Overview")
        .await;
    // The session cookie is out of scripts' reach and does not carry the token.
    let visible: Value = c.execute("return document.cookie", vec![]).await.expect("cookie");
    assert!(
        !visible.as_str().unwrap_or_default().contains("tributary_console"),
        "{visible}"
    );
    let cookie = c.get_named_cookie("tributary_console").await.expect("session cookie");
    assert!(!cookie.value().contains(TOKEN));
    assert_eq!(cookie.http_only(), Some(true));

    // A manual FULL from the integration's page, which leads to the run.
    browser.click("#nav-integrations").await;
    browser
        .wait_text("#integrations", WITHIN, "the integration listed", |t| t.contains(&id))
        .await;
    let health = browser
        .wait_text("#integrations .health", WITHIN, "its health", |t| !t.is_empty())
        .await;
    assert_eq!(health, "healthy", "the first FULL succeeded moments ago");
    browser.screenshot("integrations").await;
    browser
        .click(&format!("#integrations a[href='/ops/integrations/{id}']"))
        .await;
    browser.click("#trigger-FULL").await;
    browser
        .wait_text("h1", WITHIN, "the FULL's page", |t| t.starts_with("FULL run"))
        .await;
    let url = c.current_url().await.expect("url");
    let full_id = url.path().rsplit('/').next().expect("run id").to_owned();
    let full_page = format!("{base}/ops/runs/{full_id}");
    browser
        .wait_reloading(&full_page, "#run-state", "the FULL runs", |t| t.starts_with("RUNNING"))
        .await;
    assert_eq!(s.run(&full_id).await.sync_type, SyncType::Full);

    // The overview's counts move while the page stays loaded (no reload: the marker set in
    // the page survives).
    browser.click("#nav-overview").await;
    let pages_cell = format!("#open-runs [data-run-id='{full_id}'] [data-field='pages']");
    let before = number(
        &browser
            .wait_text(&pages_cell, WITHIN, "the FULL listed", |_| true)
            .await,
    );
    c.execute("window.consoleMarker = 'still here'; return null", vec![])
        .await
        .expect("marker");
    let after = number(
        &browser
            .wait_text(&pages_cell, WITHIN, "pages count moves", |t| {
                t.trim().parse::<i64>().is_ok_and(|n| n > before)
            })
            .await,
    );
    assert!(after > before);
    let marker: Value = c.execute("return window.consoleMarker", vec![]).await.expect("marker");
    assert_eq!(marker, json!("still here"), "the page was not reloaded");
    browser
        .wait_text("#live-status", WITHIN, "live updates on", |t| t.starts_with("on"))
        .await;
    // Nothing was asked of anywhere but the console itself.
    assert_eq!(
        browser.0.left_loopback().await.expect("request log"),
        Vec::<String>::new()
    );
    let failures = browser.wait_text("#failures", WITHIN, "the failures", |_| true).await;
    assert!(failures.contains("No run failed"), "{failures}");
    browser.screenshot("overview").await;

    // Pause and resume from the run's page.
    c.goto(&format!("{base}/ops/runs/{full_id}")).await.expect("goto");
    browser.click("#pause").await;
    browser
        .wait_text("#notice", WITHIN, "the pause acknowledged", |t| {
            t.contains("Pause requested") || t.contains("paused")
        })
        .await;
    browser
        .wait_reloading(&full_page, "#run-state", "paused by the operator", |t| {
            t.contains("PAUSED") && t.contains("OPERATOR")
        })
        .await;
    let paused = s.run(&full_id).await;
    assert_eq!(
        (paused.state, paused.pause_reason),
        (RunState::Paused, Some(PauseReason::Operator))
    );
    browser.click("#resume").await;
    browser
        .wait_reloading(&full_page, "#run-state", "running again", |t| t.starts_with("RUNNING"))
        .await;

    // A DELTA preempts the FULL, which pauses for it and then resumes.
    c.goto(&format!("{base}/ops/integrations/{id}")).await.expect("goto");
    browser.click("#trigger-DELTA").await;
    browser
        .wait_text("h1", WITHIN, "the DELTA's page", |t| t.starts_with("DELTA run"))
        .await;
    let delta_id = c
        .current_url()
        .await
        .expect("url")
        .path()
        .rsplit('/')
        .next()
        .expect("run id")
        .to_owned();
    browser
        .wait_reloading(&full_page, "#run-state", "the FULL preempted", |t| {
            t.contains("PAUSED") && t.contains("PREEMPTED")
        })
        .await;
    let by = browser
        .wait_text("#preempted-by", WITHIN, "preempter shown", |_| true)
        .await;
    assert!(by.contains(&delta_id), "{by}");
    browser.screenshot("run").await;
    browser
        .wait_reloading(&full_page, "#run-state", "the FULL resumed after the DELTA", |t| {
            t.starts_with("RUNNING") || t.starts_with("SUCCEEDED")
        })
        .await;
    assert_eq!(s.run(&delta_id).await.state, RunState::Succeeded);
    c.goto(&format!("{base}/ops/integrations/{id}")).await.expect("goto");
    browser
        .wait_text("#timeline", WITHIN, "both runs on the timeline", |t| {
            t.contains(&full_id) && t.contains(&delta_id)
        })
        .await;
    // Its DELTA schedule paused and resumed from there.
    let schedule_state = "[data-schedule='DELTA'] [data-field='schedule-state']";
    browser.click("#pause-schedule-DELTA").await;
    browser
        .wait_text(schedule_state, WITHIN, "DELTA schedule paused", |t| t == "paused")
        .await;
    browser
        .wait_text("#notice", WITHIN, "told so", |t| t.contains("paused"))
        .await;
    browser.screenshot("integration").await;
    browser.click("#resume-schedule-DELTA").await;
    browser
        .wait_text(schedule_state, WITHIN, "DELTA schedule resumed", |t| t == "active")
        .await;

    // The runs search: by type, and a page at a time.
    browser.click("#nav-runs").await;
    c.find(Locator::Id("filter-integration"))
        .await
        .expect("integration filter")
        .send_keys(&id)
        .await
        .expect("type");
    c.find(Locator::Id("filter-type"))
        .await
        .expect("type filter")
        .select_by_value("DELTA")
        .await
        .expect("DELTA chosen");
    browser.click("#search").await;
    let found = browser
        .wait_text("#runs", WITHIN, "the DELTA found", |t| t.contains(&delta_id))
        .await;
    assert!(!found.contains(&full_id), "a FULL among DELTAs: {found}");
    browser.screenshot("runs").await;
    c.goto(&format!("{base}/ops/runs?integration_id={id}&limit=1"))
        .await
        .expect("goto");
    let first = browser.wait_text("#runs tbody", WITHIN, "a first page", |_| true).await;
    browser.click("#next").await;
    let second = browser
        .wait_text("#runs tbody", WITHIN, "a second page", |t| t != first)
        .await;
    assert_eq!(first.lines().count(), second.lines().count(), "one run a page");

    // An API key created (shown once) works on the read API until it is revoked.
    browser.click("#nav-api-keys").await;
    let label = c.find(Locator::Id("label")).await.expect("label field");
    label.send_keys("console-test").await.expect("type");
    let environment = c.find(Locator::Id("environment")).await.expect("environment field");
    environment.clear().await.expect("clear");
    environment.send_keys("test").await.expect("type");
    browser.click("#create").await;
    let key = browser
        .wait_text("#new-key", WITHIN, "the new key shown", |t| t.starts_with("trb_"))
        .await;
    let key_id = browser.wait_text("#new-key-id", WITHIN, "its id", |_| true).await;
    browser.screenshot("api-keys").await;
    let read = |key: String| {
        let api = api.clone();
        let url = format!("{base}/v1/hris/employees?page_size=1");
        let id = id.clone();
        async move {
            api.get(url)
                .bearer_auth(key)
                .header("X-Integration-Id", id)
                .send()
                .await
                .expect("read API answers")
                .status()
        }
    };
    assert!(read(key.clone()).await.is_success());
    browser
        .click(&format!("#keys [data-key-id='{key_id}'] button.revoke"))
        .await;
    browser
        .wait_text("#notice", WITHIN, "revoked", |t| t.contains("revoked"))
        .await;
    assert_eq!(read(key).await.as_u16(), 401);

    // The DELTA's sync-finished event failed to reach the closed endpoint. Aged past its
    // 24-hour retry window, its next failure makes it dead.
    let filter = DeliveryFilter {
        endpoint_id: Some(endpoint_id.clone()),
        limit: 10,
        ..DeliveryFilter::default()
    };
    let store = s.store.clone();
    s.wait_until(WITHIN, "a failed delivery", || {
        let (store, filter) = (store.clone(), filter.clone());
        async move {
            store
                .list_deliveries(&filter)
                .await
                .is_ok_and(|d| d.iter().any(|d| d.attempts >= 1))
        }
    })
    .await;
    let delivery = store
        .list_deliveries(&filter)
        .await
        .expect("deliveries")
        .into_iter()
        .find(|d| d.attempts >= 1)
        .expect("a failed delivery");
    let db = sqlx::PgPool::connect(s.database_url()).await.expect("database");
    sqlx::query("UPDATE webhook_events SET created_at = now() - interval '25 hours' WHERE id = $1")
        .bind(&delivery.event_id)
        .execute(&db)
        .await
        .expect("event aged");
    sqlx::query("UPDATE webhook_deliveries SET next_attempt_at = now() WHERE id = $1")
        .bind(&delivery.id)
        .execute(&db)
        .await
        .expect("due now");
    s.wait_until(WITHIN, "the delivery dead", || {
        let (store, id) = (store.clone(), delivery.id.clone());
        async move {
            store
                .get_delivery(&id)
                .await
                .ok()
                .flatten()
                .is_some_and(|d| d.state == DeliveryState::Dead)
        }
    })
    .await;
    let dead_attempts = store.get_delivery(&delivery.id).await.unwrap().unwrap().attempts;

    // The operator finds it among the dead letters and redelivers it: one more attempt
    // (which fails again, the endpoint still closed, and the delivery is dead again).
    browser.click("#nav-webhooks").await;
    let row = format!("#dead-letters [data-delivery-id='{}']", delivery.id);
    browser
        .wait_text(&row, WITHIN, "the dead delivery listed", |_| true)
        .await;
    browser.screenshot("webhooks").await;
    browser.click(&format!("{row} button.redeliver")).await;
    browser
        .wait_text("#notice", WITHIN, "redelivery queued", |t| t.contains("sent again"))
        .await;
    let start = Instant::now();
    loop {
        c.goto(&format!("{base}/ops/webhooks")).await.expect("goto");
        if let Ok(cell) = c.find(Locator::Css(&format!("{row} td.num"))).await
            && cell.text().await.is_ok_and(|t| number(&t) > i64::from(dead_attempts))
        {
            break;
        }
        assert!(
            start.elapsed() < WITHIN,
            "the redelivery was never attempted\n{}",
            s.all_logs()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    // The tool revokes our credentials: a DELTA fails, the overview lists it among the last
    // day's failures, and from its page the operator retries it once access is back.
    s.sim.state.set_revoked(ToolKind::Personio, true);
    let failing: Value = api
        .post(format!("{base}/ops/v1/integrations/{id}/syncs"))
        .bearer_auth(TOKEN)
        .json(&json!({"sync_type": "DELTA"}))
        .send()
        .await
        .expect("DELTA triggered")
        .json()
        .await
        .expect("trigger JSON");
    let failed_id = failing["data"]["sync_id"].as_str().expect("run id").to_owned();
    let failed = s
        .wait_run(&failed_id, WITHIN, "failed", |r| r.state.is_terminal())
        .await;
    assert_eq!(failed.state, RunState::AuthenticationFailed, "{:?}", failed.error);
    s.sim.state.set_revoked(ToolKind::Personio, false);
    browser.click("#nav-overview").await;
    browser
        .wait_text("#failures", WITHIN, "the failure listed", |t| t.contains(&failed_id))
        .await;
    browser
        .click(&format!("#failures a[href='/ops/runs/{failed_id}']"))
        .await;
    browser.click("#retry").await;
    browser
        .wait_text("#notice", WITHIN, "the retry queued", |t| t.contains("retries"))
        .await;
    let retry_id = c
        .current_url()
        .await
        .expect("url")
        .path()
        .rsplit('/')
        .next()
        .expect("run id")
        .to_owned();
    assert_ne!(retry_id, failed_id);
    assert_eq!(s.run(&retry_id).await.sync_type, SyncType::Delta);

    // Signing out ends the session: pages lead to the form again.
    browser.click("#sign-out").await;
    // The click only submits the form: wait for its answer (the sign-in page) before leaving.
    browser
        .wait_text("#sign-in", WITHIN, "the sign-in form after signing out", |t| {
            t.contains("Sign in")
        })
        .await;
    c.goto(&format!("{base}/ops/")).await.expect("goto");
    assert!(c.current_url().await.unwrap().path().ends_with("/ops/sign-in"));
    browser.0.close().await;
}

/// The harness's browser with the waits and clicks this test repeats.
struct Page(Browser);

impl Page {
    /// Polls the element's text until `check` holds; its text then. Fails after `within`
    /// with the last text seen.
    async fn wait_text(&self, css: &str, within: Duration, what: &str, check: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        let mut last = String::from("(no such element)");
        loop {
            if let Ok(element) = self.0.find(Locator::Css(css)).await
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

    /// Loads `url` again and again until the element's text satisfies `check`: what an
    /// operator sees on a fresh look, whatever the live updates did.
    async fn wait_reloading(&self, url: &str, css: &str, what: &str, check: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        let mut last = String::from("(no such element)");
        loop {
            self.0.goto(url).await.expect("page loads");
            if let Ok(element) = self.0.find(Locator::Css(css)).await
                && let Ok(text) = element.text().await
            {
                if check(&text) {
                    return text;
                }
                last = text;
            }
            assert!(
                start.elapsed() < WITHIN,
                "{what}: `{css}` on {url} never matched within {WITHIN:?}; last text: {last}"
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Clicks the element once it is there.
    async fn click(&self, css: &str) {
        let element = self
            .0
            .wait()
            .at_most(WITHIN)
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no `{css}` to click: {e}"));
        element
            .click()
            .await
            .unwrap_or_else(|e| panic!("cannot click `{css}`: {e}"));
    }

    /// A PNG of the window to docs/console/<name>.png when `TRIBUTARY_SCREENSHOTS=1`: how the
    /// committed screenshots are made.
    async fn screenshot(&self, name: &str) {
        if std::env::var("TRIBUTARY_SCREENSHOTS").as_deref() != Ok("1") {
            return;
        }
        let png = self.0.screenshot().await.expect("screenshot");
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../docs/console")
            .join(format!("{name}.png"));
        std::fs::create_dir_all(path.parent().expect("a directory")).expect("screenshot directory");
        std::fs::write(path, png).expect("screenshot written");
    }
}
