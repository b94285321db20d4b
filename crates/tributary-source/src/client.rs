use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use backon::{BackoffBuilder, ExponentialBuilder};
use bytes::Bytes;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::{RequestBuilder, StatusCode};
use serde::de::DeserializeOwned;
use tokio::sync::Mutex;
use tracing::Instrument as _;
use tributary_metrics::catalogue::{
    SOURCE_RATE_LIMIT_WAITS, SOURCE_REQUESTS, SOURCE_RETRIES, SOURCE_RETRY_AFTER, SOURCE_SHARED_BUDGET_ERRORS,
};

use crate::SourceError;
use crate::budget::{SharedBudget, SharedQuota};
use crate::pace::{LearntPace, RateLimit, documented_quota};

/// How one integration's client behaves. Defaults suit a real SaaS API; tests shrink delays.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Whole-request timeout, body included.
    pub timeout: Duration,
    pub connect_timeout: Duration,
    /// Attempts per request, the first included.
    pub max_attempts: u32,
    pub min_backoff: Duration,
    pub max_backoff: Duration,
    /// The integration's rate budget: requests per second, shared by every connector call of
    /// the integration. `None`: unlimited (the tool's own 429s and headers still apply).
    pub requests_per_second: Option<NonZeroU32>,
    /// The longest `Retry-After` or rate-limit reset we are willing to sleep through before
    /// giving the request up as transient.
    pub max_retry_after: Duration,
    /// Keep to each tool's documented rate limits on top of `requests_per_second`. Off only
    /// against a simulator whose limits are not what is measured (the ingest benchmark):
    /// a real tool refuses what its documentation forbids.
    pub documented_limits: bool,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(10),
            max_attempts: 6,
            min_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
            requests_per_second: NonZeroU32::new(10),
            max_retry_after: Duration::from_secs(300),
            documented_limits: true,
        }
    }
}

