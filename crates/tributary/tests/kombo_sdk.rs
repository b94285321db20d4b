//! The real client: the official `kombo` Python SDK from PyPI (pinned in
//! `tests/sdk/requirements.txt`) drives `tributary serve` through the pytest suite in
//! `tests/sdk/`: every list endpoint, pagination past 1,000 records, filters, `updated_after`
//! and `include_deleted` after changes in the simulated tools, force-sync, integration
//! details and the error cases, every response parsed by the SDK's models.
//!
//! The official TypeScript SDK (`@kombo-api/sdk` from npm, pinned in `tests/sdk/ts/package.json`
//! and its committed lockfile) does the same through `tests/sdk/ts/kombo_sdk.test.mjs`, run by
//! `node --test` against a stack of its own.
//!
//! Skipped (with a SKIPPED line) without Postgres, python3 or node, unless
//! TRIBUTARY_REQUIRE_SERVICES is set, as in CI, which makes either a failure.
//! `KOMBO_SDK_PYTEST_ARGS` passes extra arguments to pytest (e.g. `-k employees -x`).

mod kombo_sdk {
    pub mod compare;
    pub mod node;
    pub mod process;
    pub mod python;
    pub mod stack;
}

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use kombo_sdk::node::{ensure_node_modules, node_version};
use kombo_sdk::python::{ensure_venv, python3_version};
use kombo_sdk::stack::{ATS_ID, EMPLOYEES, FOREIGN_ID, HRIS_ID, Stack};
use tributary_store::testing::services_required;

/// The first FULL syncs of 1,100 employees and the proportional ATS take seconds; minutes
/// means something is stuck.
const FIRST_SYNCS_WITHIN: Duration = Duration::from_secs(300);
/// The whole pytest run, the syncs it triggers included.
const PYTEST_WITHIN: Duration = Duration::from_secs(900);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kombo_python_sdk_against_the_gateway() {
    let python_version = match python3_version() {
        Ok(v) => v,
        Err(why) => return skip(&why),
    };
    let workspace = workspace_root();
    let requirements = workspace.join("tests/sdk/requirements.txt");

    let started = Instant::now();
    let mut stack = match Stack::start().await {
        Ok(stack) => stack,
        Err(why) => return skip(&why),
    };
    // The virtualenv (about 15 s cold with PyPI reachable, nothing warm) builds while the first
    // syncs run.
    let venv = tokio::task::spawn_blocking(move || {
        let at = Instant::now();
        ensure_venv(&requirements, &python_version).map(|python| (python, at.elapsed()))
    });
    stack.wait_first_syncs(FIRST_SYNCS_WITHIN).await;
    eprintln!("kombo_sdk: first syncs done after {:?}", started.elapsed());
    let counts = stack.expected_counts().await;
    assert!(
        counts["/hris/employees"] >= 1_000,
        "{} employees in the mirror; the simulator has {EMPLOYEES}",
        counts["/hris/employees"]
    );

    let (python, venv_took) = venv
        .await
        .expect("venv task")
        .unwrap_or_else(|e| panic!("the SDK's virtualenv: {e}"));
    eprintln!("kombo_sdk: virtualenv ready in {venv_took:?} at {}", python.display());

    let pytest_started = Instant::now();
    let output = pytest(&python, &workspace, &stack, &serde_json::to_string(&counts).unwrap()).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    eprintln!("kombo_sdk: pytest took {:?}", pytest_started.elapsed());
    assert!(
        output.status.success(),
        "the kombo SDK suite failed ({}):\n{stdout}\n{stderr}\n----- tributary serve (last lines) -----\n{}",
        output.status,
        stack.log_tail(80)
    );
    // Passing output too, so a run shows what was exercised (`--nocapture`).
    println!("{stdout}");
    assert_stored_equals_live(&stack, 100).await;
}

