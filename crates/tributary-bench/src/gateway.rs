//! `gateway`: the read API under load, against the limit of the database behind it.
//!
//! A simulated Personio company is synced by a worker process into a fresh mirror; then a
//! `tributary gateway` process serves `GET /v1/hris/employees?page_size=100` (employees with
//! their employments, time-off balances, manager, groups, legal entity and work location) to
//! `wrk` at 1, 8, 32 and 128 concurrent connections.
//!
//! The limit is Postgres itself running the gateway's own SQL: the statements of one such
//! request are captured from the server's log (`log_statement = 'all'` for the mirror database
//! while one request is made), their parameters inlined, and `pgbench` replays them as one
//! transaction per request at the same concurrency. The gateway's rate relative to pgbench's is
//! what the gateway adds on top of its queries: rendering, JSON, HTTP.
//!
//! Beside the gateway serving stored renderings (the default), the same binary is measured with
//! `--render-live` (every item rendered per request), and, with `--before-bin`, an older build
//! on a mirror of its own synced from the same simulated company: a before/after in one run.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use sqlx::{AssertSqlSafe, Connection, PgConnection};
use tributary_model::{SyncType, ToolKind};

use crate::plot::{Chart, Series};
use crate::report::{self, Report};
use crate::stack::{self, Stack};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Employees of the simulated company (mirrored with every Personio model).
    #[arg(long, default_value_t = 5_000)]
    employees: usize,
    /// Concurrent clients (connections) of each load level.
    #[arg(long, value_delimiter = ',', default_value = "1,8,32,128")]
    clients: Vec<usize>,
    /// Seconds of load per level (each for the gateway and for pgbench).
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// The request, relative to the gateway.
    #[arg(long, default_value = "/v1/hris/employees?page_size=100")]
    path: String,
    /// Skip the pgbench limit (which needs the Postgres server log to capture the SQL).
    #[arg(long)]
    skip_pgbench: bool,
    /// Keep the mirror database afterwards (its name is printed), to EXPLAIN the captured SQL.
    #[arg(long)]
    keep_database: bool,
    /// An older `tributary` binary to measure too, on a mirror it migrates and syncs itself
    /// (a build that knows the worker's `--ignore-documented-limits`: 84693c6 or later).
    #[arg(long)]
    before_bin: Option<PathBuf>,
}

/// Why this machine cannot run the scenario (a tool missing), if it cannot.
pub fn missing_tools() -> Option<String> {
    ["wrk", "pgbench"]
        .iter()
        .find(|t| which(t).is_err())
        .map(|t| format!("`{t}` is not installed"))
}

/// One load level's outcome, from wrk or pgbench.
#[derive(Debug, Clone, serde::Serialize)]
struct Level {
    clients: usize,
    per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
    requests: u64,
}

