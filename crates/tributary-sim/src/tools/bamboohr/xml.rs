//! BambooHR's default format: XML, unless the request asks for JSON.
//!
//! BambooHR's OpenAPI document (`BambooHR/bhr-api-python`, `specs/public.yaml`, generated
//! 2026-04-27) lists `application/xml` beside `application/json` for the older endpoints and
//! says of them: "Send `Accept: application/json` to receive JSON; omit the header or send any
//! other value to receive XML" (`list-users`). The handlers render JSON; this module turns a
//! JSON answer into XML when the request did not ask for JSON, so a client that forgets the
//! header gets a body its JSON parser rejects, as it would from BambooHR.
//!
//! Only `list-users` documents its XML schema (`<users><user id=".." employeeId="..">`), which
//! is rendered exactly. For the others the document declares `application/xml` without a
//! schema; they are rendered by one rule (a root element named after the resource, `id` as an
//! attribute, every other key a child element), noted in `docs/sources/bamboohr.md`.

use axum::body::{Body, to_bytes};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

/// How an endpoint answers without `Accept: application/json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Negotiation {
    /// The endpoint documents only JSON (`GET /v1/hris/org/locations`,
    /// `GET /v1/meta/time_off/types`): it answers JSON whatever the Accept.
    JsonOnly,
    /// XML unless the request's Accept names `application/json`.
    XmlByDefault { root: &'static str, item: &'static str },
    /// `POST /v1/reports/custom`: the `format` parameter decides, else the Accept header,
    /// and only `text/xml` of the Accept values selects XML (`request-custom-report`).
    Report,
    /// `GET /v1/meta/users`: the schema `ListUsersXmlResponse`.
    Users,
}

/// The negotiation of the endpoint at `path` (relative to the company's base URL).
pub(super) fn negotiation(path: &str) -> Negotiation {
    let path = path.trim_end_matches('/');
    let Some(rest) = path.split("/v1/").nth(1) else {
        return Negotiation::JsonOnly;
    };
    let segments: Vec<&str> = rest.split('/').collect();
    let xml = |root, item| Negotiation::XmlByDefault { root, item };
    match segments.as_slice() {
        ["hris", "org", "locations"] | ["meta", "time_off", "types"] => Negotiation::JsonOnly,
        ["reports", "custom"] => Negotiation::Report,
        ["meta", "users"] => Negotiation::Users,
        ["meta", "fields"] => xml("fields", "field"),
        ["meta", "lists"] => xml("lists", "list"),
        ["employees", "directory"] => xml("directory", "employee"),
        ["employees", "changed"] => xml("employees", "employee"),
        ["employees", _, "tables", _] => xml("table", "row"),
        ["employees", _, "time_off", "calculator"] => xml("balances", "timeOffType"),
        ["time_off", "requests"] => xml("requests", "request"),
        ["employees", _] => xml("employee", "field"),
        _ => Negotiation::JsonOnly,
    }
}

/// Whether the request asked for JSON the way BambooHR reads it.
pub(super) fn wants_xml(negotiation: Negotiation, headers: &HeaderMap, query: &str) -> bool {
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
    match negotiation {
        Negotiation::JsonOnly => false,
        Negotiation::XmlByDefault { .. } | Negotiation::Users => {
            !accept.is_some_and(|a| a.contains("application/json"))
        }
        Negotiation::Report => {
            let format = query
                .split('&')
                .filter_map(|kv| kv.split_once('='))
                .find(|(k, _)| *k == "format")
                .map(|(_, v)| v.to_ascii_lowercase());
            match format {
                Some(f) => f == "xml",
                None => accept == Some("text/xml"),
            }
        }
    }
}

/// Turns a successful JSON answer into the endpoint's XML. Errors and empty bodies pass.
pub(super) async fn into_xml(negotiation: Negotiation, response: Response) -> Response {
    if response.status() != StatusCode::OK {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = to_bytes(body, usize::MAX).await else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let Ok(value) = serde_json::from_slice::<Value>(&bytes) else {
        return Response::from_parts(parts, Body::from(bytes));
    };
    let mut out = String::from("<?xml version=\"1.0\"?>\n");
    match negotiation {
        Negotiation::Users => users(&value, &mut out),
        Negotiation::Report => element("report", "employee", &value, &mut out),
        Negotiation::XmlByDefault { root, item } => element(root, item, &value, &mut out),
        Negotiation::JsonOnly => return Response::from_parts(parts, Body::from(bytes)),
    }
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/xml; charset=utf-8"),
    );
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(out))
}

/// `ListUsersXmlResponse`: `<users>` holding one `<user id=".." employeeId="..">` per user,
/// `employeeId` only when the user has an employee record.
fn users(value: &Value, out: &mut String) {
    out.push_str("<users>");
    if let Value::Object(users) = value {
        for user in users.values() {
            out.push_str("<user");
            attribute(out, "id", user.get("id"));
            if user.get("employeeId").and_then(Value::as_u64).is_some_and(|e| e != 0) {
                attribute(out, "employeeId", user.get("employeeId"));
            }
            out.push('>');
            for key in ["firstName", "lastName", "email", "status", "lastLogin"] {
                if let Some(v) = user.get(key).filter(|v| !v.is_null()) {
                    out.push_str(&format!("<{key}>"));
                    escape(&scalar(v), out);
                    out.push_str(&format!("</{key}>"));
                }
            }
            out.push_str("</user>");
        }
    }
    out.push_str("</users>");
}

