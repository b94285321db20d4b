//! Requests by route template and status (names: `tributary-metrics`).

use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use tributary_metrics::catalogue::{HTTP_REQUEST_DURATION, HTTP_REQUESTS};

/// Labels each request by the route it matched (`/v1/hris/employees/{id}`), never its raw
/// path: ids and probes of random paths must not create series. Unmatched requests (the 404
/// fallback) share the `unmatched` route.
pub async fn track(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = request.method().as_str().to_owned();
    let started = Instant::now();
    let response = next.run(request).await;
    let took = started.elapsed().as_secs_f64();
    let status = response.status().as_u16().to_string();
    metrics::counter!(HTTP_REQUESTS, "route" => route.clone(), "method" => method.clone(), "status" => status)
        .increment(1);
    metrics::histogram!(HTTP_REQUEST_DURATION, "route" => route, "method" => method).record(took);
    response
}
