//! The mirror store: one trait per concern (`roles`: [`Integrations`], [`Runs`],
//! [`MirrorWrites`], [`MirrorReads`], …; [`MirrorStore`] is all of them), implemented on Postgres
//! ([`PgStore`]) for production and on SQLite ([`SqliteStore`]) for the embedded mode.
//!
//! Both backends keep the same guarantees, checked by one conformance suite
//! (`tests/conformance.rs`):
//! - every mirror write happens in one transaction under the integration's write lock, after
//!   checking the run's fence token (invariant I4);
//! - a write takes its timestamp only once it holds that lock, and reads wait for an in-flight
//!   writer, so `updated_after` never skips a commit (I3);
//! - unchanged records are not written at all (I2);
//! - credentials are sealed with XChaCha20-Poly1305 before they reach the database (I8).

mod api;
mod clock;
mod codec;
mod crypto;
mod dialect;
mod error;
mod ids;
mod joins;
mod ops;
mod page;
mod postgres;
mod raw_json;
mod rendering;
mod roles;
mod schedules;
mod schema;
mod sqlite;
#[cfg(feature = "testing")]
pub mod testing;
mod webhook_payloads;

pub use api::*;
pub use crypto::{CredentialKey, KeyError};
pub use error::{StoreError, StoreErrorKind};
pub use postgres::{PgPoolSettings, PgStore};
pub use raw_json::RawJson;
pub use rendering::{RENDER_BATCH, RENDER_LOCK_HOLD, StoreReads};
pub use roles::*;
pub use schema::SchemaStatus;
pub use sqlite::SqliteStore;
