//! The copier: runs a plan's chunks as server-side `SELECT ... INTO` queries with
//! bounded concurrency, retries transient failures, splits chunks that are too big,
//! and records every closed chunk in the ledger once the server confirmed its write.

use crate::copy::stop::{StopLevel, StopSignal};
use crate::influx::answer::written;

use crate::influx::client::Client;

use crate::copy::progress::Progress;
use crate::core::clock::{now_ns, rfc3339_now};
use crate::core::interval::Interval;
use crate::influx::error::{ClientError, FailureClass};
use crate::influx::statement::{self as influxql, Rp};
use crate::ledger::{LedgerWriter, Record, RecordKind, SourceRef};
use crate::plan::target::TargetPlan;
use crate::plan::{Chunk, Plan};
use futures::future::BoxFuture;
use futures::stream::{self, StreamExt};
use serde::Serialize;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::Duration;

/// Retry and split behaviour.
#[derive(Debug, Clone)]
pub struct CopyOptions {
    /// Queries in flight at once.
    pub concurrency: usize,
    /// Retries of a transient failure before the chunk is split.
    pub retries: u32,
    /// First retry delay; doubles per attempt, with jitter.
    pub backoff: Duration,
    /// Most time one chunk spends retrying.
    pub retry_deadline: Duration,
    /// Average points per second to stay under, if any.
    pub max_points_per_second: Option<u64>,
}

impl CopyOptions {
    /// The options the run settings ask for.
    pub fn from_settings(run: &crate::config::RunSettings) -> Self {
        CopyOptions {
            concurrency: run.concurrency,
            retries: run.retries,
            backoff: run.retry_backoff,
            retry_deadline: run.retry_deadline,
            max_points_per_second: run.max_points_per_second,
        }
    }
}

/// Paces chunk starts so the average write rate stays under a limit. Server-side
/// copies cannot be slowed down mid-query, so the debt of each finished chunk delays
/// the next start instead.
#[derive(Debug)]
pub struct Pacer {
    limit: Option<u64>,
    next: Mutex<tokio::time::Instant>,
}

impl Pacer {
    /// A pacer for `limit` points per second (`None`: never waits).
    pub fn new(limit: Option<u64>) -> Self {
        Pacer {
            limit,
            next: Mutex::new(tokio::time::Instant::now()),
        }
    }

    /// Waits until the next chunk may start.
    pub async fn wait(&self) {
        if self.limit.is_none() {
            return;
        }
        let at = *self.next.lock().unwrap_or_else(|p| p.into_inner());
        tokio::time::sleep_until(at).await;
    }

    /// Books `points` written: later starts move back by `points / limit` seconds.
    pub fn written(&self, points: u64) {
        if let Some(limit) = self.limit {
            let mut next = self.next.lock().unwrap_or_else(|p| p.into_inner());
            let now = tokio::time::Instant::now();
            *next = (*next).max(now) + Duration::from_secs_f64(points as f64 / limit.max(1) as f64);
        }
    }
}

/// A chunk (or piece of one) that could not be copied.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct FailedChunk {
    /// The chunk as last tried.
    pub chunk: Chunk,
    /// The query that failed.
    pub query: String,
    /// The server's (or transport's) error.
    pub error: String,
    /// Attempts made.
    pub attempts: u32,
}

/// What a copy run did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Outcome {
    /// Chunks (or pieces) copied successfully.
    pub copied: u64,
    /// Of those, closed ones recorded in the ledger.
    pub recorded: u64,
    /// Points the server reported written.
    pub points: u64,
    /// Chunks split into smaller ones after failures.
    pub splits: u64,
    /// Retries of transient failures.
    pub retries: u64,
    /// Chunks left entirely to the retention horizon by the time they ran.
    pub expired: u64,
    /// What still failed.
    pub failed: Vec<FailedChunk>,
    /// The run was stopped before every chunk ran.
    pub interrupted: bool,
}

impl Outcome {
    /// Adds another outcome's figures and failures to this one (not `interrupted`).
    pub fn merge(&mut self, o: Outcome) {
        self.copied += o.copied;
        self.recorded += o.recorded;
        self.points += o.points;
        self.splits += o.splits;
        self.retries += o.retries;
        self.expired += o.expired;
        self.failed.extend(o.failed);
    }
}

