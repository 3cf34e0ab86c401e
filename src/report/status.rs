//! What `status` shows per tenant: chunks done, verified, failed (from the ledger and
//! the failure report, no server needed) and, with `--plan`, open and pending (which
//! need the server: they are what a run would copy now).

use crate::copy::FailedChunk;
use crate::core::interval::Interval;
use crate::core::text::table;
use crate::core::window::format_ns;
use crate::ledger::TenantProgress;
use crate::plan::Plan;
use serde::Serialize;
use std::collections::BTreeMap;

/// One tenant's state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TenantStatus {
    /// Target database(s).
    pub targets: Vec<String>,
    /// Closed chunks recorded as copied in the ledger.
    pub done: u64,
    /// Of those, chunks verified (counts and sums checked).
    pub verified: u64,
    /// Chunks `verify` found missing points in: the next run copies them again.
    pub repair: u64,
    /// Chunks (or pieces) that failed in the last run, from the failure report.
    pub failed: u64,
    /// Open chunks a run would copy now (recent history, never recorded); `None`
    /// without `--plan`.
    pub open: Option<u64>,
    /// Closed chunks a run would copy now (failed ones included: a rerun tries them
    /// again); `None` without `--plan`.
    pub pending: Option<u64>,
    /// Points recorded as copied in the ledger.
    pub points: u64,
    /// Earliest covered nanosecond.
    pub covered_from: Option<i64>,
    /// Latest covered nanosecond (exclusive).
    pub covered_to: Option<i64>,
    /// Covered time as disjoint intervals.
    pub covered: Vec<Interval>,
}

/// Per-tenant state from the ledger's records, the last failures and optionally a
/// fresh plan. (Commands read the ledger streaming and call [`from_progress`].)
#[cfg(test)]
pub fn tenants(
    records: &[crate::ledger::Record],
    failures: &[FailedChunk],
    plan: Option<&Plan>,
) -> BTreeMap<String, TenantStatus> {
    from_progress(crate::ledger::progress(records), failures, plan)
}

/// Per-tenant state from the ledger's per-tenant progress (as
/// [`crate::ledger::fold::load_progress`] sums it), the last failures and optionally a fresh
/// plan.
pub fn from_progress(
    progress: BTreeMap<String, TenantProgress>,
    failures: &[FailedChunk],
    plan: Option<&Plan>,
) -> BTreeMap<String, TenantStatus> {
    let mut out: BTreeMap<String, TenantStatus> = BTreeMap::new();
    for (t, p) in progress {
        out.insert(
            t,
            TenantStatus {
                targets: p.targets,
                done: p.chunks,
                verified: p.verified,
                repair: p.awaiting_repair,
                points: p.points,
                covered_from: p.covered_from,
                covered_to: p.covered_to,
                covered: p.covered,
                ..TenantStatus::default()
            },
        );
    }
    for f in failures {
        let s = out.entry(f.chunk.tenant.clone()).or_default();
        s.failed += 1;
        if !s.targets.contains(&f.chunk.target) {
            s.targets.push(f.chunk.target.clone());
        }
    }
    if let Some(plan) = plan {
        for s in out.values_mut() {
            s.open = Some(0);
            s.pending = Some(0);
        }
        for t in &plan.targets {
            let s = out.entry(t.tenant.clone()).or_default();
            if !s.targets.contains(&t.database) {
                s.targets.push(t.database.clone());
            }
            let tp = plan.tenants.get(&t.tenant).cloned().unwrap_or_default();
            s.open = Some(tp.open_chunks);
            s.pending = Some(tp.closed_chunks);
        }
    }
    out
}

/// What `status` prints.
#[derive(Debug, Serialize)]
pub struct Status {
    /// Ledger path.
    pub ledger: String,
    /// Lines in it.
    pub records: usize,
    /// Failure report path.
    pub failure_report: String,
    /// When the failure report was written, if there is one.
    pub failures_written_at: Option<String>,
    /// Whether open/pending come from a fresh plan (`--plan`).
    pub planned: bool,
    /// Per tenant.
    pub tenants: BTreeMap<String, TenantStatus>,
}