/// A response whose status was a success.
#[derive(Debug, Clone)]
pub struct SourceResponse {
    pub endpoint: String,
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl SourceResponse {
    /// Parses the body; truncated or malformed JSON and wrong types become
    /// [`SourceError::Malformed`] naming the endpoint and serde's description.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, SourceError> {
        serde_json::from_slice(&self.body).map_err(|e| SourceError::malformed(&self.endpoint, e))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// What a connector makes of a 2xx body: some tools answer HTTP 200 with an error inside.
pub enum BodyVerdict {
    Ok,
    /// The body reports a passing condition (e.g. "rate limited, try again"): retry.
    Retry(String),
    /// The body reports a failure: stop with this error.
    Fail(SourceError),
}

/// The HTTP client of one integration. Cheap to clone; clones share the rate budget.
#[derive(Clone)]
pub struct SourceClient {
    http: reqwest::Client,
    config: Arc<ClientConfig>,
    budget: Arc<Budget>,
    /// The budget every process holding the integration spends, with the integration's id;
    /// when set, it paces the configured and documented limits instead of `budget`'s limiters,
    /// which remain for a request the shared budget could not answer.
    shared: Option<Arc<(Arc<dyn SharedBudget>, String)>>,
    /// The `tool` label of this client's metrics.
    tool: &'static str,
}

struct Budget {
    limiter: Option<DefaultDirectRateLimiter>,
    /// `limiter`'s quota, for the shared budget.
    quota: Option<SharedQuota>,
    /// The tool's own documented limits, each spaced evenly but for a small burst (see
    /// [`documented_quota`]): a tool counting N requests per window would refuse a burst of N
    /// at the end of one window and N more at the start of the next, and a refused request
    /// costs its `Retry-After`, far more than the spacing.
    tool_limiters: Vec<(Option<&'static str>, DefaultDirectRateLimiter, SharedQuota)>,
    /// The pace learnt from 429s that carry no quota headers (tools that publish no number).
    learnt: LearntPace,
    /// Set when the tool says its quota is spent (429 or a zero "remaining" header): every
    /// request of the integration waits until then, not just the one that was refused.
    blocked_until: Mutex<Option<Instant>>,
}

impl SourceClient {
    pub fn new(config: ClientConfig) -> Result<Self, SourceError> {
        Self::with_tool_limits(config, &[])
    }

    /// A client that also keeps to the tool's documented rate limits, whatever the configured
    /// budget allows.
    pub fn with_tool_limits(config: ClientConfig, tool_limits: &[RateLimit]) -> Result<Self, SourceError> {
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.connect_timeout)
            .user_agent(concat!("tributary/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| SourceError::Config(format!("cannot build HTTP client: {e}")))?;
        let quota = config.requests_per_second.map(Quota::per_second);
        let limiter = quota.map(RateLimiter::direct);
        let tool_limiters = tool_limits
            .iter()
            .filter_map(|l| {
                let quota = documented_quota(l)?;
                let name = format!("tool:{}", l.endpoint.unwrap_or("*"));
                Some((
                    l.endpoint,
                    RateLimiter::direct(quota),
                    SharedQuota::from_quota(name, &quota),
                ))
            })
            .collect();
        Ok(Self {
            http,
            config: Arc::new(config),
            budget: Arc::new(Budget {
                limiter,
                quota: quota.map(|q| SharedQuota::from_quota("budget".to_owned(), &q)),
                tool_limiters,
                learnt: LearntPace::new(),
                blocked_until: Mutex::new(None),
            }),
            shared: None,
            tool: "unknown",
        })
    }

    /// Spends the configured budget and the tool's documented limits from `shared`, counted for
    /// `integration_id` by every process that holds it, and reports the tool's blocks there.
    /// Clones made from this client share it; clones made earlier keep the in-memory budget.
    pub fn with_shared_budget(mut self, shared: Arc<dyn SharedBudget>, integration_id: impl Into<String>) -> Self {
        self.shared = Some(Arc::new((shared, integration_id.into())));
        self
    }

    /// Labels this client's metrics with the tool it talks to (`unknown` otherwise).
    pub fn for_tool(mut self, tool: &'static str) -> Self {
        self.tool = tool;
        self
    }

    /// The underlying client, to build requests with.
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// Sends a request built by `build` (called once per attempt), retrying transient failures
    /// with jittered exponential backoff and honouring `Retry-After` and rate-limit headers.
    /// `endpoint` names the call in errors and logs; it must not contain credentials.
    pub async fn send(
        &self,
        endpoint: &str,
        build: impl Fn(&reqwest::Client) -> RequestBuilder,
    ) -> Result<SourceResponse, SourceError> {
        self.send_checked(endpoint, build, |_| BodyVerdict::Ok).await
    }

    /// Like [`SourceClient::send`], with `check` deciding whether a 2xx body is really a
    /// success.
    pub async fn send_checked(
        &self,
        endpoint: &str,
        build: impl Fn(&reqwest::Client) -> RequestBuilder,
        check: impl Fn(&SourceResponse) -> BodyVerdict,
    ) -> Result<SourceResponse, SourceError> {
        let mut backoff = ExponentialBuilder::default()
            .with_jitter()
            .with_min_delay(self.config.min_backoff)
            .with_max_delay(self.config.max_backoff)
            .with_max_times(self.config.max_attempts.saturating_sub(1) as usize)
            .build();
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            self.wait_for_budget(endpoint).await;
            // One span per HTTP request sent (a retry is another), under the page that needs it.
            let span = tracing::info_span!(
                "source request",
                endpoint,
                attempt,
                otel.kind = "client",
                http.response.status_code = tracing::field::Empty,
            );
            let failure = match self.attempt(endpoint, &build).instrument(span).await {
                Ok(resp) => match check(&resp) {
                    BodyVerdict::Ok => return Ok(resp),
                    BodyVerdict::Fail(e) => return Err(e),
                    BodyVerdict::Retry(message) => Failure {
                        message,
                        retry_after: None,
                    },
                },
                Err(Attempt::Fatal(e)) => return Err(e),
                Err(Attempt::Transient(f)) => f,
            };
            if let Some(after) = failure.retry_after {
                metrics::histogram!(SOURCE_RETRY_AFTER, "tool" => self.tool).record(after.as_secs_f64());
            }
            let delay = match (failure.retry_after, backoff.next()) {
                (_, None) => None,
                // The tool told us when to come back: that beats our own guess.
                (Some(after), Some(_)) => Some(after),
                (None, Some(d)) => Some(d),
            };
            match delay {
                Some(d) if d <= self.config.max_retry_after => {
                    metrics::counter!(SOURCE_RETRIES, "tool" => self.tool, "endpoint" => endpoint.to_owned())
                        .increment(1);
                    tracing::warn!(endpoint, attempt, delay_ms = d.as_millis() as u64, error = %failure.message, "retrying source request");
                    tokio::time::sleep(d).await;
                }
                _ => {
                    return Err(SourceError::Transient {
                        endpoint: endpoint.to_owned(),
                        message: failure.message,
                        attempts: attempt,
                        retry_after: failure.retry_after,
                    });
                }
            }
        }
    }

    async fn wait_for_budget(&self, endpoint: &str) {
        let until = *self.budget.blocked_until.lock().await;
        if let Some(until) = until {
            tokio::time::sleep_until(until.into()).await;
        }
        if !self.wait_for_shared(endpoint).await {
            if let Some(limiter) = &self.budget.limiter {
                limiter.until_ready().await;
            }
            for (_, limiter, _) in self.tool_limiters(endpoint) {
                limiter.until_ready().await;
            }
        }
        // A learnt pace stays this process's own: it follows the refusals this process sees,
        // and several processes learning side by side settle on shares of the tool's rate
        // (additive increase, multiplicative decrease, as TCP flows do).
        self.budget.learnt.until_ready().await;
    }

    /// Waits for this request's slots of the shared budget, if the client has one and it
    /// answers; `false` leaves the pacing to the in-memory limiters.
    async fn wait_for_shared(&self, endpoint: &str) -> bool {
        let Some((shared, integration_id)) = self.shared.as_deref() else {
            return false;
        };
        let quotas: Vec<SharedQuota> = self
            .budget
            .quota
            .iter()
            .chain(self.tool_limiters(endpoint).map(|(_, _, quota)| quota))
            .cloned()
            .collect();
        match shared.take(integration_id, &quotas).await {
            Ok(wait) => {
                if !wait.is_zero() {
                    tokio::time::sleep(wait.min(self.config.max_retry_after)).await;
                }
                true
            }
            Err(error) => {
                metrics::counter!(SOURCE_SHARED_BUDGET_ERRORS, "tool" => self.tool).increment(1);
                tracing::warn!(endpoint, %error, "shared rate budget unavailable; pacing this request in this process alone");
                false
            }
        }
    }

    /// The pace learnt from the tool's refusals (requests a second), once it has refused one.
    pub fn learnt_rate(&self) -> Option<f64> {
        self.budget.learnt.rate()
    }

    /// The documented limits a request to `endpoint` counts against.
    fn tool_limiters<'a>(
        &'a self,
        endpoint: &'a str,
    ) -> impl Iterator<Item = &'a (Option<&'static str>, DefaultDirectRateLimiter, SharedQuota)> + 'a {
        self.budget
            .tool_limiters
            .iter()
            .filter(move |(only, _, _)| only.is_none_or(|e| e == endpoint))
    }

