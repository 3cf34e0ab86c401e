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
use crate::ledger::{self, Coverage, Sources};
use crate::plan::catalog::Catalog;
use crate::plan::late::{Candidates, LateReport};
use crate::plan::planner::{self, Rules};
use crate::plan::sizing::{self, Sizing};
use crate::plan::Plan;
use crate::report::failures;
use crate::source::density;
use crate::source::discover as catalog;
use crate::source::late::{self, LateOptions};
use crate::source::limits::{self, Concurrency, ServerLimits};
use crate::source::writes;
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
    /// The server's limits and how chunks were sized under them.
    pub scale: Scale,
}

/// The server's limits (`None`: not an admin) and the chunk sizing and concurrency
/// they led to.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Scale {
    /// What `SHOW DIAGNOSTICS` reported.
    pub limits: Option<ServerLimits>,
    /// Queries in flight at once, and why.
    pub concurrency: Concurrency,
    /// Points one statement aims to copy.
    pub sizing: Option<Sizing>,
    /// Tenants whose chunks were resized from a sampled rate.
    pub sampled_tenants: usize,
    /// Count statements the sampling ran.
    pub sample_statements: usize,
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

    /// The target server as ledger scopes name it (empty: the source server).
    fn target_url(&self) -> String {
        match self {
            Destination::SameServer => String::new(),
            Destination::Server(target) => target.url().to_string(),
            Destination::Files(dir) => files::dir_url(dir),
        }
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
    let limits = limits::server_limits(&client).await;
    let concurrency = limits::choose_concurrency(settings.run.concurrency, limits.as_ref());
    let discovery = catalog::DiscoverOptions {
        database: &settings.source.database,
        retention_policy: settings.source.retention_policy.as_deref(),
        tenants: &settings.tenants,
        skip_measurements: &settings.skip_measurements,
        from: settings.window.from,
        to: settings.window.to,
        max_measurements_per_query: settings.run.max_measurements_per_query,
        concurrency: concurrency.value,
        known: None,
    };
    let source = catalog::source(&client, &discovery).await?;
    let source_ref = ledger::SourceRef {
        url: client.url(),
        db: &settings.source.database,
        rp: &source.rp,
    };
    let target_url = dest.target_url();
    let now = now_ns();
    let (mut coverage, late_records) = load_ledger(settings, source_ref, &target_url, now)?;
    let spans = coverage.spans(&source_ref, &target_url);
    let discovery = catalog::DiscoverOptions {
        known: Some(&spans),
        ..discovery
    };
    let mut catalog = catalog::discover(&client, &discovery, source).await?;
    match dest {
        Destination::SameServer => {}
        Destination::Server(target) => {
            catalog::discover_targets_on(
                target,
                &mut catalog,
                &settings.tenants.target_template,
                settings.target.org.as_deref(),
            )
            .await
            .with_context(|| format!("target server {}", target.url()))?;
        }
        Destination::Files(dir) => {
            catalog.targets.clear();
            catalog.grants = Some(Vec::new());
            catalog.target_url = files::dir_url(dir);
        }
    }
    if settings.window.final_run {
        refuse_while_written(&client, settings, &catalog).await?;
    }
    remember_failed_units(settings, &catalog, &mut coverage);
    let rules = Rules::from_settings(settings);
    let late = recheck_late(
        settings,
        &client,
        &catalog,
        &late_records,
        now,
        &mut coverage,
    )
    .await;
    let mut plan = planner::plan(&catalog, &rules, &coverage, now)?;
    plan.late = Some(late);
    let mut scale = Scale {
        limits,
        concurrency,
        sizing: None,
        sampled_tenants: 0,
        sample_statements: 0,
    };
    size_chunks(&client, settings, &catalog, &mut plan, &mut scale).await;
    Ok(Prepared {
        client,
        catalog,
        plan,
        scale,
    })
}

/// A final run starts only once the source receives no more writes (see
/// [`writes`]): its newest point is older than `window.settle` and its shard counters
/// stand still.
async fn refuse_while_written(
    client: &Client,
    settings: &Settings,
    catalog: &Catalog,
) -> anyhow::Result<()> {
    let newest = catalog
        .tenants
        .iter()
        .flat_map(|t| t.measurements.values().map(|i| i.end))
        .max();
    writes::check_newest(&catalog.database, newest, settings.window.settle, now_ns())?;
    writes::check_writes(client, &catalog.database).await?;
    Ok(())
}

