//! Per-tenant figures counted while a run copies: a [`Transfer`] wrapper.

use crate::copy::outcome::FailedChunk;
use crate::copy::transfer::{ManyResults, Transfer};
use crate::influx::error::ClientError;
use crate::plan::Chunk;
use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Mutex;

/// One tenant's figures in one run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantRun {
    /// Chunks (or pieces) copied, open ones included.
    pub chunks_copied: u64,
    /// Of those, closed ones, which the copier records in the ledger.
    pub chunks_recorded: u64,
    /// Chunks (or pieces) that still failed.
    pub chunks_failed: u64,
    /// Points the server reported written, open chunks included.
    pub points_copied: u64,
    /// Points of the closed chunks, as recorded in the ledger.
    pub points_recorded: u64,
}

/// A [`Transfer`] that counts what the transfer it wraps copied, per tenant.
pub struct Tally<'a> {
    inner: &'a dyn Transfer,
    figures: Mutex<BTreeMap<String, TenantRun>>,
}

impl<'a> Tally<'a> {
    /// Wraps a transfer.
    pub fn new(inner: &'a dyn Transfer) -> Self {
        Tally {
            inner,
            figures: Mutex::new(BTreeMap::new()),
        }
    }

    /// The figures so far, with the run's failures counted in.
    pub fn figures(&self, failed: &[FailedChunk]) -> BTreeMap<String, TenantRun> {
        let mut f = self
            .figures
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        for c in failed {
            f.entry(c.chunk.tenant.clone()).or_default().chunks_failed += 1;
        }
        f
    }
}

impl Tally<'_> {
    fn count(&self, chunk: &Chunk, points: u64) {
        let mut f = self.figures.lock().unwrap_or_else(|p| p.into_inner());
        let t = f.entry(chunk.tenant.clone()).or_default();
        t.chunks_copied += 1;
        t.points_copied += points;
        if chunk.closed {
            t.chunks_recorded += 1;
            t.points_recorded += points;
        }
    }
}

impl Transfer for Tally<'_> {
    fn target_url(&self) -> &str {
        self.inner.target_url()
    }

    fn describe(&self, chunk: &Chunk) -> String {
        self.inner.describe(chunk)
    }

    fn transfer<'b>(&'b self, chunk: &'b Chunk) -> BoxFuture<'b, Result<u64, ClientError>> {
        self.inner.transfer(chunk)
    }

    /// Counted once settled: a chunk that fails its check is not counted.
    fn settle<'b>(
        &'b self,
        chunk: &'b Chunk,
        points: u64,
    ) -> BoxFuture<'b, Result<u64, ClientError>> {
        Box::pin(async move {
            let r = self.inner.settle(chunk, points).await;
            if let Ok(points) = r {
                self.count(chunk, points);
            }
            r
        })
    }

    fn in_flight(&self, concurrency: usize) -> usize {
        self.inner.in_flight(concurrency)
    }

    fn transfer_many<'b>(&'b self, chunks: &'b [Chunk], concurrency: usize) -> ManyResults<'b> {
        Box::pin(async move {
            let results = self.inner.transfer_many(chunks, concurrency).await?;
            for (chunk, r) in chunks.iter().zip(&results) {
                if let Ok(points) = r {
                    self.count(chunk, *points);
                }
            }
            Some(results)
        })
    }
}
