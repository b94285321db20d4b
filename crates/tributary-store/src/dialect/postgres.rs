//! Postgres's side of the seam (see the parent module).

use serde::Serialize;
use serde_json::Value;
use sqlx::Row as _;
use tributary_model::Timestamp;

use crate::StoreError;

pub(crate) type Pool = sqlx::PgPool;
pub(crate) type Tx = sqlx::Transaction<'static, sqlx::Postgres>;
pub(crate) type Row = sqlx::postgres::PgRow;
pub(crate) type Store = crate::PgStore;

/// An instant as Postgres binds it: a `timestamptz`.
pub(crate) fn time(at: Timestamp) -> Timestamp {
    at
}

pub(crate) fn get_time(row: &Row, column: &str) -> Result<Timestamp, StoreError> {
    Ok(row.try_get(column)?)
}

pub(crate) fn get_opt_time(row: &Row, column: &str) -> Result<Option<Timestamp>, StoreError> {
    Ok(row.try_get(column)?)
}

/// A JSON value as Postgres binds it: `jsonb`.
pub(crate) fn json(value: &impl Serialize) -> Result<Value, StoreError> {
    Ok(serde_json::to_value(value)?)
}

pub(crate) fn get_json(row: &Row, column: &str) -> Result<Value, StoreError> {
    Ok(row.try_get(column)?)
}

pub(crate) fn get_opt_json(row: &Row, column: &str) -> Result<Option<Value>, StoreError> {
    Ok(row.try_get(column)?)
}

/// A list of strings as Postgres binds it: `text[]`.
pub(crate) fn strings(values: &[String]) -> Result<Vec<String>, StoreError> {
    Ok(values.to_vec())
}

pub(crate) fn get_strings(row: &Row, column: &str) -> Result<Vec<String>, StoreError> {
    Ok(row.try_get(column)?)
}

/// A transaction for a write. Postgres needs nothing more: writers lock what they touch.
pub(crate) async fn begin_write(pool: &Pool) -> Result<Tx, StoreError> {
    Ok(pool.begin().await?)
}

/// A write transaction holding the integration's write lock (a transaction-scoped advisory
/// lock), which page writes, fence and scope changes take too.
pub(crate) async fn begin_locked(pool: &Pool, integration_id: &str) -> Result<Tx, StoreError> {
    let mut tx = pool.begin().await?;
    crate::postgres::write_lock::lock(&mut tx, integration_id).await?;
    Ok(tx)
}
