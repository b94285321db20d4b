//! Architecture checks that read the workspace's own source.
//!
//! `module_cycles`: within every crate of the workspace, no source file imports a file that
//! (directly or through others) imports it back. How a reference becomes an import edge is
//! documented on `imports`.
//!
//! `store_roles`: each caller of the mirror names only the store roles it uses (the gateway
//! never sees run or record writes, the engine never sees API keys or the outbox); only the
//! binary, the tests and the benchmarks hold the whole `MirrorStore`.

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

/// The store traits each crate must not name in its sources (comments aside). `MirrorStore`,
/// every role at once, is for the composition root (the binary), tests and benchmarks; so is
/// `FleetStats`, which only the binary's `/metrics` collector reads.
const FORBIDDEN_STORE_ROLES: &[(&str, &[&str])] = &[
    (
        "tributary-gateway",
        &[
            "MirrorStore",
            "Runs",
            "MirrorWrites",
            "Leases",
            "Outbox",
            "WebhookEndpoints",
            "SyncStore",
            "AdminStore",
            "FleetStats",
        ],
    ),
    (
        "tributary-engine",
        &[
            "MirrorStore",
            "ApiKeys",
            "Outbox",
            "WebhookEndpoints",
            "InboundWebhooks",
            "AdminStore",
            "ReadStore",
            "FleetStats",
        ],
    ),
    (
        "tributary-worker",
        &[
            "MirrorStore",
            "ApiKeys",
            "Outbox",
            "WebhookEndpoints",
            "InboundWebhooks",
            "AdminStore",
            "ReadStore",
            "FleetStats",
        ],
    ),
    (
        "tributary-scheduler",
        &[
            "MirrorStore",
            "MirrorWrites",
            "MirrorReads",
            "ApiKeys",
            "Outbox",
            "Leases",
            "FleetStats",
        ],
    ),
    (
        "tributary-operator",
        &[
            "MirrorStore",
            "MirrorWrites",
            "MirrorReads",
            "Leases",
            "SyncStore",
            "FleetStats",
        ],
    ),
    (
        "tributary-webhooks",
        &[
            "MirrorStore",
            "MirrorWrites",
            "Runs",
            "Leases",
            "ApiKeys",
            "Integrations",
            "FleetStats",
        ],
    ),
    (
        "tributary-queue",
        &[
            "MirrorStore",
            "MirrorWrites",
            "MirrorReads",
            "Runs",
            "ApiKeys",
            "Outbox",
            "FleetStats",
        ],
    ),
    (
        "tributary-lease",
        &[
            "MirrorStore",
            "MirrorWrites",
            "MirrorReads",
            "Runs",
            "ApiKeys",
            "Outbox",
            "FleetStats",
        ],
    ),
];

#[test]
fn store_roles() {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the workspace");
    let mut report = String::new();
    for (krate, forbidden) in FORBIDDEN_STORE_ROLES {
        let src = workspace.join("crates").join(krate).join("src");
        let mut files = vec![src.clone()];
        let mut seen = 0;
        while let Some(path) = files.pop() {
            if path.is_dir() {
                files.extend(
                    std::fs::read_dir(&path)
                        .expect("readable src")
                        .map(|e| e.expect("entry").path()),
                );
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            seen += 1;
            let text = std::fs::read_to_string(&path).expect("readable source");
            for (n, line) in text.lines().enumerate() {
                let code = line.split("//").next().unwrap_or_default();
                for word in code.split(|c: char| !c.is_alphanumeric() && c != '_') {
                    if forbidden.contains(&word) {
                        let _ = writeln!(report, "{}:{}: names `{word}`", path.display(), n + 1);
                    }
                }
            }
        }
        assert!(seen > 0, "no sources under {}", src.display());
    }
    assert!(
        report.is_empty(),
        "callers name store roles they must not use:\n{report}"
    );
}
