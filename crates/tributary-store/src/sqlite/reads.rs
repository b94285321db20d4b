//! Gateway reads. Record reads open with `BEGIN IMMEDIATE` so they wait for an in-flight
//! writer and then see its commit (invariant I3; `sqlite/mod.rs` explains why a plain WAL
//! snapshot read is not enough).

use sqlx::SqlitePool;
use tributary_model::Model;

use super::write_lock;
use crate::codec::filters_json;
use crate::ops::rows::sqlite as rows;
use crate::{Change, RecordQuery, StoreError, StoredRecord, clock};

/// The columns `rows::record` reads, `remote_data` given as an expression.
macro_rules! columns {
    ($remote_data:literal) => {
        concat!(
            "model, id, remote_id, parent_id, data, ",
            $remote_data,
            " AS remote_data, remote_created_at, changed_at, updated_at, remote_deleted_at, scope_version"
        )
    };
}

/// The text Postgres' `->>` gives for the JSON text `$j`: strings unquoted, other scalars as
/// JSON (`true`, `42`), JSON null (and a missing value) as SQL NULL.
macro_rules! scalar_text {
    ($j:literal) => {
        concat!(
            "(CASE json_type(",
            $j,
            ") WHEN 'text' THEN json_extract(",
            $j,
            ", '$') WHEN 'null' THEN NULL ELSE ",
            $j,
            " END)"
        )
    };
}

macro_rules! field {
    () => {
        "records.data -> (f.value ->> 'field')"
    };
}

/// The object at `data->field` (`{}` when it is not one), whose entries are matched by key
/// with `json_each`: a key is the caller's text (a custom field's name), and `->` would read
/// one starting with `$` as a JSON path.
macro_rules! object_field {
    () => {
        "(CASE WHEN json_type(records.data -> (f.value ->> 'field')) = 'object' \
         THEN records.data -> (f.value ->> 'field') ELSE '{}' END)"
    };
}

