//! A migration out of the source server: discover, read the ledger, plan; then, as the
//! [`Job`] `run` and `export` hand the pipeline, copy into a [`Destination`].
//!
//! `plan` and `status --plan` call [`prepare`]: a run without the writes, so a dry run
//! sees exactly what a run would do up to the first write.

use crate::commands::pipeline::{Checks, Job, PlannedJob, SourceChunks};
use crate::config::Settings;
use crate::copy::files::{self, FileExport};
use crate::copy::select_into::RewrittenSelectInto;
use crate::copy::stream::{self, StreamCopy};
use crate::copy::{SelectInto, Transfer};
use crate::core::clock::now_ns;
use crate::influx::client::Client;
use crate::influx::statement::Rp;
use crate::ledger::{self, Coverage};
use crate::plan::catalog::Catalog;
use crate::plan::late::LateReport;
use crate::plan::planner::{self, Rules};
use crate::plan::Plan;
use crate::report::failures;
use crate::source::discover as catalog;
use crate::source::late::{self, LateOptions};
use crate::verify::figures::{Verifier, FLOAT_REL_TOLERANCE};
use anyhow::Context;
use std::path::PathBuf;

/// Discovery, ledger and plan, ready to run or to show.
#[derive(Debug)]
pub struct Prepared {
    /// Client for the source server (also the target server in server-side mode).
    pub client: Client,
    /// What the servers hold.
    pub catalog: Catalog,
    /// What is left to do.
    pub plan: Plan,
}

/// Where the per-tenant databases go.
#[derive(Debug)]
pub enum Destination {
    /// The source server itself: server-side `SELECT INTO`.
    SameServer,
    /// Another server (`target.url`): chunked reads, `/write` there.
    Server(Client),
    /// Export files under this (absolute) directory.
    Files(PathBuf),
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
    let discovery = catalog::DiscoverOptions {
        database: &settings.source.database,
        retention_policy: settings.source.retention_policy.as_deref(),
        tenants: &settings.tenants,
        skip_measurements: &settings.skip_measurements,
        from: settings.window.from,
        to: settings.window.to,
        max_measurements_per_query: settings.run.max_measurements_per_query,
        concurrency: settings.run.concurrency,
    };
    let mut catalog = catalog::discover(&client, &discovery).await?;
    match dest {
        Destination::SameServer => {}
        Destination::Server(target) => {
            catalog::discover_targets_on(target, &mut catalog, &settings.tenants.target_template)
                .await
                .with_context(|| format!("target server {}", target.url()))?;
        }
        Destination::Files(dir) => {
            catalog.targets.clear();
            catalog.target_url = files::dir_url(dir);
        }
    }
    let parsed = ledger::load(&settings.run.ledger)?;
    let mut coverage = Coverage::from_records(&parsed.records);
    remember_failed_units(settings, &catalog, &mut coverage);
    let rules = Rules::from_settings(settings);
    let now = now_ns();
    let late = recheck_late(
        settings,
        &client,
        &catalog,
        &parsed.records,
        now,
        &mut coverage,
    )
    .await;
    let mut plan = planner::plan(&catalog, &rules, &coverage, now)?;
    plan.late = Some(late);
    Ok(Prepared {
        client,
        catalog,
        plan,
    })
}

/// Looks again at the recorded windows that closed within `run.late_horizon` and
/// reopens, in `coverage`, those the source gained points in since.
async fn recheck_late(
    settings: &Settings,
    client: &Client,
    catalog: &Catalog,
    records: &[ledger::Record],
    now: i64,
    coverage: &mut Coverage,
) -> LateReport {
    let settle = i64::try_from(settings.window.settle.as_nanos()).unwrap_or(i64::MAX);
    let opts = LateOptions {
        horizon: settings.run.late_horizon,
        closed_before: now.saturating_sub(settle),
        source: catalog.source_ref(),
        target_url: &catalog.target_url,
        rp: Rp {
            db: &catalog.database,
            rp: &catalog.source_rp,
        },
        tag: &settings.tenants.tag,
        per_statement: settings.run.max_measurements_per_query,
    };
    late::recheck(client, records, &opts, coverage).await
}

