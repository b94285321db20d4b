//! Query-string parsing with Kombo's rules and error messages a caller can act on.
//!
//! Parameters arrive as raw pairs rather than through a derived struct so that every problem
//! (a repeated parameter, a bad number, an unparsable date) becomes a precise
//! `PLATFORM.INPUT_INVALID` instead of a generic deserialisation error.

use std::collections::BTreeMap;

use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use tributary_model::Timestamp;

use crate::error::ApiError;

/// The most values one list parameter (`ids=a,b,...`, `group_ids`, `work_emails`, ...) may
/// carry. Kombo's SDKs page at 250 results at most, so a consumer passing the ids of a page it
/// read passes 250; four pages' worth leaves room for batching by hand. Beyond that a
/// list filter stops being a lookup and becomes a scan of every row against every value:
/// 12,000 `group_ids` cost 1 to 1.7 s of database time per request (issue 12).
pub const MAX_LIST_VALUES: usize = 1000;
/// The longest value (in bytes, after percent-decoding) any query parameter may have: 1,000
/// e-mail addresses of 32 bytes. Real values (ids, a cursor, a name fragment) are far
/// shorter; the cap keeps one parameter from carrying a megabyte of work to the database.
pub const MAX_PARAM_BYTES: usize = 32 * 1024;

/// The decoded query string of one request.
#[derive(Debug, Default)]
pub struct QueryParams {
    values: BTreeMap<String, String>,
}

impl<S: Send + Sync> FromRequestParts<S> for QueryParams {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Query(pairs) = Query::<Vec<(String, String)>>::from_request_parts(parts, state).await?;
        QueryParams::from_pairs(pairs)
    }
}

impl QueryParams {
    pub fn from_pairs(pairs: Vec<(String, String)>) -> Result<Self, ApiError> {
        let mut values = BTreeMap::new();
        for (name, value) in pairs {
            // No text column can hold NUL, and no legitimate value contains one.
            if name.contains('\0') || value.contains('\0') {
                return Err(ApiError::invalid("Query parameters must not contain NUL characters."));
            }
            if value.len() > MAX_PARAM_BYTES {
                return Err(ApiError::invalid(format!(
                    "The query parameter `{}` is {} bytes long; at most {MAX_PARAM_BYTES} bytes are allowed per parameter.",
                    name.chars().take(64).collect::<String>(),
                    value.len()
                )));
            }
            if values.contains_key(&name) {
                return Err(ApiError::invalid(format!(
                    "The query parameter `{name}` was given more than once; pass one comma-separated value."
                )));
            }
            values.insert(name, value);
        }
        Ok(Self { values })
    }

    /// Refuses parameters outside `allowed`: a misspelt filter silently ignored would return
    /// unfiltered data the caller believes filtered.
    pub fn only<'a>(&self, allowed: impl Iterator<Item = &'a str> + Clone) -> Result<(), ApiError> {
        match self
            .values
            .keys()
            .find(|name| !allowed.clone().any(|a| a == name.as_str()))
        {
            None => Ok(()),
            Some(unknown) => Err(ApiError::invalid(format!(
                "Unknown query parameter `{}`. This endpoint accepts: {}.",
                unknown.chars().take(64).collect::<String>(),
                allowed.map(|a| format!("`{a}`")).collect::<Vec<_>>().join(", ")
            ))),
        }
    }

    /// The raw value; an empty value counts as absent (`?ids=` filters nothing).
    pub fn text(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(|v| v.trim()).filter(|v| !v.is_empty())
    }

    /// A comma-separated list, entries trimmed, empty entries dropped; at most
    /// [`MAX_LIST_VALUES`] of them.
    pub fn list(&self, name: &str) -> Result<Option<Vec<String>>, ApiError> {
        let Some(text) = self.text(name) else { return Ok(None) };
        let items: Vec<String> = text
            .split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .take(MAX_LIST_VALUES + 1)
            .map(str::to_owned)
            .collect();
        if items.len() > MAX_LIST_VALUES {
            return Err(ApiError::invalid(format!(
                "`{name}` has more than {MAX_LIST_VALUES} values; pass at most {MAX_LIST_VALUES} per request."
            )));
        }
        Ok((!items.is_empty()).then_some(items))
    }

    /// `"true"` or `"false"` (the spec's enum), `default` when absent.
    pub fn flag(&self, name: &str, default: bool) -> Result<bool, ApiError> {
        match self.text(name) {
            None => Ok(default),
            Some("true") => Ok(true),
            Some("false") => Ok(false),
            Some(other) => Err(ApiError::invalid(format!(
                "`{name}` must be `true` or `false`, got `{other}`."
            ))),
        }
    }

    /// An integer in `min..=max`, `default` when absent.
    pub fn integer(&self, name: &str, default: i64, min: i64, max: i64) -> Result<i64, ApiError> {
        let Some(text) = self.text(name) else {
            return Ok(default);
        };
        match text.parse::<i64>() {
            Ok(value) if (min..=max).contains(&value) => Ok(value),
            _ => Err(ApiError::invalid(format!(
                "`{name}` must be an integer from {min} to {max}, got `{text}`."
            ))),
        }
    }

    pub fn datetime(&self, name: &str) -> Result<Option<Timestamp>, ApiError> {
        self.text(name)
            .map(|text| {
                parse_datetime(text).ok_or_else(|| {
                    ApiError::invalid(format!(
                        "`{name}` must be an ISO 8601 date-time such as `2024-05-01T00:00:00.000Z`, got `{text}`."
                    ))
                })
            })
            .transpose()
    }

    /// Each value must be one of `allowed`.
    pub fn enum_list(&self, name: &str, allowed: &[&str]) -> Result<Option<Vec<String>>, ApiError> {
        let Some(values) = self.list(name)? else {
            return Ok(None);
        };
        if let Some(bad) = values.iter().find(|v| !allowed.contains(&v.as_str())) {
            return Err(ApiError::invalid(format!(
                "`{name}` accepts {}; got `{bad}`.",
                allowed.iter().map(|a| format!("`{a}`")).collect::<Vec<_>>().join(", ")
            )));
        }
        Ok(Some(values))
    }
}

