//! The sync engine end to end: connectors over real HTTP against the simulator, the mirror on
//! Postgres and on SQLite. One file per behaviour.

mod support;

mod changes;
mod deletions;
mod delta;
mod faults;
mod property;
mod resume;
mod resync;
mod scope;
mod scope_traces;
mod shifting;
mod sync_type;
