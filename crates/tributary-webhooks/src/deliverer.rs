//! The delivery loop: claim due deliveries, POST them concurrently, record every attempt.

use std::error::Error as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::Utc;
use reqwest::header::{CONTENT_TYPE, USER_AGENT};
use reqwest::redirect;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tracing::Instrument as _;
use tributary_metrics::catalogue::{WEBHOOK_DEAD_LETTERS, WEBHOOK_DELIVERIES, WEBHOOK_DELIVERY_LAG};
use tributary_store::{AttemptOutcome, ClaimedDelivery, DeliveryAttempt, Outbox, OutboxListener, StoreError};

use crate::WebhookError;
use crate::backoff::RetryPolicy;
use crate::sign::{
    KOMBO_SIGNATURE, TRIBUTARY_ATTEMPT, TRIBUTARY_DELIVERY_ID, TRIBUTARY_EVENT_ID, TRIBUTARY_SIGNATURE,
    TRIBUTARY_TIMESTAMP, sign,
};
use crate::target::{GuardedResolver, TargetError, TargetPolicy, check_url};

/// The most of a response body kept with an attempt.
pub const EXCERPT_BYTES: usize = 1024;

/// `tributary-webhooks/<version>`.
pub const USER_AGENT_VALUE: &str = concat!("tributary-webhooks/", env!("CARGO_PKG_VERSION"));

#[derive(Debug, Clone)]
pub struct DelivererConfig {
    /// Attempts in flight at once in this process.
    pub concurrency: usize,
    /// The most deliveries one claim takes.
    pub batch: usize,
    /// How long a claimed delivery is ours: a deliverer that dies mid-attempt leaves it to be
    /// claimed again after this long. Must exceed `request_timeout` (checked by [`Deliverer::new`]),
    /// or a slow attempt would be claimed and sent a second time while still running.
    pub lease: Duration,
    /// The most one attempt may take, connect to last excerpt byte.
    pub request_timeout: Duration,
    /// Pause between claims that found less than a full batch.
    pub poll_interval: Duration,
    pub retry: RetryPolicy,
    pub targets: TargetPolicy,
    /// How often a summary line is logged (when anything happened).
    pub report_every: Duration,
}

impl Default for DelivererConfig {
    fn default() -> Self {
        Self {
            concurrency: 32,
            batch: 32,
            lease: Duration::from_secs(60),
            request_timeout: Duration::from_secs(10),
            poll_interval: Duration::from_millis(200),
            retry: RetryPolicy::default(),
            targets: TargetPolicy::default(),
            report_every: Duration::from_secs(60),
        }
    }
}

/// The slack between an attempt's timeout and its lease: recording the attempt takes a moment.
const LEASE_MARGIN: Duration = Duration::from_secs(1);

/// Counters since start, for logs and benchmarks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeliveryStats {
    pub claimed: u64,
    pub delivered: u64,
    /// Failed attempts that will be retried.
    pub retried: u64,
    pub dead: u64,
    /// Attempts not sent because the target was refused (also counted as retried or dead).
    pub refused: u64,
    /// Claims or records the mirror failed; recorded attempts lost this way are retried once
    /// their lease ends.
    pub store_errors: u64,
}

#[derive(Default)]
struct Counters {
    claimed: AtomicU64,
    delivered: AtomicU64,
    retried: AtomicU64,
    dead: AtomicU64,
    refused: AtomicU64,
    store_errors: AtomicU64,
}

impl Counters {
    fn snapshot(&self) -> DeliveryStats {
        DeliveryStats {
            claimed: self.claimed.load(Ordering::Relaxed),
            delivered: self.delivered.load(Ordering::Relaxed),
            retried: self.retried.load(Ordering::Relaxed),
            dead: self.dead.load(Ordering::Relaxed),
            refused: self.refused.load(Ordering::Relaxed),
            store_errors: self.store_errors.load(Ordering::Relaxed),
        }
    }
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// What one attempt did, as recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptReport {
    pub attempt: DeliveryAttempt,
    pub outcome: AttemptOutcome,
    /// The target was refused by the policy: nothing was sent.
    pub refused: bool,
}