pub(super) async fn query(pool: &SqlitePool, query: &RecordQuery) -> Result<Vec<StoredRecord>, StoreError> {
    let ids = query.ids.as_ref().map(serde_json::to_string).transpose()?;
    let remote_ids = query.remote_ids.as_ref().map(serde_json::to_string).transpose()?;
    let mut tx = write_lock::begin(pool).await?;
    let found = sqlx::query(concat!(
        "SELECT ",
        columns!("CASE WHEN ?11 THEN remote_data END"),
        " FROM records WHERE integration_id = ?1 AND model = ?2 ",
        "AND (?3 IS NULL OR updated_at > ?3) ",
        "AND (?4 OR remote_deleted_at IS NULL) ",
        "AND (?5 IS NULL OR id IN (SELECT value FROM json_each(?5))) ",
        "AND (?6 IS NULL OR remote_id IN (SELECT value FROM json_each(?6))) ",
        "AND (?7 IS NULL OR id > ?7) ",
        "AND (?10 IS NULL OR remote_created_at >= ?10) ",
        // Every filter must hold (see the Postgres twin). lower() folds ASCII only, which
        // covers the enum-like values the gateway filters on; text compares bytewise.
        "AND NOT EXISTS (SELECT 1 FROM json_each(?8) f WHERE NOT coalesce(CASE f.value ->> 'kind' ",
        "  WHEN 'entry_null' THEN NOT EXISTS (SELECT 1 FROM json_each(",
        object_field!(),
        ") o WHERE o.key = (f.value ->> 'key') AND o.type <> 'null') ",
        "  WHEN 'equals_or_null' THEN ",
        scalar_text!("records.data -> (f.value ->> 'field')"),
        " IS NULL OR ",
        scalar_text!("records.data -> (f.value ->> 'field')"),
        " IN (SELECT value FROM json_each(f.value, '$.any_of')) ",
        "  WHEN 'contains' THEN EXISTS (SELECT 1 FROM json_each(f.value, '$.any_of') v WHERE instr(",
        "    CASE WHEN f.value ->> 'ci' THEN lower(",
        scalar_text!("records.data -> (f.value ->> 'field')"),
        ") ELSE ",
        scalar_text!("records.data -> (f.value ->> 'field')"),
        " END, CASE WHEN f.value ->> 'ci' THEN lower(v.value) ELSE v.value END) > 0) ",
        "  WHEN 'gte' THEN coalesce(",
        scalar_text!("records.data -> (f.value ->> 'field')"),
        " >= (f.value ->> '$.any_of[0]'), f.value ->> 'or_missing') ",
        "  WHEN 'lte' THEN coalesce(",
        scalar_text!("records.data -> (f.value ->> 'field')"),
        " <= (f.value ->> '$.any_of[0]'), f.value ->> 'or_missing') ",
        "  WHEN 'ref_has' THEN EXISTS (SELECT 1 FROM records r WHERE r.integration_id = records.integration_id ",
        "    AND r.id = (records.data ->> (f.value ->> 'key')) AND (r.data ->> (f.value ->> 'field')) IN ",
        "    (SELECT value FROM json_each(f.value, '$.any_of'))) ",
        "  WHEN 'child_has' THEN EXISTS (SELECT 1 FROM records c WHERE c.integration_id = records.integration_id ",
        "    AND c.model = (f.value ->> 'key') AND c.parent_id = records.id AND c.remote_deleted_at IS NULL ",
        "    AND (c.data ->> (f.value ->> 'field')) IN (SELECT value FROM json_each(f.value, '$.any_of'))) ",
        "  ELSE EXISTS (SELECT 1 FROM (",
        "      SELECT ",
        scalar_text!("records.data -> (f.value ->> 'field')"),
        " AS t WHERE f.value ->> 'kind' = 'equals' ",
        "      UNION ALL SELECT CASE e.type WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' WHEN 'null' THEN NULL ",
        "        ELSE CAST(e.value AS TEXT) END FROM json_each(CASE WHEN f.value ->> 'kind' = 'array' ",
        "        AND json_type(",
        field!(),
        ") = 'array' THEN ",
        field!(),
        " ELSE '[]' END) e ",
        "      UNION ALL SELECT CASE o.type WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' ",
        "        ELSE CAST(o.value AS TEXT) END FROM json_each(CASE WHEN f.value ->> 'kind' = 'entry' THEN ",
        object_field!(),
        " ELSE '{}' END) o WHERE o.key = (f.value ->> 'key') ",
        "        AND o.type IN ('text', 'integer', 'real', 'true', 'false')",
        "      UNION ALL SELECT json_extract(e.value, '$.' || (f.value ->> 'key')) FROM json_each(CASE WHEN ",
        "        f.value ->> 'kind' = 'array_entry' AND json_type(",
        field!(),
        ") = 'array' THEN ",
        field!(),
        " ELSE '[]' END) e WHERE e.type = 'object'",
        "    ) c WHERE (CASE WHEN f.value ->> 'ci' THEN lower(c.t) ELSE c.t END) IN ",
        "      (SELECT CASE WHEN f.value ->> 'ci' THEN lower(v.value) ELSE v.value END ",
        "       FROM json_each(f.value, '$.any_of') v)) END, 0)) ",
        "ORDER BY id LIMIT ?9"
    ))
    .bind(&query.integration_id)
    .bind(query.model.as_str())
    .bind(query.updated_after.map(clock::to_text))
    .bind(query.include_deleted)
    .bind(ids)
    .bind(remote_ids)
    .bind(query.after_id.as_deref())
    .bind(serde_json::to_string(&filters_json(query))?)
    .bind(query.limit.max(0))
    .bind(query.remote_created_after.map(clock::to_text))
    .bind(query.with_remote_data)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    found.iter().map(rows::record).collect()
}

pub(super) async fn by_parent(
    pool: &SqlitePool,
    integration_id: &str,
    model: Model,
    parent_ids: &[String],
) -> Result<Vec<StoredRecord>, StoreError> {
    if parent_ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut tx = write_lock::begin(pool).await?;
    let found = sqlx::query(concat!(
        "SELECT ",
        columns!("remote_data"),
        " FROM records WHERE integration_id = ?1 AND model = ?2 ",
        "AND parent_id IN (SELECT value FROM json_each(?3)) ORDER BY parent_id, id"
    ))
    .bind(integration_id)
    .bind(model.as_str())
    .bind(serde_json::to_string(parent_ids)?)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    found.iter().map(rows::record).collect()
}

pub(super) async fn count(
    pool: &SqlitePool,
    integration_id: &str,
    model: Model,
    include_deleted: bool,
) -> Result<i64, StoreError> {
    let n = sqlx::query_scalar(
        "SELECT count(*) FROM records WHERE integration_id = ?1 AND model = ?2 AND (?3 OR remote_deleted_at IS NULL)",
    )
    .bind(integration_id)
    .bind(model.as_str())
    .bind(include_deleted)
    .fetch_one(pool)
    .await?;
    Ok(n)
}

/// SQLite has one writer, so `seq` order is commit order and this read never skips a row.
pub(super) async fn changes_since(
    pool: &SqlitePool,
    integration_id: &str,
    after_seq: i64,
    limit: i64,
) -> Result<Vec<Change>, StoreError> {
    let found = sqlx::query(concat!(
        "SELECT seq, integration_id, model, record_id, kind, run_id, at FROM changes ",
        "WHERE integration_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3"
    ))
    .bind(integration_id)
    .bind(after_seq)
    .bind(limit.max(0))
    .fetch_all(pool)
    .await?;
    found.iter().map(rows::change).collect()
}
