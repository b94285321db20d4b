//! Which file imports which, within one crate target.
//!
//! The rule:
//! - A `mod x;` item is the parent holding its child, not an import: no edge.
//! - A `use` item, and any path of two or more segments in code or in a macro's tokens
//!   (`crate::a::f()`, `super::X`, `child::f()`, `alias::f()`), is an edge from the file it is
//!   written in to the file that defines what it names.
//! - Re-exports are seen through: `crate::Store` re-exported by `lib.rs` from `postgres/mod.rs`
//!   is an edge to `postgres/mod.rs`, not to `lib.rs`, so a facade that re-exports its
//!   children does not tie every importer to itself.
//! - A non-private `use` that re-exports something from the file's own descendants (a facade's
//!   `pub use child::Item`) is no edge of its own; a private `use`, or a re-export of anything
//!   from elsewhere, is.
//! - A reference into the same file (inline `mod tests` using `super::*`) is no edge.
//! - A directory module is one unit: its `mod.rs` wires its files and holds their shared
//!   vocabulary, which they reach with `super::`. References between a file and its ancestors
//!   (the crate root, the `mod.rs` above it) are no edge; references between siblings and
//!   cousins are.
//! - Code compiled only for unit tests (`#[cfg(test)]` items, usually `mod tests`) is not read:
//!   a test may set its case up from anywhere in the crate; the shipped code may not loop.
//! - Visibility paths (`pub(super)`, `pub(in crate::x)`) are not references.
//!
//! A cycle is a set of two or more files that reach each other over these edges.

use std::collections::BTreeMap;

use proc_macro2::{TokenStream, TokenTree};
use syn::visit::Visit;

use crate::modules::{ModPath, Target, is_test_only};

pub struct Edge {
    pub from: usize,
    pub to: usize,
    /// The first reference that makes the edge: its line and the path as written.
    pub line: usize,
    pub path: String,
    /// How many further references make the same edge.
    pub more: usize,
}

pub fn file_edges(target: &Target) -> Vec<Edge> {
    let mut edges: BTreeMap<(usize, usize), Edge> = BTreeMap::new();
    let mut add = |from: usize, to: usize, line: usize, path: &[String]| {
        let (a, b) = (&target.files[from].module, &target.files[to].module);
        if from == to || is_within(a, b) || is_within(b, a) {
            return;
        }
        edges
            .entry((from, to))
            .and_modify(|e| e.more += 1)
            .or_insert_with(|| Edge {
                from,
                to,
                line,
                path: path.join("::"),
                more: 0,
            });
    };

    for (module, entry) in &target.modules {
        let own = &target.files[entry.file].module;
        for binding in &entry.uses {
            let Some(to) = resolve(target, module, &binding.path, 0) else {
                continue;
            };
            let facade = binding.public && to != entry.file && is_within(&target.files[to].module, own);
            if !facade {
                add(entry.file, to, binding.line, &binding.path);
            }
        }
    }

    for (file, source) in target.files.iter().enumerate() {
        let mut refs = References {
            module: source.module.clone(),
            found: Vec::new(),
        };
        refs.visit_file(&source.ast);
        for (module, path, line) in refs.found {
            if let Some(to) = resolve(target, &module, &path, 0) {
                add(file, to, line, &path);
            }
        }
    }
    edges.into_values().collect()
}

fn is_within(module: &ModPath, ancestor: &ModPath) -> bool {
    module.len() > ancestor.len() && module.starts_with(ancestor)
}

/// The file defining what `path`, written inside `module`, names; `None` for other crates,
/// local names and anything not found.
fn resolve(target: &Target, module: &ModPath, path: &[String], depth: usize) -> Option<usize> {
    // Re-exports that loop would otherwise recurse forever; no real chain is this long.
    if depth > 16 || path.is_empty() {
        return None;
    }
    match path[0].as_str() {
        "crate" => within(target, &Vec::new(), &path[1..], depth),
        "self" => within(target, module, &path[1..], depth),
        "super" => {
            let ups = path.iter().take_while(|s| *s == "super").count();
            let base = module.get(..module.len().checked_sub(ups)?)?.to_vec();
            within(target, &base, &path[ups..], depth)
        }
        first => {
            let here = target.modules.get(module)?;
            if here.children.contains(first) {
                return within(target, module, path, depth);
            }
            let binding = here.uses.iter().find(|b| b.name.as_deref() == Some(first))?;
            let mut full = binding.path.clone();
            full.extend_from_slice(&path[1..]);
            resolve(target, module, &full, depth + 1)
        }
    }
}

