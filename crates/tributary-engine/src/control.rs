use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;
use tributary_model::{PauseReason, RunCounts};

/// What a run has been asked to do at its next page boundary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Signal {
    #[default]
    Continue,
    /// Commit, checkpoint, release the lease, end in PAUSED (why: [`RunControl::pause_reason`]).
    Pause,
    /// Stop and end in CANCELLED; nothing is deleted.
    Cancel,
}

/// A run's progress, published after every committed page.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Progress {
    pub stream: String,
    pub counts: RunCounts,
}

/// The handle a caller keeps to steer a running sync and watch it. Cheap to clone.
#[derive(Clone)]
pub struct RunControl {
    signal: Arc<watch::Sender<Signal>>,
    progress: Arc<watch::Sender<Progress>>,
    pause: Arc<Mutex<PauseRequest>>,
    retry_after: Option<Duration>,
}

/// Why the run was asked to pause; stored on the run so the fleet knows who resumes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PauseRequest {
    pub reason: PauseReason,
    /// The run that preempted this one.
    pub preempted_by: Option<String>,
}

impl Default for RunControl {
    fn default() -> Self {
        Self::new()
    }
}

impl RunControl {
    pub fn new() -> Self {
        Self {
            signal: Arc::new(watch::channel(Signal::Continue).0),
            progress: Arc::new(watch::channel(Progress::default()).0),
            pause: Arc::new(Mutex::new(PauseRequest {
                reason: PauseReason::Preempted,
                preempted_by: None,
            })),
            retry_after: None,
        }
    }

    /// When the source stays unavailable through the request retries, pause the run for a
    /// retry `delay` later (PAUSED for RETRY, resumable from its checkpoint) instead of
    /// ending it FAILED. The fleet sets this while the run has attempts left.
    pub fn with_retry_after(mut self, delay: Duration) -> Self {
        self.retry_after = Some(delay);
        self
    }

    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }

    /// Pauses for a preemption by an unnamed delta (the embedded path and tests).
    pub fn pause(&self) {
        self.pause_with(PauseReason::Preempted, None);
    }

    /// Pauses at the next page boundary, recording why (and, for a preemption, by which run).
    /// A cancel already requested wins.
    pub fn pause_with(&self, reason: PauseReason, preempted_by: Option<String>) {
        *self.pause.lock().unwrap_or_else(|p| p.into_inner()) = PauseRequest { reason, preempted_by };
        self.signal.send_if_modified(|s| {
            if *s == Signal::Continue {
                *s = Signal::Pause;
                true
            } else {
                false
            }
        });
    }

    /// What the last pause request asked for.
    pub fn pause_reason(&self) -> PauseRequest {
        self.pause.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn cancel(&self) {
        self.signal.send_replace(Signal::Cancel);
    }

    pub fn signal(&self) -> Signal {
        *self.signal.borrow()
    }

    pub fn subscribe_signal(&self) -> watch::Receiver<Signal> {
        self.signal.subscribe()
    }

    pub fn subscribe_progress(&self) -> watch::Receiver<Progress> {
        self.progress.subscribe()
    }

    pub(crate) fn report(&self, progress: Progress) {
        self.progress.send_replace(progress);
    }
}
