//! The simulator: plays Personio, Greenhouse Harvest and BambooHR over real HTTP from a
//! deterministic generated company, with a control API for mutations, faults and the log of
//! requests served.

pub mod company;
pub mod faults;
pub mod generate;
pub mod log;
mod server;
mod state;
pub mod tools;

pub use server::{SimConfig, Simulator, app};
pub use state::{SimCredentials, SimState};
