//! The source server: discovery into a catalog (statements in `discover`, their
//! answers read in `answers`), schema findings, estimates.

pub mod answers;
pub mod density;
pub mod discover;
pub mod estimate;
pub mod findings;
pub mod limits;