/// Accepts what the spec's pattern `^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}:\d{2}(\.\d+)?)?Z?$` allows
/// (a date alone means midnight UTC; no zone means UTC), and full RFC 3339 with an offset.
pub fn parse_datetime(text: &str) -> Option<Timestamp> {
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Some(at.with_timezone(&Utc));
    }
    let naive = text.strip_suffix('Z').unwrap_or(text);
    if let Ok(at) = NaiveDateTime::parse_from_str(naive, "%Y-%m-%dT%H:%M:%S%.f") {
        return Some(at.and_utc());
    }
    NaiveDate::parse_from_str(naive, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|at| at.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_list_length_and_parameter_size() {
        let at_cap = vec!["x"; MAX_LIST_VALUES].join(",");
        assert_eq!(
            params(&[("ids", &at_cap)]).list("ids").unwrap().unwrap().len(),
            MAX_LIST_VALUES
        );
        let over = format!("{at_cap},y");
        let error = params(&[("ids", &over)]).list("ids").unwrap_err().to_string();
        assert!(error.contains("`ids`") && error.contains("1000"), "{error}");
        // Empty entries do not count.
        let sparse = format!("{at_cap},,, ,");
        assert!(params(&[("ids", &sparse)]).list("ids").is_ok());

        let long = "y".repeat(MAX_PARAM_BYTES + 1);
        let error = QueryParams::from_pairs(vec![("name_contains".into(), long)])
            .unwrap_err()
            .to_string();
        assert!(error.contains("`name_contains`") && error.contains("32768"), "{error}");
        assert!(QueryParams::from_pairs(vec![("name_contains".into(), "y".repeat(MAX_PARAM_BYTES))]).is_ok());
    }

    fn params(pairs: &[(&str, &str)]) -> QueryParams {
        QueryParams::from_pairs(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()).unwrap()
    }

    #[test]
    fn parses_the_spec_date_formats() {
        let expect = parse_datetime("2024-05-01T10:20:30.123Z").unwrap();
        assert_eq!(expect.timestamp_millis() % 1000, 123);
        assert_eq!(parse_datetime("2024-05-01T10:20:30.123"), Some(expect));
        assert_eq!(parse_datetime("2024-05-01T12:20:30.123+02:00"), Some(expect));
        assert_eq!(
            parse_datetime("2024-05-01").unwrap().to_rfc3339(),
            "2024-05-01T00:00:00+00:00"
        );
        for bad in ["yesterday", "2024-13-01", "2024-05-01T25:00:00Z", "1714521600"] {
            assert_eq!(parse_datetime(bad), None, "{bad}");
        }
    }

    #[test]
    fn validates_ranges_flags_and_repeats() {
        let p = params(&[("page_size", "0"), ("include_deleted", "yes"), ("ids", " a, ,b ")]);
        assert!(p.integer("page_size", 100, 1, 250).is_err());
        assert!(p.flag("include_deleted", false).is_err());
        assert_eq!(p.list("ids").unwrap().unwrap(), vec!["a", "b"]);
        assert_eq!(params(&[]).integer("page_size", 100, 1, 250).unwrap(), 100);
        assert!(
            params(&[("page_size", "251")])
                .integer("page_size", 100, 1, 250)
                .is_err()
        );
        assert!(QueryParams::from_pairs(vec![("a".into(), "1".into()), ("a".into(), "2".into())]).is_err());
    }
}
