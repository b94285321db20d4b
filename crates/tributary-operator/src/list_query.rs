//! The query string of the cursor-paginated lists (`/runs`, `/api-keys`, `/integrations/health`):
//! read by hand rather than through serde, because `state` may repeat (`?state=failed&state=queued`,
//! or `?state=failed,queued`), which `serde_urlencoded` cannot collect. As elsewhere, unknown
//! parameters and repeated single-valued ones are refused, so a typo never lists everything.

use chrono::DateTime;
use tributary_model::Timestamp;

use crate::error::OpsError;

pub struct ListQuery {
    pairs: Vec<(String, String)>,
}

/// Not part of what a cursor is bound to: the page size may change between pages.
const PAGING: [&str; 2] = ["cursor", "limit"];

impl ListQuery {
    /// `allowed` are the list's filters; `cursor` and `limit` are always allowed.
    pub fn parse(raw: Option<&str>, allowed: &[&str]) -> Result<Self, OpsError> {
        let pairs: Vec<(String, String)> = url::form_urlencoded::parse(raw.unwrap_or("").as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        for (key, _) in &pairs {
            if !allowed.contains(&key.as_str()) && !PAGING.contains(&key.as_str()) {
                let mut known: Vec<&str> = allowed.iter().chain(&PAGING).copied().collect();
                known.sort_unstable();
                return Err(OpsError::invalid(format!(
                    "Unknown query parameter `{key}`; this list takes {}.",
                    known.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ")
                )));
            }
        }
        Ok(Self { pairs })
    }

    /// A single-valued parameter; empty counts as absent.
    pub fn one(&self, key: &str) -> Result<Option<&str>, OpsError> {
        let mut found = self
            .pairs
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty());
        let first = found.next();
        if found.next().is_some() {
            return Err(OpsError::invalid(format!("`{key}` may be given only once.")));
        }
        Ok(first)
    }

    /// A repeatable parameter, each value also a comma list.
    pub fn many(&self, key: &str) -> Vec<&str> {
        self.pairs
            .iter()
            .filter(|(k, _)| k == key)
            .flat_map(|(_, v)| v.split(','))
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .collect()
    }

    pub fn limit(&self, default: i64, max: i64) -> Result<i64, OpsError> {
        let Some(text) = self.one("limit")? else {
            return Ok(default);
        };
        match text.parse::<i64>() {
            Ok(limit) if (1..=max).contains(&limit) => Ok(limit),
            _ => Err(OpsError::invalid(format!(
                "`limit` must be an integer from 1 to {max}, got `{text}`."
            ))),
        }
    }

    pub fn cursor(&self) -> Result<Option<&str>, OpsError> {
        self.one("cursor")
    }

    /// An RFC 3339 instant.
    pub fn instant(&self, key: &str) -> Result<Option<Timestamp>, OpsError> {
        self.one(key)?
            .map(|text| {
                DateTime::parse_from_rfc3339(text)
                    .map(|t| t.to_utc())
                    .map_err(|_| {
                        OpsError::invalid(format!(
                            "`{key}` must be an RFC 3339 time such as 2026-01-31T09:00:00Z (a `+` offset encoded as `%2B`), got `{text}`."
                        ))
                    })
            })
            .transpose()
    }

    /// The filters a cursor is bound to: every pair but the paging ones, in a stable order.
    pub fn filters(&self) -> String {
        let mut filters: Vec<String> = self
            .pairs
            .iter()
            .filter(|(k, _)| !PAGING.contains(&k.as_str()))
            .map(|(k, v)| format!("{k}={}", v.trim().to_ascii_uppercase()))
            .collect();
        filters.sort();
        filters.join("&")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_and_unknown_parameters() {
        let q = ListQuery::parse(Some("state=failed,queued&state=paused&limit=5"), &["state", "tool"]).unwrap();
        assert_eq!(q.many("state"), vec!["failed", "queued", "paused"]);
        assert_eq!(q.limit(50, 500).unwrap(), 5);
        assert!(ListQuery::parse(Some("status=failed"), &["state"]).is_err());
        let q = ListQuery::parse(Some("tool=a&tool=b"), &["tool"]).unwrap();
        assert!(q.one("tool").is_err());
        let q = ListQuery::parse(Some("limit=501"), &[]).unwrap();
        assert!(q.limit(50, 500).is_err());
        let a = ListQuery::parse(Some("tool=x&state=a&limit=1&cursor=c"), &["tool", "state"]).unwrap();
        let b = ListQuery::parse(Some("state=A&tool=x"), &["tool", "state"]).unwrap();
        assert_eq!(a.filters(), b.filters());
        let q = ListQuery::parse(Some("started_after=yesterday"), &["started_after"]).unwrap();
        assert!(q.instant("started_after").is_err());
        let q = ListQuery::parse(
            Some("started_after=2026-01-31T09%3A00%3A00%2B01%3A00"),
            &["started_after"],
        )
        .unwrap();
        assert_eq!(
            q.instant("started_after").unwrap().unwrap().to_rfc3339(),
            "2026-01-31T08:00:00+00:00"
        );
    }
}
