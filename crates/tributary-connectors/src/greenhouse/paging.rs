//! Harvest's pagination: an RFC 5988 `Link` header with `next`, `prev` and `last`, and no
//! header at all when there is a single page
//! (<https://developers.greenhouse.io/harvest.html#pagination>). The docs ask clients to follow
//! the links rather than count pages themselves, so the cursor is the `next` URL itself —
//! checked before use, because the URL comes from the network and is sent our credentials.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tributary_source::SourceError;
use url::Url;

/// The opaque cursor the engine checkpoints between pages.
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

/// The relations of a `Link` header that paging needs.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Links {
    pub next: Option<String>,
    pub last: Option<String>,
}

/// Parses `<url>; rel="next", <url>; rel="last"`. Commas may appear inside the `<...>`, so
/// the header is split on the angle brackets, not on commas.
pub(crate) fn parse_link_header(header: &str) -> Links {
    let mut links = Links::default();
    let mut rest = header;
    while let Some(open) = rest.find('<') {
        let Some(close) = rest[open..].find('>').map(|i| open + i) else {
            break;
        };
        let target = &rest[open + 1..close];
        let params_end = rest[close..].find('<').map_or(rest.len(), |i| close + i);
        // The comma separating this link from the next one is not part of its parameters.
        let params = rest[close + 1..params_end].trim_end().trim_end_matches(',');
        for param in params.split(';') {
            let Some((key, value)) = param.split_once('=') else {
                continue;
            };
            if !key.trim().eq_ignore_ascii_case("rel") {
                continue;
            }
            for rel in value.trim().trim_matches('"').split_whitespace() {
                match rel.to_ascii_lowercase().as_str() {
                    "next" => links.next = Some(target.to_owned()),
                    "last" => links.last = Some(target.to_owned()),
                    _ => {}
                }
            }
        }
        rest = &rest[params_end..];
    }
    links
}

/// A URL the connector is about to send credentials to must stay on the configured API:
/// same scheme, host and port, and the same endpoint path it was paging through.
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
    Ok(url)
}

fn page_number(url: &Url) -> Option<u64> {
    url.query_pairs()
        .find(|(k, _)| k == "page")
        .and_then(|(_, v)| v.parse().ok())
}

/// The cursor of the page after `current`, or `None` at the end; refuses pagination that
/// would not advance or would run past the last page the tool announced.
pub(crate) fn next_cursor(
    base: &Url,
    current: &Url,
    links: Links,
    records_on_page: usize,
    endpoint: &str,
) -> Result<Option<Cursor>, SourceError> {
    let Some(next) = links.next else { return Ok(None) };
    let broken = |detail: String| SourceError::Pagination {
        endpoint: endpoint.to_owned(),
        detail,
    };
    let next_url = check_target(base, current.path(), &next, endpoint)?;
    if next_url == *current {
        return Err(broken(format!(
            "next link repeats the page just fetched ({})",
            current.path()
        )));
    }
    if records_on_page == 0 {
        return Err(broken("an empty page announces a next page".into()));
    }
    let this_page = page_number(current).unwrap_or(1);
    if let Some(next_page) = page_number(&next_url) {
        if next_page <= this_page {
            return Err(broken(format!(
                "next link goes back from page {this_page} to page {next_page}"
            )));
        }
        let last_page = links
            .last
            .as_deref()
            .and_then(|l| Url::parse(l).ok())
            .as_ref()
            .and_then(page_number);
        if let Some(last_page) = last_page.filter(|last| next_page > *last) {
            return Err(broken(format!(
                "next link to page {next_page} is past the announced last page {last_page}"
            )));
        }
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
    fn parses_the_documented_link_header() {
        let links = parse_link_header(
            "<https://harvest.greenhouse.io/v1/candidates?page=2&per_page=2>; rel=\"next\",\n\
             <https://harvest.greenhouse.io/v1/candidates?page=474&per_page=2>; rel=\"last\"",
        );
        assert_eq!(
            links.next.as_deref(),
            Some("https://harvest.greenhouse.io/v1/candidates?page=2&per_page=2")
        );
        assert_eq!(
            links.last.as_deref(),
            Some("https://harvest.greenhouse.io/v1/candidates?page=474&per_page=2")
        );
        assert_eq!(parse_link_header("<https://x/a?p=1,2>; rel=\"prev\""), Links::default());
    }

    #[test]
    fn refuses_links_to_other_hosts_ports_or_schemes() {
        for evil in [
            "https://evil.example/v1/candidates?page=2",
            "http://harvest.greenhouse.io/v1/candidates?page=2",
            "https://harvest.greenhouse.io:8443/v1/candidates?page=2",
            "https://harvest.greenhouse.io/v1/users?page=2",
        ] {
            let current = Url::parse("https://harvest.greenhouse.io/v1/candidates?per_page=500").unwrap();
            let links = Links {
                next: Some(evil.into()),
                last: None,
            };
            let err = next_cursor(&base(), &current, links, 10, "GET /v1/candidates").unwrap_err();
            assert!(matches!(err, SourceError::Pagination { .. }), "{evil}: {err}");
        }
    }

    #[test]
    fn refuses_pagination_that_does_not_advance() {
        let current = Url::parse("https://harvest.greenhouse.io/v1/candidates?page=3&per_page=500").unwrap();
        let at = |next: &str, last: Option<&str>| Links {
            next: Some(next.into()),
            last: last.map(Into::into),
        };
        let same = at("https://harvest.greenhouse.io/v1/candidates?page=3&per_page=500", None);
        assert!(next_cursor(&base(), &current, same, 10, "e").is_err());
        let back = at("https://harvest.greenhouse.io/v1/candidates?page=2&per_page=500", None);
        assert!(next_cursor(&base(), &current, back, 10, "e").is_err());
        let past_last = at(
            "https://harvest.greenhouse.io/v1/candidates?page=4&per_page=500",
            Some("https://harvest.greenhouse.io/v1/candidates?page=3&per_page=500"),
        );
        assert!(next_cursor(&base(), &current, past_last, 10, "e").is_err());
        let fine = at(
            "https://harvest.greenhouse.io/v1/candidates?page=4&per_page=500",
            Some("https://harvest.greenhouse.io/v1/candidates?page=9&per_page=500"),
        );
        let empty_page = at("https://harvest.greenhouse.io/v1/candidates?page=4&per_page=500", None);
        assert!(next_cursor(&base(), &current, empty_page, 0, "e").is_err());
        let cursor = next_cursor(&base(), &current, fine, 10, "e").unwrap().unwrap();
        assert_eq!(
            cursor.url,
            "https://harvest.greenhouse.io/v1/candidates?page=4&per_page=500"
        );
    }
}
