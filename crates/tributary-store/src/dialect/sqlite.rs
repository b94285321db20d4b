//! SQLite's side of the seam (see the parent module).

use std::time::Duration;

use serde::Serialize;
use serde_json::Value;
use sqlx::Row as _;
use tributary_model::Timestamp;

use crate::{ChangeKind, DeliveryAttempt, PreparedRecord, StoreError, clock};

pub(crate) type Pool = sqlx::SqlitePool;
pub(crate) type Conn = sqlx::SqliteConnection;
pub(crate) type Tx = sqlx::Transaction<'static, sqlx::Sqlite>;
pub(crate) type Row = sqlx::sqlite::SqliteRow;
pub(crate) type Store = crate::SqliteStore;
pub(crate) type Query<'q> = sqlx::query::Query<'q, sqlx::Sqlite, <sqlx::Sqlite as sqlx::Database>::Arguments>;

/// The backend's name, for logs and the operator API.
pub(crate) const NAME: &str = "sqlite";

/// Whether a write transaction may read through a second pooled connection while it holds the
/// integration's write lock. Not on SQLite: the in-memory database has one connection, and
/// every connection shares one writer and one core-bound engine anyway.
pub(crate) const READS_BESIDE_A_WRITE: bool = false;

/// The backend's migrations.
macro_rules! migrator {
    () => {
        sqlx::migrate!("../../migrations/sqlite")
    };
}
pub(crate) use migrator;

/// Whether sqlx's migrations table exists (a fresh database has none).
pub(crate) const MIGRATIONS_TABLE_EXISTS: &str =
    "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations')";

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
pub(crate) fn strings(values: &[impl AsRef<str>]) -> Result<String, StoreError> {
    Ok(serde_json::to_string(
        &values.iter().map(AsRef::as_ref).collect::<Vec<&str>>(),
    )?)
}

/// [`strings`], or NULL.
pub(crate) fn opt_strings(values: Option<&[String]>) -> Result<Option<String>, StoreError> {
    values.map(strings).transpose()
}

pub(crate) fn get_strings(row: &Row, column: &str) -> Result<Vec<String>, StoreError> {
    let text: String = row.try_get(column)?;
    Ok(serde_json::from_str(&text)?)
}

/// A transaction that holds SQLite's single write lock from its first statement.
pub(crate) async fn begin_write(pool: &Pool) -> Result<Tx, StoreError> {
    Ok(pool.begin_with("BEGIN IMMEDIATE").await?)
}

/// A write transaction holding the integration's write lock: on SQLite, the database's single
/// write lock.
pub(crate) async fn begin_locked(pool: &Pool, _integration_id: &str) -> Result<Tx, StoreError> {
    begin_write(pool).await
}

/// A transaction for a read of the integration's records: `BEGIN IMMEDIATE`, so it waits for an
/// in-flight writer and then sees its commit (`sqlite/mod.rs` explains why a plain WAL snapshot
/// read is not enough). SQLite has no statement timeout and no plan cache to steer.
pub(crate) async fn begin_read(
    pool: &Pool,
    _integration_id: &str,
    _statement_timeout: Option<Duration>,
    _custom_plans: bool,
) -> Result<Tx, StoreError> {
    begin_write(pool).await
}

/// The seen set of run `$2` and of every run started after it (`$3`): a `WITH seen` for the
/// statement that follows. MATERIALIZED + NOT IN: SQLite builds the seen set once, as an
/// ephemeral index, instead of re-running json_each per record.
macro_rules! unseen {
    () => {
        concat!(
            "WITH seen(id) AS MATERIALIZED (",
            "  SELECT DISTINCT j.value FROM run_seen s JOIN sync_runs r ON r.id = s.run_id, json_each(s.ids) j ",
            "  WHERE s.integration_id = $1 AND (s.run_id = $2 OR r.started_at >= $3)",
            ") "
        )
    };
}
pub(crate) use unseen;

/// The live records of `$4` (models) not in [`unseen`]'s seen set and not written since `$3`,
/// narrowed to the ids `$5` unless NULL.
macro_rules! unseen_records {
    () => {
        concat!(
            "integration_id = $1 AND model IN (SELECT value FROM json_each($4)) ",
            "AND remote_deleted_at IS NULL AND changed_at < $3 AND id NOT IN (SELECT id FROM seen) ",
            "AND ($5 IS NULL OR id IN (SELECT value FROM json_each($5))) "
        )
    };
}
pub(crate) use unseen_records;

