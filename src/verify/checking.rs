//! `run` (unless `--no-verify`): each closed chunk checked after its copy, through a
//! [`Transfer`] wrapper, copied once more when the target misses points, and recorded
//! as verified when it agrees. The checks of chunks copied about the same time share
//! requests ([`crate::verify::batch`]), while the next chunks copy.

use crate::copy::{ManyResults, Transfer};
use crate::core::clock::now_ns;
use crate::core::field::FieldTypes;
use crate::core::interval::Interval;
use crate::core::window::format_ns;
use crate::influx::client::Client;
use crate::influx::error::{ClientError, FailureClass};
use crate::influx::multi;
use crate::influx::statement as influxql;
use crate::ledger::{LedgerWriter, Record, RecordKind, SourceRef, Sources};
use crate::plan::Chunk;
use crate::source::discover as catalog;
use crate::verify::figures::{
    self as verify, compare_schema, ChunkCheck, Subject, Verdict, Verifier, VerifyReport,
};
use futures::future::BoxFuture;
use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use tokio::sync::{oneshot, Semaphore};

/// Compares the fields of every target database with the source's. The `SHOW FIELD
/// KEYS` statements share requests ([`multi::query_each`]): one each would make a
/// rerun with nothing new cost a request per tenant more than its copies.
pub async fn schema_differences(
    client: &Client,
    source: &FieldTypes,
    targets: &BTreeSet<String>,
    existing: &[String],
) -> Result<Vec<verify::SchemaDifference>, ClientError> {
    let names: Vec<&String> = targets.iter().filter(|t| existing.contains(t)).collect();
    let statements: Vec<String> = names.iter().map(|t| influxql::show_field_keys(t)).collect();
    let answers =
        multi::query_each(client, None, &statements, multi::STATEMENTS_PER_REQUEST, 1).await?;
    let mut out = Vec::new();
    for (t, answer) in names.into_iter().zip(answers) {
        let dest = crate::source::answers::field_types(&answer?);
        out.extend(compare_schema(t, source, &dest));
    }
    Ok(out)
}

/// A [`Transfer`] that checks each closed chunk right after the transfer it wraps
/// copied it (`run`, unless `--no-verify`), copies it once more when the target misses
/// points, and records it as verified when it agrees. Its `Verified` line goes in
/// before the copier's `Copied` line; readers match the two by chunk, not by order.
pub struct Checking<'a> {
    /// The transfer that copies.
    pub inner: &'a dyn Transfer,
    /// The checker.
    pub verifier: Verifier<'a>,
    /// Source server URL, database and retention policy of each chunk, as ledger
    /// scopes name them.
    pub sources: Sources<'a>,
    /// The run's ledger.
    pub ledger: &'a Mutex<LedgerWriter>,
    /// What the checks found.
    pub report: Mutex<VerifyReport>,
    /// Checks waiting to share requests, and the copies under way.
    pub queue: CheckQueue,
}

/// Closed chunks copied and waiting for their check, which several share.
pub struct CheckQueue {
    pending: Mutex<Vec<Pending>>,
    /// Copies under way ([`Transfer::transfer`] calls not yet returned): while one
    /// runs, another check will come; when none does, waiting checks go at once.
    copying: AtomicUsize,
    /// Checks that run alone (big chunks, and chunks whose shared check failed) run
    /// at most as many at once as copies do.
    alone: Semaphore,
}

impl CheckQueue {
    /// A queue whose lone checks run at most `concurrency` at once.
    pub fn new(concurrency: usize) -> Self {
        CheckQueue {
            pending: Mutex::default(),
            copying: AtomicUsize::new(0),
            alone: Semaphore::new(concurrency.max(1)),
        }
    }
}

struct Pending {
    subject: Subject,
    points: u64,
    reply: oneshot::Sender<Result<ChunkCheck, ClientError>>,
}

/// Counts a copy under way for as long as it lives (a dropped copy, after an abort,
/// included).
struct Copying<'a>(&'a AtomicUsize);

