//! The sync engine: runs one sync of one integration, page by page.
//!
//! Per page: scope filter → ids and content hash → one fenced transaction that upserts only
//! what changed, records what the run saw and commits the checkpoint. At the end of a complete
//! (FULL or DEFAULT) run that saw every stream through, the records it did not see are
//! confirmed absent at the source (`confirm.rs`) and the deletion sweep marks those. A [`RunControl`] is checked at every page boundary, so a run can be
//! paused (preempted by a delta) or cancelled without losing a committed page.

mod checkpoint;
mod confirm;
mod control;
mod engine;
mod error;
mod heartbeat;
mod listing;
mod policy;
mod prepare;
mod schedule;
mod telemetry;

pub use checkpoint::{Checkpoint, Position};
pub use control::{PauseRequest, Progress, RunControl, Signal};
pub use engine::{EngineConfig, RunOutcome, SyncEngine};
pub use error::EngineError;
pub use heartbeat::Heartbeat;
pub use prepare::prepare_record;
pub use schedule::{DELTA_OVERLAP, Schedule, default_intervals, pick_sync_type, sync_type_due};
pub use tributary_model::strip_pointer;