/// One element: objects become attributes (`id`) and child elements, arrays repeat `item`,
/// scalars become text. Keys that are not XML names (ids, dates as map keys) become
/// `<item key="..">`.
fn element(name: &str, item: &str, value: &Value, out: &mut String) {
    out.push('<');
    out.push_str(name);
    match value {
        Value::Object(map) => {
            attribute(out, "id", map.get("id").filter(|v| !v.is_object() && !v.is_array()));
            out.push('>');
            for (key, v) in map {
                if key == "id" && !v.is_object() && !v.is_array() {
                    continue;
                }
                if is_name(key) {
                    element(key, singular(key), v, out);
                } else {
                    out.push_str("<item key=\"");
                    escape(key, out);
                    out.push_str("\">");
                    inner(item, v, out);
                    out.push_str("</item>");
                }
            }
        }
        Value::Array(items) => {
            out.push('>');
            for v in items {
                element(item, "item", v, out);
            }
        }
        Value::Null => {
            out.push_str("/>");
            return;
        }
        scalar_value => {
            out.push('>');
            escape(&scalar(scalar_value), out);
        }
    }
    out.push_str("</");
    out.push_str(name);
    out.push('>');
}

/// The content of an element without its tags (for `<item key="..">`).
fn inner(item: &str, value: &Value, out: &mut String) {
    match value {
        Value::Object(_) | Value::Array(_) => element(item, "item", value, out),
        Value::Null => {}
        v => escape(&scalar(v), out),
    }
}

fn attribute(out: &mut String, name: &str, value: Option<&Value>) {
    if let Some(v) = value.filter(|v| !v.is_null()) {
        out.push(' ');
        out.push_str(name);
        out.push_str("=\"");
        escape(&scalar(v), out);
        out.push('"');
    }
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn singular(key: &str) -> &str {
    key.strip_suffix('s').filter(|s| !s.is_empty()).unwrap_or("item")
}

fn is_name(key: &str) -> bool {
    let mut chars = key.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

fn escape(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn endpoints_negotiate_as_documented() {
        assert_eq!(
            negotiation("/api/gateway.php/demo/v1/hris/org/locations"),
            Negotiation::JsonOnly
        );
        assert_eq!(negotiation("/api/gateway.php/demo/v1/meta/users/"), Negotiation::Users);
        assert_eq!(
            negotiation("/api/gateway.php/demo/v1/reports/custom"),
            Negotiation::Report
        );
        assert!(matches!(
            negotiation("/api/gateway.php/demo/v1/employees/all/tables/jobInfo"),
            Negotiation::XmlByDefault { root: "table", .. }
        ));
        assert!(matches!(
            negotiation("/api/gateway.php/demo/v1/employees/7"),
            Negotiation::XmlByDefault { root: "employee", .. }
        ));
        let mut headers = HeaderMap::new();
        assert!(wants_xml(Negotiation::Users, &headers, ""));
        assert!(!wants_xml(Negotiation::Report, &headers, "format=JSON"));
        assert!(wants_xml(Negotiation::Report, &headers, "format=xml"));
        headers.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
        assert!(!wants_xml(Negotiation::Users, &headers, ""));
    }

    #[test]
    fn users_render_the_documented_schema() {
        let mut out = String::new();
        users(
            &json!({"1": {"id": 1, "employeeId": 5, "firstName": "Ada", "lastName": "L & Co", "email": "a@x", "status": "enabled"},
                    "2": {"id": 2, "employeeId": 0, "firstName": "B", "lastName": "C", "email": "b@x", "status": "disabled"}}),
            &mut out,
        );
        assert_eq!(
            out,
            "<users><user id=\"1\" employeeId=\"5\"><firstName>Ada</firstName><lastName>L &amp; Co</lastName>\
             <email>a@x</email><status>enabled</status></user><user id=\"2\"><firstName>B</firstName>\
             <lastName>C</lastName><email>b@x</email><status>disabled</status></user></users>"
        );
    }

    #[test]
    fn other_bodies_render_ids_as_attributes() {
        let mut out = String::new();
        element(
            "table",
            "row",
            &json!([{"id": "3", "employeeId": "7", "date": null}]),
            &mut out,
        );
        assert_eq!(
            out,
            "<table><row id=\"3\"><date/><employeeId>7</employeeId></row></table>"
        );
        let mut out = String::new();
        element(
            "employees",
            "employee",
            &json!({"employees": {"7": {"id": "7"}}}),
            &mut out,
        );
        assert_eq!(
            out,
            "<employees><employees><item key=\"7\"><employee id=\"7\"></employee></item></employees></employees>"
        );
    }
}
