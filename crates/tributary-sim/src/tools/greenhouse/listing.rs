//! Harvest v3 list requests: cursor pagination, `per_page`, and the filters every list
//! endpoint shares (<https://harvestdocs.greenhouse.io/docs/pagination>,
//! <https://harvestdocs.greenhouse.io/docs/list-endpoints>, read 2026-12-06):
//!
//! - The first request carries the filters and optionally `per_page` (1 to 500, default 100).
//!   Every later page is the `rel="next"` URL of the `Link` header, whose `cursor` "must be the
//!   only query parameter"; `cursor` with anything else is refused. There is no `page`, no
//!   `prev`/`last`: the last page has no `Link` header.
//! - The cursor is "a URL-safe, Base64-encoded payload" holding the first request's filters
//!   and page size; clients must treat it as opaque. Here it also holds the id the next page
//!   starts below: v3 lists newest id first, so a page boundary is a keyset, not an offset.
//! - `created_at` / `updated_at` take `op|timestamp` with `gte`, `gt`, `lte`, `lt`, several
//!   joined by `|` (`gte|2024-01-01T00:00:00Z|lt|2024-02-01T00:00:00Z`); `ids` and parent
//!   filters (`candidate_ids`, `job_ids`, ...) are comma lists of at most 50.
//! - A parameter the endpoint does not declare (v1's `page`, `skip_count`, `updated_after`) is
//!   refused with the validation error, so a client still speaking v1 fails loudly.
//! - `fields`, which every list declares ("Comma separated list of fields to return", at most
//!   50 snake_case names; the schema embedded in the reference), narrows each object to the
//!   named fields, on every page of the listing. A name the resource lacks is simply absent from
//!   the answer: the reference says nothing of it, and an absent field is what a client asking
//!   for it would notice.

use axum::http::{HeaderMap, HeaderValue, Uri, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::HarvestError;
use crate::company::{Id, Ts};

/// "Number of results per page", integer 1 to 500, "Defaults to 100".
pub(crate) const DEFAULT_PER_PAGE: usize = 100;
pub(crate) const MAX_PER_PAGE: usize = 500;
/// `ids` and every `*_ids` filter: "length ≤ 50".
pub(crate) const MAX_IDS: usize = 50;

/// Parameters every list endpoint takes besides its own filters.
const COMMON: &[&str] = &["per_page", "ids", "created_at", "updated_at", "fields"];
/// `fields`: "length ≤ 50".
pub(crate) const MAX_FIELDS: usize = 50;

/// What a cursor carries: the first request's filters, its page size, and where the next page
/// starts. Serialized as JSON, then URL-safe base64.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct CursorState {
    #[serde(rename = "q")]
    params: Vec<(String, String)>,
    #[serde(rename = "n")]
    per_page: usize,
    #[serde(rename = "b")]
    below: Id,
}

/// One list request, from its first page or from a cursor.
pub(crate) struct ListRequest {
    params: Vec<(String, String)>,
    pub(crate) per_page: usize,
    /// Only ids strictly below this one (the next page of a newest-first listing).
    pub(crate) below: Option<Id>,
    /// Absolute URL of the endpoint as the client called it, without the query.
    endpoint_url: String,
    /// `fields`: the only fields each object keeps; `None`: all of them.
    fields: Option<Vec<String>>,
}

