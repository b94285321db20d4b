//! The HTTP layers around the routes: request ids, tracing spans, a body limit, and (on the
//! API routes) a concurrency cap and a request timeout that answer in Kombo's envelope.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::header::{CONTENT_LENGTH, RETRY_AFTER};
use axum::http::{HeaderName, HeaderValue, Request as HttpRequest};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::{DefaultKeyedRateLimiter, Quota};
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;
use tower_http::request_id::RequestId;
use tracing::{Level, Span};

use tributary_store::ApiKeys;

use crate::auth::{LookedUp, bearer_token, hash_api_key};
use crate::error::ApiError;
use crate::state::GatewayOptions;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
const LIMIT: HeaderName = HeaderName::from_static("x-ratelimit-limit");
const REMAINING: HeaderName = HeaderName::from_static("x-ratelimit-remaining");
const RESET: HeaderName = HeaderName::from_static("x-ratelimit-reset");

/// Per-key limiter: GCRA, keyed by a digest of the authenticated key's id (see [`charge`]).
type KeyLimiter = DefaultKeyedRateLimiter<[u8; 16], StateInformationMiddleware>;
/// Forget idle keys once the map holds this many, so garbage keys cannot grow it forever.
const LIMITER_TRIM_AT: usize = 10_000;

/// The request's span. Only the path is recorded: query strings carry e-mail addresses and
/// other personal data (`work_emails=...`) that have no place in logs.
pub fn make_span<B>(request: &HttpRequest<B>) -> Span {
    let request_id = request
        .extensions()
        .get::<RequestId>()
        .and_then(|id| id.header_value().to_str().ok())
        .unwrap_or("-");
    let span = tracing::span!(
        Level::INFO,
        "http",
        method = %request.method(),
        path = %request.uri().path(),
        request_id = %request_id,
        integration_id = tracing::field::Empty,
        // OpenTelemetry's HTTP convention: the method alone names a span when the route is
        // not known (the router matches after this layer); the path is an attribute.
        otel.kind = "server",
        otel.name = request.method().as_str(),
    );
    // A caller that traces (its own `traceparent` header) gets this request in its trace.
    tributary_telemetry::propagation::adopt_from_headers(&span, request.headers());
    span
}

#[derive(Debug)]
pub struct Limits {
    in_flight: Arc<Semaphore>,
    timeout: Duration,
    body_limit: usize,
    header_limit: usize,
    per_key: Option<(KeyLimiter, u32)>,
}

impl Limits {
    pub fn new(options: &GatewayOptions) -> Arc<Self> {
        Arc::new(Self {
            in_flight: Arc::new(Semaphore::new(options.max_in_flight.max(1))),
            timeout: options.request_timeout,
            body_limit: options.body_limit,
            header_limit: options.header_limit,
            per_key: options.rate_limit_per_second.and_then(NonZeroU32::new).map(|rate| {
                let burst = NonZeroU32::new(options.rate_limit_burst.max(rate.get())).unwrap_or(rate);
                let quota = Quota::per_second(rate).allow_burst(burst);
                (
                    governor::RateLimiter::keyed(quota).with_middleware::<StateInformationMiddleware>(),
                    rate.get(),
                )
            }),
        })
    }
}

/// The state of [`guard`]: the limits, and on the routes that take an API key the store that
/// knows the keys. The per-key budget is charged to the key the store authenticates, not to
/// the header's bytes: `Bearer K`, `bearer  K` and `BEARER K` are one key with one budget.
#[derive(Clone)]
pub struct Guard {
    limits: Arc<Limits>,
    keys: Option<Arc<dyn ApiKeys>>,
}

impl Guard {
    /// For routes that take an API key: authenticated and charged per key.
    pub fn keyed(limits: Arc<Limits>, store: Arc<dyn ApiKeys>) -> Self {
        Self {
            limits,
            keys: Some(store),
        }
    }

    /// For routes without an API key (the contract, inbound webhooks): no per-key charge.
    pub fn open(limits: Arc<Limits>) -> Self {
        Self { limits, keys: None }
    }
}

/// What charging a request to its key's budget decided.
enum Charge {
    /// No limit applies (limiting is off, or the request carries no key).
    Free,
    Allowed {
        rate: u32,
        remaining: u32,
    },
    Refused {
        rate: u32,
        retry_after_secs: u64,
    },
}

