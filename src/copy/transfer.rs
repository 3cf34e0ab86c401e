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
    /// Finishes a chunk [`Transfer::transfer`] copied (`points` is what it
    /// returned), outside the copier's concurrency limit: a checking transfer checks
    /// it here, so that many chunks' checks can share requests while other chunks
    /// copy. Returns the points the chunk finally holds; an error is handled like a
    /// failed copy (retried, split, or reported). The default has nothing to do.
    fn settle<'a>(
        &'a self,
        chunk: &'a Chunk,
        points: u64,
    ) -> BoxFuture<'a, Result<u64, ClientError>> {
        let _ = chunk;
        Box::pin(async move { Ok(points) })
    }
    /// How many chunks the copier keeps under way at once when `concurrency` copies
    /// may run: more than `concurrency` only for a transfer whose
    /// [`Transfer::settle`] waits to share work with other chunks (the copies
    /// themselves still run `concurrency` at a time).
    fn in_flight(&self, concurrency: usize) -> usize {
        concurrency
    }
    /// Copies many *open* chunks (not recorded, not checked) in few requests, where the
    /// transfer can send their statements together, `concurrency` requests at a time;
    /// each chunk gets its own result, in order. `None` when this transfer cannot (the
    /// default) or the requests failed as a whole: the copier then sends each chunk
    /// alone, as it does with a chunk whose own result is an error.
    fn transfer_many<'a>(&'a self, chunks: &'a [Chunk], concurrency: usize) -> ManyResults<'a> {
        let _ = (chunks, concurrency);
        Box::pin(async { None })
    }
}

/// What [`Transfer::transfer_many`] returns: each chunk's points or error, in order, or
/// `None` when the chunks were not copied together.
pub type ManyResults<'a> = BoxFuture<'a, Option<Vec<Result<u64, ClientError>>>>;
