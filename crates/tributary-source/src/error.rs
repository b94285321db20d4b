use std::time::Duration;

/// Why talking to a source tool failed. The engine maps these onto run states:
/// `Auth` → AUTHENTICATION_FAILED, everything else → FAILED (or PARTIALLY_FAILED when other
/// streams succeeded).
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// Credentials were rejected or revoked. Never retried: retrying a revoked key only burns
    /// the tool's rate limit and can lock the account.
    #[error("{endpoint}: authentication failed ({status}): {message}")]
    Auth {
        endpoint: String,
        status: u16,
        message: String,
    },

    /// The tool refused the request for a reason retrying cannot fix (400, 404, 422, ...).
    #[error("{endpoint}: request rejected ({status}): {message}")]
    Rejected {
        endpoint: String,
        status: u16,
        message: String,
    },

    /// A failure that may pass (5xx, 429, timeout, connection reset). Retried by the client;
    /// surfaces only once the retry budget is spent.
    #[error("{endpoint}: {message} (gave up after {attempts} attempts)")]
    Transient {
        endpoint: String,
        message: String,
        attempts: u32,
        retry_after: Option<Duration>,
    },

    /// The body could not be understood: truncated or malformed JSON, a missing required field,
    /// a wrong type, or an HTTP 200 whose body is an error.
    #[error("{endpoint}: malformed response: {detail}")]
    Malformed { endpoint: String, detail: String },

    /// The tool's pagination did not make progress (a repeated cursor, more pages than it said
    /// it had).
    #[error("{endpoint}: pagination broken: {detail}")]
    Pagination { endpoint: String, detail: String },

    /// The configuration for this tool is unusable (a bad base URL, missing credentials).
    #[error("configuration: {0}")]
    Config(String),
}

impl SourceError {
    pub fn malformed(endpoint: impl Into<String>, detail: impl std::fmt::Display) -> Self {
        SourceError::Malformed {
            endpoint: endpoint.into(),
            detail: detail.to_string(),
        }
    }

    pub fn is_auth(&self) -> bool {
        matches!(self, SourceError::Auth { .. })
    }

    /// Whether retrying the same request later may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, SourceError::Transient { .. })
    }
}