pub struct Deliverer {
    store: Arc<dyn Outbox>,
    config: DelivererConfig,
    client: reqwest::Client,
    counters: Counters,
}

/// Runs a [`Deliverer`] until `shutdown` turns true; in-flight attempts are finished (each is
/// bounded by the request timeout) and recorded before it returns.
pub async fn run(
    store: Arc<dyn Outbox>,
    config: DelivererConfig,
    shutdown: watch::Receiver<bool>,
) -> Result<(), WebhookError> {
    Arc::new(Deliverer::new(store, config)?).run(shutdown).await;
    Ok(())
}

impl Deliverer {
    pub fn new(store: Arc<dyn Outbox>, config: DelivererConfig) -> Result<Self, WebhookError> {
        if config.concurrency == 0 || config.batch == 0 {
            return Err(WebhookError::Config("concurrency and batch must be at least 1".into()));
        }
        if config.lease < config.request_timeout + LEASE_MARGIN {
            return Err(WebhookError::Config(format!(
                "the lease ({:?}) must exceed the request timeout ({:?}) by at least {LEASE_MARGIN:?}",
                config.lease, config.request_timeout
            )));
        }
        if config.poll_interval.is_zero() {
            return Err(WebhookError::Config("the poll interval must be positive".into()));
        }
        let client = reqwest::Client::builder()
            // See `target`: every name is resolved through the policy, and nothing may route
            // the request past it (a proxy, a redirect to an internal address).
            .dns_resolver(Arc::new(GuardedResolver { policy: config.targets }))
            .no_proxy()
            .redirect(redirect::Policy::none())
            .connect_timeout(config.request_timeout)
            .pool_max_idle_per_host(config.concurrency)
            .build()?;
        Ok(Self {
            store,
            config,
            client,
            counters: Counters::default(),
        })
    }

    pub fn stats(&self) -> DeliveryStats {
        self.counters.snapshot()
    }

    /// Claims and delivers until `shutdown` turns true. Keeps up to `concurrency` attempts in
    /// flight, claiming as slots free up; claims when the store signals queued deliveries
    /// (Postgres LISTEN/NOTIFY), when an attempt ends, and every `poll_interval` while idle,
    /// and again at once after a claim that came back full.
    pub async fn run(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        let cfg = &self.config;
        tracing::info!(
            concurrency = cfg.concurrency,
            timeout_ms = cfg.request_timeout.as_millis() as u64,
            allow_private_targets = cfg.targets.allow_private_targets,
            allow_link_local = cfg.targets.allow_link_local,
            "webhook deliverer started"
        );
        // Dropping the set (this future aborted) aborts the attempts in flight; their leases
        // then expire and another deliverer retries them.
        let mut in_flight: JoinSet<()> = JoinSet::new();
        // Under load, claim when a few slots are free rather than after every completion: one
        // claim query per delivery would make the outbox, not the receivers, the bottleneck.
        // A slot free for a poll interval is filled anyway, so slow receivers waste none.
        let refill = (cfg.batch.min(cfg.concurrency) / 4).max(1);
        let mut last_claim = Instant::now();
        let mut last_report = Instant::now();
        let mut reported = DeliveryStats::default();
        let mut queued = self.outbox_listener().await;
        loop {
            if *shutdown.borrow() {
                break;
            }
            while let Some(done) = in_flight.try_join_next() {
                log_panic(done);
            }
            let free = cfg.concurrency - in_flight.len();
            // Whether more deliveries are probably due than we took: wait for slots, not a poll.
            let mut busy = free < refill;
            if free > 0 && (!busy || last_claim.elapsed() >= cfg.poll_interval) {
                let want = free.min(cfg.batch);
                last_claim = Instant::now();
                match self.claim(want).await {
                    Ok(claimed) => {
                        busy = claimed.len() == want;
                        for delivery in claimed {
                            let this = self.clone();
                            in_flight.spawn(async move {
                                this.deliver(delivery).await;
                            });
                        }
                    }
                    Err(e) => {
                        busy = false;
                        bump(&self.counters.store_errors);
                        tracing::warn!(error = %e, "claiming webhook deliveries failed");
                    }
                }
            }
            if last_report.elapsed() >= cfg.report_every {
                let now = self.stats();
                if now != reported {
                    tracing::info!(?now, in_flight = in_flight.len(), "webhook deliveries");
                    reported = now;
                }
                last_report = Instant::now();
            }
            if busy && cfg.concurrency - in_flight.len() >= refill {
                // A full claim with room left: more are due, claim again now.
                continue;
            }
            tokio::select! {
                _ = shutdown.changed() => {}
                // A finished attempt frees a slot and may unblock the pair's next event.
                Some(done) = in_flight.join_next() => log_panic(done),
                woken = wait_queued(&mut queued) => {
                    if let Err(e) = woken {
                        // Back to polling alone; the next start listens again.
                        tracing::warn!(error = %e, "the outbox signal failed; polling only");
                        queued = None;
                    }
                }
                _ = tokio::time::sleep(cfg.poll_interval) => {}
            }
        }
        tracing::info!(
            in_flight = in_flight.len(),
            "webhook deliverer stopping; finishing attempts in flight"
        );
        while let Some(done) = in_flight.join_next().await {
            log_panic(done);
        }
        tracing::info!(stats = ?self.stats(), "webhook deliverer stopped");
    }

