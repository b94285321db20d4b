//! The rules for what the admin endpoints store: integration ids, tools, environments, base
//! URLs, credentials, scope configs and API key labels. Each check names the field and says what
//! would be accepted. They run before anything is written, and they also keep out what a
//! database would refuse with an error of its own (a NUL in a Postgres text or jsonb value),
//! which would otherwise surface as a 500.

use std::collections::HashSet;

use serde_json::Value;
use tributary_model::{IdGen, Model, ScopeConfig, ToolKind};
use tributary_source::{ClientConfig, SourceClient};

use crate::body::kind;
use crate::error::OpsError;

/// Longer ids, environments or labels are refused: they travel in headers and logs.
pub const MAX_ID_LEN: usize = 200;
pub const MAX_ENVIRONMENT_LEN: usize = 64;
pub const MAX_LABEL_LEN: usize = 200;

/// `tool` as named in a body: `personio`, `greenhouse` or `bamboohr`.
pub fn tool(text: &str) -> Result<ToolKind, OpsError> {
    ToolKind::parse(text).ok_or_else(|| {
        OpsError::invalid(format!(
            "The field `tool` must be one of {}; got `{}`.",
            known_tools(),
            printable(text)
        ))
    })
}

/// `<tool>:<name>`, as the CLI's `integration create` takes it, with the tool agreeing with
/// `tool`: the prefix is what every other part of tributary reads the tool from.
pub fn integration_id(id: &str, tool: ToolKind) -> Result<(), OpsError> {
    let shape = || {
        OpsError::invalid(format!(
            "The field `id` must look like `{tool}:<name>` (e.g. `{tool}:acme`), the name made of letters, digits, `-`, `_` or `.`, at most {MAX_ID_LEN} characters; got `{}`.",
            printable(id)
        ))
    };
    let (prefix, name) = id.split_once(':').ok_or_else(shape)?;
    if id.len() > MAX_ID_LEN || name.is_empty() || !name.chars().all(is_name_char) {
        return Err(shape());
    }
    if prefix != tool.as_str() {
        return Err(OpsError::invalid(format!(
            "The id `{id}` names the tool `{}`, but `tool` is `{tool}`; the id must start with `{tool}:`.",
            printable(prefix)
        )));
    }
    Ok(())
}

/// The environment (tenant) an integration or API key belongs to.
pub fn environment(text: &str) -> Result<String, OpsError> {
    if text.is_empty() || text.len() > MAX_ENVIRONMENT_LEN || !text.chars().all(is_name_char) {
        return Err(OpsError::invalid(format!(
            "The field `environment` must be 1 to {MAX_ENVIRONMENT_LEN} letters, digits, `-`, `_` or `.` (e.g. `production`); got `{}`.",
            printable(text)
        )));
    }
    Ok(text.to_owned())
}

