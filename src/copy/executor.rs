//! The copier: runs a plan's chunks through a [`Transfer`] with bounded concurrency,
//! retries transient failures, splits chunks that are too big, and records every
//! closed chunk in the ledger once the target confirmed its write. A failure that says
//! the server itself cannot work ([`FailureClass::Server`]) stops the run at once
//! ([`Halt`]): no new chunk starts, as after SIGTERM.

use crate::copy::backoff::backoff;
use crate::copy::halt::Halt;
use crate::copy::outcome::{FailedChunk, Outcome};
use crate::copy::pacer::Pacer;
use crate::copy::progress::Progress;
use crate::copy::split::split_after;
use crate::copy::stop::{StopLevel, StopSignal};
use crate::copy::transfer::Transfer;
use crate::core::clock::{now_ns, rfc3339_now};
use crate::influx::error::{ClientError, FailureClass};
use crate::ledger::{LedgerError, LedgerWriter, Record, RecordKind, SourceRef};
use crate::plan::{Chunk, Plan};
use futures::future::BoxFuture;
use futures::stream::{self, StreamExt};
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::Semaphore;

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
            concurrency: run.concurrency_or_fallback(),
            retries: run.retries,
            backoff: run.retry_backoff,
            retry_deadline: run.retry_deadline,
            max_points_per_second: run.max_points_per_second,
        }
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
    /// Copies running at once: `opts.concurrency`, however many chunks are under way
    /// ([`Transfer::in_flight`]).
    copies: Semaphore,
    stop: StopSignal,
    /// Set at the first failure that says a server cannot work: nothing new starts.
    halt: Halt,
}

impl Ctx<'_> {
    /// Whether a chunk may start: the run is neither stopping nor halted.
    fn running(&self) -> bool {
        *self.stop.borrow() == StopLevel::Run && self.halt.reason().is_none()
    }

    /// Halts the run when `e` says the server cannot work; the halt's line when the
    /// chunk that failed with `e` is to count as not run rather than as failed: it
    /// did, or the run halted already and `e` is no fault of the chunk's own (a
    /// retry or split was cut short by the halt).
    fn halted_by(&self, e: &ClientError) -> Option<String> {
        let servers = [self.source.url, self.transfer.target_url()];
        let halted = self.halt.on(e, &servers);
        if !halted || e.class() == FailureClass::Permanent {
            return None;
        }
        self.halt.reason().map(str::to_string)
    }
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
        copies: Semaphore::new(opts.concurrency.max(1)),
        stop: stop.clone(),
        halt: Halt::default(),
    };
    let ctx = &ctx;
    let mut total = Outcome::default();
    let mut done = vec![false; plan.chunks.len()];
    if *stop.borrow() == StopLevel::Run {
        tokio::select! {
            (o, d) = copy_open_together(ctx, &plan.chunks) => { total.merge(o); done = d; }
            Ok(_) = stop.wait_for(|l| *l == StopLevel::Abort) => {
                tracing::warn!("abandoning the open chunks in flight; they are copied again by the next run");
                total.interrupted = true;
                total.not_run = plan.chunks.len() as u64;
                return total;
            }
        }
    }
    let mut ran = done.iter().filter(|d| **d).count();
    let rest = plan.chunks.iter().zip(done).filter(|(_, d)| !d);
    let mut results = stream::iter(rest.map(|(c, _)| c))
        // Checked as each chunk is taken up, and again when it gets a copy slot: after
        // a stop or a halt, nothing new starts.
        .take_while(move |_| std::future::ready(ctx.running()))
        .map(|c| async move {
            let o = copy_chunk(ctx, c.clone(), Piece::Whole).await;
            if let Some(o) = o.as_ref().filter(|o| o.halted.is_none()) {
                ctx.progress.chunk_done(!o.failed.is_empty());
            }
            o
        })
        .buffer_unordered(transfer.in_flight(opts.concurrency).max(1));

    loop {
        tokio::select! {
            next = results.next() => match next {
                // Cut short by a halt: neither completed nor failed, so not run.
                Some(Some(o)) if o.halted.is_some() => total.merge(o),
                Some(Some(o)) => { ran += 1; total.merge(o); }
                // Waited for a copy slot until the run began to drain: never started.
                Some(None) => {}
                None => break,
            },
            // A stop signal whose sender is gone (no signal handler could be set up)
            // can never say abort: that branch is then disabled, not taken.
            Ok(_) = stop.wait_for(|l| *l == StopLevel::Abort) => {
                tracing::warn!("abandoning chunks in flight; they are not recorded and will be copied again");
                break;
            }
        }
    }
    total.interrupted = ran < plan.chunks.len();
    total.not_run = (plan.chunks.len() - ran) as u64;
    total.halted = ctx.halt.reason().map(str::to_string);
    total
}