pub async fn run(args: Args, out: &Path) -> anyhow::Result<()> {
    ensure!(!args.clients.is_empty(), "--clients needs at least one level");
    ensure!(args.clients.iter().all(|&c| c >= 1), "--clients must be at least 1");
    let wrk = which("wrk").context(
        "wrk is not installed (Debian: `apt-get install wrk`); the gateway benchmark drives its load with it",
    )?;
    let pgbench = if args.skip_pgbench {
        None
    } else {
        Some(which("pgbench").context(
            "pgbench is not installed (Debian: postgresql-contrib / postgresql-client); or pass --skip-pgbench",
        )?)
    };

    let mut report = Report::new("gateway");
    let mut stack = Stack::start("gateway").await?;
    if args.keep_database {
        stack.keep_database();
    }
    let (sim, headers) = synced_mirror(&mut stack, args.employees).await?;

    let script = match pgbench {
        Some(_) => {
            let script = capture_sql(&mut stack, &args.path, &headers).await?;
            let path = out.join("gateway-pgbench.sql");
            std::fs::create_dir_all(out)?;
            std::fs::write(&path, &script).with_context(|| format!("writing {}", path.display()))?;
            println!(
                "the gateway's SQL of one request: {} ({} statements)",
                path.display(),
                script.lines().filter(|l| l.ends_with(';')).count()
            );
            Some(path)
        }
        None => None,
    };

    // The measured gateway: no rate limit, default pool and timeouts.
    let (gateway, base) = stack.gateway("gateway", &["--rate-limit", "0"]).await?;
    let url = format!("{base}{}", args.path);
    let body = get(&url, &headers).await?;
    println!("one response: {} bytes", report::thousands(body.len() as i64));
    let served = load_levels("gateway (stored)", &wrk, &url, &headers, &args).await?;
    stack.stop(&gateway).await?;

    // The same binary rendering every item per request: what stored renderings save.
    let (gateway, base) = stack
        .gateway("gateway-live", &["--rate-limit", "0", "--render-live"])
        .await?;
    let url = format!("{base}{}", args.path);
    let live_body = get(&url, &headers).await?;
    ensure!(
        live_body == body,
        "the live rendering differs from the stored one ({} vs {} bytes)",
        live_body.len(),
        body.len()
    );
    let live = load_levels("gateway --render-live", &wrk, &url, &headers, &args).await?;
    stack.stop(&gateway).await?;

    let before = match &args.before_bin {
        Some(bin) => Some(before_levels(bin, &wrk, &args, body.len()).await?),
        None => None,
    };

    let mut limit = Vec::new();
    if let (Some(pgbench), Some(script)) = (pgbench.as_ref(), script.as_ref()) {
        let max = max_connections(&stack.db_url).await?;
        for &clients in &args.clients {
            let level = pgbench_load(pgbench, script, &stack.db_name, clients.min(max), args.seconds).await?;
            println!(
                "  pgbench c={}: {:.1} tps, p50 {:.1} ms, p99 {:.1} ms",
                level.clients, level.per_second, level.p50_ms, level.p99_ms
            );
            limit.push(level);
        }
        if args.clients.iter().any(|&c| c > max) {
            report.note(format!(
                "pgbench clients are capped at {max}: the server allows {} connections and keeps some for itself",
                max + 10
            ));
        }
    }

    let table = report.table(
        &format!(
            "GET {} ({} bytes a response), {} employees, {} s per level",
            args.path,
            report::thousands(body.len() as i64),
            report::thousands(args.employees as i64),
            args.seconds
        ),
        &[
            "clients",
            "stored req/s",
            "p50",
            "p99",
            "--render-live req/s (p99)",
            "before req/s (p99)",
            "stored / before",
            "pgbench tps (clients)",
            "pgbench p50",
            "pgbench p99",
            "stored / pgbench",
            "load avg",
        ],
    );
    let dash = || "—".to_owned();
    for (i, (level, load)) in served.iter().enumerate() {
        let pg = limit.get(i);
        let lv = live.get(i).map(|(l, _)| l);
        let bf = before.as_ref().and_then(|b| b.get(i)).map(|(l, _)| l);
        table.row(vec![
            level.clients.to_string(),
            format!("{:.1}", level.per_second),
            format!("{:.1} ms", level.p50_ms),
            format!("{:.1} ms", level.p99_ms),
            lv.map(|l| format!("{:.1} ({:.1} ms)", l.per_second, l.p99_ms))
                .unwrap_or_else(dash),
            bf.map(|l| format!("{:.1} ({:.1} ms)", l.per_second, l.p99_ms))
                .unwrap_or_else(dash),
            bf.map(|l| report::ratio(level.per_second, l.per_second))
                .unwrap_or_else(dash),
            pg.map(|p| format!("{:.1} ({})", p.per_second, p.clients))
                .unwrap_or_else(dash),
            pg.map(|p| format!("{:.1} ms", p.p50_ms)).unwrap_or_else(dash),
            pg.map(|p| format!("{:.1} ms", p.p99_ms)).unwrap_or_else(dash),
            pg.map(|p| report::ratio(level.per_second, p.per_second))
                .unwrap_or_else(dash),
            load.clone(),
        ]);
    }
    if let Some((level, _)) = served.iter().find(|(l, _)| l.clients == 32) {
        let ratio = limit
            .iter()
            .find(|p| p.clients.min(32) == 32)
            .map(|p| level.per_second / p.per_second);
        report.note(format!(
            "target at 32 clients: p99 ≤ 25 ms ({:.1} ms: {}) and ≥ 70 % of pgbench ({})",
            level.p99_ms,
            if level.p99_ms <= 25.0 { "met" } else { "missed" },
            match ratio {
                Some(r) => format!("{:.0} %: {}", r * 100.0, if r >= 0.7 { "met" } else { "missed" }),
                None => "not measured".to_owned(),
            }
        ));
    }
    report.note("load: wrk (2 threads, keep-alive) on the same machine; pgbench replays the captured statements with `-M simple` (parsed and planned per execution, as the gateway's reads are: they force custom plans)");
    if let Some(before) = &before
        && let (Some((now, _)), Some((then, _))) = (
            served.iter().find(|(l, _)| l.clients == 32),
            before.iter().find(|(l, _)| l.clients == 32),
        )
    {
        report.note(format!(
            "target at 32 clients: ≥ 5× the before build's req/s ({:.1}×: {}), p99 down as much ({:.1}× lower)",
            now.per_second / then.per_second,
            if now.per_second >= 5.0 * then.per_second {
                "met"
            } else {
                "missed"
            },
            then.p99_ms / now.p99_ms
        ));
    }
    if let Some(bin) = &args.before_bin {
        report.note(format!(
            "before: {} on a mirror of its own, synced by its own worker from the same simulated company",
            bin.display()
        ));
    }
    report.data("gateway", served.iter().map(|(l, _)| l).collect::<Vec<_>>());
    report.data("live", live.iter().map(|(l, _)| l).collect::<Vec<_>>());
    if let Some(before) = &before {
        report.data("before", before.iter().map(|(l, _)| l).collect::<Vec<_>>());
    }
    report.data("pgbench", &limit);
    report.data("response_bytes", body.len());

    let points =
        |levels: &[&Level], f: fn(&Level) -> f64| levels.iter().map(|l| (l.clients as f64, f(l))).collect::<Vec<_>>();
    let gw: Vec<&Level> = served.iter().map(|(l, _)| l).collect();
    let pg: Vec<&Level> = limit.iter().collect();
    let lv: Vec<&Level> = live.iter().map(|(l, _)| l).collect();
    let bf: Vec<&Level> = before.iter().flatten().map(|(l, _)| l).collect();
    let mut series = vec![
        Series::new("gateway, stored renderings (req/s)", points(&gw, |l| l.per_second)),
        Series::new("gateway --render-live (req/s)", points(&lv, |l| l.per_second)),
    ];
    if !bf.is_empty() {
        series.push(Series::new("before build (req/s)", points(&bf, |l| l.per_second)));
    }
    if !pg.is_empty() {
        series.push(Series::new(
            "pgbench, the gateway's SQL (tps)",
            points(&pg, |l| l.per_second),
        ));
    }
    report.plot(
        out,
        "gateway.png",
        &Chart {
            title: "Gateway throughput vs its own SQL in pgbench",
            x_label: "concurrent clients",
            y_label: "requests (transactions) per second",
            log_x: true,
            log_y: false,
        },
        &series,
    )?;
    let mut series = vec![
        Series::new("gateway, stored renderings p99 (ms)", points(&gw, |l| l.p99_ms)),
        Series::new("gateway --render-live p99 (ms)", points(&lv, |l| l.p99_ms)),
    ];
    if !bf.is_empty() {
        series.push(Series::new("before build p99 (ms)", points(&bf, |l| l.p99_ms)));
    }
    if !pg.is_empty() {
        series.push(Series::new("pgbench p99 (ms)", points(&pg, |l| l.p99_ms)));
    }
    report.plot(
        out,
        "gateway-p99.png",
        &Chart {
            title: "Gateway p99 latency vs its own SQL in pgbench",
            x_label: "concurrent clients",
            y_label: "p99 latency (ms)",
            log_x: true,
            log_y: true,
        },
        &series,
    )?;
    report.write(out)?;
    sim.shutdown().await;
    Ok(())
}

