//! The TypeScript side: `npm ci` of `tests/sdk/ts` (the pinned `@kombo-api/sdk` and its
//! lockfile) into a directory cached by the hash of package.json, package-lock.json and the
//! Node version, so repeated runs reuse it; the test script is copied beside its node_modules
//! on every run (ES modules resolve packages from the script's own directory).

use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

use super::process::run;

/// `node --version`, or why there is none (Node 20 or newer: `node --test` and its reporters).
pub fn node_version() -> Result<String, String> {
    let out = Command::new("node")
        .arg("--version")
        .output()
        .map_err(|e| format!("node cannot be run: {e}"))?;
    let version = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let major: u32 = version
        .trim_start_matches('v')
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .ok_or_else(|| format!("node --version said {version:?}"))?;
    if major < 20 {
        return Err(format!("node {version} is older than 20"));
    }
    Ok(version)
}

/// A directory with `node_modules` installed from `sdk_dir`'s lockfile and the test scripts
/// copied in. Installed under a temporary name and renamed into place when complete, so a
/// half-installed one is never reused.
pub fn ensure_node_modules(sdk_dir: &Path, node_version: &str) -> Result<PathBuf, String> {
    let read = |name: &str| std::fs::read(sdk_dir.join(name)).map_err(|e| format!("{}/{name}: {e}", sdk_dir.display()));
    let mut hash = Sha256::new();
    hash.update(read("package.json")?);
    hash.update(read("package-lock.json")?);
    hash.update(node_version.as_bytes());
    let hash: String = hash.finalize().iter().take(8).map(|b| format!("{b:02x}")).collect();
    let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let dir = root.join(format!("kombo-node-{hash}"));
    if !dir.join("node_modules/@kombo-api/sdk/package.json").exists() {
        std::fs::create_dir_all(&root).map_err(|e| format!("{}: {e}", root.display()))?;
        let partial = root.join(format!("kombo-node-{hash}.partial-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&partial);
        std::fs::create_dir_all(&partial).map_err(|e| format!("{}: {e}", partial.display()))?;
        for file in ["package.json", "package-lock.json"] {
            std::fs::copy(sdk_dir.join(file), partial.join(file)).map_err(|e| format!("{file}: {e}"))?;
        }
        // `npm ci`: exactly the lockfile, or a failure; no install scripts run.
        run(
            Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund", "--ignore-scripts", "--loglevel=error"])
                .current_dir(&partial),
            "npm ci in tests/sdk/ts",
        )?;
        if let Err(e) = std::fs::rename(&partial, &dir) {
            let _ = std::fs::remove_dir_all(&partial);
            // Another test process finished first: use its copy.
            if !dir.join("node_modules/@kombo-api/sdk/package.json").exists() {
                return Err(format!("renaming {} into place: {e}", partial.display()));
            }
        }
    }
    for entry in std::fs::read_dir(sdk_dir).map_err(|e| format!("{}: {e}", sdk_dir.display()))? {
        let path = entry.map_err(|e| e.to_string())?.path();
        if path.extension().is_some_and(|x| x == "mjs") {
            std::fs::copy(&path, dir.join(path.file_name().unwrap()))
                .map_err(|e| format!("{}: {e}", path.display()))?;
        }
    }
    Ok(dir)
}
