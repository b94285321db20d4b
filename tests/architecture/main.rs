//! Architecture checks that read the workspace's own source.
//!
//! `module_cycles`: within every crate of the workspace, no source file imports a file that
//! (directly or through others) imports it back. How a reference becomes an import edge is
//! documented on `imports`.

mod graph;
mod imports;
mod modules;
#[cfg(test)]
mod rules;

use std::fmt::Write as _;
use std::path::Path;

#[test]
fn module_cycles() {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the workspace");
    let targets = modules::workspace_targets(workspace);
    assert!(
        targets.iter().any(|t| t.name == "tributary-store"),
        "the check found no crates under {}",
        workspace.display()
    );

    let mut report = String::new();
    let mut cycles = 0;
    for target in &targets {
        let edges = imports::file_edges(target);
        for component in graph::cycles(target.files.len(), &edges) {
            cycles += 1;
            let names: Vec<_> = component.iter().map(|&f| target.files[f].display.as_str()).collect();
            let _ = writeln!(report, "\n{}: {}", target.name, names.join(" <-> "));
            for edge in edges
                .iter()
                .filter(|e| component.contains(&e.from) && component.contains(&e.to))
            {
                let _ = writeln!(
                    report,
                    "    {} -> {}   ({}:{} `{}`{})",
                    target.files[edge.from].display,
                    target.files[edge.to].display,
                    target.files[edge.from].display,
                    edge.line,
                    edge.path,
                    if edge.more > 0 {
                        format!(", and {} more", edge.more)
                    } else {
                        String::new()
                    },
                );
            }
        }
    }
    assert!(cycles == 0, "{cycles} import cycle(s) between source files:\n{report}");
}
