//! Owner ids: one per process.

/// An owner id for this process: `<host>-<uuid>`. The host part tells operators where a
/// lease is held (`holder`); the uuid keeps two processes on one host, or a restarted pod
/// that reuses its name, from renewing or releasing each other's leases. Make one at start
/// and use it for every lease of the process.
///
/// The host is `$HOSTNAME` (set in every Kubernetes pod), else `/etc/hostname`, else
/// `worker`.
pub fn process_owner_id() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "worker".to_owned());
    format!("{host}-{}", uuid::Uuid::new_v4().simple())
}
