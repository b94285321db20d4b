//! `fleet`: the scheduler and workers as a deployment runs them. Three parts, each on a stack
//! of its own:
//! 1. enqueue (`enqueue`): many integrations due at once, one scheduler tick;
//! 2. dispatch (`dispatch`): no-op jobs through 1, 2, 4… worker processes;
//! 3. preemption (here): a DELTA arriving while a FULL runs over a slow source, until the FULL
//!    pauses, the DELTA runs and the FULL resumes.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use chrono::{DateTime, Utc};
use tributary_engine::default_intervals;
use tributary_model::{PauseReason, RunState, SyncType, ToolKind};
use tributary_sim::RequestFilter;

use crate::plot::{Chart, Series};
use crate::report::{self, Report};
use crate::stack::{self, Stack};
use crate::{dispatch, enqueue};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Integrations due at once for the enqueue part (each has a FULL and a DELTA schedule).
    #[arg(long, default_value_t = 10_000)]
    integrations: usize,
    /// No-op jobs pushed per worker count in the dispatch part.
    #[arg(long, default_value_t = 10_000)]
    jobs: usize,
    /// Worker process counts of the dispatch part.
    #[arg(long, value_delimiter = ',', default_value = "1,2,4")]
    workers: Vec<usize>,
    /// FULL jobs each worker process handles at once in the dispatch part.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// DELTAs preempting a running FULL, measured one after the other.
    #[arg(long, default_value_t = 10)]
    preemptions: usize,
    /// Milliseconds the simulated Personio takes per request during the preemption part.
    #[arg(long, default_value_t = 200)]
    page_ms: u64,
    /// Employees of the simulated Personio (100 a page) for the preemption part.
    #[arg(long, default_value_t = 5000)]
    employees: usize,
    /// Skip parts: any of enqueue, dispatch, preemption.
    #[arg(long, value_delimiter = ',')]
    skip: Vec<String>,
}

/// How often the benchmark reads the runs while timing a preemption.
const POLL: Duration = Duration::from_millis(5);

pub async fn run(args: Args, out: &Path) -> anyhow::Result<()> {
    ensure!(
        args.integrations > 0 && args.jobs > 0,
        "--integrations and --jobs must be positive"
    );
    ensure!(
        !args.workers.is_empty() && args.workers.iter().all(|&w| w >= 1),
        "--workers needs counts of at least 1"
    );
    let skip = |part: &str| args.skip.iter().any(|s| s == part);
    let mut report = Report::new("fleet");
    if !skip("enqueue") {
        enqueue::measure(&mut report, args.integrations).await?;
    }
    if !skip("dispatch") {
        let levels = dispatch::measure(&mut report, &args.workers, args.jobs, args.concurrency).await?;
        report.plot(
            out,
            "dispatch.png",
            &Chart {
                title: "Dispatch of no-op jobs",
                x_label: "worker processes",
                y_label: "jobs/s",
                log_x: false,
                log_y: false,
            },
            &[
                Series::new(
                    "tributary worker processes",
                    levels.iter().map(|l| (l.workers as f64, l.jobs_per_s)).collect(),
                ),
                Series::new(
                    "limit: raw fetch + run read + ack",
                    levels.iter().map(|l| (l.workers as f64, l.raw_per_s)).collect(),
                ),
            ],
        )?;
    }
    if !skip("preemption") && args.preemptions > 0 {
        preemption(&mut report, &args).await?;
    }
    report.write(out)
}

/// One DELTA preempting a FULL, as seen from outside.
struct Sample {
    /// DELTA triggered → FULL PAUSED (PREEMPTED by that DELTA).
    paused: Duration,
    /// What remained at the trigger of the page request the FULL had in flight: the FULL can
    /// pause only once it has that page.
    in_flight_left: Duration,
    delta_started: Duration,
    delta_ended: Duration,
    resumed: Duration,
}

