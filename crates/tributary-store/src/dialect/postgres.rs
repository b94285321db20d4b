//! Postgres's side of the seam (see the parent module).

use serde::Serialize;
use serde_json::Value;
use sqlx::Row as _;
use sqlx::types::Json;
use tributary_model::Timestamp;

use crate::page::Edge;
use crate::{ChangeKind, PreparedRecord, StoreError};

pub(crate) type Pool = sqlx::PgPool;
pub(crate) type Conn = sqlx::PgConnection;
pub(crate) type Tx = sqlx::Transaction<'static, sqlx::Postgres>;
pub(crate) type Row = sqlx::postgres::PgRow;
pub(crate) type Store = crate::PgStore;
pub(crate) type Query<'q> = sqlx::query::Query<'q, sqlx::Postgres, <sqlx::Postgres as sqlx::Database>::Arguments>;

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
pub(crate) fn strings(values: &[impl AsRef<str>]) -> Result<Vec<String>, StoreError> {
    Ok(values.iter().map(|v| v.as_ref().to_owned()).collect())
}

/// [`strings`], or NULL.
pub(crate) fn opt_strings(values: Option<&[String]>) -> Result<Option<Vec<String>>, StoreError> {
    values.map(strings).transpose()
}

pub(crate) fn get_strings(row: &Row, column: &str) -> Result<Vec<String>, StoreError> {
    Ok(row.try_get(column)?)
}

/// A transaction for a write. Postgres needs nothing more: writers lock what they touch.
pub(crate) async fn begin_write(pool: &Pool) -> Result<Tx, StoreError> {
    Ok(pool.begin().await?)
}

/// A write transaction holding the integration's write lock, once `held` is checked to be the
/// integration's current fence (invariant I4).
pub(crate) async fn begin_fenced(pool: &Pool, integration_id: &str, held: i64) -> Result<Tx, StoreError> {
    let mut tx = pool.begin().await?;
    crate::postgres::write_lock::lock_fenced(&mut tx, integration_id, held).await?;
    Ok(tx)
}

/// [`begin_fenced`], also returning the integration's scope version (which `set_scope_config`
/// moves under the same lock).
pub(crate) async fn begin_fenced_scope(pool: &Pool, integration_id: &str, held: i64) -> Result<(Tx, i64), StoreError> {
    let mut tx = pool.begin().await?;
    let scope = crate::postgres::write_lock::lock_fenced_scope(&mut tx, integration_id, held).await?;
    Ok((tx, scope))
}

/// A write transaction holding the integration's write lock (a transaction-scoped advisory
/// lock), which page writes, fence and scope changes take too.
pub(crate) async fn begin_locked(pool: &Pool, integration_id: &str) -> Result<Tx, StoreError> {
    let mut tx = pool.begin().await?;
    crate::postgres::write_lock::lock(&mut tx, integration_id).await?;
    Ok(tx)
}

/// The live records of `$4` (models) that no run overlapping run `$2` saw and that nothing
/// wrote since it started (`$3`), narrowed to the ids `$5` unless NULL: a `WITH unseen` for the
/// statement that follows.
///
/// The unseen ids are a set difference (EXCEPT, hashed or sorted: n log n at worst) rather
/// than `NOT EXISTS (seen)`: right after a bulk load the statistics still call `records`
/// tiny, and the planner then picked a nested-loop anti join that re-read every seen id for
/// each record — 30 s for 10,000 employees. The statements then probe the few unseen ids by
/// index (ids are unique within an integration).
macro_rules! unseen {
    () => {
        concat!(
            "WITH unseen AS (",
            "  SELECT id FROM records ",
            "  WHERE integration_id = $1 AND model = ANY($4) AND remote_deleted_at IS NULL AND changed_at < $3 ",
            "  AND ($5::text[] IS NULL OR id = ANY($5)) ",
            "  EXCEPT ",
            "  SELECT u.id FROM run_seen s JOIN sync_runs r ON r.id = s.run_id ",
            "  CROSS JOIN LATERAL unnest(s.ids) AS u(id) ",
            "  WHERE s.integration_id = $1 AND (s.run_id = $2 OR r.started_at >= $3)",
            ") "
        )
    };
}
pub(crate) use unseen;

/// The condition on `records` that picks the [`unseen`] ones.
macro_rules! unseen_records {
    () => {
        concat!(
            "integration_id = $1 AND id = ANY(ARRAY(SELECT id FROM unseen)) ",
            "AND model = ANY($4) AND remote_deleted_at IS NULL AND changed_at < $3 "
        )
    };
}
pub(crate) use unseen_records;

/// `remote_data` as the text the gateway passes through (`RawJson`): Postgres keeps `jsonb`.
macro_rules! remote_data_text {
    () => {
        "remote_data::text"
    };
}
pub(crate) use remote_data_text;

/// A parameter holding JSON text, for a `jsonb` column.
macro_rules! jsonb {
    ($p:literal) => {
        concat!($p, "::jsonb")
    };
}
pub(crate) use jsonb;

