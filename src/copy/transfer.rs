//! The seam between the executor and the ways points can move.

use crate::influx::error::ClientError;
use crate::plan::Chunk;
use futures::future::BoxFuture;

/// How one chunk's points get from the source to the target. The copier owns retries,
/// splitting and the ledger; a transfer only moves points.
pub trait Transfer: Send + Sync {
    /// The statement that reads (and, server-side, writes) the chunk, for failure
    /// reports: running it by hand reproduces the failure.
    fn describe(&self, chunk: &Chunk) -> String;
    /// Copies the chunk's points and returns how many the target confirmed.
    fn transfer<'a>(&'a self, chunk: &'a Chunk) -> BoxFuture<'a, Result<u64, ClientError>>;
    /// Where the points go, for the ledger's [`Scope::target_url`]: empty when the
    /// target databases are on the source server. No default: a wrapper that forgot
    /// to forward it would file its records under the wrong target.
    ///
    /// [`Scope::target_url`]: crate::ledger::Scope::target_url
    fn target_url(&self) -> &str;
}
