//! The source server: discovery into a catalog, schema findings, estimates.

pub mod discover;
pub mod estimate;
pub mod findings;
