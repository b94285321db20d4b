use std::time::Duration;

/// How a worker process behaves.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Names this process in leases, runs and apalis (host + uuid: apalis needs unique worker
    /// names, and leases must not be renewed by a namesake).
    pub worker_id: String,
    /// Syncs run at once from the DELTA queue, and from the FULL and DEFAULT queues each.
    pub delta_concurrency: usize,
    pub full_concurrency: usize,
    /// The integration lease's time to live; renewed every third of it. A killed worker's runs
    /// are resumed elsewhere after about this long.
    pub lease_ttl: Duration,
    /// How often running syncs look for preemption requests and operator signals. A delta
    /// waits at most this long, plus the page in flight, for a full to pause.
    pub signal_poll: Duration,
    /// Executions of a run that may end with the source unavailable before it ends FAILED.
    pub max_attempts: i32,
    /// The first retry's delay; each further one doubles it (with jitter), up to `retry_max`.
    pub retry_base: Duration,
    pub retry_max: Duration,
    /// How long a DELTA waits for a running full to pause before giving up its job (the
    /// scheduler re-enqueues it).
    pub preempt_wait: Duration,
    /// On SIGTERM, how long running syncs get to reach a page boundary before the process
    /// exits anyway (their leases then expire and the runs resume elsewhere).
    pub shutdown_timeout: Duration,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        Self {
            worker_id: format!("worker-{}", std::process::id()),
            delta_concurrency: 4,
            full_concurrency: 4,
            lease_ttl: Duration::from_secs(30),
            signal_poll: Duration::from_millis(200),
            max_attempts: 5,
            retry_base: Duration::from_secs(30),
            retry_max: Duration::from_secs(30 * 60),
            preempt_wait: Duration::from_secs(600),
            shutdown_timeout: Duration::from_secs(60),
        }
    }
}

impl WorkerConfig {
    /// The delay before retry number `attempt` (1 for the first), with ±20 % jitter so runs
    /// that failed together do not retry together.
    pub fn retry_delay(&self, attempt: i32) -> Duration {
        let exp = attempt.saturating_sub(1).clamp(0, 20) as u32;
        let base = self
            .retry_base
            .saturating_mul(2u32.saturating_pow(exp))
            .min(self.retry_max);
        let jitter: f64 = rand::random_range(0.8..1.2);
        base.mul_f64(jitter)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_exponentially_with_jitter_up_to_the_cap() {
        let config = WorkerConfig {
            retry_base: Duration::from_secs(10),
            retry_max: Duration::from_secs(100),
            ..WorkerConfig::default()
        };
        for _ in 0..200 {
            let first = config.retry_delay(1);
            assert!(
                first >= Duration::from_secs(8) && first <= Duration::from_secs(12),
                "{first:?}"
            );
            let third = config.retry_delay(3);
            assert!(
                third >= Duration::from_secs(32) && third <= Duration::from_secs(48),
                "{third:?}"
            );
            let late = config.retry_delay(30);
            assert!(
                late >= Duration::from_secs(80) && late <= Duration::from_secs(120),
                "{late:?}"
            );
        }
        // Jitter: not every delay is the same.
        let delays: std::collections::BTreeSet<_> = (0..50).map(|_| config.retry_delay(2)).collect();
        assert!(delays.len() > 1);
    }
}
