//! `fleet`, part 1: many integrations due at once. How long one scheduler tick takes to claim
//! them all in Postgres and put their jobs on the Redis queues, where that time goes, and what
//! the same Redis writes cost without the queue library.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use tokio::task::JoinSet;
use tributary_engine::default_intervals;
use tributary_model::ToolKind;
use tributary_queue::{Coordinator, JobQueue, SyncJob};
use tributary_scheduler::{Scheduler, SchedulerConfig};
use tributary_store::{MirrorStore, SyncRun};

use crate::report::{self, Report};
use crate::stack::Stack;

/// The scheduler's claim batch (its default), used for the step-by-step replay.
const CLAIM_BATCH: i64 = 1000;
/// Redis commands per pipeline in the raw write.
const PIPELINE: usize = 1000;

pub async fn measure(report: &mut Report, integrations: usize) -> anyhow::Result<()> {
    let stack = Stack::start("fleet-enqueue").await?;
    let setup = Instant::now();
    create_due(&stack.store, integrations).await?;
    println!(
        "{} integrations with their schedules created in {} (setup, not measured)",
        report::thousands(integrations as i64),
        report::secs(setup.elapsed())
    );

    // 1. The real thing: one tick of the scheduler, as `tributary scheduler` runs it.
    let scheduler = Scheduler::new(
        stack.store.clone(),
        Arc::new(stack.queue.clone()),
        Arc::new(stack.coordinator.clone()),
        SchedulerConfig::default(),
    );
    let load = report::load_average();
    let started = Instant::now();
    let tick = scheduler.tick().await.context("the scheduler tick")?;
    let tick_time = started.elapsed();
    let jobs = tick.enqueued;
    ensure!(
        tick.claimed == jobs && jobs > 0,
        "the tick claimed {} schedules but enqueued {jobs} jobs",
        tick.claimed
    );
    let pending: u64 = stack.queue.depths().await?.iter().map(|d| d.pending).sum();
    ensure!(
        pending == jobs as u64,
        "{jobs} jobs enqueued but {pending} pending in Redis"
    );
    let payload = sample_job_data(&stack).await?;

    // 2. The same tick step by step, after making everything due again: the Postgres claim,
    // the queued markers, the push through apalis-redis.
    reset_due(&stack).await?;
    let (claim_time, runs) = claim_all(stack.store.as_ref()).await?;
    ensure!(
        runs.len() == jobs,
        "the replay claimed {} runs, the tick {jobs}",
        runs.len()
    );
    let ids: Vec<String> = runs.iter().map(|r| r.id.clone()).collect();
    let started = Instant::now();
    for chunk in ids.chunks(CLAIM_BATCH as usize) {
        stack.coordinator.mark_queued_many(chunk).await?;
    }
    let mark_time = started.elapsed();
    let job_list: Vec<SyncJob> = runs.iter().map(SyncJob::for_run).collect();
    let started = Instant::now();
    for chunk in job_list.chunks(CLAIM_BATCH as usize) {
        stack.queue.push(chunk.to_vec(), None).await?;
    }
    let push_time = started.elapsed();

    // 3. The limit: the writes apalis-redis makes per job (job data, job metadata, the active
    // list), pipelined, with the same payload, and no Lua or library around them.
    let raw_time = raw_writes(&stack, jobs, &payload).await?;

    let table = report.table(
        &format!(
            "Enqueue: {} integrations due at once ({} due schedules: FULL and DELTA each)",
            report::thousands(integrations as i64),
            report::thousands(jobs as i64)
        ),
        &["step", "jobs", "time", "jobs/s", "of the tick", "load"],
    );
    let share = |d: Duration| format!("{:.0} %", 100.0 * d.as_secs_f64() / tick_time.as_secs_f64());
    let row = |what: &str, d: Duration, load: String| {
        vec![
            what.to_owned(),
            report::thousands(jobs as i64),
            report::secs(d),
            report::rate(jobs as f64 / d.as_secs_f64()),
            share(d),
            load,
        ]
    };
    table.row(row("**scheduler tick** (claim, mark, push)", tick_time, load));
    let load = report::load_average();
    table.row(row(
        "replay: Postgres claim (`claim_due_runs`)",
        claim_time,
        load.clone(),
    ));
    table.row(row("replay: Redis queued markers", mark_time, load.clone()));
    table.row(row("replay: Redis push (apalis-redis, Lua)", push_time, load.clone()));
    table.row(row(
        "replay: the three steps together",
        claim_time + mark_time + push_time,
        load.clone(),
    ));
    table.row(row(
        &format!("limit: raw pipelined HSET+HSET+RPUSH ({} B payload)", payload.len()),
        raw_time,
        load,
    ));
    report.note(format!(
        "Enqueue target: ≤ 5 s for 10,000 integrations; this run: {} for {}. The replay claims the same schedules again after they were made due anew (their old runs cancelled), so the claim sees a table with the first tick's dead rows and warm caches; the tick ran first, on a table fresh from setup.",
        report::secs(tick_time),
        report::thousands(integrations as i64)
    ));
    report.data(
        "enqueue",
        serde_json::json!({
            "integrations": integrations,
            "jobs": jobs,
            "tick_s": tick_time.as_secs_f64(),
            "claim_s": claim_time.as_secs_f64(),
            "mark_s": mark_time.as_secs_f64(),
            "push_s": push_time.as_secs_f64(),
            "raw_redis_s": raw_time.as_secs_f64(),
            "payload_bytes": payload.len(),
        }),
    );
    Ok(())
}

