//! The sync worker: stateless, any number of replicas, each running several syncs at once.
//!
//! A worker consumes the three queues (one per sync type, so DELTA jobs never wait behind a
//! backlog of FULL ones) with apalis. For each job (the `job` module):
//! 1. read the run; a job whose run ended, waits for an operator or for its retry time is
//!    dropped (duplicates are expected: see `tributary-queue`);
//! 2. take the integration's lease (fence token → the mirror rejects older writers, I4). A
//!    DELTA that finds the lease held asks the holder to pause ([`Coordinator::request_preemption`])
//!    and waits; a FULL or DEFAULT that finds it held steps aside, and the holder hands the
//!    integration on when it is done;
//! 3. run the engine under the fence while the heartbeat ([`tributary_engine::Heartbeat`])
//!    renews the lease and a watcher (the `signals` module) turns preemption requests and operator
//!    signals into pauses and cancels at the next page boundary;
//! 4. release the lease and hand the integration on: re-enqueue a run paused for a shutdown,
//!    schedule a retry with backoff for a run the source failed, and enqueue whatever of the
//!    integration waited for the lease (a preempted FULL resumes from its checkpoint).
//!
//! This is the one path a sync runs through: the fleet's workers, `tributary serve` and the demo
//! take jobs from their queues, and `tributary sync` hands its one run to
//! [`JobContext::sync_now`], which handles it as its job would be.
//!
//! SIGTERM pauses every run at its next page boundary (PAUSED for SHUTDOWN, checkpoint
//! committed), releases the leases, re-enqueues the runs and exits. SIGKILL leaves the
//! leases to expire; the scheduler then re-enqueues the runs, which resume from their
//! checkpoints on any worker.
//!
//! [`Coordinator::request_preemption`]: tributary_queue::Coordinator::request_preemption

mod config;
mod error;
mod idle_poll;
mod job;
mod pool;
mod signals;

pub use config::WorkerConfig;
pub use error::WorkerError;
pub use job::{ALREADY_EXECUTING, JobContext, JobEnd, RunObserver};
pub use pool::{Queues, run_pool};
pub use signals::RunningRuns;
