//! The binary as an operator meets it: a command line clap cannot parse exits 2; every other
//! failure ends in one clear line and exit code 1; the everyday commands work end to end
//! against the simulator, listings print as columns or as one JSON document, completions are
//! generated for every shell, and `sync` draws a progress bar on a terminal.

use std::process::{Command, Output};

use tributary_model::ToolKind;
use tributary_sim::{SimConfig, Simulator};

fn tributary(data_dir: &std::path::Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tributary"));
    cmd.args(args)
        .env("TRIBUTARY_DATA_DIR", data_dir)
        .env_remove("DATABASE_URL")
        .env_remove("TRIBUTARY_SECRET_KEY")
        .env_remove("TRIBUTARY_CREDENTIALS");
    cmd
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("tributary-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// A runtime error: exit code 1 and exactly one line on stderr, containing `needle`.
fn assert_one_line_error(out: Output, needle: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr: {stderr}");
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one line, got: {stderr}");
    assert!(
        lines[0].starts_with("error: ") && lines[0].contains(needle),
        "{needle:?} in {stderr}"
    );
}

#[test]
fn unknown_tool_is_named() {
    let dir = temp_dir("tool");
    let out = tributary(
        &dir,
        &[
            "integration",
            "create",
            "workday:acme",
            "--base-url",
            "https://x.example",
            "--credentials",
            "{}",
        ],
    )
    .output()
    .unwrap();
    assert_one_line_error(out, "unknown tool `workday`");
}

/// Harvest v1/v2 keys stopped working on 31 August 2026: the CLI says so, and what to create.
#[test]
fn greenhouse_v1_keys_are_refused_with_the_way_to_v3() {
    let dir = temp_dir("gh-v1");
    let out = tributary(
        &dir,
        &[
            "integration",
            "create",
            "greenhouse:acme",
            "--base-url",
            "https://harvest.greenhouse.io",
            "--credentials",
            r#"{"api_key": "hunter2"}"#,
        ],
    )
    .output()
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!stderr.contains("hunter2"), "{stderr}");
    assert_one_line_error(out, "31 August 2026");
    assert!(
        stderr.contains("Harvest V3 (OAuth)") && stderr.contains("client_secret"),
        "{stderr}"
    );
}

#[test]
fn bad_base_url_is_named() {
    let dir = temp_dir("url");
    let out = tributary(
        &dir,
        &[
            "integration",
            "create",
            "personio:acme",
            "--base-url",
            "ftp//nope",
            "--credentials",
            "{}",
        ],
    )
    .output()
    .unwrap();
    assert_one_line_error(out, "base URL `ftp//nope`");
}

#[test]
fn credentials_must_be_json() {
    let dir = temp_dir("creds");
    let out = tributary(
        &dir,
        &[
            "integration",
            "create",
            "personio:acme",
            "--base-url",
            "https://api.personio.de",
            "--credentials",
            "client_id=1",
        ],
    )
    .output()
    .unwrap();
    assert_one_line_error(out, "credentials are not valid JSON");
}

#[test]
fn database_url_must_be_postgres() {
    let dir = temp_dir("scheme");
    let out = tributary(&dir, &["migrate"])
        .env("DATABASE_URL", "mysql://root@127.0.0.1/x")
        .output()
        .unwrap();
    assert_one_line_error(out, "DATABASE_URL must be a postgres:// URL");
}

#[test]
fn secret_key_is_required_with_postgres() {
    let dir = temp_dir("key");
    let out = tributary(&dir, &["migrate"])
        .env("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
        .output()
        .unwrap();
    assert_one_line_error(out, "TRIBUTARY_SECRET_KEY is required");
}

#[test]
fn unreachable_database_is_named_without_its_password() {
    let dir = temp_dir("unreachable");
    let out = tributary(&dir, &["migrate"])
        .env("DATABASE_URL", "postgres://app:hunter2@127.0.0.1:1/mirror")
        .env("TRIBUTARY_SECRET_KEY", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!stderr.contains("hunter2"), "the password leaked: {stderr}");
    assert_one_line_error(
        out,
        "cannot connect to the database at postgres://app:***@127.0.0.1:1/mirror",
    );
}

#[test]
fn taken_port_is_named() {
    let dir = temp_dir("port");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = tributary(&dir, &["demo", "--listen", &addr]).output().unwrap();
    assert_one_line_error(out, &format!("cannot listen on {addr}"));
}

#[test]
fn fleet_roles_need_redis_and_postgres() {
    let dir = temp_dir("fleet");
    for role in ["worker", "scheduler"] {
        let out = tributary(&dir, &[role]).env_remove("REDIS_URL").output().unwrap();
        assert_one_line_error(out, "needs REDIS_URL");
        let out = tributary(&dir, &[role])
            .env("REDIS_URL", "redis://127.0.0.1:1")
            .output()
            .unwrap();
        assert_one_line_error(out, "needs DATABASE_URL");
    }
    let out = tributary(&dir, &["worker", "--concurrency", "0"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = tributary(&dir, &["serve", "--lease-ttl-secs", "-1"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

/// Exit 2 only for what clap refuses (unknown flags, missing or malformed arguments); a
/// command that parsed and then failed exits 1, with its one line.
#[test]
fn usage_errors_exit_2_and_runtime_errors_exit_1() {
    let dir = temp_dir("codes");
    for args in [
        vec!["--no-such-flag"],
        vec!["runs"],
        vec!["runs", "personio:acme", "--output", "yaml"],
        vec!["runs", "personio:acme", "--limit", "0"],
        vec!["integration", "list", "--output"],
        vec!["completions", "tcsh"],
        vec!["no-such-command"],
    ] {
        let out = tributary(&dir, &args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.starts_with("error: "), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
    for (args, needle) in [
        (
            vec!["runs", "personio:nobody"],
            "integration `personio:nobody` not found",
        ),
        (
            vec!["sync", "personio:nobody"],
            "integration `personio:nobody` not found",
        ),
        (
            vec!["integration", "delete", "personio:nobody"],
            "integration `personio:nobody` not found",
        ),
        (vec!["api-key", "revoke", "nope"], "api key `nope` not found"),
    ] {
        let out = tributary(&dir, &args).env("TRIBUTARY_LOG", "warn").output().unwrap();
        assert_one_line_error(out, needle);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// `tributary completions <shell>` for every shell clap_complete knows; bash's script is
/// checked by bash itself and completes the subcommands.
#[test]
fn completions_for_every_shell() {
    let dir = temp_dir("completions");
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let out = tributary(&dir, &["completions", shell]).output().unwrap();
        assert!(
            out.status.success(),
            "{shell}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let script = String::from_utf8_lossy(&out.stdout);
        for word in ["tributary", "integration", "runs", "completions", "output"] {
            assert!(script.contains(word), "{shell} script lacks {word}");
        }
    }
    let out = tributary(&dir, &["completions", "bash"]).output().unwrap();
    let script = dir.join("tributary.bash");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(&script, &out.stdout).unwrap();
    // Source the script, then ask it what follows `tributary integration l`.
    let probe = format!(
        "source {}; COMP_WORDS=(tributary integration l); COMP_CWORD=2; COMP_LINE='tributary integration l'; \
         COMP_POINT=${{#COMP_LINE}}; _tributary tributary l integration; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        script.display()
    );
    match Command::new("bash").args(["--norc", "-c", &probe]).output() {
        Ok(out) => {
            let replies = String::from_utf8_lossy(&out.stdout);
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            assert_eq!(replies.split_whitespace().collect::<Vec<_>>(), ["list"], "{replies}");
        }
        Err(e) => eprintln!("SKIPPED the bash check: {e}"),
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn every_subcommand_has_help() {
    let dir = temp_dir("help");
    for args in [
        vec!["--help"],
        vec!["demo", "--help"],
        vec!["sim", "--help"],
        vec!["migrate", "--help"],
        vec!["sync", "--help"],
        vec!["runs", "--help"],
        vec!["integration", "--help"],
        vec!["integration", "create", "--help"],
        vec!["integration", "scope", "--help"],
        vec!["api-key", "create", "--help"],
        vec!["gateway", "--help"],
        vec!["scheduler", "--help"],
        vec!["worker", "--help"],
        vec!["serve", "--help"],
        vec!["completions", "--help"],
    ] {
        let out = tributary(&dir, &args).output().unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains("Usage:"), "{args:?}");
    }
}

/// Connect a simulated tool, sync it twice, read its runs: the embedded path an operator
/// takes, through the binary.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_sync_and_list_runs() {
    let dir = temp_dir("flow");
    let sim = Simulator::start(
        SimConfig {
            employees: 20,
            tools: vec![ToolKind::Personio],
            ..SimConfig::default()
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    std::fs::create_dir_all(&dir).unwrap();
    let creds = dir.join("creds.json");
    std::fs::write(&creds, sim.integration_credentials(ToolKind::Personio).to_string()).unwrap();
    let base = sim.base_url(ToolKind::Personio);
    let run = |args: Vec<String>| {
        let dir = dir.clone();
        tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            tributary(&dir, &args).env("TRIBUTARY_LOG", "warn").output().unwrap()
        })
    };
    let out = run(vec![
        "integration".into(),
        "create".into(),
        "personio:acme".into(),
        "--base-url".into(),
        base,
        "--credentials-file".into(),
        creds.display().to_string(),
    ])
    .await
    .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let out = run(vec!["sync".into(), "personio:acme".into()]).await.unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("personio:acme FULL SUCCEEDED"),
        "the schedule picks FULL first: {stdout}"
    );

    let out = run(vec!["sync".into(), "personio:acme".into()]).await.unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        stdout.contains("personio:acme DELTA SUCCEEDED") && stdout.contains(" 0 created, 0 updated, 0 deleted"),
        "then DELTA, with nothing new: {stdout}"
    );

    let out = run(vec![
        "runs".into(),
        "personio:acme".into(),
        "--output".into(),
        "json".into(),
    ])
    .await
    .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let runs: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).expect("one JSON document");
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0]["sync_type"], "DELTA");
    assert_eq!(runs[1]["sync_type"], "FULL");
    assert_eq!(runs[1]["state"], "SUCCEEDED");
    assert!(runs[1]["counts"]["created"].as_i64().unwrap() > 0, "{}", runs[1]);

    let out = run(vec!["runs".into(), "personio:acme".into()]).await.unwrap();
    let table = String::from_utf8_lossy(&out.stdout).to_string();
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 3, "a header and two runs: {table}");
    assert!(lines[0].starts_with("RUN ") && lines[0].contains("STATE"), "{table}");
    let (first, second) = (lines[1], lines[2]);
    assert!(first.contains("DELTA") && first.contains("SUCCEEDED"), "{table}");
    assert!(second.contains("FULL") && second.contains("SUCCEEDED"), "{table}");
    // Columns line up: each field starts where its header does.
    let state_at = lines[0].find("STATE").unwrap();
    assert_eq!(
        first[state_at..].split_whitespace().next(),
        Some("SUCCEEDED"),
        "{table}"
    );
    assert_eq!(
        second[state_at..].split_whitespace().next(),
        Some("SUCCEEDED"),
        "{table}"
    );

    let out = run(vec!["integration".into(), "list".into()]).await.unwrap();
    let listed = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        listed.starts_with("ID ") && listed.contains("personio:acme") && !listed.contains("sim-personio-secret"),
        "listed without credentials: {listed}"
    );
    let out = run(vec!["integration".into(), "list".into(), "-o".into(), "json".into()])
        .await
        .unwrap();
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON document");
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed}");
    assert_eq!(listed[0]["id"], "personio:acme");
    assert_eq!(listed[0]["tool"], "personio");
    assert_eq!(listed[0]["environment"], "default");
    assert!(
        !listed.to_string().contains("sim-personio-secret") && listed[0].get("credentials").is_none(),
        "{listed}"
    );
    for file in ["tributary.db", "tributary.db-wal"] {
        let bytes = std::fs::read(dir.join(file)).unwrap_or_default();
        assert!(
            !String::from_utf8_lossy(&bytes).contains("sim-personio-secret"),
            "credentials are encrypted at rest ({file})"
        );
    }
    sim.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// `tributary sync` on a terminal (a pty from util-linux's `script`) draws its bar on stderr,
/// with pages, records and their rate, and still ends with the summary line; piped, it prints
/// the plain lines and no bar.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_draws_a_progress_bar_on_a_terminal_only() {
    if Command::new("script").arg("--version").output().is_err() {
        assert!(
            std::env::var_os("TRIBUTARY_REQUIRE_SERVICES").is_none(),
            "util-linux's `script` is required (TRIBUTARY_REQUIRE_SERVICES)"
        );
        eprintln!("SKIPPED: no `script` (util-linux) to give the binary a terminal");
        return;
    }
    let dir = temp_dir("bar");
    let sim = Simulator::start(
        SimConfig {
            employees: 40,
            tools: vec![ToolKind::Personio],
            // Slow enough that the bar is drawn between pages.
            latency: std::time::Duration::from_millis(150),
            ..SimConfig::default()
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    std::fs::create_dir_all(&dir).unwrap();
    let creds = dir.join("creds.json");
    std::fs::write(&creds, sim.integration_credentials(ToolKind::Personio).to_string()).unwrap();
    let created = tributary(
        &dir,
        &[
            "integration",
            "create",
            "personio:acme",
            "--base-url",
            &sim.base_url(ToolKind::Personio),
            "--credentials-file",
            creds.to_str().unwrap(),
        ],
    )
    .output()
    .unwrap();
    assert!(created.status.success(), "{}", String::from_utf8_lossy(&created.stderr));

    let bin = env!("CARGO_BIN_EXE_tributary");
    let tty_dir = dir.clone();
    let on_tty = tokio::task::spawn_blocking(move || {
        Command::new("script")
            .args(["-qec", &format!("{bin} sync personio:acme --type FULL"), "/dev/null"])
            .env("TRIBUTARY_DATA_DIR", &tty_dir)
            .env("TRIBUTARY_LOG", "warn")
            .env("TERM", "xterm")
            .env_remove("DATABASE_URL")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let shown = String::from_utf8_lossy(&on_tty.stdout).to_string();
    assert!(on_tty.status.success(), "{shown}");
    assert!(shown.contains("personio:acme FULL SUCCEEDED"), "{shown}");
    assert!(
        shown.contains("records/s") && shown.contains(" pages, ") && shown.contains(" records, "),
        "no bar on the terminal: {shown:?}"
    );

    let piped_dir = dir.clone();
    let piped = tokio::task::spawn_blocking(move || {
        tributary(&piped_dir, &["sync", "personio:acme", "--type", "FULL"])
            .env("TRIBUTARY_LOG", "warn")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&piped.stdout);
    let stderr = String::from_utf8_lossy(&piped.stderr);
    assert!(piped.status.success(), "{stderr}");
    assert!(stdout.contains("personio:acme FULL started"), "{stdout}");
    assert!(stdout.contains("personio:acme FULL SUCCEEDED"), "{stdout}");
    assert!(
        !stdout.contains("records/s") && !stderr.contains("records/s"),
        "{stdout} {stderr}"
    );
    sim.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// `integration scope` refuses what the admin API refuses, in one line naming the bad names
/// (issue 12: `dateOfBirth`, `"ssn "`, `home_address.city` disabled nothing; `{}` reset all).
#[test]
fn scope_configs_are_checked_against_the_tool() {
    let dir = temp_dir("scope");
    std::fs::create_dir_all(&dir).unwrap();
    let out = tributary(
        &dir,
        &[
            "integration",
            "create",
            "personio:acme",
            "--base-url",
            "https://api.personio.example",
            "--credentials",
            r#"{"client_id": "a", "client_secret": "b"}"#,
        ],
    )
    .output()
    .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let scope = |name: &str, body: &str| {
        let file = dir.join(name);
        std::fs::write(&file, body).unwrap();
        tributary(
            &dir,
            &[
                "integration",
                "scope",
                "personio:acme",
                "--file",
                file.to_str().unwrap(),
            ],
        )
        .output()
        .unwrap()
    };
    let unknown = r#"{"read_models": [{"id": "hris_employees", "fields": [
        {"id": "dateOfBirth", "scope_config_setting": "DISABLED"},
        {"id": "ssn ", "scope_config_setting": "DISABLED"},
        {"id": "home_address.city", "scope_config_setting": "DISABLED"}]}]}"#;
    let out = scope("unknown.json", unknown);
    assert_one_line_error(out, "\"dateOfBirth\", \"ssn \", \"home_address.city\"");
    assert_one_line_error(scope("empty.json", "{}"), "`read_models` is missing");
    assert_one_line_error(
        scope(
            "ats.json",
            r#"{"read_models": [{"id": "ats_jobs", "scope_config_setting": "DISABLED"}]}"#,
        ),
        "no read model \"ats_jobs\"",
    );
    assert_one_line_error(scope("broken.json", "{"), "is not JSON");
    let out = scope(
        "good.json",
        r#"{"read_models": [{"id": "hris_employees", "fields": [{"id": "date_of_birth", "scope_config_setting": "DISABLED"}]}]}"#,
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("scope version 2"), "{stdout}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The README's first command: the demo syncs all three simulated tools, serves the read API
/// with the key it was given, prints the commands to try, and keeps syncing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_serves_what_it_synced() {
    use std::io::{BufRead, BufReader};

    let dir = temp_dir("demo");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let listen = format!("127.0.0.1:{port}");
    let mut child = tributary(
        &dir,
        &[
            "demo",
            "--listen",
            &listen,
            "--api-key",
            "demo-test-key",
            "--employees",
            "20",
            "--rounds",
            "1",
            // The demo exits once every integration has synced again (scheduled, or a DELTA
            // from the simulator's webhooks after a change): no second round for 20 s leaves
            // the requests below that long to reach it, however loaded the machine.
            "--sync-every",
            "20",
            "--mutate-every",
            "20",
        ],
    )
    .stdout(std::process::Stdio::piped())
    .spawn()
    .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut seen = Vec::new();
    while !seen.iter().any(|l: &String| l.contains("read API on")) {
        let line = rx
            .recv_timeout(std::time::Duration::from_secs(120))
            .expect("the demo reaches its read API");
        seen.push(line);
    }
    for tool in [
        "personio:demo FULL SUCCEEDED",
        "greenhouse:demo FULL SUCCEEDED",
        "bamboohr:demo FULL SUCCEEDED",
    ] {
        assert!(seen.iter().any(|l| l.contains(tool)), "{tool} in {seen:#?}");
    }

    let http = reqwest::Client::new();
    let base = format!("http://{listen}/v1");
    let key = http
        .get(format!("{base}/check-api-key"))
        .bearer_auth("demo-test-key")
        .send()
        .await
        .unwrap();
    assert_eq!(key.status(), 200);
    for integration in ["personio:demo", "bamboohr:demo"] {
        let page: serde_json::Value = http
            .get(format!("{base}/hris/employees?page_size=5"))
            .bearer_auth("demo-test-key")
            .header("X-Integration-Id", integration)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(page["status"], "success", "{page}");
        assert_eq!(page["data"]["results"].as_array().unwrap().len(), 5, "{page}");
        assert!(page["data"]["next"].is_string());
    }
    let candidates: serde_json::Value = http
        .get(format!("{base}/ats/candidates?page_size=2"))
        .bearer_auth("demo-test-key")
        .header("X-Integration-Id", "greenhouse:demo")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        candidates["data"]["results"].as_array().unwrap().len(),
        2,
        "{candidates}"
    );
    let forced: serde_json::Value = http
        .post(format!("{base}/force-sync"))
        .bearer_auth("demo-test-key")
        .header("X-Integration-Id", "greenhouse:demo")
        .json(&serde_json::json!({"type": "DELTA"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(forced["data"]["type"], "DELTA", "{forced}");
    assert!(forced["data"]["sync_id"].is_string(), "{forced}");
    let wrong = http
        .get(format!("{base}/check-api-key"))
        .bearer_auth("not-the-key")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);

    let status = tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap();
    for line in rx.try_iter() {
        seen.push(line);
    }
    assert!(status.success(), "{seen:#?}");
    assert!(
        seen.iter().any(|l| l.contains("personio:demo DELTA SUCCEEDED")),
        "the next round is a delta: {seen:#?}"
    );
    assert!(
        seen.iter()
            .any(|l| l.contains("curl -s") && l.contains("demo-test-key")),
        "it prints the commands to try"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
