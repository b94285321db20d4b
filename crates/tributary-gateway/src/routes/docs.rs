//! The published contract: `GET /v1/openapi.json` (Kombo's document cut down to what we
//! serve), a browsable page of it at `GET /v1/docs` (rendered by a vendored copy of Scalar,
//! served from `/v1/docs/`, so it works offline), and the tool logos that
//! `GET /v1/integrations/{id}` links to. None of these need an API key.

use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, ETAG, IF_NONE_MATCH, X_CONTENT_TYPE_OPTIONS,
};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use sha2::{Digest, Sha256};
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

/// The API reference renderer, vendored: `@scalar/api-reference`'s browser bundle, pinned.
/// To update it, follow `assets/scalar/VENDORED.md` (npm pack, copy `dist/browser/standalone.js`,
/// then change the version and hash here; `the_vendored_renderer_is_the_pinned_one` holds the
/// file to the hash). Embedded, so `/v1/docs` needs no network access.
const SCALAR_VERSION: &str = "1.76.4";
const SCALAR_SHA256: &str = "93951f1794b0463b87ab58d0557a6610075af79a9f94c2a3f261c993bc7f3913";
static SCALAR_JS: &[u8] = include_bytes!("../../assets/scalar/api-reference.standalone.js");

/// The page and its scripts may load from this origin only. Inline styles are allowed because
/// the renderer (Vue) sets them on elements; inline scripts are not: the configuration is a
/// script file of its own.
const DOCS_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
img-src 'self' data:; font-src 'self' data:; connect-src 'self'; object-src 'none'; \
base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The renderer's options: our document, no web fonts (fetched from Scalar's CDN by default),
/// no developer toolbar, no "open in client" links to Scalar's hosted client.
const DOCS_INIT_JS: &str = r#"Scalar.createApiReference('#reference', {
  url: 'openapi.json',
  withDefaultFonts: false,
  showDeveloperTools: 'never',
  hideClientButton: true,
  telemetry: false,
})
"#;

/// A browsable reference of `openapi.json` (Scalar's renderer, served by us).
pub async fn page() -> Response {
    let html = format!(
        r#"<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>tributary read API</title>
</head>
<body>
  <noscript>This page needs JavaScript. The raw document: <a href="openapi.json">openapi.json</a>.</noscript>
  <div id="reference"></div>
  <script src="docs/scalar-{SCALAR_VERSION}.js"></script>
  <script src="docs/init-{SCALAR_VERSION}.js"></script>
</body>
</html>
"#
    );
    (
        [
            (CONTENT_SECURITY_POLICY, DOCS_CSP),
            (CACHE_CONTROL, "no-cache"),
            (X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        Html(html),
    )
        .into_response()
}

/// `scalar-<version>.js` and `init-<version>.js`: versioned names, so they are cached forever
/// (`immutable`) and an upgrade is a new URL. The ETag lets a client revalidate anyway.
pub async fn docs_asset(Path(file): Path<String>, headers: HeaderMap) -> Result<Response, ApiError> {
    let (body, etag): (&'static [u8], &str) = if file == format!("scalar-{SCALAR_VERSION}.js") {
        (SCALAR_JS, SCALAR_ETAG.as_str())
    } else if file == format!("init-{SCALAR_VERSION}.js") {
        (DOCS_INIT_JS.as_bytes(), INIT_ETAG.as_str())
    } else {
        return Err(ApiError::RouteNotFound(format!("/v1/docs/{file}")));
    };
    let fresh = headers
        .get(IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|tags| tags.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let cache = [
        (CONTENT_TYPE, "text/javascript; charset=utf-8"),
        (CACHE_CONTROL, "public, max-age=31536000, immutable"),
        (ETAG, etag),
        (X_CONTENT_TYPE_OPTIONS, "nosniff"),
    ];
    if fresh {
        return Ok((StatusCode::NOT_MODIFIED, cache).into_response());
    }
    Ok((cache, body).into_response())
}

static SCALAR_ETAG: LazyLock<String> = LazyLock::new(|| format!("\"{}\"", &SCALAR_SHA256[..32]));
static INIT_ETAG: LazyLock<String> = LazyLock::new(|| {
    let digest = Sha256::digest(DOCS_INIT_JS.as_bytes());
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("\"{hex}\"")
});

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_vendored_renderer_is_the_pinned_one() {
        let digest = Sha256::digest(SCALAR_JS);
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex, SCALAR_SHA256,
            "assets/scalar changed without docs.rs (see VENDORED.md)"
        );
    }
}