/// Creates target databases and retention policies the plan needs. Both statements are
/// idempotent in InfluxDB; an existing policy is never altered.
pub async fn ensure_targets(client: &Client, targets: &[TargetPlan]) -> Result<(), ClientError> {
    for t in targets {
        if t.create_database {
            client
                .query(None, &influxql::create_database(&t.database))
                .await?;
        }
        if let Some(d) = &t.create_retention_policy {
            client
                .query(
                    None,
                    &influxql::create_default_retention_policy(&t.database, &t.retention_policy, d),
                )
                .await?;
        }
    }
    Ok(())
}

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
    fn target_url(&self) -> &str;
}

/// Server-side copy: one `SELECT * INTO ... GROUP BY *` per chunk, on the server
/// that holds both the source and the target databases.
#[derive(Debug, Clone)]
pub struct SelectInto<'a> {
    /// Client of the server.
    pub client: &'a Client,
    /// Source database and retention policy.
    pub source: Rp<'a>,
    /// Tenant tag key.
    pub tag: &'a str,
}

impl Transfer for SelectInto<'_> {
    fn target_url(&self) -> &str {
        ""
    }

    fn describe(&self, chunk: &Chunk) -> String {
        let target = Rp {
            db: &chunk.target,
            rp: &chunk.target_rp,
        };
        influxql::select_into(
            &self.source,
            &target,
            &chunk.measurements,
            self.tag,
            &chunk.tenant,
            chunk.window,
        )
    }

    fn transfer<'a>(&'a self, chunk: &'a Chunk) -> BoxFuture<'a, Result<u64, ClientError>> {
        Box::pin(async move {
            let q = self.describe(chunk);
            let r = self.client.query(Some(self.source.db), &q).await?;
            Ok(written(&r))
        })
    }
}

struct Ctx<'a> {
    transfer: &'a dyn Transfer,
    closed_before: i64,
    pacer: Pacer,
    source: SourceRef<'a>,
    ledger: &'a Mutex<LedgerWriter>,
    opts: &'a CopyOptions,
    progress: &'a Progress,
}

/// Runs every chunk of the plan. Returns when all ran, or early when `stop` says so.
pub async fn copy_all(
    transfer: &dyn Transfer,
    source: SourceRef<'_>,
    plan: &Plan,
    ledger: &Mutex<LedgerWriter>,
    opts: &CopyOptions,
    progress: &Progress,
    mut stop: StopSignal,
) -> Outcome {
    let ctx = Ctx {
        transfer,
        closed_before: plan.closed_before_ns,
        pacer: Pacer::new(opts.max_points_per_second),
        source,
        ledger,
        opts,
        progress,
    };
    let ctx = &ctx;
    let schedule = stop.clone();
    let mut results = stream::iter(plan.chunks.iter())
        // Checked as each chunk is about to start: after a stop, nothing new starts.
        .take_while(move |_| std::future::ready(*schedule.borrow() == StopLevel::Run))
        .map(|c| async move {
            let o = copy_chunk(ctx, c.clone(), false).await;
            ctx.progress.chunk_done(!o.failed.is_empty());
            o
        })
        .buffer_unordered(opts.concurrency.max(1));

    let mut total = Outcome::default();
    let mut ran = 0usize;
    loop {
        tokio::select! {
            next = results.next() => match next {
                Some(o) => { ran += 1; total.merge(o); }
                None => break,
            },
            _ = stop.wait_for(|l| *l == StopLevel::Abort) => {
                tracing::warn!("abandoning chunks in flight; they are not recorded and will be copied again");
                break;
            }
        }
    }
    total.interrupted = ran < plan.chunks.len();
    total
}

