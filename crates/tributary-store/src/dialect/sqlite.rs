//! SQLite's side of the seam (see the parent module).

use serde::Serialize;
use serde_json::Value;
use sqlx::Row as _;
use tributary_model::Timestamp;

use crate::{StoreError, clock};

pub(crate) type Pool = sqlx::SqlitePool;
pub(crate) type Tx = sqlx::Transaction<'static, sqlx::Sqlite>;
pub(crate) type Row = sqlx::sqlite::SqliteRow;
pub(crate) type Store = crate::SqliteStore;

/// An instant as SQLite keeps it: fixed-width UTC text, whose order is time order.
pub(crate) fn time(at: Timestamp) -> String {
    clock::to_text(at)
}

pub(crate) fn get_time(row: &Row, column: &str) -> Result<Timestamp, StoreError> {
    clock::from_text(row.try_get(column)?)
}

pub(crate) fn get_opt_time(row: &Row, column: &str) -> Result<Option<Timestamp>, StoreError> {
    clock::opt_from_text(row.try_get(column)?)
}

/// A JSON value as SQLite keeps it: text.
pub(crate) fn json(value: &impl Serialize) -> Result<String, StoreError> {
    Ok(serde_json::to_string(value)?)
}

pub(crate) fn get_json(row: &Row, column: &str) -> Result<Value, StoreError> {
    let text: String = row.try_get(column)?;
    Ok(serde_json::from_str(&text)?)
}

pub(crate) fn get_opt_json(row: &Row, column: &str) -> Result<Option<Value>, StoreError> {
    let text: Option<String> = row.try_get(column)?;
    Ok(text.as_deref().map(serde_json::from_str).transpose()?)
}

/// A list of strings as SQLite keeps it: a JSON array.
pub(crate) fn strings(values: &[String]) -> Result<String, StoreError> {
    Ok(serde_json::to_string(values)?)
}

pub(crate) fn get_strings(row: &Row, column: &str) -> Result<Vec<String>, StoreError> {
    let text: String = row.try_get(column)?;
    Ok(serde_json::from_str(&text)?)
}

/// A transaction that holds SQLite's single write lock from its first statement.
pub(crate) async fn begin_write(pool: &Pool) -> Result<Tx, StoreError> {
    crate::sqlite::write_lock::begin(pool).await
}

/// A write transaction holding the integration's write lock: on SQLite, the database's single
/// write lock.
pub(crate) async fn begin_locked(pool: &Pool, _integration_id: &str) -> Result<Tx, StoreError> {
    begin_write(pool).await
}
