//! Stored renderings: each live record's item of its list endpoint, kept beside its data so a
//! read serves bytes instead of decoding, joining and rendering (issue 17; migration
//! `0012_rendered`). The store keeps them current; what a rendering looks like is the
//! renderer's business (`tributary-render`), handed to the writes through [`RunWrite`].
//!
//! Every mirror write renders anew, in its own transaction and reading through it, the records
//! it changed, those whose rendering depends on one of them (the renderer's own dependencies,
//! kept in `render_deps`) and the parents of what it wrote, up to [`RENDER_BATCH`] of them with
//! what earlier writes left pending; the rest it marks pending (`crate::ops::rendered`). A
//! reader trusts only a rendering that is not pending and was made under the integration's
//! current scope version; anything else it renders live, so a late or missing rendering costs
//! time, never a different answer. The types the writes and the renderer share
//! (`Renderer`, `RenderHook`, `Rendering`, `RecordReads`, `RenderedRow`) are `crate::api`'s.
//!
//! [`RunWrite`]: crate::RunWrite

use async_trait::async_trait;
use tributary_model::Model;

use crate::{MirrorReads, RecordQuery, RecordReads, StoreError, StoredRecord};

/// The most pending records one write transaction renders; the rest wait for the next write
/// or for [`crate::MirrorWrites::render_pending`] (an engine drains that at the end of a run).
pub const RENDER_BATCH: i64 = 1000;

/// How long rendering what a run left without a rendering holds the integration's write lock
/// at a time before letting its queued writes and reads in: about what one batch of page
/// writes holds it.
pub const RENDER_LOCK_HOLD: std::time::Duration = std::time::Duration::from_millis(200);

/// [`RecordReads`] through a store's own (pooled, gap-free) reads.
pub struct StoreReads<'a, S: ?Sized>(pub &'a S);

#[async_trait]
impl<S: MirrorReads + ?Sized> RecordReads for StoreReads<'_, S> {
    async fn query_records(&self, query: &RecordQuery) -> Result<Vec<StoredRecord>, StoreError> {
        self.0.query_records(query).await
    }

    async fn records_by_parent(
        &self,
        integration_id: &str,
        model: Model,
        parent_ids: &[String],
    ) -> Result<Vec<StoredRecord>, StoreError> {
        self.0.records_by_parent(integration_id, model, parent_ids).await
    }
}
