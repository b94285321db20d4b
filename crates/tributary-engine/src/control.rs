use std::sync::Arc;

use tokio::sync::watch;
use tributary_model::RunCounts;

/// What a run has been asked to do at its next page boundary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Signal {
    #[default]
    Continue,
    /// Commit, checkpoint, release the lease, end in PAUSED (a delta preempts this run).
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
        }
    }

    pub fn pause(&self) {
        self.signal.send_replace(Signal::Pause);
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
