//! `pace`: a FULL sync at a real tool's speed. The simulator answers every request after a
//! latency (300 ms by default) and throttles at each tool's documented rate limit, answering
//! as the tool does; one `tributary worker` mirrors, in a complete sync (FULL, or DEFAULT where
//! the tool has no deltas), 10,000 employees (Personio, BambooHR) or
//! 10,000 candidates (Greenhouse). Beside each run, in the same run, the limit it is measured
//! against: the time the tool's documented limits need for the requests the run made
//! (requests on a limited endpoint ÷ its allowed rate, the largest over the tool's limits), and
//! the time the same requests take one at a time at that latency. Each tool runs with one
//! stream at a time and with the worker's default concurrency, so the table shows what
//! fetching streams concurrently gains.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use serde::Serialize;
use tributary_model::{SyncType, ToolKind};
use tributary_sim::{RequestFilter, SimConfig, Simulator};

use crate::ingest::{WORKER_ARGS, timed_sync};
use crate::report::{Report, load_average, ratio, secs, thousands};
use crate::stack::Stack;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Employees of the HRIS tools' company (Personio, BambooHR).
    #[arg(long, default_value_t = 10_000)]
    employees: usize,
    /// Candidates of Greenhouse's company (the ATS half is generated to at least this many).
    #[arg(long, default_value_t = 10_000)]
    candidates: usize,
    /// Latency of every simulated request, in milliseconds.
    #[arg(long, default_value_t = 300)]
    latency_ms: u64,
    /// The tools to run (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "personio,bamboohr,greenhouse", value_parser = parse_tool)]
    tools: Vec<ToolKind>,
    /// Streams fetched at once, one run each (comma-separated; the worker's default is 4).
    #[arg(long, value_delimiter = ',', default_value = "1,4")]
    stream_concurrency: Vec<usize>,
    /// Seed of the generated companies.
    #[arg(long, default_value_t = 42)]
    seed: u64,
}

#[derive(Debug, Serialize)]
struct PaceRun {
    tool: ToolKind,
    records: usize,
    stream_concurrency: usize,
    seconds: f64,
    requests: usize,
    throttled: usize,
    /// The imposed limits' time for these requests.
    rate_bound_seconds: Option<f64>,
    /// Whether those limits are the vendor's numbers (else the simulator's stand-in).
    bound_documented: bool,
    /// The same requests one at a time at the simulated latency.
    serial_seconds: f64,
    load_average: String,
}

pub async fn run(args: Args, out: &Path) -> anyhow::Result<()> {
    ensure!(!args.tools.is_empty(), "--tools names no tool");
    ensure!(
        !args.stream_concurrency.is_empty() && args.stream_concurrency.iter().all(|n| *n >= 1),
        "--stream-concurrency needs counts of at least 1"
    );
    let mut report = Report::new("pace");
    report.note(format!(
        "The simulator runs in the benchmark's process with {} ms added to every request and each \
         tool's documented rate limits imposed (`--documented-rate-limits`; what each tool documents \
         and answers is in docs/sources/<tool>.md). One `tributary worker` process (--concurrency 1) \
         runs a FULL into a fresh mirror, with no operator budget (--source-rps 100000): only the \
         tool's documented limits, which the client keeps to, and its 429s pace it. Wall is the run's \
         started_at → ended_at. \"requests\" are the tool's requests the run made, authentication \
         included; \"429\" those the tool refused.",
        args.latency_ms
    ));
    report.note(
        "Bound: the time the limits the simulated tool imposes need for the run's requests: for \
         each limit, the requests on its endpoint (all requests for a whole-API limit) ÷ its \
         allowed rate; the largest. Personio's limits are its documented numbers (2,000 a minute \
         per address, 300 a minute on the employees list, 60 a minute on auth). Greenhouse sets \
         its limit per integration and reports it in X-RateLimit-Limit; the simulator plays the \
         guide's example, 75 per 30 s. BambooHR documents no number; the simulator plays 10 a \
         second (\"stand-in limit\"). \"% of bound\" is bound ÷ wall (100 %: as fast as the limits \
         allow; a fixed window's first allowance is there at once, so a run can beat the bound \
         by up to one window). Serial: the same requests one after another at the latency, what a \
         connector fetching one request at a time needs.",
    );
    let mut runs = Vec::new();
    let table = report.table(
        "FULL at a real tool's speed",
        &[
            "tool",
            "records",
            "streams at once",
            "wall",
            "requests",
            "429",
            "bound (rate limits)",
            "% of bound",
            "serial",
            "load",
        ],
    );
    for &tool in &args.tools {
        for &width in &args.stream_concurrency {
            let run = one_run(&args, tool, width).await?;
            table.row(vec![
                tool.as_str().to_owned(),
                thousands(run.records as i64),
                width.to_string(),
                secs(Duration::from_secs_f64(run.seconds)),
                thousands(run.requests as i64),
                thousands(run.throttled as i64),
                run.rate_bound_seconds
                    .map(|b| {
                        let stand_in = if run.bound_documented { "" } else { " (stand-in limit)" };
                        format!("{}{stand_in}", secs(Duration::from_secs_f64(b)))
                    })
                    .unwrap_or_else(|| "none".to_owned()),
                run.rate_bound_seconds
                    .map(|b| format!("{:.0} %", 100.0 * b / run.seconds))
                    .unwrap_or_else(|| "–".to_owned()),
                format!(
                    "{} ({})",
                    secs(Duration::from_secs_f64(run.serial_seconds)),
                    ratio(run.serial_seconds, run.seconds)
                ),
                run.load_average.clone(),
            ]);
            runs.push(run);
        }
    }
    report.data("runs", &runs);
    report.write(out)
}

