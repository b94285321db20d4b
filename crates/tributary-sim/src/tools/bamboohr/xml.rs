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
//! is rendered exactly. The employee directory, a single employee, table rows and the field
//! list have documented XML samples (BambooHR's reference and earlier documentation pages,
//! see `docs/sources/bamboohr.md`): values sit in `<field id="..">` elements, and clients
//! written against those samples read them so. The rest are rendered by one rule (a root
//! element named after the resource, `id` as an attribute, every other key a child element).

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
    /// `GET /v1/employees/directory`: `<directory><fieldset>` naming the fields, then
    /// `<employees>` of `<employee id>` holding `<field id>` values.
    Directory,
    /// `GET /v1/employees/{id}`: `<employee id>` holding `<field id>` values.
    Employee,
    /// `GET /v1/employees/{id}/tables/{table}`: `<table>` of `<row id employeeId>` holding
    /// `<field id>` values.
    Table,
    /// `GET /v1/meta/fields`: `<fields>` of `<field id type alias>name</field>`.
    Fields,
    /// `GET /v1/time_off/requests`: `<requests>` of `<request id>` as the reference's sample.
    Requests,
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
        ["meta", "fields"] => Negotiation::Fields,
        ["meta", "lists"] => xml("lists", "list"),
        ["employees", "directory"] => Negotiation::Directory,
        ["employees", "changed"] => xml("employees", "employee"),
        ["employees", _, "tables", _] => Negotiation::Table,
        ["employees", _, "time_off", "calculator"] => xml("balances", "timeOffType"),
        ["time_off", "requests"] => Negotiation::Requests,
        ["employees", _] => Negotiation::Employee,
        _ => Negotiation::JsonOnly,
    }
}

