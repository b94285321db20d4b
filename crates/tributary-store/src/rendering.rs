//! Stored renderings: each live record's item of its list endpoint, kept beside its data so a
//! read serves bytes instead of decoding, joining and rendering (issue 17; migration
//! `0012_rendered`). The store keeps them current; what a rendering looks like is the
//! renderer's business (`tributary-render`), handed to the writes through [`RunWrite`].
//!
//! Every mirror write marks pending, in its own transaction, the records it changed, those
//! whose rendering depends on one of them (the renderer's own dependencies, kept in
//! `render_deps`) and the parents of what it wrote, then renders up to
//! [`RENDER_BATCH`] pending records in that same transaction, reading through it. A reader
//! trusts only a rendering that is not pending and was made under the integration's current
//! scope version; anything else it renders live, so a late or missing rendering costs time,
//! never a different answer.
//!
//! [`RunWrite`]: crate::RunWrite

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use tributary_model::Model;

use crate::{Integration, MirrorReads, RecordQuery, StoreError, StoredRecord};

/// The most pending records one write transaction renders; the rest wait for the next write
/// or for [`crate::MirrorWrites::render_pending`] (an engine drains that at the end of a run).
pub const RENDER_BATCH: i64 = 1000;

/// The reads a rendering needs: records by id and by parent.
#[async_trait]
pub trait RecordReads: Send + Sync {
    async fn query_records(&self, query: &RecordQuery) -> Result<Vec<StoredRecord>, StoreError>;
    /// Live and deleted records of `model` whose `parent_id` is one of `parent_ids`.
    async fn records_by_parent(
        &self,
        integration_id: &str,
        model: Model,
        parent_ids: &[String],
    ) -> Result<Vec<StoredRecord>, StoreError>;
}

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

/// One record's rendering.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendering {
    pub id: String,
    /// The JSON text of the record's item, exactly as the read API writes it.
    pub body: String,
    /// Every other record id the rendering shows or names (found or not), so that a change of
    /// one of them marks this rendering pending.
    pub deps: Vec<String>,
}

/// Renders live records into their list items.
#[async_trait]
pub trait Renderer: Send + Sync {
    /// One [`Rendering`] per record of `records` (live records of `integration`), reading what
    /// they nest through `reads`, which sees the caller's transaction.
    async fn render(
        &self,
        integration: &Integration,
        reads: &dyn RecordReads,
        records: Vec<StoredRecord>,
    ) -> Result<Vec<Rendering>, StoreError>;
}

/// The renderer a run's writes keep renderings current with; a write without one only marks
/// them pending.
#[derive(Clone)]
pub struct RenderHook(pub Arc<dyn Renderer>);

impl fmt::Debug for RenderHook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RenderHook")
    }
}

/// One row of a page read from stored renderings: the record's id and its rendering, or
/// `None` where the reader must render it live (pending, or made under another scope).
#[derive(Debug, Clone, PartialEq)]
pub struct RenderedRow {
    pub id: String,
    pub body: Option<String>,
}