impl ListRequest {
    /// `allowed`: the endpoint's own filters, beyond the common ones.
    pub(crate) fn parse(headers: &HeaderMap, uri: &Uri, query: &str, allowed: &[&str]) -> Result<Self, HarvestError> {
        let pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes()).into_owned().collect();
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("localhost");
        let endpoint_url = format!("http://{host}{}", uri.path());
        if let Some((_, cursor)) = pairs.iter().find(|(k, _)| k == "cursor") {
            if pairs.len() > 1 {
                return Err(HarvestError::validation(
                    "cursor",
                    "cursor must be the only query parameter; filters and per_page belong to the first request",
                ));
            }
            let state = decode_cursor(cursor)?;
            let fields = fields(&state.params)?;
            return Ok(ListRequest {
                params: state.params,
                per_page: state.per_page,
                below: Some(state.below),
                endpoint_url,
                fields,
            });
        }
        for (k, _) in &pairs {
            if !COMMON.contains(&k.as_str()) && !allowed.contains(&k.as_str()) {
                let hint = if k == "page" {
                    "The page parameter is no longer supported; follow the Link header's next cursor"
                } else {
                    "is not a parameter of this endpoint"
                };
                return Err(HarvestError::validation_owned(k, hint));
            }
        }
        let per_page = match pairs.iter().find(|(k, _)| k == "per_page") {
            None => DEFAULT_PER_PAGE,
            Some((_, v)) => v
                .trim()
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=MAX_PER_PAGE).contains(n))
                .ok_or_else(|| HarvestError::validation("per_page", "must be an integer between 1 and 500"))?,
        };
        let params: Vec<(String, String)> = pairs.into_iter().filter(|(k, _)| k != "per_page").collect();
        let fields = fields(&params)?;
        Ok(ListRequest {
            params,
            per_page,
            below: None,
            endpoint_url,
            fields,
        })
    }

    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.params.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// A comma list of ids (`ids`, `candidate_ids`, ...), at most 50.
    pub(crate) fn ids(&self, key: &'static str) -> Result<Option<Vec<Id>>, HarvestError> {
        let Some(raw) = self.get(key) else { return Ok(None) };
        let ids = raw
            .split(',')
            .map(|s| s.trim().parse::<Id>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| HarvestError::validation(key, "must be a comma separated list of integers"))?;
        if ids.len() > MAX_IDS {
            return Err(HarvestError::validation(key, "must have at most 50 items"));
        }
        Ok(Some(ids))
    }

    pub(crate) fn boolean(&self, key: &'static str) -> Result<Option<bool>, HarvestError> {
        match self.get(key) {
            None => Ok(None),
            Some("true") => Ok(Some(true)),
            Some("false") => Ok(Some(false)),
            Some(_) => Err(HarvestError::validation(key, "must be true or false")),
        }
    }

    /// `created_at` / `updated_at` (or another date-time filter) in v3's pipe syntax.
    pub(crate) fn time(&self, key: &'static str) -> Result<TimeFilter, HarvestError> {
        match self.get(key) {
            None => Ok(TimeFilter::default()),
            Some(raw) => TimeFilter::parse(raw).ok_or_else(|| {
                HarvestError::validation(
                    key,
                    "must be operator|timestamp pairs (gte, gt, lte, lt), e.g. gte|2024-01-01T00:00:00Z",
                )
            }),
        }
    }

    /// A page of a newest-first listing: the entries below the cursor that `keep` accepts,
    /// one more than a page to know whether another follows.
    pub(crate) fn window<T>(&self, iter: impl Iterator<Item = (Id, T)>, keep: impl Fn(&T) -> bool) -> Window<T> {
        let below = self.below;
        let mut items: Vec<(Id, T)> = iter
            .filter(|(id, _)| below.is_none_or(|b| *id < b))
            .filter(|(_, t)| keep(t))
            .take(self.per_page + 1)
            .collect();
        let more = items.len() > self.per_page;
        items.truncate(self.per_page);
        Window { items, more }
    }

    /// The page as a JSON array, with a `Link: <...?cursor=...>; rel="next"` header when
    /// another page follows.
    pub(crate) fn respond(&self, mut items: Vec<Value>, next_below: Option<Id>) -> Response {
        if let Some(fields) = &self.fields {
            for item in &mut items {
                if let Value::Object(map) = item {
                    map.retain(|k, _| fields.iter().any(|f| f == k));
                }
            }
        }
        let mut resp = axum::Json(items).into_response();
        if let Some(below) = next_below {
            let cursor = encode_cursor(&CursorState {
                params: self.params.clone(),
                per_page: self.per_page,
                below,
            });
            let link = format!("<{}?cursor={cursor}>; rel=\"next\"", self.endpoint_url);
            if let Ok(v) = HeaderValue::from_str(&link) {
                resp.headers_mut().insert(header::LINK, v);
            }
        }
        resp
    }
}

