use async_trait::async_trait;
use serde_json::Value;
use tributary_model::{Model, SourceRecord, Timestamp, ToolKind};

use crate::SourceError;

/// One paginated listing of a tool (often one endpoint, sometimes several stitched together)
/// and the unified models its records map to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stream {
    pub name: &'static str,
    /// The models this stream yields. The engine skips a stream whose models are all disabled
    /// by scope (invariant I6: disabled models are never requested).
    pub models: &'static [Model],
    /// Whether the tool can filter this stream by "changed since". In a DELTA, streams without
    /// it are fetched whole (they are small reference lists) but still never delete.
    pub supports_since: bool,
}

/// What a page request is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FetchMode {
    Full,
    /// Only records changed at the source since this instant.
    Delta {
        since: Timestamp,
    },
}

/// A page of unified records and the cursor of the next one (`None`: the stream is done).
/// Cursors are opaque JSON so a checkpoint can store any tool's pagination state.
#[derive(Debug, Clone, Default)]
pub struct Page {
    pub records: Vec<SourceRecord>,
    pub next: Option<Value>,
}

/// A deletion candidate as the connector sees it: a record of `model` with the tool's id.
pub type RecordRef = (Model, String);

/// What looking deletion candidates up one by one found.
#[derive(Debug, Clone, Default)]
pub struct Lookup {
    /// Every record mapped from the source objects that still exist. The engine writes them
    /// like a page: a candidate among them was skipped by the listing, not deleted.
    pub found: Vec<SourceRecord>,
    /// Candidates this tool offers no single-record (or id-filtered) endpoint for; the engine
    /// confirms them with another listing pass instead.
    pub unchecked: Vec<RecordRef>,
}

/// A source tool, mapped to the unified model.
#[async_trait]
pub trait Connector: Send + Sync {
    fn tool(&self) -> ToolKind;

    /// The streams of a sync, in the order they are fetched. Order matters only for
    /// checkpoints, which name a stream by its index.
    fn streams(&self) -> Vec<Stream>;

    /// Fetches one page of `stream`, starting at `cursor` (`None`: the first page).
    async fn fetch_page(&self, stream: &Stream, cursor: Option<&Value>, mode: FetchMode) -> Result<Page, SourceError>;

    /// Looks deletion candidates of `stream` up at the source, by the tool's single-record or
    /// id-filtered endpoints (invariant I1: a record the listing did not return is deleted only
    /// on proof). A candidate that is neither among the found records nor unchecked is
    /// confirmed absent: the tool answered that it does not exist. Default: the tool has no
    /// such endpoint, so every candidate is left to another listing pass.
    async fn lookup(&self, stream: &Stream, candidates: &[RecordRef]) -> Result<Lookup, SourceError> {
        let _ = stream;
        Ok(Lookup {
            found: Vec::new(),
            unchecked: candidates.to_vec(),
        })
    }

    /// JSON pointers (RFC 6901) into a record's `remote_data` that carry the given unified
    /// field, so the engine can strip a scope-disabled field from the raw payload too.
    fn remote_paths(&self, model: Model, field: &str) -> Vec<String>;
}
