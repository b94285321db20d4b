//! A vendor's published API description, and what a request or response breaks of it.
//!
//! The vendored documents live under `docs/sources/specs/<tool>/` (each with a SOURCE.md
//! naming where and when it was read). They are OpenAPI 3.0, 3.1 or Swagger 2.0, in JSON.
//! Requests are taken from the simulator's request log, so a contract test checks what a
//! connector really sent; responses are checked with JSON Schema validation of the
//! operation's documented schema (OpenAPI's `nullable` understood, `$ref`s resolved within
//! the document).
//!
//! Where a newer dated source contradicts the spec, the test declares the difference with
//! [`Spec::allow`] and the tool's ledger says which source won; nothing else is excused.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use jsonschema::{Draft, Validator};
use serde_json::{Map, Value, json};
use tributary_sim::LogEntry;

/// One vendor's API description (possibly several documents merged).
pub struct Spec {
    tool: String,
    documents: Vec<Document>,
    operations: Vec<Operation>,
    allowed: Vec<Deviation>,
    validators: Mutex<HashMap<String, Arc<Validator>>>,
}

struct Document {
    /// The document with OpenAPI-only keywords rewritten as JSON Schema.
    root: Value,
    draft: Draft,
    /// Segments before the spec's own paths in the simulator's path (`{..}` matches any).
    prefix: Vec<String>,
}

struct Operation {
    document: usize,
    method: String,
    /// The path as the spec writes it, e.g. `/company/employees/{employee_id}`.
    template: String,
    segments: Vec<String>,
    /// JSON pointer of the operation object within its document.
    pointer: String,
}

struct Deviation {
    operation: String,
    at: String,
}

/// One broken rule, before it is checked against the declared deviations.
struct Violation {
    operation: String,
    /// A query parameter's name, a JSON pointer into a body, or `` for the request line.
    at: String,
    message: String,
}

/// Which schemes an `Authorization` header may carry for an operation; `None`: the
/// operation allows a scheme the request log cannot see (an API key in another header, or no
/// auth at all), so the header is not checked.
type AuthSchemes = Option<Vec<String>>;

