//! The embedded mirror on SQLite (one file, WAL journal).
//!
//! SQLite has one writer at a time; every mirror write opens its transaction with
//! `BEGIN IMMEDIATE`, which takes that write lock up front (a deferred `BEGIN` that reads
//! first could not later upgrade to a writer once another connection committed; see
//! <https://www.sqlite.org/lang_transaction.html> and <https://www.sqlite.org/isolation.html>).
//! That lock plays the part of the Postgres advisory lock: writes are serialised, and each
//! write takes its timestamp after acquiring it.
//!
//! Reads are the subtle part of invariant I3. A WAL reader never waits: it reads the snapshot
//! of the last commit. That alone is NOT gap-free — a reader that starts while a page is
//! being written misses that page, yet the page's `updated_at` (taken when its writer got the
//! lock) is earlier than the reader's start, so the consumer's next `updated_after` would skip
//! it. Gateway reads therefore also open with `BEGIN IMMEDIATE`: they wait for an in-flight
//! writer exactly as Postgres readers wait on the shared advisory lock, then read a snapshot
//! that contains it. Reads are short, so serialising them costs the embedded mode little, and
//! unlike an in-process lock it holds across processes sharing the file.

pub(crate) mod pages;

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use crate::{CredentialKey, StoreError, WriteOutcome};

/// How long a transaction waits for SQLite's write lock before failing: long enough to sit out
/// a large deletion sweep.
const BUSY_TIMEOUT: Duration = Duration::from_secs(60);

/// Makes the database file (and its `-wal`/`-shm` files, if any) readable by its owner only,
/// creating it empty if missing, whatever the process's umask: it holds sealed credentials,
/// personal data and API key digests. SQLite creates the WAL and shared-memory files with the
/// database file's permissions, so they follow (see `robust_open` and `findCreateFileMode` in
/// SQLite's `os_unix.c`).
fn owner_only(path: &Path) -> Result<(), StoreError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        let io = |e: std::io::Error| StoreError::Database(sqlx::Error::Io(e));
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(path)
            .map_err(io)?;
        for suffix in ["", "-wal", "-shm"] {
            let mut file = path.as_os_str().to_owned();
            file.push(suffix);
            match std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)) {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                other => other.map_err(io)?,
            }
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// The SQLite mirror. Cheap to clone.
#[derive(Clone)]
pub struct SqliteStore {
    pub(crate) pool: SqlitePool,
    pub(crate) key: Arc<CredentialKey>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database file at `path`. Call [`crate::Backend::migrate`]
    /// before first use.
    pub async fn open(path: &Path, key: CredentialKey) -> Result<Self, StoreError> {
        owner_only(path)?;
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // NORMAL is durable in WAL mode except for the last commits on power loss, which a
            // mirror recovers by re-syncing.
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT);
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await?;
        Ok(Self {
            pool,
            key: Arc::new(key),
        })
    }

    /// A private in-memory database, for tests. One connection that is never recycled: every
    /// connection to `:memory:` would otherwise get its own, empty database.
    pub async fn in_memory(key: CredentialKey) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str("sqlite::memory:")?.foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .min_connections(1)
            .max_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options)
            .await?;
        Ok(Self {
            pool,
            key: Arc::new(key),
        })
    }

    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }
}

/// After a page write: nothing (only Postgres refreshes its planner statistics after a bulk
/// load).
pub(crate) fn page_written(_store: &SqliteStore, _outcome: &WriteOutcome) {}

/// SQLite has no notification: the deliverer polls.
pub(crate) async fn outbox_listener(_pool: &SqlitePool) -> Result<Option<Box<dyn crate::OutboxListener>>, StoreError> {
    Ok(None)
}
