//! The `verify` command and `run --verify`: which chunks to check, checking them with
//! [`Verifier`], and recording those that agree as `Verified` ledger lines.

use crate::catalog;
use crate::client::{Client, ClientError};
use crate::config::Settings;
use crate::copy::Transfer;
use crate::ledger::{self, LedgerWriter, Record, RecordKind};
use crate::lock::RunLock;
use crate::migration::{self, now_ns};
use crate::plan::Chunk;
use crate::verify::{
    self, compare_schema, ChunkCheck, FieldTypes, Subject, Verdict, Verifier, VerifyReport,
    FLOAT_REL_TOLERANCE,
};
use futures::future::BoxFuture;
use futures::stream::{self, StreamExt};
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::Mutex;

/// What `verify` checks.
#[derive(Debug, Clone, Copy, Default)]
pub struct VerifyOptions {
    /// Check every recorded chunk again, not only those without a `Verified` line.
    pub all: bool,
    /// Also check the plan's open chunks (never recorded; they may still be receiving
    /// points, so a difference there can be new data).
    pub open: bool,
}

/// The copied records to check: `Copied` lines of this source, copied server-side (a
/// streamed or exported copy lives elsewhere: out of scope), of tenants the
/// include/exclude rules keep, each chunk once, without those already verified unless
/// `all`. Returns them and how many `Copied` lines were out of scope. Pure.
pub fn select<'r>(records: &'r [Record], settings: &Settings, all: bool) -> (Vec<&'r Record>, u64) {
    let verified = ledger::verified_keys(records);
    let t = &settings.tenants;
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    let mut out_of_scope = 0;
    for r in records.iter().filter(|r| r.kind == RecordKind::Copied) {
        let tenant = &r.scope.tenant;
        let kept = (t.include.is_empty() || t.include.iter().any(|re| re.is_match(tenant)))
            && !t.exclude.iter().any(|re| re.is_match(tenant));
        if r.scope.source != settings.source.url
            || r.scope.source_db != settings.source.database
            || !r.scope.target_url.is_empty()
            || !kept
        {
            out_of_scope += 1;
            continue;
        }
        let key = r.chunk_key();
        if (!all && verified.contains(&key)) || !seen.insert(key) {
            continue;
        }
        out.push(r);
    }
    (out, out_of_scope)
}

/// Compares the fields of every target database with the source's.
async fn schema_differences(
    client: &Client,
    source: &FieldTypes,
    targets: &BTreeSet<String>,
    existing: &[String],
) -> Result<Vec<verify::SchemaDifference>, ClientError> {
    let mut out = Vec::new();
    for t in targets.iter().filter(|t| existing.contains(t)) {
        let dest = verify::field_types(client, t).await?;
        out.extend(compare_schema(t, source, &dest));
    }
    Ok(out)
}

/// Runs `verify`. Errors are fatal (lock, ledger, connection, missing source); chunk
/// differences and failed checks are in the report.
pub async fn verify(settings: &Settings, opts: VerifyOptions) -> anyhow::Result<VerifyReport> {
    // Verified lines are appended to the ledger: one writer at a time.
    let _lock = RunLock::acquire(&settings.run.ledger)?;
    let client = Client::new(&settings.source, settings.run.query_timeout)?;
    client.ping().await?;
    let dbs = catalog::databases(&client).await?;
    let db = &settings.source.database;
    if !dbs.contains(db) {
        anyhow::bail!("database {db:?} not found on {}", client.url());
    }
    let source_fields = verify::field_types(&client, db).await?;
    let parsed = ledger::load(&settings.run.ledger)?;
    let (chosen, out_of_scope) = select(&parsed.records, settings, opts.all);

    let mut report = VerifyReport::new(opts.all);
    report.records_out_of_scope = out_of_scope;
    let targets: BTreeSet<String> = chosen.iter().map(|r| r.scope.target.clone()).collect();
    let mut retention: BTreeMap<(String, String), Option<i64>> = BTreeMap::new();
    for t in targets.iter().filter(|t| dbs.contains(t)) {
        for p in catalog::retention_policies(&client, t).await? {
            retention.insert(
                (t.clone(), p.name),
                (p.duration_ns > 0).then_some(p.duration_ns),
            );
        }
    }
    let mut subjects: Vec<Subject> = chosen
        .iter()
        .map(|r| {
            let ret = retention
                .get(&(r.scope.target.clone(), r.scope.target_rp.clone()))
                .copied()
                .flatten();
            Subject::from_record(r, ret)
        })
        .collect();
    if opts.open {
        let p = migration::prepare(settings).await?;
        subjects.extend(p.plan.chunks.iter().filter(|c| !c.closed).map(|c| Subject {
            tenant: c.tenant.clone(),
            source_db: p.catalog.database.clone(),
            source_rp: p.catalog.source_rp.clone(),
            target: c.target.clone(),
            target_rp: c.target_rp.clone(),
            measurements: c.measurements.clone(),
            window: c.window,
            retention_ns: c.retention_ns,
            record: None,
        }));
    }

    let verifier = Verifier {
        client: &client,
        tag: &settings.tenants.tag,
        fields: &source_fields,
        tolerance: FLOAT_REL_TOLERANCE,
    };
    let mut writer = LedgerWriter::open(&settings.run.ledger)?;
    let now = now_ns();
    let verifier = &verifier;
    let mut checks = stream::iter(subjects.iter())
        .map(|s| async move { (s, verifier.check(s, now).await) })
        .buffer_unordered(settings.run.concurrency.max(1));
    // --all checks verified chunks again; a second Verified line for one would say
    // nothing new.
    let already = ledger::verified_keys(&parsed.records);
    while let Some((s, c)) = checks.next().await {
        if c.verdict == Verdict::Agreed {
            let new = s
                .record
                .as_ref()
                .is_some_and(|r| !already.contains(&r.chunk_key()));
            if let Some(v) = s.verified_record().filter(|_| new) {
                writer.append(&v)?;
                report.recorded += 1;
            }
        }
        report.add(c);
    }
    report.schema_differences = schema_differences(&client, &source_fields, &targets, &dbs).await?;
    Ok(report)
}