impl Spec {
    /// Loads a vendored document, relative to the repository root. `strip_prefix` is the part
    /// of the simulator's path before the spec's paths (e.g. `/v1`, or
    /// `/api/gateway.php/{companyDomain}/v1`).
    pub fn load(tool: &str, file: &str, strip_prefix: &str) -> Spec {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..").join(file);
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        let doc: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()));
        Spec::from_document(tool, doc, strip_prefix)
    }

    /// A spec from a document in memory (the harness's own tests use this).
    pub fn from_document(tool: &str, doc: Value, strip_prefix: &str) -> Spec {
        let mut spec = Spec {
            tool: tool.to_string(),
            documents: Vec::new(),
            operations: Vec::new(),
            allowed: Vec::new(),
            validators: Mutex::new(HashMap::new()),
        };
        spec.add_document(doc, strip_prefix);
        spec
    }

    /// Adds another document of the same tool (Personio publishes one per API area).
    pub fn merge(mut self, other: Spec) -> Spec {
        let shift = self.documents.len();
        self.documents.extend(other.documents);
        self.operations.extend(other.operations.into_iter().map(|mut op| {
            op.document += shift;
            op
        }));
        self.allowed.extend(other.allowed);
        self
    }

    /// Declares a documented difference: errors of `operation` (e.g. `GET /company/employees`)
    /// at `at` (a query parameter's name, or a JSON pointer: it and everything under it) are
    /// dropped. `why` names the newer dated source that wins; the ledger repeats it.
    pub fn allow(mut self, operation: &str, at: &str, why: &str) -> Spec {
        assert!(!why.trim().is_empty(), "a deviation needs its reason and source");
        self.allowed.push(Deviation {
            operation: operation.to_string(),
            at: at.to_string(),
        });
        self
    }

    /// What a logged request breaks: an unknown method and path, a query parameter the
    /// operation does not declare, a missing required one, a value its schema refuses, or an
    /// `Authorization` scheme the operation does not accept.
    pub fn check_request(&self, entry: &LogEntry) -> Vec<String> {
        let mut found = Vec::new();
        let Some(op) = self.operation(&entry.method, &entry.path) else {
            return vec![format!(
                "{}: {} {} is not an operation of the specification",
                self.tool, entry.method, entry.path
            )];
        };
        let name = op.name();
        let doc = &self.documents[op.document];
        let params = self.parameters(op);

        let mut seen: HashMap<String, Vec<String>> = HashMap::new();
        for (key, value) in url::form_urlencoded::parse(entry.query.as_bytes()) {
            // `ids[]=1&ids[]=2` is the array parameter `ids` (or one declared as `ids[]`).
            let key = key.into_owned();
            let declared = if params.contains_key(&key) {
                key.clone()
            } else {
                key.strip_suffix("[]").unwrap_or(&key).to_string()
            };
            seen.entry(declared).or_default().push(value.into_owned());
        }
        for (key, values) in &seen {
            let Some(param) = params.get(key) else {
                found.push(Violation {
                    operation: name.clone(),
                    at: key.clone(),
                    message: format!("query parameter `{key}` is not declared by the operation"),
                });
                continue;
            };
            let schema = param_schema(param);
            let instance = coerce(&schema, &doc.root, values);
            for message in self.validate(&format!("{}#param:{key}", op.pointer), op.document, &schema, &instance) {
                found.push(Violation {
                    operation: name.clone(),
                    at: key.clone(),
                    message: format!("query parameter `{key}`: {message}"),
                });
            }
        }
        for (key, param) in &params {
            if param.get("required").and_then(Value::as_bool) == Some(true) && !seen.contains_key(key) {
                found.push(Violation {
                    operation: name.clone(),
                    at: key.clone(),
                    message: format!("required query parameter `{key}` is missing"),
                });
            }
        }
        if let Some(accepted) = self.auth_schemes(op) {
            let sent = entry.auth_scheme.clone().unwrap_or_else(|| "none".into());
            if !accepted.iter().any(|a| a.eq_ignore_ascii_case(&sent)) {
                found.push(Violation {
                    operation: name.clone(),
                    at: "Authorization".into(),
                    message: format!("authorization scheme `{sent}`, the operation accepts {accepted:?}"),
                });
            }
        }
        self.report(found)
    }

    /// What a response body breaks of the schema the operation documents for `status`.
    pub fn check_response(&self, method: &str, path: &str, status: u16, body: &Value) -> Vec<String> {
        let Some(op) = self.operation(method, path) else {
            return vec![format!(
                "{}: {method} {path} is not an operation of the specification",
                self.tool
            )];
        };
        let doc = &self.documents[op.document];
        let operation = resolve(&doc.root, pointer(&doc.root, &op.pointer).unwrap_or(&Value::Null));
        let responses = operation.get("responses").cloned().unwrap_or_default();
        let code = status.to_string();
        let class = format!("{}XX", status / 100);
        let Some((key, response)) = [code.as_str(), class.as_str(), "default"]
            .into_iter()
            .find_map(|k| responses.get(k).map(|r| (k, r)))
        else {
            return self.report(vec![Violation {
                operation: op.name(),
                at: String::new(),
                message: format!("status {status} is not a documented response"),
            }]);
        };
        let response = resolve(&doc.root, response);
        let schema_pointer = if let Some(content) = response.get("content").and_then(Value::as_object) {
            // The JSON representation: `application/json`, or a vendor type ending in `json`.
            let Some((media, _)) = content
                .iter()
                .find(|(m, c)| m.split(';').next().is_some_and(|m| m.ends_with("json")) && c.get("schema").is_some())
            else {
                return Vec::new();
            };
            format!(
                "{}/responses/{}/content/{}/schema",
                op.pointer,
                escape(key),
                escape(media)
            )
        } else if response.get("schema").is_some() {
            format!("{}/responses/{}/schema", op.pointer, escape(key))
        } else {
            return Vec::new();
        };
        // A `$ref`ed response object: point into the component it names instead.
        let schema_pointer = match responses.get(key).and_then(|r| r.get("$ref")).and_then(Value::as_str) {
            Some(target) => schema_pointer.replacen(
                &format!("{}/responses/{}", op.pointer, escape(key)),
                target.trim_start_matches('#'),
                1,
            ),
            None => schema_pointer,
        };
        // A pointer in a URI fragment is percent-encoded (RFC 6901 §6): path templates carry
        // `{` and `}`, which a URI may not.
        let fragment = schema_pointer.replace('{', "%7B").replace('}', "%7D");
        let schema = json!({ "$ref": format!("#{fragment}") });
        let found = self
            .validate(&schema_pointer, op.document, &schema, body)
            .into_iter()
            .map(|message| {
                let (at, message) = message
                    .split_once('\u{0}')
                    .map_or((String::new(), message.clone()), |(a, m)| {
                        (a.to_string(), m.to_string())
                    });
                let place = if at.is_empty() {
                    "the top level".to_string()
                } else {
                    format!("`{at}`")
                };
                Violation {
                    operation: op.name(),
                    message: format!("response {status} at {place}: {message}"),
                    at,
                }
            })
            .collect();
        self.report(found)
    }

    /// What a list answer to a request naming `fields` (a sparse fieldset) breaks: each item
    /// must be the operation's documented item narrowed to those fields, carrying every one of
    /// them the item documents and nothing else, each as the schema types it.
    pub fn check_response_fields(
        &self,
        method: &str,
        path: &str,
        status: u16,
        body: &Value,
        fields: &[&str],
    ) -> Vec<String> {
        let Some(op) = self.operation(method, path) else {
            return vec![format!(
                "{}: {method} {path} is not an operation of the specification",
                self.tool
            )];
        };
        let doc = &self.documents[op.document];
        let at = format!(
            "{}/responses/{status}/content/application~1json/schema/items",
            op.pointer
        );
        let Some(item) = pointer(&doc.root, &at).map(|i| resolve(&doc.root, i).clone()) else {
            return vec![format!(
                "{} {}: no JSON array documented for status {status}",
                self.tool,
                op.name()
            )];
        };
        let mut narrowed = item.as_object().cloned().unwrap_or_default();
        let properties: Map<String, Value> = narrowed
            .get("properties")
            .and_then(Value::as_object)
            .map(|p| {
                p.iter()
                    .filter(|(k, _)| fields.contains(&k.as_str()))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect()
            })
            .unwrap_or_default();
        let required: Vec<Value> = properties.keys().map(|k| json!(k)).collect();
        narrowed.insert("properties".into(), Value::Object(properties));
        narrowed.insert("required".into(), Value::Array(required));
        narrowed.insert("additionalProperties".into(), json!(false));
        let schema = json!({"type": "array", "items": Value::Object(narrowed)});
        let found = self
            .validate(&format!("{at}#fields:{}", fields.join(",")), op.document, &schema, body)
            .into_iter()
            .map(|message| {
                let (at, message) = message
                    .split_once('\u{0}')
                    .map_or((String::new(), message.clone()), |(a, m)| {
                        (a.to_string(), m.to_string())
                    });
                Violation {
                    operation: op.name(),
                    message: format!("response {status} with fields {fields:?} at `{at}`: {message}"),
                    at,
                }
            })
            .collect();
        self.report(found)
    }

    /// Each violation not excused by a declared deviation, as one line naming the tool, the
    /// operation and the field.
    fn report(&self, found: Vec<Violation>) -> Vec<String> {
        found
            .into_iter()
            .filter(|v| {
                !self.allowed.iter().any(|d| {
                    d.operation == v.operation
                        && (d.at == v.at || (d.at.starts_with('/') && v.at.starts_with(&format!("{}/", d.at))))
                })
            })
            .map(|v| format!("{} {}: {}", self.tool, v.operation, v.message))
            .collect()
    }

    fn add_document(&mut self, doc: Value, strip_prefix: &str) {
        let draft = match doc.get("openapi").and_then(Value::as_str) {
            Some(v) if v.starts_with("3.1") => Draft::Draft202012,
            Some(v) if v.starts_with("3.") => Draft::Draft4,
            _ if doc.get("swagger").is_some() => Draft::Draft4,
            _ => panic!("{}: not an OpenAPI 3 or Swagger 2 document", self.tool),
        };
        let mut root = doc;
        if draft == Draft::Draft4 {
            rewrite_nullable(&mut root);
        }
        let index = self.documents.len();
        let paths = root
            .get("paths")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        for (template, item) in &paths {
            for method in ["get", "put", "post", "delete", "patch", "head", "options"] {
                if item.get(method).is_none() {
                    continue;
                }
                self.operations.push(Operation {
                    document: index,
                    method: method.to_uppercase(),
                    template: template.clone(),
                    segments: segments(template),
                    pointer: format!("/paths/{}/{method}", escape(template)),
                });
            }
        }
        self.documents.push(Document {
            root,
            draft,
            prefix: segments(strip_prefix),
        });
    }

    /// The operation a request path names: literal segments must match, `{..}` segments match
    /// any; where several match, the one with the most literal segments wins
    /// (`/employees/attributes` before `/employees/{id}`). A trailing slash is a segment.
    fn operation(&self, method: &str, path: &str) -> Option<&Operation> {
        let request = segments(path);
        self.operations
            .iter()
            .filter(|op| op.method.eq_ignore_ascii_case(method))
            .filter_map(|op| {
                let prefix = &self.documents[op.document].prefix;
                let rest = strip(prefix, &request)?;
                matches(&op.segments, rest).map(|literal| (literal, op))
            })
            .max_by_key(|(literal, _)| *literal)
            .map(|(_, op)| op)
    }

    /// The operation's query parameters (path-level ones too), `$ref`s resolved, by name.
    fn parameters(&self, op: &Operation) -> HashMap<String, Value> {
        let doc = &self.documents[op.document];
        let item_pointer = op.pointer.rsplit_once('/').map(|(item, _)| item).unwrap_or_default();
        let mut found = HashMap::new();
        for at in [
            format!("{item_pointer}/parameters"),
            format!("{}/parameters", op.pointer),
        ] {
            for param in pointer(&doc.root, &at).and_then(Value::as_array).into_iter().flatten() {
                let param = resolve(&doc.root, param);
                if param.get("in").and_then(Value::as_str) != Some("query") {
                    continue;
                }
                if let Some(name) = param.get("name").and_then(Value::as_str) {
                    found.insert(name.strip_suffix("[]").unwrap_or(name).to_string(), param.clone());
                }
            }
        }
        found
    }

    fn auth_schemes(&self, op: &Operation) -> AuthSchemes {
        let doc = &self.documents[op.document];
        let operation = pointer(&doc.root, &op.pointer)?;
        let requirements = operation
            .get("security")
            .or_else(|| doc.root.get("security"))?
            .as_array()?;
        let definitions = doc
            .root
            .pointer("/components/securitySchemes")
            .or_else(|| doc.root.get("securityDefinitions"))?;
        let mut schemes = Vec::new();
        for requirement in requirements {
            let names = requirement.as_object()?;
            if names.is_empty() {
                return None;
            }
            for name in names.keys() {
                let scheme = resolve(&doc.root, definitions.get(name)?);
                match scheme.get("type").and_then(Value::as_str)? {
                    "http" => schemes.push(capitalise(scheme.get("scheme").and_then(Value::as_str)?)),
                    "basic" => schemes.push("Basic".into()),
                    "oauth2" | "openIdConnect" => schemes.push("Bearer".into()),
                    "apiKey"
                        if scheme.get("in").and_then(Value::as_str) == Some("header")
                            && scheme
                                .get("name")
                                .and_then(Value::as_str)
                                .is_some_and(|n| n.eq_ignore_ascii_case("authorization")) =>
                    {
                        // A token sent as the whole header value: any scheme word.
                        return None;
                    }
                    _ => return None,
                }
            }
        }
        (!schemes.is_empty()).then_some(schemes)
    }

    /// Errors of `instance` against `schema` (resolved within the document), each as
    /// `"<instance pointer>\0<message>"` for responses, or the message for parameters.
    fn validate(&self, key: &str, document: usize, schema: &Value, instance: &Value) -> Vec<String> {
        let doc = &self.documents[document];
        let cache_key = format!("{document}:{key}:{schema}");
        let validator = {
            let mut cache = self.validators.lock().unwrap();
            cache
                .entry(cache_key)
                .or_insert_with(|| {
                    // The whole document is the root, so `#/components/...` refs resolve; a
                    // root `$ref` makes the validator check only the schema it names.
                    let mut root = doc.root.clone();
                    let target = match schema.get("$ref") {
                        Some(r) => r.clone(),
                        None => {
                            root.as_object_mut()
                                .unwrap()
                                .insert("x-contract-target".into(), schema.clone());
                            json!("#/x-contract-target")
                        }
                    };
                    let mut wrapper = Map::new();
                    wrapper.insert("$ref".into(), target);
                    for (k, v) in root.as_object().unwrap() {
                        if k != "$ref" && k != "$schema" && k != "$id" && k != "id" {
                            wrapper.insert(k.clone(), v.clone());
                        }
                    }
                    let wrapper = Value::Object(wrapper);
                    let validator = jsonschema::options()
                        .with_draft(doc.draft)
                        .should_validate_formats(true)
                        .build(&wrapper)
                        .unwrap_or_else(|e| panic!("{}: the schema at {key} does not compile: {e}", self.tool));
                    Arc::new(validator)
                })
                .clone()
        };
        validator
            .iter_errors(instance)
            .map(|e| format!("{}\u{0}{}", e.instance_path(), e))
            .map(|m| {
                if key.contains("#param:") {
                    m.split_once('\u{0}').map(|(_, m)| m.to_string()).unwrap_or(m)
                } else {
                    m
                }
            })
            .collect()
    }
}

