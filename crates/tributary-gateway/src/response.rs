//! Kombo's success envelope: `{"status":"success","data":...}`.

use axum::Json;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::wire::Wire;

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

    /// The data, for callers that run a handler in-process (the operator console).
    pub fn into_data(self) -> T {
        self.data
    }
}

impl<T: Serialize> IntoResponse for Success<T> {
    fn into_response(self) -> Response {
        Json(self).into_response()
    }
}

/// The `data` of a list endpoint: `next` is `null` on the last page.
#[derive(Debug, Serialize)]
pub struct ListData {
    pub next: Option<String>,
    pub results: Vec<Wire>,
}