/// `fields=a,b`: snake_case names (the reference's pattern, letters and underscores, any
/// case), at most 50.
fn fields(params: &[(String, String)]) -> Result<Option<Vec<String>>, HarvestError> {
    let Some((_, raw)) = params.iter().find(|(k, _)| k == "fields") else {
        return Ok(None);
    };
    let names: Vec<String> = raw.split(',').map(|f| f.trim().to_owned()).collect();
    let snake = |f: &str| {
        !f.is_empty()
            && f.split('_')
                .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_alphabetic()))
    };
    if !names.iter().all(|f| snake(f)) {
        return Err(HarvestError::validation(
            "fields",
            "must be a comma separated list of field names (letters and underscores)",
        ));
    }
    if names.len() > MAX_FIELDS {
        return Err(HarvestError::validation("fields", "must have at most 50 items"));
    }
    Ok(Some(names.into_iter().map(|f| f.to_ascii_lowercase()).collect()))
}

pub(crate) struct Window<T> {
    pub(crate) items: Vec<(Id, T)>,
    pub(crate) more: bool,
}

impl<T> Window<T> {
    /// Where the next page starts, when there is one.
    pub(crate) fn next_below(&self) -> Option<Id> {
        if self.more {
            self.items.last().map(|(id, _)| *id)
        } else {
            None
        }
    }
}

fn encode_cursor(state: &CursorState) -> String {
    let json = serde_json::to_vec(state).unwrap_or_default();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
}

fn decode_cursor(raw: &str) -> Result<CursorState, HarvestError> {
    let invalid = || HarvestError::validation("cursor", "is invalid; use the Link header's next URL as given");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(raw.trim())
        .map_err(|_| invalid())?;
    let state: CursorState = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
    if !(1..=MAX_PER_PAGE).contains(&state.per_page) {
        return Err(invalid());
    }
    Ok(state)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Gte,
    Gt,
    Lte,
    Lt,
}

/// The conditions of one date-time filter, all of which must hold.
#[derive(Debug, Clone, Default)]
pub(crate) struct TimeFilter {
    conditions: Vec<(Op, Ts)>,
}

impl TimeFilter {
    fn parse(raw: &str) -> Option<Self> {
        let parts: Vec<&str> = raw.split('|').collect();
        if parts.is_empty() || !parts.len().is_multiple_of(2) {
            return None;
        }
        let conditions = parts
            .chunks(2)
            .map(|pair| {
                let op = match pair[0].trim() {
                    "gte" => Op::Gte,
                    "gt" => Op::Gt,
                    "lte" => Op::Lte,
                    "lt" => Op::Lt,
                    _ => return None,
                };
                Some((op, parse_iso8601(pair[1])?))
            })
            .collect::<Option<Vec<_>>>()?;
        Some(TimeFilter { conditions })
    }

    pub(crate) fn contains(&self, t: Ts) -> bool {
        self.conditions.iter().all(|(op, at)| match op {
            Op::Gte => t >= *at,
            Op::Gt => t > *at,
            Op::Lte => t <= *at,
            Op::Lt => t < *at,
        })
    }
}