impl Operation {
    fn name(&self) -> String {
        format!("{} {}", self.method, self.template)
    }
}

/// `/a/b/` → `["a", "b", ""]`: a trailing slash is kept as an empty last segment.
fn segments(path: &str) -> Vec<String> {
    let path = path.strip_prefix('/').unwrap_or(path);
    if path.is_empty() {
        return Vec::new();
    }
    path.split('/').map(str::to_string).collect()
}

fn is_variable(segment: &str) -> bool {
    segment.starts_with('{') && segment.ends_with('}')
}

fn strip<'a>(prefix: &[String], path: &'a [String]) -> Option<&'a [String]> {
    if path.len() < prefix.len() {
        return None;
    }
    for (p, s) in prefix.iter().zip(path) {
        if !is_variable(p) && p != s {
            return None;
        }
    }
    Some(&path[prefix.len()..])
}

/// How many literal segments matched, if the template matches the path.
fn matches(template: &[String], path: &[String]) -> Option<usize> {
    if template.len() != path.len() {
        return None;
    }
    let mut literal = 0;
    for (t, s) in template.iter().zip(path) {
        if is_variable(t) {
            if s.is_empty() {
                return None;
            }
        } else if t == s {
            literal += 1;
        } else {
            return None;
        }
    }
    Some(literal)
}