/// Copies one chunk, retrying and splitting as needed. `split` marks a piece of a
/// bigger chunk that failed.
fn copy_chunk<'a>(
    ctx: &'a Ctx<'a>,
    mut chunk: Chunk,
    split: bool,
) -> Pin<Box<dyn Future<Output = Outcome> + Send + 'a>> {
    Box::pin(async move {
        let mut out = Outcome::default();
        if let Some(r) = chunk.retention_ns {
            // Re-clamped now, not at planning: the horizon moved while earlier chunks ran.
            let floor = crate::plan::planner::retention_floor(now_ns(), r);
            if chunk.window.end <= floor {
                out.expired += 1;
                return out;
            }
            chunk.window.start = chunk.window.start.max(floor);
        }
        let started = tokio::time::Instant::now();
        let mut attempt = 0u32;
        let err = loop {
            attempt += 1;
            ctx.pacer.wait().await;
            let result = ctx.transfer.transfer(&chunk).await;
            if let Ok(points) = &result {
                ctx.pacer.written(*points);
            }
            match result {
                Ok(points) => {
                    out.copied += 1;
                    out.points += points;
                    ctx.progress.add_points(points);
                    if chunk.closed {
                        match record(ctx, &chunk, points, split) {
                            Ok(()) => out.recorded += 1,
                            Err(e) => {
                                // The copy happened but cannot be recorded: report it as
                                // failed so the run exits non-zero; a rerun copies it again.
                                out.failed.push(FailedChunk {
                                    query: ctx.transfer.describe(&chunk),
                                    chunk,
                                    error: e.to_string(),
                                    attempts: attempt,
                                });
                            }
                        }
                    }
                    return out;
                }
                Err(e) => {
                    let class = e.class();
                    tracing::debug!(tenant = %chunk.tenant, attempt, error = %e, ?class, "chunk query failed");
                    match class {
                        FailureClass::Permanent => break e,
                        FailureClass::TooBig if can_split(&chunk, &e) => break e,
                        _ if attempt > ctx.opts.retries
                            || started.elapsed() >= ctx.opts.retry_deadline =>
                        {
                            break e
                        }
                        _ => {
                            out.retries += 1;
                            let salt = format!(
                                "{}{}{}",
                                chunk.tenant,
                                chunk.window.start,
                                chunk.measurements.len()
                            );
                            tokio::time::sleep(backoff(ctx.opts.backoff, attempt, &salt)).await;
                        }
                    }
                }
            }
        };
        // Smaller queries help a server that is struggling, not one that is gone.
        let unreachable = matches!(err, ClientError::Unreachable { .. });
        if err.class() != FailureClass::Permanent && !unreachable {
            if let Some(pieces) = split_chunk(&chunk, &err) {
                tracing::info!(
                    tenant = %chunk.tenant,
                    window = %crate::core::window::format_ns(chunk.window.start),
                    unit = %chunk.unit,
                    measurements = chunk.measurements.len(),
                    pieces = pieces.len(),
                    error = %err,
                    "splitting chunk after failure"
                );
                out.splits += 1;
                for mut p in pieces {
                    // Pieces of an open chunk that end before the cutoff are closed.
                    p.closed = p.closed || p.window.end <= ctx.closed_before;
                    out.merge(copy_chunk(ctx, p, true).await);
                }
                return out;
            }
        }
        tracing::warn!(tenant = %chunk.tenant, error = %err, attempts = attempt, "chunk failed");
        out.failed.push(FailedChunk {
            query: ctx.transfer.describe(&chunk),
            chunk,
            error: err.to_string(),
            attempts: attempt,
        });
        out
    })
}

fn record(
    ctx: &Ctx<'_>,
    chunk: &Chunk,
    points: u64,
    split: bool,
) -> Result<(), crate::ledger::LedgerError> {
    let rec = Record {
        kind: RecordKind::Copied,
        scope: ctx.source.scope(
            ctx.transfer.target_url(),
            &chunk.target,
            &chunk.target_rp,
            &chunk.tenant,
        ),
        measurements: chunk.measurements.clone(),
        start: chunk.window.start,
        end: chunk.window.end,
        unit: chunk.unit,
        split,
        points,
        at: rfc3339_now(),
    };
    // fsync takes milliseconds and a chunk's query takes far longer; holding a std mutex
    // here keeps ledger lines whole without an async lock.
    ctx.ledger
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .append(&rec)
}

fn series_limit(e: &ClientError) -> bool {
    e.to_string().contains("max-select-series")
}

fn can_split(chunk: &Chunk, e: &ClientError) -> bool {
    split_chunk(chunk, e).is_some()
}

