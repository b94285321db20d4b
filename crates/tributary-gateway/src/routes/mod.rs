//! The route table. Each unified model's list endpoint lives in `<category>/<model>.rs` and
//! is registered here under `Model::api_path()`.

pub mod hris;
pub mod meta;

use axum::Router;
use axum::http::{Method, Uri};
use axum::routing::get;
use tributary_model::Model;

use crate::error::ApiError;
use crate::state::GatewayState;

/// Routes below `/v1`: everything that needs an API key.
pub fn v1() -> Router<GatewayState> {
    Router::new()
        .route("/check-api-key", get(meta::check_api_key))
        .route(Model::Employees.api_path(), get(hris::employees::list))
}

pub async fn not_found(uri: Uri) -> ApiError {
    ApiError::RouteNotFound(uri.path().to_owned())
}

pub async fn method_not_allowed(method: Method) -> ApiError {
    ApiError::MethodNotAllowed(method.to_string())
}
