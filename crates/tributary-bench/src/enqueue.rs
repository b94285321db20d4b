//! `enqueue`: many integrations due at once; how long the scheduler takes to claim them all and
//! put their jobs on the Redis queues.

use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use tributary_engine::default_intervals;
use tributary_model::{ScopeConfig, ToolKind};
use tributary_queue::{RedisCoordinator, RedisQueue};
use tributary_scheduler::{Scheduler, SchedulerConfig};
use tributary_store::NewIntegration;
use tributary_store::testing::fresh_pg_store;

#[derive(clap::Args)]
pub struct Args {
    /// Integrations due at once (each has a FULL and a DELTA schedule).
    #[arg(long, default_value_t = 10_000)]
    integrations: usize,
    /// The Redis of the queues; the benchmark uses a key prefix of its own and deletes it.
    #[arg(long, env = "REDIS_URL", default_value = "redis://127.0.0.1:6379")]
    redis_url: String,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let (store, db) = fresh_pg_store().await.context("creating a fresh Postgres database")?;
    println!("database: {}", db.url());
    let setup = Instant::now();
    for i in 0..args.integrations {
        let id = format!("personio:c{i:06}");
        store
            .create_integration(NewIntegration {
                id: id.clone(),
                tool: ToolKind::Personio,
                environment: "bench".into(),
                base_url: "http://127.0.0.1:1".into(),
                credentials: serde_json::json!({"client_id": "x", "client_secret": "y"}),
                scope_config: ScopeConfig::default(),
            })
            .await?;
        store
            .ensure_schedules(&id, &default_intervals(ToolKind::Personio, false))
            .await?;
    }
    println!(
        "{} integrations with their schedules created in {:.1} s (setup, not measured)",
        args.integrations,
        setup.elapsed().as_secs_f64()
    );

    let conn = tributary_queue::connect(&args.redis_url).await?;
    let prefix = format!("bench-enqueue-{}", std::process::id());
    let queue = Arc::new(RedisQueue::new(conn.clone(), &prefix));
    let coordinator = Arc::new(RedisCoordinator::new(conn.clone(), prefix.clone(), store.clone()));
    let scheduler = Scheduler::new(store.clone(), queue, coordinator, SchedulerConfig::default());

    let started = Instant::now();
    let report = scheduler.tick().await?;
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "claimed {} due syncs and enqueued {} jobs in {elapsed:.2} s = {:.0} jobs/s ({} integrations, limit 5 s)",
        report.claimed,
        report.enqueued,
        report.enqueued as f64 / elapsed,
        args.integrations
    );

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
