//! The contract between the sync engine and the source tools.
//!
//! A [`Connector`] lists the streams a tool offers and fetches them a page at a time, already
//! mapped to the unified model. Every request goes through a [`SourceClient`], which owns the
//! retry policy, the per-integration rate budget and the classification of failures, so no
//! connector re-implements them.

mod budget;
mod client;
mod connector;
mod error;
mod pace;
mod secret;

pub use budget::{SharedBudget, SharedQuota};
pub use client::{BodyVerdict, ClientConfig, SourceClient, SourceResponse};
pub use connector::{Connector, FetchMode, Lookup, Page, RecordRef, Stream};
pub use error::SourceError;
pub use pace::RateLimit;
pub use secret::Secret;
