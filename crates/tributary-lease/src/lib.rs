//! The fleet's per-integration lease, held in Redis, with fence tokens (invariant I4).
//!
//! In the fleet, stateless workers take jobs from a shared queue, and a queue may hand the
//! same integration to two workers at once (a dead worker's in-flight job is re-enqueued
//! after about a minute while the worker may in fact still be running). The lease makes one
//! of them the integration's only syncer; the fence makes the other harmless when the lease
//! is lost anyway (an expiry during a stall, a network partition): every lease grant issues
//! a higher fence, the mirror remembers the highest one it has seen, and it rejects writes
//! carrying an older one.
//!
//! Two keys per integration:
//! - `{prefix}:lease:{<integration_id>}`: a hash `{owner, fence}` that expires after the
//!   lease's TTL unless the holder renews it (the semantics of `SET key value NX PX ttl`,
//!   <https://redis.io/docs/latest/commands/set/>, extended to let the holder re-take it);
//! - `{prefix}:fence:{<integration_id>}`: the fence counter, which never expires.
//!
//! The integration id sits in braces, a Redis Cluster hash tag, so both keys of an
//! integration land on the same node and the scripts may touch them together.
//!
//! Redis is a cache here, not the source of truth: it may be flushed or restarted without
//! persistence, and would then count fences from zero again while Postgres still holds,
//! say, 41, fencing every write of every new holder forever. So each acquisition takes a
//! `floor` (the mirror's current fence) and issues `max(counter, floor) + 1`.
//! [`RedisLeases::acquire_fenced`] does the whole dance against the mirror ([`FenceStore`]): read the
//! floor, acquire, and advance the mirror's fence to the new token, after which the engine
//! runs `SyncEngine::execute` under `lease.fence`.
//!
//! Each operation is one Lua script (`lua/*.lua`, loaded with `include_str!`) beside its Rust
//! caller, so each check-and-set is atomic on the server.
//!
//! Owner ids name a process, not a host or a job: they must be unique per process (see
//! [`process_owner_id`]), or two workers on one host (or a restarted pod reusing its name)
//! could renew or release each other's leases.
//!
//! [`FenceStore`]: tributary_store::FenceStore

mod acquire;
mod connection;
mod error;
mod fenced;
mod holder;
mod leases;
mod owner;
mod release;
mod renew;

pub use connection::{ConnectOptions, connect};
pub use error::LeaseError;
pub use leases::RedisLeases;
pub use owner::process_owner_id;
/// The one lease type of the workspace, granted here by Redis and by the mirror in embedded mode.
pub use tributary_store::Lease;