/// A warm-up, then `wrk` at each of `args.clients`: each level with the load average after it.
async fn load_levels(
    what: &str,
    wrk: &Path,
    url: &str,
    headers: &[String],
    args: &Args,
) -> anyhow::Result<Vec<(Level, String)>> {
    // Warm-up: caches, the pool's connections, the planner's statistics.
    wrk_load(wrk, url, headers, 8, 3).await?;
    let mut levels = Vec::new();
    for &clients in &args.clients {
        let level = wrk_load(wrk, url, headers, clients, args.seconds).await?;
        println!(
            "  {what} c={clients}: {:.1} req/s, p50 {:.1} ms, p99 {:.1} ms (load {})",
            level.per_second,
            level.p50_ms,
            level.p99_ms,
            report::load_average()
        );
        levels.push((level, report::load_average()));
    }
    Ok(levels)
}

/// A mirror of `employees` simulated Personio employees (the same company whatever the stack),
/// synced the way production does it: a worker process of the stack's build runs the FULL,
/// without Personio's documented limits (they would make it take minutes; the reads are
/// measured). Returns the simulator and the request headers of an API key for it.
async fn synced_mirror(stack: &mut Stack, employees: usize) -> anyhow::Result<(tributary_sim::Simulator, [String; 2])> {
    let sim = stack::simulator(&[ToolKind::Personio], employees, 42).await?;
    let integration = stack.integration(&sim, ToolKind::Personio, "bench", false).await?;
    let worker = stack.worker("worker-sync", &["--concurrency", "1", "--ignore-documented-limits"])?;
    let started = Instant::now();
    let run_id = stack.trigger(&integration, SyncType::Full).await?;
    let run = stack
        .wait_succeeded(&run_id, Duration::from_secs(3600), Duration::from_millis(200))
        .await?;
    println!(
        "mirror: {} records from {employees} employees in {}",
        run.counts.created,
        report::secs(started.elapsed())
    );
    stack.stop(&worker).await?;
    let key = stack
        .command(&["api-key", "create", "--environment", "bench", "--label", "bench"])
        .await?
        .trim()
        .to_owned();
    let headers = [
        format!("Authorization: Bearer {key}"),
        format!("X-Integration-Id: {integration}"),
    ];
    Ok((sim, headers))
}

