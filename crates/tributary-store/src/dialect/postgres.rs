//! Postgres's side of the seam (see the parent module).

use std::time::Duration;

use serde::Serialize;
use serde_json::Value;
use sqlx::Row as _;
use sqlx::types::Json;
use tributary_model::Timestamp;

use crate::ids::lock_key;
use crate::{ChangeKind, DeliveryAttempt, PreparedRecord, StoreError};

pub(crate) type Pool = sqlx::PgPool;
pub(crate) type Conn = sqlx::PgConnection;
pub(crate) type Tx = sqlx::Transaction<'static, sqlx::Postgres>;
pub(crate) type Row = sqlx::postgres::PgRow;
pub(crate) type Store = crate::PgStore;
pub(crate) type Query<'q> = sqlx::query::Query<'q, sqlx::Postgres, <sqlx::Postgres as sqlx::Database>::Arguments>;

/// The backend's name, for logs and the operator API.
pub(crate) const NAME: &str = "postgres";

/// Whether a write transaction may read through a second pooled connection while it holds the
/// integration's write lock. On Postgres the lock is advisory, so another connection reads
/// freely, and what it reads cannot change until the lock is released.
pub(crate) const READS_BESIDE_A_WRITE: bool = true;

/// The backend's migrations.
macro_rules! migrator {
    () => {
        sqlx::migrate!("../../migrations/postgres")
    };
}
pub(crate) use migrator;

/// Whether sqlx's migrations table exists (a fresh database has none).
pub(crate) const MIGRATIONS_TABLE_EXISTS: &str = "SELECT to_regclass('_sqlx_migrations') IS NOT NULL";

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

/// A write transaction holding the integration's write lock (a transaction-scoped advisory
/// lock), which page writes, fence and scope changes take too.
pub(crate) async fn begin_locked(pool: &Pool, integration_id: &str) -> Result<Tx, StoreError> {
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(lock_key(integration_id))
        .execute(&mut *tx)
        .await?;
    Ok(tx)
}

