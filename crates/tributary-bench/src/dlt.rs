//! The ingest benchmark's peer: dlt (PyPI `dlt[postgres]`), run as a child process from a venv
//! this benchmark keeps under `target/bench-venv`. The script and its pinned requirements live
//! in `crates/tributary-bench/dlt/` and are built into this binary, so the venv is rebuilt
//! whenever they change and the benchmark runs without the source tree.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Instant;

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};

const REQUIREMENTS: &str = include_str!("../dlt/requirements.txt");
const SCRIPT: &str = include_str!("../dlt/personio_to_postgres.py");

/// A venv with the pinned requirements installed, and the script beside it.
pub struct Venv {
    dir: PathBuf,
}

/// What one run of the script reported (its last stdout line), plus its wall time.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DltRun {
    pub dlt_version: String,
    pub python: String,
    pub import_seconds: f64,
    pub run_seconds: f64,
    pub steps_seconds: serde_json::Map<String, serde_json::Value>,
    pub row_counts: std::collections::BTreeMap<String, i64>,
    pub maxrss_self_kib: u64,
    pub maxrss_children_kib: u64,
    pub settings: serde_json::Value,
    /// Measured by the benchmark around the process (absent from the script's line).
    #[serde(default)]
    pub wall_seconds: f64,
}

impl DltRun {
    /// dlt's normalize and load pools as the script resolved them, in words.
    pub fn settings_summary(&self) -> String {
        let s = &self.settings;
        let pool = |step: &str| {
            let workers = match s[step]["workers"].as_u64() {
                Some(n) => n.to_string(),
                // An unset pool size is Python's executor default: one per CPU.
                None => format!("default ({} = CPUs)", s["cpu_count"]),
            };
            format!(
                "{step} in a {} pool of {workers} workers",
                s[step]["pool_type"].as_str().unwrap_or("?")
            )
        };
        format!("{}, {}", pool("normalize"), pool("load"))
    }

    /// Rows the load step wrote: every table the normalizer produced, dlt's own bookkeeping
    /// tables (`_dlt_*`) aside.
    pub fn rows_written(&self) -> i64 {
        self.row_counts
            .iter()
            .filter(|(table, _)| !table.starts_with("_dlt"))
            .map(|(_, n)| n)
            .sum()
    }
}

/// The venv's place: `target/bench-venv`, beside the `release` directory this binary is in.
fn venv_dir() -> anyhow::Result<PathBuf> {
    if let Some(dir) = std::env::var_os("TRIBUTARY_BENCH_VENV") {
        return Ok(PathBuf::from(dir));
    }
    let exe = std::env::current_exe().context("locating this executable")?;
    let target = exe
        .parent()
        .and_then(Path::parent)
        .context("this executable is not inside a target directory")?;
    Ok(target.join("bench-venv"))
}

impl Venv {
    /// Creates the venv with `python3 -m venv` and installs the requirements, unless the
    /// requirements it was built from are the ones built into this binary.
    pub fn ensure() -> anyhow::Result<Venv> {
        let dir = venv_dir()?;
        let stamp = dir.join("bench-requirements.txt");
        let python = dir.join("bin/python");
        let current = std::fs::read_to_string(&stamp).ok();
        if current.as_deref() != Some(REQUIREMENTS) || !python.is_file() {
            println!(
                "dlt: building the venv {} (python3 -m venv, pip install)",
                dir.display()
            );
            if dir.exists() {
                std::fs::remove_dir_all(&dir).with_context(|| format!("removing the stale {}", dir.display()))?;
            }
            let started = Instant::now();
            run(std::process::Command::new("python3").args(["-m", "venv"]).arg(&dir))
                .context("python3 -m venv (is python3 with the venv module installed?)")?;
            let requirements = dir.join("requirements.txt");
            std::fs::write(&requirements, REQUIREMENTS)?;
            run(std::process::Command::new(&python)
                .args(["-m", "pip", "install", "--disable-pip-version-check", "-q", "-r"])
                .arg(&requirements))
            .context("pip install -r crates/tributary-bench/dlt/requirements.txt")?;
            std::fs::write(&stamp, REQUIREMENTS)?;
            println!("dlt: venv ready in {:.0} s", started.elapsed().as_secs_f64());
        }
        std::fs::write(dir.join("personio_to_postgres.py"), SCRIPT)?;
        Ok(Venv { dir })
    }

    /// Runs the script once: the Personio simulator at `base_url` into `dsn`, dlt's working
    /// state in `pipelines_dir` (the same directory for a re-load).
    pub async fn run(
        &self,
        base_url: &str,
        credentials: &serde_json::Value,
        dsn: &str,
        pipelines_dir: &Path,
    ) -> anyhow::Result<DltRun> {
        let field = |k: &str| {
            credentials[k]
                .as_str()
                .map(str::to_owned)
                .with_context(|| format!("the Personio credentials have no {k}"))
        };
        let started = Instant::now();
        let output = tokio::process::Command::new(self.dir.join("bin/python"))
            .arg(self.dir.join("personio_to_postgres.py"))
            .args(["--base-url", base_url, "--dsn", dsn])
            .args([
                "--client-id",
                &field("client_id")?,
                "--client-secret",
                &field("client_secret")?,
            ])
            .arg("--pipelines-dir")
            .arg(pipelines_dir)
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .output()
            .await
            .context("running the dlt script")?;
        let wall = started.elapsed();
        let stdout = String::from_utf8_lossy(&output.stdout);
        if !output.status.success() {
            bail!(
                "the dlt script failed ({}):\n{}\n{}",
                output.status,
                tail(&stdout),
                tail(&String::from_utf8_lossy(&output.stderr))
            );
        }
        let last = stdout.lines().last().unwrap_or_default();
        let mut run: DltRun = serde_json::from_str(last)
            .with_context(|| format!("the dlt script's last line is not its report: {last}"))?;
        run.wall_seconds = wall.as_secs_f64();
        Ok(run)
    }
}

fn run(command: &mut std::process::Command) -> anyhow::Result<()> {
    let status = command.status().context("starting it")?;
    if !status.success() {
        bail!("exited with {status}");
    }
    Ok(())
}

fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}