/// The older build's gateway, on a mirror its own worker synced from the same company.
async fn before_levels(bin: &Path, wrk: &Path, args: &Args, size: usize) -> anyhow::Result<Vec<(Level, String)>> {
    let mut stack = Stack::start_with("gateway-before", bin.to_path_buf()).await?;
    let (sim, headers) = synced_mirror(&mut stack, args.employees).await?;
    let (gateway, base) = stack.gateway("gateway-before", &["--rate-limit", "0"]).await?;
    let url = format!("{base}{}", args.path);
    let body = get(&url, &headers).await?;
    println!(
        "before build: one response of {} bytes (this build: {})",
        report::thousands(body.len() as i64),
        report::thousands(size as i64)
    );
    let levels = load_levels("before build", wrk, &url, &headers, args).await?;
    stack.stop(&gateway).await?;
    sim.shutdown().await;
    Ok(levels)
}

async fn get(url: &str, headers: &[String]) -> anyhow::Result<Vec<u8>> {
    let mut request = reqwest::Client::new().get(url);
    for h in headers {
        let (name, value) = h.split_once(": ").expect("headers are `name: value`");
        request = request.header(name, value);
    }
    let response = request.send().await.with_context(|| format!("GET {url}"))?;
    let status = response.status();
    let body = response.bytes().await?;
    if !status.is_success() {
        bail!(
            "GET {url} answered {status}: {}",
            String::from_utf8_lossy(&body[..body.len().min(500)])
        );
    }
    Ok(body.to_vec())
}