/// A transaction for a read of the integration's records: it waits for an in-flight writer of
/// the integration (the shared side of [`begin_locked`]'s lock), then lets other readers in.
///
/// `statement_timeout` bounds every later statement of the transaction, the wait for the lock
/// included; it is set by its own statement because a setting changed inside a statement does
/// not bound that statement.
///
/// `custom_plans` asks for custom plans for the rest of the transaction: the general record
/// query uses optional predicates (`$3 IS NULL OR updated_at > $3`), and the generic plan
/// Postgres switches to after five executions of a prepared statement cannot drop the absent
/// ones, so it scanned and sorted a model's rows to find one page (measured: 9 ms instead of
/// 2 ms for a page of one employment among 5,000). Planning costs too, so statements without
/// optional predicates keep their generic plans.
///
/// The settings and the lock go to the server as one simple query (`raw_sql`): one round trip
/// after `BEGIN` instead of two, for a page of stored renderings is a few milliseconds of work
/// and each round trip a measurable share of it (BENCHMARKS.md §4). Each statement of a simple
/// query runs under the `statement_timeout` the ones before it set. Only integers are written
/// into the text (the timeout in milliseconds and the lock's key), so nothing a caller sends
/// reaches it. `BEGIN` stays a statement of its own: sqlx cannot recover a connection whose
/// custom `BEGIN` string failed part-way (it went back to the pool inside an aborted
/// transaction).
pub(crate) async fn begin_read(
    pool: &Pool,
    integration_id: &str,
    statement_timeout: Option<Duration>,
    custom_plans: bool,
) -> Result<Tx, StoreError> {
    let mut tx = pool.begin().await?;
    let mut setup = String::new();
    if let Some(timeout) = statement_timeout {
        // Whole milliseconds, at least one: `0` would switch the timeout off.
        let millis = timeout.as_millis().clamp(1, i32::MAX as u128);
        setup.push_str(&format!("SET LOCAL statement_timeout = {millis}; "));
    }
    if custom_plans {
        setup.push_str("SET LOCAL plan_cache_mode = force_custom_plan; ");
    }
    // Quoted and cast: a bare i64::MIN would parse as a numeric, not a bigint.
    setup.push_str(&format!(
        "SELECT pg_advisory_xact_lock_shared(CAST('{}' AS bigint))",
        lock_key(integration_id)
    ));
    sqlx::raw_sql(sqlx::AssertSqlSafe(setup)).execute(&mut *tx).await?;
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

/// The condition on `records` that every filter of `$8` holds (`codec::filters_json` lists
/// the kinds).
macro_rules! record_filters {
    () => {
        concat!(
            // Most kinds hold when one of the record's candidate texts for the filter (the field;
            // the array's elements; the object's entry; the entries of an array of objects) is in
            // any_of, compared case-insensitively when asked. Comparisons use the C collation, so
            // ISO 8601 dates and times order as time.
            "AND NOT EXISTS (SELECT 1 FROM jsonb_to_recordset($8::jsonb) ",
            "    AS f(kind text, field text, key text, any_of text[], ci boolean, or_missing boolean) ",
            "  WHERE NOT coalesce(CASE f.kind ",
            "  WHEN 'entry_null' THEN coalesce(jsonb_typeof(records.data -> f.field -> f.key), 'null') = 'null' ",
            "  WHEN 'equals_or_null' THEN records.data ->> f.field IS NULL OR (records.data ->> f.field) = ANY(f.any_of) ",
            "  WHEN 'contains' THEN EXISTS (SELECT 1 FROM unnest(f.any_of) AS v WHERE strpos(",
            "    CASE WHEN f.ci THEN lower(records.data ->> f.field) ELSE records.data ->> f.field END, ",
            "    CASE WHEN f.ci THEN lower(v) ELSE v END) > 0) ",
            "  WHEN 'gte' THEN coalesce((records.data ->> f.field) COLLATE \"C\" >= f.any_of[1], f.or_missing) ",
            "  WHEN 'lte' THEN coalesce((records.data ->> f.field) COLLATE \"C\" <= f.any_of[1], f.or_missing) ",
            "  WHEN 'ref_has' THEN EXISTS (SELECT 1 FROM records r WHERE r.integration_id = records.integration_id ",
            "    AND r.id = records.data ->> f.key AND r.data ->> f.field = ANY(f.any_of)) ",
            "  WHEN 'child_has' THEN EXISTS (SELECT 1 FROM records c WHERE c.integration_id = records.integration_id ",
            "    AND c.model = f.key AND c.parent_id = records.id AND c.remote_deleted_at IS NULL ",
            "    AND c.data ->> f.field = ANY(f.any_of)) ",
            "  ELSE EXISTS (SELECT 1 FROM (",
            "        SELECT records.data ->> f.field WHERE f.kind = 'equals' ",
            "        UNION ALL SELECT jsonb_array_elements_text(records.data -> f.field) ",
            "          WHERE f.kind = 'array' AND jsonb_typeof(records.data -> f.field) = 'array' ",
            "        UNION ALL SELECT records.data -> f.field ->> f.key WHERE f.kind = 'entry' ",
            "          AND jsonb_typeof(records.data -> f.field -> f.key) IN ('string', 'number', 'boolean') ",
            "        UNION ALL SELECT e.value ->> f.key FROM jsonb_array_elements(CASE WHEN f.kind = 'array_entry' ",
            "          AND jsonb_typeof(records.data -> f.field) = 'array' THEN records.data -> f.field ELSE '[]'::jsonb END) AS e(value)",
            "      ) AS c(t) WHERE (CASE WHEN f.ci THEN lower(c.t) ELSE c.t END) IN ",
            "        (SELECT CASE WHEN f.ci THEN lower(v) ELSE v END FROM unnest(f.any_of) AS v)) END, false)) ",
        )
    };
}
pub(crate) use record_filters;
/// The elements of the JSON array parameter `$p` ([`json`]) as the row source `u(value, key)`,
/// `key` their position.
macro_rules! json_rows {
    ($p:literal) => {
        concat!("jsonb_array_elements(", $p, ") WITH ORDINALITY AS u(value, key)")
    };
}
pub(crate) use json_rows;

/// A text expression read as an instant (a [`json_rows`] element holding [`time`]).
macro_rules! timestamptz {
    ($e:literal) => {
        concat!($e, "::timestamptz")
    };
}
pub(crate) use timestamptz;

/// The list column `$c` (`text[]`) with the list parameter `$p` ([`strings`]) added, sorted
/// and distinct.
macro_rules! sorted_union {
    ($c:literal, $p:literal) => {
        concat!(
            "ARRAY(SELECT DISTINCT v FROM UNNEST(",
            $c,
            " || ",
            $p,
            "::text[]) AS v ORDER BY v)"
        )
    };
}
pub(crate) use sorted_union;

/// Locks the rows of `d` read, passing over those another claim holds instead of waiting; the
/// lease the claim writes is what keeps a row from being claimed again once that claim commits.
macro_rules! skip_locked {
    () => {
        " FOR UPDATE OF d SKIP LOCKED"
    };
}
pub(crate) use skip_locked;

/// Records `attempt` and its outcome (see `attempt_outcome!`) in one statement, atomic on its
/// own: the deliverer records every attempt, so this is on the outbox's hot path and costs one
/// round trip instead of four. False when there is no such delivery.
pub(crate) async fn record_attempt(
    pool: &Pool,
    attempt: &DeliveryAttempt,
    state: &str,
    next_attempt_at: Option<Timestamp>,
    at: Timestamp,
) -> Result<bool, StoreError> {
    let done = sqlx::query(concat!(
        "WITH updated AS (",
        super::attempt_outcome!(),
        " RETURNING id) ",
        super::insert_attempt!(),
        "SELECT id, $7, $6, $2, $8, $9, $3 FROM updated"
    ))
    .bind(&attempt.delivery_id)
    .bind(attempt.status)
    .bind(&attempt.error)
    .bind(state)
    .bind(next_attempt_at)
    .bind(at)
    .bind(attempt.attempt)
    .bind(attempt.latency_ms)
    .bind(&attempt.response_excerpt)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() > 0)
}

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
