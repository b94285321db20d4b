//! What the engine does about a failure, kept apart from where the failure happens.
//!
//! Two steps, as Vector separates its `RetryLogic` (what an error is) from the retry policy
//! (what to do about it): [`Failure::of`] says what a source error is, and
//! [`on_page_error`] / [`on_run_error`] map it, with what the run knows (can the fleet retry
//! it later, was its lease lost), to an action. The listing loop and `execute` only carry the
//! actions out.

use tributary_source::SourceError;
use tributary_store::StoreError;

use crate::EngineError;

/// What a source error is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Failure {
    /// The tool refused the integration's credentials: nothing else of the run can succeed.
    Auth,
    /// The tool stayed unavailable through the client's whole retry budget (5xx, 429,
    /// timeouts): it may answer later.
    Unavailable,
    /// Something about this request or its answer (rejected, malformed, endless pagination, a
    /// configuration the request could not be made with): other streams may still succeed.
    Request,
}

impl Failure {
    pub(crate) fn of(error: &SourceError) -> Self {
        match error {
            SourceError::Auth { .. } => Failure::Auth,
            SourceError::Transient { .. } => Failure::Unavailable,
            SourceError::Rejected { .. }
            | SourceError::Malformed { .. }
            | SourceError::Pagination { .. }
            | SourceError::Config(_) => Failure::Request,
        }
    }
}

/// What the listing pass does when a stream's page could not be fetched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PageAction {
    /// End the whole run with the error (AUTHENTICATION_FAILED for refused credentials).
    FailRun,
    /// Pause the run for a retry later; every stream resumes from its last committed page.
    PauseForRetry,
    /// Mark the stream failed and stop listing: the other streams would only spend their
    /// retry budget the same way. A later run starts again.
    FailStreamAndStop,
    /// Mark the stream failed and go on with the others; the run cannot sweep deletions.
    FailStream,
}

/// `retry_later`: the run's owner (the fleet) retries a paused run at a set time; the embedded
/// path has no one to, so the run ends instead.
pub(crate) fn on_page_error(failure: Failure, retry_later: bool) -> PageAction {
    match failure {
        Failure::Auth => PageAction::FailRun,
        Failure::Unavailable if retry_later => PageAction::PauseForRetry,
        Failure::Unavailable => PageAction::FailStreamAndStop,
        Failure::Request => PageAction::FailStream,
    }
}

/// What `execute` does when a pass over the streams ended in an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RunAction {
    /// The scope changed under a write: re-read it and run the pass again.
    Rescope { prepared: i64, current: i64 },
    /// Someone else owns the integration now; any write of ours would be rejected, so leave
    /// the run to the new owner.
    LeaseLost,
    /// A source failure that stopped the run as a whole: end it as FAILED or
    /// AUTHENTICATION_FAILED.
    Finish,
    /// Anything else (the store failing) is the caller's to retry or report.
    Propagate,
}

/// `lost`: the lease was lost while the pass ran.
pub(crate) fn on_run_error(error: &EngineError, lost: bool) -> RunAction {
    match error {
        EngineError::Store(StoreError::ScopeChanged { prepared, current, .. }) => RunAction::Rescope {
            prepared: *prepared,
            current: *current,
        },
        _ if lost => RunAction::LeaseLost,
        EngineError::Store(StoreError::Fenced { .. }) => RunAction::LeaseLost,
        EngineError::Source(_) => RunAction::Finish,
        EngineError::Store(_)
        | EngineError::IntegrationNotFound(_)
        | EngineError::Busy(_)
        | EngineError::LeaseLost(_) => RunAction::Propagate,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transient() -> SourceError {
        SourceError::Transient {
            endpoint: "/employees".into(),
            message: "503".into(),
            attempts: 5,
            retry_after: None,
        }
    }

    fn errors() -> Vec<(SourceError, Failure)> {
        vec![
            (
                SourceError::Auth {
                    endpoint: "/employees".into(),
                    status: 401,
                    message: "revoked".into(),
                },
                Failure::Auth,
            ),
            (transient(), Failure::Unavailable),
            (
                SourceError::Rejected {
                    endpoint: "/employees".into(),
                    status: 422,
                    message: "bad filter".into(),
                },
                Failure::Request,
            ),
            (SourceError::malformed("/employees", "truncated"), Failure::Request),
            (
                SourceError::Pagination {
                    endpoint: "/employees".into(),
                    detail: "cursor repeated".into(),
                },
                Failure::Request,
            ),
            (SourceError::Config("no base URL".into()), Failure::Request),
        ]
    }

    #[test]
    fn what_a_source_error_is() {
        for (error, failure) in errors() {
            assert_eq!(Failure::of(&error), failure, "{error}");
            // The classes agree with the error's own predicates the client retries by.
            assert_eq!(failure == Failure::Auth, error.is_auth(), "{error}");
            assert_eq!(failure == Failure::Unavailable, error.is_retryable(), "{error}");
        }
    }

    #[test]
    fn what_a_failed_page_does() {
        for retry_later in [true, false] {
            assert_eq!(on_page_error(Failure::Auth, retry_later), PageAction::FailRun);
            assert_eq!(on_page_error(Failure::Request, retry_later), PageAction::FailStream);
        }
        assert_eq!(on_page_error(Failure::Unavailable, true), PageAction::PauseForRetry);
        assert_eq!(
            on_page_error(Failure::Unavailable, false),
            PageAction::FailStreamAndStop
        );
    }

    #[test]
    fn what_a_failed_pass_does() {
        let scope = || {
            EngineError::Store(StoreError::ScopeChanged {
                integration_id: "i".into(),
                prepared: 1,
                current: 2,
            })
        };
        let fenced = || {
            EngineError::Store(StoreError::Fenced {
                integration_id: "i".into(),
                held: 1,
                current: 2,
            })
        };
        let rescope = RunAction::Rescope {
            prepared: 1,
            current: 2,
        };
        // A changed scope is redone even when the lease went meanwhile: the next write is
        // fenced off and ends the run then.
        assert_eq!(on_run_error(&scope(), false), rescope);
        assert_eq!(on_run_error(&scope(), true), rescope);
        assert_eq!(on_run_error(&fenced(), false), RunAction::LeaseLost);
        assert_eq!(
            on_run_error(&EngineError::Source(transient()), false),
            RunAction::Finish
        );
        assert_eq!(
            on_run_error(&EngineError::Source(transient()), true),
            RunAction::LeaseLost
        );
        let store = || EngineError::Store(StoreError::NotFound("run r".into()));
        assert_eq!(on_run_error(&store(), false), RunAction::Propagate);
        assert_eq!(on_run_error(&store(), true), RunAction::LeaseLost);
    }
}
