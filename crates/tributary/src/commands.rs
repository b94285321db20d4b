//! The one-shot and serving subcommands (everything but the demo).

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use tributary_engine::{EngineConfig, RunControl, Schedule, SyncEngine};
use tributary_model::{ScopeConfig, SyncType, ToolKind};
use tributary_queue::MemoryQueue;
use tributary_sim::{SimConfig, Simulator};
use tributary_store::NewIntegration;
use tributary_worker::{JobContext, WorkerConfig, WorkerError};

use crate::cli::{
    ApiKeyCommand, CreateIntegrationArgs, GatewayArgs, Global, IntegrationCommand, OutputFormat, ProbeCommand,
    RunsArgs, SimArgs, SyncArgs, SyncTypeArg,
};
use crate::listing;
use crate::progress::Printer;
use crate::setup::{open_store, shutdown_signal};

pub async fn sim(args: SimArgs) -> anyhow::Result<()> {
    let config = SimConfig {
        employees: args.employees as usize,
        seed: args.seed,
        mutate_every: (args.mutate_every > 0).then(|| Duration::from_secs(args.mutate_every)),
        documented_rate_limits: args.documented_rate_limits,
        latency: Duration::from_millis(args.latency_ms),
        ..SimConfig::default()
    };
    println!(
        "generating a company of {} employees (seed {})…",
        args.employees, args.seed
    );
    let sim = Simulator::start(config, args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    for tool in ToolKind::ALL {
        println!(
            "{:<10} {}   credentials {}",
            tool.as_str(),
            sim.base_url(*tool),
            sim.integration_credentials(*tool)
        );
    }
    println!(
        "control API  http://{}/_control (log, faults, mutate, revoke)",
        sim.addr
    );
    shutdown_signal().await;
    sim.shutdown().await;
    Ok(())
}

pub async fn migrate(global: &Global) -> anyhow::Result<()> {
    // Whatever --skip-migrations says: this is the command that migrates.
    let store = crate::setup::open_store_with(global, true).await?;
    println!("migrations applied ({})", store.backend());
    Ok(())
}

pub async fn sync(global: &Global, args: SyncArgs) -> anyhow::Result<()> {
    let store = open_store(global).await?;
    let integration = store
        .get_integration(&args.integration)
        .await?
        .ok_or_else(|| anyhow!("integration `{}` not found", args.integration))?;
    let engine = SyncEngine::new(store.clone(), EngineConfig::default());
    let sync_type = match args.sync_type {
        Some(SyncTypeArg::Full) => SyncType::Full,
        Some(SyncTypeArg::Delta) => SyncType::Delta,
        Some(SyncTypeArg::Default) => SyncType::Default,
        None => engine.due_sync_type(&integration, &Schedule::default()).await?,
    };
    if !integration.tool.supports_delta() && sync_type != SyncType::Default {
        bail!(
            "{} has no changed-since filter: it only takes DEFAULT syncs",
            integration.tool
        );
    }
    if integration.tool.supports_delta() && sync_type == SyncType::Default {
        bail!("{} syncs with FULL and DELTA, not DEFAULT", integration.tool);
    }
    let printer = Arc::new(Printer::with_bar_on_terminal());
    let mut ctx = one_shot(engine);
    ctx.observer = Some(printer.clone());
    let run = match ctx.sync_now(&integration.id, sync_type, RunControl::new()).await {
        Ok(run) => run,
        Err(e) => {
            if !printer.announced() {
                println!("{} {} started", integration.id, sync_type.as_str());
            }
            // Worded as the engine words them, as before the worker ran `tributary sync`.
            let e = match e {
                WorkerError::Engine(e) => anyhow::Error::new(e),
                WorkerError::Store(e) => anyhow::Error::new(e),
                other => anyhow::Error::new(other),
            };
            return Err(e.context(format!("sync of {} could not run", integration.id)));
        }
    };
    if !matches!(
        run.state,
        tributary_model::RunState::Succeeded | tributary_model::RunState::Paused
    ) {
        bail!("sync {} ended {}", run.id, run.state.as_str());
    }
    Ok(())
}

/// The worker that runs `tributary sync`'s one sync, beside no other of this process: the
/// mirror's lease, as `serve` without Redis takes it. The source failing ends the run FAILED
/// (no retry is left to a scheduler that is not there), and a sync holding the lease, in
/// another process, makes the integration busy at once (no delta of this process could make
/// it pause).
fn one_shot(engine: SyncEngine) -> JobContext {
    let config = WorkerConfig {
        worker_id: engine.config().worker_id.clone(),
        lease_ttl: engine.config().lease_ttl,
        max_attempts: 1,
        preempt_wait: Duration::ZERO,
        ..WorkerConfig::default()
    };
    JobContext::embedded(engine, MemoryQueue::new(), config)
}

pub async fn runs(global: &Global, args: RunsArgs) -> anyhow::Result<()> {
    let store = open_store(global).await?;
    if store.get_integration(&args.integration).await?.is_none() {
        bail!("integration `{}` not found", args.integration);
    }
    let runs = store.list_runs(&args.integration, args.limit).await?;
    match args.output.output {
        OutputFormat::Json => listing::print_json(&runs),
        OutputFormat::Text => listing::print_table(
            &[
                "RUN", "TYPE", "STATE", "STARTED", "TOOK", "PAGES", "CREATED", "UPDATED", "DELETED", "ERROR",
            ],
            runs.iter().map(listing::run_row),
        ),
    }
}

pub fn completions(shell: clap_complete::Shell) -> anyhow::Result<()> {
    use clap::CommandFactory;
    use std::io::Write;
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut crate::cli::Cli::command(), "tributary", &mut script);
    match std::io::stdout().write_all(&script) {
        // `tributary completions bash | head` is not a failure.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other.context("cannot write the completion script"),
    }
}

