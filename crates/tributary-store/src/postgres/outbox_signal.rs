//! LISTEN/NOTIFY on the webhook outbox: a trigger (migration 0007) notifies `CHANNEL` when a
//! statement queues deliveries, at its transaction's commit; deliverers listen, so an event goes
//! out when it is committed rather than at the next poll.

use async_trait::async_trait;
use sqlx::PgPool;
use sqlx::postgres::PgListener;

use crate::{OutboxListener, StoreError};

/// The channel migration 0007's trigger notifies.
const CHANNEL: &str = "tributary_outbox";

/// A dedicated connection listening on [`CHANNEL`].
pub(super) struct PgOutboxListener(PgListener);

pub(super) async fn listen(pool: &PgPool) -> Result<PgOutboxListener, StoreError> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(CHANNEL).await?;
    Ok(PgOutboxListener(listener))
}

#[async_trait]
impl OutboxListener for PgOutboxListener {
    async fn changed(&mut self) -> Result<(), StoreError> {
        // `None`: the connection was lost and has been re-established; what was notified in
        // between is lost, so report a change and let the caller claim.
        if self.0.try_recv().await?.is_some() {
            // Many queued statements, one look: drop the notifications already received.
            while self.0.next_buffered().is_some() {}
        }
        Ok(())
    }
}
