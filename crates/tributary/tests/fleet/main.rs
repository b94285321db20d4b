//! The fleet end to end: `tributary worker` and `tributary scheduler` processes over real
//! Postgres and Redis, syncing from the simulator over HTTP. Each test has its own database
//! and Redis key prefix.

mod support;

mod console;
mod deploy;
mod failures;
mod metrics;
mod preemption;
mod redis_restarts;
mod scale;
mod schedulers;
mod serve;
mod traces;
mod webhooks;
