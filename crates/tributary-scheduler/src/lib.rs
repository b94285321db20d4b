//! The scheduler: turns due schedules into queued jobs.
//!
//! Every tick it claims the schedules that are due (`Schedules::claim_due_runs`: one
//! transaction claims the schedule and creates its QUEUED run, skipping rows another replica
//! has locked) and pushes a job per new run. Any number of replicas may run: a schedule is
//! claimed by one, and a run is pushed by whoever marks it queued first.
//!
//! Every reconcile it re-enqueues *stranded* runs: open runs with no queued marker and no lease
//! holder. That is what recovers from a Redis flush or restart (queues, markers and leases all
//! gone, runs still open in the mirror), from a worker killed mid-run (its lease expires), and
//! from a scheduler killed between its claim and its push.

mod error;
mod scheduler;
mod trigger;

pub use error::SchedulerError;
pub use scheduler::{Scheduler, SchedulerConfig, TickReport};
pub use trigger::{Triggered, trigger};
