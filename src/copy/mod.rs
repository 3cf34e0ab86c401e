//! Moving points: the executor and its transfers.
//!
//! - [`executor`]: `copy_all`: bounded concurrency, retries ([`backoff`]), splits
//!   ([`split`]), pacing ([`pacer`]), one ledger line per closed chunk, a stop at the
//!   first failure that says a server cannot work ([`halt`]); what it did is an
//!   [`outcome`].
//! - [`transfer`]: how one chunk's points move, implemented by [`select_into`]
//!   (server-side), [`stream`] (another server) and [`files`] (export/import); [`tally`]
//!   wraps one to count per tenant.
//! - [`targets`]: creating target databases and policies; [`progress`]; [`stop`]: the
//!   stop signal.
//!
//! The items other layers use are re-exported here; each is owned by one module below.

pub(crate) mod backoff;
pub(crate) mod executor;
pub(crate) mod files;
pub(crate) mod halt;
pub(crate) mod outcome;
pub(crate) mod pacer;
pub(crate) mod per_tenant;
pub(crate) mod progress;
pub(crate) mod select_into;
pub(crate) mod split;
pub mod stop;
pub(crate) mod stream;
pub(crate) mod tally;
pub(crate) mod targets;
pub(crate) mod transfer;

pub(crate) use executor::{copy_all, CopyOptions};
pub(crate) use outcome::{FailedChunk, Outcome};
pub(crate) use select_into::SelectInto;
pub(crate) use targets::{ensure_buckets, ensure_grants, ensure_targets};
pub(crate) use transfer::{ManyResults, Transfer};
