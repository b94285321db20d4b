//! The process's resident memory, from `/proc/self/status` (Linux only; elsewhere `None`).

/// Peak resident set size (`VmHWM`) in bytes since start or the last [`reset_peak`].
pub fn peak_rss() -> Option<u64> {
    status_kib("VmHWM:").map(|kib| kib * 1024)
}

/// Current resident set size (`VmRSS`) in bytes.
pub fn current_rss() -> Option<u64> {
    status_kib("VmRSS:").map(|kib| kib * 1024)
}

/// Resets `VmHWM` to the current RSS, so each phase reports its own peak. Writing `5` to
/// `clear_refs` does exactly that (Linux ≥ 4.0, see proc(5)); `false` where it is unsupported,
/// in which case the peak stays cumulative.
pub fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

fn status_kib(key: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(key))?;
    line[key.len()..].trim().trim_end_matches("kB").trim().parse().ok()
}

pub fn mib(bytes: Option<u64>) -> String {
    match bytes {
        Some(b) => format!("{:.0} MiB", b as f64 / (1024.0 * 1024.0)),
        None => "n/a".to_owned(),
    }
}
