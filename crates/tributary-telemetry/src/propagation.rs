//! W3C trace context (`traceparent`) in and out of spans, with OpenTelemetry's
//! [`TraceContextPropagator`]. A run's context is stored with the run, carried in its job and
//! with its outbox events, so the worker's job span and the webhook deliveries join the trace of
//! the request that queued it.
//!
//! Without the OpenTelemetry layer spans have no context: [`traceparent`] answers `None` and
//! [`adopt`] does nothing.

use std::collections::HashMap;

use opentelemetry::propagation::TextMapPropagator as _;
use opentelemetry_http::HeaderExtractor;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

const TRACEPARENT: &str = "traceparent";

/// The `traceparent` of `span`, when traces are on and it belongs to one.
pub fn traceparent(span: &Span) -> Option<String> {
    let mut carrier = HashMap::new();
    TraceContextPropagator::new().inject_context(&span.context(), &mut carrier);
    carrier.remove(TRACEPARENT)
}

/// Makes `span` a child of the context in `traceparent`. Call it before the span is first
/// entered: its parent is fixed from then on. An unparsable value leaves the span a root.
pub fn adopt(span: &Span, traceparent: &str) {
    let carrier = HashMap::from([(TRACEPARENT.to_owned(), traceparent.to_owned())]);
    let cx = TraceContextPropagator::new().extract(&carrier);
    // Fails only when traces are off (no layer) or the span is filtered out: nothing to join.
    let _ = span.set_parent(cx);
}

/// Makes `span` a child of the caller's trace, if its request carries a `traceparent`.
pub fn adopt_from_headers(span: &Span, headers: &http::HeaderMap) {
    if !headers.contains_key(TRACEPARENT) {
        return;
    }
    let cx = TraceContextPropagator::new().extract(&HeaderExtractor(headers));
    let _ = span.set_parent(cx);
}
