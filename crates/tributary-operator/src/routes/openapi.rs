//! `GET /openapi.json`: the OpenAPI 3.1 document of `/ops/v1`, written by hand
//! (`src/openapi.json`) and embedded. Behind the admin token like every other operator route:
//! it describes admin operations, and the clients that read it (code generators, Swagger UI)
//! can send a bearer token. `tests/openapi.rs` checks that it has an operation for every route
//! of the router and that the responses of the operator test suites match its schemas.

use axum::http::header;
use axum::response::IntoResponse;

/// The document, as served.
pub const OPENAPI: &str = include_str!("../openapi.json");

pub async fn document() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI)
}
