//! The production mirror on Postgres.
//!
//! Writes of one integration are serialised by a transaction-scoped advisory lock
//! (`pg_advisory_xact_lock`), and gateway reads take the same lock in shared mode
//! (`pg_advisory_xact_lock_shared`), so a read waits for an in-flight page and then sees its
//! commit. Because a writer takes its timestamp only once it holds the lock, every row a reader
//! has not yet seen carries an `updated_at` later than the reader's start: `updated_after` is
//! gap-free (invariant I3). See
//! <https://www.postgresql.org/docs/current/functions-admin.html#FUNCTIONS-ADVISORY-LOCKS>:
//! xact locks are released at transaction end and cannot be released early, so no code path
//! can forget to unlock.

mod nodelay;
mod outbox_signal;
pub(crate) mod pages;
mod stats;

use std::sync::Arc;
use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;

use crate::{CredentialKey, StoreError, WriteOutcome};

/// Pool options every Postgres mirror connects with: TCP_NODELAY (see [`nodelay`]) and no JIT.
///
/// Postgres JIT-compiles any statement whose estimated cost passes `jit_above_cost`, and the
/// gateway's reads of large models do, on every execution: measured under load, LLVM took 42%
/// of the machine's CPU for queries that run in about a millisecond. Nothing the mirror runs
/// is a long analytical query that compilation would pay back.
pub(crate) fn pool_options() -> PgPoolOptions {
    PgPoolOptions::new().after_connect(|conn, meta| {
        Box::pin(async move {
            nodelay::after_connect(conn, meta).await?;
            sqlx::Executor::execute(&mut *conn, "SET jit = off").await?;
            Ok(())
        })
    })
}

/// The Postgres mirror. Cheap to clone: a pool and a key behind `Arc`s.
#[derive(Clone)]
pub struct PgStore {
    pub(crate) pool: PgPool,
    pub(crate) key: Arc<CredentialKey>,
    stats: Arc<stats::StatsRefresh>,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore").finish_non_exhaustive()
    }
}

/// How a [`PgStore`]'s pool waits for the database.
#[derive(Debug, Clone, Copy)]
pub struct PgPoolSettings {
    pub max_connections: u32,
    /// The longest a caller waits for a connection: for one to come free, or for a new one to
    /// be made (TCP connect and start-up included). While the database is unreachable every
    /// store call fails with [`sqlx::Error::PoolTimedOut`] after this long instead of waiting
    /// out the outage.
    pub acquire_timeout: Duration,
    /// How long [`PgStore::connect_with`]'s first connection may take before it gives up: a
    /// database behind a firewall that drops packets never refuses, and a role must not hang
    /// at start.
    pub connect_timeout: Duration,
}

impl Default for PgPoolSettings {
    /// The background roles' pool (scheduler, workers): they can afford to wait for a
    /// connection under load rather than fail a page.
    fn default() -> Self {
        Self {
            max_connections: 16,
            acquire_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
        }
    }
}

impl PgStore {
    /// Connects a pool to `database_url` (`postgres://...`) with the default
    /// [`PgPoolSettings`]. Call [`crate::Backend::migrate`] before first use.
    pub async fn connect(database_url: &str, key: CredentialKey) -> Result<Self, StoreError> {
        Self::connect_with(database_url, key, PgPoolSettings::default()).await
    }

    /// [`PgStore::connect`] with its own pool settings (the API's pool fails fast).
    pub async fn connect_with(
        database_url: &str,
        key: CredentialKey,
        settings: PgPoolSettings,
    ) -> Result<Self, StoreError> {
        // One direct connection first: a pool only reports "timed out" after its acquire
        // timeout, while this fails at once with the real cause (refused, unknown host, bad
        // password) for the start-up error line.
        let options: sqlx::postgres::PgConnectOptions = database_url.parse()?;
        let probe = tokio::time::timeout(settings.connect_timeout, sqlx::ConnectOptions::connect(&options))
            .await
            .map_err(|_| {
                StoreError::no_answer(format!("no answer within {} s", settings.connect_timeout.as_secs_f64()))
            })??;
        sqlx::Connection::close(probe).await?;
        let pool = pool_options()
            .max_connections(settings.max_connections)
            .acquire_timeout(settings.acquire_timeout)
            .connect(database_url)
            .await?;
        Ok(Self::from_pool(pool, key))
    }

    pub fn from_pool(pool: PgPool, key: CredentialKey) -> Self {
        Self {
            pool,
            key: Arc::new(key),
            stats: Arc::default(),
        }
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

/// After a page write: the statistics refresh a bulk load needs (see `stats`).
pub(crate) fn page_written(store: &PgStore, outcome: &WriteOutcome) {
    store
        .stats
        .record(&store.pool, u64::try_from(outcome.created).unwrap_or(0));
}

/// The outbox's signal: `LISTEN tributary_outbox`.
pub(crate) async fn outbox_listener(pool: &PgPool) -> Result<Option<Box<dyn crate::OutboxListener>>, StoreError> {
    Ok(Some(Box::new(outbox_signal::listen(pool).await?)))
}
