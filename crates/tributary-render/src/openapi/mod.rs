//! Kombo's OpenAPI document (vendored in `openapi/kombo-openapi.json`): the contract the
//! response shapes are compiled from, and the source of the document we publish at
//! `GET /v1/openapi.json`, cut down to the operations this gateway serves.

mod node;

use std::collections::BTreeSet;
use std::sync::LazyLock;

use indexmap::IndexMap;
pub use node::Node;

const KOMBO: &str = include_str!("../../openapi/kombo-openapi.json");
const SDK_FIELDS: &str = include_str!("../../openapi/sdk-fields.json");

static KOMBO_DOC: LazyLock<Node> = LazyLock::new(|| {
    let mut doc: Node = serde_json::from_str(KOMBO).expect("the vendored OpenAPI document is valid JSON");
    let additions: Node = serde_json::from_str(SDK_FIELDS).expect("sdk-fields.json is valid JSON");
    add_sdk_fields(&mut doc, &additions).expect("sdk-fields.json names places the document has");
    doc
});

/// Kombo's whole document, with the fields the official SDK requires beyond it
/// (`openapi/sdk-fields.json` says which and why).
pub fn kombo() -> &'static Node {
    &KOMBO_DOC
}

/// Adds each field of `additions.fields` as a required property of the list item (or of the
/// nested object `at` names) of `GET <path>`.
fn add_sdk_fields(doc: &mut Node, additions: &Node) -> Result<(), String> {
    for entry in additions.get("fields").as_array().unwrap_or_default() {
        let path = entry.get("path").as_str().ok_or("an entry without `path`")?;
        let field = entry.get("field").as_str().ok_or("an entry without `field`")?;
        let schema = additions.get("schemas").get(field).clone();
        let at: Vec<&str> = entry
            .get("at")
            .as_array()
            .unwrap_or_default()
            .iter()
            .filter_map(Node::as_str)
            .collect();
        let pointer = object_pointer(doc, path, &at).ok_or_else(|| format!("GET {path} has no object at {at:?}"))?;
        let Some(Node::Object(object)) = doc.pointer_mut(&pointer) else {
            return Err(format!("{pointer} is not an object schema"));
        };
        if let Node::Object(properties) = object
            .entry("properties".to_owned())
            .or_insert_with(|| Node::Object(IndexMap::new()))
        {
            properties.entry(field.to_owned()).or_insert(schema);
        }
        if let Node::Array(required) = object
            .entry("required".to_owned())
            .or_insert_with(|| Node::Array(Vec::new()))
            && !required.iter().any(|r| r.as_str() == Some(field))
        {
            required.push(Node::String(field.to_owned()));
        }
    }
    Ok(())
}

/// The JSON pointer of the object schema of `GET <path>`'s list items, then of the property
/// chain `at` below them, following `$ref`s, array items and nullable unions.
fn object_pointer(doc: &Node, path: &str, at: &[&str]) -> Option<String> {
    let escape = |token: &str| token.replace('~', "~0").replace('/', "~1");
    let resolve = |mut pointer: String| -> String {
        for _ in 0..32 {
            match doc.pointer(&pointer).get("$ref").as_str() {
                Some(target) => pointer = target.trim_start_matches('#').to_owned(),
                None => break,
            }
        }
        pointer
    };
    let object_of = |pointer: String| -> Option<String> {
        let pointer = resolve(pointer);
        let node = doc.pointer(&pointer);
        if let Some(options) = node.get("anyOf").as_array() {
            let i = options.iter().position(|o| o.get("type").as_str() != Some("null"))?;
            return Some(resolve(format!("{pointer}/anyOf/{i}")));
        }
        let is_array = match node.get("type") {
            Node::String(t) => t == "array",
            Node::Array(types) => types.iter().any(|t| t.as_str() == Some("array")),
            _ => false,
        };
        Some(if is_array {
            resolve(format!("{pointer}/items"))
        } else {
            pointer
        })
    };
    let mut pointer = resolve(format!(
        "/paths/{}/get/responses/200/content/application~1json/schema",
        escape(path)
    ));
    pointer = resolve(format!("{pointer}/properties/data/properties/results/items"));
    for step in at {
        pointer = object_of(format!("{pointer}/properties/{}", escape(step)))?;
    }
    (!doc.pointer(&pointer).get("properties").is_null()).then_some(pointer)
}

/// The operations below `/v1` that this gateway serves, as (path, method).
pub const SERVED: &[(&str, &str)] = &[
    ("/check-api-key", "get"),
    ("/force-sync", "post"),
    ("/integrations/{integration_id}", "get"),
    ("/integrations/{integration_id}", "delete"),
    ("/hris/employees", "get"),
    ("/hris/employments", "get"),
    ("/hris/groups", "get"),
    ("/hris/locations", "get"),
    ("/hris/legal-entities", "get"),
    ("/hris/absence-types", "get"),
    ("/hris/absences", "get"),
    ("/hris/time-off-balances", "get"),
    ("/ats/jobs", "get"),
    ("/ats/candidates", "get"),
    ("/ats/applications", "get"),
    ("/ats/application-stages", "get"),
    ("/ats/users", "get"),
    ("/ats/tags", "get"),
    ("/ats/interviews", "get"),
    ("/ats/offers", "get"),
    ("/ats/rejection-reasons", "get"),
];

