//! Every benchmark scenario at tiny sizes (`tributary-bench smoke`), so a scenario that no
//! longer runs fails CI rather than the next person who measures. Numbers are not checked here:
//! timings belong in the benchmarks themselves. What is checked is that each scenario finished,
//! verified its own invariants (a re-sync that writes nothing, every job consumed, every
//! webhook received, …, each fails the run otherwise) and wrote its report.

use std::path::PathBuf;
use std::process::Command;

/// The `tributary` binary the scenarios start as worker, gateway and scheduler processes:
/// built beside this test's binary by `cargo test --workspace`; built here otherwise.
fn tributary_binary() -> PathBuf {
    let bench = PathBuf::from(env!("CARGO_BIN_EXE_tributary-bench"));
    let path = bench.with_file_name("tributary");
    if !path.is_file() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut build = Command::new(cargo);
        build.args(["build", "-p", "tributary"]);
        if !cfg!(debug_assertions) {
            build.arg("--release");
        }
        let status = build.status().expect("cargo runs");
        assert!(status.success(), "building the tributary binary failed");
    }
    path
}

#[test]
fn every_scenario_runs_at_tiny_sizes() {
    let services = Command::new("pg_isready")
        .args(["-q", "-h", "127.0.0.1", "-p", "5432"])
        .status()
        .is_ok_and(|s| s.success())
        && Command::new("redis-cli")
            .args(["-h", "127.0.0.1", "ping"])
            .output()
            .is_ok_and(|o| o.status.success());
    if !services {
        assert!(
            std::env::var_os("TRIBUTARY_REQUIRE_SERVICES").is_none(),
            "Postgres or Redis is not running and TRIBUTARY_REQUIRE_SERVICES is set"
        );
        eprintln!("skipped: Postgres or Redis is not running");
        return;
    }
    let out = std::env::temp_dir().join(format!("tributary-bench-smoke-{}", std::process::id()));
    let output = Command::new(env!("CARGO_BIN_EXE_tributary-bench"))
        .args(["smoke", "--out"])
        .arg(&out)
        .env("TRIBUTARY_BIN", tributary_binary())
        .output()
        .expect("tributary-bench runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "smoke failed\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
    );
    for scenario in ["ingest", "delta", "fleet", "webhooks"] {
        let report = out.join(format!("{scenario}.md"));
        let text = std::fs::read_to_string(&report).unwrap_or_else(|e| panic!("{}: {e}\n{stdout}", report.display()));
        assert!(text.contains("| --- |"), "{scenario}.md has no table:\n{text}");
    }
    if !stdout.contains("smoke: gateway skipped") {
        let text = std::fs::read_to_string(out.join("gateway.md")).expect("gateway.md");
        assert!(text.contains("| --- |"), "gateway.md has no table:\n{text}");
    }
    std::fs::remove_dir_all(&out).ok();
}