/// Failed chunks restart at the size last tried, not at the one that failed first.
fn remember_failed_units(settings: &Settings, catalog: &Catalog, coverage: &mut Coverage) {
    let report = failures::load(&settings.run.failure_report).unwrap_or_else(|e| {
        tracing::warn!(error = %e, "ignoring the failure report");
        None
    });
    for f in report.iter().flat_map(|r| &r.failures) {
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

/// `run` and `export`: copy what the source server holds into a destination.
#[derive(Debug)]
pub struct Migration {
    dest: Destination,
}

impl Migration {
    /// A migration into `dest`. Refuses `--verify` where its checks do not apply.
    pub fn new(settings: &Settings, dest: Destination) -> anyhow::Result<Self> {
        if settings.run.verify
            && !(matches!(dest, Destination::SameServer) && settings.transform.is_identity())
        {
            // The checks compare source and target with one request on one server, under
            // the same names: a streamed, exported or transformed copy needs other checks.
            anyhow::bail!("--verify checks server-side copies without transforms only; run without it (or verify on the target with another tool)");
        }
        Ok(Migration { dest })
    }
}

/// A [`Migration`] once planned.
#[derive(Debug)]
pub struct PlannedMigration {
    prepared: Prepared,
    dest: Destination,
}

impl Job for Migration {
    type Planned = PlannedMigration;

    async fn plan(self, settings: &Settings) -> anyhow::Result<PlannedMigration> {
        let prepared = prepare_to(settings, &self.dest).await?;
        Ok(PlannedMigration {
            prepared,
            dest: self.dest,
        })
    }
}

impl PlannedJob for PlannedMigration {
    fn plan(&self) -> &Plan {
        &self.prepared.plan
    }

    fn announce(&self) {
        let (c, p) = (&self.prepared.catalog, &self.prepared.plan);
        tracing::info!(
            source = %c.source_url,
            database = %c.database,
            tenants = p.targets.len(),
            chunks = p.chunks.len(),
            closed = p.closed_chunks(),
            covered_windows = p.covered_windows(),
            "plan ready"
        );
    }

    fn target(&self) -> Option<&Client> {
        match &self.dest {
            Destination::SameServer => Some(&self.prepared.client),
            Destination::Server(t) => Some(t),
            Destination::Files(_) => None,
        }
    }

    fn transfer<'a>(&'a self, settings: &'a Settings) -> Box<dyn Transfer + 'a> {
        let (client, catalog) = (&self.prepared.client, &self.prepared.catalog);
        let source = Rp {
            db: &catalog.database,
            rp: &catalog.source_rp,
        };
        let tag = &settings.tenants.tag;
        match &self.dest {
            Destination::SameServer if settings.transform.is_identity() => Box::new(SelectInto {
                client,
                source,
                tag,
            }),
            Destination::SameServer => Box::new(RewrittenSelectInto {
                client,
                source,
                tag,
                tag_keys: &catalog.tag_keys,
                rewrite: &settings.transform,
            }),
            Destination::Server(t) => Box::new(StreamCopy::new(client, t, catalog, settings)),
            Destination::Files(dir) => Box::new(FileExport {
                reader: stream::reader(client, catalog, settings, &settings.transform),
                source_url: &catalog.source_url,
                dir: dir.clone(),
                url: catalog.target_url.clone(),
            }),
        }
    }

    fn by_source(&self) -> Vec<SourceChunks<'_>> {
        vec![SourceChunks {
            source: self.prepared.catalog.source_ref(),
            plan: &self.prepared.plan,
        }]
    }

    fn checks<'a>(&'a self, settings: &'a Settings) -> Option<Checks<'a>> {
        settings.run.verify.then(|| Checks {
            verifier: Verifier {
                client: &self.prepared.client,
                tag: &settings.tenants.tag,
                fields: &self.prepared.catalog.fields,
                tolerance: FLOAT_REL_TOLERANCE,
            },
            source: self.prepared.catalog.source_ref(),
        })
    }

    fn queries(&self) -> u64 {
        let target = match &self.dest {
            Destination::Server(t) => t.queries_issued(),
            _ => 0,
        };
        self.prepared.client.queries_issued() + target
    }
}
