//! Records as the read API shows them: Kombo's response shapes, compiled from its OpenAPI
//! document (`openapi`, `schema`), the endpoint table of which records each model nests
//! (`catalog`), and the assembly that loads those and renders a page's items (`assemble`),
//! written as ordered JSON (`wire`).
//!
//! Two callers render the same way: the gateway, live, for a row whose stored rendering is not
//! ready, and every mirror write, through [`StoredRenderer`], which keeps each live record's
//! item stored beside it (see `tributary_store::Renderer`). Both go through
//! [`render_items`], so a stored page and a live one are the same bytes.

pub mod assemble;
pub mod catalog;
mod items;
pub mod openapi;
pub mod schema;
mod stored;
pub mod wire;

pub use assemble::Item;
pub use items::render_items;
pub use stored::StoredRenderer;
