//! Throw-away mirrors for tests of this and other crates (feature `testing`).
//!
//! ```ignore
//! let (store, _db) = tributary_store::testing::fresh_pg_store().await?;
//! let (store, _file) = tributary_store::testing::fresh_sqlite_store().await?;
//! ```
//!
//! Each call gets its own database (Postgres: `CREATE DATABASE tributary_test_<random>` on the
//! server named by `TEST_DATABASE_URL`, default `postgres://postgres@127.0.0.1:5432/postgres`;
//! SQLite: a file in the temp dir), migrated and empty. Dropping the guard removes it, best
//! effort.

use std::path::PathBuf;
use std::sync::Arc;

use sqlx::{AssertSqlSafe, Connection, PgConnection};

use crate::Backend;
use crate::{CredentialKey, MirrorStore, PgStore, SqliteStore, StoreError, ids};

const DEFAULT_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// The server tests create their databases on.
pub fn admin_url() -> String {
    std::env::var("TEST_DATABASE_URL").unwrap_or_else(|_| DEFAULT_ADMIN_URL.to_string())
}

/// Drops its database when dropped.
#[derive(Debug)]
pub struct TestDatabase {
    admin_url: String,
    name: String,
    url: String,
}

impl TestDatabase {
    /// The URL of the fresh database, for other clients that need it (e.g. a job queue).
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let admin_url = self.admin_url.clone();
        let name = self.name.clone();
        // Drop runs inside the test's runtime, which must not be blocked on; a short-lived
        // thread with its own runtime does the async cleanup.
        let cleanup = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
                return;
            };
            runtime.block_on(async move {
                if let Ok(mut admin) = PgConnection::connect(&admin_url).await {
                    // The name is ours and made of [a-z0-9_] only, so formatting it is safe.
                    let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                    let _ = sqlx::query(AssertSqlSafe(sql)).execute(&mut admin).await;
                    let _ = admin.close().await;
                }
            });
        });
        let _ = cleanup.join();
    }
}

/// A migrated Postgres mirror on a database of its own.
pub async fn fresh_pg_store() -> Result<(Arc<dyn MirrorStore>, TestDatabase), StoreError> {
    let (store, db) = fresh_pg_store_concrete().await?;
    Ok((Arc::new(store), db))
}

/// [`fresh_pg_store`] as the concrete type, for tests that need its pool.
pub async fn fresh_pg_store_concrete() -> Result<(PgStore, TestDatabase), StoreError> {
    let guard = fresh_pg_database().await?;
    let pool = crate::postgres::pool_options()
        .max_connections(8)
        .connect(guard.url())
        .await?;
    let store = PgStore::from_pool(pool, CredentialKey::generate());
    store.migrate().await?;
    Ok((store, guard))
}

/// An empty Postgres database of its own, not migrated: for tests of what migrates it.
pub async fn fresh_pg_database() -> Result<TestDatabase, StoreError> {
    let admin_url = admin_url();
    let name = format!("tributary_test_{}", ids::random_id().to_lowercase());
    let mut admin = PgConnection::connect(&admin_url).await?;
    sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut admin)
        .await?;
    admin.close().await?;
    let mut url = url::Url::parse(&admin_url)
        .map_err(|e| StoreError::Invalid(format!("TEST_DATABASE_URL {admin_url:?}: {e}")))?;
    url.set_path(&name);
    let url = url.to_string();
    Ok(TestDatabase { admin_url, name, url })
}

/// [`fresh_pg_database`], or `None` like [`pg_store_or_skip`].
pub async fn pg_database_or_skip() -> Option<TestDatabase> {
    match fresh_pg_database().await {
        Ok(found) => Some(found),
        Err(e) => skip_or_fail(e).map(|never| match never {}),
    }
}

/// Removes its SQLite file (and WAL side files) when dropped.
#[derive(Debug)]
pub struct TestFile {
    path: PathBuf,
}

