//! Verification: source against target, chunk by chunk.

pub mod batch;
pub mod checking;
pub mod figures;
pub mod select;
