//! The heartbeat of a running sync: one task renewing the integration's lease, owned by one
//! guard, whoever granted the lease (the mirror's lease row or Redis).

use std::fmt::Display;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::task::JoinHandle;
use tributary_store::Lease;

use crate::RunControl;

/// Renews `lease` every third of its TTL while the run is alive. When a renewal answers
/// `false` (the lease expired and was taken, or was flushed) it sets [`Heartbeat::lost`] and
/// cancels the run: its writes would be fenced anyway (invariant I4), and the run must be left
/// to the new holder rather than ended by this one.
///
/// Dropping the guard stops the renewals. The guard lives exactly as long as the execution it
/// renews for: if that future is cancelled (a killed task, a crash), the lease must lapse,
/// not be renewed by an orphaned task.
pub struct Heartbeat {
    task: JoinHandle<()>,
    lost: Arc<AtomicBool>,
}

impl Heartbeat {
    /// Starts renewing `lease` with `renew`, which answers whether the lease is still held.
    pub fn start<F, Fut, E>(lease: Lease, control: RunControl, renew: F) -> Self
    where
        F: Fn(Lease) -> Fut + Send + 'static,
        Fut: Future<Output = Result<bool, E>> + Send + 'static,
        E: Display + Send + 'static,
    {
        let lost = Arc::new(AtomicBool::new(false));
        let flag = lost.clone();
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(lease.ttl / 3);
            tick.tick().await;
            loop {
                tick.tick().await;
                match renew(lease.clone()).await {
                    Ok(true) => {}
                    Ok(false) => {
                        tracing::error!(integration_id = %lease.integration_id, "lease lost; stopping the run");
                        flag.store(true, Ordering::SeqCst);
                        control.cancel();
                        return;
                    }
                    // A blip of the database or Redis must not kill a long full: the fence
                    // guards writes if the lease really expired meanwhile.
                    Err(e) => {
                        tracing::warn!(integration_id = %lease.integration_id, error = %e, "lease renewal failed")
                    }
                }
            }
        });
        Self { task, lost }
    }

    /// Set once a renewal found the lease lost; pass it to [`crate::SyncEngine::execute`].
    pub fn lost(&self) -> &AtomicBool {
        &self.lost
    }
}

impl Drop for Heartbeat {
    fn drop(&mut self) {
        self.task.abort();
    }
}
