//! `import`: exported files into per-tenant databases on the target server, as the
//! [`Job`] it hands the pipeline.

use crate::commands::pipeline::{self, Checks, Job, PlannedJob, SourceChunks};
use crate::config::Settings;
use crate::copy::files::{
    dir_url, list, plan_import, ExportFile, FileImport, ImportPlan, ImportRules,
};
use crate::copy::stop::StopSignal;
use crate::copy::Transfer;
use crate::core::clock::now_ns;
use crate::influx::client::{Client, Endpoint};
use crate::ledger::{self, SourceRef};
use crate::plan::catalog::RetentionPolicy;
use crate::plan::planner::Rules;
use crate::plan::target::target_database;
use crate::plan::Plan;
use crate::source::discover as catalog;
use anyhow::Context;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The `import` command: loads the export files under `dir` into per-tenant databases
/// on the target server (`target.url`), skipping closed files already loaded there;
/// prints the summary, writes the failure report, run report and metrics, and returns
/// the exit code (0 all done, 1 some chunks failed or the run was stopped).
pub async fn run(settings: &Settings, dir: &Path, stop: StopSignal) -> anyhow::Result<u8> {
    pipeline::run(settings, Import::new(settings, dir), false, stop).await
}

/// An import of the files under a directory into the target server.
#[derive(Debug)]
pub struct Import {
    target: Endpoint,
    dir: PathBuf,
}

impl Import {
    /// An import of `dir`; needs a target server.
    pub fn new(settings: &Settings, dir: &Path) -> anyhow::Result<Self> {
        let target = settings
            .target
            .endpoint()
            .context("import needs a target server: set --target-url (target.url)")?;
        Ok(Import {
            target,
            dir: dir.to_path_buf(),
        })
    }
}

/// An [`Import`] once planned.
#[derive(Debug)]
pub struct PlannedImport {
    /// The directory, absolute.
    dir: PathBuf,
    /// `file://DIR`: the source ledger records name.
    dir_url: String,
    target: Client,
    /// Export files found.
    files: usize,
    plan: ImportPlan,
    /// The plan's chunks by the source database and policy of their files.
    by_source: BTreeMap<(String, String), Plan>,
}

impl Job for Import {
    type Planned = PlannedImport;

    async fn plan(self, settings: &Settings) -> anyhow::Result<PlannedImport> {
        let dir = self
            .dir
            .canonicalize()
            .with_context(|| format!("import directory {}", self.dir.display()))?;
        let target = Client::new(&self.target, settings.run.query_timeout)?;
        let version = target
            .ping()
            .await
            .with_context(|| format!("target server {}", self.target.url))?;
        // Files name databases and policies; buckets and their mappings are made by a
        // run that streams to the 2.x server (`run --target-url`).
        anyhow::ensure!(
            !crate::influx::v2::is_v2(&version),
            "import writes into InfluxDB 1.x databases; {} is InfluxDB {version}: stream to it with `run --target-url {} --target-org ORG` instead",
            self.target.url,
            self.target.url
        );
        let files = list(&dir)?;
        let existing = existing_targets(&target, settings, &files).await?;
        let (coverage, _) = ledger::fold::load_coverage(&settings.run.ledger, |_| {})?;
        let dir_url = dir_url(&dir);
        let rules = ImportRules {
            tenants: &settings.tenants,
            targets: Rules::from_settings(settings).targets,
        };
        let plan = plan_import(
            &files,
            &rules,
            &existing,
            &coverage,
            &dir_url,
            target.url(),
            now_ns(),
        )?;
        Ok(PlannedImport {
            by_source: plan.by_source(),
            dir,
            dir_url,
            target,
            files: files.len(),
            plan,
        })
    }
}

/// The target databases the files' tenants would go to that the target server holds,
/// with their retention policies.
async fn existing_targets(
    target: &Client,
    settings: &Settings,
    files: &[ExportFile],
) -> anyhow::Result<BTreeMap<String, Vec<RetentionPolicy>>> {
    let dbs = catalog::databases(target).await?;
    let names = files.iter().map(|f| {
        target_database(
            &settings.tenants.target_template,
            &f.header.source_db,
            &f.header.tenant,
        )
    });
    Ok(catalog::existing_targets(target, &dbs, names).await?)
}

impl PlannedJob for PlannedImport {
    fn plan(&self) -> &Plan {
        &self.plan.plan
    }

    fn announce(&self) {
        tracing::info!(
            dir = %self.dir.display(),
            target = %self.target.url(),
            files = self.files,
            chunks = self.plan.plan.chunks.len(),
            covered = self.plan.plan.covered_windows(),
            "import plan ready"
        );
    }

    fn target(&self) -> Option<&Client> {
        Some(&self.target)
    }

    fn transfer<'a>(&'a self, settings: &'a Settings) -> Box<dyn Transfer + 'a> {
        Box::new(FileImport {
            target: &self.target,
            files: &self.plan.files,
            batch_points: settings.stream.batch_points,
        })
    }

    /// Records name the directory as source; the header's database and policy stay.
    fn by_source(&self) -> Vec<SourceChunks<'_>> {
        self.by_source
            .iter()
            .map(|((db, rp), plan)| SourceChunks {
                source: SourceRef {
                    url: &self.dir_url,
                    db,
                    rp,
                },
                plan,
            })
            .collect()
    }

    fn checks<'a>(&'a self, _settings: &'a Settings) -> Option<Checks<'a>> {
        // The checks compare source and target on one server; files have no server.
        None
    }

    fn not_verified(&self, _settings: &Settings) -> Option<&'static str> {
        // Counting the files' points would mean reading every file a second time.
        Some("import does not check its target against the files")
    }

    fn queries(&self) -> u64 {
        self.target.queries_issued()
    }
}
