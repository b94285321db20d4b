//! The fleet's roles: `scheduler`, `worker`, and `serve` (all roles in one process).

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use tokio::sync::watch;
use tributary_engine::{EngineConfig, SyncEngine};
use tributary_scheduler::{Scheduler, SchedulerConfig};
use tributary_source::ClientConfig;
use tributary_store::MirrorStore;
use tributary_webhooks::{Deliverer, DelivererConfig, TargetPolicy};
use tributary_worker::{JobContext, RunningRuns, WorkerConfig, run_pool};

use crate::cli::{Global, SchedulerArgs, SchedulerCommand, ServeArgs, WorkerArgs, WorkerCommand};
use crate::setup::{Fleet, open_store, shutdown_watch};

fn secs(v: f64) -> Duration {
    Duration::from_secs_f64(v)
}

fn require_redis(global: &Global, role: &str) -> anyhow::Result<()> {
    if global.redis_url.is_none() {
        bail!(
            "`tributary {role}` needs REDIS_URL (its queues are shared with other processes); `tributary serve` runs every role in one process without it"
        );
    }
    if global.database_url.is_none() {
        bail!("`tributary {role}` needs DATABASE_URL (a Postgres mirror shared with the other processes)");
    }
    crate::setup::check_redis_url(global)
}

fn scheduler_config(args: &SchedulerArgs, owner: &str) -> SchedulerConfig {
    SchedulerConfig {
        owner: owner.to_owned(),
        tick: secs(args.tick_secs),
        reconcile_every: secs(args.reconcile_secs),
        ..SchedulerConfig::default()
    }
}

fn job_context(store: Arc<dyn MirrorStore>, fleet: &Fleet, args: &WorkerArgs, worker_id: &str) -> Arc<JobContext> {
    let config = WorkerConfig {
        worker_id: worker_id.to_owned(),
        delta_concurrency: args.delta_concurrency.into(),
        full_concurrency: args.concurrency.into(),
        lease_ttl: secs(args.lease_ttl_secs),
        max_attempts: args.max_attempts,
        retry_base: secs(args.retry_base_secs),
        shutdown_timeout: secs(args.shutdown_timeout_secs),
        ..WorkerConfig::default()
    };
    let engine = SyncEngine::new(
        store.clone(),
        EngineConfig {
            client: ClientConfig {
                max_attempts: args.source_attempts,
                requests_per_second: NonZeroU32::new(args.source_rps),
                documented_limits: !args.ignore_documented_limits,
                ..ClientConfig::default()
            },
            lease_ttl: config.lease_ttl,
            worker_id: worker_id.to_owned(),
            stream_concurrency: args.stream_concurrency as usize,
            shared_budget: fleet.budget.clone(),
            ..EngineConfig::default()
        },
    );
    Arc::new(JobContext {
        store,
        engine,
        queue: fleet.queue.clone(),
        coordinator: fleet.coordinator.clone(),
        config,
        running: RunningRuns::default(),
        observer: None,
    })
}

/// The outbound webhook deliverer of a `worker` or `serve` process, built (and its settings
/// checked) before anything starts; `None` when `--webhook-concurrency 0` leaves delivery to
/// other processes.
fn deliverer(store: Arc<dyn MirrorStore>, args: &WorkerArgs) -> anyhow::Result<Option<Arc<Deliverer>>> {
    if args.webhook_concurrency == 0 {
        tracing::info!("webhook delivery is off in this process (--webhook-concurrency 0)");
        return Ok(None);
    }
    let concurrency = usize::from(args.webhook_concurrency);
    let request_timeout = secs(args.webhook_timeout_secs);
    let config = DelivererConfig {
        concurrency,
        batch: concurrency,
        // A killed process's claims come due again after this; by default well past one
        // attempt's timeout so a slow attempt is never sent twice at once. The deliverer
        // refuses a lease that does not outlast the timeout.
        lease: args
            .webhook_lease_secs
            .map_or(request_timeout * 2 + Duration::from_secs(40), secs),
        request_timeout,
        poll_interval: Duration::from_millis(args.webhook_poll_ms),
        targets: TargetPolicy {
            allow_private_targets: !args.webhook_deny_private_targets,
            allow_link_local: args.webhook_allow_link_local,
        },
        ..DelivererConfig::default()
    };
    let deliverer = Deliverer::new(store, config).context("cannot start the webhook deliverer")?;
    Ok(Some(Arc::new(deliverer)))
}

/// Starts `deliverer`; it stops when `shutdown` turns true, after recording the attempts it
/// has in flight.
fn spawn_deliverer(
    deliverer: Option<Arc<Deliverer>>,
    shutdown: watch::Receiver<bool>,
) -> Option<tokio::task::JoinHandle<()>> {
    deliverer.map(|d| tokio::spawn(d.run(shutdown)))
}

