//! Many sources, one transfer: each tenant's chunks copied by the transfer of its own
//! source (`rollback`: every tenant database is a source, the shared database the one
//! target). The executor copies source after source; this only picks the way.

use crate::copy::transfer::{ManyResults, Transfer};
use crate::influx::error::ClientError;
use crate::plan::Chunk;
use futures::future::BoxFuture;
use std::collections::BTreeMap;

/// Per tenant id, the transfer that copies its chunks.
pub struct PerTenant<'a> {
    /// Transfers by tenant id.
    pub by_tenant: BTreeMap<String, Box<dyn Transfer + 'a>>,
    /// Where every one of them writes (see [`Transfer::target_url`]).
    pub target_url: String,
}

impl PerTenant<'_> {
    fn of(&self, chunk: &Chunk) -> Result<&dyn Transfer, ClientError> {
        self.by_tenant
            .get(&chunk.tenant)
            .map(|t| &**t)
            .ok_or_else(|| ClientError::Statement {
                message: format!("no source database for tenant {:?}", chunk.tenant),
            })
    }
}

impl Transfer for PerTenant<'_> {
    fn describe(&self, chunk: &Chunk) -> String {
        self.of(chunk)
            .map_or_else(|e| e.to_string(), |t| t.describe(chunk))
    }

    fn transfer<'a>(&'a self, chunk: &'a Chunk) -> BoxFuture<'a, Result<u64, ClientError>> {
        match self.of(chunk) {
            Ok(t) => t.transfer(chunk),
            Err(e) => Box::pin(async move { Err(e) }),
        }
    }

    fn target_url(&self) -> &str {
        &self.target_url
    }

    fn settle<'a>(
        &'a self,
        chunk: &'a Chunk,
        points: u64,
    ) -> BoxFuture<'a, Result<u64, ClientError>> {
        match self.of(chunk) {
            Ok(t) => t.settle(chunk, points),
            Err(e) => Box::pin(async move { Err(e) }),
        }
    }

    /// Together only when the chunks are all one tenant's (the executor copies one
    /// source at a time, and a tenant database holds one tenant).
    fn transfer_many<'a>(&'a self, chunks: &'a [Chunk], concurrency: usize) -> ManyResults<'a> {
        let tenant = chunks.first().map(|c| c.tenant.as_str());
        let one = chunks.iter().all(|c| Some(c.tenant.as_str()) == tenant);
        match tenant.and_then(|t| self.by_tenant.get(t)) {
            Some(t) if one => t.transfer_many(chunks, concurrency),
            _ => Box::pin(async { None }),
        }
    }
}
