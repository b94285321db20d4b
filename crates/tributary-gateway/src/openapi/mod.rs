//! Kombo's OpenAPI document (vendored in `openapi/kombo-openapi.json`): the contract the
//! response shapes are compiled from, and the source of the document we publish at
//! `GET /v1/openapi.json`, cut down to the operations this gateway serves.

mod node;

use std::collections::BTreeSet;
use std::sync::LazyLock;

use indexmap::IndexMap;
pub use node::Node;

const KOMBO: &str = include_str!("../../openapi/kombo-openapi.json");

static KOMBO_DOC: LazyLock<Node> =
    LazyLock::new(|| serde_json::from_str(KOMBO).expect("the vendored OpenAPI document is valid JSON"));

/// Kombo's whole document.
pub fn kombo() -> &'static Node {
    &KOMBO_DOC
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
        let Node::Object(item) = paths.entry((*path).to_owned()).or_insert_with(|| Node::Object(IndexMap::new()))
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
                .filter(|(name, _)| group == "securitySchemes" || reached.contains(&format!("#/components/{group}/{name}")))
                .map(|(name, node)| (name.clone(), node.clone()))
                .collect();
            if !kept.is_empty() {
                components.insert(group.clone(), Node::Object(kept));
            }
        }
    }

    let mut info = kombo.get("info").as_object().cloned().unwrap_or_default();
    info.insert("title".into(), Node::String("tributary read API (Kombo-compatible)".into()));
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
            assert!(!doc.pointer(reference.trim_start_matches('#')).is_null(), "{reference} dangles");
        }
        assert!(doc.get("components").get("schemas").as_object().unwrap().len() < kombo().get("components").get("schemas").as_object().unwrap().len());
    }
}