    /// The store's signal of queued deliveries, if it has one and it can be had now.
    async fn outbox_listener(&self) -> Option<Box<dyn OutboxListener>> {
        match self.store.outbox_listener().await {
            Ok(listener) => listener,
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for queued webhooks; polling only");
                None
            }
        }
    }

    async fn claim(&self, want: usize) -> Result<Vec<ClaimedDelivery>, StoreError> {
        let claimed = self
            .store
            .claim_deliveries(Utc::now(), self.config.lease, want as i64)
            .await?;
        self.counters.claimed.fetch_add(claimed.len() as u64, Ordering::Relaxed);
        if !claimed.is_empty() {
            tracing::debug!(claimed = claimed.len(), "claimed webhook deliveries");
        }
        Ok(claimed)
    }

    /// One attempt of a claimed delivery, recorded with its outcome. A failure to record is
    /// logged: the delivery stays claimed until its lease ends and is then tried again.
    ///
    /// The attempt has its span, a child of the trace of the run that caused the event when it
    /// was traced (the event's `traceparent`).
    pub async fn deliver(&self, claimed: ClaimedDelivery) -> Option<AttemptReport> {
        let d = &claimed.delivery;
        let span = tracing::info_span!(
            "webhook delivery",
            delivery_id = %d.id,
            event_id = %d.event_id,
            event_type = %d.event_type,
            endpoint_id = %d.endpoint_id,
            integration_id = d.integration_id.as_deref(),
            attempt = d.attempts + 1,
            otel.kind = "producer",
            http.response.status_code = tracing::field::Empty,
        );
        if let Some(traceparent) = &claimed.event.trace_context {
            tributary_telemetry::propagation::adopt(&span, traceparent);
        }
        self.deliver_in_span(claimed).instrument(span).await
    }

    async fn deliver_in_span(&self, claimed: ClaimedDelivery) -> Option<AttemptReport> {
        let report = self.attempt(&claimed).await;
        if let Some(status) = report.attempt.status {
            tracing::Span::current().record("http.response.status_code", status);
        }
        let d = &claimed.delivery;
        match self.store.record_attempt(&report.attempt, &report.outcome).await {
            Ok(()) => {}
            Err(e) => {
                bump(&self.counters.store_errors);
                tracing::error!(delivery = %d.id, event = %d.event_id, error = %e, "recording a webhook attempt failed");
                return None;
            }
        }
        let a = &report.attempt;
        match &report.outcome {
            AttemptOutcome::Delivered => {
                bump(&self.counters.delivered);
                metrics::counter!(WEBHOOK_DELIVERIES, "outcome" => "delivered").increment(1);
                let lag = (Utc::now() - claimed.event.created_at).to_std().unwrap_or_default();
                metrics::histogram!(WEBHOOK_DELIVERY_LAG).record(lag.as_secs_f64());
                tracing::debug!(
                    delivery = %d.id, event = %d.event_id, endpoint = %d.endpoint_id, attempt = a.attempt,
                    status = a.status, latency_ms = a.latency_ms, "webhook delivered"
                );
            }
            AttemptOutcome::Retry(at) => {
                bump(&self.counters.retried);
                metrics::counter!(WEBHOOK_DELIVERIES, "outcome" => "retry").increment(1);
                tracing::info!(
                    delivery = %d.id, event = %d.event_id, endpoint = %d.endpoint_id, attempt = a.attempt,
                    status = a.status, error = a.error.as_deref(), retry_at = %at, "webhook attempt failed"
                );
            }
            AttemptOutcome::Dead => {
                bump(&self.counters.dead);
                metrics::counter!(WEBHOOK_DELIVERIES, "outcome" => "dead").increment(1);
                metrics::counter!(WEBHOOK_DEAD_LETTERS).increment(1);
                tracing::warn!(
                    delivery = %d.id, event = %d.event_id, endpoint = %d.endpoint_id, attempt = a.attempt,
                    status = a.status, error = a.error.as_deref(), "webhook dead-lettered after its retry window"
                );
            }
        }
        if report.refused {
            bump(&self.counters.refused);
        }
        Some(report)
    }

    /// Sends one attempt (unless the target is refused) and decides its outcome.
    async fn attempt(&self, claimed: &ClaimedDelivery) -> AttemptReport {
        let number = claimed.delivery.attempts + 1;
        let at = Utc::now();
        let started = Instant::now();
        let sent = match check_url(&claimed.url, &self.config.targets) {
            Ok(url) => self.post(url, claimed, number).await,
            Err(refused) => Sent::Refused(refused.to_string()),
        };
        let latency_ms = started.elapsed().as_millis() as i64;
        let (status, excerpt, error, refused) = match sent {
            Sent::Response { status, excerpt } => {
                let error = (!status.is_success()).then(|| format!("HTTP {status}"));
                (Some(status.as_u16() as i32), Some(excerpt), error, false)
            }
            Sent::Failed { error, refused } => (None, None, Some(error), refused),
            Sent::Refused(error) => (None, None, Some(error), true),
            Sent::TimedOut => (
                None,
                None,
                Some(format!("timed out after {:?}", self.config.request_timeout)),
                false,
            ),
        };
        let success = status.is_some_and(|s| (200..300).contains(&s));
        let outcome = if success {
            AttemptOutcome::Delivered
        } else {
            self.config.retry.after_failure(
                number.max(1) as u32,
                Utc::now(),
                claimed.event.created_at,
                &mut rand::rng(),
            )
        };
        AttemptReport {
            attempt: DeliveryAttempt {
                delivery_id: claimed.delivery.id.clone(),
                attempt: number,
                at,
                status,
                latency_ms,
                response_excerpt: excerpt,
                error,
            },
            outcome,
            refused,
        }
    }

    async fn post(&self, url: url::Url, claimed: &ClaimedDelivery, number: i32) -> Sent {
        // The payload is the whole Kombo-shaped body (`{"id", "type", "data"}`); serializing a
        // JSON value cannot fail.
        let body = serde_json::to_vec(&claimed.event.payload).expect("a JSON value serializes");
        let signatures = sign(&claimed.secret, &body, Utc::now().timestamp());
        let request = self
            .client
            .post(url)
            .header(CONTENT_TYPE, "application/json")
            .header(USER_AGENT, USER_AGENT_VALUE)
            .header(KOMBO_SIGNATURE, signatures.kombo)
            .header(TRIBUTARY_TIMESTAMP, signatures.timestamp.to_string())
            .header(TRIBUTARY_SIGNATURE, signatures.tributary)
            .header(TRIBUTARY_EVENT_ID, &claimed.event.id)
            .header(TRIBUTARY_DELIVERY_ID, &claimed.delivery.id)
            .header(TRIBUTARY_ATTEMPT, number.to_string())
            .body(body);
        let exchange = async {
            let mut response = request.send().await?;
            let status = response.status();
            Ok::<_, reqwest::Error>((status, read_excerpt(&mut response).await))
        };
        // One deadline over connect, headers and the excerpt: a receiver that trickles its
        // body cannot hold an attempt (and its lease) open.
        match tokio::time::timeout(self.config.request_timeout, exchange).await {
            Err(_) => Sent::TimedOut,
            Ok(Ok((status, excerpt))) => Sent::Response { status, excerpt },
            Ok(Err(e)) => Sent::Failed {
                refused: is_refused(&e),
                error: error_chain(&e),
            },
        }
    }
}

