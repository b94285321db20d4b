//! The edge rules of `imports`, held against a small crate written for the purpose: the cycles
//! it must report and the look-alikes it must not.

use std::fs;

use crate::{graph, imports, modules};

const FILES: &[(&str, &str)] = &[
    (
        "src/lib.rs",
        "mod a; mod b; mod c; mod e; mod f; mod facade; mod parent;\npub use facade::Shared;\n",
    ),
    // a <-> b: a `use` one way, a path in code the other.
    ("src/a.rs", "use crate::b::helper;\npub fn a_fn() { helper() }\n"),
    ("src/b.rs", "pub fn helper() {}\npub fn call() { crate::a::a_fn(); }\n"),
    // c <-> facade/inner.rs: c names `crate::Shared`, re-exported twice; the edge lands on the
    // file that defines it, which imports c back from inside a macro.
    (
        "src/c.rs",
        "pub const LIMIT: usize = 1;\npub fn make() -> crate::Shared { crate::Shared }\n",
    ),
    ("src/facade/mod.rs", "mod inner;\npub use inner::Shared;\n"),
    (
        "src/facade/inner.rs",
        "pub struct Shared;\npub fn show() { println!(\"{}\", crate::c::LIMIT); }\n",
    ),
    // Not cycles: a parent and its child, and an import made only by unit tests.
    (
        "src/parent/mod.rs",
        "mod child;\npub struct Vocab;\npub fn run() { child::work(); }\n",
    ),
    (
        "src/parent/child.rs",
        "use super::Vocab;\npub fn work() -> Option<Vocab> { None }\n",
    ),
    (
        "src/e.rs",
        "pub fn y() {}\n#[cfg(test)]\nmod tests { use crate::f::x; fn t() { x(); crate::f::x() } }\n",
    ),
    ("src/f.rs", "pub fn x() { crate::e::y() }\n"),
];

#[test]
fn reports_the_cycles_and_only_those() {
    let dir = std::env::temp_dir().join(format!("tributary-architecture-{}", std::process::id()));
    for (path, text) in FILES {
        let path = dir.join(path);
        fs::create_dir_all(path.parent().expect("fixture paths have a directory")).expect("create fixture dir");
        fs::write(&path, text).expect("write fixture");
    }
    let target = modules::load(&dir, &dir.join("src/lib.rs"), "fixture".into());
    let edges = imports::file_edges(&target);
    let found: Vec<Vec<&str>> = graph::cycles(target.files.len(), &edges)
        .iter()
        .map(|c| c.iter().map(|&f| target.files[f].display.as_str()).collect())
        .collect();
    let _ = fs::remove_dir_all(&dir);
    let mut found: Vec<Vec<&str>> = found
        .into_iter()
        .map(|mut c| {
            c.sort_unstable();
            c
        })
        .collect();
    found.sort();
    assert_eq!(
        found,
        vec![vec!["src/a.rs", "src/b.rs"], vec!["src/c.rs", "src/facade/inner.rs"]],
        "edges: {:?}",
        edges
            .iter()
            .map(|e| (&target.files[e.from].display, &target.files[e.to].display))
            .collect::<Vec<_>>()
    );
}
