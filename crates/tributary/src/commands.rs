//! The one-shot and serving subcommands (everything but the demo).

use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use tributary_engine::{EngineConfig, RunControl, Schedule, SyncEngine};
use tributary_model::{ScopeConfig, SyncType, ToolKind};
use tributary_sim::{SimConfig, Simulator};
use tributary_store::{NewIntegration, SyncRun};

use crate::cli::{
    ApiKeyCommand, CreateIntegrationArgs, GatewayArgs, Global, IntegrationCommand, RunsArgs, SimArgs, SyncArgs,
    SyncTypeArg,
};
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
    let store = open_store(global).await?;
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
    let run = run_with_progress(&engine, &integration.id, sync_type).await?;
    if !matches!(
        run.state,
        tributary_model::RunState::Succeeded | tributary_model::RunState::Paused
    ) {
        bail!("sync {} ended {}", run.id, run.state.as_str());
    }
    Ok(())
}

/// Runs one sync, printing a progress line every few seconds and a summary line at the end.
pub async fn run_with_progress(
    engine: &SyncEngine,
    integration_id: &str,
    sync_type: SyncType,
) -> anyhow::Result<SyncRun> {
    println!("{integration_id} {} started", sync_type.as_str());
    let control = RunControl::new();
    let mut progress = control.subscribe_progress();
    let started = std::time::Instant::now();
    let label = format!("{integration_id} {}", sync_type.as_str());
    let ticker = {
        let label = label.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_secs(3));
            every.tick().await;
            loop {
                every.tick().await;
                if !progress.has_changed().unwrap_or(false) {
                    continue;
                }
                let p = progress.borrow_and_update().clone();
                println!(
                    "  {label} … {} pages, {} created, {} updated, {} unchanged (stream {})",
                    p.counts.pages_fetched, p.counts.created, p.counts.updated, p.counts.unchanged, p.stream
                );
            }
        })
    };
    let outcome = engine.sync(integration_id, sync_type, &control).await;
    ticker.abort();
    let run = outcome
        .with_context(|| format!("sync of {integration_id} could not run"))?
        .run;
    println!("{}", summary(&label, &run, started.elapsed()));
    Ok(run)
}

pub fn summary(label: &str, run: &SyncRun, took: Duration) -> String {
    let c = run.counts;
    let mut line = format!(
        "{label} {} in {:.1}s: {} pages, {} created, {} updated, {} deleted, {} unchanged",
        run.state.as_str(),
        took.as_secs_f64(),
        c.pages_fetched,
        c.created,
        c.updated,
        c.deleted,
        c.unchanged
    );
    if c.unconfirmed > 0 {
        line.push_str(&format!(
            ", {} not seen but kept: the source could not confirm them gone",
            c.unconfirmed
        ));
    }
    if let Some(e) = &run.error {
        line.push_str(&format!(" — {e}"));
    }
    line
}

pub async fn runs(global: &Global, args: RunsArgs) -> anyhow::Result<()> {
    let store = open_store(global).await?;
    if store.get_integration(&args.integration).await?.is_none() {
        bail!("integration `{}` not found", args.integration);
    }
    for run in store.list_runs(&args.integration, args.limit).await? {
        println!("{}", serde_json::to_string(&run)?);
    }
    Ok(())
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
        IntegrationCommand::List => {
            let store = open_store(global).await?;
            for i in store.list_integrations().await? {
                println!("{}\t{}\t{}\tenvironment={}", i.id, i.tool, i.base_url, i.environment);
            }
            Ok(())
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
    let store = open_store(global).await?;
    // Force-sync and the operator API need the fleet's queues; without Redis there is no
    // fleet to reach (`tributary serve` runs one in embedded mode).
    let fleet = match &global.redis_url {
        Some(_) => Some(crate::setup::Fleet::open(global, &store).await?),
        None => None,
    };
    let api_store = crate::setup::open_api_store(global, &store, &args.limits).await?;
    let app = crate::api::router(global, api_store, fleet.as_ref(), &args.limits);
    serve_gateway(args.listen, app, args.limits.serve_options(), fleet.is_some()).await
}

pub async fn serve_gateway(
    listen: std::net::SocketAddr,
    app: axum::Router,
    options: tributary_gateway::ServeOptions,
    with_ops: bool,
) -> anyhow::Result<()> {
    let listener = tributary_gateway::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    println!("read API on http://{listen}/v1 (browse it at http://{listen}/v1/docs)");
    if with_ops {
        println!("operator API on http://{listen}/ops/v1");
    }
    tributary_gateway::serve(listener, app, options, shutdown_signal()).await?;
    Ok(())
}