static SERVED_DOC: LazyLock<Node> = LazyLock::new(|| served_document(kombo(), SERVED));

/// Our document: Kombo's, with only the served operations and the components they use.
pub fn served() -> &'static Node {
    &SERVED_DOC
}

fn served_document(kombo: &Node, served: &[(&str, &str)]) -> Node {
    let mut paths: IndexMap<String, Node> = IndexMap::new();
    for (path, method) in served {
        let operation = kombo.get("paths").get(path).get(method);
        if operation.is_null() {
            continue;
        }
        let Node::Object(item) = paths
            .entry((*path).to_owned())
            .or_insert_with(|| Node::Object(IndexMap::new()))
        else {
            unreachable!("path items are objects")
        };
        item.insert((*method).to_owned(), operation.clone());
    }
    let paths = Node::Object(paths);

    // Keep exactly the components the kept operations reach, following refs transitively.
    let mut reached = BTreeSet::new();
    let mut pending = Vec::new();
    collect_refs(&paths, &mut pending);
    collect_refs(kombo.get("security"), &mut pending);
    while let Some(reference) = pending.pop() {
        if reached.insert(reference.clone()) {
            collect_refs(kombo.pointer(reference.trim_start_matches('#')), &mut pending);
        }
    }
    let mut components: IndexMap<String, Node> = IndexMap::new();
    if let Some(groups) = kombo.get("components").as_object() {
        for (group, entries) in groups {
            let Some(entries) = entries.as_object() else { continue };
            let kept: IndexMap<String, Node> = entries
                .iter()
                .filter(|(name, _)| {
                    group == "securitySchemes" || reached.contains(&format!("#/components/{group}/{name}"))
                })
                .map(|(name, node)| (name.clone(), node.clone()))
                .collect();
            if !kept.is_empty() {
                components.insert(group.clone(), Node::Object(kept));
            }
        }
    }

    let mut info = kombo.get("info").as_object().cloned().unwrap_or_default();
    info.insert(
        "title".into(),
        Node::String("tributary read API (Kombo-compatible)".into()),
    );
    info.insert(
        "description".into(),
        Node::String(
            "The subset of Kombo's unified API that tributary serves from its mirror. Paths, parameters, \
             response shapes and error codes follow Kombo's public OpenAPI document."
                .into(),
        ),
    );
    let mut doc: IndexMap<String, Node> = IndexMap::new();
    doc.insert("openapi".into(), kombo.get("openapi").clone());
    doc.insert("info".into(), Node::Object(info));
    // Relative, so the document is right behind any host or proxy prefix it is served under.
    let mut server = IndexMap::new();
    server.insert("url".into(), Node::String("/v1".into()));
    doc.insert("servers".into(), Node::Array(vec![Node::Object(server)]));
    if !kombo.get("security").is_null() {
        doc.insert("security".into(), kombo.get("security").clone());
    }
    doc.insert("paths".into(), paths);
    doc.insert("components".into(), Node::Object(components));
    Node::Object(doc)
}

fn collect_refs(node: &Node, out: &mut Vec<String>) {
    match node {
        Node::Object(map) => {
            for (key, value) in map {
                match (key.as_str(), value) {
                    ("$ref", Node::String(reference)) => out.push(reference.clone()),
                    _ => collect_refs(value, out),
                }
            }
        }
        Node::Array(items) => items.iter().for_each(|item| collect_refs(item, out)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_served_document_is_closed_under_refs_and_lists_only_what_we_serve() {
        let doc = served();
        let paths = doc.get("paths").as_object().unwrap();
        assert_eq!(paths.len(), 20);
        assert!(doc.get("paths").get("/hris/employees").get("post").is_null());
        assert!(!doc.get("paths").get("/force-sync").get("post").is_null());
        let mut refs = Vec::new();
        collect_refs(doc, &mut refs);
        assert!(!refs.is_empty());
        for reference in refs {
            assert!(
                !doc.pointer(reference.trim_start_matches('#')).is_null(),
                "{reference} dangles"
            );
        }
        assert!(
            doc.get("components").get("schemas").as_object().unwrap().len()
                < kombo().get("components").get("schemas").as_object().unwrap().len()
        );
    }

    #[test]
    fn the_fields_the_sdk_requires_are_added_and_required() {
        for (model, at) in [
            (tributary_model::Model::AbsenceTypes, None),
            (tributary_model::Model::Absences, Some("type")),
            (tributary_model::Model::Jobs, Some("stages")),
            (tributary_model::Model::Applications, Some("current_stage")),
        ] {
            let shape = crate::schema::shape(model);
            let shape = match at.map(|key| &shape.fields.iter().find(|f| f.name == key).unwrap().nested) {
                None => shape,
                Some(crate::schema::Nested::Object(inner) | crate::schema::Nested::ArrayOf(inner)) => inner,
                Some(other) => panic!("{model}: {other:?}"),
            };
            let custom = shape
                .fields
                .iter()
                .find(|f| f.name == "custom_fields")
                .expect("custom_fields");
            assert_eq!(custom.missing, crate::schema::Missing::Null, "{model}");
        }
    }
}
