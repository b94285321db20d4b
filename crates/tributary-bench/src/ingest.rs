//! `ingest`: a FULL sync of N simulated employees into a fresh mirror, then an identical re-sync.
//!
//! Everything runs in this one process — the simulator, the engine and the store's client — at
//! zero simulated latency and without a rate budget, so the numbers are the engine's own cost
//! (plus the simulator's rendering and the database's), not the tool's speed limits.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use clap::ValueEnum;
use tributary_engine::{EngineConfig, RunControl, SyncEngine};
use tributary_model::{Model, ModelScope, RunCounts, RunState, ScopeConfig, ScopeSetting, SyncType, ToolKind};
use tributary_sim::{SimConfig, Simulator};
use tributary_source::ClientConfig;
use tributary_store::testing::{fresh_pg_store, fresh_sqlite_store};
use tributary_store::{MirrorStore, NewIntegration, SyncRun};

use crate::memory;

/// The models `--only-employees` turns off, so a run measures employees with their employments
/// (and the org units the employees endpoint carries along) rather than time-off data.
const NON_EMPLOYEE_MODELS: [Model; 3] = [Model::Absences, Model::TimeOffBalances, Model::AbsenceTypes];

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Backend {
    Postgres,
    Sqlite,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Employees of the simulated company.
    #[arg(long, default_value_t = 10_000)]
    employees: usize,
    /// The mirror: a fresh Postgres database on TEST_DATABASE_URL's server (default
    /// postgres://postgres@127.0.0.1:5432/postgres), or a fresh SQLite file.
    #[arg(long, value_enum, default_value_t = Backend::Postgres)]
    backend: Backend,
    /// The simulated tool to sync.
    #[arg(long, default_value = "personio", value_parser = parse_tool)]
    tool: ToolKind,
    /// Disable absences, time-off balances and absence types in the integration's scope config,
    /// so only employees and employments (plus their org units) are synced.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    only_employees: bool,
    /// Seed of the generated company.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Keep the Postgres database (or SQLite file) afterwards, to inspect the mirror or
    /// EXPLAIN its statements; its name is printed.
    #[arg(long)]
    keep_database: bool,
}

fn parse_tool(s: &str) -> Result<ToolKind, String> {
    ToolKind::parse(s).ok_or_else(|| format!("unknown tool `{s}` (personio, greenhouse, bamboohr)"))
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    print_machine();
    // The guards drop the database (or file) at the end of the run, unless told to keep it.
    let (store, pg, file): (Arc<dyn MirrorStore>, _, _) = match args.backend {
        Backend::Postgres => {
            let (store, db) = fresh_pg_store().await.context("creating a fresh Postgres database")?;
            println!("database: {}", db.url());
            (store, Some(db), None)
        }
        Backend::Sqlite => {
            let (store, file) = fresh_sqlite_store().await.context("creating a fresh SQLite file")?;
            println!("database: {}", file.path().display());
            (store, None, Some(file))
        }
    };
    if args.keep_database {
        std::mem::forget(pg);
        std::mem::forget(file);
    }

    let started = Instant::now();
    let sim = Simulator::start(
        SimConfig {
            tools: vec![args.tool],
            employees: args.employees,
            seed: args.seed,
            ..SimConfig::default()
        },
        "127.0.0.1:0".parse().context("listen address")?,
    )
    .await
    .context("starting the simulator")?;
    println!(
        "simulator: {} employees generated in {:.1}s, RSS {}",
        args.employees,
        started.elapsed().as_secs_f64(),
        memory::mib(memory::current_rss())
    );

    let scope = if args.only_employees {
        only_employees_scope()
    } else {
        ScopeConfig::default()
    };
    let integration = store
        .create_integration(NewIntegration {
            id: format!("{}:bench", args.tool.as_str()),
            tool: args.tool,
            environment: "bench".into(),
            base_url: sim.base_url(args.tool),
            credentials: sim.integration_credentials(args.tool),
            scope_config: scope,
        })
        .await
        .context("creating the integration")?;
    let engine = SyncEngine::new(
        store.clone(),
        EngineConfig {
            client: ClientConfig {
                requests_per_second: None,
                ..ClientConfig::default()
            },
            ..EngineConfig::default()
        },
    );
    println!(
        "backend: {}, tool: {}, scope: {}, prefetch: {} page(s)",
        store.backend(),
        args.tool.as_str(),
        if args.only_employees {
            "only employees + employments (absences, time-off balances, absence types DISABLED)"
        } else {
            "every model"
        },
        engine.config().prefetch,
    );
    println!();
    println!(
        "{:<8} {:>9} {:>10} {:>10} {:>7} {:>9} {:>9} {:>9}",
        "run", "wall", "records", "records/s", "pages", "written", "unchanged", "peak RSS"
    );

    let full = measure(&engine, &integration.id, "full").await?;
    let resync = measure(&engine, &integration.id, "re-sync").await?;

    println!();
    for model in [Model::Employees, Model::Employments] {
        let n = store.count_records(&integration.id, model, false).await?;
        println!("mirrored {model}: {n}");
    }
    ensure!(full.counts.created > 0, "the full sync created nothing");
    let rewritten = written(&resync.counts);
    if rewritten != 0 {
        bail!("the identical re-sync wrote {rewritten} rows; it must write none");
    }
    println!("identical re-sync wrote 0 rows: ok");
    sim.shutdown().await;
    Ok(())
}

/// One FULL sync, timed, with its own memory peak.
async fn measure(engine: &SyncEngine, integration_id: &str, label: &str) -> anyhow::Result<SyncRun> {
    let own_peak = memory::reset_peak();
    let started = Instant::now();
    let run = engine
        .sync(integration_id, SyncType::Full, &RunControl::new())
        .await
        .with_context(|| format!("{label} sync"))?
        .run;
    let wall = started.elapsed();
    if run.state != RunState::Succeeded {
        bail!(
            "{label} sync ended {}: {}",
            run.state.as_str(),
            run.error.as_deref().unwrap_or("no error")
        );
    }
    let c = run.counts;
    let records = c.created + c.updated + c.unchanged;
    println!(
        "{:<8} {:>8.2}s {:>10} {:>10.0} {:>7} {:>9} {:>9} {:>9}{}",
        label,
        wall.as_secs_f64(),
        records,
        per_second(records, wall),
        c.pages_fetched,
        written(&c),
        c.unchanged,
        memory::mib(memory::peak_rss()),
        if own_peak { "" } else { " (cumulative)" },
    );
    Ok(run)
}

/// Rows the run wrote to the mirror.
fn written(c: &RunCounts) -> i64 {
    c.created + c.updated + c.deleted
}

fn per_second(records: i64, wall: Duration) -> f64 {
    records as f64 / wall.as_secs_f64().max(f64::EPSILON)
}

fn only_employees_scope() -> ScopeConfig {
    ScopeConfig {
        read_models: NON_EMPLOYEE_MODELS
            .iter()
            .map(|m| ModelScope {
                id: m.scope_id().to_owned(),
                scope_config_setting: ScopeSetting::Disabled,
                ..ModelScope::default()
            })
            .collect(),
    }
}

fn print_machine() {
    let cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .map(|l| l["MemTotal:".len()..].trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".to_owned());
    println!(
        "machine: {cpus} CPUs, {memory} memory; release build: {}",
        !cfg!(debug_assertions)
    );
}
