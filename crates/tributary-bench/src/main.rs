//! `tributary-bench`: measures how fast a sync mirrors a simulated tool.
//!
//! ```text
//! cargo run --release -p tributary-bench -- ingest --employees 100000
//! cargo run --release -p tributary-bench -- enqueue --integrations 10000
//! ```

mod dispatch;
mod enqueue;
mod ingest;
mod memory;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "tributary-bench", about = "Throughput benchmarks for the sync engine")]
struct Cli {
    /// Log filter for the engine's own logs (they would drown the numbers at `info`).
    #[arg(long, env = "TRIBUTARY_LOG", default_value = "warn", global = true)]
    log: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// A FULL sync of a simulated tool at zero latency into a fresh mirror, then an identical
    /// re-sync (which must write nothing).
    Ingest(ingest::Args),
    /// Many integrations due at once: the scheduler's claim and enqueue into Redis.
    Enqueue(enqueue::Args),
    /// Jobs per second one worker process takes from Redis and handles (no-op jobs).
    Dispatch(dispatch::Args),
}

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
    let result = match cli.command {
        Command::Ingest(args) => ingest::run(args).await,
        Command::Enqueue(args) => enqueue::run(args).await,
        Command::Dispatch(args) => dispatch::run(args).await,
    };
    if let Err(e) = result {
        eprintln!("error: {e:#}");
        std::process::exit(2);
    }
}