pub async fn scheduler(global: &Global, command: SchedulerCommand) -> anyhow::Result<()> {
    require_redis(global, "scheduler")?;
    let store = open_store(global).await?;
    let fleet = Fleet::open(global, &store).await?;
    let owner = tributary_lease_owner("scheduler");
    let shutdown = shutdown_watch();
    crate::observe::spawn_listener(
        command.probes.http_listen,
        &store,
        &fleet.queue,
        &command.metrics,
        shutdown.clone(),
    )
    .await?;
    let scheduler = Scheduler::new(
        store,
        fleet.queue.clone(),
        fleet.coordinator.clone(),
        scheduler_config(&command.scheduler, &owner),
    );
    scheduler.run(shutdown).await;
    Ok(())
}

pub async fn worker(global: &Global, command: WorkerCommand) -> anyhow::Result<()> {
    require_redis(global, "worker")?;
    let args = command.worker;
    let store = open_store(global).await?;
    let mut fleet = Fleet::open(global, &store).await?;
    let deliverer = deliverer(store.clone(), &args)?;
    let worker_id = tributary_lease_owner("worker");
    let shutdown = shutdown_watch();
    crate::observe::spawn_listener(
        command.probes.http_listen,
        &store,
        &fleet.queue,
        &command.metrics,
        shutdown.clone(),
    )
    .await?;
    let deliverer = spawn_deliverer(deliverer, shutdown.clone());
    let ctx = job_context(store, &fleet, &args, &worker_id);
    run_pool(ctx, fleet.take_queues()?, shutdown.clone()).await?;
    if !*shutdown.borrow() {
        // The monitor gave up (its backend kept failing): exit so the orchestrator restarts us.
        bail!("the worker pool stopped without being asked to");
    }
    if let Some(deliverer) = deliverer {
        deliverer.await.context("webhook deliverer panicked")?;
    }
    Ok(())
}

pub async fn serve(global: &Global, args: ServeArgs) -> anyhow::Result<()> {
    crate::setup::check_redis_url(global)?;
    crate::setup::check_ops_listen(global, args.ops_listen)?;
    let store = open_store(global).await?;
    let mut fleet = Fleet::open(global, &store).await?;
    let deliverer = deliverer(store.clone(), &args.worker)?;
    let id = tributary_lease_owner("serve");

    // Everything that can fail at start comes before the first job is taken: the API's pool
    // and both listeners. A serve that cannot listen must not have started syncs.
    let api_store = crate::setup::open_api_store(global, &store, &args.limits).await?;
    let metrics = crate::observe::metrics_router(&store, Some(fleet.queue.clone()), &args.metrics)?;
    let app = crate::api::router(
        global,
        api_store.clone(),
        Some(&fleet),
        &args.limits,
        args.ops_listen.is_some(),
        metrics.clone(),
    );
    let ops = args.ops_listen.map(|addr| {
        (
            addr,
            crate::api::ops_router(global, api_store, &fleet, &args.limits, metrics),
        )
    });
    let listeners = crate::listeners::Listeners::bind(args.listen, app, ops).await?;

    let shutdown = shutdown_watch();
    let scheduler = Scheduler::new(
        store.clone(),
        fleet.queue.clone(),
        fleet.coordinator.clone(),
        scheduler_config(&args.scheduler, &id),
    );
    let scheduler = tokio::spawn({
        let shutdown = shutdown.clone();
        async move { scheduler.run(shutdown).await }
    });
    let ctx = job_context(store.clone(), &fleet, &args.worker, &id);
    let pool = tokio::spawn(run_pool(ctx, fleet.take_queues()?, shutdown.clone()));
    let deliverer = spawn_deliverer(deliverer, shutdown.clone());

    let ops_at = match &listeners.ops {
        Some((addr, _, _)) => format!("operator API on http://{addr}/ops/v1 only"),
        None => "operator API /ops/v1".to_owned(),
    };
    crate::setup::banner(
        global,
        &format!(
            "serving on http://{}: read API /v1, {ops_at} ({} queues, {} mirror)",
            args.listen,
            fleet.queue.backend(),
            if global.database_url.is_some() {
                "postgres"
            } else {
                "sqlite"
            }
        ),
    );
    // The listeners and the pool wind down at once, each within the worker's shutdown bound.
    listeners
        .serve(
            args.limits.serve_options(),
            shutdown.clone(),
            secs(args.worker.shutdown_timeout_secs),
        )
        .await?;
    pool.await.context("worker pool panicked")??;
    scheduler.await.context("scheduler panicked")?;
    if let Some(deliverer) = deliverer {
        deliverer.await.context("webhook deliverer panicked")?;
    }
    Ok(())
}

/// `<role>-<host>-<uuid>`: unique per process, as apalis worker names and lease owners must be.
fn tributary_lease_owner(role: &str) -> String {
    format!("{role}-{}", tributary_lease::process_owner_id())
}
