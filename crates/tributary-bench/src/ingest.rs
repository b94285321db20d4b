//! `ingest`: for each size, a FULL sync of N simulated Personio employees into a fresh mirror by
//! a `tributary worker` process, then an identical FULL (which must write nothing); beside it,
//! in the same run, the peer a user would otherwise pick (dlt's `rest_api` source merging the
//! same endpoint into Postgres, loaded twice) and the machine's limit for the rows tributary
//! wrote (`COPY` of exactly those rows into an empty copy of the table).
//!
//! The simulator runs in this process at zero latency without a rate budget, and the worker
//! ignores Personio's documented limits (`--ignore-documented-limits`), so the numbers
//! are the engine's own cost (plus the simulator's rendering and the database's), not the
//! tool's speed limits.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use sqlx::{AssertSqlSafe, Connection, PgConnection};
use tokio::io::AsyncWriteExt;
use tributary_model::{Model, RunCounts, RunState, SyncType, ToolKind};
use tributary_store::SyncRun;

use crate::dlt::{DltRun, Venv};
use crate::plot::{Chart, Series};
use crate::report::cpu;
use crate::report::memory::{mib, peak_rss, reset_peak};
use crate::report::{Report, load_average, rate, ratio, secs, thousands};
use crate::stack::{self, Proc, Stack};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Employees of the simulated company, one mirror per size (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "10000,100000,1000000")]
    sizes: Vec<usize>,
    /// Leave out the peer (dlt), e.g. where Python or PyPI is not available.
    #[arg(long)]
    skip_dlt: bool,
    /// Run dlt only for sizes up to this many employees (it is far slower than tributary).
    #[arg(long)]
    dlt_max_size: Option<usize>,
    /// Seed of the generated company.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Keep the mirror databases afterwards (their names are printed).
    #[arg(long)]
    keep_database: bool,
    /// Sync every model (the default scope config, as a customer connects Personio): absences,
    /// time-off balances and absence types too, which the peer does not load, so dlt is not
    /// run. Without it those three are disabled.
    #[arg(long)]
    all_models: bool,
    /// Measure nothing: redraw `ingest.png` from the `ingest.json` an earlier run left in
    /// `--out` (a 1M-employee run takes a quarter of an hour).
    #[arg(long)]
    replot: bool,
}

/// The worker's flags in these benchmarks: one sync at a time, no webhook delivery loop.
pub const WORKER_ARGS: [&str; 6] = [
    "--concurrency",
    "1",
    "--delta-concurrency",
    "1",
    "--webhook-concurrency",
    "0",
];

/// [`WORKER_ARGS`] without the tools' documented rate limits: the write-path benchmarks
/// (ingest, delta) measure the engine and the database, not Personio's 300 list requests a
/// minute, which would hold a FULL of 100,000 employees to 500 a second.
pub const UNPACED_WORKER_ARGS: [&str; 7] = [
    "--concurrency",
    "1",
    "--delta-concurrency",
    "1",
    "--webhook-concurrency",
    "0",
    "--ignore-documented-limits",
];

/// One sync run by the worker process, timed by the run's own start and end.
#[derive(Debug)]
pub struct Timed {
    pub run: SyncRun,
    pub wall: Duration,
    pub peak_rss: Option<u64>,
    pub cpu: CpuSeconds,
}

/// CPU seconds spent during a run, where the time went on this 2-core machine.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct CpuSeconds {
    /// The worker process: fetching, parsing, mapping, hashing, planning the writes.
    pub worker: f64,
    /// Every `postgres` process: the mirror's writes and their upkeep.
    pub postgres: f64,
    /// The benchmark's own process, i.e. mostly the simulator rendering pages.
    pub simulator: f64,
}

/// What [`CpuSeconds`] is measured from.
struct CpuMark {
    worker: f64,
    postgres: std::collections::HashMap<u32, u64>,
    simulator: f64,
}

impl CpuMark {
    fn now(worker: u32) -> CpuMark {
        CpuMark {
            worker: cpu::seconds(worker).unwrap_or(0.0),
            postgres: cpu::postgres_snapshot(),
            simulator: cpu::seconds(std::process::id()).unwrap_or(0.0),
        }
    }