/// A [`Transfer`] that checks each closed chunk right after the transfer it wraps
/// copied it (`run --verify`), and records it as verified when it agrees. Its
/// `Verified` line goes in before the copier's `Copied` line; readers match the two by
/// chunk, not by order.
pub struct Checking<'a> {
    /// The transfer that copies.
    pub inner: &'a dyn Transfer,
    /// The checker.
    pub verifier: Verifier<'a>,
    /// Source server URL, database and retention policy, as ledger scopes name them.
    pub source: crate::copy::SourceId<'a>,
    /// The run's ledger.
    pub ledger: &'a Mutex<LedgerWriter>,
    /// What the checks found.
    pub report: Mutex<VerifyReport>,
}

impl Checking<'_> {
    async fn check_copied(&self, chunk: &Chunk, points: u64) {
        let scope = ledger::Scope {
            target_url: String::new(),
            source: self.source.url.to_string(),
            source_db: self.source.db.to_string(),
            source_rp: self.source.rp.to_string(),
            target: chunk.target.clone(),
            target_rp: chunk.target_rp.clone(),
            tenant: chunk.tenant.clone(),
        };
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
        let subject = Subject::from_record(&record, chunk.retention_ns);
        let mut c: ChunkCheck = self.verifier.check(&subject, now_ns()).await;
        if c.verdict == Verdict::Agreed {
            if let Some(v) = subject.verified_record() {
                let appended = self
                    .ledger
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .append(&v);
                match appended {
                    Ok(()) => {
                        self.report
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .recorded += 1
                    }
                    Err(e) => {
                        c.verdict = Verdict::Error {
                            error: format!("checked, but cannot record it: {e}"),
                            query: String::new(),
                        }
                    }
                }
            }
        }
        self.report.lock().unwrap_or_else(|p| p.into_inner()).add(c);
    }

    /// The report, with the fields of `targets` compared with the source's. A failure
    /// of that comparison is reported as a failed check, not lost.
    pub async fn finish(self, targets: &BTreeSet<String>) -> VerifyReport {
        let mut report = self.report.into_inner().unwrap_or_else(|p| p.into_inner());
        let client = self.verifier.client;
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
                window: crate::interval::Interval::new(0, 0),
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

impl Transfer for Checking<'_> {
    fn target_url(&self) -> &str {
        self.inner.target_url()
    }

    fn describe(&self, chunk: &Chunk) -> String {
        self.inner.describe(chunk)
    }

    fn transfer<'b>(&'b self, chunk: &'b Chunk) -> BoxFuture<'b, Result<u64, ClientError>> {
        Box::pin(async move {
            let r = self.inner.transfer(chunk).await;
            if let Ok(points) = r {
                if chunk.closed {
                    self.check_copied(chunk, points).await;
                }
            }
            r
        })
    }
}
