//! The simulated bamboohr API.

use axum::Router;

use crate::SimState;

/// Routes relative to the tool's base URL.
pub fn router() -> Router<SimState> {
    Router::new()
}
