//! What `plan` prints: the source, the targets, per-tenant counts, every chunk, the
//! schema findings and (with `--estimate`) points and duration.

use crate::core::text::table;
use crate::core::window::format_ns;
use crate::plan::authorizations::{self, AuthStep};
use crate::plan::catalog::{Catalog, V2Target};
use crate::plan::target::{duration_literal, TargetPlan};
use crate::plan::{Chunk, Plan, TenantPlan};
use crate::report::summary;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write;

/// What `plan` shows.
#[derive(Debug, Serialize)]
pub struct PlanReport<'a> {
    /// Source server.
    pub source: &'a str,
    /// Its version, from its `X-Influxdb-Version` header.
    pub source_version: &'a str,
    /// The target server and its version, when the targets are on another server.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<TargetServer<'a>>,
    /// Source database.
    pub database: &'a str,
    /// Source retention policy.
    pub retention_policy: &'a str,
    /// Tenants found but excluded.
    pub excluded_tenants: &'a [String],
    /// Measurements the skip rules leave out.
    pub skipped_measurements: &'a [String],
    /// Chunks ending before this are closed.
    pub closed_before: String,
    /// Databases and policies per tenant.
    pub targets: &'a [TargetPlan],
    /// Privileges granted on every target database.
    pub grants: &'a [crate::plan::catalog::UserGrant],
    /// Why nothing is granted, when that is not because no user has a privilege.
    pub grants_note: Option<&'a str>,
    /// Counts per tenant.
    pub tenants: &'a BTreeMap<String, TenantPlan>,
    /// Every chunk a run would copy.
    pub chunks: &'a [Chunk],
    /// Schema checks (type conflicts, tag/field clashes, what is left out).
    pub checks: Vec<crate::source::findings::Finding>,
    /// The late-point check planning made: recorded windows reopened.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub late: Option<&'a crate::plan::late::LateReport>,
    /// Points and duration estimate (`plan --estimate`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub estimate: Option<crate::source::estimate::Estimate>,
    /// Databases, shards, server limits, chunk sizing and concurrency.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scale: Option<crate::report::scale::ScaleReport>,
    /// An InfluxDB 2.x target's organization, buckets and authorizations.
    #[serde(skip)]
    pub v2: Option<&'a V2Target>,
    /// On a 2.x target: what the source's grants need there (new buckets named
    /// `new:<bucket>`, their ids being unknown before the run creates them).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub v1_authorizations: Option<Vec<AuthStep>>,
}

/// A target server other than the source.
#[derive(Debug, Serialize)]
pub struct TargetServer<'a> {
    /// Its URL (or `file://DIR`).
    pub url: &'a str,
    /// Its version (`X-Influxdb-Version`), empty for files.
    pub version: &'a str,
    /// The organization of a 2.x target.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub org: Option<&'a str>,
}

/// The bucket of each target database on a 2.x target: the mapped one's id, else
/// `new:<bucket name>` (or `existing:<id>` for a bucket of that name not yet mapped).
fn bucket_ids(v2: &V2Target, targets: &[TargetPlan]) -> BTreeMap<String, String> {
    targets
        .iter()
        .map(|t| {
            let name = crate::influx::v2::bucket_name(&t.database);
            let id = match (v2.mapped.get(&t.database), v2.buckets.get(&name)) {
                (Some(id), _) => id.clone(),
                (None, Some(b)) => b.id.clone(),
                (None, None) => format!("new:{name}"),
            };
            (t.database.clone(), id)
        })
        .collect()
}

/// The CREATE column of a 2.x target: the bucket (unless one of that name exists) and
/// the DBRP mapping.
fn create_v2(v2: &V2Target, t: &TargetPlan) -> Vec<String> {
    if !t.create_database {
        return Vec::new();
    }
    let name = crate::influx::v2::bucket_name(&t.database);
    let mut out = Vec::new();
    match v2.buckets.get(&name) {
        Some(_) => out.push(format!("existing bucket {name:?} kept as it is")),
        None => out.push(format!(
            "bucket {name:?} of {}",
            duration_literal(t.retention_ns.unwrap_or(0))
        )),
    }
    out.push(format!("DBRP {} (default)", t.retention_policy));
    out
}

impl<'a> PlanReport<'a> {
    /// The report for a plan.
    pub fn new(catalog: &'a Catalog, plan: &'a Plan) -> Self {
        PlanReport {
            source: &catalog.source_url,
            source_version: &catalog.source_version,
            target: (!catalog.target_url.is_empty()).then_some(TargetServer {
                url: &catalog.target_url,
                version: &catalog.target_version,
                org: catalog.target_v2.as_ref().map(|v| v.org.as_str()),
            }),
            database: &catalog.database,
            retention_policy: &catalog.source_rp,
            excluded_tenants: &catalog.excluded_tenants,
            skipped_measurements: &catalog.skipped_measurements,
            // A final run has no settle line: everything is closed ("+inf").
            closed_before: match plan.closed_before_ns {
                i64::MAX => format_ns(i64::MAX),
                t => format_ns(t - t.rem_euclid(crate::core::window::SECOND)),
            },
            targets: &plan.targets,
            grants: &plan.grants,
            grants_note: plan.grants_note.as_deref(),
            tenants: &plan.tenants,
            chunks: &plan.chunks,
            checks: Vec::new(),
            late: plan.late.as_ref(),
            estimate: None,
            scale: None,
            v2: catalog.target_v2.as_ref(),
            v1_authorizations: catalog.target_v2.as_ref().map(|v2| {
                authorizations::steps(&plan.grants, &bucket_ids(v2, &plan.targets), &v2.v1_auths)
            }),
        }
    }

