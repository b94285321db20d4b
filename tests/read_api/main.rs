//! The Kombo-compatible read API end to end: a mirror filled by real syncs from the simulator
//! (Postgres and SQLite), the gateway router on a real socket, called with reqwest.

#[allow(dead_code)]
#[path = "../sync/support.rs"]
mod support;

mod gateway;
mod schema;

mod compression;
mod docs;
mod errors;
mod filters;
mod force_sync;
mod gap_free;
mod hostile;
mod inbound;
mod integrations;
mod limits;
mod lists;
mod nesting;
mod rate_limit;
mod scope;
mod stored;
