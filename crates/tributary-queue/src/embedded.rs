//! Coordination inside one process (no Redis): the mirror's lease row, signals in memory.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use tributary_store::{Lease, Leases};

use crate::{Coordinator, QueueError, RunSignal, WatchedRun, WatchedSignals};

/// The holder of a lease the mirror refused that this coordinator did not grant.
const ELSEWHERE: &str = "another process";

#[derive(Default)]
struct Signals {
    /// integration id → (owner, expiry) of the leases granted here: in one process every
    /// lease passes through this coordinator, so it knows the holders without asking.
    holders: HashMap<String, (String, Instant)>,
    queued: HashSet<String>,
    /// integration id → the DELTA run waiting for its lease
    preempt: HashMap<String, String>,
    /// run id → operator signal
    signals: HashMap<String, RunSignal>,
}

/// Leases from the mirror (`Leases::acquire_lease`, which bumps the fence itself), the
/// rest in memory: one process has nobody else to tell.
#[derive(Clone)]
pub struct EmbeddedCoordinator {
    store: Arc<dyn Leases>,
    state: Arc<Mutex<Signals>>,
}

impl EmbeddedCoordinator {
    pub fn new(store: Arc<dyn Leases>) -> Self {
        Self {
            store,
            state: Default::default(),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, Signals> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait]
impl Coordinator for EmbeddedCoordinator {
    async fn acquire(&self, integration_id: &str, owner: &str, ttl: Duration) -> Result<Option<Lease>, QueueError> {
        let lease = self.store.acquire_lease(integration_id, owner, ttl).await?;
        let mut state = self.state();
        let now = Instant::now();
        match &lease {
            Some(l) => {
                state
                    .holders
                    .insert(l.integration_id.clone(), (l.owner.clone(), now + ttl));
            }
            // Refused, and not to a lease granted here: another process holds it (a `tributary
            // sync` beside `serve` on one mirror, a killed process whose lease has not expired
            // yet). Known as held for a TTL, a full steps aside instead of asking again and again.
            None if state.holders.get(integration_id).is_none_or(|(_, until)| *until <= now) => {
                state
                    .holders
                    .insert(integration_id.to_owned(), (ELSEWHERE.to_owned(), now + ttl));
            }
            None => {}
        }
        drop(state);
        Ok(lease)
    }

    async fn renew(&self, lease: &Lease) -> Result<bool, QueueError> {
        let renewed = self.store.renew_lease(lease, lease.ttl).await?;
        let mut state = self.state();
        match state.holders.get_mut(&lease.integration_id) {
            Some((owner, expiry)) if renewed && *owner == lease.owner => *expiry = Instant::now() + lease.ttl,
            Some((owner, _)) if !renewed && *owner == lease.owner => {
                state.holders.remove(&lease.integration_id);
            }
            _ => {}
        }
        Ok(renewed)
    }

    async fn release(&self, lease: &Lease) -> Result<(), QueueError> {
        self.store.release_lease(lease).await?;
        let mut state = self.state();
        if state
            .holders
            .get(&lease.integration_id)
            .is_some_and(|(owner, _)| *owner == lease.owner)
        {
            state.holders.remove(&lease.integration_id);
        }
        Ok(())
    }

    async fn holders(&self, integration_ids: &[String]) -> Result<Vec<Option<String>>, QueueError> {
        let now = Instant::now();
        let state = self.state();
        Ok(integration_ids
            .iter()
            .map(|id| {
                state
                    .holders
                    .get(id)
                    .filter(|(_, expiry)| *expiry > now)
                    .map(|(owner, _)| owner.clone())
            })
            .collect())
    }

    async fn mark_queued_many(&self, run_ids: &[String]) -> Result<Vec<bool>, QueueError> {
        let mut state = self.state();
        Ok(run_ids.iter().map(|id| state.queued.insert(id.clone())).collect())
    }

    async fn unmark_queued(&self, run_id: &str) -> Result<(), QueueError> {
        self.state().queued.remove(run_id);
        Ok(())
    }

    async fn queued(&self, run_ids: &[String]) -> Result<Vec<bool>, QueueError> {
        let state = self.state();
        Ok(run_ids.iter().map(|id| state.queued.contains(id)).collect())
    }

    async fn request_preemption(&self, integration_id: &str, by_run: &str) -> Result<(), QueueError> {
        self.state()
            .preempt
            .insert(integration_id.to_owned(), by_run.to_owned());
        Ok(())
    }

    async fn clear_preemption(&self, integration_id: &str, by_run: &str) -> Result<(), QueueError> {
        let mut state = self.state();
        if state.preempt.get(integration_id).is_some_and(|r| r == by_run) {
            state.preempt.remove(integration_id);
        }
        Ok(())
    }

    async fn send_signal(&self, run_id: &str, signal: RunSignal) -> Result<(), QueueError> {
        self.state().signals.insert(run_id.to_owned(), signal);
        Ok(())
    }

    async fn clear_signal(&self, run_id: &str) -> Result<(), QueueError> {
        self.state().signals.remove(run_id);
        Ok(())
    }

    async fn poll_signals(&self, runs: &[WatchedRun]) -> Result<Vec<WatchedSignals>, QueueError> {
        let state = self.state();
        Ok(runs
            .iter()
            .map(|r| WatchedSignals {
                preempted_by: state.preempt.get(&r.integration_id).cloned(),
                signal: state.signals.get(&r.run_id).copied(),
            })
            .collect())
    }
}