/// Whether a chunk is a plan's own or a piece of one that failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Piece {
    /// A chunk of the plan: it does not start once the run drains.
    Whole,
    /// A piece of a bigger chunk that failed: its chunk is under way, so it runs.
    Split,
}

/// Copies one chunk, retrying and splitting as needed. `None` when it never started
/// (the run began to drain while it waited for a copy slot). Boxed because splitting
/// recurses.
fn copy_chunk<'a>(
    ctx: &'a Ctx<'a>,
    mut chunk: Chunk,
    piece: Piece,
) -> BoxFuture<'a, Option<Outcome>> {
    Box::pin(async move {
        let split = piece == Piece::Split;
        let mut out = Outcome::default();
        if clamp_to_retention(&mut chunk) {
            out.expired += 1;
            return Some(out);
        }
        let (result, attempts) = transfer_with_retries(ctx, &chunk, piece).await?;
        out.retries += u64::from(attempts - 1);
        match result {
            Ok(points) => {
                out.copied += 1;
                out.points += points;
                ctx.progress.add_points(points);
                if !chunk.closed {
                    out.open_points += points;
                }
                if chunk.closed {
                    match record(ctx, &chunk, points, split) {
                        Ok(()) => out.recorded += 1,
                        // The copy happened but cannot be recorded: report it as failed
                        // so the run exits non-zero; a rerun copies it again.
                        Err(e) => out.failed.push(failure(ctx, chunk, &e, attempts)),
                    }
                }
            }
            Err(e) => match (ctx.halted_by(&e), split_after(&chunk, &e)) {
                (Some(line), _) => {
                    tracing::warn!(tenant = %chunk.tenant, error = %e, attempts, "chunk not run: the run halted");
                    out.halted = Some(line);
                }
                (None, Some(pieces)) => out.merge(copy_pieces(ctx, &chunk, pieces, &e).await),
                (None, None) => {
                    tracing::warn!(tenant = %chunk.tenant, error = %e, attempts, "chunk failed");
                    out.failed.push(failure(ctx, chunk, &e, attempts));
                }
            },
        }
        Some(out)
    })
}

/// Clamps the chunk's start to its retention horizon as of now, not as of planning:
/// the horizon moved while earlier chunks ran. `true` when the whole chunk fell behind.
fn clamp_to_retention(chunk: &mut Chunk) -> bool {
    if let Some(r) = chunk.retention_ns {
        let floor = crate::plan::planner::retention_floor(now_ns(), r);
        if chunk.window.end <= floor {
            return true;
        }
        chunk.window.start = chunk.window.start.max(floor);
    }
    false
}

/// Copies the plan's open chunks together, many to a request
/// ([`Transfer::transfer_many`]), where the transfer can: a rerun with nothing new then
/// costs a few requests, not one per tenant and type-safe batch. Open chunks are not
/// recorded or checked, so nothing per chunk is lost; a chunk whose statement failed,
/// or all of them when the transfer cannot, is left to the per-chunk path with its
/// retries and splits. Returns the outcome and which chunks (by index) were copied.
async fn copy_open_together(ctx: &Ctx<'_>, chunks: &[Chunk]) -> (Outcome, Vec<bool>) {
    let mut done = vec![false; chunks.len()];
    let mut out = Outcome::default();
    let (mut at, mut open) = (Vec::new(), Vec::new());
    for (i, c) in chunks.iter().enumerate().filter(|(_, c)| !c.closed) {
        let mut c = c.clone();
        // An expired chunk is counted by the per-chunk path.
        if !clamp_to_retention(&mut c) {
            at.push(i);
            open.push(c);
        }
    }
    if open.len() < 2 {
        return (out, done);
    }
    ctx.pacer.wait().await;
    let Some(results) = ctx
        .transfer
        .transfer_many(&open, ctx.opts.concurrency)
        .await
    else {
        return (out, done);
    };
    for ((i, chunk), r) in at.into_iter().zip(&open).zip(results) {
        match r {
            Ok(points) => {
                done[i] = true;
                out.copied += 1;
                out.points += points;
                out.open_points += points;
                ctx.pacer.written(points);
                ctx.progress.add_points(points);
                ctx.progress.chunk_done(false);
            }
            Err(e) => {
                // A server that cannot work stops the run before the chunk is sent alone.
                ctx.halt
                    .on(&e, &[ctx.source.url, ctx.transfer.target_url()]);
                tracing::debug!(tenant = %chunk.tenant, error = %e, "open chunk failed in a shared request; copying it alone");
            }
        }
    }
    (out, done)
}

