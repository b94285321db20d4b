//! The lines `tributary sync` and the demo print for each sync: when it starts, its progress
//! every few seconds, and a summary when it ends.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tributary_engine::{EngineError, RunControl};
use tributary_store::SyncRun;
use tributary_worker::RunObserver;

/// Prints each execution the worker runs. Errors are printed only when `print_errors` is set:
/// `tributary sync` reports its one error as its exit.
#[derive(Default)]
pub struct Printer {
    print_errors: bool,
    announced: std::sync::atomic::AtomicBool,
    running: Mutex<HashMap<String, Running>>,
}

struct Running {
    since: Instant,
    ticker: tokio::task::JoinHandle<()>,
}

impl Printer {
    pub fn printing_errors() -> Self {
        Self {
            print_errors: true,
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
        let since = Instant::now();
        if let Some(old) = self.running().insert(run.id.clone(), Running { since, ticker }) {
            old.ticker.abort();
        }
    }

    fn ended(&self, run: &SyncRun, outcome: Result<&SyncRun, &EngineError>) {
        let Some(running) = self.running().remove(&run.id) else {
            return;
        };
        running.ticker.abort();
        match outcome {
            Ok(ended) => println!("{}", summary(&label(ended), ended, running.since.elapsed())),
            Err(e) if self.print_errors => {
                println!("{}: sync of {} could not run: {e}", label(run), run.integration_id)
            }
            Err(_) => {}
        }
    }
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
