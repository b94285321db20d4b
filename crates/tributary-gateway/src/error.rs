//! Every failure the gateway reports, in Kombo's error envelope:
//! `{"status":"error","error":{"code","title","message","log_url"}}` with `code` one of the
//! codes of `components.responses.ErrorResponseGeneral`/`ErrorResponseHRIS` in Kombo's OpenAPI
//! document. Kombo asks clients to branch on `code`, not on the HTTP status
//! (https://docs.kombo.dev/guides/errors), so the statuses here follow HTTP conventions.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use tributary_model::{Model, ToolKind};
use tributary_store::{StoreError, StoreErrorKind};

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No, a malformed, an unknown or a revoked API key.
    #[error("{0}")]
    Unauthenticated(String),
    /// An inbound webhook without the tool's proof, with a forged one, or a replayed one.
    #[error("{0}")]
    SignatureInvalid(String),
    /// The integration does not exist or belongs to another environment; the two are not
    /// told apart so a key cannot probe other environments.
    #[error("no integration with id `{0}` exists in this environment")]
    IntegrationNotFound(String),
    /// A query parameter, header or cursor the caller must fix.
    #[error("{0}")]
    InvalidInput(String),
    /// The integration's scope config disables the model.
    #[error("the `{}` model is disabled in this integration's scope config", .0.scope_id())]
    ModelDisabled(Model),
    /// The integration's tool does not have this model (an ATS asked for employees).
    #[error("{} integrations have no `{}` data; this endpoint serves {} integrations", .tool.label(), .model.scope_id(), .model.category().label())]
    ModelNotAvailable { model: Model, tool: ToolKind },
    /// The caller's API key used up its request budget.
    #[error("rate limit of {limit} requests per second exceeded; retry after {retry_after_secs} s")]
    RateLimited { limit: u32, retry_after_secs: u64 },
    /// A sync could not be queued (no fleet behind this gateway, or the queue is down).
    #[error("{0}")]
    SyncUnavailable(String),
    #[error("no route for {0}")]
    RouteNotFound(String),
    #[error("method {0} is not allowed here")]
    MethodNotAllowed(String),
    #[error("request body exceeds {0} bytes")]
    PayloadTooLarge(usize),
    #[error("request headers exceed {0} bytes")]
    HeadersTooLarge(usize),
    /// Too many requests in flight on this gateway instance.
    #[error("too many concurrent requests; retry shortly")]
    ConcurrencyLimited,
    #[error("the request did not finish within {0} seconds")]
    TimedOut(u64),
    /// The database cancelled the read at the gateway's per-request statement timeout
    /// (`--read-statement-timeout-secs`).
    #[error(
        "the database did not finish this read within the gateway's statement timeout; narrow the filters or retry"
    )]
    StatementTimedOut(#[source] StoreError),
    /// The mirror database does not answer; retrying later may help.
    #[error("the data store is unavailable")]
    Unavailable(#[source] StoreError),
    #[error("internal error")]
    Internal(#[source] StoreError),
}

impl ApiError {
    /// The code's status, but for the few errors a more precise HTTP status tells apart.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::RouteNotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::HeadersTooLarge(_) => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            ApiError::SyncUnavailable(_) | ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            _ => self.code().status(),
        }
    }

    /// Kombo's error code; every error has one. Kombo's document has no code for an unknown
    /// route or method, so those say `PLATFORM.INPUT_INVALID` (the path or method is the
    /// caller's input) with HTTP 404/405 telling them apart.
    pub fn code(&self) -> ErrorCode {
        match self {
            ApiError::Unauthenticated(_) | ApiError::SignatureInvalid(_) => ErrorCode::AuthenticationInvalid,
            ApiError::IntegrationNotFound(_) => ErrorCode::IntegrationNotFound,
            ApiError::InvalidInput(_)
            | ApiError::PayloadTooLarge(_)
            | ApiError::HeadersTooLarge(_)
            | ApiError::RouteNotFound(_)
            | ApiError::MethodNotAllowed(_) => ErrorCode::InputInvalid,
            ApiError::ModelDisabled(_) => ErrorCode::ModelDisabled,
            ApiError::ModelNotAvailable { .. } => ErrorCode::ModelNotAvailable,
            ApiError::RateLimited { .. } => ErrorCode::RateLimitExceeded,
            ApiError::SyncUnavailable(_) => ErrorCode::UnknownError,
            ApiError::ConcurrencyLimited => ErrorCode::ConcurrencyLimitExceeded,
            ApiError::TimedOut(_) | ApiError::StatementTimedOut(_) => ErrorCode::TaskTimedOut,
            ApiError::Unavailable(_) | ApiError::Internal(_) => ErrorCode::UnknownError,
        }
    }

    /// The static label; `message` carries the specifics.
    pub fn title(&self) -> &'static str {
        match self {
            ApiError::Unauthenticated(_) => "The API key is missing or invalid.",
            ApiError::SignatureInvalid(_) => "The webhook signature is missing or invalid.",
            ApiError::IntegrationNotFound(_) => "The integration could not be found.",
            ApiError::InvalidInput(_) => "The request input is invalid.",
            ApiError::ModelDisabled(_) => "This data model is disabled for the selected integration.",
            ApiError::ModelNotAvailable { .. } => "This data model is not available for the selected integration.",
            ApiError::RateLimited { .. } => "Rate limit exceeded.",
            ApiError::SyncUnavailable(_) => "The sync could not be queued.",
            ApiError::RouteNotFound(_) => "Not found.",
            ApiError::MethodNotAllowed(_) => "Method not allowed.",
            ApiError::PayloadTooLarge(_) => "The request body is too large.",
            ApiError::HeadersTooLarge(_) => "The request headers are too large.",
            ApiError::ConcurrencyLimited => "Too many concurrent requests.",
            ApiError::TimedOut(_) | ApiError::StatementTimedOut(_) => "The request timed out.",
            ApiError::Unavailable(_) => "The service is temporarily unavailable.",
            ApiError::Internal(_) => "An unexpected error occurred.",
        }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        ApiError::InvalidInput(message.into())
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        if let StoreError::Invalid(message) = error {
            return ApiError::InvalidInput(message);
        }
        match error.kind() {
            StoreErrorKind::Unavailable => ApiError::Unavailable(error),
            StoreErrorKind::StatementTimeout => ApiError::StatementTimedOut(error),
            // Backstop for input the checks above the store missed: the database refusing a
            // character or a value's form is the caller's input, not our failure.
            StoreErrorKind::BadValue => ApiError::InvalidInput(format!(
                "The request contains a value the mirror cannot compare: {}",
                error.database_message().unwrap_or_default()
            )),
            StoreErrorKind::NotFound
            | StoreErrorKind::Conflict
            | StoreErrorKind::Invalid
            | StoreErrorKind::Fenced
            | StoreErrorKind::ScopeChanged
            | StoreErrorKind::Internal => ApiError::Internal(error),
        }
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        ApiError::InvalidInput(format!("Invalid query string: {}", rejection.body_text()))
    }
}

