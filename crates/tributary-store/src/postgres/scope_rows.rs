//! Rows a complete pass did not rewrite under the current scope (the tool no longer lists
//! them), and rewriting them stripped: so a disabled value is not kept, deleted rows included.

use sqlx::PgPool;
use sqlx::types::Json;

use super::write_lock;
use crate::ops::rows::postgres as rows;
use crate::page;
use crate::{RunWrite, StoreError, StoredRecord};

pub(crate) async fn before_scope(
    pool: &PgPool,
    integration_id: &str,
    scope_version: i64,
    after_id: Option<&str>,
    limit: i64,
) -> Result<Vec<StoredRecord>, StoreError> {
    let found = sqlx::query(concat!(
        "SELECT model, id, remote_id, parent_id, data, remote_data::text AS remote_data, remote_created_at, ",
        "changed_at, updated_at, remote_deleted_at, scope_version FROM records ",
        "WHERE integration_id = $1 AND scope_version < $2 AND ($3::text IS NULL OR id > $3) ORDER BY id LIMIT $4"
    ))
    .bind(integration_id)
    .bind(scope_version)
    .bind(after_id)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    found.iter().map(rows::record).collect()
}

pub(crate) async fn restrip(
    pool: &PgPool,
    run: &RunWrite,
    scope_version: i64,
    records: &[StoredRecord],
) -> Result<u64, StoreError> {
    let mut tx = pool.begin().await?;
    let current = write_lock::lock_fenced_scope(&mut tx, &run.integration_id, run.fence).await?;
    page::check_scope(run, scope_version, current, None)?;
    let mut rewritten = 0;
    for r in records {
        // Only a row still older: a page of this version may have rewritten it meanwhile.
        let done = sqlx::query(concat!(
            "UPDATE records SET data = $4, remote_data = $5::jsonb, scope_version = $6 ",
            "WHERE integration_id = $1 AND model = $2 AND id = $3 AND scope_version < $6"
        ))
        .bind(&run.integration_id)
        .bind(r.model.as_str())
        .bind(&r.id)
        .bind(Json(&r.data))
        .bind(r.remote_data.as_ref().map(|raw| raw.get()))
        .bind(scope_version)
        .execute(&mut *tx)
        .await?;
        rewritten += done.rows_affected();
    }
    tx.commit().await?;
    Ok(rewritten)
}
