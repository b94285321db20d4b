//! The integration's write lock and fence check, shared by every fenced write.

use sqlx::PgConnection;

use crate::StoreError;
use crate::ids::lock_key;

/// Waits for the integration's exclusive advisory lock, held until the transaction ends.
pub(crate) async fn lock(conn: &mut PgConnection, integration_id: &str) -> Result<(), StoreError> {
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(lock_key(integration_id))
        .execute(conn)
        .await?;
    Ok(())
}

/// Readers' side: waits for an in-flight writer of the integration, then lets other readers in.
pub(super) async fn lock_shared(conn: &mut PgConnection, integration_id: &str) -> Result<(), StoreError> {
    sqlx::query("SELECT pg_advisory_xact_lock_shared($1)")
        .bind(lock_key(integration_id))
        .execute(conn)
        .await?;
    Ok(())
}

/// [`lock_shared`], and in the same round trip custom plans for the rest of the transaction:
/// the general record query uses optional predicates (`$3 IS NULL OR updated_at > $3`), and
/// the generic plan Postgres switches to after five executions of a prepared statement cannot
/// drop the absent ones, so it scanned and sorted a model's rows to find one page (measured:
/// 9 ms instead of 2 ms for a page of one employment among 5,000). Planning costs too, so
/// statements without optional predicates keep their generic plans.
pub(super) async fn lock_shared_custom_plans(conn: &mut PgConnection, integration_id: &str) -> Result<(), StoreError> {
    sqlx::query("SELECT set_config('plan_cache_mode', 'force_custom_plan', true), pg_advisory_xact_lock_shared($1)")
        .bind(lock_key(integration_id))
        .execute(conn)
        .await?;
    Ok(())
}

/// Takes the write lock, then rejects the write unless `held` is the integration's current
/// fence (invariant I4). Reading the fence under the lock matters: lease acquisition bumps it
/// under the same lock, so a write either commits before the new lease exists or is fenced.
pub(crate) async fn lock_fenced(conn: &mut PgConnection, integration_id: &str, held: i64) -> Result<(), StoreError> {
    lock_fenced_scope(conn, integration_id, held).await.map(|_| ())
}

/// [`lock_fenced`], returning the integration's scope version read in the same round trip:
/// under the lock, because `set_scope_config` moves it under the same lock.
pub(crate) async fn lock_fenced_scope(
    conn: &mut PgConnection,
    integration_id: &str,
    held: i64,
) -> Result<i64, StoreError> {
    lock(conn, integration_id).await?;
    let current: Option<(i64, i64)> = sqlx::query_as("SELECT fence, scope_version FROM integrations WHERE id = $1")
        .bind(integration_id)
        .fetch_optional(&mut *conn)
        .await?;
    match current {
        None => Err(StoreError::NotFound(format!("integration {integration_id}"))),
        Some((current, _)) if current != held => Err(StoreError::Fenced {
            integration_id: integration_id.to_string(),
            held,
            current,
        }),
        Some((_, scope_version)) => Ok(scope_version),
    }
}
