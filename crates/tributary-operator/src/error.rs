//! Every failure the operator API reports, in the gateway's (Kombo's) error envelope:
//! `{"status":"error","error":{"code","title","message","log_url"}}`. Operators' scripts branch
//! on `code`; the codes of our own (`PLATFORM.SYNC_NOT_FOUND`, `PLATFORM.SYNC_CONFLICT`,
//! `PLATFORM.INTEGRATION_ALREADY_EXISTS`, `PLATFORM.API_KEY_NOT_FOUND`,
//! `PLATFORM.WEBHOOK_ENDPOINT_NOT_FOUND`, `PLATFORM.WEBHOOK_DELIVERY_NOT_FOUND`) follow Kombo's naming
//! (`PLATFORM.INTEGRATION_NOT_FOUND`, `HRIS.EMPLOYEE_ALREADY_EXISTS`).

use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use tributary_gateway::ErrorCode;
use tributary_queue::QueueError;
use tributary_scheduler::SchedulerError;
use tributary_source::SourceError;
use tributary_store::{StoreError, StoreErrorKind};

#[derive(Debug, thiserror::Error)]
pub enum OpsError {
    /// No, a malformed or a wrong admin token.
    #[error("{0}")]
    Unauthenticated(String),
    /// No admin token is configured: the API refuses everyone rather than open up.
    #[error("the operator API is disabled: set TRIBUTARY_ADMIN_TOKEN to enable it")]
    NotConfigured,
    /// A query parameter, path segment or body the caller must fix.
    #[error("{0}")]
    InvalidInput(String),
    #[error("no integration with id `{0}` exists")]
    IntegrationNotFound(String),
    #[error("no sync with id `{0}` exists")]
    SyncNotFound(String),
    #[error("no API key with id `{0}` exists")]
    ApiKeyNotFound(String),
    #[error("no webhook endpoint with id `{0}` exists")]
    WebhookEndpointNotFound(String),
    #[error("no webhook delivery with id `{0}` exists")]
    DeliveryNotFound(String),
    #[error("an integration with id `{0}` already exists")]
    IntegrationExists(String),
    /// The run's state does not allow the action (it has ended, or is not paused).
    #[error("{0}")]
    Conflict(String),
    #[error("method {0} is not allowed here")]
    MethodNotAllowed(String),
    /// This client sent too many wrong admin tokens; it is refused, right token or not, until
    /// the wait is over.
    #[error("too many failed admin-token attempts from this address; retry after {retry_after_secs} s")]
    TooManyFailures { retry_after_secs: u64 },
    /// The mirror database does not answer (the API's pool found no connection in time);
    /// retrying later may help.
    #[error("the data store is unavailable")]
    Unavailable(#[source] StoreError),
    #[error("internal error")]
    Store(#[source] StoreError),
    #[error("internal error")]
    Queue(#[source] QueueError),
    /// The HTTP client a credentials check builds could not be made.
    #[error("internal error")]
    Source(#[source] SourceError),
}

impl OpsError {
    /// The code's status, but where a more precise one tells errors of one code apart.
    pub fn status(&self) -> StatusCode {
        match self {
            OpsError::NotConfigured => StatusCode::FORBIDDEN,
            OpsError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            OpsError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            _ => self.code().status(),
        }
    }

    /// The error code; every error has one (an unknown method is the caller's input, as in
    /// the gateway).
    pub fn code(&self) -> ErrorCode {
        match self {
            OpsError::Unauthenticated(_) | OpsError::NotConfigured => ErrorCode::AuthenticationInvalid,
            OpsError::InvalidInput(_) | OpsError::MethodNotAllowed(_) => ErrorCode::InputInvalid,
            OpsError::TooManyFailures { .. } => ErrorCode::RateLimitExceeded,
            OpsError::IntegrationNotFound(_) => ErrorCode::IntegrationNotFound,
            OpsError::SyncNotFound(_) => ErrorCode::SyncNotFound,
            OpsError::ApiKeyNotFound(_) => ErrorCode::ApiKeyNotFound,
            OpsError::WebhookEndpointNotFound(_) => ErrorCode::WebhookEndpointNotFound,
            OpsError::DeliveryNotFound(_) => ErrorCode::WebhookDeliveryNotFound,
            OpsError::Conflict(_) => ErrorCode::SyncConflict,
            OpsError::IntegrationExists(_) => ErrorCode::IntegrationAlreadyExists,
            OpsError::Unavailable(_) | OpsError::Store(_) | OpsError::Queue(_) | OpsError::Source(_) => {
                ErrorCode::UnknownError
            }
        }
    }

    /// The static label; `message` carries the specifics.
    pub fn title(&self) -> &'static str {
        match self {
            OpsError::Unauthenticated(_) => "The admin token is missing or invalid.",
            OpsError::NotConfigured => "The operator API is disabled.",
            OpsError::InvalidInput(_) => "The request input is invalid.",
            OpsError::IntegrationNotFound(_) => "The integration could not be found.",
            OpsError::SyncNotFound(_) => "The sync could not be found.",
            OpsError::ApiKeyNotFound(_) => "The API key could not be found.",
            OpsError::WebhookEndpointNotFound(_) => "The webhook endpoint could not be found.",
            OpsError::DeliveryNotFound(_) => "The webhook delivery could not be found.",
            OpsError::Conflict(_) => "The sync's state does not allow this action.",
            OpsError::IntegrationExists(_) => "The integration already exists.",
            OpsError::MethodNotAllowed(_) => "Method not allowed.",
            OpsError::TooManyFailures { .. } => "Too many failed authentication attempts.",
            OpsError::Unavailable(_) => "The service is temporarily unavailable.",
            OpsError::Store(_) | OpsError::Queue(_) | OpsError::Source(_) => "An unexpected error occurred.",
        }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        OpsError::InvalidInput(message.into())
    }
}

impl From<StoreError> for OpsError {
    fn from(error: StoreError) -> Self {
        if let StoreError::Invalid(message) = error {
            return OpsError::InvalidInput(message);
        }
        match error.kind() {
            // As the read API: the database not answering in time is a 503 worth retrying,
            // not our bug.
            StoreErrorKind::Unavailable => OpsError::Unavailable(error),
            StoreErrorKind::NotFound
            | StoreErrorKind::Conflict
            | StoreErrorKind::Invalid
            | StoreErrorKind::BadValue
            | StoreErrorKind::StatementTimeout
            | StoreErrorKind::Fenced
            | StoreErrorKind::ScopeChanged
            | StoreErrorKind::Internal => OpsError::Store(error),
        }
    }
}

impl From<QueueError> for OpsError {
    fn from(error: QueueError) -> Self {
        match error {
            QueueError::Store(store) => store.into(),
            other => OpsError::Queue(other),
        }
    }
}

impl From<SchedulerError> for OpsError {
    fn from(error: SchedulerError) -> Self {
        match error {
            SchedulerError::Store(store) => store.into(),
            SchedulerError::Queue(queue) => queue.into(),
        }
    }
}

// axum's own rejections answer in plain text; these put them in the envelope.

impl From<QueryRejection> for OpsError {
    fn from(rejection: QueryRejection) -> Self {
        OpsError::InvalidInput(format!("Invalid query string: {}", rejection.body_text()))
    }
}

impl From<PathRejection> for OpsError {
    fn from(rejection: PathRejection) -> Self {
        OpsError::InvalidInput(format!("Invalid path: {}", rejection.body_text()))
    }
}

impl From<BytesRejection> for OpsError {
    fn from(rejection: BytesRejection) -> Self {
        OpsError::InvalidInput(format!("Unreadable request body: {}", rejection.body_text()))
    }
}

impl IntoResponse for OpsError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            // The envelope says little about internals; the log keeps the cause.
            let cause = std::error::Error::source(&self).map(ToString::to_string);
            tracing::error!(error = %self, cause = cause.as_deref().unwrap_or(""), "operator request failed");
        }
        let mut response = tributary_gateway::error_response(status, self.code(), self.title(), &self.to_string());
        if let OpsError::TooManyFailures { retry_after_secs } = self {
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from(retry_after_secs.max(1)),
            );
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unreachable_database_is_a_503() {
        let error = OpsError::from(StoreError::Database(sqlx::Error::PoolTimedOut));
        assert_eq!(
            (error.status(), error.code()),
            (StatusCode::SERVICE_UNAVAILABLE, ErrorCode::UnknownError)
        );
        let error = OpsError::from(StoreError::no_answer("no connection within 2 s"));
        assert_eq!(error.status(), StatusCode::SERVICE_UNAVAILABLE);
        let error = OpsError::from(StoreError::Database(sqlx::Error::RowNotFound));
        assert_eq!(error.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }
}