async fn preemption(report: &mut Report, args: &Args) -> anyhow::Result<()> {
    let mut stack = Stack::start("fleet-preempt").await?;
    let sim = stack::simulator(&[ToolKind::Personio], args.employees, 42).await?;
    let id = stack.integration(&sim, ToolKind::Personio, "acme", true).await?;
    // Its schedules, as the scheduler would create them: a trigger moves them forward. No
    // scheduler runs, so nothing but the benchmark's triggers starts a sync.
    stack
        .store
        .ensure_schedules(&id, &default_intervals(ToolKind::Personio, false))
        .await?;
    stack.worker("preempt-w1", &[])?;

    // A first FULL at full speed, so the DELTAs have a "since".
    let first = stack.trigger(&id, SyncType::Full).await?;
    let first = stack
        .wait_succeeded(&first, Duration::from_secs(300), Duration::from_millis(50))
        .await?;
    let pages = first.counts.pages_fetched;
    ensure!(
        pages >= 4,
        "the FULL has {pages} pages: too few to preempt one midway (raise --employees)"
    );

    let mut samples = Vec::new();
    let load = report::load_average();
    for i in 0..args.preemptions {
        // Changes for the DELTA to find.
        sim.state
            .mutate_random(ToolKind::Personio, 5, 1000 + i as u64)
            .map_err(|e| anyhow::anyhow!("simulator mutation: {e}"))?;
        sim.state.set_latency(ToolKind::Personio, args.page_ms);
        let full = stack.trigger(&id, SyncType::Full).await?;
        wait_for(&stack, &full, Duration::from_secs(60), "fetched 2 pages", |r| {
            r.state == RunState::Running && r.counts.pages_fetched >= 2
        })
        .await?;

        let t0 = Instant::now();
        let t0_wall = Utc::now();
        let delta = stack.trigger(&id, SyncType::Delta).await?;
        let (mut paused, mut delta_started, mut delta_ended, mut resumed) = (None, None, None, None);
        while resumed.is_none() {
            let f = stack.store.get_run(&full).await?.context("the FULL exists")?;
            let d = stack.store.get_run(&delta).await?.context("the DELTA exists")?;
            let at = t0.elapsed();
            if paused.is_none() && f.state == RunState::Paused {
                ensure!(
                    f.pause_reason == Some(PauseReason::Preempted) && f.preempted_by.as_deref() == Some(delta.as_str()),
                    "the FULL paused for {:?} by {:?}, not preempted by the DELTA",
                    f.pause_reason,
                    f.preempted_by
                );
                paused = Some(at);
            }
            if delta_started.is_none() && d.state != RunState::Queued {
                delta_started = Some(at);
            }
            if delta_ended.is_none() && d.state.is_terminal() {
                ensure!(
                    d.state == RunState::Succeeded,
                    "the DELTA ended {:?}: {:?}",
                    d.state,
                    d.error
                );
                delta_ended = Some(at);
            }
            if paused.is_some() && f.state == RunState::Running {
                resumed = Some(at);
            }
            if f.state.is_terminal() && resumed.is_none() {
                bail!(
                    "preemption {}: the FULL ended {:?} without being seen paused and resumed (paused {paused:?}); the page latency may be too short for the {POLL:?} poll",
                    i + 1,
                    f.state
                );
            }
            if at > Duration::from_secs(60) {
                bail!("preemption {} did not complete within 60 s{}", i + 1, stack.log_tails());
            }
            tokio::time::sleep(POLL).await;
        }
        let in_flight_left = in_flight_remaining(&sim, t0_wall);
        // Let the FULL finish at full speed before the next round.
        sim.state.set_latency(ToolKind::Personio, 0);
        stack
            .wait_succeeded(&full, Duration::from_secs(300), Duration::from_millis(20))
            .await?;
        let sample = Sample {
            paused: paused.context("paused")?,
            in_flight_left,
            delta_started: delta_started.context("delta started")?,
            delta_ended: delta_ended.context("delta ended")?,
            resumed: resumed.context("resumed")?,
        };
        println!(
            "  preemption {}: paused after {} (in-flight page had {} left), delta started {}, ended {}, full resumed {}",
            i + 1,
            report::ms(sample.paused),
            report::ms(sample.in_flight_left),
            report::ms(sample.delta_started),
            report::ms(sample.delta_ended),
            report::ms(sample.resumed)
        );
        samples.push(sample);
    }

    let table = report.table(
        &format!(
            "Preemption: a DELTA triggered while a FULL runs ({} ms a request, {pages} pages a FULL), {} times, one worker process",
            args.page_ms,
            samples.len()
        ),
        &["from the DELTA's trigger to", "p50", "p99", "max", "load"],
    );
    let column = |f: fn(&Sample) -> Duration| samples.iter().map(f).collect::<Vec<_>>();
    let overhead: Vec<Duration> = samples
        .iter()
        .map(|s| s.paused.saturating_sub(s.in_flight_left))
        .collect();
    let rows: [(&str, Vec<Duration>); 6] = [
        ("**FULL paused (PREEMPTED)**", column(|s| s.paused)),
        ("limit: end of the FULL's in-flight page", column(|s| s.in_flight_left)),
        ("paused − in-flight page (tributary's own share)", overhead),
        ("DELTA started", column(|s| s.delta_started)),
        ("DELTA finished", column(|s| s.delta_ended)),
        ("FULL resumed", column(|s| s.resumed)),
    ];
    for (what, values) in &rows {
        table.row(vec![
            (*what).to_owned(),
            report::ms(report::quantile(values, 0.5)),
            report::ms(report::quantile(values, 0.99)),
            report::ms(report::quantile(values, 1.0)),
            load.clone(),
        ]);
    }
    report.note(format!(
        "Preemption: the runs are read every {} ms, which bounds the resolution of each time; a FULL pauses only at a page boundary, so the in-flight page's remaining time (from the simulator's request log) is the floor. The worker polls its runs' signals every 200 ms (`WorkerConfig::signal_poll`), which adds up to that much: a signal seen after the in-flight page ended lets one more page start (the samples near 2 × {} ms). Quantiles are nearest-rank, so below 100 samples p99 is the maximum.",
        POLL.as_millis(),
        args.page_ms
    ));
    report.data(
        "preemption",
        samples
            .iter()
            .map(|s| {
                serde_json::json!({
                    "paused_ms": s.paused.as_secs_f64() * 1e3,
                    "in_flight_left_ms": s.in_flight_left.as_secs_f64() * 1e3,
                    "delta_started_ms": s.delta_started.as_secs_f64() * 1e3,
                    "delta_ended_ms": s.delta_ended.as_secs_f64() * 1e3,
                    "resumed_ms": s.resumed.as_secs_f64() * 1e3,
                })
            })
            .collect::<Vec<_>>(),
    );
    Ok(())
}