/// The pieces a failed chunk is split into: by measurements when the series limit was
/// hit (a shorter window has as many series), else by time into the next smaller unit
/// that actually divides the window, else by measurements.
pub fn split_chunk(chunk: &Chunk, e: &ClientError) -> Option<Vec<Chunk>> {
    let by_measurements = || {
        (chunk.measurements.len() > 1).then(|| {
            let mid = chunk.measurements.len() / 2;
            [&chunk.measurements[..mid], &chunk.measurements[mid..]]
                .into_iter()
                .map(|ms| Chunk {
                    measurements: ms.to_vec(),
                    ..chunk.clone()
                })
                .collect()
        })
    };
    if series_limit(e) {
        return by_measurements();
    }
    let mut unit = chunk.unit.smaller();
    while let Some(u) = unit {
        if u.nanos() < chunk.window.len() {
            return Some(
                u.windows(chunk.window)
                    .map(|w: Interval| Chunk {
                        window: w,
                        unit: u,
                        ..chunk.clone()
                    })
                    .collect(),
            );
        }
        unit = u.smaller();
    }
    by_measurements()
}

/// Exponential backoff with jitter derived from the chunk and attempt, so that
/// concurrent chunks retrying after one server restart do not all return at once.
fn backoff(base: Duration, attempt: u32, query: &str) -> Duration {
    let exp = base.saturating_mul(1u32 << attempt.clamp(1, 10).saturating_sub(1));
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in query.bytes().chain(attempt.to_le_bytes()) {
        h = (h ^ u64::from(b)).wrapping_mul(0x1000_0000_01b3);
    }
    let jitter = 0.5 + (h % 1000) as f64 / 1000.0; // 0.5x .. 1.5x
    exp.min(Duration::from_secs(30)).mul_f64(jitter)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::window::{TimeUnit, DAY, HOUR, WEEK};

    fn chunk(unit: TimeUnit, w: Interval, ms: &[&str]) -> Chunk {
        Chunk {
            tenant: "t".into(),
            target: "db_t".into(),
            target_rp: "autogen".into(),
            measurements: ms.iter().map(|s| s.to_string()).collect(),
            window: w,
            unit,
            closed: true,
            retention_ns: None,
        }
    }

    fn stmt(m: &str) -> ClientError {
        ClientError::Statement { message: m.into() }
    }

    /// A week splits into seven days, a day into 24 hours, keeping the measurements.
    #[test]
    fn split_by_time() {
        let w = Interval::new(4 * DAY, 4 * DAY + WEEK);
        let parts = split_chunk(&chunk(TimeUnit::Week, w, &["a", "b"]), &stmt("timeout")).unwrap();
        assert_eq!(parts.len(), 7);
        assert!(parts
            .iter()
            .all(|p| p.unit == TimeUnit::Day && p.measurements.len() == 2));
        assert_eq!(parts[0].window.start, w.start);
        assert_eq!(parts[6].window.end, w.end);
        let d = split_chunk(&parts[0], &stmt("timeout")).unwrap();
        assert_eq!(d.len(), 24);
    }

    /// A clipped (short) window skips units it already fits in.
    #[test]
    fn split_skips_units_that_do_not_divide() {
        let w = Interval::new(4 * DAY, 4 * DAY + 2 * HOUR);
        let parts = split_chunk(&chunk(TimeUnit::Week, w, &["a"]), &stmt("timeout")).unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].unit, TimeUnit::Hour);
    }

    /// The series limit splits the measurements, not the time; one measurement at the
    /// smallest unit cannot be split.
    #[test]
    fn split_by_measurements() {
        let w = Interval::new(0, WEEK);
        let parts = split_chunk(
            &chunk(TimeUnit::Week, w, &["a", "b", "c"]),
            &stmt("max-select-series limit exceeded"),
        )
        .unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].window, w);
        assert!(split_chunk(
            &chunk(TimeUnit::Week, w, &["a"]),
            &stmt("max-select-series limit exceeded")
        )
        .is_none());
        let tiny = chunk(TimeUnit::Minute, Interval::new(0, 60_000_000_000), &["a"]);
        assert!(split_chunk(&tiny, &stmt("timeout")).is_none());
    }

    /// Backoff grows per attempt, stays within jitter bounds and under the cap.
    #[test]
    fn backoff_grows_with_jitter() {
        let b = Duration::from_secs(1);
        let d1 = backoff(b, 1, "q");
        let d3 = backoff(b, 3, "q");
        assert!(
            d1 >= Duration::from_millis(500) && d1 <= Duration::from_millis(1500),
            "{d1:?}"
        );
        assert!(
            d3 >= Duration::from_secs(2) && d3 <= Duration::from_secs(6),
            "{d3:?}"
        );
        assert!(backoff(b, 30, "q") <= Duration::from_secs(45));
    }
}