/// `remote_data` as text: SQLite keeps it as text already.
macro_rules! remote_data_text {
    () => {
        "remote_data"
    };
}
pub(crate) use remote_data_text;

/// A parameter holding JSON text, for a JSON (text) column.
macro_rules! jsonb {
    ($p:literal) => {
        $p
    };
}
pub(crate) use jsonb;

/// A list of integers as SQLite keeps it: a JSON array.
pub(crate) fn ints(values: &[i64]) -> Result<String, StoreError> {
    Ok(serde_json::to_string(values)?)
}

/// The rows `(sync_type, every)` zipped by position from the JSON arrays `$2` ([`strings`])
/// and `$3` ([`ints`]), as the row source `x` of `ensure_schedules`.
macro_rules! schedule_intervals {
    () => {
        "(SELECT t.value AS sync_type, e.value AS every FROM json_each($2) t JOIN json_each($3) e ON e.key = t.key) AS x"
    };
}
pub(crate) use schedule_intervals;

/// The rows zipped by position from the JSON array parameters ([`strings`]) given, one column
/// each, as the row source `$alias`: `text_rows!("u": "$1" as "id", "$2" as "name")`. The other
/// arrays are indexed by the first one's keys (`->>`), not joined on them: json_each has no
/// index, and a join would scan each array once per row.
macro_rules! text_rows {
    ($alias:literal: $p0:literal as $c0:literal $(, $p:literal as $c:literal)*) => {
        concat!(
            "(SELECT j.value AS ", $c0 $(, ", ", $p, " ->> j.key AS ", $c)*, " FROM json_each(", $p0, ") j) AS ", $alias
        )
    };
}
pub(crate) use text_rows;

/// The instant `$secs` whole seconds after the instant `$at`, as fixed-width text: the date
/// functions keep only milliseconds, so they add the seconds to the whole-second part and the
/// six fractional digits are carried over unchanged (NULL stays NULL).
macro_rules! plus_secs {
    ($at:literal, $($secs:tt)+) => {
        concat!(
            "(strftime('%Y-%m-%dT%H:%M:%S', substr(", $at, ", 1, 19), '+' || (", $($secs)+,
            ") || ' seconds') || substr(", $at, ", 20))"
        )
    };
}
pub(crate) use plus_secs;

/// Nothing: a claim's write transaction (`BEGIN IMMEDIATE`) already keeps every other claim
/// out until it commits.
macro_rules! claim_locks {
    () => {
        ""
    };
}
pub(crate) use claim_locks;

/// Nothing: the write transaction (`BEGIN IMMEDIATE`) already excludes every other writer, so
/// the row read cannot be deleted before it ends.
macro_rules! for_key_share {
    () => {
        ""
    };
}
pub(crate) use for_key_share;

/// A list as SQLite binds it: a JSON array.
pub(crate) fn str_list<T: Serialize>(values: &[T]) -> Result<String, StoreError> {
    Ok(serde_json::to_string(values)?)
}

/// The condition "is one of the list parameter `$p`" ([`str_list`]), after the column it tests.
macro_rules! in_list {
    ($p:literal) => {
        concat!("IN (SELECT value FROM json_each(", $p, "))")
    };
}
pub(crate) use in_list;

/// The text Postgres' `->>` gives for the filter's field: strings unquoted, other scalars as
/// JSON (`true`, `42`), JSON null (and a missing value) as SQL NULL.
macro_rules! field_text {
    () => {
        concat!(
            "(CASE json_type(records.data -> (f.value ->> 'field')) ",
            "WHEN 'text' THEN json_extract(records.data -> (f.value ->> 'field'), '$') WHEN 'null' THEN NULL ",
            "ELSE records.data -> (f.value ->> 'field') END)"
        )
    };
}
pub(crate) use field_text;

/// The object at `data->field` (`{}` when it is not one), whose entries are matched by key
/// with `json_each`: a key is the caller's text (a custom field's name), and `->` would read
/// one starting with `$` as a JSON path.
macro_rules! object_field {
    () => {
        "(CASE WHEN json_type(records.data -> (f.value ->> 'field')) = 'object' \
         THEN records.data -> (f.value ->> 'field') ELSE '{}' END)"
    };
}
pub(crate) use object_field;

