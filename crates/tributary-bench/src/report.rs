//! What a scenario found, in three forms: tables on stdout as it goes, a Markdown file ready
//! to paste into BENCHMARKS.md, and a JSON file with the raw numbers (which the plots and later
//! comparisons read). Every report carries the machine and the command that produced it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use serde::Serialize;

use crate::plot::{Chart, Series, line_chart};

/// Where results go unless `--out` says otherwise: beside the benchmark's sources, so a rerun
/// updates what BENCHMARKS.md shows.
pub fn default_out_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/results"))
}

#[derive(Debug, Serialize)]
pub struct Machine {
    pub cpus: usize,
    pub cpu_model: String,
    pub memory: String,
    pub kernel: String,
    pub postgres: String,
    pub redis: String,
    pub commit: String,
    pub release_build: bool,
}

impl Machine {
    pub fn read() -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let field = |text: &str, key: &str| {
            text.lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_owned())
                .unwrap_or_else(|| "unknown".to_owned())
        };
        Machine {
            cpus: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
            cpu_model: field(&cpuinfo, "model name"),
            memory: field(&meminfo, "MemTotal"),
            kernel: output("uname", &["-r"]),
            postgres: output(
                "psql",
                &[
                    "-h",
                    "127.0.0.1",
                    "-U",
                    "postgres",
                    "-Atc",
                    "SHOW server_version",
                    "postgres",
                ],
            ),
            redis: output("redis-cli", &["-h", "127.0.0.1", "INFO", "server"])
                .lines()
                .find_map(|l| l.strip_prefix("redis_version:"))
                .unwrap_or("unknown")
                .trim()
                .to_owned(),
            commit: output(
                "git",
                &[
                    "-C",
                    env!("CARGO_MANIFEST_DIR"),
                    "describe",
                    "--always",
                    "--dirty",
                    "--abbrev=7",
                ],
            ),
            release_build: !cfg!(debug_assertions),
        }
    }

    pub fn line(&self) -> String {
        format!(
            "{} CPUs ({}), {} RAM, Linux {}, PostgreSQL {}, Redis {}, commit {}, {} build",
            self.cpus,
            self.cpu_model,
            self.memory,
            self.kernel,
            self.postgres,
            self.redis,
            self.commit,
            if self.release_build { "release" } else { "debug" }
        )
    }
}

fn output(program: &str, args: &[&str]) -> String {
    std::process::Command::new(program)
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_else(|| "unknown".to_owned())
}

/// The 1-minute load average: the machine is shared, so every table row says how busy it was.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".to_owned())
}

#[derive(Debug, Serialize)]
pub struct Table {
    pub title: String,
    pub columns: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(title: &str, columns: &[&str]) -> Table {
        Table {
            title: title.to_owned(),
            columns: columns.iter().map(|c| (*c).to_owned()).collect(),
            rows: Vec::new(),
        }
    }

    /// Adds a row and prints it at once, so a long run shows its progress.
    pub fn row(&mut self, cells: Vec<String>) {
        println!("  {}", cells.join(" | "));
        self.rows.push(cells);
    }

    fn markdown(&self) -> String {
        let mut out = format!("**{}**\n\n| {} |\n|", self.title, self.columns.join(" | "));
        for _ in &self.columns {
            out.push_str(" --- |");
        }
        out.push('\n');
        for row in &self.rows {
            out.push_str(&format!("| {} |\n", row.join(" | ")));
        }
        out
    }
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub scenario: String,
    pub command: String,
    pub started_at: String,
    pub machine: Machine,
    pub tables: Vec<Table>,
    pub notes: Vec<String>,
    /// Raw numbers for plots and later comparisons, by name.
    pub data: serde_json::Map<String, serde_json::Value>,
    pub plots: Vec<String>,
}

impl Report {
    pub fn new(scenario: &str) -> Report {
        let machine = Machine::read();
        let command = std::env::args().collect::<Vec<_>>().join(" ");
        println!("== {scenario} ==");
        println!("machine: {}", machine.line());
        println!("command: {command}");
        Report {
            scenario: scenario.to_owned(),
            command,
            started_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            machine,
            tables: Vec::new(),
            notes: Vec::new(),
            data: serde_json::Map::new(),
            plots: Vec::new(),
        }
    }

    /// Starts a table; rows print as they are added.
    pub fn table(&mut self, title: &str, columns: &[&str]) -> &mut Table {
        println!("\n{title}\n  {}", columns.join(" | "));
        self.tables.push(Table::new(title, columns));
        self.tables.last_mut().expect("just pushed")
    }

    pub fn note(&mut self, note: impl Into<String>) {
        let note = note.into();
        println!("note: {note}");
        self.notes.push(note);
    }

    pub fn data(&mut self, key: &str, value: impl Serialize) {
        self.data.insert(
            key.to_owned(),
            serde_json::to_value(value).expect("benchmark data serialises"),
        );
    }

    /// Draws `file` into `out` and lists it under the report (unless no font was found, in
    /// which case the chart is skipped with a line, never the run).
    pub fn plot(&mut self, out: &Path, file: &str, chart: &Chart, series: &[Series]) -> anyhow::Result<()> {
        if line_chart(&out.join(file), chart, series)? {
            self.plots.push(file.to_owned());
        }
        Ok(())
    }

