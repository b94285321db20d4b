//! Coordination in Redis, for a fleet of processes.
//!
//! Keys (all under the deployment's prefix, integration and run ids in braces as Redis Cluster
//! hash tags, like the lease keys of `tributary-lease`):
//! - `{prefix}:queued:{<run id>}`: a job for the run waits in a queue (expires, see
//!   [`QUEUED_MARKER_TTL`]);
//! - `{prefix}:preempt:{<integration id>}`: the DELTA run waiting for the integration's lease;
//! - `{prefix}:signal:{<run id>}`: `pause` or `cancel`, from an operator.

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use async_trait::async_trait;
use redis::AsyncCommands;
use redis::aio::ConnectionManager;
use tributary_lease::RedisLeases;
use tributary_store::{FenceStore, Lease};

use crate::{Coordinator, QueueError, RunSignal, WatchedRun, WatchedSignals};

static CLEAR_PREEMPTION: LazyLock<redis::Script> =
    LazyLock::new(|| redis::Script::new(include_str!("../lua/clear_preemption.lua")));

/// A queued marker outlives any sane wait in a queue only if the queue is badly backed up;
/// then the scheduler pushes a second job for the run, which its worker recognises as a
/// duplicate. Without expiry a marker whose job was lost would wedge the run.
pub const QUEUED_MARKER_TTL: Duration = Duration::from_secs(30 * 60);

/// Long enough for any worker to notice (it polls several times a second), short enough that
/// a signal for a run that already ended does not linger.
const SIGNAL_TTL: Duration = Duration::from_secs(10 * 60);

#[derive(Clone)]
pub struct RedisCoordinator {
    conn: ConnectionManager,
    leases: RedisLeases,
    store: Arc<dyn FenceStore>,
    prefix: String,
}

impl RedisCoordinator {
    pub fn new(conn: ConnectionManager, prefix: impl Into<String>, store: Arc<dyn FenceStore>) -> Self {
        let prefix = prefix.into();
        Self {
            leases: RedisLeases::new(conn.clone(), prefix.clone()),
            conn,
            store,
            prefix,
        }
    }

    fn queued_key(&self, run_id: &str) -> String {
        format!("{}:queued:{{{run_id}}}", self.prefix)
    }

    fn preempt_key(&self, integration_id: &str) -> String {
        format!("{}:preempt:{{{integration_id}}}", self.prefix)
    }

    fn signal_key(&self, run_id: &str) -> String {
        format!("{}:signal:{{{run_id}}}", self.prefix)
    }
}

#[async_trait]
impl Coordinator for RedisCoordinator {
    async fn acquire(&self, integration_id: &str, owner: &str, ttl: Duration) -> Result<Option<Lease>, QueueError> {
        Ok(self
            .leases
            .acquire_fenced(self.store.as_ref(), integration_id, owner, ttl)
            .await?)
    }

    async fn renew(&self, lease: &Lease) -> Result<bool, QueueError> {
        Ok(self.leases.renew(lease).await?)
    }

    async fn release(&self, lease: &Lease) -> Result<(), QueueError> {
        self.leases.release(lease).await?;
        Ok(())
    }

    async fn holders(&self, integration_ids: &[String]) -> Result<Vec<Option<String>>, QueueError> {
        Ok(self.leases.holders(integration_ids).await?)
    }

    async fn mark_queued_many(&self, run_ids: &[String]) -> Result<Vec<bool>, QueueError> {
        if run_ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut conn = self.conn.clone();
        let mut pipe = redis::pipe();
        for id in run_ids {
            pipe.cmd("SET")
                .arg(self.queued_key(id))
                .arg(1)
                .arg("NX")
                .arg("EX")
                .arg(QUEUED_MARKER_TTL.as_secs());
        }
        let set: Vec<Option<String>> = pipe.query_async(&mut conn).await?;
        Ok(set.into_iter().map(|s| s.is_some()).collect())
    }

    async fn unmark_queued(&self, run_id: &str) -> Result<(), QueueError> {
        let mut conn = self.conn.clone();
        let _: i64 = conn.del(self.queued_key(run_id)).await?;
        Ok(())
    }

    async fn queued(&self, run_ids: &[String]) -> Result<Vec<bool>, QueueError> {
        if run_ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut conn = self.conn.clone();
        let mut pipe = redis::pipe();
        for id in run_ids {
            pipe.exists(self.queued_key(id));
        }
        Ok(pipe.query_async(&mut conn).await?)
    }

    async fn request_preemption(&self, integration_id: &str, by_run: &str) -> Result<(), QueueError> {
        let mut conn = self.conn.clone();
        let _: () = conn
            .set_ex(self.preempt_key(integration_id), by_run, SIGNAL_TTL.as_secs())
            .await?;
        Ok(())
    }

    async fn clear_preemption(&self, integration_id: &str, by_run: &str) -> Result<(), QueueError> {
        let mut conn = self.conn.clone();
        // Compare and delete in one step: another DELTA's request must survive.
        let _: i64 = CLEAR_PREEMPTION
            .key(self.preempt_key(integration_id))
            .arg(by_run)
            .invoke_async(&mut conn)
            .await?;
        Ok(())
    }

    async fn send_signal(&self, run_id: &str, signal: RunSignal) -> Result<(), QueueError> {
        let mut conn = self.conn.clone();
        let _: () = conn
            .set_ex(self.signal_key(run_id), signal.as_str(), SIGNAL_TTL.as_secs())
            .await?;
        Ok(())
    }

    async fn clear_signal(&self, run_id: &str) -> Result<(), QueueError> {
        let mut conn = self.conn.clone();
        let _: i64 = conn.del(self.signal_key(run_id)).await?;
        Ok(())
    }

    async fn poll_signals(&self, runs: &[WatchedRun]) -> Result<Vec<WatchedSignals>, QueueError> {
        if runs.is_empty() {
            return Ok(Vec::new());
        }
        let mut conn = self.conn.clone();
        let mut pipe = redis::pipe();
        for run in runs {
            pipe.get(self.preempt_key(&run.integration_id));
            pipe.get(self.signal_key(&run.run_id));
        }
        let values: Vec<Option<String>> = pipe.query_async(&mut conn).await?;
        Ok(values
            .chunks(2)
            .map(|pair| WatchedSignals {
                preempted_by: pair[0].clone(),
                signal: pair[1].as_deref().and_then(RunSignal::parse),
            })
            .collect())
    }
}