/// The condition on `records` that every filter of `$8` holds, as Postgres's `record_filters`
/// reads them. lower() folds ASCII only, which covers the enum-like values the gateway filters
/// on; text compares bytewise.
macro_rules! record_filters {
    () => {
        concat!(
            "AND NOT EXISTS (SELECT 1 FROM json_each($8) f WHERE NOT coalesce(CASE f.value ->> 'kind' ",
            "  WHEN 'entry_null' THEN NOT EXISTS (SELECT 1 FROM json_each(",
            $crate::dialect::sqlite::object_field!(),
            ") o WHERE o.key = (f.value ->> 'key') AND o.type <> 'null') ",
            "  WHEN 'equals_or_null' THEN ",
            $crate::dialect::sqlite::field_text!(),
            " IS NULL OR ",
            $crate::dialect::sqlite::field_text!(),
            " IN (SELECT value FROM json_each(f.value, '$.any_of')) ",
            "  WHEN 'contains' THEN EXISTS (SELECT 1 FROM json_each(f.value, '$.any_of') v WHERE instr(",
            "    CASE WHEN f.value ->> 'ci' THEN lower(",
            $crate::dialect::sqlite::field_text!(),
            ") ELSE ",
            $crate::dialect::sqlite::field_text!(),
            " END, CASE WHEN f.value ->> 'ci' THEN lower(v.value) ELSE v.value END) > 0) ",
            "  WHEN 'gte' THEN coalesce(",
            $crate::dialect::sqlite::field_text!(),
            " >= (f.value ->> '$.any_of[0]'), f.value ->> 'or_missing') ",
            "  WHEN 'lte' THEN coalesce(",
            $crate::dialect::sqlite::field_text!(),
            " <= (f.value ->> '$.any_of[0]'), f.value ->> 'or_missing') ",
            "  WHEN 'ref_has' THEN EXISTS (SELECT 1 FROM records r WHERE r.integration_id = records.integration_id ",
            "    AND r.id = (records.data ->> (f.value ->> 'key')) AND (r.data ->> (f.value ->> 'field')) IN ",
            "    (SELECT value FROM json_each(f.value, '$.any_of'))) ",
            "  WHEN 'child_has' THEN EXISTS (SELECT 1 FROM records c WHERE c.integration_id = records.integration_id ",
            "    AND c.model = (f.value ->> 'key') AND c.parent_id = records.id AND c.remote_deleted_at IS NULL ",
            "    AND (c.data ->> (f.value ->> 'field')) IN (SELECT value FROM json_each(f.value, '$.any_of'))) ",
            "  ELSE EXISTS (SELECT 1 FROM (",
            "      SELECT ",
            $crate::dialect::sqlite::field_text!(),
            " AS t WHERE f.value ->> 'kind' = 'equals' ",
            "      UNION ALL SELECT CASE e.type WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' WHEN 'null' THEN NULL ",
            "        ELSE CAST(e.value AS TEXT) END FROM json_each(CASE WHEN f.value ->> 'kind' = 'array' ",
            "        AND json_type(records.data -> (f.value ->> 'field')) = 'array' ",
            "        THEN records.data -> (f.value ->> 'field') ELSE '[]' END) e ",
            "      UNION ALL SELECT CASE o.type WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' ",
            "        ELSE CAST(o.value AS TEXT) END FROM json_each(CASE WHEN f.value ->> 'kind' = 'entry' THEN ",
            $crate::dialect::sqlite::object_field!(),
            " ELSE '{}' END) o WHERE o.key = (f.value ->> 'key') ",
            "        AND o.type IN ('text', 'integer', 'real', 'true', 'false')",
            "      UNION ALL SELECT json_extract(e.value, '$.' || (f.value ->> 'key')) FROM json_each(CASE WHEN ",
            "        f.value ->> 'kind' = 'array_entry' AND json_type(records.data -> (f.value ->> 'field')) = 'array' ",
            "        THEN records.data -> (f.value ->> 'field') ELSE '[]' END) e WHERE e.type = 'object'",
            "    ) c WHERE (CASE WHEN f.value ->> 'ci' THEN lower(c.t) ELSE c.t END) IN ",
            "      (SELECT CASE WHEN f.value ->> 'ci' THEN lower(v.value) ELSE v.value END ",
            "       FROM json_each(f.value, '$.any_of') v)) END, 0)) ",
        )
    };
}
pub(crate) use record_filters;
/// The elements of the JSON array parameter `$p` ([`json`]) as the row source `u(value, key)`,
/// `key` their position.
macro_rules! json_rows {
    ($p:literal) => {
        concat!("json_each(", $p, ") AS u")
    };
}
pub(crate) use json_rows;

