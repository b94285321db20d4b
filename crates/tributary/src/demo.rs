//! `tributary demo`: everything on one machine with nothing installed but Rust. Simulated
//! tools, an embedded mirror, the read API, and syncs that keep going as the data changes.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::sync::watch;
use tributary_engine::{EngineConfig, EngineError, RunControl, Schedule, SyncEngine};
use tributary_model::{ScopeConfig, ToolKind};
use tributary_operator::FleetTrigger;
use tributary_queue::MemoryQueue;
use tributary_scheduler::{Scheduler, SchedulerConfig};
use tributary_sim::{SimConfig, Simulator, WebhookTarget};
use tributary_store::{NewIntegration, SyncRun};
use tributary_worker::{JobContext, Queues, RunObserver, WorkerConfig, run_pool};

use crate::cli::{DemoArgs, Global};
use crate::progress::Printer;
use crate::setup::open_store;
use crate::setup::{cursor_key, shutdown_signal};

const ENVIRONMENT: &str = "demo";

pub async fn run(global: &Global, args: DemoArgs) -> anyhow::Result<()> {
    // Bind the API port first: a taken port should fail before any work is done.
    let listener = tributary_gateway::bind(args.listen).await.with_context(|| {
        format!(
            "cannot listen on {} (pass --listen to use another address)",
            args.listen
        )
    })?;
    let store = open_store(global).await?;
    println!(
        "mirror: {} ({})",
        store.backend(),
        match &global.database_url {
            Some(_) => "DATABASE_URL".to_owned(),
            None => global.data_dir.join("tributary.db").display().to_string(),
        }
    );

    println!("simulator: generating a company of {} employees…", args.employees);
    let sim = Simulator::start(
        SimConfig {
            employees: args.employees as usize,
            mutate_every: (args.mutate_every > 0).then(|| Duration::from_secs(args.mutate_every)),
            ..SimConfig::default()
        },
        "127.0.0.1:0".parse().expect("valid address"),
    )
    .await
    .context("cannot start the simulator")?;
    println!("simulator: Personio, Greenhouse and BambooHR on http://{}", sim.addr);

    let mut integrations = Vec::new();
    for tool in ToolKind::ALL {
        let id = format!("{}:demo", tool.as_str());
        let base_url = sim.base_url(*tool);
        let credentials = sim.integration_credentials(*tool);
        match store.get_integration(&id).await? {
            // The simulator listens on a new port each start: point the integration at it.
            Some(_) => store.update_integration_source(&id, &base_url, &credentials).await?,
            None => {
                store
                    .create_integration(NewIntegration {
                        id: id.clone(),
                        tool: *tool,
                        environment: ENVIRONMENT.to_owned(),
                        base_url,
                        credentials,
                        scope_config: ScopeConfig::default(),
                    })
                    .await?;
            }
        }
        integrations.push(id);
    }

    let api_key = args.api_key.clone().unwrap_or_else(tributary_gateway::generate_api_key);
    let hash = tributary_gateway::hash_api_key(&api_key);
    if store.find_api_key(&hash).await?.is_none() {
        store.create_api_key(ENVIRONMENT, "demo", &hash).await?;
    }

    // The simulated tools run on this machine: no need for the 10 requests/s budget that
    // protects a real tool's rate limit.
    let mut config = EngineConfig::default();
    config.client.requests_per_second = std::num::NonZeroU32::new(500);
    let engine = SyncEngine::new(store.clone(), config);
    // `serve`'s scheduler and worker without Redis: the syncs below run as they would there.
    let worker_config = WorkerConfig {
        worker_id: engine.config().worker_id.clone(),
        lease_ttl: engine.config().lease_ttl,
        ..WorkerConfig::default()
    };
    let queue = MemoryQueue::new();
    let observer = Arc::new(RoundCounter::default());
    let mut ctx = JobContext::embedded(engine, queue.clone(), worker_config);
    ctx.observer = Some(observer.clone());
    let ctx = Arc::new(ctx);
    let scheduler = Scheduler::new(
        store.clone(),
        ctx.queue.clone(),
        ctx.coordinator.clone(),
        SchedulerConfig {
            owner: format!("demo-{}", ctx.config.worker_id),
            ..SchedulerConfig::default()
        },
    );
    // The schedules every integration gets, then the demo's cadence: a DELTA (a DEFAULT for a
    // tool without a changed-since filter) every --sync-every seconds once the first complete
    // sync succeeded (a DELTA queued before it is superseded by it).
    scheduler.ensure_schedules().await?;
    let schedule = Schedule {
        default_every: Duration::from_secs(args.sync_every),
        delta_every: Duration::from_secs(args.sync_every),
        ..Schedule::default()
    };
    for (tool, id) in ToolKind::ALL.iter().zip(&integrations) {
        store.ensure_schedules(id, &schedule.intervals(*tool, false)).await?;
    }
    let (stop, shutdown) = watch::channel(false);
    let scheduler = tokio::spawn({
        let shutdown = shutdown.clone();
        async move { scheduler.run(shutdown).await }
    });
    let pool = tokio::spawn(run_pool(ctx.clone(), Queues::Memory(queue), shutdown.clone()));
    let mut ended = observer.ended.subscribe();
    println!("\nfirst sync of each integration:");
    let first = ended.wait_for(|ended| integrations.iter().all(|id| ended.get(id).is_some_and(|n| *n >= 1)));
    tokio::select! {
        _ = first => {}
        _ = shutdown_signal() => {
            let _ = stop.send(true);
            let _ = pool.await;
            let _ = scheduler.await;
            sim.shutdown().await;
            return Ok(());
        }
    }

    // The simulated tools send their webhooks to the demo's gateway, signed as the real tools
    // sign them: every change the simulator makes reaches the mirror within a second through a
    // DELTA, between the scheduled ones.
    for (tool, id) in ToolKind::ALL.iter().zip(&integrations) {
        let secret = format!("demo-webhook-secret-{}", tool.as_str());
        store.set_inbound_webhook_secret(id, Some(&secret)).await?;
        sim.state
            .register_webhook(WebhookTarget {
                tool: *tool,
                url: format!("http://{}/v1/webhooks/{}/{id}", args.listen, tool.as_str()),
                secret,
                duplicate: false,
                max_attempts: 5,
            })
            .context("cannot point the simulator's webhooks at the demo")?;
    }
    // `POST /v1/force-sync` queues the run for the worker, as in `serve`.
    let state = tributary_gateway::GatewayState::new(store.clone(), cursor_key(global)).with_sync_trigger(Arc::new(
        FleetTrigger {
            store: store.clone(),
            queue: ctx.queue.clone(),
            coordinator: ctx.coordinator.clone(),
        },
    ));
    let app = tributary_gateway::router(state);
    let mut gateway_shutdown = shutdown.clone();
    let server = tokio::spawn(tributary_gateway::serve(
        listener,
        app,
        tributary_gateway::ServeOptions::default(),
        async move {
            let _ = gateway_shutdown.wait_for(|s| *s).await;
        },
    ));

    let base = format!("http://{}", args.listen);
    println!("\nread API on {base}/v1 — try:");
    println!("  curl -s {base}/v1/check-api-key -H 'Authorization: Bearer {api_key}'");
    for id in &integrations {
        if id.starts_with("greenhouse") {
            continue;
        }
        println!(
            "  curl -s '{base}/v1/hris/employees?page_size=5' -H 'Authorization: Bearer {api_key}' -H 'X-Integration-Id: {id}'"
        );
    }
    println!(
        "  curl -s '{base}/v1/hris/employees?updated_after=2026-01-01T00:00:00.000Z' -H 'Authorization: Bearer {api_key}' -H 'X-Integration-Id: personio:demo'"
    );
    println!(
        "  curl -s '{base}/v1/ats/candidates?page_size=2' -H 'Authorization: Bearer {api_key}' -H 'X-Integration-Id: greenhouse:demo'"
    );
    println!(
        "  curl -s -X POST {base}/v1/force-sync -H 'Authorization: Bearer {api_key}' -H 'X-Integration-Id: personio:demo' -d '{{\"type\": \"DELTA\"}}'"
    );
    println!("  every endpoint, browsable: {base}/v1/docs");
    println!("the simulated tools send webhooks for their changes: each reaches the mirror in about a second");
    println!(
        "\nsyncing every {}s while the simulator changes its data; Ctrl-C to stop.\n",
        args.sync_every
    );

    // --rounds: stop once every integration has finished that many syncs after its first.
    let rounds = async {
        if args.rounds == 0 {
            std::future::pending::<()>().await;
        }
        let want = 1 + args.rounds;
        let _ = ended
            .wait_for(|ended| integrations.iter().all(|id| ended.get(id).is_some_and(|n| *n >= want)))
            .await;
    };
    tokio::select! {
        _ = rounds => {}
        _ = shutdown_signal() => {}
    }
    println!("stopping…");
    let _ = stop.send(true);
    pool.await.context("worker pool panicked")??;
    scheduler.await.context("scheduler panicked")?;
    server.await.context("read API panicked")??;
    sim.shutdown().await;
    Ok(())
}

/// Prints every sync the demo's worker runs, and counts those that ended (not paused) per
/// integration, for the first round and --rounds.
struct RoundCounter {
    printer: Printer,
    ended: watch::Sender<HashMap<String, u64>>,
}

impl Default for RoundCounter {
    fn default() -> Self {
        Self {
            printer: Printer::printing_errors(),
            ended: watch::channel(HashMap::new()).0,
        }
    }
}

impl RunObserver for RoundCounter {
    fn started(&self, run: &SyncRun, control: &RunControl) {
        self.printer.started(run, control);
    }

    fn ended(&self, run: &SyncRun, outcome: Result<&SyncRun, &EngineError>) {
        self.printer.ended(run, outcome);
        if outcome.is_ok_and(|ended| ended.state.is_terminal()) {
            self.ended
                .send_modify(|ended| *ended.entry(run.integration_id.clone()).or_default() += 1);
        }
    }
}
