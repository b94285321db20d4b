//! The vocabulary every tributary crate shares: which unified models exist, how their ids are
//! derived, what a connector hands the engine, what a customer's scope config says, and the
//! states a sync run moves through.

mod id;
mod model;
mod pointer;
mod record;
mod scope;
mod sync;

pub use id::{IdGen, record_id};
pub use model::{Category, Model};
pub use pointer::{has_pointer, strip_pointer};
pub use record::{SourceRecord, content_hash};
pub use scope::{FieldScope, ModelScope, ScopeConfig, ScopeSetting};
pub use sync::{PauseReason, RunCounts, RunState, SyncType, ToolKind};

/// Timestamps are UTC everywhere: in the mirror, on the wire and in logs.
pub type Timestamp = chrono::DateTime<chrono::Utc>;