impl TestFile {
    pub fn path(&self) -> &std::path::Path {
        &self.path
    }
}

impl Drop for TestFile {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm"] {
            let mut path = self.path.clone().into_os_string();
            path.push(suffix);
            let _ = std::fs::remove_file(path);
        }
    }
}

/// A migrated SQLite mirror in a temporary file — a real file, so WAL and several connections
/// behave as in the embedded mode.
pub async fn fresh_sqlite_store() -> Result<(Arc<dyn MirrorStore>, TestFile), StoreError> {
    let (store, file) = fresh_sqlite_store_concrete().await?;
    Ok((Arc::new(store), file))
}

pub async fn fresh_sqlite_store_concrete() -> Result<(SqliteStore, TestFile), StoreError> {
    let file = TestFile {
        path: std::env::temp_dir().join(format!("tributary-test-{}.db", ids::random_id())),
    };
    let store = SqliteStore::open(file.path(), CredentialKey::generate()).await?;
    store.migrate().await?;
    Ok((store, file))
}

/// Test hook: holds the integration's Postgres write lock (as an in-flight page would) until
/// the returned transaction is committed or dropped.
pub async fn hold_pg_write_lock(
    pool: &sqlx::PgPool,
    integration_id: &str,
) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, StoreError> {
    crate::dialect::postgres::begin_locked(pool, integration_id).await
}

/// Test hook: holds SQLite's write lock (as an in-flight page would) until the returned
/// transaction ends.
pub async fn hold_sqlite_write_lock(
    pool: &sqlx::SqlitePool,
) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, StoreError> {
    crate::dialect::sqlite::begin_write(pool).await
}

/// Whether tests must fail, rather than skip, when Postgres is missing. CI sets
/// `TRIBUTARY_REQUIRE_SERVICES=1`; a developer machine without Postgres runs the embedded half
/// of the suite only.
pub fn services_required() -> bool {
    std::env::var_os("TRIBUTARY_REQUIRE_SERVICES").is_some_and(|v| !v.is_empty() && v != "0")
}

fn skip_or_fail(e: StoreError) -> Option<std::convert::Infallible> {
    if services_required() {
        panic!(
            "Postgres is required (TRIBUTARY_REQUIRE_SERVICES) but unavailable at {}: {e}",
            admin_url()
        );
    }
    eprintln!(
        "SKIPPED: no Postgres at {} ({e}); set TEST_DATABASE_URL or install PostgreSQL",
        admin_url()
    );
    None
}

/// [`fresh_pg_store`], or `None` (with a `SKIPPED` line) when Postgres is unreachable and
/// [`services_required`] is false.
pub async fn pg_store_or_skip() -> Option<(Arc<dyn MirrorStore>, TestDatabase)> {
    match fresh_pg_store().await {
        Ok(found) => Some(found),
        Err(e) => skip_or_fail(e).map(|never| match never {}),
    }
}

/// [`fresh_pg_store_concrete`], or `None` like [`pg_store_or_skip`].
pub async fn pg_store_concrete_or_skip() -> Option<(PgStore, TestDatabase)> {
    match fresh_pg_store_concrete().await {
        Ok(found) => Some(found),
        Err(e) => skip_or_fail(e).map(|never| match never {}),
    }
}

/// Sweeps as if the source had confirmed every candidate absent: for tests of the store's own
/// rules (which records are candidates, what a sweep marks), apart from the engine's
/// confirmation at the source.
pub async fn sweep_unseen<S: MirrorStore + ?Sized>(
    store: &S,
    run: &crate::RunWrite,
    models: &[tributary_model::Model],
) -> Result<crate::WriteOutcome, StoreError> {
    let confirmed: Vec<String> = store
        .deletion_candidates(run, models)
        .await?
        .into_iter()
        .map(|c| c.id)
        .collect();
    store
        .sweep_deletions(
            run,
            &crate::Sweep {
                models,
                confirmed: &confirmed,
                unconfirmed: 0,
            },
        )
        .await
}
