/// Mirror failures. Callers branch on [`StoreError::kind`], never on the database driver's
/// errors: the store alone knows which backend answered and what its codes mean. The engine
/// treats `Fenced` as "this run lost its lease".
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0} already exists")]
    Conflict(String),
    #[error("invalid: {0}")]
    Invalid(String),
    /// A newer lease holder exists; the write was rejected (invariant I4).
    #[error("write fenced off: integration {integration_id} is at fence {current}, this run holds {held}")]
    Fenced {
        integration_id: String,
        held: i64,
        current: i64,
    },
    /// The write was prepared under an older scope config than the integration's now (or, for
    /// a complete run, its pass started under one): nothing was written. The engine re-reads
    /// the scope and prepares again (a complete run starts its pass again).
    #[error(
        "scope changed: integration {integration_id} is at scope version {current}, this write was prepared under {prepared}"
    )]
    ScopeChanged {
        integration_id: String,
        prepared: i64,
        current: i64,
    },
    #[error("credentials cannot be decrypted: {0}")]
    Crypto(String),
    /// A stored value the store itself wrote no longer parses (an unknown model name, a
    /// malformed timestamp): the database was edited by hand or by a newer version.
    #[error("corrupt row: {0}")]
    Corrupt(String),
    // The wrapped errors are shown in the message and deliberately not exposed as `source()`:
    // a caller printing the whole chain on one line would otherwise say everything twice.
    #[error("database: {0}")]
    Database(sqlx::Error),
    #[error("migration: {0}")]
    Migrate(sqlx::migrate::MigrateError),
    #[error("serialisation: {0}")]
    Json(serde_json::Error),
}

/// What a [`StoreError`] means for the caller, whichever backend raised it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreErrorKind {
    /// The thing asked for does not exist.
    NotFound,
    /// It exists already, or a concurrent transaction won (unique violation, serialization
    /// failure, deadlock): the request may succeed once repeated or changed.
    Conflict,
    /// The store refused the caller's input before asking the database.
    Invalid,
    /// The database refused a value's form (a character its encoding cannot hold, text that
    /// is no number or time, a value out of range): the caller's input, found late.
    BadValue,
    /// The database does not answer right now (no connection in time, connection refused or
    /// lost, the server shutting down, SQLite's file locked or unreadable): retrying later
    /// may help.
    Unavailable,
    /// The database cancelled the statement at its `statement_timeout`.
    StatementTimeout,
    /// A newer lease holder exists (invariant I4).
    Fenced,
    /// The scope changed under a write.
    ScopeChanged,
    /// Anything else: a defect, a corrupt row, an undecryptable credential.
    Internal,
}

impl StoreError {
    /// A database that gave no answer within `detail`'s bound, for callers that time a store
    /// call themselves (a readiness probe).
    pub fn no_answer(detail: impl Into<String>) -> Self {
        StoreError::Database(sqlx::Error::Io(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            detail.into(),
        )))
    }

    pub fn kind(&self) -> StoreErrorKind {
        match self {
            StoreError::NotFound(_) => StoreErrorKind::NotFound,
            StoreError::Conflict(_) => StoreErrorKind::Conflict,
            StoreError::Invalid(_) => StoreErrorKind::Invalid,
            StoreError::Fenced { .. } => StoreErrorKind::Fenced,
            StoreError::ScopeChanged { .. } => StoreErrorKind::ScopeChanged,
            StoreError::Crypto(_) | StoreError::Corrupt(_) | StoreError::Migrate(_) | StoreError::Json(_) => {
                StoreErrorKind::Internal
            }
            StoreError::Database(error) => database_kind(error),
        }
    }

    /// The database's own message for an error it raised (not the driver's), e.g. which
    /// value it refused.
    pub fn database_message(&self) -> Option<&str> {
        match self {
            StoreError::Database(sqlx::Error::Database(db)) => Some(db.message()),
            _ => None,
        }
    }
}

fn database_kind(error: &sqlx::Error) -> StoreErrorKind {
    match error {
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) | sqlx::Error::WorkerCrashed => {
            StoreErrorKind::Unavailable
        }
        sqlx::Error::Database(db) => {
            let code = db.code();
            let code = code.as_deref().unwrap_or_default();
            let kind = if db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>().is_some() {
                postgres_kind(code)
            } else if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
                code.parse().ok().and_then(sqlite_kind)
            } else {
                None
            };
            kind.unwrap_or(StoreErrorKind::Internal)
        }
        _ => StoreErrorKind::Internal,
    }
}

