//! The runs this process executes, and the watcher that steers them.
//!
//! One watcher per process asks the coordinator, in one round trip every `signal_poll`, whether
//! any of its runs was asked to pause or cancel (an operator) or is in a DELTA's way (a
//! preemption request on its integration), and tells the run's [`RunControl`]. The engine acts
//! on it at the next page boundary.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;
use tributary_engine::{RunControl, Signal};
use tributary_model::{PauseReason, SyncType};
use tributary_queue::{Coordinator, RunSignal, WatchedRun};

#[derive(Clone)]
struct Entry {
    integration_id: String,
    sync_type: SyncType,
    control: RunControl,
}

/// Cheap to clone; shared by the jobs of a process and its watcher.
#[derive(Clone, Default)]
pub struct RunningRuns {
    runs: Arc<Mutex<HashMap<String, Entry>>>,
    /// Runs a job of this process is handling, from the moment it picked the job up until its
    /// execution is over and its lease released. A second job for one of them is a
    /// re-delivery: apalis re-enqueues a job whose worker it took for dead, and a dispatcher
    /// may push a run twice. The lease cannot tell the two apart, as its owner names the
    /// worker and the run, not the execution: the second would take the lease over with a
    /// newer fence and get the first fenced off mid-run.
    claimed: Arc<Mutex<HashSet<String>>>,
}

/// A run claimed by one job of this process; released on drop, however the job ends.
pub(crate) struct Claim {
    run_id: String,
    claimed: Arc<Mutex<HashSet<String>>>,
}

impl Drop for Claim {
    fn drop(&mut self) {
        self.claimed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.run_id);
    }
}

impl RunningRuns {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.runs.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Claims `run_id` for one job of this process; `None` while another job of this process
    /// has it.
    pub(crate) fn claim(&self, run_id: &str) -> Option<Claim> {
        let fresh = self
            .claimed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(run_id.to_owned());
        fresh.then(|| Claim {
            run_id: run_id.to_owned(),
            claimed: self.claimed.clone(),
        })
    }

    pub(crate) fn insert(&self, run_id: &str, integration_id: &str, sync_type: SyncType, control: RunControl) {
        self.lock().insert(
            run_id.to_owned(),
            Entry {
                integration_id: integration_id.to_owned(),
                sync_type,
                control,
            },
        );
    }

    pub(crate) fn remove(&self, run_id: &str) {
        self.lock().remove(run_id);
    }

    /// How many syncs run in this process now.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Asks every run to pause for a shutdown at its next page boundary.
    pub fn pause_all_for_shutdown(&self) {
        for entry in self.lock().values() {
            entry.control.pause_with(PauseReason::Shutdown, None);
        }
    }

    fn snapshot(&self) -> Vec<(String, Entry)> {
        self.lock().iter().map(|(k, v)| (k.clone(), v.clone())).collect()
    }

    /// Polls the coordinator until `stop` turns true.
    pub(crate) async fn watch(
        self,
        coordinator: Arc<dyn Coordinator>,
        every: Duration,
        mut stop: watch::Receiver<bool>,
    ) {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = stop.wait_for(|s| *s) => return,
            }
            let runs = self.snapshot();
            if runs.is_empty() {
                continue;
            }
            let watched: Vec<WatchedRun> = runs
                .iter()
                .map(|(id, e)| WatchedRun {
                    run_id: id.clone(),
                    integration_id: e.integration_id.clone(),
                })
                .collect();
            let found = match coordinator.poll_signals(&watched).await {
                Ok(found) => found,
                Err(e) => {
                    tracing::warn!(error = %e, "could not poll run signals");
                    continue;
                }
            };
            tracing::trace!(runs = runs.len(), ?found, "signals polled");
            for ((run_id, entry), signals) in runs.iter().zip(found) {
                if entry.control.signal() != Signal::Continue {
                    continue;
                }
                match signals.signal {
                    Some(RunSignal::Cancel) => {
                        tracing::info!(%run_id, "operator cancelled the run");
                        entry.control.cancel();
                        continue;
                    }
                    Some(RunSignal::Pause) => {
                        tracing::info!(%run_id, "operator paused the run");
                        entry.control.pause_with(PauseReason::Operator, None);
                        continue;
                    }
                    None => {}
                }
                if let Some(by) = signals.preempted_by
                    && entry.sync_type.is_complete()
                    && by != *run_id
                {
                    tracing::info!(%run_id, preempted_by = %by, "a delta is due: pausing at the next page boundary");
                    entry.control.pause_with(PauseReason::Preempted, Some(by));
                }
            }
        }
    }
}