fn escape(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

fn pointer<'a>(root: &'a Value, at: &str) -> Option<&'a Value> {
    root.pointer(at)
}

/// Follows a local `$ref` (repeatedly); anything else is returned as is.
fn resolve<'a>(root: &'a Value, mut value: &'a Value) -> &'a Value {
    for _ in 0..32 {
        match value
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|r| r.strip_prefix('#'))
        {
            Some(at) => match root.pointer(at) {
                Some(target) => value = target,
                None => return value,
            },
            None => return value,
        }
    }
    value
}

/// A parameter's schema: OpenAPI 3's `schema`, or Swagger 2's inline `type`/`enum`/… keys.
fn param_schema(param: &Value) -> Value {
    if let Some(schema) = param.get("schema") {
        return schema.clone();
    }
    let mut schema = Map::new();
    for key in [
        "type",
        "format",
        "enum",
        "minimum",
        "maximum",
        "items",
        "pattern",
        "minLength",
        "maxLength",
    ] {
        if let Some(v) = param.get(key) {
            schema.insert(key.into(), v.clone());
        }
    }
    Value::Object(schema)
}

/// A query string's text as the JSON value the parameter's schema describes: numbers and
/// booleans parsed (left as text when they do not parse, so the schema reports the type),
/// arrays from repeated keys or comma-separated values.
fn coerce(schema: &Value, root: &Value, values: &[String]) -> Value {
    let schema = resolve(root, schema);
    let kind = schema_type(schema);
    if kind.as_deref() == Some("array") {
        let items = schema.get("items").cloned().unwrap_or_default();
        let parts: Vec<&str> = if values.len() == 1 {
            values[0].split(',').collect()
        } else {
            values.iter().map(String::as_str).collect()
        };
        return Value::Array(parts.into_iter().map(|p| scalar(&items, root, p)).collect());
    }
    if values.len() > 1 {
        return Value::Array(values.iter().map(|v| scalar(schema, root, v)).collect());
    }
    scalar(schema, root, &values[0])
}

