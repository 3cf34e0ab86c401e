//! The commands' shared path: discover, read the ledger, plan; then `run` copies.
//!
//! `plan` is `prepare` without the writes, so a dry run sees exactly what a run would
//! do up to the first write.

use crate::catalog::{self, Catalog};
use crate::client::Client;
use crate::config::Settings;
use crate::copy::Transfer;
use crate::copy::{self, CopyOptions, StopSignal};
use crate::failures;
use crate::influxql::Rp;
use crate::ledger::{self, Coverage, LedgerWriter, Record, Scope};
use crate::lock::RunLock;
use crate::plan::{self, Plan};
use crate::progress::Progress;
use crate::report::RunSummary;
use crate::run_report::Tally;
use crate::verification::Checking;
use crate::verify::{Verifier, VerifyReport, FLOAT_REL_TOLERANCE};
use anyhow::Context;
use std::collections::BTreeSet;
use std::sync::Mutex;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// Discovery, ledger and plan, ready to run or to show.
#[derive(Debug)]
pub struct Prepared {
    /// Client for the source server (also the target server in server-side mode).
    pub client: Client,
    /// What the servers hold.
    pub catalog: Catalog,
    /// What is left to do.
    pub plan: Plan,
    /// The ledger's records.
    pub records: Vec<Record>,
}

/// The current time in nanoseconds since the epoch.
pub fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Discovers, loads the ledger and plans. Reads only.
pub async fn prepare(settings: &Settings) -> anyhow::Result<Prepared> {
    let client = Client::new(&settings.source, settings.run.query_timeout)?;
    let catalog = catalog::discover(&client, settings).await?;
    let parsed = ledger::load(&settings.run.ledger)?;
    let mut coverage = Coverage::from_records(&parsed.records);
    let report = failures::load(&settings.run.failure_report).unwrap_or_else(|e| {
        tracing::warn!(error = %e, "ignoring the failure report");
        None
    });
    if let Some(report) = report {
        // Failed chunks restart at the size last tried, not at the one that failed first.
        for f in &report.failures {
            let scope = Scope {
                source: catalog.source_url.clone(),
                source_db: catalog.database.clone(),
                source_rp: catalog.source_rp.clone(),
                target: f.chunk.target.clone(),
                target_rp: f.chunk.target_rp.clone(),
                tenant: f.chunk.tenant.clone(),
            };
            if f.chunk.unit < settings.window.unit {
                coverage.remember_unit(&scope, f.chunk.unit);
            }
        }
    }
    let plan = plan::plan(&catalog, settings, &coverage, now_ns())?;
    Ok(Prepared {
        client,
        catalog,
        plan,
        records: parsed.records,
    })
}

/// Runs the migration until every chunk ran or `stop` says to stop. Errors are fatal
/// setup problems (config, connection, lock, ledger); failed chunks are in the summary.
pub async fn run(settings: &Settings, stop: StopSignal) -> anyhow::Result<RunSummary> {
    let started = Instant::now();
    let lock = RunLock::acquire(&settings.run.ledger)?;
    tracing::debug!(lock = %lock.path().display(), "lock taken");
    let p = prepare(settings).await?;
    let writer = LedgerWriter::open(&settings.run.ledger)?;
    tracing::info!(
        source = %p.catalog.source_url,
        database = %p.catalog.database,
        tenants = p.plan.targets.len(),
        chunks = p.plan.chunks.len(),
        closed = p.plan.closed_chunks(),
        covered_windows = p.plan.covered_windows(),
        "plan ready"
    );
    copy::ensure_targets(&p.client, &p.plan.targets)
        .await
        .context("cannot create target databases or retention policies")?;

    let progress = Progress::new(p.plan.chunks.len() as u64);
    let reporter = progress.spawn_reporter(settings.run.progress_interval);
    let opts = CopyOptions {
        concurrency: settings.run.concurrency,
        retries: settings.run.retries,
        backoff: settings.run.retry_backoff,
        retry_deadline: settings.run.retry_deadline,
        max_points_per_second: settings.run.max_points_per_second,
    };
    let ledger = Mutex::new(writer);
    let transfer = copy::SelectInto {
        client: &p.client,
        source: Rp {
            db: &p.catalog.database,
            rp: &p.catalog.source_rp,
        },
        tag: &settings.tenants.tag,
    };
    let source = copy::SourceId {
        url: &p.catalog.source_url,
        db: &p.catalog.database,
        rp: &p.catalog.source_rp,
    };
    // Counts per tenant around the copy, and with --verify checks each closed chunk
    // right after it is copied.
    let tally = Tally::new(&transfer);
    let checking = settings.run.verify.then(|| Checking {
        inner: &tally,
        verifier: Verifier {
            client: &p.client,
            tag: &settings.tenants.tag,
            fields: &p.catalog.fields,
            tolerance: FLOAT_REL_TOLERANCE,
        },
        source: source.clone(),
        ledger: &ledger,
        report: Mutex::new(VerifyReport::new(false)),
    });
    let outer: &dyn Transfer = match &checking {
        Some(c) => c,
        None => &tally,
    };
    let outcome = copy::copy_all(outer, source, &p.plan, &ledger, &opts, &progress, stop).await;
    drop(reporter);
    let per_tenant = tally.figures(&outcome.failed);
    let mut summary = RunSummary::new(
        &p.plan,
        outcome,
        started.elapsed(),
        p.client.queries_issued(),
    );
    summary.per_tenant = per_tenant;
    if let Some(c) = checking {
        let targets: BTreeSet<String> = p.plan.targets.iter().map(|t| t.database.clone()).collect();
        summary.verification = Some(c.finish(&targets).await);
    }
    Ok(summary)
}
