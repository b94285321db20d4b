//! `tributary-bench`: measures tributary side by side with the tool a user would pick instead
//! and with what the machine allows, in the same run. Each scenario starts its own stack
//! (see `stack`), prints its tables as it goes and writes `<scenario>.md`, `<scenario>.json`
//! and its plots into `--out`.
//!
//! ```text
//! cargo run --release -p tributary-bench -- ingest --sizes 10000,100000
//! cargo run --release -p tributary-bench -- smoke --out /tmp/bench
//! ```

mod delta;
mod dispatch;
mod dlt;
mod enqueue;
mod fleet;
mod gateway;
mod ingest;
mod pace;
mod plot;
mod report;
mod scrape;
mod stack;
mod webhooks;

use std::path::{Path, PathBuf};

use anyhow::Context;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "tributary-bench",
    about = "Benchmarks of tributary against a peer and the machine's limit"
)]
struct Cli {
    /// Log filter for the benchmark's own process (the engine's logs would drown the numbers;
    /// a manual trigger's "no schedule" and sqlx's slow-statement warnings are expected here).
    #[arg(
        long,
        env = "TRIBUTARY_LOG",
        default_value = "warn,tributary_scheduler=error,sqlx=error",
        global = true
    )]
    log: String,
    /// Where results (Markdown, JSON, PNG plots) go; default: crates/tributary-bench/results.
    #[arg(long, global = true)]
    out: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// A FULL sync of a simulated tool at zero latency into a fresh mirror, then an identical
    /// re-sync (which must write nothing).
    Ingest(ingest::Args),
    /// DELTA syncs of 10, 100 and 1,000 changes on a large mirror: cost follows the changes.
    Delta(delta::Args),
    /// The read API under 1 to 128 concurrent clients, against pgbench running its own SQL.
    Gateway(gateway::Args),
    /// The fleet: enqueue of many due integrations, dispatch through 1, 2 and 4 worker
    /// processes, preemption latency.
    Fleet(fleet::Args),
    /// Webhooks: source webhook in → data-changed out, and outbox deliveries per second.
    Webhooks(webhooks::Args),
    /// A FULL at a real tool's speed (latency, documented rate limits) against the time the
    /// tool's documented limits need for its requests.
    Pace(pace::Args),
    /// `GET /metrics` with many integrations in the mirror: scrape latency (p50, p99).
    Metrics(scrape::Args),
    /// Every scenario at tiny sizes, to check that they all still run (CI runs this).
    Smoke,
}

/// The scenarios with tiny sizes that `smoke` runs, each as its command line.
const SMOKE: &[&[&str]] = &[
    &["ingest", "--sizes", "300", "--dlt-max-size", "300"],
    &[
        "delta",
        "--employees",
        "400",
        "--small-employees",
        "200",
        "--changes",
        "5,20",
    ],
    &["gateway", "--employees", "200", "--clients", "1,4", "--seconds", "1"],
    &[
        "fleet",
        "--integrations",
        "200",
        "--jobs",
        "300",
        "--workers",
        "1,2",
        "--preemptions",
        "2",
    ],
    &["webhooks", "--samples", "5", "--deliveries", "200"],
    &["metrics", "--integrations", "60", "--scrapes", "10"],
    &[
        "pace",
        "--employees",
        "60",
        "--candidates",
        "60",
        "--latency-ms",
        "20",
        "--stream-concurrency",
        "4",
    ],
];

// mimalloc: the sync path allocates and frees many small JSON nodes per record, and glibc's
// malloc spent about a third of the benchmark's CPU on them.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_new(&cli.log).unwrap_or_else(|e| {
        eprintln!("error: --log `{}` is not a valid log filter: {e}", cli.log);
        std::process::exit(2);
    });
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .compact()
        .init();
    let out = cli.out.unwrap_or_else(report::default_out_dir);
    let result = match cli.command {
        Command::Smoke => smoke(&out).await,
        command => run(command, &out).await,
    };
    if let Err(e) = result {
        eprintln!("error: {e:#}");
        std::process::exit(2);
    }
}

async fn run(command: Command, out: &Path) -> anyhow::Result<()> {
    match command {
        Command::Ingest(args) => ingest::run(args, out).await,
        Command::Delta(args) => delta::run(args, out).await,
        Command::Gateway(args) => gateway::run(args, out).await,
        Command::Fleet(args) => fleet::run(args, out).await,
        Command::Webhooks(args) => webhooks::run(args, out).await,
        Command::Pace(args) => pace::run(args, out).await,
        Command::Metrics(args) => scrape::run(args, out).await,
        Command::Smoke => anyhow::bail!("smoke does not nest"),
    }
}

/// Runs every scenario of [`SMOKE`]; the first failure stops it. The gateway's load generator
/// (wrk) is a tool, not a service: without it the gateway scenario is skipped with a line,
/// unless TRIBUTARY_REQUIRE_SERVICES asks for everything (CI).
async fn smoke(out: &Path) -> anyhow::Result<()> {
    let require = std::env::var_os("TRIBUTARY_REQUIRE_SERVICES").is_some();
    for argv in SMOKE {
        if argv[0] == "gateway" && !require && gateway::missing_tools().is_some() {
            println!(
                "smoke: gateway skipped: {}",
                gateway::missing_tools().unwrap_or_default()
            );
            continue;
        }
        println!("\nsmoke: {}", argv.join(" "));
        let cli = Cli::try_parse_from(std::iter::once("tributary-bench").chain(argv.iter().copied()))?;
        run(cli.command, out)
            .await
            .with_context(|| format!("smoke: {}", argv.join(" ")))?;
    }
    Ok(())
}