/// Captures the statements the gateway runs for one request: the mirror database logs every
/// statement while a gateway of its own (started after the setting, so its sessions take it)
/// answers one request after a warm-up; the statements of that request, parameters inlined,
/// become a pgbench script.
async fn capture_sql(stack: &mut Stack, path: &str, headers: &[String]) -> anyhow::Result<String> {
    let log_file = postgres_log_file()
        .context("the PostgreSQL server log (needed to capture the gateway's SQL; or pass --skip-pgbench)")?;
    let mut admin = PgConnection::connect(&stack.db_url).await?;
    let db = stack.db_name.clone();
    sqlx::query(AssertSqlSafe(format!("ALTER DATABASE {db} SET log_statement = 'all'")))
        .execute(&mut admin)
        .await
        .context("turning on statement logging for the mirror database")?;
    let captured = async {
        let (gateway, base) = stack.gateway("gateway-capture", &["--rate-limit", "0"]).await?;
        let url = format!("{base}{path}");
        get(&url, headers).await?;
        let offset = std::fs::metadata(&log_file)?.len();
        get(&url, headers).await?;
        // The server writes its log asynchronously to the request's answer.
        tokio::time::sleep(Duration::from_millis(500)).await;
        stack.stop(&gateway).await?;
        let log = read_from(&log_file, offset)?;
        anyhow::Ok(log)
    }
    .await;
    sqlx::query(AssertSqlSafe(format!("ALTER DATABASE {db} RESET log_statement")))
        .execute(&mut admin)
        .await?;
    let statements = parse_statements(&captured?, &db);
    ensure!(
        statements.iter().any(|s| s.to_ascii_lowercase().contains("select")),
        "no SELECT of the gateway was found in {} (is log_line_prefix showing %d?)",
        log_file.display()
    );
    let mut script =
        String::from("-- The statements tributary's gateway ran for one request, captured from the server log.\n");
    for s in statements {
        script.push_str(s.trim().trim_end_matches(';'));
        script.push_str(";\n");
    }
    Ok(script)
}

fn read_from(path: &Path, offset: u64) -> anyhow::Result<String> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    file.seek(SeekFrom::Start(offset))?;
    let mut text = String::new();
    file.read_to_string(&mut text)?;
    Ok(text)
}

/// The local cluster's log file, from `pg_lsclusters` (Debian's layout).
fn postgres_log_file() -> anyhow::Result<PathBuf> {
    let output = std::process::Command::new("pg_lsclusters")
        .arg("--no-header")
        .output()
        .context("running pg_lsclusters")?;
    let text = String::from_utf8_lossy(&output.stdout);
    let line = text
        .lines()
        .find(|l| l.split_whitespace().nth(2) == Some("5432"))
        .context("no cluster on port 5432 in pg_lsclusters")?;
    let path = PathBuf::from(
        line.split_whitespace()
            .last()
            .context("pg_lsclusters printed no log file")?,
    );
    ensure!(path.is_file(), "{} is not a readable file", path.display());
    Ok(path)
}

