//! tributary-metrics: the metric catalogue of every role and its Prometheus exposition.
//!
//! - [`catalogue`]: every metric's name (the constants recording crates use with the `metrics`
//!   facade), help text, unit and histogram buckets.
//! - [`install`]: the process-wide Prometheus recorder, installed once by the binary.
//! - [`Exposition`] and [`router`]: `GET /metrics`, the recorder's metrics followed by the
//!   fleet gauges of any [`Collector`]s, each run at scrape under a timeout.
//! - [`probes`]: `GET /health` and `GET /ready` for the roles without a gateway (worker,
//!   scheduler), served with `/metrics` on their `--http-listen` address by [`serve`].

pub mod catalogue;
mod error;
mod exposition;
mod fleet;
mod probes;

pub use error::MetricsError;
pub use exposition::{Exposition, install, router};
pub use fleet::{Collector, Families, Labels};
pub use probes::{Readiness, probes, serve};
