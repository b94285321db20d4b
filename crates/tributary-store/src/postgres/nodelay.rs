//! Turns Nagle's algorithm off on the pool's TCP connections.
//!
//! sqlx 0.9.0 stopped setting `TCP_NODELAY` on its sockets (launchbadge/sqlx#4022 removed it,
//! reported as <https://github.com/transact-rs/sqlx/issues/4335>, fixed upstream by PR #4336 but
//! not in a release yet). Without it, any message larger than one segment — a page's batch
//! upsert is hundreds of kilobytes — leaves its tail in the kernel until the server's delayed
//! ACK, about 40 ms later, on every such statement. That capped a sync at ~5 pages a second.
//!
//! sqlx offers no hook on the socket, so a new connection asks the server for its client port
//! (`inet_client_port()`), finds our socket with that local port and the server's port among the
//! process's descriptors, and sets the option on it. Linux only (it reads `/proc/self/fd`);
//! elsewhere, and on Unix-domain connections, it does nothing. Remove this module once sqlx
//! sets `TCP_NODELAY` itself again.

use std::future::Future;
use std::mem::ManuallyDrop;
use std::net::TcpStream;
use std::pin::Pin;

use sqlx::PgConnection;
use sqlx::pool::PoolConnectionMetadata;

type Hook<'c> = Pin<Box<dyn Future<Output = Result<(), sqlx::Error>> + Send + 'c>>;

/// A `PgPoolOptions::after_connect` callback. Never fails the connection: without the option
/// it is only slower.
pub(crate) fn after_connect<'c>(conn: &'c mut PgConnection, _meta: PoolConnectionMetadata) -> Hook<'c> {
    Box::pin(async move {
        let ports: Option<(Option<i32>, Option<i32>)> = sqlx::query_as("SELECT inet_client_port(), inet_server_port()")
            .fetch_optional(conn)
            .await?;
        if let Some((Some(client), Some(server))) = ports {
            let (Ok(client), Ok(server)) = (u16::try_from(client), u16::try_from(server)) else {
                return Ok(());
            };
            if !set_nodelay_on(client, server) {
                tracing::debug!(client, server, "could not set TCP_NODELAY on a Postgres connection");
            }
        }
        Ok(())
    })
}

/// Sets `TCP_NODELAY` on this process's TCP socket from local port `local` to remote port
/// `remote`; `false` if there is none (or `/proc` is not there).
fn set_nodelay_on(local: u16, remote: u16) -> bool {
    let Ok(entries) = std::fs::read_dir("/proc/self/fd") else {
        return false;
    };
    for entry in entries.flatten() {
        let Some(fd) = entry.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else {
            continue;
        };
        let is_socket =
            std::fs::read_link(entry.path()).is_ok_and(|target| target.to_string_lossy().starts_with("socket:"));
        if !is_socket {
            continue;
        }
        // SAFETY: `fd` is borrowed, never closed: ManuallyDrop keeps the TcpStream from closing
        // it. Should another thread close the descriptor meanwhile, the calls below fail with
        // EBADF; should the number be reused by another socket, the address check (or, at
        // worst, a harmless TCP_NODELAY) is all that touches it.
        let socket = ManuallyDrop::new(unsafe { <TcpStream as std::os::fd::FromRawFd>::from_raw_fd(fd) });
        let matches = socket.local_addr().is_ok_and(|a| a.port() == local)
            && socket.peer_addr().is_ok_and(|a| a.port() == remote);
        if matches {
            return socket.set_nodelay(true).is_ok();
        }
    }
    false
}
