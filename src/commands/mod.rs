//! The commands.

pub mod export;
pub mod import;
pub mod migration;
pub mod pipeline;
pub mod plan;
pub mod run;
pub mod status;
pub mod verify;