/// Like `resolve`, for a path relative to `module` that names its children and items.
fn within(target: &Target, module: &ModPath, rest: &[String], depth: usize) -> Option<usize> {
    let here = target.modules.get(module)?;
    let Some(name) = rest.first() else {
        return Some(here.file);
    };
    if here.children.contains(name) {
        let mut child = module.clone();
        child.push(name.clone());
        return within(target, &child, &rest[1..], depth);
    }
    if here.defines.contains(name) {
        return Some(here.file);
    }
    if let Some(binding) = here.uses.iter().find(|b| b.name.as_deref() == Some(name.as_str())) {
        let mut full = binding.path.clone();
        full.extend_from_slice(&rest[1..]);
        return resolve(target, module, &full, depth + 1).or(Some(here.file));
    }
    for glob in here.uses.iter().filter(|b| b.glob) {
        let mut full = glob.path.clone();
        full.extend_from_slice(rest);
        if let Some(file) = resolve(target, module, &full, depth + 1)
            && provides(target, module, &glob.path, name)
        {
            return Some(file);
        }
    }
    Some(here.file)
}

/// Whether the module a glob `use` names defines or binds `name`.
fn provides(target: &Target, module: &ModPath, glob: &[String], name: &str) -> bool {
    let Some(base) = module_of(target, module, glob) else {
        return false;
    };
    let Some(entry) = target.modules.get(&base) else {
        return false;
    };
    entry.children.contains(name)
        || entry.defines.contains(name)
        || entry.uses.iter().any(|b| b.name.as_deref() == Some(name))
}

/// The module a path written in `module` names, when it names one.
fn module_of(target: &Target, module: &ModPath, path: &[String]) -> Option<ModPath> {
    let (mut base, rest) = match path.first()?.as_str() {
        "crate" => (Vec::new(), &path[1..]),
        "self" => (module.clone(), &path[1..]),
        "super" => {
            let ups = path.iter().take_while(|s| *s == "super").count();
            (module.get(..module.len().checked_sub(ups)?)?.to_vec(), &path[ups..])
        }
        _ => (module.clone(), path),
    };
    for segment in rest {
        if !target.modules.get(&base)?.children.contains(segment) {
            return None;
        }
        base.push(segment.clone());
    }
    Some(base)
}

/// Paths of two or more segments in a file's code and macro tokens, with the module each is
/// written in. `use` items are read from the module tree instead.
struct References {
    module: ModPath,
    found: Vec<(ModPath, Vec<String>, usize)>,
}

impl<'ast> Visit<'ast> for References {
    fn visit_item_mod(&mut self, item: &'ast syn::ItemMod) {
        if let Some((_, items)) = &item.content {
            self.module.push(item.ident.to_string());
            for inner in items {
                self.visit_item(inner);
            }
            self.module.pop();
        }
    }

    fn visit_item(&mut self, item: &'ast syn::Item) {
        if !is_test_only(item) {
            syn::visit::visit_item(self, item);
        }
    }

    fn visit_item_use(&mut self, _: &'ast syn::ItemUse) {}

    fn visit_visibility(&mut self, _: &'ast syn::Visibility) {}

    fn visit_path(&mut self, path: &'ast syn::Path) {
        if path.segments.len() > 1 && path.leading_colon.is_none() {
            let segments = path.segments.iter().map(|s| s.ident.to_string()).collect();
            let line = path.segments[0].ident.span().start().line;
            self.found.push((self.module.clone(), segments, line));
        }
        syn::visit::visit_path(self, path);
    }

    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        self.tokens(mac.tokens.clone());
        syn::visit::visit_macro(self, mac);
    }
}

impl References {
    /// Finds `a::b::c` runs in a macro's tokens, which `syn` leaves unparsed.
    fn tokens(&mut self, tokens: TokenStream) {
        let trees: Vec<TokenTree> = tokens.into_iter().collect();
        let mut i = 0;
        while i < trees.len() {
            if let TokenTree::Group(group) = &trees[i] {
                self.tokens(group.stream());
                i += 1;
                continue;
            }
            let TokenTree::Ident(first) = &trees[i] else {
                i += 1;
                continue;
            };
            let preceded_by_colons = i > 0 && matches!(&trees[i - 1], TokenTree::Punct(p) if p.as_char() == ':');
            let mut segments = vec![first.to_string()];
            let mut j = i + 1;
            while matches!(trees.get(j), Some(TokenTree::Punct(p)) if p.as_char() == ':')
                && matches!(trees.get(j + 1), Some(TokenTree::Punct(p)) if p.as_char() == ':')
            {
                let Some(TokenTree::Ident(next)) = trees.get(j + 2) else {
                    break;
                };
                segments.push(next.to_string());
                j += 3;
            }
            if segments.len() > 1 && !preceded_by_colons {
                self.found
                    .push((self.module.clone(), segments, first.span().start().line));
            }
            i = j.max(i + 1);
        }
    }
}