/// Postgres SQLSTATEs (<https://www.postgresql.org/docs/current/errcodes-appendix.html>).
fn postgres_kind(sqlstate: &str) -> Option<StoreErrorKind> {
    Some(match sqlstate {
        // query_canceled: the statement_timeout fired (the store cancels nothing itself).
        "57014" => StoreErrorKind::StatementTimeout,
        // admin_shutdown, crash_shutdown, cannot_connect_now (starting up or in recovery),
        // too_many_connections, and the whole connection_exception class.
        "57P01" | "57P02" | "57P03" | "53300" => StoreErrorKind::Unavailable,
        s if s.starts_with("08") => StoreErrorKind::Unavailable,
        // character_not_in_repertoire, untranslatable_character, invalid_text_representation,
        // invalid_datetime_format, datetime_field_overflow.
        "22021" | "22P05" | "22P02" | "22007" | "22008" => StoreErrorKind::BadValue,
        // unique_violation, serialization_failure, deadlock_detected.
        "23505" | "40001" | "40P01" => StoreErrorKind::Conflict,
        _ => return None,
    })
}

/// SQLite result codes, extended ones included (<https://www.sqlite.org/rescode.html>): the
/// primary code is the low byte.
fn sqlite_kind(code: i32) -> Option<StoreErrorKind> {
    const BUSY: i32 = 5;
    const IOERR: i32 = 10;
    const CANTOPEN: i32 = 14;
    const TOOBIG: i32 = 18;
    const MISMATCH: i32 = 20;
    const CONSTRAINT_PRIMARYKEY: i32 = 1555;
    const CONSTRAINT_UNIQUE: i32 = 2067;
    Some(match (code, code & 0xff) {
        (CONSTRAINT_PRIMARYKEY | CONSTRAINT_UNIQUE, _) => StoreErrorKind::Conflict,
        // Locked by another connection past the busy timeout, or the file not there to read.
        (_, BUSY | IOERR | CANTOPEN) => StoreErrorKind::Unavailable,
        (_, TOOBIG | MISMATCH) => StoreErrorKind::BadValue,
        _ => return None,
    })
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        StoreError::Database(e)
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        StoreError::Migrate(e)
    }
}

impl From<serde_json::Error> for StoreError {
    fn from(e: serde_json::Error) -> Self {
        StoreError::Json(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_sqlstates() {
        use StoreErrorKind::*;
        for (code, kind) in [
            ("57014", Some(StatementTimeout)),
            ("57P01", Some(Unavailable)),
            ("57P02", Some(Unavailable)),
            ("57P03", Some(Unavailable)),
            ("53300", Some(Unavailable)),
            ("08006", Some(Unavailable)),
            ("08001", Some(Unavailable)),
            ("22021", Some(BadValue)),
            ("22P05", Some(BadValue)),
            ("22P02", Some(BadValue)),
            ("22007", Some(BadValue)),
            ("22008", Some(BadValue)),
            ("23505", Some(Conflict)),
            ("40001", Some(Conflict)),
            ("40P01", Some(Conflict)),
            // foreign_key_violation and syntax_error are the store's own doing.
            ("23503", None),
            ("42601", None),
        ] {
            assert_eq!(postgres_kind(code), kind, "{code}");
        }
    }

    #[test]
    fn sqlite_codes() {
        use StoreErrorKind::*;
        for (code, kind) in [
            (2067, Some(Conflict)),
            (1555, Some(Conflict)),
            (5, Some(Unavailable)),
            (517, Some(Unavailable)),
            (10, Some(Unavailable)),
            (266, Some(Unavailable)),
            (14, Some(Unavailable)),
            (18, Some(BadValue)),
            (20, Some(BadValue)),
            // SQLITE_CONSTRAINT_FOREIGNKEY, SQLITE_ERROR.
            (787, None),
            (1, None),
        ] {
            assert_eq!(sqlite_kind(code), kind, "{code}");
        }
    }

    #[test]
    fn driver_failures() {
        for error in [
            sqlx::Error::PoolTimedOut,
            sqlx::Error::PoolClosed,
            sqlx::Error::WorkerCrashed,
        ] {
            assert_eq!(StoreError::Database(error).kind(), StoreErrorKind::Unavailable);
        }
        assert_eq!(StoreError::no_answer("ping").kind(), StoreErrorKind::Unavailable);
        assert_eq!(
            StoreError::Database(sqlx::Error::Protocol("unexpected".into())).kind(),
            StoreErrorKind::Internal
        );
        assert_eq!(StoreError::Invalid("x".into()).kind(), StoreErrorKind::Invalid);
        assert_eq!(StoreError::database_message(&StoreError::no_answer("ping")), None);
    }
}
