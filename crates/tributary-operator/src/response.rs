//! The success envelope, as the gateway's: `{"status":"success","data":...}`.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

#[derive(Debug, Serialize)]
pub struct Success<T> {
    status: &'static str,
    data: T,
}

impl<T: Serialize> Success<T> {
    pub fn new(data: T) -> Self {
        Self {
            status: "success",
            data,
        }
    }

    /// With a status other than 200 (202 for a signal a worker has yet to act on).
    pub fn with_status(self, status: StatusCode) -> Response {
        (status, Json(self)).into_response()
    }
}

impl<T: Serialize> IntoResponse for Success<T> {
    fn into_response(self) -> Response {
        Json(self).into_response()
    }
}