impl Status {
    /// Human-readable table.
    pub fn render(&self) -> String {
        let mut s = format!(
            "ledger {}: {} records; failure report {}: {}\n",
            self.ledger,
            self.records,
            self.failure_report,
            self.failures_written_at
                .as_deref()
                .map_or("none (last run had no failures)".to_string(), |a| format!(
                    "written {a}"
                ))
        );
        if self.tenants.is_empty() {
            s.push_str("no chunks recorded yet\n");
            return s;
        }
        let opt = |v: Option<u64>| v.map_or("-".to_string(), |v| v.to_string());
        let rows: Vec<Vec<String>> = self
            .tenants
            .iter()
            .map(|(t, p)| {
                vec![
                    t.clone(),
                    p.targets.join(","),
                    p.done.to_string(),
                    p.verified.to_string(),
                    p.repair.to_string(),
                    p.failed.to_string(),
                    opt(p.open),
                    opt(p.pending),
                    p.points.to_string(),
                    p.covered_from.map_or("-".into(), format_ns),
                    p.covered_to.map_or("-".into(), format_ns),
                    p.covered.len().to_string(),
                ]
            })
            .collect();
        s.push_str(&table(
            &[
                "TENANT", "TARGET", "DONE", "VERIFIED", "REPAIR", "FAILED", "OPEN", "PENDING",
                "POINTS", "FROM", "TO", "RANGES",
            ],
            &rows,
        ));
        if !self.planned {
            s.push_str("OPEN and PENDING need the server: run `status --plan` to plan now\n");
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::window::TimeUnit;
    use crate::ledger::{Record, RecordKind, Scope};
    use crate::plan::target::TargetPlan;
    use crate::plan::{Chunk, TenantPlan};

    fn rec(tenant: &str, kind: RecordKind, start: i64) -> Record {
        Record {
            split: false,
            kind,
            scope: Scope {
                target_url: String::new(),
                source: "s".into(),
                source_db: "m".into(),
                source_rp: "autogen".into(),
                target: format!("m_{tenant}"),
                target_rp: "autogen".into(),
                tenant: tenant.into(),
            },
            measurements: vec!["cpu".into()],
            start,
            end: start + 10,
            unit: TimeUnit::Hour,
            points: 5,
            at: String::new(),
        }
    }

    /// Done and verified come from the ledger, failed from the failure report, open and
    /// pending only from a plan; a tenant known only to the plan appears too.
    #[test]
    fn combines_sources() {
        let records = vec![
            rec("a", RecordKind::Copied, 0),
            rec("a", RecordKind::Copied, 10),
            rec("a", RecordKind::Verified, 0),
        ];
        let failed = FailedChunk {
            chunk: Chunk {
                tenant: "a".into(),
                target: "m_a".into(),
                target_rp: "autogen".into(),
                measurements: vec!["cpu".into()].into(),
                window: Interval::new(20, 30),
                unit: TimeUnit::Hour,
                closed: true,
                retention_ns: None,
            },
            query: String::new(),
            error: String::new(),
            attempts: 1,
        };
        let t = tenants(&records, std::slice::from_ref(&failed), None);
        assert_eq!(t["a"].done, 2);
        assert_eq!(t["a"].verified, 1);
        assert_eq!(t["a"].failed, 1);
        assert_eq!(t["a"].points, 10);
        assert_eq!(t["a"].open, None);
        assert_eq!(t["a"].covered, vec![Interval::new(0, 20)]);

        let mut plan = Plan::default();
        plan.targets.push(TargetPlan {
            tenant: "b".into(),
            database: "m_b".into(),
            create_database: true,
            retention_policy: "autogen".into(),
            create_retention_policy: None,
            retention_ns: None,
            shard_group_ns: None,
            why: crate::plan::target::PolicyReason::NoSourcePolicy,
            not_applied: None,
        });
        plan.tenants.insert(
            "b".into(),
            TenantPlan {
                closed_chunks: 3,
                open_chunks: 1,
                ..TenantPlan::default()
            },
        );
        let t = tenants(&records, &[], Some(&plan));
        assert_eq!(t["a"].pending, Some(0));
        assert_eq!(t["b"].pending, Some(3));
        assert_eq!(t["b"].open, Some(1));
        assert_eq!(t["b"].targets, vec!["m_b".to_string()]);
    }
}
