//! Paging, filters and `Link` headers shared by Harvest's list endpoints
//! (<https://developers.greenhouse.io/harvest.html#pagination>).

use axum::http::{HeaderMap, HeaderValue, Uri, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde_json::Value;

use super::HarvestError;
use crate::company::{Id, Ts};

/// "Must be an integer between 1 and 500. Defaults to 100."
const DEFAULT_PER_PAGE: usize = 100;
const MAX_PER_PAGE: usize = 500;

/// The decoded query string, in the order the client sent it.
pub(crate) struct Params(Vec<(String, String)>);

impl Params {
    pub(crate) fn parse(query: &str) -> Self {
        Params(url::form_urlencoded::parse(query.as_bytes()).into_owned().collect())
    }

    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    pub(crate) fn id(&self, key: &'static str) -> Result<Option<Id>, HarvestError> {
        self.get(key)
            .map(|v| {
                v.trim().parse().map_err(|_| HarvestError::Validation {
                    field: key,
                    message: "Must be an integer".into(),
                })
            })
            .transpose()
    }

    fn timestamp(&self, key: &'static str) -> Result<Option<Ts>, HarvestError> {
        let Some(raw) = self.get(key) else { return Ok(None) };
        parse_iso8601(raw).map(Some).ok_or_else(|| HarvestError::Validation {
            field: key,
            message: format!("`{raw}` is not a valid ISO-8601 timestamp"),
        })
    }

    fn date(&self, key: &'static str) -> Result<Option<NaiveDate>, HarvestError> {
        let Some(raw) = self.get(key) else { return Ok(None) };
        NaiveDate::parse_from_str(raw.trim(), "%Y-%m-%d")
            .map(Some)
            .map_err(|_| HarvestError::Validation {
                field: key,
                message: "Date must be in YYYY-MM-DD format".into(),
            })
    }

    /// `*_after` is "at or after", `*_before` is "before". An empty key means "not offered".
    pub(crate) fn time_range(&self, after: &'static str, before: &'static str) -> Result<Range<Ts>, HarvestError> {
        Ok(Range {
            from: if after.is_empty() { None } else { self.timestamp(after)? },
            to: if before.is_empty() {
                None
            } else {
                self.timestamp(before)?
            },
            inclusive_end: false,
        })
    }

    /// Offers' date filters are inclusive at both ends.
    pub(crate) fn date_range(
        &self,
        after: &'static str,
        before: &'static str,
    ) -> Result<Range<NaiveDate>, HarvestError> {
        Ok(Range {
            from: self.date(after)?,
            to: self.date(before)?,
            inclusive_end: true,
        })
    }
}

/// Harvest says "ISO-8601"; clients send RFC 3339 with `Z` or an offset, sometimes with the
/// `+` of the offset left unescaped (and so decoded as a space), sometimes a bare date.
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

#[derive(Debug, Clone, Copy)]
pub(crate) struct Range<T> {
    from: Option<T>,
    to: Option<T>,
    inclusive_end: bool,
}

impl<T: PartialOrd + Copy> Range<T> {
    pub(crate) fn is_open(&self) -> bool {
        self.from.is_none() && self.to.is_none()
    }

    pub(crate) fn inclusive_end(mut self) -> Self {
        self.inclusive_end = true;
        self
    }

    pub(crate) fn contains(&self, v: T) -> bool {
        self.from.is_none_or(|f| v >= f) && self.to.is_none_or(|t| if self.inclusive_end { v <= t } else { v < t })
    }

    /// A missing value matches only when the range does not filter at all.
    pub(crate) fn contains_opt(&self, v: Option<T>) -> bool {
        match v {
            Some(v) => self.contains(v),
            None => self.is_open(),
        }
    }
}

/// One list request: its paging parameters, its filters and where its `Link`s point.
pub(crate) struct ListRequest {
    pub(crate) params: Params,
    page: usize,
    per_page: usize,
    skip_count: bool,
    /// Absolute URL of the endpoint as the client called it, without the query.
    endpoint_url: String,
}

impl ListRequest {
    pub(crate) fn parse(headers: &HeaderMap, uri: &Uri, query: &str) -> Result<Self, HarvestError> {
        let params = Params::parse(query);
        let page = match params.get("page") {
            None => 1,
            Some(v) => v
                .trim()
                .parse::<usize>()
                .ok()
                .filter(|p| *p >= 1)
                .ok_or(HarvestError::Validation {
                    field: "page",
                    message: "Must be a positive integer".into(),
                })?,
        };
        let per_page = match params.get("per_page") {
            None => DEFAULT_PER_PAGE,
            // Larger values are capped at the documented maximum rather than refused.
            Some(v) => v
                .trim()
                .parse::<usize>()
                .ok()
                .filter(|p| *p >= 1)
                .ok_or(HarvestError::Validation {
                    field: "per_page",
                    message: "Must be an integer between 1 and 500".into(),
                })?,
        }
        .min(MAX_PER_PAGE);
        let skip_count = params.get("skip_count").is_some_and(|v| v.eq_ignore_ascii_case("true"));
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("localhost");
        let endpoint_url = format!("http://{host}{}", uri.path());
        Ok(ListRequest {
            params,
            page,
            per_page,
            skip_count,
            endpoint_url,
        })
    }

    fn offset(&self) -> usize {
        (self.page - 1).saturating_mul(self.per_page)
    }

    /// The page as a JSON array, with the `Link` header for the pages around it.
    pub(crate) fn respond(&self, items: Vec<Value>, total: usize) -> Response {
        let mut resp = axum::Json(items).into_response();
        if let Some(Ok(v)) = self.link_header(total).map(|l| HeaderValue::from_str(&l)) {
            resp.headers_mut().insert(header::LINK, v);
        }
        resp
    }

    /// "When this header is not set, there is only one page, the first page, of results."
    fn link_header(&self, total: usize) -> Option<String> {
        let last = total.div_ceil(self.per_page).max(1);
        if last == 1 && self.page == 1 {
            return None;
        }
        let mut links = Vec::new();
        if self.page < last {
            links.push(format!("<{}>; rel=\"next\"", self.page_url(self.page + 1)));
        }
        if self.page > 1 {
            links.push(format!("<{}>; rel=\"prev\"", self.page_url((self.page - 1).min(last))));
        }
        if !self.skip_count {
            links.push(format!("<{}>; rel=\"last\"", self.page_url(last)));
        }
        (!links.is_empty()).then(|| links.join(", "))
    }

    /// Same endpoint and filters, another page: `page` and `per_page` first, as Harvest's
    /// own links are written, then every other parameter as the client sent it.
    fn page_url(&self, page: usize) -> String {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        q.append_pair("page", &page.to_string());
        q.append_pair("per_page", &self.per_page.to_string());
        for (k, v) in &self.params.0 {
            if k != "page" && k != "per_page" {
                q.append_pair(k, v);
            }
        }
        format!("{}?{}", self.endpoint_url, q.finish())
    }
}

/// The slice of a listing one page shows, and how many entries matched in all.
pub(crate) struct Window<T> {
    pub(crate) items: Vec<T>,
    pub(crate) total: usize,
}

impl<T> Window<T> {
    /// Without filters the total is known up front, so only the page is walked over.
    pub(crate) fn unfiltered(iter: impl Iterator<Item = T>, total: usize, req: &ListRequest) -> Self {
        let items = iter.skip(req.offset()).take(req.per_page).collect();
        Window { items, total }
    }

    /// With filters one pass counts the matches and keeps the page's share of them.
    pub(crate) fn filtered(iter: impl Iterator<Item = T>, keep: impl Fn(&T) -> bool, req: &ListRequest) -> Self {
        let (offset, per_page) = (req.offset(), req.per_page);
        let mut items = Vec::new();
        let mut total = 0;
        for item in iter.filter(|t| keep(t)) {
            if total >= offset && items.len() < per_page {
                items.push(item);
            }
            total += 1;
        }
        Window { items, total }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_accept_common_iso_8601_spellings() {
        let want = "2024-05-01T10:00:00Z".parse::<Ts>().unwrap();
        assert_eq!(parse_iso8601("2024-05-01T10:00:00Z"), Some(want));
        assert_eq!(parse_iso8601("2024-05-01T10:00:00.000Z"), Some(want));
        assert_eq!(parse_iso8601("2024-05-01T12:00:00 02:00"), Some(want));
        assert_eq!(parse_iso8601("2024-05-01T10:00:00"), Some(want));
        assert!(parse_iso8601("yesterday").is_none());
    }

    #[test]
    fn links_name_next_prev_and_last() {
        let uri: Uri = "/greenhouse/v1/candidates".parse().unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_static("127.0.0.1:9"));
        let req = ListRequest::parse(
            &headers,
            &uri,
            "per_page=2&page=2&updated_after=2024-01-01T00%3A00%3A00Z",
        )
        .unwrap();
        let link = req.link_header(5).unwrap();
        assert_eq!(
            link,
            "<http://127.0.0.1:9/greenhouse/v1/candidates?page=3&per_page=2&updated_after=2024-01-01T00%3A00%3A00Z>; rel=\"next\", \
             <http://127.0.0.1:9/greenhouse/v1/candidates?page=1&per_page=2&updated_after=2024-01-01T00%3A00%3A00Z>; rel=\"prev\", \
             <http://127.0.0.1:9/greenhouse/v1/candidates?page=3&per_page=2&updated_after=2024-01-01T00%3A00%3A00Z>; rel=\"last\""
        );
        let single = ListRequest::parse(&headers, &uri, "").unwrap();
        assert_eq!(single.link_header(3), None);
        let capped = ListRequest::parse(&headers, &uri, "per_page=10000").unwrap();
        assert_eq!(capped.per_page, MAX_PER_PAGE);
        assert!(ListRequest::parse(&headers, &uri, "per_page=0").is_err());
    }
}
