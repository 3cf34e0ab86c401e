//! The story of a run, shared by `run`, `export` and `import`: take the lock, plan,
//! open the ledger, create the target databases, copy every chunk (counting per tenant
//! and, unless `--no-verify`, checking), then print the summary and write the failure
//! report, the run report and the metrics.
//!
//! A command supplies only what differs, as a [`Job`]: how it plans, and once planned
//! ([`PlannedJob`]) its transfer, its target server and how ledger records name the
//! source of each chunk.

use crate::config::Settings;
use crate::copy::progress::Progress;
use crate::copy::stop::StopSignal;
use crate::copy::tally::Tally;
use crate::copy::{self, CopyOptions, Outcome, Transfer};
use crate::influx::client::Client;
use crate::influx::liveness::{Liveness, Watchdog};
use crate::ledger::lock::RunLock;
use crate::ledger::{LedgerWriter, SourceRef, Sources};
use crate::plan::Plan;
use crate::report::summary::RunSummary;
use crate::report::{outputs, run as run_report};
use crate::verify::checking::{CheckQueue, Checking};
use crate::verify::figures::{Verifier, VerifyReport};
use anyhow::Context;
use std::collections::BTreeSet;
use std::future::Future;
use std::sync::Mutex;
use std::time::{Instant, SystemTime};

/// A command's part in a run, before it planned.
pub trait Job {
    /// What it has once it planned.
    type Planned: PlannedJob;
    /// Discovers what to copy and plans it. Reads only; runs with the lock held.
    fn plan(self, settings: &Settings) -> impl Future<Output = anyhow::Result<Self::Planned>>;
}

/// A command's part in a run, once planned: what differs between `run`, `export` and
/// `import`.
pub trait PlannedJob {
    /// The plan: targets to create, chunks to copy, per-tenant figures.
    fn plan(&self) -> &Plan;
    /// Logs what was planned.
    fn announce(&self);
    /// The server that receives the points, where the target databases and policies
    /// are created; none when the points go to files.
    fn target(&self) -> Option<&Client>;
    /// How a chunk's points get to the target.
    fn transfer<'a>(&'a self, settings: &'a Settings) -> Box<dyn Transfer + 'a>;
    /// The plan's chunks by the source their ledger records name, copied in this order.
    fn by_source(&self) -> Vec<SourceChunks<'_>>;
    /// What each closed chunk is checked with, unless verification is off or does not
    /// apply.
    fn checks<'a>(&'a self, settings: &'a Settings) -> Option<Checks<'a>>;
    /// Why the run's copies are not verified, for the summary (`--no-verify`, files);
    /// `None` when they are.
    fn not_verified(&self, settings: &Settings) -> Option<&'static str>;
    /// Queries issued so far, on every server.
    fn queries(&self) -> u64;
    /// The target's organization, buckets and mappings when it is InfluxDB 2.x.
    fn target_v2(&self) -> Option<&crate::plan::catalog::V2Target> {
        None
    }
    /// Queries in flight at once when planning chose it (from the server's CPUs);
    /// `None`: the settings' value or the fallback.
    fn concurrency(&self) -> Option<usize> {
        None
    }
}

/// Chunks whose ledger records name one source.
#[derive(Debug)]
pub struct SourceChunks<'a> {
    /// The source, as ledger scopes name it.
    pub source: SourceRef<'a>,
    /// The chunks.
    pub plan: &'a Plan,
}

/// The checker of `run` and the sources its records name.
pub struct Checks<'a> {
    /// Compares a chunk on the source and the target.
    pub verifier: Verifier<'a>,
    /// The sources of the chunks, as ledger scopes name them.
    pub sources: Sources<'a>,
}

/// Runs a command from the lock to the outputs and returns the exit code: 0 when every
/// planned chunk was copied (and verified), 1 when some failed or the run was stopped.
/// Prints the summary (also as JSON on stdout with `json`). `job` is `Err` when the
/// command could not be set up; that error, like every setup error (config,
/// connection, lock, ledger), is returned after the report files are written.
pub async fn run<J: Job>(
    settings: &Settings,
    job: anyhow::Result<J>,
    json: bool,
    stop: StopSignal,
) -> anyhow::Result<u8> {
    let started = SystemTime::now();
    let clock = Instant::now();
    let watchdog = Watchdog::spawn(Liveness::new(settings.run.liveness_timeout));
    let result = match job {
        Ok(job) => copy_job(settings, job, stop, &watchdog).await,
        Err(e) => Err(e),
    };
    let report = run_report::build(
        &settings.source,
        &settings.run.ledger,
        started,
        clock.elapsed(),
        result.as_ref(),
    );
    if let Ok(summary) = &result {
        eprint!("{}", summary.render());
        if json {
            crate::report::json::print(summary)?;
        }
    }
    outputs::write(&settings.run, &report)?;
    match result {
        // The one error line, after the summary listed what was not done.
        Ok(s) if s.server_lost.is_some() => Err(anyhow::anyhow!(s.server_lost.unwrap_or_default())),
        r => r.map(|s| s.exit_code()),
    }
}

