//! The Python side: a virtualenv with the pinned `kombo` SDK and pytest, cached by the hash of
//! `tests/sdk/requirements.txt` (and of the interpreter's version) so repeated runs reuse it.

use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

use super::process::run;

/// The interpreter's `--version`, or why there is none.
pub fn python3_version() -> Result<String, String> {
    let out = Command::new("python3")
        .arg("--version")
        .output()
        .map_err(|e| format!("python3 cannot be run: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "python3 --version failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    // Python 3.11 prints to stdout; older ones printed to stderr.
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(text.trim().to_owned())
}

/// A ready virtualenv for `requirements`; its `bin/python`. Built under a temporary name and
/// renamed into place when complete, so a half-built one is never reused and two test
/// processes racing to build it both end up with a complete one.
pub fn ensure_venv(requirements: &Path, python_version: &str) -> Result<PathBuf, String> {
    let pinned = std::fs::read(requirements).map_err(|e| format!("{}: {e}", requirements.display()))?;
    let mut hash = Sha256::new();
    hash.update(&pinned);
    hash.update(python_version.as_bytes());
    let hash: String = hash.finalize().iter().take(8).map(|b| format!("{b:02x}")).collect();
    let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let dir = root.join(format!("kombo-venv-{hash}"));
    let python = dir.join("bin").join("python");
    if python.exists() {
        return Ok(python);
    }
    std::fs::create_dir_all(&root).map_err(|e| format!("{}: {e}", root.display()))?;
    let partial = root.join(format!("kombo-venv-{hash}.partial-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&partial);
    run(
        Command::new("python3").arg("-m").arg("venv").arg(&partial),
        "python3 -m venv",
    )?;
    // `python -m pip` rather than `bin/pip`: the venv's scripts carry the partial path in their
    // shebang, the interpreter finds its packages relative to itself wherever it is moved.
    run(
        Command::new(partial.join("bin").join("python"))
            .args([
                "-m",
                "pip",
                "install",
                "--disable-pip-version-check",
                "--no-input",
                "--quiet",
                "-r",
            ])
            .arg(requirements),
        "pip install -r tests/sdk/requirements.txt",
    )?;
    match std::fs::rename(&partial, &dir) {
        Ok(()) => Ok(python),
        // Another test process finished first: use its copy.
        Err(_) if python.exists() => {
            let _ = std::fs::remove_dir_all(&partial);
            Ok(python)
        }
        Err(e) => Err(format!("renaming {} into place: {e}", partial.display())),
    }
}
