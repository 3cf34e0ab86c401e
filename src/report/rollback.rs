//! What `rollback --dry-run` prints: per tenant database, whether the persister
//! created it after the switch, from when it is copied back, chunks and points.

use crate::core::text::table;
use crate::core::window::format_ns;
use crate::plan::rollback::RollbackSource;
use crate::plan::Plan;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write;

/// The dry run's answer.
#[derive(Debug, Serialize)]
pub struct RollbackReport {
    /// The shared database the points go back into.
    pub shared: String,
    /// Per tenant database.
    pub sources: Vec<SourceReport>,
    /// Per tenant database: tenants found in it whose database it is not (not copied).
    pub foreign: BTreeMap<String, Vec<String>>,
}

/// One tenant database.
#[derive(Debug, Serialize)]
pub struct SourceReport {
    /// Its name.
    pub database: String,
    /// Its tenants.
    pub tenants: Vec<String>,
    /// Created after the switch (the forward run never wrote it).
    pub new: bool,
    /// Copied from this time on (RFC 3339); `None`: all of it.
    pub since: Option<String>,
    /// Closed chunks (copied, checked, recorded).
    pub closed_chunks: usize,
    /// Open chunks (copied on every run).
    pub open_chunks: usize,
    /// Points to copy (largest field count per measurement).
    pub points: u64,
}

impl SourceReport {
    /// The line of `src`, planned as `plan`, with `points` counted.
    pub fn new(src: &RollbackSource, plan: &Plan, points: u64) -> Self {
        let closed = plan.closed_chunks();
        SourceReport {
            database: src.database.clone(),
            tenants: plan.tenants.keys().cloned().collect(),
            new: src.new,
            since: src.since.map(format_ns),
            closed_chunks: closed,
            open_chunks: plan.chunks.len() - closed,
            points,
        }
    }
}

impl RollbackReport {
    /// The text form.
    pub fn render(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "rollback into {:?} (default policy): {} tenant databases, {} new since the switch, {} points",
            self.shared,
            self.sources.len(),
            self.sources.iter().filter(|r| r.new).count(),
            self.sources.iter().map(|r| r.points).sum::<u64>()
        );
        let rows: Vec<Vec<String>> = self
            .sources
            .iter()
            .map(|r| {
                vec![
                    r.database.clone(),
                    r.tenants.join(","),
                    if r.new { "new" } else { "migrated" }.to_string(),
                    r.since.clone().unwrap_or_else(|| "all".into()),
                    r.closed_chunks.to_string(),
                    r.open_chunks.to_string(),
                    r.points.to_string(),
                ]
            })
            .collect();
        s.push_str(&table(
            &[
                "DATABASE", "TENANT", "KIND", "SINCE", "CLOSED", "OPEN", "POINTS",
            ],
            &rows,
        ));
        for (db, tenants) in &self.foreign {
            let _ = writeln!(
                s,
                "not copied: {db:?} holds points of other tenants ({}); it is not theirs by the naming rule",
                tenants.join(", ")
            );
        }
        s.push_str("dry run: nothing written\n");
        s
    }
}
