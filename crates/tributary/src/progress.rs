//! The lines `tributary sync` and the demo print for each sync: when it starts, its progress
//! every few seconds, and a summary when it ends. `tributary sync` on a terminal shows a
//! progress bar on stderr instead of the progress lines (pages, records and their rate).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tributary_engine::{EngineError, Progress, RunControl};
use tributary_store::SyncRun;
use tributary_worker::RunObserver;

/// Prints each execution the worker runs. Errors are printed only when `print_errors` is set:
/// `tributary sync` reports its one error as its exit.
#[derive(Default)]
pub struct Printer {
    print_errors: bool,
    /// Draw an indicatif bar on stderr rather than print progress lines.
    bar: bool,
    announced: std::sync::atomic::AtomicBool,
    running: Mutex<HashMap<String, Running>>,
}

struct Running {
    since: Instant,
    ticker: tokio::task::JoinHandle<()>,
    bar: Option<ProgressBar>,
}

impl Printer {
    pub fn printing_errors() -> Self {
        Self {
            print_errors: true,
            ..Self::default()
        }
    }

    /// A bar when stderr is a terminal (a person watches); the progress lines when it is not
    /// (a log or a pipe, where a redrawn bar would be noise).
    pub fn with_bar_on_terminal() -> Self {
        Self {
            bar: std::io::stderr().is_terminal(),
            ..Self::default()
        }
    }

    /// Whether a sync was announced as started.
    pub fn announced(&self) -> bool {
        self.announced.load(std::sync::atomic::Ordering::SeqCst)
    }

    fn running(&self) -> std::sync::MutexGuard<'_, HashMap<String, Running>> {
        self.running.lock().unwrap_or_else(|p| p.into_inner())
    }
}

pub fn label(run: &SyncRun) -> String {
    format!("{} {}", run.integration_id, run.sync_type.as_str())
}

impl RunObserver for Printer {
    fn started(&self, run: &SyncRun, control: &RunControl) {
        let label = label(run);
        println!("{label} started");
        self.announced.store(true, std::sync::atomic::Ordering::SeqCst);
        let mut progress = control.subscribe_progress();
        let since = Instant::now();
        if self.bar {
            let bar = progress_bar(&label);
            let shown = bar.clone();
            let ticker = tokio::spawn(async move {
                while progress.changed().await.is_ok() {
                    let p = progress.borrow_and_update().clone();
                    shown.set_message(bar_message(&p, since.elapsed()));
                }
            });
            let running = Running {
                since,
                ticker,
                bar: Some(bar),
            };
            if let Some(old) = self.running().insert(run.id.clone(), running) {
                old.ticker.abort();
            }
            return;
        }
        let ticker = tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_secs(3));
            every.tick().await;
            loop {
                every.tick().await;
                if !progress.has_changed().unwrap_or(false) {
                    continue;
                }
                let p = progress.borrow_and_update().clone();
                println!(
                    "  {label} … {} pages, {} created, {} updated, {} unchanged (stream {})",
                    p.counts.pages_fetched, p.counts.created, p.counts.updated, p.counts.unchanged, p.stream
                );
            }
        });
        let running = Running {
            since,
            ticker,
            bar: None,
        };
        if let Some(old) = self.running().insert(run.id.clone(), running) {
            old.ticker.abort();
        }
    }

    fn ended(&self, run: &SyncRun, outcome: Result<&SyncRun, &EngineError>) {
        let Some(running) = self.running().remove(&run.id) else {
            return;
        };
        running.ticker.abort();
        if let Some(bar) = running.bar {
            bar.finish_and_clear();
        }
        match outcome {
            Ok(ended) => println!("{}", summary(&label(ended), ended, running.since.elapsed())),
            Err(e) if self.print_errors => {
                println!("{}: sync of {} could not run: {e}", label(run), run.integration_id)
            }
            Err(_) => {}
        }
    }
}

fn progress_bar(label: &str) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template("{spinner} {prefix} {msg} [{elapsed}]")
            .expect("a valid template")
            .tick_chars("⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏ "),
    );
    bar.set_prefix(label.to_owned());
    bar.set_message("starting…");
    // Ticks keep the spinner and elapsed time moving while a slow page is fetched.
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

/// Records are what the pages held: created, updated, deleted and unchanged alike.
fn bar_message(p: &Progress, elapsed: Duration) -> String {
    let c = p.counts;
    let records = c.created + c.updated + c.deleted + c.unchanged;
    let rate = records as f64 / elapsed.as_secs_f64().max(0.001);
    format!(
        "{} pages, {records} records, {rate:.0} records/s (stream {})",
        c.pages_fetched, p.stream
    )
}

pub fn summary(label: &str, run: &SyncRun, took: Duration) -> String {
    let c = run.counts;
    let mut line = format!(
        "{label} {} in {:.1}s: {} pages, {} created, {} updated, {} deleted, {} unchanged",
        run.state.as_str(),
        took.as_secs_f64(),
        c.pages_fetched,
        c.created,
        c.updated,
        c.deleted,
        c.unchanged
    );
    if c.unconfirmed > 0 {
        line.push_str(&format!(
            ", {} not seen but kept: the source could not confirm them gone",
            c.unconfirmed
        ));
    }
    if let Some(e) = &run.error {
        line.push_str(&format!(" — {e}"));
    }
    line
}