/// Nothing: an instant is text already ([`time`]).
macro_rules! timestamptz {
    ($e:literal) => {
        $e
    };
}
pub(crate) use timestamptz;

/// The list column `$c` (a JSON array) with the list parameter `$p` ([`strings`]) added, sorted
/// and distinct.
macro_rules! sorted_union {
    ($c:literal, $p:literal) => {
        concat!(
            "(SELECT json_group_array(value) FROM (SELECT value FROM json_each(",
            $c,
            ") ",
            "UNION SELECT value FROM json_each(",
            $p,
            ") ORDER BY value))"
        )
    };
}
pub(crate) use sorted_union;

/// Nothing: a writing statement holds the database's single write lock from its start, so a
/// concurrent claim waits and then sees these rows leased.
macro_rules! skip_locked {
    () => {
        ""
    };
}
pub(crate) use skip_locked;

/// Records `attempt` and its outcome (see `attempt_outcome!`) in one write transaction: SQLite
/// has no data-modifying `WITH`. False when there is no such delivery.
pub(crate) async fn record_attempt(
    pool: &Pool,
    attempt: &DeliveryAttempt,
    state: &str,
    next_attempt_at: Option<String>,
    at: String,
) -> Result<bool, StoreError> {
    let mut tx = begin_write(pool).await?;
    let done = sqlx::query(super::attempt_outcome!())
        .bind(&attempt.delivery_id)
        .bind(attempt.status)
        .bind(&attempt.error)
        .bind(state)
        .bind(next_attempt_at)
        .bind(&at)
        .execute(&mut *tx)
        .await?;
    if done.rows_affected() == 0 {
        return Ok(false);
    }
    sqlx::query(concat!(super::insert_attempt!(), "VALUES ($1, $2, $3, $4, $5, $6, $7)"))
        .bind(&attempt.delivery_id)
        .bind(attempt.attempt)
        .bind(&at)
        .bind(attempt.status)
        .bind(attempt.latency_ms)
        .bind(&attempt.response_excerpt)
        .bind(&attempt.error)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(true)
}

/// A page's rows as `crate::ops::pages::upsert` reads them (`u`): one JSON array of rows at `$4`
/// ([`bind_page_records`]), each read once (zipping an array per column would index each
/// array once per row).
macro_rules! page_records {
    () => {
        concat!(
            "(SELECT value ->> 0 AS model, value ->> 1 AS id, value ->> 2 AS remote_id, value ->> 3 AS parent_id, ",
            "value ->> 4 AS data, value ->> 5 AS remote_data, unhex(value ->> 6) AS content_hash, ",
            "value ->> 7 AS remote_created_at, value ->> 8 AS join_digest FROM json_each($4) ORDER BY key) AS u"
        )
    };
}
pub(crate) use page_records;

/// Binds a page's records, and their join digests (parallel to them), for [`page_records`]: the
/// JSON columns as the text they are stored as, the hash in hex.
pub(crate) fn bind_page_records<'q>(
    query: Query<'q>,
    writes: &[(PreparedRecord, ChangeKind)],
    join_digests: &[Option<String>],
) -> Result<Query<'q>, StoreError> {
    let rows = writes
        .iter()
        .zip(join_digests)
        .map(|((r, _), digest)| {
            let hash: String = r.hash.iter().map(|b| format!("{b:02x}")).collect();
            Ok(serde_json::json!([
                r.model.as_str(),
                r.id,
                r.remote_id,
                r.parent_id,
                serde_json::to_string(&r.data)?,
                r.remote_data.as_ref().map(serde_json::to_string).transpose()?,
                hash,
                r.remote_created_at.map(clock::to_text),
                digest,
            ]))
        })
        .collect::<Result<Vec<Value>, StoreError>>()?;
    Ok(query.bind(serde_json::to_string(&rows)?))
}
