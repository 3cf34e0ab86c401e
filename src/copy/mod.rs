//! Moving points: the executor and its transfers.

pub mod executor;
pub mod files;
pub mod progress;
pub mod select_into;
pub mod stop;
pub mod stream;
pub mod tally;
