//! The embedded queues: apalis's in-memory backend, one queue per sync type.
//!
//! Not durable, and it need not be: a job only points at an open run in the mirror, and at
//! start the scheduler re-enqueues every open run (see the crate docs). A restart therefore
//! loses nothing but the order of waiting jobs.

use std::collections::BTreeMap;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use apalis::prelude::{MemorySink, MemoryStorage, MemoryStorageError, Task, TaskBuilder};
use async_trait::async_trait;
use futures::channel::mpsc;
use futures::{Sink, SinkExt, StreamExt};
use tributary_model::SyncType;

use crate::job::{ALL_TYPES, queue_suffix};
use crate::{JobQueue, QueueDepth, QueueError, SyncJob};

type BoxSink = Box<dyn Sink<Task<SyncJob>, Error = MemoryStorageError> + Send + Sync + Unpin>;

struct Lane {
    sink: MemorySink<SyncJob>,
    /// The channel under `sink`, to ask whether its consumer is gone: once a send has failed,
    /// the error-mapping sink around it may not be polled again (it panics), so a queue whose
    /// worker has stopped (a process shutting down) must refuse before sending.
    open: mpsc::UnboundedSender<Task<SyncJob>>,
    /// Taken by the (single) worker of this process that consumes the queue.
    storage: Mutex<Option<MemoryStorage<SyncJob>>>,
    pending: Arc<AtomicU64>,
    scheduled: Arc<AtomicU64>,
}

/// Three in-process queues. Cheap to clone.
#[derive(Clone)]
pub struct MemoryQueue {
    lanes: Arc<BTreeMap<&'static str, Lane>>,
}

impl std::fmt::Debug for MemoryQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryQueue").finish_non_exhaustive()
    }
}

impl Default for MemoryQueue {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryQueue {
    pub fn new() -> Self {
        let lanes = ALL_TYPES
            .iter()
            .map(|t| {
                let (tx, rx) = mpsc::unbounded::<Task<SyncJob>>();
                let pending = Arc::new(AtomicU64::new(0));
                let counted = pending.clone();
                // Count a job out as the worker receives it, for `depths`.
                let rx = rx.inspect(move |_| {
                    counted.fetch_sub(1, Ordering::Relaxed);
                });
                let open = tx.clone();
                let tx: BoxSink = Box::new(tx.sink_map_err(MemoryStorageError::from));
                let sink = MemorySink::new(Arc::new(futures::lock::Mutex::new(tx)));
                let storage = MemoryStorage::new_with(sink.clone(), Box::pin(rx));
                let lane = Lane {
                    sink,
                    open,
                    storage: Mutex::new(Some(storage)),
                    pending,
                    scheduled: Arc::new(AtomicU64::new(0)),
                };
                (queue_suffix(*t), lane)
            })
            .collect();
        Self { lanes: Arc::new(lanes) }
    }

    /// The apalis backend of `sync_type`'s queue. In-memory queues have one consumer, so this
    /// succeeds once per queue.
    pub fn storage(&self, sync_type: SyncType) -> Result<MemoryStorage<SyncJob>, QueueError> {
        let suffix = queue_suffix(sync_type);
        self.lanes[suffix]
            .storage
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
            .ok_or(QueueError::AlreadyTaken(suffix))
    }

    async fn send(lane: &Lane, job: SyncJob) -> Result<(), QueueError> {
        if lane.open.is_closed() {
            return Err(QueueError::Push("the in-memory queue's worker has stopped".into()));
        }
        let mut sink = lane.sink.clone();
        lane.pending.fetch_add(1, Ordering::Relaxed);
        let sent = Pin::new(&mut sink).send(TaskBuilder::new(job).build()).await;
        if let Err(e) = sent {
            lane.pending.fetch_sub(1, Ordering::Relaxed);
            return Err(QueueError::Push(e.to_string()));
        }
        Ok(())
    }
}

#[async_trait]
impl JobQueue for MemoryQueue {
    fn backend(&self) -> &'static str {
        "memory"
    }

    async fn push(&self, jobs: Vec<SyncJob>, delay: Option<Duration>) -> Result<(), QueueError> {
        for job in jobs {
            let lane = &self.lanes[queue_suffix(job.sync_type)];
            match delay {
                Some(d) if !d.is_zero() => {
                    lane.scheduled.fetch_add(1, Ordering::Relaxed);
                    let me = self.clone();
                    tokio::spawn(async move {
                        tokio::time::sleep(d).await;
                        let lane = &me.lanes[queue_suffix(job.sync_type)];
                        lane.scheduled.fetch_sub(1, Ordering::Relaxed);
                        if let Err(e) = Self::send(lane, job).await {
                            tracing::error!(error = %e, "could not enqueue a delayed job; the scheduler re-enqueues its run");
                        }
                    });
                }
                _ => Self::send(lane, job).await?,
            }
        }
        Ok(())
    }

    async fn depths(&self) -> Result<Vec<QueueDepth>, QueueError> {
        Ok(ALL_TYPES
            .iter()
            .map(|t| {
                let lane = &self.lanes[queue_suffix(*t)];
                QueueDepth {
                    sync_type: *t,
                    queue: queue_suffix(*t).to_owned(),
                    pending: lane.pending.load(Ordering::Relaxed),
                    scheduled: lane.scheduled.load(Ordering::Relaxed),
                    // The worker reports what it runs; the queue only knows what waits.
                    running: 0,
                }
            })
            .collect())
    }

    async fn promote_due(&self) -> Result<u64, QueueError> {
        // Delayed jobs wait in timers of their own, not in a set.
        Ok(0)
    }

    async fn vacuum(&self) -> Result<u64, QueueError> {
        Ok(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(n: u32) -> SyncJob {
        SyncJob {
            run_id: format!("run-{n}"),
            integration_id: "personio:test".into(),
            sync_type: SyncType::Delta,
            trace_context: None,
        }
    }

    /// A process shutting down drops its worker while webhooks may still queue deltas: every
    /// push after that is refused with an error, none panics.
    #[tokio::test]
    async fn pushes_after_the_worker_stopped_are_refused() {
        let queue = MemoryQueue::new();
        queue.push(vec![job(1)], None).await.expect("the queue takes a job");
        drop(queue.storage(SyncType::Delta).expect("one consumer"));
        for n in 2..5 {
            let refused = queue.push(vec![job(n)], None).await;
            assert!(
                matches!(refused, Err(QueueError::Push(_))),
                "push {n} after the worker stopped: {refused:?}"
            );
        }
    }
}
