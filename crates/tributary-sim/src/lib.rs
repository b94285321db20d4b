//! The simulator: plays Personio, Greenhouse Harvest and BambooHR over real HTTP from a
//! deterministic generated company, with a control API for mutations, faults and the log of
//! requests served.
//!
//! Drive it from Rust through `Simulator::state` (`SimState::{mutate, mutate_random,
//! add_fault, set_latency, set_revoked, requests, stats}`) or over HTTP through the control
//! API (see `control`).

pub mod company;
pub mod control;
pub mod faults;
pub mod gate;
pub mod generate;
pub mod log;
pub mod mutate;
mod server;
mod state;
pub mod tools;
pub mod webhooks;

pub use faults::{FaultAction, FaultId, FaultRule, InstalledFault};
pub use log::{LogEntry, RequestFilter};
pub use mutate::{CandidateField, EmployeeField, EntityRef, Mutation, MutationError, MutationOutcome};
pub use server::{SimConfig, Simulator, app, gated, generate_companies, tool_prefix};
pub use state::{CompanyStats, SimCredentials, SimState};
pub use webhooks::{SentWebhook, TargetView, WebhookError, WebhookTarget};