    fn elapsed(&self, worker: u32) -> CpuSeconds {
        CpuSeconds {
            worker: cpu::seconds(worker).unwrap_or(0.0) - self.worker,
            postgres: cpu::postgres_seconds_since(&self.postgres),
            simulator: cpu::seconds(std::process::id()).unwrap_or(0.0) - self.simulator,
        }
    }
}

impl CpuSeconds {
    /// `worker / Postgres / simulator` in seconds.
    pub fn cell(&self) -> String {
        format!("{:.1} / {:.1} / {:.1}", self.worker, self.postgres, self.simulator)
    }
}

impl Timed {
    pub fn counts(&self) -> RunCounts {
        self.run.counts
    }

    /// Records the engine hashed: created, updated or unchanged.
    pub fn records(&self) -> i64 {
        let c = self.run.counts;
        c.created + c.updated + c.unchanged
    }

    /// Rows the run wrote to the mirror.
    pub fn written(&self) -> i64 {
        let c = self.run.counts;
        c.created + c.updated + c.deleted
    }
}

/// Triggers a sync of `integration` and waits for the worker to end it; its wall time is the
/// run's `started_at` to `ended_at` (so the queue's pickup is not counted), its peak RSS the
/// worker's `VmHWM` reset just before.
pub async fn timed_sync(
    stack: &Stack,
    worker: &Proc,
    integration: &str,
    sync_type: SyncType,
    within: Duration,
) -> anyhow::Result<Timed> {
    reset_peak(worker.pid);
    let cpu_mark = CpuMark::now(worker.pid);
    let run_id = stack.trigger(integration, sync_type).await?;
    let run = stack.wait_ended(&run_id, within, Duration::from_millis(50)).await?;
    let cpu = cpu_mark.elapsed(worker.pid);
    if run.state != RunState::Succeeded {
        bail!(
            "the {sync_type:?} run {run_id} ended {}: {}{}",
            run.state.as_str(),
            run.error.as_deref().unwrap_or("no error"),
            stack.log_tails()
        );
    }
    let (Some(started), Some(ended)) = (run.started_at, run.ended_at) else {
        bail!("the run {run_id} ended without its start and end times");
    };
    let wall = (ended - started).to_std().context("the run ended before it started")?;
    Ok(Timed {
        run,
        wall,
        peak_rss: peak_rss(worker.pid),
        cpu,
    })
}

/// How long a FULL of `employees` may take before the benchmark gives up: generous, a hung
/// run should fail the benchmark rather than hold it forever.
pub fn full_timeout(employees: usize) -> Duration {
    Duration::from_secs(300) + Duration::from_millis(10 * employees as u64)
}

/// `COPY records_copy FROM STDIN` of the rows a FULL wrote.
#[derive(Debug, Serialize, Deserialize)]
struct CopyLimit {
    rows: u64,
    bytes: u64,
    seconds: f64,
}

