//! `rollback`: the way back after a cutover. What the persister wrote into the tenant
//! databases after the switch is copied back into the shared (source) database's
//! default policy, tags as they are, as the [`Job`] it hands the pipeline.
//!
//! Each tenant database is planned as the source of a forward run would be (discovery,
//! the ledger, late points, the planner, sizing: [`migration::prepare_to`]), with the
//! shared database as every tenant's one target; so retries, splits, checks and the
//! open margin work as in `run`. Records name the tenant database as source and the
//! shared database as target: a scope of its own, which a forward run never reads.
//! Nothing is ever deleted or dropped.

use crate::commands::migration::{self, Destination, Prepared};
use crate::commands::pipeline::{self, Checks, Job, PlannedJob, SourceChunks};
use crate::commands::watch::watched;
use crate::config::{RetentionSettings, Settings};
use crate::copy::per_tenant::PerTenant;
use crate::copy::stop::StopSignal;
use crate::copy::{SelectInto, Transfer};
use crate::core::field::FieldTypes;
use crate::influx::client::Client;
use crate::influx::statement::Rp;
use crate::ledger::{self, RecordKind, SourceRef, Sources};
use crate::plan::rollback::{self as way_back, ForwardTarget, RollbackSource};
use crate::plan::Plan;
use crate::report::rollback::{RollbackReport, SourceReport};
use crate::source::{discover as catalog, estimate};
use crate::verify::figures::{Verifier, FLOAT_REL_TOLERANCE};
use anyhow::Context;
use futures::{StreamExt, TryStreamExt};
use std::collections::BTreeMap;

/// What `rollback` was asked on the command line beyond the settings.
#[derive(Debug, Clone, Copy, Default)]
pub struct RollbackOptions {
    /// Copy points at or after this (ns) from every tenant database; `None`: from the
    /// end of the forward run's records (less `window.settle`), a new database whole.
    pub since: Option<i64>,
    /// Plan and list, write nothing.
    pub dry_run: bool,
}

/// Runs `rollback` and returns the exit code as `run` does (0 every chunk copied and
/// verified, 1 some failed or the run was stopped). With `dry_run` it plans exactly
/// the same way, prints what it would copy with point counts, and writes nothing.
pub async fn run(
    settings: &Settings,
    opts: RollbackOptions,
    json: bool,
    stop: StopSignal,
) -> anyhow::Result<u8> {
    let job = Rollback::new(settings, opts);
    if opts.dry_run {
        let planned = async { show(settings, job?.plan(settings).await?, json).await };
        return watched(settings.run.liveness_timeout, planned).await;
    }
    pipeline::run(settings, job, json, stop).await
}

/// Prints what `planned` would copy, counting the points of each tenant database.
async fn show(settings: &Settings, planned: PlannedRollback, json: bool) -> anyhow::Result<u8> {
    let mut report = RollbackReport {
        shared: settings.source.database.clone(),
        sources: Vec::new(),
        foreign: planned.foreign.clone(),
    };
    for (src, p) in &planned.sources {
        let rp = Rp {
            db: &p.catalog.database,
            rp: &p.catalog.source_rp,
        };
        let counted = estimate::estimate(
            &p.client,
            &rp,
            &settings.tenants,
            &p.plan,
            p.scale.concurrency.value,
        )
        .await
        .with_context(|| format!("counting the points of {:?}", src.database))?;
        report
            .sources
            .push(SourceReport::new(src, &p.plan, counted.total_points));
    }
    if json {
        crate::report::json::print(&report)?;
    } else {
        print!("{}", report.render());
    }
    Ok(0)
}

/// A rollback into the source server's shared database.
#[derive(Debug)]
pub struct Rollback {
    opts: RollbackOptions,
}

impl Rollback {
    /// A rollback on the source server; a target server is refused (the tenant
    /// databases are read where the shared one is).
    pub fn new(settings: &Settings, opts: RollbackOptions) -> anyhow::Result<Self> {
        if let Some(t) = settings.target.endpoint() {
            anyhow::bail!(
                "rollback copies tenant databases on the source server back into {:?} there; target.url {} is not supported by rollback",
                settings.source.database,
                t.url
            );
        }
        Ok(Rollback { opts })
    }
}

/// A [`Rollback`] once planned: one prepared forward-style plan per tenant database.
#[derive(Debug)]
pub struct PlannedRollback {
    client: Client,
    sources: Vec<(RollbackSource, Prepared)>,
    /// Per tenant database: tenants found in it whose database it is not (not copied).
    foreign: BTreeMap<String, Vec<String>>,
    plan: Plan,
    fields: FieldTypes,
}

