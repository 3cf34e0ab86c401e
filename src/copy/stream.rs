//! Cross-server copy: each chunk is read from the source with a chunked query and
//! written to the target server with `/write`, reading and writing at the same time.
//!
//! Between the reader and the writer sits a channel of at most [`PIPELINE_BATCHES`]
//! batches of `stream.batch_points` points, and the reader holds one JSON chunk of
//! `stream.chunk_size` rows: memory per chunk in flight is bounded by those settings,
//! whatever the chunk's size. The copier runs several chunks at once, retries, splits
//! and records them, exactly as for server-side copies.

use crate::influx::client::Client;

use crate::copy::transfer::Transfer;
use crate::core::field::FieldTypes;
use crate::core::rewrite::Rewrite;
use crate::influx::error::ClientError;
use crate::influx::lineproto::SeriesEncoder;
use crate::influx::statement::{self as influxql, Rp};
use crate::plan::Chunk;
use futures::future::BoxFuture;
use tokio::sync::mpsc;

/// Batches queued between a chunk's reader and its writer. Two keep the writer busy
/// while the reader fills the next one; more would only hold memory.
pub const PIPELINE_BATCHES: usize = 2;

/// Line protocol for one write request.
#[derive(Debug, Default)]
pub struct LineBatch {
    /// Lines, each ending with a newline.
    pub text: String,
    /// Points in `text`.
    pub points: u64,
}

/// Reads one chunk from the source and turns it into batches of line protocol.
#[derive(Debug, Clone)]
pub struct ChunkReader<'a> {
    /// Source server.
    pub client: &'a Client,
    /// Source database and retention policy.
    pub source: Rp<'a>,
    /// Tenant tag keys (per measurement).
    pub tenants: &'a crate::config::TenantSettings,
    /// Field types per source measurement (`SHOW FIELD KEYS`).
    pub fields: &'a FieldTypes,
    /// Tags dropped and measurements renamed on the way.
    pub rewrite: &'a crate::core::rewrite::Rewrite,
    /// Rows per JSON chunk of the query.
    pub chunk_size: usize,
    /// Points per batch.
    pub batch_points: usize,
}

impl ChunkReader<'_> {
    /// The read statement of a chunk.
    pub fn query(&self, chunk: &Chunk) -> String {
        influxql::select_chunk(
            &self.source,
            &chunk.measurements,
            self.tenants.tag_of_batch(&chunk.measurements),
            &chunk.tenant,
            chunk.window,
        )
    }

    /// Reads the chunk and sends its points in batches; returns the points sent. Stops
    /// early, without error, when the receiver is gone (the writer failed, and its
    /// error is the one to report).
    pub async fn read(
        &self,
        chunk: &Chunk,
        tx: &mpsc::Sender<LineBatch>,
    ) -> Result<u64, ClientError> {
        let q = self.query(chunk);
        let mut resp = self
            .client
            .query_chunked(self.source.db, &q, self.chunk_size)
            .await?;
        let mut batch = LineBatch::default();
        let mut sent = 0u64;
        while let Some(series) = resp.next_series().await? {
            for s in &series {
                let enc = SeriesEncoder::new(s, self.fields, self.rewrite)?;
                for row in &s.values {
                    if enc.push_row(row, &mut batch.text)? {
                        batch.points += 1;
                    }
                    if batch.points as usize >= self.batch_points {
                        sent += batch.points;
                        if tx.send(std::mem::take(&mut batch)).await.is_err() {
                            return Ok(sent);
                        }
                    }
                }
            }
        }
        if batch.points > 0 {
            sent += batch.points;
            let _ = tx.send(batch).await;
        }
        Ok(sent)
    }
}

/// Where a stream copy writes on the target server.
#[derive(Debug, Clone, Copy)]
pub enum WriteApi<'a> {
    /// InfluxDB 1.x: `/write?db=&rp=`.
    V1,
    /// InfluxDB 2.x: `/api/v2/write?org=&bucket=`, the bucket named after the target
    /// database ([`crate::influx::v2::bucket_name`]).
    V2 {
        /// Organization name.
        org: &'a str,
    },
}

/// Writes batches to one database of a server until the channel closes; returns the
/// points the server confirmed.
pub async fn write_batches(
    target: &Client,
    api: WriteApi<'_>,
    db: &str,
    rp: &str,
    mut rx: mpsc::Receiver<LineBatch>,
) -> Result<u64, ClientError> {
    let mut written = 0;
    let bucket = crate::influx::v2::bucket_name(db);
    while let Some(b) = rx.recv().await {
        match api {
            WriteApi::V1 => target.write(db, rp, b.text).await?,
            WriteApi::V2 { org } => target.write_bucket(org, &bucket, b.text).await?,
        }
        written += b.points;
    }
    Ok(written)
}

/// Cross-server copy of a chunk: chunked read from the source, `/write` to the
/// target's per-tenant database, overlapped.
#[derive(Debug, Clone)]
pub struct StreamCopy<'a> {
    /// How chunks are read.
    pub reader: ChunkReader<'a>,
    /// Target server.
    pub target: &'a Client,
    /// Its write endpoint.
    pub api: WriteApi<'a>,
}

impl<'a> StreamCopy<'a> {
    /// A stream copy from `source` to `target` with the run's settings.
    pub fn new(
        source: &'a Client,
        target: &'a Client,
        catalog: &'a crate::plan::catalog::Catalog,
        settings: &'a crate::config::Settings,
    ) -> Self {
        StreamCopy {
            reader: reader(source, catalog, settings, &settings.transform),
            target,
            api: match &catalog.target_v2 {
                Some(v2) => WriteApi::V2 { org: &v2.org },
                None => WriteApi::V1,
            },
        }
    }
}

/// The chunk reader for a run.
pub fn reader<'a>(
    source: &'a Client,
    catalog: &'a crate::plan::catalog::Catalog,
    settings: &'a crate::config::Settings,
    rewrite: &'a Rewrite,
) -> ChunkReader<'a> {
    ChunkReader {
        client: source,
        source: Rp {
            db: &catalog.database,
            rp: &catalog.source_rp,
        },
        tenants: &settings.tenants,
        fields: &catalog.fields,
        rewrite,
        chunk_size: settings.stream.chunk_size,
        batch_points: settings.stream.batch_points,
    }
}

impl Transfer for StreamCopy<'_> {
    fn describe(&self, chunk: &Chunk) -> String {
        let to = match self.api {
            WriteApi::V1 => format!("write?db={}&rp={}", chunk.target, chunk.target_rp),
            WriteApi::V2 { org } => format!(
                "api/v2/write?org={org}&bucket={}",
                crate::influx::v2::bucket_name(&chunk.target)
            ),
        };
        format!(
            "{}  ->  POST {}/{to}",
            self.reader.query(chunk),
            self.target.url()
        )
    }

    fn transfer<'a>(&'a self, chunk: &'a Chunk) -> BoxFuture<'a, Result<u64, ClientError>> {
        Box::pin(async move {
            let (tx, rx) = mpsc::channel(PIPELINE_BATCHES);
            let read = async move {
                let tx = tx;
                self.reader.read(chunk, &tx).await
            };
            let write = write_batches(self.target, self.api, &chunk.target, &chunk.target_rp, rx);
            // The first error wins and drops the other side: a failed write stops the
            // read, a failed read stops the writes.
            let (_, written) = tokio::try_join!(read, write)?;
            Ok(written)
        })
    }

    fn target_url(&self) -> &str {
        self.target.url()
    }
}