/// Runs the transfer (in a copy slot) and settles the chunk, until both succeed or
/// retrying cannot help: the failure is permanent, the server cannot work, the chunk
/// is too big and can be split instead, the retries or the deadline ran out, or the
/// run halted. Returns the last result and the attempts made; `None` when a whole
/// chunk never started.
async fn transfer_with_retries(
    ctx: &Ctx<'_>,
    chunk: &Chunk,
    piece: Piece,
) -> Option<(Result<u64, ClientError>, u32)> {
    let started = tokio::time::Instant::now();
    let mut attempt = 0u32;
    loop {
        attempt += 1;
        let slot = ctx
            .copies
            .acquire()
            .await
            .expect("the copy slots are never closed");
        if attempt == 1 && piece == Piece::Whole && !ctx.running() {
            return None;
        }
        ctx.pacer.wait().await;
        let copied = ctx.transfer.transfer(chunk).await;
        drop(slot);
        let settled = match copied {
            Ok(points) => {
                ctx.pacer.written(points);
                ctx.transfer.settle(chunk, points).await
            }
            Err(e) => Err(e),
        };
        let e = match settled {
            Ok(points) => return Some((Ok(points), attempt)),
            Err(e) => e,
        };
        let class = e.class();
        tracing::debug!(tenant = %chunk.tenant, attempt, error = %e, ?class, "chunk query failed");
        let give_up = match class {
            FailureClass::Permanent | FailureClass::Server => true,
            FailureClass::TooBig if split_after(chunk, &e).is_some() => true,
            _ => {
                attempt > ctx.opts.retries
                    || started.elapsed() >= ctx.opts.retry_deadline
                    || ctx.halt.reason().is_some()
            }
        };
        if give_up {
            return Some((Err(e), attempt));
        }
        let salt = format!(
            "{}{}{}",
            chunk.tenant,
            chunk.window.start,
            chunk.measurements.len()
        );
        tokio::time::sleep(backoff(ctx.opts.backoff, attempt, &salt)).await;
        if ctx.halt.reason().is_some() {
            return Some((Err(e), attempt));
        }
    }
}

/// Copies the pieces of a chunk that failed with `err`, one after the other. Pieces of
/// an open chunk that end before the cutoff are closed, and so recorded.
async fn copy_pieces(
    ctx: &Ctx<'_>,
    chunk: &Chunk,
    pieces: Vec<Chunk>,
    err: &ClientError,
) -> Outcome {
    tracing::info!(
        tenant = %chunk.tenant,
        window = %crate::core::window::format_ns(chunk.window.start),
        unit = %chunk.unit,
        measurements = chunk.measurements.len(),
        pieces = pieces.len(),
        error = %err,
        "splitting chunk after failure"
    );
    let mut out = Outcome {
        splits: 1,
        ..Outcome::default()
    };
    for mut p in pieces {
        // The chunk is left unfinished (its pieces done so far are recorded).
        if let Some(line) = ctx.halt.reason() {
            out.halted = Some(line.to_string());
            break;
        }
        p.closed = p.closed || p.window.end <= ctx.closed_before;
        out.merge(copy_chunk(ctx, p, Piece::Split).await.unwrap_or_default());
    }
    out
}

fn failure(ctx: &Ctx<'_>, chunk: Chunk, e: &dyn std::fmt::Display, attempts: u32) -> FailedChunk {
    FailedChunk {
        query: ctx.transfer.describe(&chunk),
        chunk,
        error: e.to_string(),
        attempts,
    }
}

fn record(ctx: &Ctx<'_>, chunk: &Chunk, points: u64, split: bool) -> Result<(), LedgerError> {
    let rec = Record {
        kind: RecordKind::Copied,
        scope: ctx.source.scope(
            ctx.transfer.target_url(),
            &chunk.target,
            &chunk.target_rp,
            &chunk.tenant,
        ),
        measurements: chunk.measurements.to_vec(),
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

#[cfg(test)]
mod tests;
