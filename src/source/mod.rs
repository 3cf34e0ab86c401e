//! The source server: discovery into a catalog (statements in `discover`, their
//! answers read in `answers`), schema findings, estimates, the late-point check.

pub mod answers;
pub mod discover;
pub mod estimate;
pub mod findings;
pub mod late;
