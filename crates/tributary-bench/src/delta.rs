//! `delta`: what a DELTA sync costs after N changes in the source, on a large mirror and on a
//! small one. A mirror is made by a worker process's FULL; then, for each N, N distinct
//! employees change in the simulator (a new position or a pay raise, alternately), a DELTA picks
//! them up, and — what a tool without deltas pays for the same N changes — N other employees
//! change and a FULL of the whole mirror picks those up.
//!
//! The cost of a DELTA should follow the changes, not the mirror's size: the two mirror sizes
//! side by side show whether it does.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, bail, ensure};
use serde::Serialize;
use tributary_model::{RunCounts, SyncType, ToolKind};
use tributary_sim::company::Id;
use tributary_sim::{EmployeeField, Mutation, Simulator};

use crate::ingest::{Timed, UNPACED_WORKER_ARGS, full_timeout, timed_sync};
use crate::plot::{Chart, Series};
use crate::report::{Report, load_average, ms, ratio, secs, thousands};
use crate::stack::{self, Stack};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Employees of the large mirror.
    #[arg(long, default_value_t = 100_000)]
    employees: usize,
    /// Employees of the small mirror the same changes run against.
    #[arg(long, default_value_t = 10_000)]
    small_employees: usize,
    /// Numbers of changed employees, one DELTA each (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "10,100,1000")]
    changes: Vec<usize>,
    /// Seed of the generated companies.
    #[arg(long, default_value_t = 42)]
    seed: u64,
}

#[derive(Debug, Serialize)]
struct Round {
    changes: usize,
    delta_seconds: f64,
    delta: RunCounts,
    full_seconds: f64,
    full: RunCounts,
    load_average: String,
}

#[derive(Debug, Serialize)]
struct Mirror {
    employees: usize,
    first_full_seconds: f64,
    rounds: Vec<Round>,
}

pub async fn run(args: Args, out: &Path) -> anyhow::Result<()> {
    ensure!(!args.changes.is_empty(), "--changes names no count");
    let most = args.changes.iter().copied().max().unwrap_or(0);
    for size in [args.small_employees, args.employees] {
        // Each round changes N employees for the DELTA and N others for the FULL.
        ensure!(
            2 * most <= size,
            "{most} changes need at least {} employees (the DELTA's and the FULL's are distinct), the mirror has {size}",
            2 * most
        );
    }
    let mut report = Report::new("delta");
    report.note(
        "Each change is one employee: a new position (EditEmployee) or a 5 % raise on the current \
         employment (ChangeEmployment), alternately, applied in the simulator in-process. The DELTA \
         asks Personio for employees updated since its cursor; the FULL (the \"peer\": what a sync \
         without deltas pays) reads every employee after N other employees changed the same way. \
         Wall is the run's started_at → ended_at in one `tributary worker` process; \"rows written\" \
         is created + updated + deleted; every run must count at least N updated records.",
    );
    let mut mirrors = Vec::new();
    for size in [args.small_employees, args.employees] {
        let mirror = one_mirror(&args, size).await?;
        table(&mut report, &mirror);
        mirrors.push(mirror);
    }
    compare(&mut report, &mirrors);
    report.data("mirrors", &mirrors);
    plot(&mut report, &mirrors, out)?;
    report.write(out)
}

async fn one_mirror(args: &Args, employees: usize) -> anyhow::Result<Mirror> {
    println!("\n-- mirror of {} employees --", thousands(employees as i64));
    let sim = stack::simulator(&[ToolKind::Personio], employees, args.seed).await?;
    let mut stack = Stack::start("delta").await?;
    let integration = stack.integration(&sim, ToolKind::Personio, "bench", true).await?;
    let worker = stack.worker("worker", &UNPACED_WORKER_ARGS)?;
    let within = full_timeout(employees);
    let first = timed_sync(&stack, &worker, &integration, SyncType::Full, within).await?;
    println!(
        "mirror: FULL of {} records in {}",
        thousands(first.records()),
        secs(first.wall)
    );

    let ids: Vec<Id> = sim
        .state
        .company(ToolKind::Personio)
        .hris
        .employees
        .keys()
        .copied()
        .collect();
    let mut cursor = 0usize;
    let mut rounds = Vec::new();
    for (round, &n) in args.changes.iter().enumerate() {
        change(&sim, &ids, &mut cursor, n, round, "delta")?;
        let delta = timed_sync(&stack, &worker, &integration, SyncType::Delta, within).await?;
        check(&delta, n, "DELTA")?;
        change(&sim, &ids, &mut cursor, n, round, "full")?;
        let full = timed_sync(&stack, &worker, &integration, SyncType::Full, within).await?;
        check(&full, n, "FULL")?;
        println!(
            "{n} changes: DELTA {} ({} pages, {} written), FULL {} ({} written)",
            ms(delta.wall),
            delta.counts().pages_fetched,
            delta.written(),
            secs(full.wall),
            full.written()
        );
        rounds.push(Round {
            changes: n,
            delta_seconds: delta.wall.as_secs_f64(),
            delta: delta.counts(),
            full_seconds: full.wall.as_secs_f64(),
            full: full.counts(),
            load_average: load_average(),
        });
    }
    stack.stop(&worker).await?;
    drop(stack);
    sim.shutdown().await;
    Ok(Mirror {
        employees,
        first_full_seconds: first.wall.as_secs_f64(),
        rounds,
    })
}