/// A list of integers as Postgres binds it: `bigint[]`.
pub(crate) fn ints(values: &[i64]) -> Result<Vec<i64>, StoreError> {
    Ok(values.to_vec())
}

/// The rows `(sync_type, every)` zipped from the arrays `$2` ([`strings`]) and `$3` ([`ints`]),
/// as the row source `x` of `ensure_schedules`.
macro_rules! schedule_intervals {
    () => {
        "unnest($2::text[], $3::bigint[]) AS x(sync_type, every)"
    };
}
pub(crate) use schedule_intervals;

/// The rows zipped from the `text[]` parameters ([`strings`]) given, one column each, as the
/// row source `$alias`: `text_rows!("u": "$1" as "id", "$2" as "name")`.
macro_rules! text_rows {
    ($alias:literal: $p0:literal as $c0:literal $(, $p:literal as $c:literal)*) => {
        concat!(
            "unnest(", $p0, "::text[]" $(, ", ", $p, "::text[]")*, ") AS ", $alias, "(", $c0 $(, ", ", $c)*, ")"
        )
    };
}
pub(crate) use text_rows;

/// The instant `$secs` whole seconds after the instant `$at`.
macro_rules! plus_secs {
    ($at:literal, $($secs:tt)+) => {
        concat!("(", $at, " + (", $($secs)+, ") * interval '1 second')")
    };
}
pub(crate) use plus_secs;

/// What a schedule claim locks with the rows it selects (`s`, the schedules, and `i`, their
/// integrations): it skips rows another claim holds instead of waiting for them.
macro_rules! claim_locks {
    () => {
        " FOR UPDATE OF s SKIP LOCKED FOR KEY SHARE OF i SKIP LOCKED"
    };
}
pub(crate) use claim_locks;

/// Keeps the row read from being deleted until the transaction ends (Postgres locks rows; a
/// SQLite write transaction already excludes every other writer).
macro_rules! for_key_share {
    () => {
        " FOR KEY SHARE"
    };
}
pub(crate) use for_key_share;

/// A list of strings as Postgres binds it, without copying them: `text[]`.
pub(crate) fn str_list<T>(values: &[T]) -> Result<&[T], StoreError> {
    Ok(values)
}

/// The condition "is one of the list parameter `$p`" ([`str_list`]), after the column it tests.
macro_rules! in_list {
    ($p:literal) => {
        concat!("= ANY(", $p, ")")
    };
}
pub(crate) use in_list;

/// A page's rows as `crate::ops::pages::upsert` reads them (`u`): an array per column at `$4`
/// to `$12` ([`bind_page_records`]).
macro_rules! page_records {
    () => {
        concat!(
            "UNNEST($4::text[], $5::text[], $6::text[], $7::text[], $8::jsonb[], $9::jsonb[], $10::bytea[], ",
            "$11::timestamptz[], $12::text[]) ",
            "AS u(model, id, remote_id, parent_id, data, remote_data, content_hash, remote_created_at, join_digest)"
        )
    };
}
pub(crate) use page_records;

/// Binds a page's records, and their join digests (parallel to them), for [`page_records`].
pub(crate) fn bind_page_records<'q>(
    query: Query<'q>,
    writes: &[(PreparedRecord, ChangeKind)],
    join_digests: &[Option<String>],
) -> Result<Query<'q>, StoreError> {
    let n = writes.len();
    let mut models = Vec::with_capacity(n);
    let mut ids = Vec::with_capacity(n);
    let mut remote_ids = Vec::with_capacity(n);
    let mut parents = Vec::with_capacity(n);
    let mut data = Vec::with_capacity(n);
    let mut remote_data = Vec::with_capacity(n);
    let mut hashes = Vec::with_capacity(n);
    let mut created = Vec::with_capacity(n);
    for (r, _) in writes {
        models.push(r.model.as_str());
        ids.push(r.id.as_str());
        remote_ids.push(r.remote_id.as_str());
        parents.push(r.parent_id.as_deref());
        // Bound as references: sqlx serialises them straight into the argument buffer, where
        // binding `Value`s would first deep-copy every record's JSON.
        data.push(Json(&r.data));
        remote_data.push(r.remote_data.as_ref().map(Json));
        hashes.push(r.hash.to_vec());
        created.push(r.remote_created_at);
    }
    Ok(query
        .bind(models)
        .bind(ids)
        .bind(remote_ids)
        .bind(parents)
        .bind(data)
        .bind(remote_data)
        .bind(hashes)
        .bind(created)
        .bind(join_digests))
}

/// A page's edge work, in one statement: the edges the `changed` records declare become
/// exactly `new_edges`, and their dependents' `updated_at` moves (see
/// `crate::postgres::dependents::replace_and_bump`).
pub(crate) async fn replace_edges(
    conn: &mut Conn,
    integration_id: &str,
    changed: &[String],
    replaced: &[String],
    new_edges: &[Edge],
    now: Timestamp,
) -> Result<(), StoreError> {
    crate::postgres::dependents::replace_and_bump(conn, integration_id, changed, replaced, new_edges, now).await
}