/// Plans and copies until every chunk ran, `stop` says to stop, `watchdog` finds a
/// server lost or a server says it cannot work. Errors are fatal setup problems (a
/// server lost before the copies began is one); failed chunks, and a server lost or
/// unable to work while copying, are in the summary.
async fn copy_job<J: Job>(
    settings: &Settings,
    job: J,
    stop: StopSignal,
    watchdog: &Watchdog,
) -> anyhow::Result<RunSummary> {
    let started = Instant::now();
    let lock = RunLock::acquire(&settings.run.ledger)?;
    tracing::debug!(lock = %lock.path().display(), "lock taken");
    let job = watchdog.guard(job.plan(settings)).await??;
    let ledger = Mutex::new(LedgerWriter::open(&settings.run.ledger)?);
    job.announce();
    let mut access_note = None;
    if let Some(target) = job.target() {
        access_note = watchdog
            .guard(ensure_targets(target, job.plan(), job.target_v2()))
            .await??;
    }
    let lost = watchdog.when_lost();
    let stop = copy::stop::abort_when(stop, async move {
        lost.await;
    });
    let progress = Progress::new(job.plan().chunks.len() as u64);
    let reporter = progress.spawn_reporter(settings.run.progress_interval);
    let transfer = job.transfer(settings);
    let mut opts = CopyOptions::from_settings(&settings.run);
    if let Some(c) = job.concurrency() {
        opts.concurrency = c;
    }
    let checking = job.checks(settings).map(|c| Checking {
        inner: &*transfer,
        verifier: c.verifier,
        sources: c.sources,
        ledger: &ledger,
        report: Mutex::new(VerifyReport::new(false)),
        queue: CheckQueue::new(opts.concurrency),
    });
    let checked: &dyn Transfer = match &checking {
        Some(c) => c,
        None => &*transfer,
    };
    // Outside the checks: a chunk that fails its check is not counted as recorded.
    let tally = Tally::new(checked);
    let outcome = copy_each_source(&tally, job.by_source(), &ledger, &opts, &progress, stop).await;
    drop(reporter);
    let per_tenant = tally.figures(&outcome.failed);
    let halted = outcome.halted.clone();
    let mut summary = RunSummary::new(job.plan(), outcome, started.elapsed(), 0);
    summary.per_tenant = per_tenant;
    summary.not_verified = job.not_verified(settings).map(str::to_string);
    if access_note.is_some() && summary.grants_note.is_none() {
        summary.grants_note = access_note;
    }
    match (checking, watchdog.lost(), halted) {
        // A server said it cannot work (out of open files or disk) and the copier
        // stopped: its line is the run's one error, however the watchdog found the
        // server afterwards, and nothing more is asked of it.
        (_, _, Some(line)) => summary.server_lost = Some(line),
        (_, Some(lost), None) => summary.server_lost = Some(lost.0),
        (Some(c), None, None) => {
            let targets: BTreeSet<String> = job
                .plan()
                .targets
                .iter()
                .map(|t| t.database.clone())
                .collect();
            match watchdog.guard(c.finish(&targets)).await {
                Ok(v) => summary.verification = Some(v),
                Err(lost) => summary.server_lost = Some(lost.0),
            }
        }
        (None, None, None) => {}
    }
    // Counted last: the verification's schema comparison sends requests too.
    summary.queries = job.queries();
    Ok(summary)
}

/// Creates the target databases and retention policies the plan needs on `target`
/// (on a 2.x target, the buckets, DBRP mappings and v1 authorizations, and returns
/// what the summary says of the users' access there instead of the grants).
async fn ensure_targets(
    target: &Client,
    plan: &Plan,
    v2: Option<&crate::plan::catalog::V2Target>,
) -> anyhow::Result<Option<String>> {
    if let Some(v2) = v2 {
        let steps = copy::ensure_buckets(target, v2, &plan.targets, &plan.grants)
            .await
            .with_context(|| {
                format!(
                    "cannot create the tenant buckets, DBRP mappings or v1 authorizations in organization {:?} on {}",
                    v2.org,
                    target.url()
                )
            })?;
        return Ok(Some(crate::report::summary::v1_access(
            &plan.grants,
            &steps,
        )));
    }
    copy::ensure_targets(target, &plan.targets)
        .await
        .with_context(|| {
            format!(
                "cannot create target databases or retention policies on {}",
                target.url()
            )
        })?;
    copy::ensure_grants(target, &plan.targets, &plan.grants)
        .await
        .with_context(|| {
            format!(
                "cannot grant privileges on the target databases on {}",
                target.url()
            )
        })?;
    Ok(None)
}

/// Copies batch after batch, until all ran or one was stopped.
async fn copy_each_source(
    transfer: &dyn Transfer,
    parts: Vec<SourceChunks<'_>>,
    ledger: &Mutex<LedgerWriter>,
    opts: &CopyOptions,
    progress: &Progress,
    stop: StopSignal,
) -> Outcome {
    let mut total = Outcome::default();
    let mut parts = parts.into_iter();
    while let Some(b) = parts.next() {
        let o = copy::copy_all(
            transfer,
            b.source,
            b.plan,
            ledger,
            opts,
            progress,
            stop.clone(),
        )
        .await;
        let stopped = o.interrupted;
        total.merge(o);
        if stopped {
            total.interrupted = true;
            total.not_run += parts.map(|p| p.plan.chunks.len() as u64).sum::<u64>();
            break;
        }
    }
    total
}
