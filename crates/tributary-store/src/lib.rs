//! The mirror store: one [`MirrorStore`] trait, implemented on Postgres ([`PgStore`]) for
//! production and on SQLite ([`SqliteStore`]) for the embedded mode.

mod api;
mod error;

pub use api::*;
pub use error::StoreError;