/// `n` Personio integrations with their FULL and DELTA schedules, all due now; eight at a time
/// (setup, not measured).
async fn create_due(store: &Arc<dyn MirrorStore>, n: usize) -> anyhow::Result<()> {
    let mut tasks = JoinSet::new();
    for lane in 0..8 {
        let store = store.clone();
        tasks.spawn(async move {
            for i in (lane..n).step_by(8) {
                let id = format!("personio:c{i:06}");
                store
                    .create_integration(crate::stack::idle_integration(id.clone(), "bench"))
                    .await?;
                store
                    .ensure_schedules(&id, &default_intervals(ToolKind::Personio, false))
                    .await?;
            }
            anyhow::Ok(())
        });
    }
    while let Some(done) = tasks.join_next().await {
        done??;
    }
    Ok(())
}

/// One job's data as apalis-redis stored it, for the raw write to use the same size.
async fn sample_job_data(stack: &Stack) -> anyhow::Result<String> {
    let mut conn = stack.redis.clone();
    // HRANDFIELD with WITHVALUES answers [field, value].
    let pair: Vec<String> = redis::cmd("HRANDFIELD")
        .arg(format!("{}:sync-full:data", stack.prefix))
        .arg(1)
        .arg("WITHVALUES")
        .query_async(&mut conn)
        .await?;
    pair.into_iter().nth(1).context("no job data in Redis after the tick")
}

/// Cancels the runs the tick created, makes every schedule due again and deletes this stack's
/// Redis keys, so the same claim can be replayed step by step.
async fn reset_due(stack: &Stack) -> anyhow::Result<()> {
    let pool = sqlx::PgPool::connect(&stack.db_url).await?;
    sqlx::query(
        "UPDATE sync_runs SET state = 'CANCELLED', ended_at = now() WHERE state IN ('QUEUED', 'RUNNING', 'PAUSED')",
    )
    .execute(&pool)
    .await?;
    sqlx::query("UPDATE sync_schedules SET next_due_at = now() - interval '1 minute'")
        .execute(&pool)
        .await?;
    pool.close().await;
    delete_keys(stack, &format!("{}:*", stack.prefix)).await
}

async fn claim_all(store: &dyn MirrorStore) -> anyhow::Result<(Duration, Vec<SyncRun>)> {
    let mut runs = Vec::new();
    let started = Instant::now();
    loop {
        let claims = store
            .claim_due_runs(chrono::Utc::now(), "bench-replay", CLAIM_BATCH)
            .await?;
        let full = claims.len() as i64 >= CLAIM_BATCH;
        runs.extend(claims.into_iter().filter(|c| c.created).map(|c| c.run));
        if !full {
            return Ok((started.elapsed(), runs));
        }
    }
}

async fn raw_writes(stack: &Stack, jobs: usize, payload: &str) -> anyhow::Result<Duration> {
    let mut conn = stack.redis.clone();
    let base = format!("{}:raw-enqueue", stack.prefix);
    let started = Instant::now();
    for chunk_start in (0..jobs).step_by(PIPELINE) {
        let mut pipe = redis::pipe();
        for i in chunk_start..(chunk_start + PIPELINE).min(jobs) {
            let id = format!("{i:026}");
            pipe.cmd("HSET")
                .arg(format!("{base}:data"))
                .arg(&id)
                .arg(payload)
                .ignore();
            pipe.cmd("HSET")
                .arg(format!("{base}:meta:{id}"))
                .arg("attempts")
                .arg(0)
                .arg("max_attempts")
                .arg(25)
                .arg("status")
                .arg("Pending")
                .ignore();
            pipe.cmd("RPUSH").arg(format!("{base}:active")).arg(&id).ignore();
        }
        let () = pipe.query_async(&mut conn).await?;
    }
    let elapsed = started.elapsed();
    let listed: u64 = redis::cmd("LLEN")
        .arg(format!("{base}:active"))
        .query_async(&mut conn)
        .await?;
    ensure!(listed == jobs as u64, "the raw write listed {listed} of {jobs} jobs");
    delete_keys(stack, &format!("{base}:*")).await?;
    Ok(elapsed)
}

/// Deletes the keys matching `pattern` (SCAN, so Redis is never blocked by a KEYS).
pub async fn delete_keys(stack: &Stack, pattern: &str) -> anyhow::Result<()> {
    let mut conn = stack.redis.clone();
    let mut cursor: u64 = 0;
    loop {
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(pattern)
            .arg("COUNT")
            .arg(1000)
            .query_async(&mut conn)
            .await?;
        if !keys.is_empty() {
            let _: usize = redis::cmd("DEL").arg(&keys).query_async(&mut conn).await?;
        }
        cursor = next;
        if cursor == 0 {
            return Ok(());
        }
    }
}
