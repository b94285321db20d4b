//! Harvest v3's cursor pagination (<https://harvestdocs.greenhouse.io/docs/pagination>, read
//! 2026-12-06): filters and `per_page` go on the first request only; every later page is the
//! `rel="next"` URL of the RFC 5988 `Link` header, used exactly as given (its `cursor` must be
//! the only query parameter); no `Link` means the last page. The cursor is opaque, so the one
//! thing checked about it is that it moves on. The URL comes from the network and is sent our
//! bearer token, so it must stay on the configured API and endpoint.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tributary_source::SourceError;
use url::Url;

/// The opaque cursor the engine checkpoints between pages: the next page's URL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Cursor {
    pub url: String,
}

impl Cursor {
    pub(crate) fn from_value(value: &Value, endpoint: &str) -> Result<Self, SourceError> {
        serde_json::from_value(value.clone()).map_err(|e| SourceError::Pagination {
            endpoint: endpoint.to_owned(),
            detail: format!("checkpointed cursor is not a Greenhouse cursor: {e}"),
        })
    }

    pub(crate) fn to_value(&self) -> Value {
        serde_json::json!({ "url": self.url })
    }
}

/// The `rel="next"` target of a `Link` header. Commas may appear inside the `<...>`, so the
/// header is split on the angle brackets, not on commas.
pub(crate) fn next_link(header: &str) -> Option<String> {
    let mut rest = header;
    while let Some(open) = rest.find('<') {
        let close = rest[open..].find('>').map(|i| open + i)?;
        let target = &rest[open + 1..close];
        let params_end = rest[close..].find('<').map_or(rest.len(), |i| close + i);
        let params = rest[close + 1..params_end].trim_end().trim_end_matches(',');
        let is_next = params.split(';').any(|param| {
            param.split_once('=').is_some_and(|(key, value)| {
                key.trim().eq_ignore_ascii_case("rel")
                    && value
                        .trim()
                        .trim_matches('"')
                        .split_whitespace()
                        .any(|rel| rel.eq_ignore_ascii_case("next"))
            })
        });
        if is_next {
            return Some(target.to_owned());
        }
        rest = &rest[params_end..];
    }
    None
}

/// A URL the connector is about to send its token to: same scheme, host, port and endpoint
/// path as the configured API, and nothing in its query but the cursor.
pub(crate) fn check_target(base: &Url, expected_path: &str, target: &str, endpoint: &str) -> Result<Url, SourceError> {
    let broken = |detail: String| SourceError::Pagination {
        endpoint: endpoint.to_owned(),
        detail,
    };
    let url = Url::parse(target).map_err(|e| broken(format!("next link `{target}` is not a URL: {e}")))?;
    let same_origin = url.scheme() == base.scheme()
        && url.host_str() == base.host_str()
        && url.port_or_known_default() == base.port_or_known_default();
    if !same_origin {
        return Err(broken(format!(
            "next link points to {}://{}, not the configured {}://{}; refusing to send credentials there",
            url.scheme(),
            url.host_str().unwrap_or(""),
            base.scheme(),
            base.host_str().unwrap_or("")
        )));
    }
    if url.path().trim_end_matches('/') != expected_path.trim_end_matches('/') {
        return Err(broken(format!(
            "next link leaves the endpoint: {} instead of {expected_path}",
            url.path()
        )));
    }
    let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    match pairs.as_slice() {
        [(k, v)] if k == "cursor" && !v.is_empty() => Ok(url),
        _ => Err(broken(format!(
            "next link carries `{}` instead of a lone cursor",
            url.query().unwrap_or("")
        ))),
    }
}

/// The cursor of the page after `current`, or `None` at the end; refuses a next link that
/// would not advance.
pub(crate) fn next_cursor(
    base: &Url,
    current: &Url,
    link: Option<String>,
    records_on_page: usize,
    endpoint: &str,
) -> Result<Option<Cursor>, SourceError> {
    let Some(next) = link else { return Ok(None) };
    let broken = |detail: String| SourceError::Pagination {
        endpoint: endpoint.to_owned(),
        detail,
    };
    let next_url = check_target(base, current.path(), &next, endpoint)?;
    if next_url == *current {
        return Err(broken("next link repeats the page just fetched".into()));
    }
    if records_on_page == 0 {
        return Err(broken("an empty page announces a next page".into()));
    }
    Ok(Some(Cursor {
        url: next_url.to_string(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Url {
        Url::parse("https://harvest.greenhouse.io/").unwrap()
    }

    #[test]
    fn reads_only_the_next_relation() {
        assert_eq!(
            next_link("<https://harvest.greenhouse.io/v3/jobs?cursor=abc>; rel=\"next\"").as_deref(),
            Some("https://harvest.greenhouse.io/v3/jobs?cursor=abc")
        );
        assert_eq!(
            next_link("<https://h/v3/jobs?cursor=a,b>; rel=\"prev\", <https://h/v3/jobs?cursor=c>; rel=\"next\"")
                .as_deref(),
            Some("https://h/v3/jobs?cursor=c")
        );
        assert_eq!(next_link("<https://h/v3/jobs?cursor=x>; rel=\"last\""), None);
        assert_eq!(next_link(""), None);
    }

    #[test]
    fn refuses_links_elsewhere_or_with_more_than_a_cursor() {
        let current = Url::parse("https://harvest.greenhouse.io/v3/candidates?per_page=500").unwrap();
        for evil in [
            "https://evil.example/v3/candidates?cursor=a",
            "http://harvest.greenhouse.io/v3/candidates?cursor=a",
            "https://harvest.greenhouse.io:8443/v3/candidates?cursor=a",
            "https://harvest.greenhouse.io/v3/users?cursor=a",
            "https://harvest.greenhouse.io/v3/candidates?cursor=a&per_page=500",
            "https://harvest.greenhouse.io/v3/candidates?page=2",
            "https://harvest.greenhouse.io/v3/candidates?cursor=",
        ] {
            let err = next_cursor(&base(), &current, Some(evil.into()), 10, "GET /v3/candidates").unwrap_err();
            assert!(matches!(err, SourceError::Pagination { .. }), "{evil}: {err}");
        }
        let same = Url::parse("https://harvest.greenhouse.io/v3/candidates?cursor=a").unwrap();
        assert!(next_cursor(&base(), &same, Some(same.to_string()), 10, "e").is_err());
        let next = "https://harvest.greenhouse.io/v3/candidates?cursor=b";
        assert!(next_cursor(&base(), &same, Some(next.into()), 0, "e").is_err());
        let cursor = next_cursor(&base(), &same, Some(next.into()), 10, "e")
            .unwrap()
            .unwrap();
        assert_eq!(cursor.url, next);
        assert_eq!(next_cursor(&base(), &same, None, 10, "e").unwrap(), None);
    }
}
