//! The unified HRIS API (`/v1/hris/...`).

pub mod employees;
