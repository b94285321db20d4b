//! Installing the subscriber: the log layer under the operator's filter, and the
//! OpenTelemetry layer when the environment asks for traces.

use std::sync::{Arc, OnceLock};

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::Dispatch;
use tracing::level_filters::LevelFilter;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::{EnvFilter, Layer as _};

use crate::format::JsonWithTraceIds;
use crate::{LogFormat, TelemetryError, export};

/// The installed setup; [`Telemetry::shutdown`] exports the spans still buffered.
#[must_use = "call `shutdown` before exiting, or buffered spans are lost"]
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Whether spans are exported.
    pub fn tracing(&self) -> bool {
        self.provider.is_some()
    }

    /// Flushes and stops the exporter. Blocks while the last batch is sent (bounded by the
    /// exporter's timeout), so call it once the work is done.
    pub fn shutdown(self) {
        if let Some(provider) = self.provider
            && let Err(e) = provider.shutdown()
        {
            eprintln!("warning: exporting the last spans failed: {e}");
        }
    }
}

/// Installs the process's subscriber: logs filtered by `filter` (an `EnvFilter` directive, as
/// `--log`/`TRIBUTARY_LOG` give it) in `format`, and the OpenTelemetry layer if
/// `OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is set.
///
/// The two layers filter separately: spans are exported from tributary's own crates at INFO
/// whatever the log level (an operator quieting logs to `warn` still gets traces), and
/// without the OpenTelemetry layer nothing but the log filter stands between a span and
/// being skipped, as before.
pub fn init(filter: &str, format: LogFormat) -> Result<Telemetry, TelemetryError> {
    let env_filter = EnvFilter::try_new(filter).map_err(|e| TelemetryError::Filter {
        filter: filter.to_owned(),
        reason: e.to_string(),
    })?;
    let dispatch_cell = Arc::new(OnceLock::new());
    let logs = match format {
        LogFormat::Text => tracing_subscriber::fmt::layer()
            .with_target(false)
            .compact()
            .with_filter(env_filter)
            .boxed(),
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .with_current_span(true)
            .with_span_list(true)
            .event_format(JsonWithTraceIds {
                inner: tracing_subscriber::fmt::format()
                    .json()
                    .with_current_span(true)
                    .with_span_list(true),
                dispatch: dispatch_cell.clone(),
            })
            .with_filter(env_filter)
            .boxed(),
    };
    let provider = if export::requested() {
        Some(export::provider()?)
    } else {
        None
    };
    let traces = provider.as_ref().map(|p| {
        tracing_opentelemetry::layer()
            .with_tracer(p.tracer("tributary"))
            .with_filter(Targets::new().with_target("tributary", LevelFilter::INFO))
    });
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    let dispatch = Dispatch::new(tracing_subscriber::registry().with(logs).with(traces));
    let _ = dispatch_cell.set(dispatch.downgrade());
    tracing::dispatcher::set_global_default(dispatch).map_err(|_| TelemetryError::AlreadyInstalled)?;
    Ok(Telemetry { provider })
}
