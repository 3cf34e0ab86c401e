//! The commands' shared path: discover, read the ledger, plan; then `run` copies.
//!
//! `plan` is `prepare` without the writes, so a dry run sees exactly what a run would
//! do up to the first write.

use crate::config::Settings;
use crate::copy::progress::Progress;
use crate::copy::stop::StopSignal;
use crate::copy::tally::Tally;
use crate::copy::{self, CopyOptions, Transfer};
use crate::core::clock::now_ns;
use crate::influx::client::Client;
use crate::influx::statement::Rp;
use crate::ledger::lock::RunLock;
use crate::ledger::{self, Coverage, LedgerWriter, Record};
use crate::plan::catalog::Catalog;
use crate::plan::{self, Plan};
use crate::report::failures;
use crate::report::summary::RunSummary;
use crate::source::discover as catalog;
use crate::verify::checking::Checking;
use crate::verify::figures::{Verifier, VerifyReport, FLOAT_REL_TOLERANCE};
use anyhow::Context;
use std::collections::BTreeSet;
use std::sync::Mutex;
use std::time::Instant;

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

/// Where the per-tenant databases go.
#[derive(Debug)]
pub enum Destination {
    /// The source server itself: server-side `SELECT INTO`.
    SameServer,
    /// Another server (`target.url`): chunked reads, `/write` there.
    Server(Client),
    /// Export files under this (absolute) directory.
    Files(std::path::PathBuf),
}

impl Destination {
    /// The destination the settings name: the target server when `target.url` is set,
    /// else the source server.
    pub fn from_settings(settings: &Settings) -> anyhow::Result<Self> {
        Ok(match settings.target.endpoint() {
            Some(target) => Destination::Server(Client::new(&target, settings.run.query_timeout)?),
            None => Destination::SameServer,
        })
    }
}

/// Discovers, loads the ledger and plans. Reads only.
pub async fn prepare(settings: &Settings) -> anyhow::Result<Prepared> {
    prepare_to(settings, &Destination::from_settings(settings)?).await
}

/// [`prepare`] for a given destination: existing target databases are looked up
/// there (none for files), and coverage is that of the destination.
pub async fn prepare_to(settings: &Settings, dest: &Destination) -> anyhow::Result<Prepared> {
    let client = Client::new(&settings.source.endpoint(), settings.run.query_timeout)?;
    let mut catalog = catalog::discover(&client, settings).await?;
    match dest {
        Destination::SameServer => {}
        Destination::Server(target) => {
            catalog::discover_targets_on(target, &mut catalog, settings)
                .await
                .with_context(|| format!("target server {}", target.url()))?;
        }
        Destination::Files(dir) => {
            catalog.targets.clear();
            catalog.target_url = crate::copy::files::dir_url(dir);
        }
    }
    let parsed = ledger::load(&settings.run.ledger)?;
    let mut coverage = Coverage::from_records(&parsed.records);
    let report = failures::load(&settings.run.failure_report).unwrap_or_else(|e| {
        tracing::warn!(error = %e, "ignoring the failure report");
        None
    });
    if let Some(report) = report {
        // Failed chunks restart at the size last tried, not at the one that failed first.
        for f in &report.failures {
            let scope = catalog.source_ref().scope(
                &catalog.target_url,
                &f.chunk.target,
                &f.chunk.target_rp,
                &f.chunk.tenant,
            );
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
    run_to(settings, Destination::from_settings(settings)?, stop).await
}

/// [`run`] into a given destination (`export` passes a directory).
pub async fn run_to(
    settings: &Settings,
    dest: Destination,
    stop: StopSignal,
) -> anyhow::Result<RunSummary> {
    let started = Instant::now();
    if settings.run.verify
        && !(matches!(dest, Destination::SameServer) && settings.transform.is_identity())
    {
        // The checks compare source and target with one request on one server, under the
        // same names: a streamed, exported or transformed copy needs other checks.
        anyhow::bail!("--verify checks server-side copies without transforms only; run without it (or verify on the target with another tool)");
    }
    let lock = RunLock::acquire(&settings.run.ledger)?;
    tracing::debug!(lock = %lock.path().display(), "lock taken");
    let p = prepare_to(settings, &dest).await?;
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
    let target_client = match &dest {
        Destination::SameServer => Some(&p.client),
        Destination::Server(t) => Some(t),
        Destination::Files(_) => None,
    };
    if let Some(c) = target_client {
        copy::ensure_targets(c, &p.plan.targets)
            .await
            .with_context(|| {
                format!(
                    "cannot create target databases or retention policies on {}",
                    c.url()
                )
            })?;
    }

    let progress = Progress::new(p.plan.chunks.len() as u64);
    let reporter = progress.spawn_reporter(settings.run.progress_interval);
    let opts = CopyOptions::from_settings(&settings.run);
    let ledger = Mutex::new(writer);
    let source_rp = Rp {
        db: &p.catalog.database,
        rp: &p.catalog.source_rp,
    };
    let transfer: Box<dyn copy::Transfer + '_> = match &dest {
        Destination::SameServer if settings.transform.is_identity() => Box::new(copy::SelectInto {
            client: &p.client,
            source: source_rp,
            tag: &settings.tenants.tag,
        }),
        Destination::SameServer => Box::new(crate::copy::select_into::RewrittenSelectInto {
            client: &p.client,
            source: source_rp,
            tag: &settings.tenants.tag,
            tag_keys: &p.catalog.tag_keys,
            rewrite: &settings.transform,
        }),
        Destination::Server(t) => Box::new(crate::copy::stream::StreamCopy::new(
            &p.client, t, &p.catalog, settings,
        )),
        Destination::Files(dir) => Box::new(crate::copy::files::FileExport {
            reader: crate::copy::stream::reader(
                &p.client,
                &p.catalog,
                settings,
                &settings.transform,
            ),
            source_url: &p.catalog.source_url,
            dir: dir.clone(),
            url: p.catalog.target_url.clone(),
        }),
    };
    let source = p.catalog.source_ref();
    let tally = Tally::new(&*transfer);
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
    let target_queries = match &dest {
        Destination::Server(t) => t.queries_issued(),
        _ => 0,
    };
    let per_tenant = tally.figures(&outcome.failed);
    let mut summary = RunSummary::new(
        &p.plan,
        outcome,
        started.elapsed(),
        p.client.queries_issued() + target_queries,
    );
    summary.per_tenant = per_tenant;
    if let Some(c) = checking {
        let targets: BTreeSet<String> = p.plan.targets.iter().map(|t| t.database.clone()).collect();
        summary.verification = Some(c.finish(&targets).await);
    }
    Ok(summary)
}