    /// Writes `<scenario>.json` and `<scenario>.md` into `out`.
    pub fn write(&self, out: &Path) -> anyhow::Result<()> {
        std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
        let json = out.join(format!("{}.json", self.scenario));
        std::fs::write(&json, serde_json::to_vec_pretty(self)?)
            .with_context(|| format!("writing {}", json.display()))?;
        let mut md = format!(
            "Run of {} on {}.\n\n```sh\n{}\n```\n\n",
            self.started_at,
            self.machine.line(),
            self.command
        );
        for table in &self.tables {
            md.push_str(&table.markdown());
            md.push('\n');
        }
        for note in &self.notes {
            md.push_str(&format!("- {note}\n"));
        }
        for plot in &self.plots {
            md.push_str(&format!("\n![{plot}]({plot})\n"));
        }
        let md_path = out.join(format!("{}.md", self.scenario));
        std::fs::write(&md_path, md).with_context(|| format!("writing {}", md_path.display()))?;
        println!("\nresults: {} and {}", json.display(), md_path.display());
        Ok(())
    }
}

/// Seconds with two decimals.
pub fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

/// Milliseconds, one decimal.
pub fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

/// A rate with thousands separators, e.g. `8,895`.
pub fn rate(per_second: f64) -> String {
    thousands(per_second.round() as i64)
}

pub fn thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

/// `a / b` as `0.32×`.
pub fn ratio(a: f64, b: f64) -> String {
    if b <= 0.0 {
        "—".to_owned()
    } else {
        format!("{:.2}×", a / b)
    }
}

/// The `q` quantile (0..=1) of samples, nearest rank.
pub fn quantile(samples: &[Duration], q: f64) -> Duration {
    if samples.is_empty() {
        return Duration::ZERO;
    }
    let mut sorted = samples.to_vec();
    sorted.sort();
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// Peak resident memory of a process (`VmHWM`) in bytes, and a reset of it (writing 5 to
/// `clear_refs`, Linux ≥ 4.0), so each phase reports its own peak.
pub mod memory {
    pub fn peak_rss(pid: u32) -> Option<u64> {
        status_kib(pid, "VmHWM:").map(|kib| kib * 1024)
    }

    pub fn reset_peak(pid: u32) -> bool {
        std::fs::write(format!("/proc/{pid}/clear_refs"), "5").is_ok()
    }

    fn status_kib(pid: u32, key: &str) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        let line = status.lines().find(|l| l.starts_with(key))?;
        line[key.len()..].trim().trim_end_matches("kB").trim().parse().ok()
    }

    pub fn mib(bytes: Option<u64>) -> String {
        match bytes {
            Some(b) => format!("{:.0} MiB", b as f64 / (1024.0 * 1024.0)),
            None => "n/a".to_owned(),
        }
    }
}

/// CPU time spent by processes, from `/proc/<pid>/stat` (utime + stime, in the kernel's
/// USER_HZ ticks, 100 a second on Linux's mainstream architectures).
pub mod cpu {
    const TICKS_PER_SECOND: f64 = 100.0;

    /// Seconds of CPU `pid` has used so far.
    pub fn seconds(pid: u32) -> Option<f64> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        ticks(&stat).map(|t| t as f64 / TICKS_PER_SECOND)
    }

    /// CPU ticks used so far by each process named `postgres` (the server's backends, WAL
    /// writer, checkpointer, autovacuum…), by pid.
    pub fn postgres_snapshot() -> std::collections::HashMap<u32, u64> {
        let mut out = std::collections::HashMap::new();
        let Ok(dir) = std::fs::read_dir("/proc") else {
            return out;
        };
        for entry in dir.flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            if let Ok(stat) = std::fs::read_to_string(entry.path().join("stat"))
                && stat.contains("(postgres)")
                && let Some(t) = ticks(&stat)
            {
                out.insert(pid, t);
            }
        }
        out
    }

    /// Seconds of CPU the `postgres` processes used since `before`: on a machine that runs
    /// nothing else against the server, the database's cost of what happened in between.
    /// Processes that exited in between (autovacuum workers, closed connections) are missed.
    pub fn postgres_seconds_since(before: &std::collections::HashMap<u32, u64>) -> f64 {
        let total: u64 = postgres_snapshot()
            .into_iter()
            .map(|(pid, t)| t.saturating_sub(before.get(&pid).copied().unwrap_or(0)))
            .sum();
        total as f64 / TICKS_PER_SECOND
    }

    /// utime + stime: fields 14 and 15, counted after the `(comm)` field, which may hold spaces.
    fn ticks(stat: &str) -> Option<u64> {
        let rest = &stat[stat.rfind(')')? + 1..];
        let fields: Vec<&str> = rest.split_whitespace().collect();
        // `rest` starts at field 3 (state), so field n is at index n - 3.
        let utime: u64 = fields.get(11)?.parse().ok()?;
        let stime: u64 = fields.get(12)?.parse().ok()?;
        Some(utime + stime)
    }

    #[cfg(test)]
    mod tests {
        #[test]
        fn reads_utime_and_stime() {
            let stat = "1234 (tokio rt) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 8 0 100 0 0";
            assert_eq!(super::ticks(stat), Some(300));
            assert!(super::seconds(std::process::id()).is_some());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_groups_digits() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1234567), "1,234,567");
        assert_eq!(thousands(-20000), "-20,000");
    }

    #[test]
    fn quantile_is_nearest_rank() {
        let samples: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(quantile(&samples, 0.5), Duration::from_millis(50));
        assert_eq!(quantile(&samples, 0.99), Duration::from_millis(99));
        assert_eq!(quantile(&samples, 1.0), Duration::from_millis(100));
        assert_eq!(quantile(&[Duration::from_millis(7)], 0.99), Duration::from_millis(7));
    }
}