/// The SQL of every `statement:`/`execute …:` entry of database `db` in a server log, with the
/// `DETAIL: parameters:` that follow an execute substituted for `$n`. The gateway runs a
/// request's queries on several pooled connections at once, so entries are paired and kept in
/// order per server process (`[pid]`), and the processes' statement sequences are concatenated:
/// a script that pgbench can run on one connection, each transaction whole.
fn parse_statements(log: &str, db: &str) -> Vec<String> {
    // An entry starts with a timestamp; continuation lines start with a tab.
    let mut entries: Vec<String> = Vec::new();
    for line in log.lines() {
        if let Some(rest) = line.strip_prefix('\t') {
            if let Some(last) = entries.last_mut() {
                last.push('\n');
                last.push_str(rest);
            }
        } else {
            entries.push(line.to_owned());
        }
    }
    let tag = format!("@{db} ");
    // Per server process: its statements so far and an execute waiting for its parameters.
    let mut sessions: Vec<(String, Vec<String>, Option<String>)> = Vec::new();
    for entry in entries.iter().filter(|e| e.contains(&tag)) {
        let pid = entry
            .split_once(" [")
            .and_then(|(_, rest)| rest.split_once(']'))
            .map(|(pid, _)| pid.to_owned())
            .unwrap_or_default();
        let index = match sessions.iter().position(|(p, _, _)| *p == pid) {
            Some(i) => i,
            None => {
                sessions.push((pid, Vec::new(), None));
                sessions.len() - 1
            }
        };
        let (_, out, pending) = &mut sessions[index];
        if let Some(i) = entry.find("LOG:  statement: ") {
            out.extend(pending.take());
            out.push(entry[i + "LOG:  statement: ".len()..].to_owned());
        } else if let Some(i) = entry.find("LOG:  execute ") {
            out.extend(pending.take());
            let rest = &entry[i + "LOG:  execute ".len()..];
            if let Some((_, sql)) = rest.split_once(": ") {
                *pending = Some(sql.to_owned());
            }
        } else if let Some(i) = entry.to_ascii_lowercase().find("detail:  parameters: ")
            && let Some(sql) = pending.take()
        {
            let params = parse_parameters(&entry[i + "detail:  parameters: ".len()..]);
            out.push(inline_parameters(&sql, &params));
        }
    }
    sessions
        .into_iter()
        .flat_map(|(_, mut out, pending)| {
            out.extend(pending);
            out
        })
        .collect()
}

/// `$1 = 'a', $2 = NULL, $3 = 'it''s'` → `["'a'", "NULL", "'it''s'"]` (indexed from 1).
fn parse_parameters(text: &str) -> Vec<(usize, String)> {
    let mut params = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find('$') {
        rest = &rest[start + 1..];
        let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
        let Ok(n) = digits.parse::<usize>() else { break };
        rest = rest[digits.len()..].trim_start_matches(" = ");
        if let Some(after) = rest.strip_prefix("NULL") {
            params.push((n, "NULL".to_owned()));
            rest = after;
        } else if rest.starts_with('\'') {
            // A quoted literal: '' is an escaped quote.
            let bytes = rest.as_bytes();
            let mut i = 1;
            while i < bytes.len() {
                if bytes[i] == b'\'' {
                    if bytes.get(i + 1) == Some(&b'\'') {
                        i += 2;
                        continue;
                    }
                    break;
                }
                i += 1;
            }
            let end = (i + 1).min(rest.len());
            params.push((n, rest[..end].to_owned()));
            rest = &rest[end..];
        } else {
            break;
        }
    }
    params
}

/// Replaces `$n` (not followed by another digit) with its literal, highest `n` first.
fn inline_parameters(sql: &str, params: &[(usize, String)]) -> String {
    let mut sorted = params.to_vec();
    sorted.sort_by_key(|(n, _)| std::cmp::Reverse(*n));
    let mut out = sql.to_owned();
    for (n, literal) in sorted {
        let needle = format!("${n}");
        let mut result = String::with_capacity(out.len());
        let mut rest = out.as_str();
        while let Some(i) = rest.find(&needle) {
            let after = &rest[i + needle.len()..];
            result.push_str(&rest[..i]);
            if after.starts_with(|c: char| c.is_ascii_digit()) {
                result.push_str(&needle);
            } else {
                result.push_str(&literal);
            }
            rest = after;
        }
        result.push_str(rest);
        out = result;
    }
    out
}