    async fn block_until(&self, d: Duration) {
        metrics::counter!(SOURCE_RATE_LIMIT_WAITS, "tool" => self.tool).increment(1);
        let d = d.min(self.config.max_retry_after);
        let at = Instant::now() + d;
        {
            let mut guard = self.budget.blocked_until.lock().await;
            if guard.is_none_or(|cur| cur < at) {
                *guard = Some(at);
            }
        }
        if let Some((shared, integration_id)) = self.shared.as_deref()
            && let Err(error) = shared.block(integration_id, d).await
        {
            metrics::counter!(SOURCE_SHARED_BUDGET_ERRORS, "tool" => self.tool).increment(1);
            tracing::warn!(%error, "shared rate budget unavailable; the tool's block holds in this process alone");
        }
    }

    /// `endpoint` is the connector's template (`GET /employees/{id}`), never a URL, so the
    /// label stays bounded.
    fn count_request(&self, endpoint: &str, status: String) {
        metrics::counter!(SOURCE_REQUESTS, "tool" => self.tool, "endpoint" => endpoint.to_owned(), "status" => status)
            .increment(1);
    }

    async fn attempt(
        &self,
        endpoint: &str,
        build: &impl Fn(&reqwest::Client) -> RequestBuilder,
    ) -> Result<SourceResponse, Attempt> {
        let resp = match build(&self.http).send().await {
            Ok(r) => r,
            // Timeouts, refused and reset connections: the network or the tool may recover.
            Err(e) => {
                self.count_request(endpoint, "error".to_owned());
                return Err(Attempt::transient(describe(&e)));
            }
        };
        let status = resp.status();
        tracing::Span::current().record("http.response.status_code", status.as_u16());
        self.count_request(endpoint, status.as_u16().to_string());
        let headers = resp.headers().clone();
        if let Some(reset) = quota_exhausted(&headers) {
            self.block_until(reset).await;
        }
        let body = match resp.bytes().await {
            Ok(b) => b,
            Err(e) => return Err(Attempt::transient(format!("reading body: {}", describe(&e)))),
        };
        if status.is_success() {
            self.budget.learnt.accepted(Instant::now());
            return Ok(SourceResponse {
                endpoint: endpoint.to_owned(),
                status,
                headers,
                body,
            });
        }
        let message = excerpt(&body);
        match status {
            StatusCode::TOO_MANY_REQUESTS => {
                let announced = retry_after(&headers);
                // A tool reporting its quota in headers is kept to them already (a 429 then
                // only means requests in flight raced the reset); one that says nothing but
                // "later" has to be learnt.
                if quota_remaining(&headers).is_none() {
                    self.budget.learnt.refused(Instant::now(), announced);
                }
                let retry_after = announced.or_else(|| quota_exhausted(&headers));
                if let Some(d) = retry_after {
                    self.block_until(d).await;
                }
                Err(Attempt::Transient(Failure {
                    message: format!("429 Too Many Requests: {message}"),
                    retry_after,
                }))
            }
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => Err(Attempt::Fatal(SourceError::Auth {
                endpoint: endpoint.to_owned(),
                status: status.as_u16(),
                message,
            })),
            StatusCode::REQUEST_TIMEOUT => Err(Attempt::transient(format!("408: {message}"))),
            s if s.is_server_error() => Err(Attempt::Transient(Failure {
                message: format!("{}: {message}", s.as_u16()),
                retry_after: retry_after(&headers),
            })),
            s => Err(Attempt::Fatal(SourceError::Rejected {
                endpoint: endpoint.to_owned(),
                status: s.as_u16(),
                message,
            })),
        }
    }
}