/// The tool's API root: http(s) with a host. No user info, query or fragment: connectors append
/// paths to it, and it is returned by the API, so credentials must never ride in it.
pub fn base_url(text: &str) -> Result<String, OpsError> {
    let text = text.trim();
    let invalid = |why: String| {
        OpsError::invalid(format!(
            "The field `base_url` must be the tool's http(s) API root, e.g. `https://api.personio.de`: {why}."
        ))
    };
    if text.chars().any(char::is_control) {
        return Err(invalid("it contains control characters".into()));
    }
    let url = url::Url::parse(text).map_err(|e| invalid(format!("`{text}` is not a URL ({e})")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(invalid(format!("`{text}` is not an http(s) URL with a host")));
    }
    if !url.username().is_empty() || url.password().is_some() {
        // Not echoed: the user info is likely a secret.
        return Err(invalid(
            "it carries a user name or password; put those in `credentials`".into(),
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid(format!(
            "`{text}` has a query or fragment; give the API root only, and keys in `credentials`"
        )));
    }
    Ok(text.to_owned())
}

/// The tool's credentials: a JSON object of the shape its connector needs (Personio
/// and Greenhouse (Harvest v3) `client_id` and `client_secret`, BambooHR `api_key`). The connector itself is
/// the judge: it is built, which checks the shape without contacting the tool. Its messages
/// name the missing key, never a value.
pub fn credentials(tool: ToolKind, id: &str, base_url: &str, credentials: Value) -> Result<Value, OpsError> {
    if !credentials.is_object() {
        return Err(OpsError::invalid(format!(
            "The field `credentials` must be a JSON object (e.g. {}), got {}.",
            credentials_example(tool),
            kind(&credentials)
        )));
    }
    // A client per check: admin writes are rare, and the client is dropped unused.
    let client = SourceClient::new(ClientConfig::default()).map_err(OpsError::Source)?;
    tributary_connectors::build(tool, base_url, &credentials, IdGen::new(id), client).map_err(|e| {
        OpsError::invalid(format!(
            "The field `credentials` does not suit {tool} ({e}); expected {}.",
            credentials_example(tool)
        ))
    })?;
    Ok(credentials)
}

fn credentials_example(tool: ToolKind) -> &'static str {
    match tool {
        ToolKind::Personio | ToolKind::Greenhouse => r#"{"client_id": "...", "client_secret": "..."}"#,
        ToolKind::Bamboohr => r#"{"api_key": "..."}"#,
    }
}

const SCOPE_EXAMPLE: &str = r#"{"read_models": [{"id": "hris_employees", "scope_config_setting": "ENABLED", "fields": [{"id": "date_of_birth", "scope_config_setting": "DISABLED"}]}]}"#;

/// A scope config in Kombo's `read_models` shape, checked more strictly than serde would: an
/// unknown key, model, setting or a model listed twice is refused, because a typo must not
/// quietly leave data enabled.
pub fn scope_config(value: Value) -> Result<ScopeConfig, OpsError> {
    let invalid = |detail: String| {
        OpsError::invalid(format!(
            "Invalid scope config: {detail}. Expected Kombo's shape, e.g. {SCOPE_EXAMPLE}; settings are `ENABLED`, `DISABLED` or `OPTIONAL`."
        ))
    };
    if !value.is_object() {
        return Err(invalid(format!("got {}", kind(&value))));
    }
    let scope: ScopeConfig = serde_json::from_value(value.clone()).map_err(|e| invalid(e.to_string()))?;
    // `ScopeConfig` ignores keys it does not know; every key it does know is written back out,
    // so any key of the input missing from its serialisation is a stray.
    let canonical = serde_json::to_value(&scope).map_err(|e| invalid(e.to_string()))?;
    if let Some(stray) = stray(&value, &canonical, "") {
        return Err(invalid(stray));
    }
    scope
        .validate()
        .map_err(|e| invalid(format!("{e} (known: {})", read_model_ids().join(", "))))?;
    let mut models = HashSet::new();
    for (m, model) in scope.read_models.iter().enumerate() {
        if !models.insert(model.id.as_str()) {
            return Err(invalid(format!("the read model `{}` is listed twice", model.id)));
        }
        let mut fields = HashSet::new();
        for (f, field) in model.fields.iter().enumerate() {
            if field.id.is_empty() || field.id.len() > MAX_ID_LEN || field.id.chars().any(char::is_control) {
                return Err(invalid(format!(
                    "`read_models[{m}].fields[{f}].id` must be a field name of 1 to {MAX_ID_LEN} printable characters"
                )));
            }
            if !fields.insert(field.id.as_str()) {
                return Err(invalid(format!(
                    "the field `{}` of `{}` is listed twice",
                    field.id, model.id
                )));
            }
        }
    }
    Ok(scope)
}

/// [`scope_config`] for an integration of `tool`: it must also say what it sets (`{}` is
/// refused: replacing a config with it would quietly turn every model and field back on; an
/// explicit `{"read_models": []}` does that), and every model and field it names must be a
/// read model of the tool and a field of that model.
pub fn tool_scope_config(tool: ToolKind, value: Value) -> Result<ScopeConfig, OpsError> {
    let names_models = value.get("read_models").is_some();
    let scope = scope_config(value)?;
    if !names_models {
        return Err(OpsError::invalid(format!(
            "Invalid scope config: `read_models` is missing. An empty config is not a reset; send {{\"read_models\": []}} to enable every model and field, e.g. {SCOPE_EXAMPLE}."
        )));
    }
    tributary_gateway::check_scope_names(tool, &scope)
        .map_err(|e| OpsError::invalid(format!("Invalid scope config: {e}.")))?;
    Ok(scope)
}

/// The first place where `input` holds a key, or a nesting, that `canonical` (the same value
/// after a round trip through its type) does not.
fn stray(input: &Value, canonical: &Value, path: &str) -> Option<String> {
    match (input, canonical) {
        (Value::Object(given), Value::Object(kept)) => given.iter().find_map(|(key, value)| {
            let at = if path.is_empty() {
                key.clone()
            } else {
                format!("{path}.{key}")
            };
            match kept.get(key) {
                None => Some(format!("unknown field `{at}`")),
                Some(kept) => stray(value, kept, &at),
            }
        }),
        (Value::Array(given), Value::Array(kept)) => given
            .iter()
            .zip(kept)
            .enumerate()
            .find_map(|(i, (value, kept))| stray(value, kept, &format!("{path}[{i}]"))),
        // serde also reads a struct from an array; the API takes objects only.
        (given, Value::Object(_)) if !given.is_object() => {
            Some(format!("`{path}` must be an object, got {}", kind(given)))
        }
        _ => None,
    }
}

/// A free-text label for an API key, so a key can be told apart when it is revoked.
pub fn label(text: &str) -> Result<String, OpsError> {
    let text = text.trim();
    if text.is_empty() || text.chars().count() > MAX_LABEL_LEN || text.chars().any(char::is_control) {
        return Err(OpsError::invalid(format!(
            "The field `label` must be 1 to {MAX_LABEL_LEN} printable characters saying what the key is for (e.g. `payroll-export`)."
        )));
    }
    Ok(text.to_owned())
}

/// The secret a source tool signs its webhooks with (Greenhouse's secret key, BambooHR's
/// private key) or sends verbatim (Personio's token, in the `Authorization` header). It travels
/// in an HTTP header for Personio, so it must be visible ASCII with inner spaces at most.
pub fn inbound_secret(text: &str) -> Result<String, OpsError> {
    let len = text.chars().count();
    let visible = text.bytes().all(|b| b == b' ' || b.is_ascii_graphic());
    if !(MIN_SECRET_LEN..=MAX_SECRET_LEN).contains(&len) || !visible || text.trim() != text {
        return Err(OpsError::invalid(format!(
            "The field `secret` must be {MIN_SECRET_LEN} to {MAX_SECRET_LEN} visible ASCII characters (inner spaces allowed), exactly as entered in the tool's webhook settings."
        )));
    }
    Ok(text.to_owned())
}

pub const MIN_SECRET_LEN: usize = 8;
pub const MAX_SECRET_LEN: usize = 512;

/// An id taken from the path. Ids never hold control characters, and Postgres refuses a NUL in
/// a text parameter with an error, so such an id is a 400 rather than a lookup.
pub fn path_id(what: &str, id: &str) -> Result<(), OpsError> {
    if id.is_empty() || id.len() > MAX_ID_LEN || id.chars().any(char::is_control) {
        return Err(OpsError::invalid(format!(
            "The {what} id in the path must be 1 to {MAX_ID_LEN} printable characters."
        )));
    }
    Ok(())
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')
}

fn known_tools() -> String {
    ToolKind::ALL
        .iter()
        .map(|t| format!("`{t}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Input echoed in a message, cut short and without control characters.
fn printable(text: &str) -> String {
    let mut shown: String = text
        .chars()
        .take(64)
        .map(|c| if c.is_control() { '\u{fffd}' } else { c })
        .collect();
    if text.chars().count() > 64 {
        shown.push('…');
    }
    shown
}

/// Kombo's read-model ids, for messages.
fn read_model_ids() -> Vec<&'static str> {
    Model::ALL.iter().map(|m| m.scope_id()).collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn message(result: Result<impl std::fmt::Debug, OpsError>) -> String {
        match result {
            Err(OpsError::InvalidInput(m)) => m,
            other => panic!("not an input error: {other:?}"),
        }
    }

    #[test]
    fn integration_ids_follow_the_cli() {
        assert!(integration_id("personio:acme", ToolKind::Personio).is_ok());
        assert!(integration_id("bamboohr:a.b-c_1", ToolKind::Bamboohr).is_ok());
        for bad in [
            "personio",
            "personio:",
            "personio:a b",
            "personio:ä",
            "personio:a:b",
            ":acme",
        ] {
            assert!(integration_id(bad, ToolKind::Personio).is_err(), "{bad}");
        }
        let long = format!("personio:{}", "a".repeat(MAX_ID_LEN));
        assert!(integration_id(&long, ToolKind::Personio).is_err());
        let got = message(integration_id("greenhouse:acme", ToolKind::Personio));
        assert!(got.contains("must start with `personio:`"), "{got}");
        let got = message(tool("workday"));
        assert!(
            got.contains("`personio`, `greenhouse`, `bamboohr`") && got.contains("workday"),
            "{got}"
        );
    }

    #[test]
    fn base_urls_are_http_roots_without_secrets() {
        assert_eq!(
            base_url(" https://api.personio.de ").unwrap(),
            "https://api.personio.de"
        );
        assert!(base_url("http://127.0.0.1:7070/personio").is_ok());
        for bad in [
            "api.personio.de",
            "ftp://api.personio.de",
            "https://",
            "file:///etc/passwd",
            "https://api.personio.de/?key=1",
            "https://api.personio.de/#x",
            "https://a\u{0}b.de",
        ] {
            assert!(base_url(bad).is_err(), "{bad}");
        }
        let got = message(base_url("https://user:hunter2@api.personio.de"));
        assert!(!got.contains("hunter2"), "{got}");
    }

    #[test]
    fn credentials_are_judged_by_the_connector() {
        let url = "https://api.personio.de";
        let ok = json!({"client_id": "a", "client_secret": "b"});
        assert_eq!(
            credentials(ToolKind::Personio, "personio:x", url, ok.clone()).unwrap(),
            ok
        );
        let got = message(credentials(
            ToolKind::Personio,
            "personio:x",
            url,
            json!({"client_id": "a", "api_key": "hunter2"}),
        ));
        assert!(got.contains("client_secret") && !got.contains("hunter2"), "{got}");
        assert!(credentials(ToolKind::Greenhouse, "greenhouse:x", url, json!({"client_id": " "})).is_err());
        // A Harvest v1/v2 key: those APIs are gone, and the message says what to create instead.
        let got = message(credentials(
            ToolKind::Greenhouse,
            "greenhouse:x",
            "https://harvest.greenhouse.io",
            json!({"api_key": "hunter2"}),
        ));
        assert!(
            got.contains("31 August 2026") && got.contains("Harvest V3 (OAuth)") && got.contains("client_secret"),
            "{got}"
        );
        assert!(!got.contains("hunter2"), "{got}");
        assert!(credentials(ToolKind::Bamboohr, "bamboohr:x", url, json!({"api_key": "k"})).is_ok());
        let got = message(credentials(ToolKind::Bamboohr, "bamboohr:x", url, json!("k")));
        assert!(got.contains("got a string") && got.contains("api_key"), "{got}");
    }

    #[test]
    fn scope_configs_are_strict() {
        let ok = json!({"read_models": [
            {"id": "hris_employees", "fields": [{"id": "date_of_birth", "scope_config_setting": "DISABLED"}]},
            {"id": "hris_absences", "scope_config_setting": "OPTIONAL", "opted_out_by_customer": true}
        ]});
        let scope = scope_config(ok).unwrap();
        assert!(!scope.model_enabled(Model::Absences));
        assert_eq!(scope.disabled_fields(Model::Employees), vec!["date_of_birth"]);
        assert_eq!(scope_config(json!({})).unwrap(), ScopeConfig::default());
        for (bad, says) in [
            (json!([]), "got an array"),
            (json!({"models": []}), "unknown field `models`"),
            (
                json!({"read_models": [{"id": "hris_employees", "setting": "DISABLED"}]}),
                "unknown field `read_models[0].setting`",
            ),
            (
                json!({"read_models": [{"id": "hris_employees", "fields": [{"id": "ssn", "disabled": true}]}]}),
                "unknown field `read_models[0].fields[0].disabled`",
            ),
            (
                json!({"read_models": [["hris_employees", "DISABLED"]]}),
                "`read_models[0]` must be an object",
            ),
            (json!({"read_models": [{"id": "hris_employes"}]}), "hris_employes"),
            (
                json!({"read_models": [{"id": "hris_employees", "scope_config_setting": "OFF"}]}),
                "OFF",
            ),
            (
                json!({"read_models": [{"id": "hris_employees"}, {"id": "hris_employees"}]}),
                "listed twice",
            ),
            (
                json!({"read_models": [{"id": "hris_employees", "fields": [{"id": "ssn"}, {"id": "ssn"}]}]}),
                "listed twice",
            ),
            (
                json!({"read_models": [{"id": "hris_employees", "fields": [{"id": "a\u{0}"}]}]}),
                "printable",
            ),
            (json!({"read_models": {"id": "hris_employees"}}), "invalid type"),
        ] {
            let got = message(scope_config(bad.clone()));
            assert!(got.contains(says), "{bad}: {got}");
        }
    }

    #[test]
    fn environments_labels_and_path_ids() {
        assert_eq!(environment("prod-eu.1").unwrap(), "prod-eu.1");
        for bad in ["", "prod eu", "prod/eu", &"e".repeat(MAX_ENVIRONMENT_LEN + 1)] {
            assert!(environment(bad).is_err(), "{bad}");
        }
        assert_eq!(label("  payroll export ").unwrap(), "payroll export");
        for bad in ["", "  ", "a\u{0}b", &"l".repeat(MAX_LABEL_LEN + 1)] {
            assert!(label(bad).is_err(), "{bad:?}");
        }
        assert!(path_id("integration", "personio:acme").is_ok());
        assert!(path_id("integration", "a\u{0}").is_err());
    }
}
