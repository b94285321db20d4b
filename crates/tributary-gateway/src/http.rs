//! The HTTP layers around the routes: request ids, tracing spans, a body limit, and (on the
//! API routes) a concurrency cap and a request timeout that answer in Kombo's envelope.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::header::CONTENT_LENGTH;
use axum::http::{HeaderName, Request as HttpRequest};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::sync::Semaphore;
use tower_http::request_id::RequestId;
use tracing::{Level, Span};

use crate::error::ApiError;
use crate::state::GatewayOptions;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The request's span. Only the path is recorded: query strings carry e-mail addresses and
/// other personal data (`work_emails=...`) that have no place in logs.
pub fn make_span<B>(request: &HttpRequest<B>) -> Span {
    let request_id = request
        .extensions()
        .get::<RequestId>()
        .and_then(|id| id.header_value().to_str().ok())
        .unwrap_or("-");
    tracing::span!(
        Level::INFO,
        "http",
        method = %request.method(),
        path = %request.uri().path(),
        request_id = %request_id,
        integration_id = tracing::field::Empty,
    )
}

#[derive(Debug)]
pub struct Limits {
    in_flight: Arc<Semaphore>,
    timeout: Duration,
    body_limit: usize,
}

impl Limits {
    pub fn new(options: &GatewayOptions) -> Arc<Self> {
        Arc::new(Self {
            in_flight: Arc::new(Semaphore::new(options.max_in_flight.max(1))),
            timeout: options.request_timeout,
            body_limit: options.body_limit,
        })
    }
}

/// Refuses oversized bodies up front, sheds load beyond the in-flight cap, and bounds how long
/// a request may run. Done here rather than with tower-http's timeout and limit layers because
/// those answer with bare status codes, and every error must come out in Kombo's envelope.
pub async fn guard(State(limits): State<Arc<Limits>>, request: Request, next: Next) -> Response {
    let declared = request
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limits.body_limit as u64) {
        return ApiError::PayloadTooLarge(limits.body_limit).into_response();
    }
    let Ok(_permit) = limits.in_flight.clone().try_acquire_owned() else {
        return ApiError::ConcurrencyLimited.into_response();
    };
    match tokio::time::timeout(limits.timeout, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::TimedOut(limits.timeout.as_secs()).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::body::Body;
    use axum::routing::get;
    use tower::ServiceExt;

    fn app(options: GatewayOptions) -> Router {
        Router::new()
            .route(
                "/slow",
                get(|| async { tokio::time::sleep(Duration::from_secs(60)).await }),
            )
            .layer(axum::middleware::from_fn_with_state(Limits::new(&options), guard))
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
        assert_eq!(
            code(response).await,
            (429, "PLATFORM.CONCURRENCY_LIMIT_EXCEEDED".into())
        );
        first.abort();
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