impl<'a> Copying<'a> {
    fn start(n: &'a AtomicUsize) -> Self {
        n.fetch_add(1, Ordering::SeqCst);
        Copying(n)
    }
}

impl Drop for Copying<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Checks that share requests at most: a hundred small chunks' checks cost about what
/// one request each would cost for two of them (docs/BENCHMARKS.md, issue 13).
const CHECKS_PER_BATCH: usize = 100;

/// Copied points whose checks wait together at most: a copied chunk is recorded only
/// once checked, so a crash costs no more than this many points again, and the
/// grouped statement stays small.
const POINTS_PER_BATCH: u64 = 1_000_000;

/// Chunks with more points are checked alone, right after their copy: there a check's
/// cost is per point, not per statement, so sharing gains nothing, and a shared
/// request runs its statements one after the other on one server core while checks
/// of their own run beside the copies.
const SHARED_CHECK_MAX_POINTS: u64 = 50_000;

/// How often a waiting check looks whether it can go.
const CHECK_WAIT_TICK: std::time::Duration = std::time::Duration::from_millis(500);

impl Checking<'_> {
    fn subject(&self, chunk: &Chunk, points: u64) -> Subject {
        // A chunk of a tenant without a source never gets here: the transfer refuses
        // it (copy::per_tenant) before a check is made.
        let none = SourceRef {
            url: "",
            db: "",
            rp: "",
        };
        let scope = self.sources.of(&chunk.tenant).unwrap_or(none).scope(
            self.inner.target_url(),
            &chunk.target,
            &chunk.target_rp,
            &chunk.tenant,
        );
        let record = Record {
            split: false,
            kind: RecordKind::Copied,
            scope,
            measurements: chunk.measurements.to_vec(),
            start: chunk.window.start,
            end: chunk.window.end,
            unit: chunk.unit,
            points,
            at: String::new(),
        };
        Subject::from_record(&record, chunk.retention_ns)
    }

    /// Checks `window` of a chunk; a check too big for the server (a limit or a
    /// timeout) is checked again in two halves, at most `halvings` deep, so that a
    /// slow check does not make the copier split a copy that worked.
    fn check_in_pieces<'b>(
        &'b self,
        chunk: &'b Chunk,
        window: Interval,
        halvings: u32,
    ) -> BoxFuture<'b, Result<ChunkCheck, ClientError>> {
        Box::pin(async move {
            let mut subject = self.subject(chunk, 0);
            subject.window = window;
            let slot = self.queue.alone.acquire().await.expect("never closed");
            let checked = self.verifier.try_check(&subject, now_ns()).await;
            drop(slot);
            let e = match checked {
                Ok(c) => return Ok(c),
                Err(e) => e,
            };
            let mid = window.start + window.len() / 2;
            if e.class() != FailureClass::TooBig || halvings == 0 || mid <= window.start {
                return Err(e);
            }
            tracing::debug!(tenant = %chunk.tenant, error = %e, "check too big; checking halves");
            let a = self
                .check_in_pieces(chunk, Interval::new(window.start, mid), halvings - 1)
                .await?;
            let b = self
                .check_in_pieces(chunk, Interval::new(mid, window.end), halvings - 1)
                .await?;
            Ok(merge_checks(a, b, window))
        })
    }

    fn report(&self) -> std::sync::MutexGuard<'_, VerifyReport> {
        self.report.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Checks a copied closed chunk (its check shares requests with other chunks'),
    /// copies it again once when the target misses points, and checks again. `Err`
    /// when a check could not run (the copier retries or splits the chunk like any
    /// copy; one saying the server cannot work stops the run), or when the target
    /// still misses points ([`ClientError::Unverified`]: the chunk fails, unrecorded).
    async fn settle_closed(&self, chunk: &Chunk, copied: u64) -> Result<u64, ClientError> {
        let mut points = copied;
        let shared = if points <= SHARED_CHECK_MAX_POINTS {
            self.check_shared(self.subject(chunk, 0), points).await
        } else {
            Err(ClientError::Statement {
                message: format!("{points} points: checked alone"),
            })
        };
        let mut check = match shared {
            Ok(c) => c,
            // The server cannot work: checking alone would fail the same way; the
            // copier stops the run on it.
            Err(e) if e.class() == FailureClass::Server => return Err(e),
            Err(e) => {
                tracing::debug!(tenant = %chunk.tenant, error = %e, "shared check failed; checking the chunk alone");
                self.check_in_pieces(chunk, chunk.window, CHECK_HALVINGS)
                    .await?
            }
        };
        if !check.verdict.losses().is_empty() {
            tracing::warn!(tenant = %chunk.tenant, window = %format_ns(chunk.window.start), "copied chunk differs from the source; copying it again");
            self.report().recopied += 1;
            points = self.inner.transfer(chunk).await?;
            check = self
                .check_in_pieces(chunk, chunk.window, CHECK_HALVINGS)
                .await?;
        }
        let losses = check.verdict.losses().len();
        if losses > 0 {
            let message = unverified_message(&check.verdict);
            self.report().add(check);
            return Err(ClientError::Unverified { message });
        }
        if check.verdict == Verdict::Agreed {
            if let Some(v) = self.subject(chunk, points).verified_record() {
                let appended = self
                    .ledger
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .append(&v);
                match appended {
                    Ok(()) => self.report().recorded += 1,
                    Err(e) => {
                        check.verdict = Verdict::Error {
                            error: format!("checked, but cannot record it: {e}"),
                            query: String::new(),
                        }
                    }
                }
            }
        }
        self.report().add(check);
        Ok(points)
    }

    /// Queues `subject`'s check and waits for it. The checks waiting go together once
    /// there are [`CHECKS_PER_BATCH`] of them or [`POINTS_PER_BATCH`] points, or when
    /// no copy is under way (no more are coming soon); the caller that sees that
    /// sends them.
    async fn check_shared(&self, subject: Subject, points: u64) -> Result<ChunkCheck, ClientError> {
        let (reply, mut answer) = oneshot::channel();
        self.pending().push(Pending {
            subject,
            points,
            reply,
        });
        // Lets the chunks that were waiting for this copy's slot start theirs first,
        // so that `copying` says whether more checks are on their way.
        tokio::task::yield_now().await;
        self.send_checks().await;
        loop {
            tokio::select! {
                r = &mut answer => {
                    return r.unwrap_or_else(|_| Err(ClientError::Statement {
                        message: "verification: the shared check was abandoned".into(),
                    }));
                }
                () = tokio::time::sleep(CHECK_WAIT_TICK) => self.send_checks().await,
            }
        }
    }

    /// Sends the waiting checks together when they are due, and hands
    /// each its answer.
    async fn send_checks(&self) {
        let batch = {
            let mut q = self.pending();
            let points: u64 = q.iter().map(|p| p.points).sum();
            let due = q.len() >= CHECKS_PER_BATCH
                || points >= POINTS_PER_BATCH
                || self.queue.copying.load(Ordering::SeqCst) == 0;
            if !due || q.is_empty() {
                return;
            }
            std::mem::take(&mut *q)
        };
        tracing::debug!(checks = batch.len(), "sending shared checks");
        let subjects: Vec<Subject> = batch.iter().map(|p| p.subject.clone()).collect();
        let results = self.verifier.try_check_many(&subjects, now_ns()).await;
        for (p, r) in batch.into_iter().zip(results) {
            // A waiter that is gone (the run aborted) needs no answer.
            let _ = p.reply.send(r);
        }
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, Vec<Pending>> {
        self.queue.pending.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The report, with the fields of `targets` compared with the source's. A failure
    /// of that comparison is reported as a failed check, not lost.
    pub async fn finish(self, targets: &BTreeSet<String>) -> VerifyReport {
        let mut report = self.report.into_inner().unwrap_or_else(|p| p.into_inner());
        let client = self.verifier.target_client();
        let found = match catalog::databases(client).await {
            Ok(existing) => {
                schema_differences(client, self.verifier.fields, targets, &existing).await
            }
            Err(e) => Err(e),
        };
        match found {
            Ok(d) => report.schema_differences = d,
            Err(e) => report.errors.push(ChunkCheck {
                tenant: String::new(),
                target: String::new(),
                measurements: 0,
                window: Interval::new(0, 0),
                open: false,
                verdict: Verdict::Error {
                    error: format!("cannot compare target field types with the source: {e}"),
                    query: "SHOW FIELD KEYS".into(),
                },
            }),
        }
        report
    }
}

/// How often a check too big for the server is halved before it fails (a week down
/// to about 40 minutes).
const CHECK_HALVINGS: u32 = 8;

/// The check of a window from the checks of its two halves.
fn merge_checks(a: ChunkCheck, b: ChunkCheck, window: Interval) -> ChunkCheck {
    let verdict = match (a.verdict, b.verdict) {
        (e @ Verdict::Error { .. }, _) | (_, e @ Verdict::Error { .. }) => e,
        (Verdict::Differs { mut mismatches }, Verdict::Differs { mismatches: more }) => {
            mismatches.extend(more);
            Verdict::Differs { mismatches }
        }
        (d @ Verdict::Differs { .. }, _) | (_, d @ Verdict::Differs { .. }) => d,
        (Verdict::Expired, Verdict::Expired) => Verdict::Expired,
        _ => Verdict::Agreed,
    };
    ChunkCheck {
        window,
        verdict,
        tenant: a.tenant,
        target: a.target,
        measurements: a.measurements,
        open: a.open,
    }
}

/// The error text of a chunk that still misses points after its second copy: each
/// differing measurement with its figures, as the failure report shows it.
fn unverified_message(verdict: &Verdict) -> String {
    let mut out = String::from(
        "verification: the target still differs from the source after the chunk was copied again",
    );
    for m in verdict.losses() {
        let _ = write!(out, "; measurement {:?}:", m.measurement);
        for d in &m.differences {
            let _ = write!(
                out,
                " {}({:?}) source {} target {}",
                d.figure, d.field, d.source, d.target
            );
        }
    }
    out
}

impl Transfer for Checking<'_> {
    fn target_url(&self) -> &str {
        self.inner.target_url()
    }

    fn describe(&self, chunk: &Chunk) -> String {
        self.inner.describe(chunk)
    }

    /// Copies only: a closed chunk is checked when the copier settles it.
    fn transfer<'b>(&'b self, chunk: &'b Chunk) -> BoxFuture<'b, Result<u64, ClientError>> {
        Box::pin(async move {
            let copying = Copying::start(&self.queue.copying);
            let r = self.inner.transfer(chunk).await;
            drop(copying);
            if r.is_err() {
                // No check follows this copy: the waiting ones may be due now.
                self.send_checks().await;
            }
            r
        })
    }

    fn settle<'b>(
        &'b self,
        chunk: &'b Chunk,
        points: u64,
    ) -> BoxFuture<'b, Result<u64, ClientError>> {
        Box::pin(async move {
            if chunk.closed {
                return self.settle_closed(chunk, points).await;
            }
            self.report().open_not_checked += 1;
            self.send_checks().await;
            Ok(points)
        })
    }

    /// Enough chunks under way for one full batch of checks to be sent while the
    /// next fills up and `concurrency` chunks copy: with room for one batch only, the
    /// copies would stop while it is checked, and the few chunks that copied meanwhile
    /// would be checked alone.
    fn in_flight(&self, concurrency: usize) -> usize {
        concurrency + 2 * CHECKS_PER_BATCH
    }

    /// Open chunks only: a closed chunk is checked when it is settled.
    fn transfer_many<'b>(&'b self, chunks: &'b [Chunk], concurrency: usize) -> ManyResults<'b> {
        Box::pin(async move {
            if chunks.iter().any(|c| c.closed) {
                return None;
            }
            let results = self.inner.transfer_many(chunks, concurrency).await?;
            self.report().open_not_checked += results.iter().filter(|r| r.is_ok()).count() as u64;
            Some(results)
        })
    }
}
