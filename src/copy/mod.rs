//! Moving points: the executor and its transfers.
//!
//! The items other layers use are re-exported here; each is owned by one module below.

pub mod backoff;
pub mod executor;
pub mod files;
pub mod outcome;
pub mod pacer;
pub mod progress;
pub mod select_into;
pub mod split;
pub mod stop;
pub mod stream;
pub mod tally;
pub mod targets;
pub mod transfer;

pub use executor::{copy_all, CopyOptions};
pub use outcome::{FailedChunk, Outcome};
pub use select_into::SelectInto;
pub use targets::ensure_targets;
pub use transfer::Transfer;