impl Charge {
    fn headers(&self) -> Vec<(HeaderName, HeaderValue)> {
        match *self {
            Charge::Free => Vec::new(),
            Charge::Allowed { rate, remaining } => vec![
                (LIMIT, HeaderValue::from(rate)),
                (REMAINING, HeaderValue::from(remaining)),
            ],
            Charge::Refused { rate, retry_after_secs } => vec![
                (LIMIT, HeaderValue::from(rate)),
                (REMAINING, HeaderValue::from(0)),
                (RESET, HeaderValue::from(retry_after_secs)),
                (RETRY_AFTER, HeaderValue::from(retry_after_secs)),
            ],
        }
    }
}

/// Whole seconds to wait, rounded up and at least one: `Retry-After: 0` invites an immediate
/// retry that the limiter refuses again.
pub fn retry_after_secs(wait: Duration) -> u64 {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

/// Authenticates the request's key and charges one request to it. The key is looked up here,
/// before the handler, because the budget belongs to the key; the handler reuses the lookup
/// ([`LookedUp`]). A request without a well-formed `Bearer` header is not charged: it fails
/// authentication without touching the database. A key no live key matches is charged under
/// its token, trimmed as authentication trims it, so its spellings share one budget too.
async fn charge(guard: &Guard, request: &mut Request) -> Result<Charge, ApiError> {
    let (Some((limiter, rate)), Some(store)) = (&guard.limits.per_key, &guard.keys) else {
        return Ok(Charge::Free);
    };
    let Ok(token) = bearer_token(request.headers()) else {
        return Ok(Charge::Free);
    };
    let found = store.find_api_key(&hash_api_key(token)).await?;
    let mut digest = Sha256::new();
    match &found {
        Some(key) => digest.update(format!("key\0{}", key.id)),
        None => digest.update(format!("token\0{token}")),
    }
    let mut bucket = [0u8; 16];
    bucket.copy_from_slice(&digest.finalize()[..16]);
    request.extensions_mut().insert(LookedUp(found));
    if limiter.len() > LIMITER_TRIM_AT {
        limiter.retain_recent();
    }
    Ok(match limiter.check_key(&bucket) {
        Ok(state) => Charge::Allowed {
            rate: *rate,
            remaining: state.remaining_burst_capacity(),
        },
        Err(not_until) => Charge::Refused {
            rate: *rate,
            retry_after_secs: retry_after_secs(not_until.wait_time_from(DefaultClock::default().now())),
        },
    })
}

/// Refuses oversized bodies up front, sheds load beyond the in-flight cap, charges the
/// caller's key its rate limit, and bounds how long a request may run. Done here rather than
/// with tower-http's timeout and limit layers because those answer with bare status codes,
/// and every error must come out in Kombo's envelope.
pub async fn guard(State(guard): State<Guard>, mut request: Request, next: Next) -> Response {
    let limits = &guard.limits;
    let declared = request
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limits.body_limit as u64) {
        return ApiError::PayloadTooLarge(limits.body_limit).into_response();
    }
    let header_bytes: usize = request
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len())
        .sum();
    if header_bytes > limits.header_limit {
        return ApiError::HeadersTooLarge(limits.header_limit).into_response();
    }
    // The permit comes before the key's lookup, so the cap bounds database work too.
    let Ok(_permit) = limits.in_flight.clone().try_acquire_owned() else {
        return ApiError::ConcurrencyLimited.into_response();
    };
    let run = async {
        let charge = match charge(&guard, &mut request).await {
            Ok(charge) => charge,
            Err(e) => return e.into_response(),
        };
        if let Charge::Refused { rate, retry_after_secs } = charge {
            let mut response = ApiError::RateLimited {
                limit: rate,
                retry_after_secs,
            }
            .into_response();
            response.headers_mut().extend(charge.headers());
            return response;
        }
        let mut response = next.run(request).await;
        response.headers_mut().extend(charge.headers());
        response
    };
    match tokio::time::timeout(limits.timeout, run).await {
        Ok(response) => response,
        Err(_) => ApiError::TimedOut(limits.timeout.as_secs()).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::body::Body;
    use axum::http::header::AUTHORIZATION;
    use axum::routing::get;
    use tower::ServiceExt;

    fn app(options: GatewayOptions) -> Router {
        Router::new()
            .route(
                "/slow",
                get(|| async { tokio::time::sleep(Duration::from_secs(60)).await }),
            )
            .layer(axum::middleware::from_fn_with_state(
                Guard::open(Limits::new(&options)),
                guard,
            ))
    }

    async fn code(response: Response) -> (u16, serde_json::Value) {
        let status = response.status().as_u16();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 16).await.unwrap();
        let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        (status, body["error"]["code"].clone())
    }

    #[tokio::test(start_paused = true)]
    async fn slow_requests_time_out_in_the_envelope() {
        let app = app(GatewayOptions {
            request_timeout: Duration::from_secs(2),
            ..GatewayOptions::default()
        });
        let response = app
            .oneshot(Request::get("/slow").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(code(response).await, (504, "PLATFORM.TASK_TIMED_OUT".into()));
    }

    #[tokio::test(start_paused = true)]
    async fn requests_beyond_the_cap_are_shed() {
        let app = app(GatewayOptions {
            max_in_flight: 1,
            ..GatewayOptions::default()
        });
        let first = tokio::spawn(app.clone().oneshot(Request::get("/slow").body(Body::empty()).unwrap()));
        tokio::task::yield_now().await;
        let response = app
            .clone()
            .oneshot(Request::get("/slow").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(response.headers()[RETRY_AFTER], "1");
        assert_eq!(
            code(response).await,
            (429, "PLATFORM.CONCURRENCY_LIMIT_EXCEEDED".into())
        );
        first.abort();
    }

    #[test]
    fn retry_after_is_whole_seconds_and_never_zero() {
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
        assert_eq!(retry_after_secs(Duration::from_nanos(1)), 1);
        assert_eq!(retry_after_secs(Duration::from_secs(1)), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(1001)), 2);
    }

    #[tokio::test]
    async fn each_key_has_its_own_rate_limit_with_headers() {
        // Keys the store does not know are charged under their token.
        let store = tributary_store::SqliteStore::in_memory(tributary_store::CredentialKey::generate())
            .await
            .unwrap();
        tributary_store::Backend::migrate(&store).await.unwrap();
        let app = Router::new()
            .route("/fast", get(|| async {}))
            .layer(axum::middleware::from_fn_with_state(
                Guard::keyed(
                    Limits::new(&GatewayOptions {
                        rate_limit_per_second: Some(1),
                        rate_limit_burst: 2,
                        ..GatewayOptions::default()
                    }),
                    Arc::new(store),
                ),
                guard,
            ));
        let call = |key: &'static str| {
            app.clone().oneshot(
                Request::get("/fast")
                    .header(AUTHORIZATION, key)
                    .body(Body::empty())
                    .unwrap(),
            )
        };
        let first = call("Bearer a").await.unwrap();
        assert_eq!(first.status(), 200);
        assert_eq!(first.headers()["x-ratelimit-limit"], "1");
        assert_eq!(first.headers()["x-ratelimit-remaining"], "1");
        assert_eq!(call("Bearer a").await.unwrap().status(), 200);
        let refused = call("Bearer a").await.unwrap();
        assert!(refused.headers()[RETRY_AFTER].to_str().unwrap().parse::<u64>().unwrap() >= 1);
        assert_eq!(code(refused).await, (429, "PLATFORM.RATE_LIMIT_EXCEEDED".into()));
        // Another key is not affected.
        assert_eq!(call("Bearer b").await.unwrap().status(), 200);
    }

    #[tokio::test]
    async fn oversized_headers_are_refused_in_the_envelope() {
        let app = app(GatewayOptions {
            header_limit: 100,
            ..GatewayOptions::default()
        });
        let request = Request::get("/slow")
            .header("x-big", "y".repeat(200))
            .body(Body::empty())
            .unwrap();
        let response = app.oneshot(request).await.unwrap();
        assert_eq!(code(response).await, (431, "PLATFORM.INPUT_INVALID".into()));
    }

    #[tokio::test]
    async fn declared_oversized_bodies_are_refused() {
        let app = app(GatewayOptions {
            body_limit: 10,
            ..GatewayOptions::default()
        });
        let request = Request::get("/slow")
            .header(CONTENT_LENGTH, "11")
            .body(Body::from("x".repeat(11)))
            .unwrap();
        let response = app.oneshot(request).await.unwrap();
        assert_eq!(code(response).await, (413, "PLATFORM.INPUT_INVALID".into()));
    }
}