async fn max_connections(db_url: &str) -> anyhow::Result<usize> {
    let mut conn = PgConnection::connect(db_url).await?;
    let max: String = sqlx::query_scalar("SHOW max_connections").fetch_one(&mut conn).await?;
    let max: usize = max.parse().context("max_connections")?;
    Ok(max.saturating_sub(10).max(1))
}

fn which(program: &str) -> anyhow::Result<PathBuf> {
    which::which(program).with_context(|| format!("`{program}` is not on PATH"))
}

/// `wrk` at `clients` connections for `seconds`; fails on any error or non-2xx answer.
async fn wrk_load(wrk: &Path, url: &str, headers: &[String], clients: usize, seconds: u64) -> anyhow::Result<Level> {
    let threads = clients.min(2).to_string();
    let mut cmd = tokio::process::Command::new(wrk);
    cmd.args([
        "-t",
        &threads,
        "-c",
        &clients.to_string(),
        "-d",
        &format!("{seconds}s"),
        "--latency",
        "--timeout",
        "30s",
    ]);
    for h in headers {
        cmd.args(["-H", h]);
    }
    let output = cmd.arg(url).output().await.context("running wrk")?;
    let text = String::from_utf8_lossy(&output.stdout);
    ensure!(
        output.status.success(),
        "wrk failed: {text}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    ensure!(
        !text.contains("Non-2xx"),
        "the gateway answered errors under load:\n{text}"
    );
    ensure!(
        !text.contains("Socket errors"),
        "connections failed under load:\n{text}"
    );
    parse_wrk(&text, clients).with_context(|| format!("reading wrk's output:\n{text}"))
}

fn parse_wrk(text: &str, clients: usize) -> anyhow::Result<Level> {
    let field = |prefix: &str| -> Option<&str> {
        text.lines()
            .map(str::trim)
            .find(|l| l.starts_with(prefix))
            .and_then(|l| l[prefix.len()..].split_whitespace().next())
    };
    let per_second: f64 = field("Requests/sec:").context("no Requests/sec")?.parse()?;
    let requests: u64 = text
        .lines()
        .find(|l| l.contains(" requests in "))
        .and_then(|l| l.split_whitespace().next())
        .context("no request count")?
        .parse()?;
    Ok(Level {
        clients,
        per_second,
        p50_ms: wrk_duration_ms(field("50%").context("no 50% latency")?)?,
        p99_ms: wrk_duration_ms(field("99%").context("no 99% latency")?)?,
        requests,
    })
}

/// wrk prints `812.00us`, `12.34ms`, `1.02s`, `2.00m`.
fn wrk_duration_ms(s: &str) -> anyhow::Result<f64> {
    let (number, factor) = if let Some(n) = s.strip_suffix("us") {
        (n, 0.001)
    } else if let Some(n) = s.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = s.strip_suffix('s') {
        (n, 1000.0)
    } else if let Some(n) = s.strip_suffix('m') {
        (n, 60_000.0)
    } else {
        bail!("unknown duration `{s}`")
    };
    Ok(number.parse::<f64>()? * factor)
}

