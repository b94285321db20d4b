//! The process's tracing setup, once at start-up ([`init`]), and the W3C trace context that
//! carries one trace across processes and queues ([`propagation`]).
//!
//! Logs go to stdout, as text or as one JSON object per line ([`LogFormat`]). Traces are exported over OTLP/HTTP (protobuf) only when the standard
//! `OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is set; otherwise no
//! OpenTelemetry layer is installed at all, and the propagation helpers find no context and do
//! nothing.

mod error;
mod export;
mod format;
pub mod propagation;
mod setup;

pub use error::TelemetryError;
pub use format::LogFormat;
pub use setup::{Telemetry, init};