async fn one_run(args: &Args, tool: ToolKind, width: usize) -> anyhow::Result<PaceRun> {
    println!("\n-- {} with {width} stream(s) at once --", tool.as_str());
    let employees = match tool {
        ToolKind::Greenhouse => employees_for_candidates(args.candidates, args.seed),
        _ => args.employees,
    };
    let started = Instant::now();
    let sim = Simulator::start(
        SimConfig {
            tools: vec![tool],
            employees,
            seed: args.seed,
            documented_rate_limits: true,
            latency: Duration::from_millis(args.latency_ms),
            ..SimConfig::default()
        },
        "127.0.0.1:0".parse().context("listen address")?,
    )
    .await
    .context("starting the simulator")?;
    let stats = sim.state.stats(tool).context("the simulator serves the tool")?;
    let records = match tool {
        ToolKind::Greenhouse => stats.candidates,
        _ => stats.employees,
    };
    println!(
        "simulator: {} {} in {:.1} s",
        thousands(records as i64),
        if tool == ToolKind::Greenhouse {
            "candidates"
        } else {
            "employees"
        },
        started.elapsed().as_secs_f64()
    );
    let mut stack = Stack::start("pace").await?;
    let integration = stack.integration(&sim, tool, "pace", false).await?;
    let width_arg = width.to_string();
    let mut worker_args = WORKER_ARGS.to_vec();
    worker_args.extend_from_slice(&["--stream-concurrency", &width_arg]);
    let worker = stack.worker("worker", &worker_args)?;
    let before = sim.state.last_request_seq();
    // At 300 ms a request and a few requests a second, a FULL takes minutes, not seconds.
    // The tool's complete sync: a FULL, or DEFAULT where the tool has no deltas.
    let complete = if tool.supports_delta() {
        SyncType::Full
    } else {
        SyncType::Default
    };
    let full = timed_sync(&stack, &worker, &integration, complete, Duration::from_secs(3 * 3600)).await?;
    let log = sim.state.requests(&RequestFilter::tool(tool).since(before));
    stack.stop(&worker).await?;
    drop(stack);
    drop(sim);

    let served: Vec<_> = log.iter().filter(|r| r.status != 429).collect();
    let rate_bound = bound(
        tool,
        &served
            .iter()
            .map(|r| format!("{} {}", r.method, r.path))
            .collect::<Vec<_>>(),
    );
    let bound_documented = rate_bound.is_some_and(|(_, documented)| documented);
    let rate_bound = rate_bound.map(|(seconds, _)| seconds);
    Ok(PaceRun {
        tool,
        records,
        stream_concurrency: width,
        seconds: full.wall.as_secs_f64(),
        requests: log.len(),
        throttled: log.len() - served.len(),
        rate_bound_seconds: rate_bound,
        bound_documented,
        serial_seconds: served.len() as f64 * args.latency_ms as f64 / 1000.0,
        load_average: load_average(),
    })
}

/// The time the limits the simulated `tool` imposes need for `requests` (each named
/// `METHOD /path`), and whether all of those limits are the vendor's own numbers.
fn bound(tool: ToolKind, requests: &[String]) -> Option<(f64, bool)> {
    let limits = tributary_sim::tools::imposed_limits(tool);
    let documented = limits.iter().all(|l| l.documented);
    limits
        .iter()
        .map(|limit| {
            let counted = requests
                .iter()
                .filter(|r| limit.endpoint.is_none_or(|e| e == r.as_str()))
                .count();
            counted as f64 * limit.per.as_secs_f64() / limit.requests as f64
        })
        .reduce(f64::max)
        .map(|b| (b, documented))
}

/// Employees whose generated ATS half has at least `candidates` candidates (the ATS scales
/// with the company), found from a small company's ratio.
fn employees_for_candidates(candidates: usize, seed: u64) -> usize {
    let probe = 1_000;
    let companies = tributary_sim::generate_companies(seed, probe, &[ToolKind::Greenhouse]);
    let per_employee = companies
        .get(&ToolKind::Greenhouse)
        .map(|c| tributary_sim::CompanyStats::of(c).candidates as f64 / probe as f64)
        .filter(|r| *r > 0.0)
        .unwrap_or(1.0);
    ((candidates as f64 / per_employee).ceil() as usize).clamp(10, 1_000_000)
}

fn parse_tool(s: &str) -> Result<ToolKind, String> {
    ToolKind::parse(s).ok_or_else(|| format!("`{s}` is not a tool (personio, bamboohr or greenhouse)"))
}
