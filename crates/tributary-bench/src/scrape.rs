//! `metrics`: a Prometheus scrape of `GET /metrics` with many integrations in the mirror. The
//! gateway computes the fleet gauges (queue depths in Redis, open runs, every integration's
//! staleness) at each scrape; this measures what that costs, scrape after scrape, from the
//! client's side, next to the collector's own time as the exposition reports it.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use serde::Serialize;
use tokio::task::JoinSet;
use tributary_engine::default_intervals;
use tributary_model::ToolKind;
use tributary_store::MirrorStore;

use crate::report::{self, Report};
use crate::stack::Stack;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Integrations in the mirror, each with its schedules and finished runs.
    #[arg(long, default_value_t = 10_000)]
    integrations: usize,
    /// SUCCEEDED runs per integration (what the staleness query reads through).
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Scrapes measured, one after the other (after 5 unmeasured ones).
    #[arg(long, default_value_t = 200)]
    scrapes: usize,
}

#[derive(Debug, Serialize)]
struct Result {
    integrations: usize,
    runs_per_integration: usize,
    scrapes: usize,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    /// The fleet collector's own time at the last scrape, as `/metrics` reports it.
    collector_ms: f64,
    bytes: usize,
    lines: usize,
    load_average: String,
}

pub async fn run(args: Args, out: &Path) -> anyhow::Result<()> {
    ensure!(
        args.integrations > 0 && args.scrapes > 0,
        "--integrations and --scrapes must be positive"
    );
    let mut stack = Stack::start("metrics").await?;
    let setup = Instant::now();
    create(&stack.store, args.integrations).await?;
    add_runs(&stack, args.runs).await?;
    println!(
        "{} integrations with schedules and {} runs each created in {} (setup, not measured)",
        report::thousands(args.integrations as i64),
        args.runs,
        report::secs(setup.elapsed())
    );
    let (_gateway, base) = stack.gateway("g1", &[]).await?;
    let client = reqwest::Client::new();
    let url = format!("{base}/metrics");
    let scrape = || async {
        let r = client.get(&url).send().await?.error_for_status()?;
        anyhow::Ok(r.text().await?)
    };
    for _ in 0..5 {
        scrape().await?;
    }
    let load = report::load_average();
    let mut samples = Vec::with_capacity(args.scrapes);
    let mut body = String::new();
    for _ in 0..args.scrapes {
        let started = Instant::now();
        body = scrape().await?;
        samples.push(started.elapsed());
    }
    let gauge = |name: &str| {
        body.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
    };
    ensure!(
        gauge("tributary_collector_up{collector=\"fleet\"}") == Some(1.0),
        "the fleet collector did not answer at the last scrape"
    );
    let counted: f64 = body
        .lines()
        .filter(|l| l.starts_with("tributary_integrations{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    ensure!(
        counted as usize == args.integrations,
        "the scrape counts {counted} integrations, the mirror has {}",
        args.integrations
    );
    let result = Result {
        integrations: args.integrations,
        runs_per_integration: args.runs,
        scrapes: args.scrapes,
        p50_ms: ms(report::quantile(&samples, 0.5)),
        p99_ms: ms(report::quantile(&samples, 0.99)),
        max_ms: ms(report::quantile(&samples, 1.0)),
        collector_ms: gauge("tributary_collector_duration_seconds{collector=\"fleet\"}").unwrap_or(0.0) * 1000.0,
        bytes: body.len(),
        lines: body.lines().count(),
        load_average: load,
    };
    println!(
        "  /metrics with {} integrations: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms (collector {:.1} ms, {} bytes, {} lines)",
        result.integrations,
        result.p50_ms,
        result.p99_ms,
        result.max_ms,
        result.collector_ms,
        result.bytes,
        result.lines
    );

    let mut report = Report::new("metrics");
    report.note(format!(
        "`GET /metrics` of one `tributary gateway` (with REDIS_URL, so the queue depths are read from Redis) over loopback, {} scrapes one after the other after 5 unmeasured; each integration has its schedules and {} SUCCEEDED runs. Quantiles are nearest-rank. The target: under 100 ms with 10,000 integrations.",
        args.scrapes, args.runs
    ));
    let table = report.table(
        "A /metrics scrape",
        &[
            "integrations",
            "p50",
            "p99",
            "max",
            "collector (last)",
            "size",
            "lines",
            "load",
        ],
    );
    table.row(vec![
        report::thousands(result.integrations as i64),
        format!("{:.1} ms", result.p50_ms),
        format!("{:.1} ms", result.p99_ms),
        format!("{:.1} ms", result.max_ms),
        format!("{:.1} ms", result.collector_ms),
        format!("{} B", result.bytes),
        result.lines.to_string(),
        result.load_average.clone(),
    ]);
    report.data("scrape", &result);
    report.write(out)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Integrations of every tool, each with its default schedules, in 8 concurrent lanes.
async fn create(store: &Arc<dyn MirrorStore>, n: usize) -> anyhow::Result<()> {
    let mut tasks = JoinSet::new();
    for lane in 0..8 {
        let store = store.clone();
        tasks.spawn(async move {
            for i in (lane..n).step_by(8) {
                let tool = ToolKind::ALL[i % ToolKind::ALL.len()];
                let mut new = crate::stack::idle_integration(format!("{}:m{i:06}", tool.as_str()), "bench");
                new.tool = tool;
                store.create_integration(new).await?;
                store
                    .ensure_schedules(&format!("{}:m{i:06}", tool.as_str()), &default_intervals(tool, false))
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

/// `runs` SUCCEEDED runs per integration, ended from minutes to days ago (so the staleness
/// buckets all fill), and a QUEUED FULL on every tenth; written in one statement each.
async fn add_runs(stack: &Stack, runs: usize) -> anyhow::Result<()> {
    let pool = sqlx::PgPool::connect(&stack.db_url).await?;
    sqlx::query(
        "INSERT INTO sync_runs (id, integration_id, sync_type, state, created_at, started_at, ended_at) \
         SELECT i.id || '-r' || g, i.id, 'FULL', 'SUCCEEDED', e - interval '1 minute', e - interval '1 minute', e \
         FROM integrations i, generate_series(1, $1::int) g, \
         LATERAL (SELECT now() - (abs(hashtext(i.id)) % 200000) * interval '1 second' - g * interval '1 hour' AS e) t",
    )
    .bind(runs as i32)
    .execute(&pool)
    .await
    .context("adding finished runs")?;
    sqlx::query(
        "INSERT INTO sync_runs (id, integration_id, sync_type, state, created_at) \
         SELECT id || '-q', id, 'FULL', 'QUEUED', now() FROM integrations WHERE abs(hashtext(id)) % 10 = 0",
    )
    .execute(&pool)
    .await
    .context("adding queued runs")?;
    sqlx::query("ANALYZE").execute(&pool).await?;
    Ok(())
}