enum Sent {
    Response {
        status: reqwest::StatusCode,
        excerpt: String,
    },
    Failed {
        error: String,
        refused: bool,
    },
    Refused(String),
    TimedOut,
}

/// The first [`EXCERPT_BYTES`] of the body, as text, reading no further. A body that breaks
/// off keeps what arrived: the status already decided the attempt.
async fn read_excerpt(response: &mut reqwest::Response) -> String {
    let mut bytes = Vec::new();
    while bytes.len() < EXCERPT_BYTES {
        match response.chunk().await {
            Ok(Some(chunk)) => bytes.extend_from_slice(&chunk[..chunk.len().min(EXCERPT_BYTES - bytes.len())]),
            Ok(None) | Err(_) => break,
        }
    }
    excerpt_text(&bytes)
}

/// Lossy UTF-8 of at most [`EXCERPT_BYTES`] bytes, cut at a character boundary (a character
/// split by the byte limit becomes U+FFFD, which may need trimming to stay within it).
fn excerpt_text(bytes: &[u8]) -> String {
    let mut text = String::from_utf8_lossy(&bytes[..bytes.len().min(EXCERPT_BYTES)]).into_owned();
    if text.len() > EXCERPT_BYTES {
        let mut cut = EXCERPT_BYTES;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
    }
    text
}