/// Every list page the SDK read from stored renderings was, byte for byte, the page a gateway
/// rendering live gave for the same request (see `kombo_sdk/compare.rs`); and stored renderings
/// there were (the serving process's syncs wrote them), so the comparison compared something.
async fn assert_stored_equals_live(stack: &Stack, at_least: usize) {
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM rendered WHERE body IS NOT NULL")
        .fetch_one(stack.store.pool())
        .await
        .expect("count stored renderings");
    assert!(stored >= 1_000, "only {stored} stored renderings in the mirror");
    let report = stack.comparison();
    assert!(
        report.differences.is_empty(),
        "{} of {} list pages differ from the live rendering:\n{}",
        report.differences.len(),
        report.compared,
        report.differences.join("\n")
    );
    assert!(
        report.compared >= at_least,
        "only {} list pages were compared with the live rendering",
        report.compared
    );
    eprintln!("kombo_sdk: {} list pages equal to the live rendering", report.compared);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kombo_typescript_sdk_against_the_gateway() {
    let node = match node_version() {
        Ok(v) => v,
        Err(why) => return skip(&why),
    };
    let workspace = workspace_root();
    let sdk_dir = workspace.join("tests/sdk/ts");
    let mut stack = match Stack::start().await {
        Ok(stack) => stack,
        Err(why) => return skip(&why),
    };
    // npm ci (a few seconds with the registry reachable) runs while the first syncs do.
    let modules = tokio::task::spawn_blocking(move || ensure_node_modules(&sdk_dir, &node));
    stack.wait_first_syncs(FIRST_SYNCS_WITHIN).await;
    let counts = stack.expected_counts().await;
    let dir = modules
        .await
        .expect("npm task")
        .unwrap_or_else(|e| panic!("the SDK's node_modules: {e}"));

    let child = tokio::process::Command::new("node")
        .args(["--test", "--test-reporter=spec", "kombo_sdk.test.mjs"])
        .current_dir(&dir)
        .env("TRIBUTARY_URL", &stack.url)
        .env("TRIBUTARY_API_KEY", &stack.api_key)
        .env("TRIBUTARY_OTHER_ENV_API_KEY", &stack.other_env_api_key)
        .env("HRIS_INTEGRATION_ID", HRIS_ID)
        .env("ATS_INTEGRATION_ID", ATS_ID)
        .env("FOREIGN_INTEGRATION_ID", FOREIGN_ID)
        .env("EXPECTED_COUNTS", serde_json::to_string(&counts).unwrap())
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("node starts");
    let output = match tokio::time::timeout(PYTEST_WITHIN, child.wait_with_output()).await {
        Ok(output) => output.expect("node runs"),
        Err(_) => panic!("node --test did not finish within {PYTEST_WITHIN:?}"),
    };
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the TypeScript SDK suite failed ({}):\n{stdout}\n{stderr}\n----- tributary serve (last lines) -----\n{}",
        output.status,
        stack.log_tail(80)
    );
    // Node's summary: a suite that ran nothing is no pass.
    let passed = stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("ℹ pass "))
        .and_then(|n| n.trim().parse::<u32>().ok())
        .unwrap_or(0);
    assert!(passed >= 30, "only {passed} cases passed:\n{stdout}");
    println!("{stdout}");
    assert_stored_equals_live(&stack, 50).await;
}

async fn pytest(python: &Path, workspace: &Path, stack: &Stack, counts: &str) -> std::process::Output {
    let child = tokio::process::Command::new(python)
        .args([
            "-m",
            "pytest",
            "tests/sdk",
            "-v",
            "-rfE",
            "-p",
            "no:cacheprovider",
            "--tb=short",
        ])
        // e.g. KOMBO_SDK_PYTEST_ARGS="-k employees -x" while working on one endpoint.
        .args(
            std::env::var("KOMBO_SDK_PYTEST_ARGS")
                .unwrap_or_default()
                .split_whitespace(),
        )
        .current_dir(workspace)
        .env("TRIBUTARY_URL", &stack.url)
        .env("TRIBUTARY_API_KEY", &stack.api_key)
        .env("TRIBUTARY_OTHER_ENV_API_KEY", &stack.other_env_api_key)
        .env("HRIS_INTEGRATION_ID", HRIS_ID)
        .env("ATS_INTEGRATION_ID", ATS_ID)
        .env("FOREIGN_INTEGRATION_ID", FOREIGN_ID)
        .env("SIM_URL", stack.sim.control_url().trim_end_matches("/_control"))
        .env("EXPECTED_COUNTS", counts)
        // The SDK falls back to $INTEGRATION_ID for clients made without one.
        .env_remove("INTEGRATION_ID")
        // Everything here is on loopback; a proxy from the environment must not see it.
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("pytest starts");
    match tokio::time::timeout(PYTEST_WITHIN, child.wait_with_output()).await {
        Ok(output) => output.expect("pytest runs"),
        Err(_) => panic!(
            "pytest did not finish within {PYTEST_WITHIN:?}\n----- tributary serve (last lines) -----\n{}",
            stack.log_tail(80)
        ),
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("workspace root")
}

fn skip(why: &str) {
    if services_required() {
        panic!("services are required (TRIBUTARY_REQUIRE_SERVICES) but: {why}");
    }
    eprintln!("SKIPPED: {why}");
}
