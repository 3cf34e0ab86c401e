//! What runs and commands leave for people and tools.

pub mod failures;
pub mod json;
pub mod metrics;
pub mod outputs;
pub mod plan;
pub mod rollback;
pub mod run;
pub mod scale;
pub mod status;
pub mod summary;
