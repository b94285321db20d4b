//! `dispatch`: how many jobs per second one worker process takes from the Redis queues and
//! handles, with jobs that need no sync (their runs have ended: the worker reads the run,
//! sees it ended and acknowledges). This is the queue's overhead per job, the ceiling for
//! short syncs.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use tokio::sync::watch;
use tributary_engine::{EngineConfig, SyncEngine};
use tributary_model::{ScopeConfig, SyncType, ToolKind};
use tributary_queue::{JobQueue, RedisCoordinator, RedisQueue, SyncJob};
use tributary_store::NewIntegration;
use tributary_store::testing::fresh_pg_store;
use tributary_worker::{JobContext, Queues, RunningRuns, WorkerConfig, run_pool};

#[derive(clap::Args)]
pub struct Args {
    /// Jobs to push before the worker starts.
    #[arg(long, default_value_t = 10_000)]
    jobs: usize,
    /// Jobs the worker handles at once (per queue).
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// The Redis of the queues; the benchmark uses a key prefix of its own and deletes it.
    #[arg(long, env = "REDIS_URL", default_value = "redis://127.0.0.1:6379")]
    redis_url: String,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let (store, db) = fresh_pg_store().await.context("creating a fresh Postgres database")?;
    println!("database: {}", db.url());
    store
        .create_integration(NewIntegration {
            id: "personio:bench".into(),
            tool: ToolKind::Personio,
            environment: "bench".into(),
            base_url: "http://127.0.0.1:1".into(),
            credentials: serde_json::json!({"client_id": "x", "client_secret": "y"}),
            scope_config: ScopeConfig::default(),
        })
        .await?;
    // One ended run; every job points at it.
    let (run, _) = store.enqueue_run("personio:bench", SyncType::Full).await?;
    store.cancel_idle_run(&run.id, "benchmark").await?;

    let conn = tributary_queue::connect(&args.redis_url).await?;
    let prefix = format!("bench-dispatch-{}", std::process::id());
    let queue = RedisQueue::new(conn.clone(), &prefix);
    let coordinator = Arc::new(RedisCoordinator::new(conn.clone(), prefix.clone(), store.clone()));
    let jobs: Vec<SyncJob> = (0..args.jobs).map(|_| SyncJob::for_run(&run)).collect();
    for chunk in jobs.chunks(1000) {
        queue.push(chunk.to_vec(), None).await?;
    }
    println!("{} jobs pushed", args.jobs);

    let config = WorkerConfig {
        worker_id: format!("bench-{}", std::process::id()),
        full_concurrency: args.concurrency,
        delta_concurrency: args.concurrency,
        ..WorkerConfig::default()
    };
    let ctx = Arc::new(JobContext {
        engine: SyncEngine::new(store.clone(), EngineConfig::default()),
        store: store.clone(),
        queue: Arc::new(queue.clone()),
        coordinator,
        config,
        running: RunningRuns::default(),
    });
    let (stop, stopped) = watch::channel(false);
    let started = Instant::now();
    let pool = tokio::spawn(run_pool(ctx, Queues::Redis(queue.clone()), stopped));
    loop {
        let left: u64 = queue
            .depths()
            .await?
            .iter()
            .map(|d| d.pending + d.scheduled + d.running)
            .sum();
        if left == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "{} jobs taken and handled in {elapsed:.2} s = {:.0} jobs/s (one worker process, concurrency {}; target ≥ 1,000 jobs/s)",
        args.jobs,
        args.jobs as f64 / elapsed,
        args.concurrency
    );
    let _ = stop.send(true);
    let _ = pool.await;

    let mut conn = conn;
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}:*"))
        .query_async(&mut conn)
        .await?;
    for chunk in keys.chunks(1000) {
        let _: usize = redis::cmd("DEL").arg(chunk).query_async(&mut conn).await?;
    }
    Ok(())
}
