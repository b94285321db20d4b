//! The OTLP/HTTP trace exporter, configured by the standard OpenTelemetry environment.

use opentelemetry::{Key, Value};
use opentelemetry_otlp::{Protocol, SpanExporter, WithExportConfig as _};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;

use crate::TelemetryError;

/// What the process calls itself when neither `OTEL_SERVICE_NAME` nor `service.name` in
/// `OTEL_RESOURCE_ATTRIBUTES` says otherwise (the SDK's own fallback is `unknown_service`).
const SERVICE_NAME: &str = "tributary";

/// Whether the environment asks for traces: an OTLP endpoint for all signals or for traces.
pub(crate) fn requested() -> bool {
    ["OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"]
        .iter()
        .any(|k| std::env::var_os(k).is_some_and(|v| !v.is_empty()))
}

/// A tracer provider exporting in batches to the endpoint the environment names. The exporter
/// reads the endpoint (`…/v1/traces` appended to the generic one, the traces one as given),
/// headers and timeout from the `OTEL_EXPORTER_OTLP_*` variables itself.
///
/// Its HTTP client is reqwest's blocking one (our reqwest 0.13): the batch processor exports
/// from a thread of its own, outside any async runtime, where the async client cannot run.
pub(crate) fn provider() -> Result<SdkTracerProvider, TelemetryError> {
    let exporter = SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .build()
        .map_err(|e| TelemetryError::Exporter(e.to_string()))?;
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource())
        .build())
}

/// `OTEL_SERVICE_NAME` and `OTEL_RESOURCE_ATTRIBUTES` (the SDK's detectors), named
/// [`SERVICE_NAME`] when they give no name.
fn resource() -> Resource {
    let detected = Resource::builder().build();
    let unnamed = detected
        .get(&Key::from_static_str("service.name"))
        .is_none_or(|name| name == Value::from("unknown_service"));
    if unnamed {
        Resource::builder().with_service_name(SERVICE_NAME).build()
    } else {
        detected
    }
}
