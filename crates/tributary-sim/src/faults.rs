//! Fault injection (owned by the simulator framework).

#[derive(Debug, Default)]
pub struct FaultPlan {}