/// The numbers of one size, for the JSON and the plot.
#[derive(Debug, Serialize, Deserialize)]
struct SizeResult {
    employees: usize,
    full: RunNumbers,
    resync: RunNumbers,
    copy: CopyLimit,
    dlt: Option<(DltRun, DltRun)>,
    load_average: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct RunNumbers {
    seconds: f64,
    counts: RunCounts,
    records: i64,
    written: i64,
    peak_rss_bytes: Option<u64>,
    cpu_seconds: CpuSeconds,
}

impl From<&Timed> for RunNumbers {
    fn from(t: &Timed) -> Self {
        RunNumbers {
            seconds: t.wall.as_secs_f64(),
            counts: t.run.counts,
            records: t.records(),
            written: t.written(),
            peak_rss_bytes: t.peak_rss,
            cpu_seconds: t.cpu,
        }
    }
}

pub async fn run(args: Args, out: &Path) -> anyhow::Result<()> {
    ensure!(!args.sizes.is_empty(), "--sizes names no size");
    let mut report = Report::new("ingest");
    report.note(
        "\"records\" counts every unified record the engine hashed: each employee and employment, plus \
         the departments, offices and legal entities the Personio connector emits with every page \
         (they hash equal after the first page and are not written again). \"rows written\" counts rows \
         created, updated or deleted, plus (for tributary's FULL) the stored renderings it wrote: one \
         `rendered` row per live record and its `render_deps` rows.",
    );
    report.note(format!(
        "tributary: one `tributary worker` process (--concurrency 1, --ignore-documented-limits), \
         simulator in the benchmark's process at zero latency, Personio only, {}; wall is the \
         run's started_at → ended_at; peak RSS is the worker's VmHWM, reset before each run; CPU s \
         is the CPU time the worker, every postgres process and the benchmark's own process (the \
         simulator) used during the run.",
        if args.all_models {
            "every model synced (--all-models: the default scope config)"
        } else {
            "scope config with absences, time-off balances and absence types DISABLED"
        }
    ));
    report.note(
        "COPY: the rows tributary's FULL wrote, table by table (records, rendered, render_deps), \
         exported with COPY (SELECT * FROM <table> WHERE integration_id = ..) TO STDOUT (not timed), \
         then `COPY <table>_copy FROM STDIN` into `CREATE TABLE <table>_copy (LIKE <table> INCLUDING \
         ALL)` (same columns and indexes), the loads' times added — the machine's limit for writing \
         those rows. Its \"× tributary\" compares rows/s with tributary's \
         FULL rows written/s; the other rows compare employees/s with tributary's run of the same kind.",
    );
    if args.replot {
        return replot(out);
    }
    let mut venv = None;
    let mut results = Vec::new();
    for &employees in &args.sizes {
        let dlt_here = !args.skip_dlt && !args.all_models && args.dlt_max_size.is_none_or(|max| employees <= max);
        if dlt_here && venv.is_none() {
            venv = Some(tokio::task::spawn_blocking(Venv::ensure).await??);
        }
        let result = one_size(&args, employees, venv.as_ref().filter(|_| dlt_here)).await?;
        table(&mut report, &result);
        results.push(result);
    }
    if args.skip_dlt {
        report.note("dlt was not run (--skip-dlt).");
    } else if let Some(max) = args.dlt_max_size
        && args.sizes.iter().any(|&n| n > max)
    {
        report.note(format!(
            "dlt was not run above {} employees (--dlt-max-size).",
            thousands(max as i64)
        ));
    }
    if let Some((first, _)) = results.iter().find_map(|r| r.dlt.as_ref()) {
        report.note(format!(
            "dlt {} (Python {}): `rest_api` source, offset paginator (limit 100, total from \
             metadata.total_elements), bearer token from POST /v1/auth, write_disposition merge on \
             the employee id, postgres destination in a fresh database on the same server, every \
             other setting its default: {}. Its wall is the whole process, \
             Python start and imports included ({:.1} s of it); its peak RSS is the main process's \
             ru_maxrss (+ the largest normalize worker process). \"rows written\" for dlt are the \
             rows its normalizer produced for the destination tables, all of which it loads (a merge \
             re-writes every row).",
            first.dlt_version,
            first.python,
            first.settings_summary(),
            first.import_seconds,
        ));
    }
    report.data("sizes", &results);
    plot(&mut report, &results, out)?;
    report.write(out)
}

async fn one_size(args: &Args, employees: usize, venv: Option<&Venv>) -> anyhow::Result<SizeResult> {
    println!("\n-- {} employees --", thousands(employees as i64));
    let sim = stack::simulator(&[ToolKind::Personio], employees, args.seed).await?;
    let mut stack = Stack::start("ingest").await?;
    if args.keep_database {
        stack.keep_database();
    }
    let integration = stack
        .integration(&sim, ToolKind::Personio, "bench", !args.all_models)
        .await?;
    let worker = stack.worker("worker", &UNPACED_WORKER_ARGS)?;

    let within = full_timeout(employees);
    let full = timed_sync(&stack, &worker, &integration, SyncType::Full, within).await?;
    ensure!(full.run.counts.created > 0, "the FULL created nothing");
    let mirrored = stack.store.count_records(&integration, Model::Employees, false).await?;
    ensure!(
        mirrored == employees as i64,
        "the FULL mirrored {mirrored} employees of {employees}"
    );
    println!("tributary FULL: {} in {}", thousands(full.records()), secs(full.wall));
    let resync = timed_sync(&stack, &worker, &integration, SyncType::Full, within).await?;
    if resync.written() != 0 {
        bail!(
            "the identical re-sync wrote {} rows ({:?}); it must write none",
            resync.written(),
            resync.run.counts
        );
    }
    println!("tributary re-sync: 0 rows written in {}", secs(resync.wall));

    // The FULL's rows beyond its records: a stored rendering per live record and what each
    // depends on (an empty mirror before, and the identical re-sync wrote none).
    let rendering_rows = rendering_rows(&stack, &integration).await?;
    let copy = copy_limit(&stack, &integration).await?;
    ensure!(
        copy.rows == full.written() as u64 + rendering_rows,
        "COPY loaded {} rows but the FULL wrote {} records and {rendering_rows} rendering rows",
        copy.rows,
        full.written()
    );
    println!(
        "COPY limit: {} rows in {:.2} s",
        thousands(copy.rows as i64),
        copy.seconds
    );

    let dlt = match venv {
        Some(venv) => Some(run_dlt(venv, &sim, &stack, employees).await?),
        None => None,
    };
    stack.stop(&worker).await?;
    drop(stack);
    sim.shutdown().await;
    let mut full = RunNumbers::from(&full);
    full.written += i64::try_from(rendering_rows).unwrap_or(i64::MAX);
    Ok(SizeResult {
        employees,
        full,
        resync: RunNumbers::from(&resync),
        copy,
        dlt,
        load_average: load_average(),
    })
}

fn table(report: &mut Report, r: &SizeResult) {
    let n = r.employees as f64;
    let load = r.load_average.clone();
    let per_sec = |x: f64, s: f64| x / s.max(f64::EPSILON);
    let full_eps = per_sec(n, r.full.seconds);
    let resync_eps = per_sec(n, r.resync.seconds);
    let full_wps = per_sec(r.full.written as f64, r.full.seconds);
    let copy_rps = per_sec(r.copy.rows as f64, r.copy.seconds);
    let t = report.table(
        &format!(
            "Ingest: {} Personio employees (load average {load})",
            thousands(r.employees as i64)
        ),
        &[
            "system",
            "run",
            "wall",
            "employees/s",
            "records/s",
            "rows written",
            "rows written/s",
            "peak RSS",
            "CPU s: worker / Postgres / sim",
            "× tributary",
        ],
    );
    let tributary = |run: &str, x: &RunNumbers, reference: f64| {
        let eps = per_sec(n, x.seconds);
        vec![
            "tributary".to_owned(),
            run.to_owned(),
            format!("{:.2} s", x.seconds),
            rate(eps),
            rate(per_sec(x.records as f64, x.seconds)),
            if x.written == 0 {
                "**0**".to_owned()
            } else {
                thousands(x.written)
            },
            if x.written == 0 {
                "—".to_owned()
            } else {
                rate(per_sec(x.written as f64, x.seconds))
            },
            mib(x.peak_rss_bytes),
            x.cpu_seconds.cell(),
            ratio(eps, reference),
        ]
    };
    t.row(tributary("FULL", &r.full, full_eps));
    t.row(tributary("identical FULL", &r.resync, resync_eps));
    if let Some((first, again)) = &r.dlt {
        for (run, d, reference) in [
            ("load (merge)", first, full_eps),
            ("identical re-load", again, resync_eps),
        ] {
            let s = d.wall_seconds;
            let eps = per_sec(n, s);
            t.row(vec![
                "dlt".to_owned(),
                run.to_owned(),
                format!("{s:.2} s"),
                rate(eps),
                "—".to_owned(),
                thousands(d.rows_written()),
                rate(per_sec(d.rows_written() as f64, s)),
                format!(
                    "{} (+{})",
                    mib(Some(d.maxrss_self_kib * 1024)),
                    mib(Some(d.maxrss_children_kib * 1024))
                ),
                "—".to_owned(),
                ratio(eps, reference),
            ]);
        }
    }
    t.row(vec![
        "COPY (limit)".to_owned(),
        "tributary's FULL rows".to_owned(),
        format!("{:.2} s", r.copy.seconds),
        "—".to_owned(),
        "—".to_owned(),
        thousands(r.copy.rows as i64),
        rate(copy_rps),
        "—".to_owned(),
        "—".to_owned(),
        ratio(copy_rps, full_wps),
    ]);
    report.note(format!(
        "{} employees: tributary's FULL writes at {} of the COPY limit ({} vs {} rows/s; {:.0} MB as COPY text){}.",
        thousands(r.employees as i64),
        ratio(full_wps, copy_rps),
        rate(full_wps),
        rate(copy_rps),
        r.copy.bytes as f64 / 1e6,
        match &r.dlt {
            Some((first, again)) => format!(
                "; dlt loads {} employees/s and re-loads {} employees/s (tributary: {} and {})",
                rate(per_sec(n, first.wall_seconds)),
                rate(per_sec(n, again.wall_seconds)),
                rate(full_eps),
                rate(resync_eps)
            ),
            None => String::new(),
        }
    ));
}

/// Redraws the plot from a saved `ingest.json`.
fn replot(out: &Path) -> anyhow::Result<()> {
    let path = out.join("ingest.json");
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let saved: serde_json::Value = serde_json::from_str(&text)?;
    let results: Vec<SizeResult> = serde_json::from_value(saved["data"]["sizes"].clone())
        .with_context(|| format!("{} holds no ingest results", path.display()))?;
    let mut report = Report::new("ingest");
    plot(&mut report, &results, out)
}

fn plot(report: &mut Report, results: &[SizeResult], out: &Path) -> anyhow::Result<()> {
    let series = |f: &dyn Fn(&SizeResult) -> Option<f64>| -> Vec<(f64, f64)> {
        results
            .iter()
            .filter_map(|r| f(r).map(|y| (r.employees as f64, y)))
            .collect()
    };
    let eps = |r: &SizeResult, s: f64| r.employees as f64 / s.max(f64::EPSILON);
    let mut all = vec![
        Series::new("tributary FULL", series(&|r| Some(eps(r, r.full.seconds)))),
        Series::new("tributary identical FULL", series(&|r| Some(eps(r, r.resync.seconds)))),
        Series::new(
            "dlt load (merge)",
            series(&|r| r.dlt.as_ref().map(|(d, _)| eps(r, d.wall_seconds))),
        ),
        Series::new(
            "dlt identical re-load",
            series(&|r| r.dlt.as_ref().map(|(_, d)| eps(r, d.wall_seconds))),
        ),
        Series::new(
            "COPY of tributary's rows (employees / COPY time)",
            series(&|r| Some(eps(r, r.copy.seconds))),
        ),
    ];
    all.retain(|s| !s.points.is_empty());
    report.plot(
        out,
        "ingest.png",
        &Chart {
            title: "Ingest: Personio employees into Postgres",
            x_label: "employees",
            y_label: "employees per second",
            log_x: true,
            log_y: false,
        },
        &all,
    )
}

/// Rows of the integration in the stored renderings' tables.
async fn rendering_rows(stack: &Stack, integration: &str) -> anyhow::Result<u64> {
    let mut conn = PgConnection::connect(&stack.db_url).await?;
    let rows: i64 = sqlx::query_scalar(
        "SELECT (SELECT count(*) FROM rendered WHERE integration_id = $1) + \
         (SELECT count(*) FROM render_deps WHERE integration_id = $1)",
    )
    .bind(integration)
    .fetch_one(&mut conn)
    .await?;
    let _ = conn.close().await;
    Ok(u64::try_from(rows).unwrap_or(0))
}

/// The mirror's tables a FULL writes rows into, each copied for the limit: the records, and
/// their stored renderings with what those depend on (the read API's ready pages).
const COPIED_TABLES: [&str; 3] = ["records", "rendered", "render_deps"];

/// The limit: `COPY FROM STDIN` of the rows the FULL wrote, into empty tables with the same
/// columns and indexes ([`COPIED_TABLES`]). Each export streams into a temporary file (not
/// timed), each load streams from it, so neither holds the rows in memory; the loads' times
/// add up.
async fn copy_limit(stack: &Stack, integration: &str) -> anyhow::Result<CopyLimit> {
    let mut conn = PgConnection::connect(&stack.db_url)
        .await
        .context("connecting to the mirror for COPY")?;
    let mut total = CopyLimit {
        rows: 0,
        bytes: 0,
        seconds: 0.0,
    };
    for table in COPIED_TABLES {
        let path: PathBuf = std::env::temp_dir().join(format!("tributary-bench-{}-{table}.copy", stack.db_name));
        let result = copy_table(&mut conn, table, integration, &path).await;
        let _ = std::fs::remove_file(&path);
        let one = result.with_context(|| format!("measuring COPY of the mirrored {table}"))?;
        total.rows += one.rows;
        total.bytes += one.bytes;
        total.seconds += one.seconds;
    }
    let _ = conn.close().await;
    Ok(total)
}

async fn copy_table(conn: &mut PgConnection, table: &str, integration: &str, path: &Path) -> anyhow::Result<CopyLimit> {
    let export = format!(
        "COPY (SELECT * FROM {table} WHERE integration_id = '{}') TO STDOUT",
        integration.replace('\'', "''")
    );
    let mut file = tokio::io::BufWriter::new(tokio::fs::File::create(path).await?);
    let mut bytes = 0u64;
    {
        let mut stream = conn.copy_out_raw(&export).await?;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk?;
            bytes += chunk.len() as u64;
            file.write_all(&chunk).await?;
        }
    }
    file.flush().await?;
    drop(file);
    let copy_table = format!("{table}_copy");
    sqlx::query(AssertSqlSafe(format!("DROP TABLE IF EXISTS {copy_table}")))
        .execute(&mut *conn)
        .await?;
    sqlx::query(AssertSqlSafe(format!(
        "CREATE TABLE {copy_table} (LIKE {table} INCLUDING ALL)"
    )))
    .execute(&mut *conn)
    .await?;
    let source = tokio::fs::File::open(path).await?;
    let started = Instant::now();
    let mut copy = conn.copy_in_raw(&format!("COPY {copy_table} FROM STDIN")).await?;
    copy.read_from(source).await?;
    let rows = copy.finish().await?;
    let seconds = started.elapsed().as_secs_f64();
    sqlx::query(AssertSqlSafe(format!("DROP TABLE {copy_table}")))
        .execute(&mut *conn)
        .await?;
    Ok(CopyLimit { rows, bytes, seconds })
}

