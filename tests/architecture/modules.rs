//! The module tree of each crate target: which file holds which module, what each module
//! defines and which names its `use` items bind.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use syn::{Item, UseTree};

/// A module's path below its crate root, `["postgres", "runs"]` for `crate::postgres::runs`.
pub type ModPath = Vec<String>;

/// One compiled crate: a library or a binary root and every file its `mod` items reach.
pub struct Target {
    pub name: String,
    pub files: Vec<SourceFile>,
    pub modules: BTreeMap<ModPath, Module>,
}

pub struct SourceFile {
    /// The path below the workspace, as the report shows it.
    pub display: String,
    /// The module the file holds; inline modules inside it are in the same file.
    pub module: ModPath,
    pub ast: syn::File,
}

#[derive(Default)]
pub struct Module {
    pub file: usize,
    pub children: BTreeSet<String>,
    /// Names of items defined here (functions, types, traits, consts, macros, modules).
    pub defines: BTreeSet<String>,
    pub uses: Vec<Binding>,
}

/// One leaf of a `use` tree.
pub struct Binding {
    /// The name it binds; `None` for a glob or `as _`.
    pub name: Option<String>,
    pub glob: bool,
    /// The path as written, relative to the module the `use` is in.
    pub path: Vec<String>,
    pub public: bool,
    pub line: usize,
}

/// Every library and binary root under `crates/*/src`.
pub fn workspace_targets(workspace: &Path) -> Vec<Target> {
    let mut crates: Vec<PathBuf> = fs::read_dir(workspace.join("crates"))
        .expect("crates/ is readable")
        .map(|entry| entry.expect("crates/ entry").path())
        .filter(|dir| dir.join("Cargo.toml").is_file())
        .collect();
    crates.sort();
    let mut targets = Vec::new();
    for dir in crates {
        let crate_name = dir.file_name().expect("crate dir").to_string_lossy().into_owned();
        let src = dir.join("src");
        let mut roots = vec![
            (src.join("lib.rs"), crate_name.clone()),
            (src.join("main.rs"), format!("{crate_name} (bin)")),
        ];
        if let Ok(bins) = fs::read_dir(src.join("bin")) {
            for bin in bins {
                let path = bin.expect("src/bin entry").path();
                let stem = path.file_stem().expect("bin file").to_string_lossy().into_owned();
                roots.push((path, format!("{crate_name} (bin {stem})")));
            }
        }
        for (root, name) in roots {
            if root.is_file() {
                targets.push(load(workspace, &root, name));
            }
        }
    }
    targets
}

pub fn load(workspace: &Path, root: &Path, name: String) -> Target {
    let mut target = Target {
        name,
        files: Vec::new(),
        modules: BTreeMap::new(),
    };
    let src_dir = root.parent().expect("root file has a directory").to_path_buf();
    let file = add_file(&mut target, workspace, root, Vec::new());
    let items = target.files[file].ast.items.clone();
    collect(&mut target, workspace, &items, Vec::new(), file, &src_dir);
    target
}

fn add_file(target: &mut Target, workspace: &Path, path: &Path, module: ModPath) -> usize {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let ast = syn::parse_file(&text).unwrap_or_else(|e| panic!("parse {}: {e}", path.display()));
    let display = path.strip_prefix(workspace).unwrap_or(path).display().to_string();
    target.files.push(SourceFile { display, module, ast });
    target.files.len() - 1
}

