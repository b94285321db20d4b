//! The fence check every fenced write makes under the integration's write lock (invariant I4).
//!
//! Reading the fence under the lock matters: lease acquisition bumps it under the same lock,
//! so a write either commits before the new lease exists or is fenced.

use crate::StoreError;
use crate::dialect::per_dialect;

per_dialect! {
    /// A write transaction holding the integration's write lock, once `held` is checked to be
    /// the integration's current fence.
    pub(crate) async fn begin_fenced(pool: &Pool, integration_id: &str, held: i64) -> Result<Tx, StoreError> {
        Ok(begin_fenced_scope(pool, integration_id, held).await?.0)
    }

    /// [`begin_fenced`], also returning the integration's scope version: read under the lock,
    /// because `set_scope_config` moves it under the same lock.
    pub(crate) async fn begin_fenced_scope(
        pool: &Pool,
        integration_id: &str,
        held: i64,
    ) -> Result<(Tx, i64), StoreError> {
        let mut tx = begin_locked(pool, integration_id).await?;
        let current: Option<(i64, i64)> = sqlx::query_as("SELECT fence, scope_version FROM integrations WHERE id = $1")
            .bind(integration_id)
            .fetch_optional(&mut *tx)
            .await?;
        match current {
            None => Err(StoreError::NotFound(format!("integration {integration_id}"))),
            Some((current, _)) if current != held => Err(StoreError::Fenced {
                integration_id: integration_id.to_string(),
                held,
                current,
            }),
            Some((_, scope_version)) => Ok((tx, scope_version)),
        }
    }
}
