//! `tributary demo`: everything on one machine with nothing installed but Rust. Simulated
//! tools, an embedded mirror, the read API, and syncs that keep going as the data changes.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tributary_engine::{EngineConfig, Schedule, SyncEngine};
use tributary_gateway::{ForcedSync, SyncTrigger, TriggerError};
use tributary_model::{RunState, ScopeConfig, SyncType, ToolKind};
use tributary_sim::{SimConfig, Simulator, WebhookTarget};
use tributary_store::{NewIntegration, StoreError};

use crate::cli::{DemoArgs, Global};
use crate::commands::run_with_progress;
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
    let schedule = Schedule::default();
    println!("\nfirst sync of each integration:");
    sync_round(&engine, &integrations, &schedule).await;

    // The simulated tools send their webhooks to the demo's gateway, signed as the real tools
    // sign them: every change the simulator makes reaches the mirror within a second through a
    // DELTA (a DEFAULT for BambooHR), between the scheduled rounds.
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
    let state = tributary_gateway::GatewayState::new(store.clone(), cursor_key(global))
        .with_sync_trigger(Arc::new(DemoTrigger { engine: engine.clone() }));
    let app = tributary_gateway::router(state);
    let server = tokio::spawn(tributary_gateway::serve(
        listener,
        app,
        tributary_gateway::ServeOptions::default(),
        shutdown_signal(),
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

    let mut round = 0u64;
    let stop = shutdown_signal();
    tokio::pin!(stop);
    loop {
        if args.rounds > 0 && round >= args.rounds {
            break;
        }
        tokio::select! {
            _ = &mut stop => break,
            _ = tokio::time::sleep(Duration::from_secs(args.sync_every)) => {}
        }
        round += 1;
        sync_round(&engine, &integrations, &schedule).await;
    }
    println!("stopping…");
    server.abort();
    sim.shutdown().await;
    Ok(())
}

/// `POST /v1/force-sync` in the demo: the run is queued in the mirror and started in the
/// background with the demo's engine, which resumes the open run of that type, as soon as no
/// other sync of the integration holds its lease.
struct DemoTrigger {
    engine: SyncEngine,
}

#[async_trait::async_trait]
impl SyncTrigger for DemoTrigger {
    async fn force_sync(&self, integration_id: &str, sync_type: SyncType) -> Result<ForcedSync, TriggerError> {
        let (run, created) = self
            .engine
            .store()
            .enqueue_run(integration_id, sync_type)
            .await
            .map_err(|e| match e {
                StoreError::NotFound(_) => TriggerError::IntegrationNotFound(integration_id.to_owned()),
                other => TriggerError::Unavailable(other.to_string()),
            })?;
        if created {
            let (engine, id) = (self.engine.clone(), integration_id.to_owned());
            tokio::spawn(async move {
                // Wait out a sync of the integration that is running now.
                while let Ok(runs) = engine.store().list_runs(&id, 5).await
                    && runs.iter().any(|r| r.state == RunState::Running)
                {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                if let Err(e) = run_with_progress(&engine, &id, sync_type).await {
                    println!("{id} {}: {e:#}", sync_type.as_str());
                }
            });
        }
        Ok(ForcedSync {
            sync_id: run.id,
            sync_type: run.sync_type,
            already_queued: !created,
        })
    }
}

/// Syncs every integration once, with the type the schedule picks (FULL first, DELTA after for
/// Personio and Greenhouse; DEFAULT for BambooHR), one line each.
async fn sync_round(engine: &SyncEngine, integrations: &[String], schedule: &Schedule) {
    for id in integrations {
        let sync_type = match engine.store().get_integration(id).await {
            Ok(Some(integration)) => engine
                .due_sync_type(&integration, schedule)
                .await
                .unwrap_or(SyncType::Full),
            _ => continue,
        };
        if let Err(e) = run_with_progress(engine, id, sync_type).await {
            println!("{id} {}: {e:#}", sync_type.as_str());
        }
    }
}