/// The error codes of the read API and the operator API. Kombo's come from
/// `components.responses.ErrorResponseGeneral`/`ErrorResponseHRIS` of its OpenAPI document;
/// the operator API's own follow Kombo's naming (`PLATFORM.INTEGRATION_NOT_FOUND`,
/// `HRIS.EMPLOYEE_ALREADY_EXISTS`). Defined here, beside the envelope, because the operator
/// crate already builds on the gateway's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    AuthenticationInvalid,
    IntegrationNotFound,
    InputInvalid,
    ModelDisabled,
    ModelNotAvailable,
    RateLimitExceeded,
    ConcurrencyLimitExceeded,
    TaskTimedOut,
    UnknownError,
    // The operator API's own.
    SyncNotFound,
    SyncConflict,
    IntegrationAlreadyExists,
    ApiKeyNotFound,
    WebhookEndpointNotFound,
    WebhookDeliveryNotFound,
}

impl ErrorCode {
    pub const ALL: [ErrorCode; 15] = [
        ErrorCode::AuthenticationInvalid,
        ErrorCode::IntegrationNotFound,
        ErrorCode::InputInvalid,
        ErrorCode::ModelDisabled,
        ErrorCode::ModelNotAvailable,
        ErrorCode::RateLimitExceeded,
        ErrorCode::ConcurrencyLimitExceeded,
        ErrorCode::TaskTimedOut,
        ErrorCode::UnknownError,
        ErrorCode::SyncNotFound,
        ErrorCode::SyncConflict,
        ErrorCode::IntegrationAlreadyExists,
        ErrorCode::ApiKeyNotFound,
        ErrorCode::WebhookEndpointNotFound,
        ErrorCode::WebhookDeliveryNotFound,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::AuthenticationInvalid => "PLATFORM.AUTHENTICATION_INVALID",
            ErrorCode::IntegrationNotFound => "PLATFORM.INTEGRATION_NOT_FOUND",
            ErrorCode::InputInvalid => "PLATFORM.INPUT_INVALID",
            ErrorCode::ModelDisabled => "INTEGRATION.MODEL_DISABLED",
            ErrorCode::ModelNotAvailable => "INTEGRATION.MODEL_NOT_AVAILABLE",
            ErrorCode::RateLimitExceeded => "PLATFORM.RATE_LIMIT_EXCEEDED",
            ErrorCode::ConcurrencyLimitExceeded => "PLATFORM.CONCURRENCY_LIMIT_EXCEEDED",
            ErrorCode::TaskTimedOut => "PLATFORM.TASK_TIMED_OUT",
            ErrorCode::UnknownError => "PLATFORM.UNKNOWN_ERROR",
            ErrorCode::SyncNotFound => "PLATFORM.SYNC_NOT_FOUND",
            ErrorCode::SyncConflict => "PLATFORM.SYNC_CONFLICT",
            ErrorCode::IntegrationAlreadyExists => "PLATFORM.INTEGRATION_ALREADY_EXISTS",
            ErrorCode::ApiKeyNotFound => "PLATFORM.API_KEY_NOT_FOUND",
            ErrorCode::WebhookEndpointNotFound => "PLATFORM.WEBHOOK_ENDPOINT_NOT_FOUND",
            ErrorCode::WebhookDeliveryNotFound => "PLATFORM.WEBHOOK_DELIVERY_NOT_FOUND",
        }
    }

    /// The HTTP status the code answers with, unless an error names a more precise one (an
    /// unknown route is `PLATFORM.INPUT_INVALID` with 404, a database that does not answer
    /// `PLATFORM.UNKNOWN_ERROR` with 503).
    pub fn status(self) -> StatusCode {
        match self {
            ErrorCode::AuthenticationInvalid => StatusCode::UNAUTHORIZED,
            ErrorCode::InputInvalid => StatusCode::BAD_REQUEST,
            ErrorCode::ModelDisabled | ErrorCode::ModelNotAvailable => StatusCode::FORBIDDEN,
            ErrorCode::IntegrationNotFound
            | ErrorCode::SyncNotFound
            | ErrorCode::ApiKeyNotFound
            | ErrorCode::WebhookEndpointNotFound
            | ErrorCode::WebhookDeliveryNotFound => StatusCode::NOT_FOUND,
            ErrorCode::SyncConflict | ErrorCode::IntegrationAlreadyExists => StatusCode::CONFLICT,
            ErrorCode::RateLimitExceeded | ErrorCode::ConcurrencyLimitExceeded => StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::TaskTimedOut => StatusCode::GATEWAY_TIMEOUT,
            ErrorCode::UnknownError => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Serialize)]