struct Failure {
    message: String,
    retry_after: Option<Duration>,
}

enum Attempt {
    Transient(Failure),
    Fatal(SourceError),
}

impl Attempt {
    fn transient(message: String) -> Self {
        Attempt::Transient(Failure {
            message,
            retry_after: None,
        })
    }
}

/// reqwest's Display can include the full URL, and some tools take credentials in the query
/// string, so errors are described without it.
fn describe(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else if e.is_body() || e.is_decode() {
        "body interrupted"
    } else {
        "request failed"
    };
    let mut source = std::error::Error::source(e);
    let mut detail = String::new();
    while let Some(s) = source {
        detail = s.to_string();
        source = s.source();
    }
    if detail.is_empty() {
        kind.to_owned()
    } else {
        format!("{kind}: {detail}")
    }
}

/// The first 300 characters of an error body, enough to read the tool's message in a run's
/// error without storing whole HTML error pages.
fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    match text.char_indices().nth(300) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None if text.is_empty() => "(empty body)".to_owned(),
        None => text.to_owned(),
    }
}

/// `Retry-After` as delta-seconds or as an HTTP date (RFC 9110 §10.2.3).
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(SystemTime::now()).unwrap_or(Duration::ZERO))
}

fn header_number(headers: &HeaderMap, names: &[&str]) -> Option<f64> {
    names
        .iter()
        .find_map(|n| headers.get(*n)?.to_str().ok()?.trim().parse::<f64>().ok())
}

