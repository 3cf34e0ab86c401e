//! `run` (unless `--no-verify`): each closed chunk checked right after its copy,
//! through a [`Transfer`] wrapper, copied once more when the target misses points, and
//! recorded as verified when it agrees.

use crate::copy::{ManyResults, Transfer};
use crate::core::clock::now_ns;
use crate::core::field::FieldTypes;
use crate::core::interval::Interval;
use crate::core::window::format_ns;
use crate::influx::client::Client;
use crate::influx::error::{ClientError, FailureClass};
use crate::influx::multi;
use crate::influx::statement as influxql;
use crate::ledger::{LedgerWriter, Record, RecordKind, SourceRef};
use crate::plan::Chunk;
use crate::source::discover as catalog;
use crate::verify::figures::{
    self as verify, compare_schema, ChunkCheck, Subject, Verdict, Verifier, VerifyReport,
};
use futures::future::BoxFuture;
use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::sync::Mutex;

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
    /// Source server URL, database and retention policy, as ledger scopes name them.
    pub source: SourceRef<'a>,
    /// The run's ledger.
    pub ledger: &'a Mutex<LedgerWriter>,
    /// What the checks found.
    pub report: Mutex<VerifyReport>,
}

impl Checking<'_> {
    fn subject(&self, chunk: &Chunk, points: u64) -> Subject {
        let scope = self.source.scope(
            self.inner.target_url(),
            &chunk.target,
            &chunk.target_rp,
            &chunk.tenant,
        );
        let record = Record {
            split: false,
            kind: RecordKind::Copied,
            scope,
            measurements: chunk.measurements.clone(),
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
            let e = match self.verifier.try_check(&subject, now_ns()).await {
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

    /// Copies a closed chunk and checks it; copies it again once when the target
    /// misses points, and checks again. `Err` when the copy or a check could not run
    /// (the copier retries or splits it like any copy), or when the target still
    /// misses points ([`ClientError::Unverified`]: the chunk fails, unrecorded).
    async fn copy_checked(&self, chunk: &Chunk) -> Result<u64, ClientError> {
        let mut points = self.inner.transfer(chunk).await?;
        let mut check = self
            .check_in_pieces(chunk, chunk.window, CHECK_HALVINGS)
            .await?;
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

    fn transfer<'b>(&'b self, chunk: &'b Chunk) -> BoxFuture<'b, Result<u64, ClientError>> {
        Box::pin(async move {
            if chunk.closed {
                return self.copy_checked(chunk).await;
            }
            let r = self.inner.transfer(chunk).await;
            if r.is_ok() {
                self.report().open_not_checked += 1;
            }
            r
        })
    }

    /// Open chunks only: a closed chunk is checked after its copy, one at a time.
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