/// Resizes the plan's closed chunks from sampled point rates ([`sizing`]) under the
/// server's limits, and notes the sizing in `scale`. Reads only; a failed sample keeps
/// the planner's sizes. A window unit smaller than the default week is the user's
/// choice of chunk size: kept.
async fn size_chunks(
    client: &Client,
    settings: &Settings,
    catalog: &Catalog,
    plan: &mut Plan,
    scale: &mut Scale,
) {
    if settings.window.unit != crate::core::window::TimeUnit::Week {
        return;
    }
    let sizing = Sizing::new(
        sizing::TARGET_POINTS,
        scale.limits.as_ref().and_then(|l| l.max_select_point),
    );
    let src = Rp {
        db: &catalog.database,
        rp: &catalog.source_rp,
    };
    let (rates, statements) = match density::sample_rates(
        client,
        &src,
        &settings.tenants,
        plan,
        scale.concurrency.value,
    )
    .await
    {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(error = %e, "cannot sample point rates: chunks keep the window size");
            return;
        }
    };
    sizing::resize(plan, &rates, sizing, planner::sort_newest_first);
    scale.sizing = Some(sizing);
    scale.sampled_tenants = rates.len();
    scale.sample_statements = statements;
}

/// The ledger's coverage and the records the late check may look at again (closed
/// within `run.late_horizon`, not overlapped by a later line), in one pass that keeps
/// no other record.
fn load_ledger(
    settings: &Settings,
    source: ledger::SourceRef<'_>,
    target_url: &str,
    now: i64,
) -> anyhow::Result<(Coverage, Vec<ledger::Record>)> {
    let horizon_ns = i64::try_from(settings.run.late_horizon.as_nanos()).unwrap_or(i64::MAX);
    let mut candidates =
        Candidates::new(source, target_url, closed_before(settings, now), horizon_ns);
    let (coverage, _) = ledger::fold::load_coverage(&settings.run.ledger, |e| candidates.add(e))?;
    Ok((coverage, candidates.into_records()))
}

/// The late check looks at records that closed before this (ns): the settle line, or
/// `now` in a final run (which has none).
fn closed_before(settings: &Settings, now: i64) -> i64 {
    planner::settle_line(&settings.window, now).min(now)
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
    let opts = LateOptions {
        horizon: settings.run.late_horizon,
        closed_before: closed_before(settings, now),
        source: catalog.source_ref(),
        target_url: &catalog.target_url,
        rp: Rp {
            db: &catalog.database,
            rp: &catalog.source_rp,
        },
        tenants: &settings.tenants,
        per_statement: settings.run.max_measurements_per_query,
        fields: &catalog.fields,
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
    /// A migration into `dest`. Every destination but files is verified unless
    /// `run.verify` is off.
    pub fn new(_settings: &Settings, dest: Destination) -> anyhow::Result<Self> {
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
        let tenants = &settings.tenants;
        match &self.dest {
            Destination::SameServer if settings.transform.is_identity() => Box::new(SelectInto {
                client,
                source,
                tenants,
            }),
            Destination::SameServer => Box::new(RewrittenSelectInto {
                client,
                source,
                tenants,
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
        let target = match &self.dest {
            Destination::SameServer => None,
            Destination::Server(t) => Some(t),
            // Files have no server to count points in.
            Destination::Files(_) => return None,
        };
        settings.run.verify.then(|| Checks {
            verifier: Verifier {
                client: &self.prepared.client,
                tenants: &settings.tenants,
                target,
                rewrite: Some(&settings.transform),
                fields: &self.prepared.catalog.fields,
                tolerance: FLOAT_REL_TOLERANCE,
                target_tenant: false,
            },
            sources: Sources::One(self.prepared.catalog.source_ref()),
        })
    }

    fn not_verified(&self, settings: &Settings) -> Option<&'static str> {
        match &self.dest {
            Destination::Files(_) => Some("export writes files"),
            _ if !settings.run.verify => Some("--no-verify"),
            _ => None,
        }
    }

    fn concurrency(&self) -> Option<usize> {
        Some(self.prepared.scale.concurrency.value)
    }

    fn target_v2(&self) -> Option<&crate::plan::catalog::V2Target> {
        match &self.dest {
            Destination::Server(_) => self.prepared.catalog.target_v2.as_ref(),
            _ => None,
        }
    }

    fn queries(&self) -> u64 {
        let target = match &self.dest {
            Destination::Server(t) => t.queries_issued(),
            _ => 0,
        };
        self.prepared.client.queries_issued() + target
    }
}
