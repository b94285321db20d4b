//! `fleet`, part 2: how many jobs per second 1, 2, 4… `tributary worker` processes take from
//! the Redis queue and handle, with jobs that need no sync (their run has ended: the worker
//! reads the run, sees it ended and acknowledges). This is the queue's overhead per job, the
//! ceiling for short syncs. The limit beside it: the same operations per job (fetch from a
//! list, read the run from Postgres, acknowledge) at the same concurrency from one loop of the
//! benchmark, and `redis-benchmark` for Redis alone.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use tokio::task::JoinSet;
use tributary_model::SyncType;
use tributary_queue::{JobQueue, SyncJob};

use crate::report::{self, Report};
use crate::stack::Stack;

pub struct Level {
    pub workers: usize,
    pub jobs_per_s: f64,
    pub raw_per_s: f64,
}

pub async fn measure(
    report: &mut Report,
    workers: &[usize],
    jobs: usize,
    concurrency: usize,
) -> anyhow::Result<Vec<Level>> {
    let mut stack = Stack::start("fleet-dispatch").await?;
    stack
        .store
        .create_integration(crate::stack::idle_integration("personio:bench".to_owned(), "bench"))
        .await?;
    // One ended run; every job points at it.
    let (run, _) = stack.store.enqueue_run("personio:bench", SyncType::Full).await?;
    stack.store.cancel_idle_run(&run.id, "benchmark").await?;
    let queue_name = format!("{}:sync-full", stack.prefix);
    let concurrency_arg = concurrency.to_string();

    // The limit's loop opens its Postgres and Redis connections once before it is timed (the
    // worker processes open theirs before they register).
    raw_loop(
        &stack,
        &run.id,
        200,
        workers.iter().max().copied().unwrap_or(1) * concurrency,
    )
    .await?;

    let mut levels = Vec::new();
    let mut rows = Vec::new();
    for &count in workers {
        let mut conn = stack.redis.clone();
        let registered_before: u64 = redis::cmd("ZCARD")
            .arg(format!("{queue_name}:workers"))
            .query_async(&mut conn)
            .await?;
        let mut procs = Vec::new();
        for i in 0..count {
            procs.push(stack.worker(
                &format!("dispatch-{count}-{i}"),
                &["--concurrency", &concurrency_arg, "--delta-concurrency", "1"],
            )?);
        }
        // Started and registered with the queue before the clock starts: process start-up is
        // not the queue's overhead.
        let started = Instant::now();
        loop {
            let registered: u64 = redis::cmd("ZCARD")
                .arg(format!("{queue_name}:workers"))
                .query_async(&mut conn)
                .await?;
            if registered >= registered_before + count as u64 {
                break;
            }
            if started.elapsed() > Duration::from_secs(30) {
                bail!(
                    "{count} worker processes did not register within 30 s{}",
                    stack.log_tails()
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let done_before: u64 = redis::cmd("SCARD")
            .arg(format!("{queue_name}:done"))
            .query_async(&mut conn)
            .await?;

        let load = report::load_average();
        let job_list: Vec<SyncJob> = (0..jobs).map(|_| SyncJob::for_run(&run)).collect();
        let started = Instant::now();
        for chunk in job_list.chunks(1000) {
            stack.queue.push(chunk.to_vec(), None).await?;
        }
        let pushed = started.elapsed();
        loop {
            let left: u64 = stack
                .queue
                .depths()
                .await?
                .iter()
                .map(|d| d.pending + d.scheduled + d.running)
                .sum();
            if left == 0 {
                break;
            }
            if started.elapsed() > Duration::from_secs(600) {
                bail!("{left} jobs still queued after 10 minutes{}", stack.log_tails());
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let elapsed = started.elapsed();
        let done: u64 = redis::cmd("SCARD")
            .arg(format!("{queue_name}:done"))
            .query_async(&mut conn)
            .await?;
        ensure!(
            done - done_before == jobs as u64,
            "{} jobs acknowledged as done, {jobs} pushed",
            done - done_before
        );
        for proc in &procs {
            stack.stop(proc).await?;
        }

        let raw = raw_loop(&stack, &run.id, jobs, count * concurrency).await?;
        let jobs_per_s = jobs as f64 / elapsed.as_secs_f64();
        let raw_per_s = jobs as f64 / raw.as_secs_f64();
        rows.push(vec![
            count.to_string(),
            report::thousands(jobs as i64),
            report::secs(elapsed),
            format!("**{}**", report::rate(jobs_per_s)),
            report::secs(pushed),
            report::rate(raw_per_s),
            report::ratio(jobs_per_s, raw_per_s),
            load,
        ]);
        levels.push(Level {
            workers: count,
            jobs_per_s,
            raw_per_s,
        });
    }
    let bench = redis_benchmark(
        jobs.max(10_000),
        workers.iter().max().copied().unwrap_or(1) * concurrency,
    )
    .await;

    let table = report.table(
        &format!(
            "Dispatch: no-op jobs through `tributary worker` processes (--concurrency {concurrency} each), queue drained"
        ),
        &[
            "workers",
            "jobs",
            "drained in",
            "jobs/s",
            "of which push",
            "limit: raw fetch+read+ack/s",
            "of limit",
            "load",
        ],
    );
    for row in rows {
        table.row(row);
    }
    report.note(
        "Dispatch: the clock starts when the push starts (workers already registered) and stops when no job is pending, scheduled or in flight; every pushed job was acknowledged (the done set grew by exactly the jobs pushed). The limit runs the same per-job operations (LMOVE from a list, the run read from Postgres, acknowledgement by SREM+SADD) from workers × concurrency tasks of the benchmark process on one pipelined Redis connection: no Lua, no heartbeats, no per-job tracing.",
    );
    match &bench {
        Ok(line) => report.note(format!("Redis alone (`redis-benchmark`, same concurrency): {line}.")),
        Err(e) => report.note(format!("redis-benchmark did not run: {e:#}")),
    }
    report.data(
        "dispatch",
        levels
            .iter()
            .map(|l| serde_json::json!({"workers": l.workers, "jobs_per_s": l.jobs_per_s, "raw_per_s": l.raw_per_s}))
            .collect::<Vec<_>>(),
    );
    Ok(levels)
}

/// `tasks` concurrent loops doing per job what a worker does at least: take the job off a
/// list into an in-flight list, read its run, acknowledge it. The time to empty `jobs`.
async fn raw_loop(stack: &Stack, run_id: &str, jobs: usize, tasks: usize) -> anyhow::Result<Duration> {
    let base = format!("{}:raw-dispatch", stack.prefix);
    let mut conn = stack.redis.clone();
    for chunk_start in (0..jobs).step_by(1000) {
        let ids: Vec<String> = (chunk_start..(chunk_start + 1000).min(jobs))
            .map(|i| format!("{i:026}"))
            .collect();
        let _: u64 = redis::cmd("RPUSH")
            .arg(format!("{base}:active"))
            .arg(&ids)
            .query_async(&mut conn)
            .await?;
    }
    let taken = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut set = JoinSet::new();
    for _ in 0..tasks {
        let mut conn = stack.redis.clone();
        let store = stack.store.clone();
        let (base, run_id, taken) = (base.clone(), run_id.to_owned(), taken.clone());
        set.spawn(async move {
            loop {
                let id: Option<String> = redis::cmd("LMOVE")
                    .arg(format!("{base}:active"))
                    .arg(format!("{base}:inflight"))
                    .arg("LEFT")
                    .arg("RIGHT")
                    .query_async(&mut conn)
                    .await?;
                let Some(id) = id else { return anyhow::Ok(()) };
                let run = store.get_run(&run_id).await?.context("the run exists")?;
                ensure!(run.state.is_terminal(), "the run has ended");
                let () = redis::pipe()
                    .cmd("LREM")
                    .arg(format!("{base}:inflight"))
                    .arg(1)
                    .arg(&id)
                    .ignore()
                    .cmd("SADD")
                    .arg(format!("{base}:done"))
                    .arg(&id)
                    .ignore()
                    .query_async(&mut conn)
                    .await?;
                taken.fetch_add(1, Ordering::Relaxed);
            }
        });
    }
    while let Some(done) = set.join_next().await {
        done??;
    }
    let elapsed = started.elapsed();
    ensure!(
        taken.load(Ordering::Relaxed) == jobs,
        "the raw loop took {} of {jobs} jobs",
        taken.load(Ordering::Relaxed)
    );
    crate::enqueue::delete_keys(stack, &format!("{base}:*")).await?;
    Ok(elapsed)
}

/// `redis-benchmark` of RPUSH and LPOP at `clients` connections, in a database of its own
/// (15) so its `mylist` key touches nobody's keys; "RPUSH n/s, LPOP n/s".
async fn redis_benchmark(requests: usize, clients: usize) -> anyhow::Result<String> {
    let output = tokio::process::Command::new("redis-benchmark")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            "6379",
            "--dbnum",
            "15",
            "--csv",
            "-t",
            "rpush,lpop",
        ])
        .args(["-n", &requests.to_string(), "-c", &clients.to_string()])
        .output()
        .await
        .context("running redis-benchmark")?;
    ensure!(
        output.status.success(),
        "redis-benchmark failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8_lossy(&output.stdout);
    let mut parts = Vec::new();
    for line in text.lines().skip(1) {
        let fields: Vec<&str> = line.split(',').map(|f| f.trim_matches('"')).collect();
        if let (Some(test), Some(rps)) = (fields.first(), fields.get(1).and_then(|r| r.parse::<f64>().ok())) {
            parts.push(format!("{test} {}/s", report::rate(rps)));
        }
    }
    ensure!(!parts.is_empty(), "no result in redis-benchmark's output: {text}");
    Ok(format!(
        "{} ({} clients, {} requests, one command per round trip)",
        parts.join(", "),
        clients,
        report::thousands(requests as i64)
    ))
}