/// The requests left in the tool's current window, if it reports them.
fn quota_remaining(headers: &HeaderMap) -> Option<f64> {
    header_number(headers, &["x-ratelimit-remaining", "ratelimit-remaining"])
}

/// When a tool reports its quota spent in rate-limit headers, how long until it resets.
/// Understands the common `X-RateLimit-Remaining` with `X-RateLimit-Reset` as seconds to wait
/// or as a Unix timestamp (Greenhouse, Personio), and the IETF draft's `RateLimit-*` names.
pub(crate) fn quota_exhausted(headers: &HeaderMap) -> Option<Duration> {
    let remaining = quota_remaining(headers)?;
    if remaining > 0.0 {
        return None;
    }
    let reset = header_number(headers, &["x-ratelimit-reset", "ratelimit-reset"]).unwrap_or(1.0);
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .ok()?
        .as_secs_f64();
    // Values beyond a day in seconds can only be absolute Unix timestamps.
    let wait = if reset > 86_400.0 { reset - now } else { reset };
    Some(Duration::from_secs_f64(wait.clamp(0.0, 86_400.0)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn retry_after_accepts_seconds_and_dates() {
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(7)));
        let later = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(120));
        h.insert(RETRY_AFTER, HeaderValue::from_str(&later).unwrap());
        let d = retry_after(&h).unwrap();
        assert!(d > Duration::from_secs(100) && d <= Duration::from_secs(120), "{d:?}");
        h.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&h), None);
    }

    #[tokio::test]
    async fn documented_limits_space_their_endpoint_only() {
        let limits = [
            RateLimit {
                endpoint: Some("GET /employees"),
                requests: NonZeroU32::new(20).unwrap(),
                per: Duration::from_secs(1),
            },
            RateLimit {
                endpoint: None,
                requests: NonZeroU32::new(1000).unwrap(),
                per: Duration::from_secs(1),
            },
        ];
        let client = SourceClient::with_tool_limits(
            ClientConfig {
                requests_per_second: None,
                ..ClientConfig::default()
            },
            &limits,
        )
        .unwrap();
        assert_eq!(client.tool_limiters("GET /employees").count(), 2);
        assert_eq!(
            client.tool_limiters("GET /employees/{id}").count(),
            1,
            "names match exactly"
        );
        // Twenty a second, evenly: six requests span at least five intervals of 50 ms.
        let started = Instant::now();
        for _ in 0..6 {
            client.wait_for_budget("GET /employees").await;
        }
        assert!(
            started.elapsed() >= Duration::from_millis(245),
            "{:?}",
            started.elapsed()
        );
    }

    #[test]
    fn exhausted_quota_reads_relative_and_absolute_resets() {
        let mut h = HeaderMap::new();
        h.insert("x-ratelimit-remaining", HeaderValue::from_static("3"));
        assert_eq!(quota_exhausted(&h), None);
        h.insert("x-ratelimit-remaining", HeaderValue::from_static("0"));
        h.insert("x-ratelimit-reset", HeaderValue::from_static("2"));
        assert_eq!(quota_exhausted(&h), Some(Duration::from_secs(2)));
        let abs = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_secs()
            + 30;
        h.insert("x-ratelimit-reset", HeaderValue::from_str(&abs.to_string()).unwrap());
        let d = quota_exhausted(&h).unwrap();
        assert!(d > Duration::from_secs(25) && d <= Duration::from_secs(30), "{d:?}");
    }
}