struct Envelope<'a> {
    status: &'static str,
    error: Body<'a>,
}

#[derive(Serialize)]
struct Body<'a> {
    code: Option<&'static str>,
    title: Option<&'static str>,
    message: &'a str,
    /// Kombo links its dashboard's log page here; the mirror has no such page.
    log_url: Option<&'a str>,
}

/// Kombo's error envelope with `status`, for every API of ours that speaks it (the read API
/// and the operator API).
pub fn error_response(status: StatusCode, code: ErrorCode, title: &'static str, message: &str) -> Response {
    let body = Envelope {
        status: "error",
        error: Body {
            code: Some(code.as_str()),
            title: Some(title),
            message,
            log_url: None,
        },
    };
    (status, Json(body)).into_response()
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() && !matches!(self, ApiError::StatementTimedOut(_)) {
            // The envelope deliberately says little about internals; the log keeps the cause.
            let cause = std::error::Error::source(&self).map(ToString::to_string);
            tracing::error!(error = %self, cause = cause.as_deref().unwrap_or(""), "request failed");
        }
        if let ApiError::StatementTimedOut(_) = self {
            // The caller's own query was too heavy: worth a line, not an error report.
            tracing::warn!("read cancelled at the statement timeout");
        }
        let mut response = error_response(status, self.code(), self.title(), &self.to_string());
        if let ApiError::ConcurrencyLimited = self {
            // A slot frees as soon as any request ends; one second is the least `Retry-After`
            // can say (never 0).
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, axum::http::HeaderValue::from(1));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn renders_kombos_envelope() {
        let response = ApiError::invalid("page_size must be between 1 and 250").into_response();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 16).await.unwrap();
        let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"status": "error", "error": {
                "code": "PLATFORM.INPUT_INVALID",
                "title": "The request input is invalid.",
                "message": "page_size must be between 1 and 250",
                "log_url": null,
            }})
        );
    }

    #[test]
    fn codes_are_distinct_and_name_their_space() {
        let names: std::collections::HashSet<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(names.len(), ErrorCode::ALL.len());
        assert!(
            names
                .iter()
                .all(|n| n.starts_with("PLATFORM.") || n.starts_with("INTEGRATION."))
        );
        assert_eq!(ErrorCode::InputInvalid.status(), StatusCode::BAD_REQUEST);
        assert_eq!(ErrorCode::UnknownError.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[test]
    fn store_failures_by_their_kind() {
        let unavailable = ApiError::from(StoreError::no_answer("ping"));
        assert_eq!(
            (unavailable.status(), unavailable.code()),
            (StatusCode::SERVICE_UNAVAILABLE, ErrorCode::UnknownError)
        );
        let invalid = ApiError::from(StoreError::Invalid("a cursor of another query".into()));
        assert_eq!(invalid.to_string(), "a cursor of another query");
        assert_eq!(invalid.status(), StatusCode::BAD_REQUEST);
        let corrupt = ApiError::from(StoreError::Corrupt("a model named `robots`".into()));
        assert_eq!(corrupt.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }
}