/// Records the module `module` (held by `file`) and everything below it. `child_dir` is where
/// the files of its `mod x;` children live.
fn collect(target: &mut Target, workspace: &Path, items: &[Item], module: ModPath, file: usize, child_dir: &Path) {
    target.modules.entry(module.clone()).or_default().file = file;
    for item in items.iter().filter(|item| !is_test_only(item)) {
        let defined = match item {
            Item::Mod(m) => {
                let name = m.ident.to_string();
                assert!(
                    !m.attrs.iter().any(|a| a.path().is_ident("path")),
                    "{}: `#[path]` on `mod {name}` is not understood by this check",
                    target.files[file].display
                );
                let mut child = module.clone();
                child.push(name.clone());
                let dir = child_dir.join(&name);
                match &m.content {
                    Some((_, inner)) => collect(target, workspace, inner, child, file, &dir),
                    None => {
                        let (path, dir) = if child_dir.join(format!("{name}.rs")).is_file() {
                            (child_dir.join(format!("{name}.rs")), dir)
                        } else {
                            (dir.join("mod.rs"), dir)
                        };
                        let child_file = add_file(target, workspace, &path, child.clone());
                        let inner = target.files[child_file].ast.items.clone();
                        collect(target, workspace, &inner, child, child_file, &dir);
                    }
                }
                target
                    .modules
                    .get_mut(&module)
                    .expect("recorded above")
                    .children
                    .insert(name.clone());
                Some(name)
            }
            Item::Use(u) => {
                let public = !matches!(u.vis, syn::Visibility::Inherited);
                let line = u.use_token.span.start().line;
                let mut leaves = Vec::new();
                leaves_of(&u.tree, Vec::new(), &mut leaves);
                let entry = target.modules.get_mut(&module).expect("recorded above");
                for (name, glob, path) in leaves {
                    entry.uses.push(Binding {
                        name,
                        glob,
                        path,
                        public,
                        line,
                    });
                }
                None
            }
            Item::Fn(f) => Some(f.sig.ident.to_string()),
            Item::Struct(s) => Some(s.ident.to_string()),
            Item::Enum(e) => Some(e.ident.to_string()),
            Item::Union(u) => Some(u.ident.to_string()),
            Item::Trait(t) => Some(t.ident.to_string()),
            Item::TraitAlias(t) => Some(t.ident.to_string()),
            Item::Type(t) => Some(t.ident.to_string()),
            Item::Const(c) => Some(c.ident.to_string()),
            Item::Static(s) => Some(s.ident.to_string()),
            Item::Macro(m) => m.ident.as_ref().map(ToString::to_string),
            _ => None,
        };
        if let Some(name) = defined {
            target
                .modules
                .get_mut(&module)
                .expect("recorded above")
                .defines
                .insert(name);
        }
    }
}

fn leaves_of(tree: &UseTree, prefix: Vec<String>, out: &mut Vec<(Option<String>, bool, Vec<String>)>) {
    match tree {
        UseTree::Path(p) => {
            let mut prefix = prefix;
            prefix.push(p.ident.to_string());
            leaves_of(&p.tree, prefix, out);
        }
        UseTree::Name(n) => {
            let mut path = prefix;
            if n.ident != "self" {
                path.push(n.ident.to_string());
            }
            out.push((path.last().cloned(), false, path));
        }
        UseTree::Rename(r) => {
            let mut path = prefix;
            if r.ident != "self" {
                path.push(r.ident.to_string());
            }
            let name = (r.rename != "_").then(|| r.rename.to_string());
            out.push((name, false, path));
        }
        UseTree::Glob(_) => out.push((None, true, prefix)),
        UseTree::Group(g) => {
            for item in &g.items {
                leaves_of(item, prefix.clone(), out);
            }
        }
    }
}

/// Whether an item is compiled only for the crate's own unit tests (`#[cfg(test)]`).
pub fn is_test_only(item: &Item) -> bool {
    let attrs = match item {
        Item::Const(i) => &i.attrs,
        Item::Enum(i) => &i.attrs,
        Item::ExternCrate(i) => &i.attrs,
        Item::Fn(i) => &i.attrs,
        Item::ForeignMod(i) => &i.attrs,
        Item::Impl(i) => &i.attrs,
        Item::Macro(i) => &i.attrs,
        Item::Mod(i) => &i.attrs,
        Item::Static(i) => &i.attrs,
        Item::Struct(i) => &i.attrs,
        Item::Trait(i) => &i.attrs,
        Item::TraitAlias(i) => &i.attrs,
        Item::Type(i) => &i.attrs,
        Item::Union(i) => &i.attrs,
        Item::Use(i) => &i.attrs,
        _ => return false,
    };
    attrs.iter().any(|attr| {
        attr.path().is_ident("cfg")
            && attr
                .meta
                .require_list()
                .is_ok_and(|list| list.tokens.to_string() == "test")
    })
}