/// "ISO 8601 format in UTC"; clients send RFC 3339 with `Z` or an offset, sometimes with the
/// `+` of the offset left unescaped (and so decoded as a space).
fn parse_iso8601(raw: &str) -> Option<Ts> {
    let raw = raw.trim().replace(' ', "+");
    if let Ok(t) = DateTime::parse_from_rfc3339(&raw) {
        return Some(t.with_timezone(&Utc));
    }
    if let Ok(t) = NaiveDateTime::parse_from_str(&raw, "%Y-%m-%dT%H:%M:%S%.f") {
        return Some(t.and_utc());
    }
    NaiveDate::parse_from_str(&raw, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body(resp: Response) -> Value {
        let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX).await.unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    fn headers() -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_static("127.0.0.1:9"));
        h
    }

    #[test]
    fn time_filters_take_v3_pipe_syntax() {
        let f = TimeFilter::parse("gte|2024-05-01T10:00:00Z|lt|2024-05-02T00:00:00.000Z").unwrap();
        let at = |s: &str| s.parse::<Ts>().unwrap();
        assert!(f.contains(at("2024-05-01T10:00:00Z")));
        assert!(!f.contains(at("2024-05-01T09:59:59Z")));
        assert!(!f.contains(at("2024-05-02T00:00:00Z")));
        assert!(TimeFilter::parse("after|2024-05-01").is_none());
        assert!(TimeFilter::parse("gte").is_none());
        assert!(TimeFilter::parse("2024-05-01T10:00:00Z").is_none());
    }

    #[test]
    fn cursors_stand_alone_and_page_and_unknown_parameters_are_refused() {
        let uri: Uri = "/greenhouse/v3/candidates".parse().unwrap();
        let first = ListRequest::parse(
            &headers(),
            &uri,
            "per_page=2&updated_at=gte%7C2024-01-01T00%3A00%3A00Z",
            &[],
        )
        .unwrap();
        assert_eq!(first.per_page, 2);
        let window = first.window([(9, ()), (7, ()), (5, ())].into_iter(), |_| true);
        let resp = first.respond(vec![], window.next_below());
        let link = resp.headers()[header::LINK].to_str().unwrap().to_owned();
        let next = link.trim_start_matches('<').split('>').next().unwrap();
        let query = next.split_once('?').unwrap().1;
        assert!(query.starts_with("cursor=") && !query.contains('&'), "{query}");
        let second = ListRequest::parse(&headers(), &uri, query, &[]).unwrap();
        assert_eq!((second.per_page, second.below), (2, Some(7)));
        assert_eq!(second.get("updated_at"), Some("gte|2024-01-01T00:00:00Z"));
        let with_more = format!("{query}&per_page=2");
        assert!(ListRequest::parse(&headers(), &uri, &with_more, &[]).is_err());
        assert!(ListRequest::parse(&headers(), &uri, "page=2", &[]).is_err());
        assert!(ListRequest::parse(&headers(), &uri, "updated_after=2024-01-01", &[]).is_err());
        assert!(ListRequest::parse(&headers(), &uri, "per_page=501", &[]).is_err());
        assert!(ListRequest::parse(&headers(), &uri, "per_page=0", &[]).is_err());
        assert!(ListRequest::parse(&headers(), &uri, "cursor=not-a-cursor", &[]).is_err());
    }

    #[tokio::test]
    async fn fields_narrow_every_page_and_take_the_documented_names_only() {
        let uri: Uri = "/greenhouse/v3/candidates".parse().unwrap();
        let first = ListRequest::parse(&headers(), &uri, "per_page=1&fields=id,first_name,nickname", &[]).unwrap();
        let item = serde_json::json!({"id": 9, "first_name": "A", "last_name": "B"});
        let resp = first.respond(vec![item.clone()], Some(9));
        let link = resp.headers()[header::LINK].to_str().unwrap().to_owned();
        let next = link.trim_start_matches('<').split('>').next().unwrap();
        let query = next.split_once('?').unwrap().1.to_owned();
        assert_eq!(body(resp).await, serde_json::json!([{"id": 9, "first_name": "A"}]));
        let second = ListRequest::parse(&headers(), &uri, &query, &[]).unwrap();
        assert_eq!(
            body(second.respond(vec![item], None)).await,
            serde_json::json!([{"id": 9, "first_name": "A"}]),
            "the cursor keeps the first request's fields"
        );
        for bad in ["fields=", "fields=id,", "fields=first-name", "fields=id2"] {
            assert!(ListRequest::parse(&headers(), &uri, bad, &[]).is_err(), "{bad}");
        }
        let fifty_one = (0..51).map(|i| "ab".repeat(i % 5 + 1)).collect::<Vec<_>>().join(",");
        assert!(ListRequest::parse(&headers(), &uri, &format!("fields={fifty_one}"), &[]).is_err());
        assert!(ListRequest::parse(&headers(), &uri, "fields=ID,First_Name", &[]).is_ok());
    }
}