/// `reqwest`'s top-level messages ("error sending request") hide the cause; keep the chain.
fn error_chain(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// Whether the guarded resolver refused every address of the host.
fn is_refused(e: &reqwest::Error) -> bool {
    let mut source = e.source();
    while let Some(cause) = source {
        if let Some(target) = cause.downcast_ref::<TargetError>() {
            return matches!(target, TargetError::RefusedAddress { .. } | TargetError::RefusedHost(_));
        }
        source = cause.source();
    }
    false
}

fn log_panic(done: Result<(), tokio::task::JoinError>) {
    if let Err(e) = done
        && e.is_panic()
    {
        tracing::error!(error = %e, "a webhook delivery task panicked");
    }
}

/// Waits for the outbox signal; never returns without one, so `select!` falls to the poll.
async fn wait_queued(listener: &mut Option<Box<dyn OutboxListener>>) -> Result<(), StoreError> {
    match listener {
        Some(l) => l.changed().await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpts_stay_within_a_kibibyte_at_a_character_boundary() {
        assert_eq!(excerpt_text(b"ok"), "ok");
        let ascii = vec![b'a'; 3000];
        assert_eq!(excerpt_text(&ascii).len(), EXCERPT_BYTES);
        // 1023 ASCII bytes and the first byte of a 2-byte character: the half character
        // becomes U+FFFD (3 bytes), which is trimmed off to stay within the limit.
        let mut split = vec![b'a'; 1023];
        split.extend_from_slice("é".as_bytes());
        let text = excerpt_text(&split);
        assert!(text.len() <= EXCERPT_BYTES);
        assert!(text.starts_with("aaa") && text.chars().all(|c| c == 'a'));
    }

    #[test]
    fn user_agent_names_the_crate_version() {
        assert_eq!(
            USER_AGENT_VALUE,
            format!("tributary-webhooks/{}", env!("CARGO_PKG_VERSION"))
        );
    }
}
