//! Rows a complete pass did not rewrite under the current scope; see the Postgres twin.

use sqlx::SqlitePool;

use super::write_lock;
use crate::ops::rows::sqlite as rows;
use crate::page;
use crate::{RunWrite, StoreError, StoredRecord};

pub(crate) async fn before_scope(
    pool: &SqlitePool,
    integration_id: &str,
    scope_version: i64,
    after_id: Option<&str>,
    limit: i64,
) -> Result<Vec<StoredRecord>, StoreError> {
    let found = sqlx::query(concat!(
        "SELECT model, id, remote_id, parent_id, data, remote_data, remote_created_at, ",
        "changed_at, updated_at, remote_deleted_at, scope_version FROM records ",
        "WHERE integration_id = ?1 AND scope_version < ?2 AND (?3 IS NULL OR id > ?3) ORDER BY id LIMIT ?4"
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
    pool: &SqlitePool,
    run: &RunWrite,
    scope_version: i64,
    records: &[StoredRecord],
) -> Result<u64, StoreError> {
    let mut tx = write_lock::begin(pool).await?;
    let current = write_lock::check_fence_scope(&mut tx, &run.integration_id, run.fence).await?;
    page::check_scope(run, scope_version, current, None)?;
    let mut rewritten = 0;
    for r in records {
        let done = sqlx::query(concat!(
            "UPDATE records SET data = ?4, remote_data = ?5, scope_version = ?6 ",
            "WHERE integration_id = ?1 AND model = ?2 AND id = ?3 AND scope_version < ?6"
        ))
        .bind(&run.integration_id)
        .bind(r.model.as_str())
        .bind(&r.id)
        .bind(serde_json::to_string(&r.data)?)
        .bind(r.remote_data.as_ref().map(|raw| raw.get().to_owned()))
        .bind(scope_version)
        .execute(&mut *tx)
        .await?;
        rewritten += done.rows_affected();
    }
    tx.commit().await?;
    Ok(rewritten)
}