    /// The servers, each with the version it reports, and the source.
    fn header(&self) -> String {
        let mut s = format!(
            "source {} (InfluxDB {}) database {:?} retention policy {:?}\n",
            self.source, self.source_version, self.database, self.retention_policy
        );
        match &self.target {
            Some(TargetServer {
                url,
                version,
                org: Some(org),
            }) => {
                let _ = writeln!(
                    s,
                    "target {url} (InfluxDB {version}) organization {org:?}: a bucket per tenant, mapped (DBRP) under its database name for InfluxQL clients"
                );
            }
            Some(t) if !t.version.is_empty() => {
                let _ = writeln!(s, "target {} (InfluxDB {})", t.url, t.version);
            }
            Some(t) => {
                let _ = writeln!(s, "target {}", t.url);
            }
            None => {}
        }
        s
    }

    /// One tenant's row of the targets table.
    fn target_row(&self, t: &TargetPlan) -> Vec<String> {
        let tp = self.tenants.get(&t.tenant).cloned().unwrap_or_default();
        let mut create = Vec::new();
        if let Some(v2) = self.v2 {
            create = create_v2(v2, t);
        } else {
            if t.create_database {
                create.push("database".to_string());
            }
            if let Some(d) = &t.create_retention_policy {
                create.push(format!("policy {} of {d}", t.retention_policy));
            }
        }
        vec![
            t.tenant.clone(),
            t.database.clone(),
            t.retention_policy.clone(),
            duration_literal(t.retention_ns.unwrap_or(0)),
            t.shard_group_ns.map_or("-".into(), duration_literal),
            t.why.to_string(),
            if create.is_empty() {
                "-".into()
            } else {
                create.join(", ")
            },
            tp.closed_chunks.to_string(),
            tp.open_chunks.to_string(),
            tp.covered_windows.to_string(),
            tp.range.map_or("-".into(), |r| {
                format!("{} .. {}", format_ns(r.start), format_ns(r.end))
            }),
        ]
    }

    /// The users' access (grants, or v1 authorizations on 2.x) and the retention
    /// requests left unapplied.
    fn render_access(&self) -> String {
        let mut s = String::new();
        match &self.v1_authorizations {
            Some(steps) if self.grants_note.is_none() => {
                s.push_str(&summary::render_v1_auths(steps))
            }
            _ => s.push_str(&summary::render_grants(self.grants, self.grants_note)),
        }
        let mut not_applied: Vec<_> = self
            .targets
            .iter()
            .filter_map(|t| t.not_applied.clone())
            .collect();
        if let Some(v2) = self.v2 {
            // A bucket's retention is changed with the 2.x API, not InfluxQL.
            for n in &mut not_applied {
                let id = v2.mapped.get(&n.database).map_or("ID", String::as_str);
                n.statement = format!(
                    "influx bucket update --id {id} --retention {}",
                    n.requested_duration
                );
            }
        }
        s.push_str(&summary::render_not_applied(&not_applied));
        s
    }

    /// Human-readable plan.
    pub fn render(&self) -> String {
        let mut s = self.header();
        if !self.excluded_tenants.is_empty() {
            let _ = writeln!(s, "excluded tenants: {:?}", self.excluded_tenants);
        }
        if !self.skipped_measurements.is_empty() {
            let _ = writeln!(s, "skipped measurements: {:?}", self.skipped_measurements);
        }
        let rows: Vec<Vec<String>> = self.targets.iter().map(|t| self.target_row(t)).collect();
        s.push_str(&table(
            &[
                "TENANT", "TARGET", "POLICY", "DURATION", "SHARD", "WHY", "CREATE", "CLOSED",
                "OPEN", "DONE", "TO COPY",
            ],
            &rows,
        ));
        let closed = self.chunks.iter().filter(|c| c.closed).count();
        let _ = writeln!(
            s,
            "{} chunks to copy ({} closed, {} open: chunks ending after {} are copied on every run and never recorded); {} windows already done",
            self.chunks.len(),
            closed,
            self.chunks.len() - closed,
            self.closed_before,
            self.tenants.values().map(|t| t.covered_windows).sum::<u64>(),
        );
        s.push_str(&self.render_access());
        if let Some(x) = &self.scale {
            s.push_str(&x.render());
        }
        if let Some(late) = self.late {
            use crate::report::summary::{late_row, render_late};
            let _ = writeln!(s, "late points: {}", late_row(late));
            s.push_str(&render_late(late).replace("copied again", "to copy again"));
        }
        s.push_str(&crate::source::findings::render(&self.checks));
        if let Some(e) = &self.estimate {
            s.push_str(&e.render());
        }
        s
    }
}
