//! One module per simulated tool; each exposes `router()` with paths relative to the tool's
//! base URL (the server nests them under `/personio`, `/greenhouse` and `/bamboohr`).

pub mod bamboohr;
pub mod greenhouse;
pub mod personio;
