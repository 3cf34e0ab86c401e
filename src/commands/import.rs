//! `import`: exported files into per-tenant databases on the target server.

use crate::config::Settings;
use crate::copy::files::{dir_url, list, plan_import, FileImport, ImportPlan};
use crate::copy::progress::Progress;
use crate::copy::stop::StopSignal;
use crate::copy::{self, CopyOptions};
use crate::core::clock::now_ns;
use crate::influx::client::Client;
use crate::ledger::lock::RunLock;
use crate::ledger::{self, Coverage, LedgerWriter, SourceRef};
use crate::plan::{self, Plan};
use crate::report::summary::RunSummary;
use crate::source::discover as catalog;
use anyhow::Context;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;
use std::time::Instant;

fn copy_options(settings: &Settings) -> CopyOptions {
    CopyOptions::from_settings(&settings.run)
}

/// The `import` command: loads the export files under `dir` into per-tenant databases
/// on the target server (`target.url`), skipping closed files already loaded there.
async fn import(settings: &Settings, dir: &Path, stop: StopSignal) -> anyhow::Result<RunSummary> {
    let started = Instant::now();
    let endpoint = settings
        .target
        .endpoint()
        .context("import needs a target server: set --target-url (target.url)")?;
    let url = &endpoint.url;
    let lock = RunLock::acquire(&settings.run.ledger)?;
    tracing::debug!(lock = %lock.path().display(), "lock taken");
    let dir = dir
        .canonicalize()
        .with_context(|| format!("import directory {}", dir.display()))?;
    let target = Client::new(&endpoint, settings.run.query_timeout)?;
    target
        .ping()
        .await
        .with_context(|| format!("target server {url}"))?;
    let files = list(&dir)?;
    let dbs = catalog::databases(&target).await?;
    let names: Vec<String> = files
        .iter()
        .map(|f| {
            plan::target_database(
                &settings.tenants.target_template,
                &f.header.source_db,
                &f.header.tenant,
            )
        })
        .collect();
    let existing = catalog::existing_targets(&target, &dbs, names).await?;
    let parsed = ledger::load(&settings.run.ledger)?;
    let coverage = Coverage::from_records(&parsed.records);
    let durl = dir_url(&dir);
    let ip = plan_import(
        &files,
        settings,
        &existing,
        &coverage,
        &durl,
        target.url(),
        now_ns(),
    )?;
    let writer = LedgerWriter::open(&settings.run.ledger)?;
    tracing::info!(
        dir = %dir.display(),
        target = %target.url(),
        files = files.len(),
        chunks = ip.plan.chunks.len(),
        covered = ip.plan.covered_windows(),
        "import plan ready"
    );
    copy::ensure_targets(&target, &ip.plan.targets)
        .await
        .context("cannot create target databases or retention policies")?;
    let progress = Progress::new(ip.plan.chunks.len() as u64);
    let reporter = progress.spawn_reporter(settings.run.progress_interval);
    let ledger = Mutex::new(writer);
    let transfer = FileImport {
        target: &target,
        files: &ip.files,
        batch_points: settings.stream.batch_points,
    };
    // Records name the directory as source; the header's database and policy stay.
    let outcome = copy_import(&transfer, &durl, &ip, &ledger, settings, &progress, stop).await;
    drop(reporter);
    Ok(RunSummary::new(
        &ip.plan,
        outcome,
        started.elapsed(),
        target.queries_issued(),
    ))
}

/// Runs the import plan, grouped by source database and policy so each ledger record
/// carries the ones its file came from.
async fn copy_import(
    transfer: &FileImport<'_>,
    dir_url: &str,
    ip: &ImportPlan,
    ledger: &Mutex<LedgerWriter>,
    settings: &Settings,
    progress: &Progress,
    stop: StopSignal,
) -> copy::Outcome {
    // Which source each chunk's file came from, from the headers.
    let mut groups: BTreeMap<(String, String), Plan> = BTreeMap::new();
    for c in &ip.plan.chunks {
        let src = transfer
            .source(c)
            .map(|f| f.source.clone())
            .unwrap_or_default();
        groups
            .entry(src)
            .or_insert_with(|| Plan {
                now_ns: ip.plan.now_ns,
                ..Plan::default()
            })
            .chunks
            .push(c.clone());
    }
    let opts = copy_options(settings);
    let mut total = copy::Outcome::default();
    for ((db, rp), plan) in &groups {
        let source = SourceRef {
            url: dir_url,
            db,
            rp,
        };
        let o = copy::copy_all(
            transfer,
            source,
            plan,
            ledger,
            &opts,
            progress,
            stop.clone(),
        )
        .await;
        let stopped = o.interrupted;
        total.merge(o);
        if stopped {
            total.interrupted = true;
            break;
        }
    }
    total
}

/// Runs `import`, prints its summary and returns the exit code (0 all done, 1 some
/// chunks failed or the run was stopped).
pub async fn run(settings: &Settings, dir: &Path, stop: StopSignal) -> anyhow::Result<u8> {
    let summary = import(settings, dir, stop).await?;
    eprint!("{}", summary.render());
    Ok(summary.exit_code())
}