/// Changes `n` distinct employees, the next ones after `cursor` in id order (wrapping).
fn change(sim: &Simulator, ids: &[Id], cursor: &mut usize, n: usize, round: usize, what: &str) -> anyhow::Result<()> {
    for i in 0..n {
        let employee_id = ids[*cursor % ids.len()];
        *cursor += 1;
        let mutation = if i % 2 == 0 {
            Mutation::EditEmployee {
                employee_id,
                field: EmployeeField::Position,
                // A value no employee has, so the change is never a no-op.
                value: Some(format!("Bench {what} role {round}-{i}")),
            }
        } else {
            Mutation::ChangeEmployment {
                employee_id,
                pay_rate: None,
            }
        };
        sim.state
            .mutate(ToolKind::Personio, &mutation)
            .with_context(|| format!("applying {mutation:?}"))?;
    }
    Ok(())
}

fn check(run: &Timed, n: usize, what: &str) -> anyhow::Result<()> {
    let c = run.counts();
    if c.updated < n as i64 {
        bail!(
            "the {what} after {n} changed employees updated only {} records ({c:?})",
            c.updated
        );
    }
    Ok(())
}

fn table(report: &mut Report, mirror: &Mirror) {
    let t = report.table(
        &format!(
            "DELTA on a mirror of {} employees (its first FULL: {:.2} s)",
            thousands(mirror.employees as i64),
            mirror.first_full_seconds
        ),
        &[
            "changes",
            "DELTA wall",
            "pages",
            "rows written",
            "per change",
            "FULL wall (peer)",
            "FULL rows written",
            "DELTA / FULL",
            "load",
        ],
    );
    for r in &mirror.rounds {
        let delta = Duration::from_secs_f64(r.delta_seconds);
        t.row(vec![
            thousands(r.changes as i64),
            ms(delta),
            thousands(r.delta.pages_fetched),
            thousands(written(&r.delta)),
            ms(delta / r.changes.max(1) as u32),
            format!("{:.2} s", r.full_seconds),
            thousands(written(&r.full)),
            // A percentage: a DELTA is often well under 1 % of a FULL, which `ratio`'s two
            // decimals would show as 0.00×.
            format!("{:.2} %", 100.0 * r.delta_seconds / r.full_seconds.max(f64::EPSILON)),
            r.load_average.clone(),
        ]);
    }
}

/// The same changes on both mirrors, side by side.
fn compare(report: &mut Report, mirrors: &[Mirror]) {
    let [small, large] = mirrors else { return };
    let t = report.table(
        "DELTA wall by mirror size: the cost follows the changes",
        &[
            "changes",
            &format!("{} employees", thousands(small.employees as i64)),
            &format!("{} employees", thousands(large.employees as i64)),
            "large / small",
        ],
    );
    let mut worst: f64 = 0.0;
    for (s, l) in small.rounds.iter().zip(&large.rounds) {
        worst = worst.max(l.delta_seconds / s.delta_seconds.max(f64::EPSILON));
        t.row(vec![
            thousands(s.changes as i64),
            ms(Duration::from_secs_f64(s.delta_seconds)),
            ms(Duration::from_secs_f64(l.delta_seconds)),
            ratio(l.delta_seconds, s.delta_seconds),
        ]);
    }
    let size_ratio = large.employees as f64 / small.employees.max(1) as f64;
    // The simulator's share: Personio's `updated_since` is answered by a scan of every employee
    // per page, so a DELTA on a larger company costs the simulator more for the same changes.
    let shows = if worst > 1.5 {
        "Growth beyond 1.5× shows here: the simulator's scan is part of it (and, at millisecond \
         times, noise)"
    } else {
        "At these sizes it does not show"
    };
    report.note(format!(
        "The mirrors differ {size_ratio:.0}× in size; the same DELTA took at most {worst:.2}× as long on the \
         larger one. The simulated Personio answers `updated_since` by scanning every employee for each \
         page (O(employees) per request). {shows}."
    ));
}

fn written(c: &RunCounts) -> i64 {
    c.created + c.updated + c.deleted
}

fn plot(report: &mut Report, mirrors: &[Mirror], out: &Path) -> anyhow::Result<()> {
    let series: Vec<Series> = mirrors
        .iter()
        .map(|m| {
            Series::new(
                format!("DELTA, mirror of {} employees", thousands(m.employees as i64)),
                m.rounds
                    .iter()
                    .map(|r| (r.changes as f64, r.delta_seconds * 1000.0))
                    .collect(),
            )
        })
        .collect();
    report.plot(
        out,
        "delta.png",
        &Chart {
            title: "DELTA sync: wall time by number of changed employees",
            x_label: "changed employees",
            y_label: "DELTA wall (ms)",
            log_x: true,
            log_y: true,
        },
        &series,
    )
}
