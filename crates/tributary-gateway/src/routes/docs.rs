//! The published contract: `GET /v1/openapi.json` (Kombo's document cut down to what we
//! serve), a browsable page of it at `GET /v1/docs`, and the tool logos that
//! `GET /v1/integrations/{id}` links to. None of these need an API key.

use axum::extract::Path;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::{Html, IntoResponse, Response};
use tributary_model::ToolKind;

use crate::error::ApiError;
use crate::openapi;

pub async fn openapi_json() -> Response {
    static BODY: std::sync::LazyLock<String> =
        std::sync::LazyLock::new(|| serde_json::to_string_pretty(openapi::served()).expect("the document serialises"));
    (
        [
            (CONTENT_TYPE, "application/json"),
            (CACHE_CONTROL, "public, max-age=300"),
        ],
        BODY.as_str(),
    )
        .into_response()
}

/// Scalar's API reference (loaded from its CDN), reading our document. Without network access
/// to the CDN the page still links the raw document.
pub async fn page() -> Html<&'static str> {
    Html(
        r#"<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>tributary read API</title>
</head>
<body>
  <noscript>This page needs JavaScript. The raw document: <a href="openapi.json">openapi.json</a>.</noscript>
  <script id="api-reference" data-url="openapi.json"></script>
  <script src="https://cdn.jsdelivr.net/npm/@scalar/api-reference@1"></script>
</body>
</html>
"#,
    )
}

/// `logo.svg` (the name) or `icon.svg` (its initial) of a tool.
pub async fn tool_asset(Path((tool, file)): Path<(String, String)>) -> Result<Response, ApiError> {
    let tool = ToolKind::parse(&tool).ok_or_else(|| ApiError::RouteNotFound(format!("/v1/tools/{tool}")))?;
    let svg = match file.as_str() {
        "logo.svg" => format!(
            r##"<svg xmlns="http://www.w3.org/2000/svg" width="240" height="64" viewBox="0 0 240 64"><text x="120" y="42" font-family="sans-serif" font-size="28" text-anchor="middle" fill="#1f2937">{}</text></svg>"##,
            tool.label()
        ),
        "icon.svg" => format!(
            r##"<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64" viewBox="0 0 64 64"><rect width="64" height="64" rx="12" fill="#1f2937"/><text x="32" y="43" font-family="sans-serif" font-size="30" text-anchor="middle" fill="#fff">{}</text></svg>"##,
            &tool.label()[..1]
        ),
        other => return Err(ApiError::RouteNotFound(format!("/v1/tools/{}/{other}", tool.as_str()))),
    };
    Ok((
        [
            (CONTENT_TYPE, "image/svg+xml"),
            (CACHE_CONTROL, "public, max-age=86400"),
        ],
        svg,
    )
        .into_response())
}
