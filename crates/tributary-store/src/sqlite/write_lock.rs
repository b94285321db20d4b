//! SQLite's write lock: `BEGIN IMMEDIATE` (the fence check under it is `crate::ops::fence`).

use sqlx::{Sqlite, SqlitePool, Transaction};

use crate::StoreError;

/// A transaction that already holds the database's single write lock.
pub(crate) async fn begin(pool: &SqlitePool) -> Result<Transaction<'static, Sqlite>, StoreError> {
    Ok(pool.begin_with("BEGIN IMMEDIATE").await?)
}
