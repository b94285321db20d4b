//! What the fleet shares outside the mirror: the sync job queues, the per-integration
//! leases, and the signals that pause or cancel a running sync.
//!
//! Two implementations of each, picked at start:
//! - **Redis** (the fleet): one apalis-redis queue per sync type ([`RedisQueue`]), so a
//!   backlog of long FULL jobs never delays a DELTA (apalis-redis has no priorities); leases
//!   with fence tokens from `tributary-lease`; signals as plain keys ([`RedisCoordinator`]).
//! - **Embedded** (one process, no Redis): apalis's in-memory queues ([`MemoryQueue`]), the
//!   mirror's own lease row, signals in memory ([`EmbeddedCoordinator`]).
//!
//! Neither is the source of truth. Every queued job stands for an open run in the mirror's
//! `sync_runs` table (QUEUED, RUNNING or PAUSED, at most one per integration and type), and the
//! scheduler re-enqueues any open run that has neither a queued job (its *queued marker*) nor a
//! lease holder. So Redis may be flushed, and the embedded process restarted, without losing
//! or wedging a sync; at worst a job runs twice, which the worker notices (the run has ended,
//! or its lease is held) and which fencing makes harmless anyway (invariant I4).

mod apalis_connection;
mod coordinator;
mod dispatch;
mod embedded;
mod error;
mod job;
mod memory_queue;
mod queue;
mod redis_coordinator;
mod redis_queue;

pub use apalis_connection::ApalisConnection;
pub use coordinator::{Coordinator, RunSignal, WatchedRun, WatchedSignals};
pub use dispatch::{dispatch, stranded, wants_worker};
pub use embedded::EmbeddedCoordinator;
pub use error::QueueError;
pub use job::SyncJob;
pub use memory_queue::MemoryQueue;
pub use queue::{JobQueue, QueueDepth};
pub use redis_coordinator::RedisCoordinator;
pub use redis_queue::{RedisQueue, connect};

pub use apalis_redis::ConnectionManager;
