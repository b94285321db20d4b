//! Kombo's success envelope: `{"status":"success","data":...}`.

use axum::Json;
use axum::http::header;
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

/// A list page whose items are JSON text already (stored renderings): written as
/// `Success<ListData>` would write it, byte for byte, without parsing them again.
#[derive(Debug)]
pub struct RawList {
    pub next: Option<String>,
    pub items: Vec<String>,
}

impl IntoResponse for RawList {
    fn into_response(self) -> Response {
        const HEAD: &[u8] = br#"{"status":"success","data":{"next":"#;
        let size = HEAD.len() + 32 + self.items.iter().map(|i| i.len() + 1).sum::<usize>();
        let mut body = Vec::with_capacity(size);
        body.extend_from_slice(HEAD);
        // A cursor is base64url text, so this cannot fail; `null` if it ever did.
        if serde_json::to_writer(&mut body, &self.next).is_err() {
            body.extend_from_slice(b"null");
        }
        body.extend_from_slice(br#","results":["#);
        for (i, item) in self.items.iter().enumerate() {
            if i > 0 {
                body.push(b',');
            }
            body.extend_from_slice(item.as_bytes());
        }
        body.extend_from_slice(b"]}}");
        ([(header::CONTENT_TYPE, "application/json")], body).into_response()
    }
}