/// Splits `<tool>:<name>` and checks the tool is one we have a connector for.
pub fn parse_integration_id(id: &str) -> anyhow::Result<ToolKind> {
    let (tool, name) = id
        .split_once(':')
        .ok_or_else(|| anyhow!("integration id `{id}` must look like <tool>:<name>, e.g. personio:acme"))?;
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        bail!("integration id `{id}`: the name after `:` must be letters, digits, `-`, `_` or `.`");
    }
    ToolKind::parse(tool).ok_or_else(|| {
        let known: Vec<&str> = ToolKind::ALL.iter().map(|t| t.as_str()).collect();
        anyhow!(
            "unknown tool `{tool}` in integration id `{id}` (known: {})",
            known.join(", ")
        )
    })
}

pub fn parse_base_url(base_url: &str) -> anyhow::Result<()> {
    let url = url::Url::parse(base_url).map_err(|e| anyhow!("base URL `{base_url}` is not a valid URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        bail!("base URL `{base_url}` must be an http(s) URL with a host");
    }
    Ok(())
}

pub async fn integration(global: &Global, cmd: IntegrationCommand) -> anyhow::Result<()> {
    match cmd {
        IntegrationCommand::Create(args) => create_integration(global, args).await,
        IntegrationCommand::List(output) => {
            let store = open_store(global).await?;
            let integrations = store.list_integrations().await?;
            match output.output {
                OutputFormat::Json => {
                    listing::print_json(&integrations.iter().map(listing::integration_json).collect::<Vec<_>>())
                }
                OutputFormat::Text => listing::print_table(
                    &["ID", "TOOL", "ENVIRONMENT", "BASE URL", "CREATED"],
                    integrations.iter().map(listing::integration_row),
                ),
            }
        }
        IntegrationCommand::Scope { integration, file } => {
            let text = std::fs::read_to_string(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let value: serde_json::Value =
                serde_json::from_str(&text).map_err(|e| anyhow!("{} is not JSON: {e}", file.display()))?;
            let store = open_store(global).await?;
            let Some(found) = store.get_integration(&integration).await? else {
                bail!("integration `{integration}` not found");
            };
            // The admin API's checks, so both refuse the same configs with the same words.
            let scope = tributary_operator::tool_scope_config(found.tool, value)
                .map_err(|e| anyhow!("{}: {e}", file.display()))?;
            let version = store.set_scope_config(&integration, &scope).await?;
            // As `PUT …/scope-config` does: a complete pass under the new scope is due now (an
            // open complete run starts its pass again; see `Runs::finish_run`).
            let complete = if found.tool.supports_delta() {
                SyncType::Full
            } else {
                SyncType::Default
            };
            let due = match store.force_sync(&integration, complete, chrono::Utc::now()).await {
                Ok(()) => "is due now",
                // Never scheduled (created without a scheduler): its first sync is complete anyway.
                Err(tributary_store::StoreError::NotFound(_)) => "runs with the first scheduled sync",
                Err(e) => return Err(e.into()),
            };
            println!(
                "scope config of {integration} replaced (scope version {version}); a {} pass that rewrites every record under it {due}, and the read API hides disabled fields until then",
                complete.as_str()
            );
            Ok(())
        }
        IntegrationCommand::Delete { integration } => {
            let store = open_store(global).await?;
            if !store.delete_integration(&integration).await? {
                bail!("integration `{integration}` not found");
            }
            println!("deleted {integration} and its mirrored data");
            Ok(())
        }
    }
}

async fn create_integration(global: &Global, args: CreateIntegrationArgs) -> anyhow::Result<()> {
    let tool = parse_integration_id(&args.id)?;
    parse_base_url(&args.base_url)?;
    let raw = match (&args.credentials, &args.credentials_file) {
        (Some(c), _) => c.clone(),
        (None, Some(f)) => std::fs::read_to_string(f).with_context(|| format!("cannot read {}", f.display()))?,
        (None, None) => bail!("credentials are required: --credentials-file FILE or TRIBUTARY_CREDENTIALS"),
    };
    let credentials: serde_json::Value = serde_json::from_str(&raw).context("credentials are not valid JSON")?;
    if !credentials.is_object() {
        bail!("credentials must be a JSON object");
    }
    // The admin API's check: the connector is built, so a credential of the wrong shape (a
    // Greenhouse v1 key, say) is refused now, naming what the tool needs, not at the first sync.
    let credentials = tributary_operator::check_credentials(tool, &args.id, &args.base_url, credentials)
        .map_err(|e| anyhow!("{e}"))?;
    let store = open_store(global).await?;
    store
        .create_integration(NewIntegration {
            id: args.id.clone(),
            tool,
            environment: args.environment,
            base_url: args.base_url,
            credentials,
            scope_config: ScopeConfig::default(),
        })
        .await?;
    // Due at once: a running scheduler queues the first sync at its next tick.
    store
        .ensure_schedules(&args.id, &tributary_engine::default_intervals(tool, false))
        .await?;
    println!("created {}", args.id);
    Ok(())
}

pub async fn api_key(global: &Global, cmd: ApiKeyCommand) -> anyhow::Result<()> {
    let store = open_store(global).await?;
    match cmd {
        ApiKeyCommand::Create { environment, label } => {
            let key = tributary_gateway::generate_api_key();
            let row = store
                .create_api_key(&environment, &label, &tributary_gateway::hash_api_key(&key))
                .await?;
            println!("{key}");
            eprintln!(
                "api key {} for environment `{environment}` (shown once; only its hash is stored)",
                row.id
            );
        }
        ApiKeyCommand::Revoke { id } => {
            if !store.revoke_api_key(&id).await? {
                bail!("api key `{id}` not found");
            }
            println!("revoked {id}");
        }
    }
    Ok(())
}

pub async fn gateway(global: &Global, args: GatewayArgs) -> anyhow::Result<()> {
    // Force-sync and the operator API need the fleet's queues; without Redis there is no
    // fleet to reach (`tributary serve` runs one in embedded mode).
    if args.ops_listen.is_some() && global.redis_url.is_none() {
        anyhow::bail!("--ops-listen serves the operator API, which `tributary gateway` has only with REDIS_URL set");
    }
    crate::setup::check_redis_url(global)?;
    crate::setup::check_ops_listen(global, args.ops_listen)?;
    let store = open_store(global).await?;
    let fleet = match &global.redis_url {
        Some(_) => Some(crate::setup::Fleet::open(global, &store).await?),
        None => None,
    };
    let api_store = crate::setup::open_api_store(global, &store, &args.limits).await?;
    let metrics = crate::observe::metrics_router(&store, fleet.as_ref().map(|f| f.queue.clone()), &args.metrics)?;
    let app = crate::api::router(
        global,
        api_store.clone(),
        fleet.as_ref(),
        &args.limits,
        args.ops_listen.is_some(),
        metrics.clone(),
    );
    let ops = match (args.ops_listen, &fleet) {
        (Some(addr), Some(fleet)) => Some((
            addr,
            crate::api::ops_router(global, api_store, fleet, &args.limits, metrics),
        )),
        _ => None,
    };
    let listeners = crate::listeners::Listeners::bind(args.listen, app, ops).await?;
    crate::setup::banner(
        global,
        &format!(
            "read API on http://{0}/v1 (browse it at http://{0}/v1/docs)",
            args.listen
        ),
    );
    match (&listeners.ops, fleet.is_some()) {
        (Some((addr, _, _)), _) => crate::setup::banner(global, &format!("operator API on http://{addr}/ops/v1 only")),
        (None, true) => crate::setup::banner(global, &format!("operator API on http://{}/ops/v1", args.listen)),
        (None, false) => {}
    }
    listeners
        .serve(
            args.limits.serve_options(),
            crate::setup::shutdown_watch(),
            Duration::from_secs_f64(args.shutdown_timeout_secs),
        )
        .await
}

/// `tributary probe`: a health check for images without a shell or curl. Anything but a 2xx
/// answer in time is a failure, with one line saying which.
pub async fn probe(args: ProbeCommand) -> anyhow::Result<()> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs_f64(args.timeout_secs))
        .build()
        .context("cannot build an HTTP client")?;
    let response = client
        .get(&args.url)
        .send()
        .await
        // The URL is in our own words already; reqwest's would repeat it.
        .map_err(|e| anyhow::Error::new(e.without_url()).context(format!("cannot reach {}", args.url)))?;
    let status = response.status();
    if !status.is_success() {
        bail!("{} answered {status}", args.url);
    }
    Ok(())
}
