//! `tributary serve` with nothing configured: every role in one process, on SQLite and
//! in-memory queues.

use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::support::{embedded_personio, embedded_tributary as tributary, free_port};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_embedded_schedules_syncs_and_serves() {
    let (_sim, dir, key) = embedded_personio("serve", 50).await;

    let port = free_port();
    let log = dir.join("serve.log");
    let mut serve = tributary(&dir)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--tick-secs", "0.2"])
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(std::fs::File::create(dir.join("serve.err")).unwrap())
        .stdin(Stdio::null())
        .spawn()
        .expect("serve starts");

    // The scheduler gives the new integration its schedules (due at once) and the worker runs
    // its first FULL: the read API then serves every employee.
    let client = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    let start = Instant::now();
    loop {
        let got = client
            .get(format!("{base}/v1/hris/employees?page_size=100"))
            .bearer_auth(&key)
            .header("X-Integration-Id", "personio:acme")
            .send()
            .await;
        if let Ok(r) = got
            && r.status().is_success()
        {
            let body: serde_json::Value = r.json().await.unwrap();
            if body["data"]["results"].as_array().map(Vec::len) == Some(50) {
                break;
            }
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no synced employees after 60 s: {}",
            std::fs::read_to_string(dir.join("serve.err")).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // The operator API of the same process sees the run finish (the employees stream came
    // first; the absence streams follow).
    let start = Instant::now();
    loop {
        let runs: serde_json::Value = client
            .get(format!("{base}/ops/v1/integrations/personio:acme/syncs"))
            .bearer_auth("admin-secret")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let runs = runs["data"]["results"].as_array().cloned().unwrap_or_default();
        if runs
            .iter()
            .any(|r| r["sync_type"] == "FULL" && r["state"] == "SUCCEEDED")
        {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(60), "no FULL succeeded: {runs:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let queues = client
        .get(format!("{base}/ops/v1/queues"))
        .bearer_auth("admin-secret")
        .send()
        .await
        .unwrap();
    assert_eq!(queues.status(), 200);

    // SIGTERM: a clean exit.
    let pid = serve.id().expect("running");
    std::process::Command::new("kill")
        .arg("-TERM")
        .arg(pid.to_string())
        .status()
        .unwrap();
    let status = tokio::time::timeout(Duration::from_secs(30), serve.wait())
        .await
        .expect("serve exits after SIGTERM")
        .unwrap();
    assert!(status.success(), "{status:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The embedded mode (SQLite, in-memory queues, scheduler in the same process): a DELTA forced
/// through `POST /v1/force-sync` runs once and leaves the schedules as they were, however often
/// it is forced (the Postgres fleet's twin is in `schedulers.rs`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_embedded_forced_delta_runs_once_and_leaves_the_schedule_alone() {
    let (_sim, dir, key) = embedded_personio("serve-forced", 50).await;
    let port = free_port();
    let _serve = tributary(&dir)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--tick-secs", "0.2"])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("serve.err")).unwrap())
        .stdin(Stdio::null())
        .spawn()
        .expect("serve starts");
    let client = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    let ops = |path: &str| {
        let request = client
            .get(format!("{base}/ops/v1/integrations/personio:acme/{path}"))
            .bearer_auth("admin-secret");
        async move {
            match request.send().await {
                Ok(r) if r.status().is_success() => r.json::<serde_json::Value>().await.ok(),
                _ => None,
            }
        }
    };
    let runs = || async {
        ops("syncs?limit=100")
            .await
            .and_then(|v| v["data"]["results"].as_array().cloned())
            .unwrap_or_default()
    };
    let ended = |r: &serde_json::Value| {
        [
            "SUCCEEDED",
            "FAILED",
            "CANCELLED",
            "PARTIALLY_FAILED",
            "AUTHENTICATION_FAILED",
        ]
        .contains(&r["state"].as_str().unwrap_or(""))
    };

    // The first FULL, scheduled at once for the new integration.
    let start = Instant::now();
    loop {
        let all = runs().await;
        if all
            .iter()
            .any(|r| r["sync_type"] == "FULL" && r["state"] == "SUCCEEDED")
            && all.iter().all(ended)
        {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no FULL succeeded: {all:?}\n{}",
            std::fs::read_to_string(dir.join("serve.err")).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let schedules = || async {
        ops("schedules").await.expect("schedules")["data"]["results"]
            .as_array()
            .expect("results")
            .iter()
            .map(|s| {
                (
                    s["sync_type"].clone(),
                    s["next_due_at"].clone(),
                    s["last_claimed_at"].clone(),
                )
            })
            .collect::<Vec<_>>()
    };
    let before = schedules().await;
    let runs_before = runs().await.len();

    const FORCES: usize = 8;
    let mut forced = Vec::new();
    for i in 0..FORCES {
        let reply: serde_json::Value = client
            .post(format!("{base}/v1/force-sync"))
            .bearer_auth(&key)
            .header("X-Integration-Id", "personio:acme")
            .json(&serde_json::json!({"type": "DELTA"}))
            .send()
            .await
            .expect("force-sync")
            .json()
            .await
            .expect("JSON");
        assert_eq!(reply["data"]["already_queued"], false, "force {i}: {reply}");
        let id = reply["data"]["sync_id"].as_str().expect("sync_id").to_owned();
        let start = Instant::now();
        loop {
            let all = runs().await;
            if all.iter().any(|r| r["id"] == id.as_str() && r["state"] == "SUCCEEDED") {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "forced DELTA {id} never succeeded: {all:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        forced.push(id);
        // Several scheduler ticks with the forced run ended: time for a claim.
        tokio::time::sleep(Duration::from_millis(700)).await;
    }
    let all = runs().await;
    let unrequested: Vec<_> = all
        .iter()
        .take(all.len() - runs_before)
        .filter(|r| !forced.iter().any(|f| r["id"] == f.as_str()))
        .collect();
    assert!(unrequested.is_empty(), "runs nobody asked for: {unrequested:#?}");
    assert_eq!(all.len(), runs_before + FORCES, "one run per force");
    assert_eq!(schedules().await, before, "the schedules are as they were");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `--ops-listen`: the operator API answers on its own listener (with request ids and the
/// envelope, as on the public one) and nowhere else; the read API stays on `--listen`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_with_ops_listen_keeps_the_operator_api_off_the_public_listener() {
    let dir = std::env::temp_dir().join(format!("tributary-serve-ops-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let (public, ops) = (free_port(), free_port());
    let _serve = tributary(&dir)
        .args(["serve", "--listen", &format!("127.0.0.1:{public}")])
        .args(["--ops-listen", &format!("127.0.0.1:{ops}")])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("serve.err")).unwrap())
        .stdin(Stdio::null())
        .spawn()
        .expect("serve starts");
    let client = reqwest::Client::new();
    let (public, ops) = (format!("http://127.0.0.1:{public}"), format!("http://127.0.0.1:{ops}"));
    let get = |url: String, token: Option<&'static str>| {
        let mut request = client.get(url);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        async move { request.send().await }
    };
    let start = Instant::now();
    let queues = loop {
        if let Ok(r) = get(format!("{ops}/ops/v1/queues"), Some("admin-secret")).await {
            break r;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the operator listener did not answer within 60 s: {}",
            std::fs::read_to_string(dir.join("serve.err")).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(queues.status(), 200);
    assert!(queues.headers().contains_key("x-request-id"));
    let anonymous = get(format!("{ops}/ops/v1/queues"), None).await.unwrap();
    assert_eq!(anonymous.status(), 401);
    // The read API is not on the operator listener, and the operator API not on the public one.
    let wait_public = Instant::now();
    while get(format!("{public}/health"), None).await.is_err() {
        assert!(
            wait_public.elapsed() < Duration::from_secs(60),
            "the public listener did not answer"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // `/metrics` and the console follow the operator API onto its listener.
    let metrics = get(format!("{ops}/metrics"), None).await.unwrap();
    assert_eq!(metrics.status(), 200);
    assert!(
        metrics.text().await.unwrap().contains("# TYPE tributary_"),
        "a Prometheus exposition"
    );
    let console = get(format!("{ops}/ops/sign-in"), None).await.unwrap();
    assert_eq!(console.status(), 200);
    for (url, token) in [
        (format!("{public}/ops/v1/queues"), "admin-secret"),
        (format!("{public}/ops/v1/openapi.json"), "admin-secret"),
        (format!("{public}/metrics"), "admin-secret"),
        (format!("{public}/ops/sign-in"), "admin-secret"),
        (format!("{ops}/v1/hris/employees"), "any-key"),
    ] {
        let response = get(url.clone(), Some(token)).await.unwrap();
        assert_eq!(response.status(), 404, "{url}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["status"], "error", "{url}: {body}");
    }
    assert_eq!(get(format!("{public}/health"), None).await.unwrap().status(), 200);
    let _ = std::fs::remove_dir_all(&dir);
}

/// `tributary gateway` has no operator API without Redis, so `--ops-listen` there is a
/// mistake worth refusing at start.
#[tokio::test]
async fn gateway_refuses_ops_listen_without_the_fleet() {
    let dir = std::env::temp_dir().join(format!("tributary-gateway-ops-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let out = tributary(&dir)
        .args(["gateway", "--listen", &format!("127.0.0.1:{}", free_port())])
        .args(["--ops-listen", &format!("127.0.0.1:{}", free_port())])
        .output()
        .await
        .expect("gateway runs");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--ops-listen") && stderr.contains("REDIS_URL"),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
