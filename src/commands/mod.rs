//! The commands.

pub mod export;
pub mod import;
pub(crate) mod migration;
pub(crate) mod pipeline;
pub mod plan;
pub mod rollback;
pub mod run;
pub mod status;
pub mod verify;
pub(crate) mod watch;
