//! Verification: source against target, chunk by chunk.

pub mod checking;
pub mod figures;
pub mod select;
