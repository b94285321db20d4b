/// Why the tracing setup was refused; each is one line for the operator (the binary exits 2).
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error("--log `{filter}` is not a valid log filter: {reason}")]
    Filter { filter: String, reason: String },
    #[error("--log-format `{0}` is not one of: text, json")]
    Format(String),
    #[error("the OTLP trace exporter cannot start: {0}")]
    Exporter(String),
    #[error("a tracing subscriber is installed already")]
    AlreadyInstalled,
}