/// Whether the request asked for JSON the way BambooHR reads it.
pub(super) fn wants_xml(negotiation: Negotiation, headers: &HeaderMap, query: &str) -> bool {
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
    match negotiation {
        Negotiation::JsonOnly => false,
        Negotiation::XmlByDefault { .. }
        | Negotiation::Users
        | Negotiation::Directory
        | Negotiation::Employee
        | Negotiation::Table
        | Negotiation::Fields
        | Negotiation::Requests => !accept.is_some_and(|a| a.contains("application/json")),
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
        Negotiation::Directory => directory(&value, &mut out),
        Negotiation::Employee => with_fields("employee", &["id"], &value, &mut out),
        Negotiation::Table => table(&value, &mut out),
        Negotiation::Fields => fields(&value, &mut out),
        Negotiation::Requests => requests(&value, &mut out),
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

/// `<directory>`, as in the reference's sample: the `fields` as a `<fieldset>` of
/// `<field id="..">name</field>`, the `employees` as `<employee id>` elements of fields.
fn directory(value: &Value, out: &mut String) {
    out.push_str("<directory><fieldset>");
    for field in value.get("fields").and_then(Value::as_array).into_iter().flatten() {
        out.push_str("<field");
        attribute(out, "id", field.get("id"));
        out.push('>');
        escape(&field.get("name").map(scalar).unwrap_or_default(), out);
        out.push_str("</field>");
    }
    out.push_str("</fieldset><employees>");
    for employee in value.get("employees").and_then(Value::as_array).into_iter().flatten() {
        with_fields("employee", &["id"], employee, out);
    }
    out.push_str("</employees></directory>");
}

/// `<table>` of `<row id=".." employeeId="..">` elements of fields.
fn table(value: &Value, out: &mut String) {
    out.push_str("<table>");
    for row in value.as_array().into_iter().flatten() {
        with_fields("row", &["id", "employeeId"], row, out);
    }
    out.push_str("</table>");
}

/// `<fields>` of `<field id=".." type=".." alias="..">name</field>`, as the metadata page's
/// sample (`alias` only where the field has one).
fn fields(value: &Value, out: &mut String) {
    out.push_str("<fields>");
    for field in value.as_array().into_iter().flatten() {
        out.push_str("<field");
        for key in ["id", "type", "alias"] {
            attribute(out, key, field.get(key));
        }
        out.push('>');
        escape(&field.get("name").map(scalar).unwrap_or_default(), out);
        out.push_str("</field>");
    }
    out.push_str("</fields>");
}

/// `<requests>` as the reference's sample: `<employee id>name</employee>`, `<status
/// lastChanged lastChangedByUserId>`, `<type id icon>name</type>`, `<amount unit>`, `<notes>` of
/// `<note from>` (empty notes left out), `<dates>` of `<date ymd amount/>`.
fn requests(value: &Value, out: &mut String) {
    let text = |out: &mut String, name: &str, attrs: &[(&str, Option<&Value>)], v: Option<&Value>| {
        out.push('<');
        out.push_str(name);
        for (key, a) in attrs {
            attribute(out, key, *a);
        }
        out.push('>');
        escape(&v.map(scalar).unwrap_or_default(), out);
        out.push_str("</");
        out.push_str(name);
        out.push('>');
    };
    out.push_str("<requests>");
    for r in value.as_array().into_iter().flatten() {
        out.push_str("<request");
        attribute(out, "id", r.get("id"));
        out.push('>');
        text(out, "employee", &[("id", r.get("employeeId"))], r.get("name"));
        let status = r.get("status");
        let of = |o: Option<&Value>, key: &str| o.and_then(|o| o.get(key).cloned());
        let (changed, by) = (of(status, "lastChanged"), of(status, "lastChangedByUserId"));
        text(
            out,
            "status",
            &[("lastChanged", changed.as_ref()), ("lastChangedByUserId", by.as_ref())],
            of(status, "status").as_ref(),
        );
        for key in ["start", "end", "created"] {
            text(out, key, &[], r.get(key));
        }
        let kind = r.get("type");
        let (id, icon) = (of(kind, "id"), of(kind, "icon"));
        text(
            out,
            "type",
            &[("id", id.as_ref()), ("icon", icon.as_ref())],
            of(kind, "name").as_ref(),
        );
        let amount = r.get("amount");
        let unit = of(amount, "unit");
        text(out, "amount", &[("unit", unit.as_ref())], of(amount, "amount").as_ref());
        out.push_str("<notes>");
        for (from, note) in r.get("notes").and_then(Value::as_object).into_iter().flatten() {
            if note.as_str().is_some_and(|n| !n.is_empty()) {
                text(out, "note", &[("from", Some(&Value::String(from.clone())))], Some(note));
            }
        }
        out.push_str("</notes>");
        if let Some(dates) = r.get("dates").and_then(Value::as_object) {
            out.push_str("<dates>");
            for (ymd, amount) in dates {
                out.push_str("<date ymd=\"");
                escape(ymd, out);
                out.push_str("\" amount=\"");
                escape(&scalar(amount), out);
                out.push_str("\"/>");
            }
            out.push_str("</dates>");
        }
        out.push_str("</request>");
    }
    out.push_str("</requests>");
}

/// An object as `<name a="..">` with the keys in `attributes` as attributes and every other
/// key a `<field id="key">value</field>` (empty values as `<field id="key"/>`).
fn with_fields(name: &str, attributes: &[&str], value: &Value, out: &mut String) {
    out.push('<');
    out.push_str(name);
    let Value::Object(map) = value else {
        out.push_str("/>");
        return;
    };
    for key in attributes {
        attribute(out, key, map.get(*key));
    }
    out.push('>');
    for (key, v) in map.iter().filter(|(k, _)| !attributes.contains(&k.as_str())) {
        out.push_str("<field id=\"");
        escape(key, out);
        match v {
            Value::Null => out.push_str("\"/>"),
            v => {
                out.push_str("\">");
                escape(&scalar(v), out);
                out.push_str("</field>");
            }
        }
    }
    out.push_str("</");
    out.push_str(name);
    out.push('>');
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
        assert_eq!(
            negotiation("/api/gateway.php/demo/v1/employees/all/tables/jobInfo"),
            Negotiation::Table
        );
        assert_eq!(
            negotiation("/api/gateway.php/demo/v1/employees/7"),
            Negotiation::Employee
        );
        assert_eq!(
            negotiation("/api/gateway.php/demo/v1/employees/directory"),
            Negotiation::Directory
        );
        assert_eq!(
            negotiation("/api/gateway.php/demo/v1/meta/fields/"),
            Negotiation::Fields
        );
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
    fn directory_employees_and_tables_hold_their_values_in_field_elements() {
        let mut out = String::new();
        directory(
            &json!({"fields": [{"id": "displayName", "type": "text", "name": "Display name"}],
                    "employees": [{"id": "123", "displayName": "John & Doe", "workPhoneExtension": null}]}),
            &mut out,
        );
        assert_eq!(
            out,
            "<directory><fieldset><field id=\"displayName\">Display name</field></fieldset>\
             <employees><employee id=\"123\"><field id=\"displayName\">John &amp; Doe</field>\
             <field id=\"workPhoneExtension\"/></employee></employees></directory>"
        );
        let mut out = String::new();
        with_fields("employee", &["id"], &json!({"id": "7", "firstName": "Ada"}), &mut out);
        assert_eq!(out, "<employee id=\"7\"><field id=\"firstName\">Ada</field></employee>");
        let mut out = String::new();
        table(&json!([{"id": "3", "employeeId": "7", "date": null}]), &mut out);
        assert_eq!(
            out,
            "<table><row id=\"3\" employeeId=\"7\"><field id=\"date\"/></row></table>"
        );
        let mut out = String::new();
        fields(
            &json!([{"id": 1, "name": "First name", "type": "text", "alias": "firstName"},
                    {"id": 3, "name": "My list", "type": "list"}]),
            &mut out,
        );
        assert_eq!(
            out,
            "<fields><field id=\"1\" type=\"text\" alias=\"firstName\">First name</field>\
             <field id=\"3\" type=\"list\">My list</field></fields>"
        );
    }

    #[test]
    fn time_off_requests_render_the_documented_sample_shape() {
        let mut out = String::new();
        requests(
            &json!([{"id": 1, "employeeId": 1, "name": "Jon Doe",
                     "status": {"lastChanged": "2011-08-14", "lastChangedByUserId": 1, "status": "approved"},
                     "start": "2001-01-01", "end": "2001-01-02", "created": "2011-08-13",
                     "type": {"id": 1, "name": "Vacation", "icon": "time-off-calendar"},
                     "amount": {"unit": "days", "amount": "2"},
                     "notes": {"employee": "Relaxing", "manager": ""},
                     "dates": {"2001-01-01": "1", "2001-01-02": "1"}}]),
            &mut out,
        );
        assert_eq!(
            out,
            "<requests><request id=\"1\"><employee id=\"1\">Jon Doe</employee>\
             <status lastChanged=\"2011-08-14\" lastChangedByUserId=\"1\">approved</status>\
             <start>2001-01-01</start><end>2001-01-02</end><created>2011-08-13</created>\
             <type id=\"1\" icon=\"time-off-calendar\">Vacation</type><amount unit=\"days\">2</amount>\
             <notes><note from=\"employee\">Relaxing</note></notes>\
             <dates><date ymd=\"2001-01-01\" amount=\"1\"/><date ymd=\"2001-01-02\" amount=\"1\"/></dates>\
             </request></requests>"
        );
    }

    #[test]
    fn other_bodies_render_ids_as_attributes() {
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