impl Job for Rollback {
    type Planned = PlannedRollback;

    async fn plan(self, settings: &Settings) -> anyhow::Result<PlannedRollback> {
        let client = Client::new(&settings.source.endpoint(), settings.run.query_timeout)?;
        client
            .ping()
            .await
            .with_context(|| format!("source server {}", client.url()))?;
        let shared = &settings.source.database;
        let dbs = catalog::databases(&client).await?;
        anyhow::ensure!(
            dbs.contains(shared),
            "database {shared:?} does not exist on {}",
            client.url()
        );
        let forward = forward_targets(settings, client.url())?;
        let settle = i64::try_from(settings.window.settle.as_nanos()).unwrap_or(i64::MAX);
        let found = way_back::sources(
            &settings.tenants.target_template,
            shared,
            &dbs,
            &forward,
            self.opts.since,
            settle,
        );
        let planned = prepare_all(settings, found).await?;
        let mut sources = Vec::new();
        let mut foreign = BTreeMap::new();
        for (src, p) in planned {
            if !p.catalog.excluded_tenants.is_empty() {
                tracing::warn!(database = %src.database, tenants = ?p.catalog.excluded_tenants, "points of other tenants in a tenant database: not copied back");
                foreign.insert(src.database.clone(), p.catalog.excluded_tenants.clone());
            }
            sources.push((src, p));
        }
        let plan = combined(&sources)?;
        let mut fields = FieldTypes::new();
        for (_, p) in &sources {
            for (m, f) in &p.catalog.fields {
                let into = fields.entry(m.clone()).or_default();
                for (name, types) in f {
                    into.entry(name.clone())
                        .or_default()
                        .extend(types.iter().cloned());
                }
            }
        }
        Ok(PlannedRollback {
            client,
            sources,
            foreign,
            plan,
            fields,
        })
    }
}

/// Prepares every tenant database as a source ([`migration::prepare_to`]), several at
/// once (`run.concurrency`, in their order): one database's discovery is a handful of
/// small requests, and there is one database per tenant.
async fn prepare_all(
    settings: &Settings,
    found: Vec<RollbackSource>,
) -> anyhow::Result<Vec<(RollbackSource, Prepared)>> {
    let each: Vec<(RollbackSource, Settings)> = found
        .into_iter()
        .filter_map(|src| source_settings(settings, &src).map(|s| (src, s)))
        .collect();
    futures::stream::iter(each)
        .map(|(src, s)| async move {
            let p = migration::prepare_to(&s, &Destination::SameServer)
                .await
                .with_context(|| format!("tenant database {:?}", src.database))?;
            Ok((src, p))
        })
        .buffered(settings.run.concurrency_or_fallback().max(1))
        .try_collect()
        .await
}

/// Per target database of the forward runs out of the shared database on this
/// server (`url`), the tenant and the end of its latest recorded window.
fn forward_targets(
    settings: &Settings,
    url: &str,
) -> anyhow::Result<BTreeMap<String, ForwardTarget>> {
    let mut out: BTreeMap<String, ForwardTarget> = BTreeMap::new();
    ledger::fold::load_coverage(&settings.run.ledger, |e| {
        let s = e.scope;
        let forward = s.source == url
            && s.source_db == settings.source.database
            && s.target_url.is_empty()
            && e.kind == RecordKind::Copied;
        if !forward {
            return;
        }
        let t = out
            .entry(s.target.clone())
            .or_insert_with(|| ForwardTarget {
                tenant: s.tenant.clone(),
                recorded_until: e.end,
            });
        t.recorded_until = t.recorded_until.max(e.end);
    })?;
    Ok(out)
}

/// The settings a tenant database is planned with: it is the source (its default
/// policy), the shared database every tenant's target, only its own tenants are
/// selected (those the user's selection keeps), from `since` on, every measurement,
/// no retention request and no grants. `None`
/// when the selection keeps none of its tenants.
fn source_settings(settings: &Settings, src: &RollbackSource) -> Option<Settings> {
    let kept: Vec<&String> = src
        .tenants
        .iter()
        .filter(|t| settings.tenants.selects(t))
        .collect();
    if kept.is_empty() {
        tracing::info!(database = %src.database, "tenant left out by the tenant selection: not rolled back");
        return None;
    }
    let mut s = settings.clone();
    s.source.database = src.database.clone();
    s.source.retention_policy = None;
    // A template without placeholders names the shared database itself.
    s.tenants.target_template = settings.source.database.clone();
    s.tenants.include = kept
        .iter()
        .map(|t| regex::Regex::new(&format!("^{}$", regex::escape(t))).expect("escaped"))
        .collect();
    s.tenants.exclude = Vec::new();
    s.tenants.grant_privileges = false;
    // Every measurement goes back: the persister wrote all of them into the tenant
    // databases, whatever the forward run left out; and the shared database's policies
    // are never asked for.
    s.skip_measurements = Vec::new();
    s.retention = RetentionSettings::default();
    s.window.from = match (settings.window.from, src.since) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    };
    Some(s)
}

