//! Contract tests: the simulator's responses and the connectors' requests held against the
//! vendors' own published API descriptions (`docs/sources/specs/`). A simulator is worth
//! exactly as much as its fidelity; these tests make a divergence fail here, not at a
//! customer. One file per tool; `spec` is the harness, `harness` proves it can fail.

mod bamboohr;
mod greenhouse;
mod harness;
mod personio;
mod spec;
