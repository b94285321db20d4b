//! The `tributary` binary. Every role is a subcommand; see `tributary --help`.

mod api;
mod cli;
mod commands;
mod demo;
mod fleet;
mod gauges;
mod listeners;
mod listing;
mod observe;
mod progress;
mod setup;

use clap::Parser;

use crate::cli::{Cli, Command};

// mimalloc: the sync path allocates and frees many small JSON nodes per record, and glibc's
// malloc spent about a third of the benchmark's CPU on them.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() {
    let mut cli = Cli::parse();
    if let Command::Probe(args) = cli.command {
        // A health check runs every few seconds: no logging or trace exporter to set up.
        if let Err(e) = commands::probe(args).await {
            eprintln!("error: {e:#}");
            std::process::exit(1);
        }
        return;
    }
    if let Err(e) = cli.global.read_secret_files() {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
    let default_log = if matches!(cli.command, Command::Demo(_)) {
        "warn"
    } else {
        "info"
    };
    let telemetry = match setup::init_telemetry(&cli.global, default_log) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    };
    let result = match cli.command {
        Command::Demo(args) => demo::run(&cli.global, args).await,
        Command::Sim(args) => commands::sim(args).await,
        Command::Migrate => commands::migrate(&cli.global).await,
        Command::Sync(args) => commands::sync(&cli.global, args).await,
        Command::Runs(args) => commands::runs(&cli.global, args).await,
        Command::Integration(cmd) => commands::integration(&cli.global, cmd).await,
        Command::ApiKey(cmd) => commands::api_key(&cli.global, cmd).await,
        Command::Gateway(args) => commands::gateway(&cli.global, args).await,
        Command::Scheduler(args) => fleet::scheduler(&cli.global, args).await,
        Command::Worker(args) => fleet::worker(&cli.global, args).await,
        Command::Serve(args) => fleet::serve(&cli.global, args).await,
        Command::Completions { shell } => commands::completions(shell),
        Command::Probe(_) => unreachable!("handled above"),
    };
    // Blocks while the last spans are sent: off the runtime's worker threads.
    let _ = tokio::task::spawn_blocking(move || telemetry.shutdown()).await;
    if let Err(e) = result {
        // One clear line: the chain of causes, no backtrace. Exit 1: only usage errors exit 2
        // (command lines clap cannot parse, and a bad --log-format above), so a script can tell
        // a typo from a failure.
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}