/// The plans of all tenant databases as one (the summary's and progress's view); a
/// tenant found in two tenant databases stops the rollback.
fn combined(sources: &[(RollbackSource, Prepared)]) -> anyhow::Result<Plan> {
    let mut plan = Plan::default();
    let mut seen: BTreeMap<&str, &str> = BTreeMap::new();
    for (src, p) in sources {
        for t in p.plan.tenants.keys() {
            if let Some(other) = seen.insert(t, &src.database) {
                anyhow::bail!(
                    "tenant {t:?} has points in two tenant databases, {other:?} and {:?}; roll back one with --tenant-exclude",
                    src.database
                );
            }
        }
        plan.now_ns = p.plan.now_ns;
        plan.closed_before_ns = p.plan.closed_before_ns;
        plan.targets.extend(p.plan.targets.iter().cloned());
        plan.chunks.extend(p.plan.chunks.iter().cloned());
        plan.tenants.extend(p.plan.tenants.clone());
        plan.untagged.extend(p.plan.untagged.iter().cloned());
    }
    Ok(plan)
}

impl PlannedRollback {
    /// Each tenant's source, as ledger scopes name it.
    fn source_refs(&self) -> BTreeMap<String, SourceRef<'_>> {
        let mut out = BTreeMap::new();
        for (_, p) in &self.sources {
            for t in p.plan.tenants.keys() {
                out.insert(t.clone(), p.catalog.source_ref());
            }
        }
        out
    }
}

impl PlannedJob for PlannedRollback {
    fn plan(&self) -> &Plan {
        &self.plan
    }

    fn announce(&self) {
        tracing::info!(
            tenant_databases = self.sources.len(),
            new = self.sources.iter().filter(|(s, _)| s.new).count(),
            chunks = self.plan.chunks.len(),
            closed = self.plan.closed_chunks(),
            "rollback plan ready"
        );
    }

    fn target(&self) -> Option<&Client> {
        Some(&self.client)
    }

    fn transfer<'a>(&'a self, settings: &'a Settings) -> Box<dyn Transfer + 'a> {
        let mut by_tenant: BTreeMap<String, Box<dyn Transfer + 'a>> = BTreeMap::new();
        for (_, p) in &self.sources {
            for t in p.plan.tenants.keys() {
                let source = Rp {
                    db: &p.catalog.database,
                    rp: &p.catalog.source_rp,
                };
                by_tenant.insert(
                    t.clone(),
                    Box::new(SelectInto {
                        client: &self.client,
                        source,
                        tenants: &settings.tenants,
                    }),
                );
            }
        }
        Box::new(PerTenant {
            by_tenant,
            target_url: String::new(),
        })
    }

    fn by_source(&self) -> Vec<SourceChunks<'_>> {
        self.sources
            .iter()
            .map(|(_, p)| SourceChunks {
                source: p.catalog.source_ref(),
                plan: &p.plan,
            })
            .collect()
    }

    fn checks<'a>(&'a self, settings: &'a Settings) -> Option<Checks<'a>> {
        settings.run.verify.then(|| Checks {
            verifier: Verifier {
                client: &self.client,
                tenants: &settings.tenants,
                target: None,
                rewrite: None,
                fields: &self.fields,
                tolerance: FLOAT_REL_TOLERANCE,
                target_tenant: true,
            },
            sources: Sources::PerTenant(self.source_refs()),
        })
    }

    fn not_verified(&self, settings: &Settings) -> Option<&'static str> {
        (!settings.run.verify).then_some("--no-verify")
    }

    fn queries(&self) -> u64 {
        let planning: u64 = self
            .sources
            .iter()
            .map(|(_, p)| p.client.queries_issued())
            .sum();
        planning + self.client.queries_issued()
    }

    fn concurrency(&self) -> Option<usize> {
        self.sources.first().map(|(_, p)| p.scale.concurrency.value)
    }
}
