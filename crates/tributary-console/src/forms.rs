//! The forms the console's pages post.

use serde::Deserialize;

#[derive(Debug, Deserialize)]
pub(crate) struct SignInForm {
    pub token: String,
}

#[derive(Debug, Deserialize)]
pub(crate) struct TriggerForm {
    /// `FULL`, `DELTA` or `DEFAULT`; empty lets the engine pick.
    #[serde(default)]
    pub sync_type: String,
}

#[derive(Debug, Deserialize)]
pub(crate) struct NewKeyForm {
    pub environment: String,
    pub label: String,
}

#[derive(Debug, Deserialize)]
pub(crate) struct RevokeForm {
    pub api_key_id: String,
}

/// A list page's query string as the operator API's list takes it: fields left empty on the
/// form are dropped (the API refuses an empty filter), and a browser's `datetime-local`
/// value (`2026-12-07T04:10`, no zone) is read as UTC.
pub(crate) fn list_query(raw: Option<&str>) -> String {
    let mut out = url::form_urlencoded::Serializer::new(String::new());
    for (key, value) in url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        let value = value.trim();
        if value.is_empty() {
            continue;
        }
        let is_local_time = key.starts_with("started_") && value.len() == 16 && !value.ends_with('Z');
        if is_local_time {
            out.append_pair(&key, &format!("{value}:00Z"));
        } else {
            out.append_pair(&key, value);
        }
    }
    out.finish()
}

/// `query` with its `cursor` replaced: the link to the next page.
pub(crate) fn with_cursor(query: &str, cursor: &str) -> String {
    let mut out = url::form_urlencoded::Serializer::new(String::new());
    for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
        if key != "cursor" {
            out.append_pair(&key, &value);
        }
    }
    out.append_pair("cursor", cursor);
    out.finish()
}

/// One value of a query string, for refilling a form.
pub(crate) fn value_of(query: &str, wanted: &str) -> String {
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(key, _)| key == wanted)
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_queries_drop_empty_fields_and_read_local_times_as_utc() {
        let query = list_query(Some("state=FAILED&tool=&started_after=2026-12-07T04%3A10&limit=20"));
        assert_eq!(query, "state=FAILED&started_after=2026-12-07T04%3A10%3A00Z&limit=20");
        assert_eq!(
            with_cursor(&query, "abc"),
            "state=FAILED&started_after=2026-12-07T04%3A10%3A00Z&limit=20&cursor=abc"
        );
        assert_eq!(value_of(&query, "state"), "FAILED");
        assert_eq!(list_query(None), "");
    }
}
