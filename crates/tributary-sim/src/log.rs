//! The log of requests served (owned by the simulator framework).

#[derive(Debug, Default)]
pub struct RequestLog {}
