/// Mirror failures. The gateway maps `NotFound` to 404, `Conflict` to 409, `Invalid` to 400 and
/// everything else to 500/503; the engine treats `Fenced` as "this run lost its lease".
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