/// dlt into a fresh database on the same server, twice (the second an identical re-load); each
/// run is checked to have left exactly one row per employee.
async fn run_dlt(
    venv: &Venv,
    sim: &tributary_sim::Simulator,
    stack: &Stack,
    employees: usize,
) -> anyhow::Result<(DltRun, DltRun)> {
    let name = format!("{}_dlt", stack.db_name);
    let (server, _) = stack
        .db_url
        .rsplit_once('/')
        .context("the mirror's URL has no database name")?;
    let admin_url = tributary_store::testing::admin_url();
    let mut admin = PgConnection::connect(&admin_url).await?;
    // The name is the mirror's ([a-z0-9_]) plus a suffix, so formatting it is safe.
    sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut admin)
        .await
        .with_context(|| format!("creating the database {name} for dlt"))?;
    let dsn = format!("{server}/{name}").replacen("postgres://", "postgresql://", 1);
    let pipelines_dir = std::env::temp_dir().join(format!("tributary-bench-dlt-{name}"));
    let result = async {
        let base_url = sim.base_url(ToolKind::Personio);
        let credentials = sim.integration_credentials(ToolKind::Personio);
        let mut runs = Vec::new();
        for label in ["load", "identical re-load"] {
            println!("dlt {label} ...");
            let run = venv.run(&base_url, &credentials, &dsn, &pipelines_dir).await?;
            let mut conn = PgConnection::connect(&format!("{server}/{name}")).await?;
            let (rows, distinct): (i64, i64) =
                sqlx::query_as("SELECT count(*), count(DISTINCT id) FROM personio.employees")
                    .fetch_one(&mut conn)
                    .await
                    .context("counting the employees dlt loaded")?;
            conn.close().await?;
            ensure!(
                rows == employees as i64 && distinct == rows,
                "after the dlt {label}, personio.employees holds {rows} rows ({distinct} distinct ids) for {employees} employees"
            );
            println!(
                "dlt {label}: {} employees, {} rows written, {:.2} s",
                thousands(rows),
                thousands(run.rows_written()),
                run.wall_seconds
            );
            runs.push(run);
        }
        let again = runs.pop().expect("two runs");
        let first = runs.pop().expect("two runs");
        anyhow::Ok((first, again))
    }
    .await;
    let _ = std::fs::remove_dir_all(&pipelines_dir);
    sqlx::query(AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")))
        .execute(&mut admin)
        .await?;
    let _ = admin.close().await;
    result
}