fn scalar(schema: &Value, root: &Value, text: &str) -> Value {
    let schema = resolve(root, schema);
    match schema_type(schema).as_deref() {
        Some("integer") => text.parse::<i64>().map(Value::from).unwrap_or_else(|_| json!(text)),
        Some("number") => text.parse::<f64>().map(Value::from).unwrap_or_else(|_| json!(text)),
        Some("boolean") => text.parse::<bool>().map(Value::from).unwrap_or_else(|_| json!(text)),
        _ => json!(text),
    }
}

fn schema_type(schema: &Value) -> Option<String> {
    match schema.get("type") {
        Some(Value::String(t)) => Some(t.clone()),
        Some(Value::Array(ts)) => ts
            .iter()
            .filter_map(Value::as_str)
            .find(|t| *t != "null")
            .map(str::to_string),
        _ => None,
    }
}

/// OpenAPI 3.0's `nullable: true` (and Swagger's `x-nullable`) as JSON Schema: `null` joins
/// the type (and the enum). Draft 4 is the JSON Schema that OpenAPI 3.0 extends.
fn rewrite_nullable(value: &mut Value) {
    match value {
        Value::Object(map) => {
            let nullable = [map.get("nullable"), map.get("x-nullable")]
                .into_iter()
                .flatten()
                .any(|v| v.as_bool() == Some(true));
            if nullable {
                if let Some(Value::String(t)) = map.get("type").cloned() {
                    map.insert("type".into(), json!([t, "null"]));
                }
                if let Some(Value::Array(values)) = map.get_mut("enum")
                    && !values.contains(&Value::Null)
                {
                    values.push(Value::Null);
                }
                if map.get("type").is_none()
                    && let Some(target) = map.remove("$ref")
                {
                    map.insert("anyOf".into(), json!([{ "$ref": target }, { "type": "null" }]));
                }
            }
            for v in map.values_mut() {
                rewrite_nullable(v);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(rewrite_nullable),
        _ => {}
    }
}

fn capitalise(word: &str) -> String {
    let mut chars = word.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars.flat_map(char::to_lowercase)).collect(),
        None => String::new(),
    }
}