/// Polls the run every [`POLL`] until `done` holds.
async fn wait_for(
    stack: &Stack,
    run_id: &str,
    within: Duration,
    what: &str,
    done: impl Fn(&tributary_store::SyncRun) -> bool,
) -> anyhow::Result<()> {
    let started = Instant::now();
    loop {
        let run = stack.store.get_run(run_id).await?.context("the run exists")?;
        if done(&run) {
            return Ok(());
        }
        if run.state.is_terminal() || started.elapsed() > within {
            bail!("run {run_id} never {what}: it is {:?}{}", run.state, stack.log_tails());
        }
        tokio::time::sleep(POLL).await;
    }
}

/// How much of the employee page request in flight at `at` was still to come (zero when none
/// was in flight).
fn in_flight_remaining(sim: &tributary_sim::Simulator, at: DateTime<Utc>) -> Duration {
    sim.state
        .requests(&RequestFilter::tool(ToolKind::Personio).path("/company/employees"))
        .iter()
        .filter(|e| !e.query.contains("updated_since") && e.at <= at)
        .map(|e| e.at + chrono::Duration::milliseconds(e.duration_ms as i64))
        .filter(|end| *end > at)
        .map(|end| (end - at).to_std().unwrap_or_default())
        .max()
        .unwrap_or_default()
}