/// pgbench running `script` as one transaction, `clients` at once, for `seconds`; latencies
/// from its per-transaction log.
async fn pgbench_load(pgbench: &Path, script: &Path, db: &str, clients: usize, seconds: u64) -> anyhow::Result<Level> {
    let logs = std::env::temp_dir().join(format!("tributary-pgbench-{}-{clients}", std::process::id()));
    std::fs::create_dir_all(&logs)?;
    let prefix = logs.join("pgbench_log");
    let output = tokio::process::Command::new(pgbench)
        // The session settings the gateway's pool sets on connect (JIT off: compiling the
        // reads' expressions cost 45 ms a request), which the captured log does not show.
        .env("PGOPTIONS", "-c jit=off")
        .args(["-n", "-M", "simple", "-h", "127.0.0.1", "-U", "postgres"])
        .args([
            "-c",
            &clients.to_string(),
            "-j",
            &clients.min(2).to_string(),
            "-T",
            &seconds.to_string(),
        ])
        .arg("-f")
        .arg(script)
        .arg("-l")
        .arg(format!("--log-prefix={}", prefix.display()))
        .arg(db)
        .output()
        .await
        .context("running pgbench")?;
    let text = String::from_utf8_lossy(&output.stdout);
    ensure!(
        output.status.success(),
        "pgbench failed: {text}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let tps: f64 = text
        .lines()
        .find(|l| l.starts_with("tps = "))
        .and_then(|l| l["tps = ".len()..].split_whitespace().next())
        .context("pgbench printed no tps")?
        .parse()?;
    // Per-transaction log lines: client_id transaction_no time_us script_no epoch epoch_us.
    let mut latencies = Vec::new();
    for entry in std::fs::read_dir(&logs)? {
        let text = std::fs::read_to_string(entry?.path())?;
        for line in text.lines() {
            if let Some(us) = line.split_whitespace().nth(2).and_then(|v| v.parse::<u64>().ok()) {
                latencies.push(Duration::from_micros(us));
            }
        }
    }
    std::fs::remove_dir_all(&logs).ok();
    ensure!(!latencies.is_empty(), "pgbench logged no transactions");
    Ok(Level {
        clients,
        per_second: tps,
        p50_ms: report::quantile(&latencies, 0.5).as_secs_f64() * 1000.0,
        p99_ms: report::quantile(&latencies, 0.99).as_secs_f64() * 1000.0,
        requests: latencies.len() as u64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_and_parameters_come_out_of_the_log() {
        let log = "\
2026-11-27 11:00:00.000 UTC [10] postgres@bench_a LOG:  statement: BEGIN
2026-11-27 11:00:00.001 UTC [10] postgres@bench_a LOG:  execute sqlx_s_1: SELECT *
\tFROM records WHERE id = $1 AND n = $10 AND x = $2
2026-11-27 11:00:00.001 UTC [12] postgres@bench_a LOG:  execute sqlx_s_2: SELECT $1
2026-11-27 11:00:00.001 UTC [10] postgres@bench_a DETAIL:  parameters: $1 = 'it''s, here', $2 = NULL, $10 = '5'
2026-11-27 11:00:00.002 UTC [11] postgres@other_db LOG:  statement: SELECT 1
2026-11-27 11:00:00.002 UTC [12] postgres@bench_a DETAIL:  parameters: $1 = '\\x0a1b'
2026-11-27 11:00:00.003 UTC [10] postgres@bench_a LOG:  statement: COMMIT
";
        let statements = parse_statements(log, "bench_a");
        assert_eq!(
            statements,
            vec![
                "BEGIN".to_owned(),
                "SELECT *\nFROM records WHERE id = 'it''s, here' AND n = '5' AND x = NULL".to_owned(),
                "COMMIT".to_owned(),
                "SELECT '\\x0a1b'".to_owned(),
            ]
        );
    }

    #[test]
    fn wrk_output_is_read() {
        let text = "\
Running 10s test @ http://127.0.0.1:1/v1/hris/employees
  2 threads and 32 connections
  Latency Distribution
     50%   12.50ms
     75%   20.00ms
     90%   30.00ms
     99%    1.20s
  3000 requests in 10.00s, 2.5GB read
Requests/sec:    299.50
Transfer/sec:    250.00MB
";
        let level = parse_wrk(text, 32).unwrap();
        assert_eq!(level.requests, 3000);
        assert!((level.per_second - 299.5).abs() < 1e-9);
        assert!((level.p50_ms - 12.5).abs() < 1e-9);
        assert!((level.p99_ms - 1200.0).abs() < 1e-9);
        assert!((wrk_duration_ms("812.00us").unwrap() - 0.812).abs() < 1e-9);
    }
}
