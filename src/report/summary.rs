//! What the commands print: the run summary, the plan and the ledger status, as
//! aligned text for people and JSON for tools.

use crate::copy::{FailedChunk, Outcome};
use crate::core::text::table;
use crate::core::window::format_ns;
use crate::plan::authorizations::{self, AuthStep};
use crate::plan::catalog::UntaggedMeasurement;
use crate::plan::catalog::UserGrant;
use crate::plan::late::LateReport;
use crate::plan::target::NotApplied;
use crate::plan::Plan;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::time::Duration;

/// The end-of-run summary.
#[derive(Debug, Clone, Serialize)]
pub struct RunSummary {
    /// Tenants planned.
    pub tenants: usize,
    /// Chunks planned.
    pub chunks_planned: usize,
    /// Chunks (and pieces of split chunks) copied.
    pub chunks_copied: u64,
    /// Of those, closed ones recorded in the ledger.
    pub chunks_recorded: u64,
    /// Windows skipped because the ledger covers them.
    pub windows_skipped_as_done: u64,
    /// Chunks split after failures.
    pub chunks_split: u64,
    /// Retries of transient failures.
    pub retries: u64,
    /// Chunks that fell behind the retention horizon before they ran.
    pub chunks_expired: u64,
    /// Points the server reported written.
    pub points_written: u64,
    /// Of those, points of open chunks (after the settle line): copied but not yet
    /// verified or recorded; the next run copies them again, `run --final` closes them.
    pub open_points_not_verified: u64,
    /// Wall time in seconds.
    pub elapsed_secs: f64,
    /// Points written per second of wall time.
    pub points_per_sec: f64,
    /// Requests sent to `/query` and `/write`, on every server (discovery, the copies,
    /// the verification's checks and its schema comparison included; `/ping` not).
    pub queries: u64,
    /// Stopped (by a signal, or a server found lost or unable to work) before every
    /// chunk ran.
    pub interrupted: bool,
    /// Planned chunks that neither completed nor failed: not started, or abandoned in
    /// flight and not recorded.
    pub chunks_not_run: u64,
    /// The server that stopped answering, or said it cannot work (out of open files or
    /// disk space), and so stopped the run (exit 2), as the error line says it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_lost: Option<String>,
    /// Chunks that still failed.
    pub failures: Vec<FailedChunk>,
    /// Per-tenant figures of this run.
    pub per_tenant: BTreeMap<String, crate::copy::tally::TenantRun>,
    /// What the checks found, unless verification was off.
    pub verification: Option<crate::verify::figures::VerifyReport>,
    /// Retention requests for existing databases left unapplied, with the statement
    /// that would apply each.
    pub retention_not_applied: Vec<NotApplied>,
    /// Privileges granted on every target database.
    pub grants: Vec<UserGrant>,
    /// Why nothing was granted, when that is not because no user has a privilege.
    pub grants_note: Option<String>,
    /// Measurements left out because no point carries their tenant tag, with their
    /// point counts.
    pub untagged_measurements: Vec<UntaggedMeasurement>,
    /// Why nothing was verified (`--no-verify`, `export writes files`), when so.
    pub not_verified: Option<String>,
    /// The late-point check made before planning, when the command makes one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub late: Option<LateReport>,
}

impl RunSummary {
    /// Builds the summary from the plan and what the copier did.
    pub fn new(plan: &Plan, o: Outcome, elapsed: Duration, queries: u64) -> Self {
        let secs = elapsed.as_secs_f64();
        RunSummary {
            tenants: plan.targets.len(),
            chunks_planned: plan.chunks.len(),
            chunks_copied: o.copied,
            chunks_recorded: o.recorded,
            windows_skipped_as_done: plan.covered_windows(),
            chunks_split: o.splits,
            retries: o.retries,
            chunks_expired: o.expired,
            points_written: o.points,
            open_points_not_verified: o.open_points,
            elapsed_secs: secs,
            points_per_sec: if secs > 0.0 {
                o.points as f64 / secs
            } else {
                0.0
            },
            queries,
            interrupted: o.interrupted,
            chunks_not_run: o.not_run,
            server_lost: None,
            failures: o.failed,
            per_tenant: BTreeMap::new(),
            verification: None,
            retention_not_applied: plan
                .targets
                .iter()
                .filter_map(|t| t.not_applied.clone())
                .collect(),
            grants: plan.grants.clone(),
            grants_note: plan.grants_note.clone(),
            untagged_measurements: plan.untagged.clone(),
            not_verified: None,
            late: plan.late.clone(),
        }
    }

    /// Process exit code: 0 when everything planned was copied (and, unless --no-verify,
    /// agrees with the source) and the late-point check ran; 2 when a server stopped
    /// answering (as for other fatal server errors); else 1.
    pub fn exit_code(&self) -> u8 {
        if self.server_lost.is_some() {
            return 2;
        }
        let verified = self.verification.as_ref().is_none_or(|v| !v.failed());
        let late_checked = self.late.as_ref().is_none_or(|l| !l.failed());
        if self.failures.is_empty() && !self.interrupted && verified && late_checked {
            0
        } else {
            1
        }
    }

    /// The points written, and how many of them lie in open chunks (not yet verified).
    fn points_cell(&self) -> String {
        match self.open_points_not_verified {
            0 => format!("{} (none in open chunks)", self.points_written),
            open => format!(
                "{} ({open} of them open, after the settle line: copied, not yet verified; the next run copies them again, run --final closes them)",
                self.points_written
            ),
        }
    }

    /// Human-readable summary, failures first.
    pub fn render(&self) -> String {
        let mut s = String::new();
        for f in &self.failures {
            let _ = writeln!(
                s,
                "failed: tenant {:?} {} .. {} ({} measurement(s), {} attempt(s))\n  query: {}\n  error: {}",
                f.chunk.tenant,
                format_ns(f.chunk.window.start),
                format_ns(f.chunk.window.end),
                f.chunk.measurements.len(),
                f.attempts,
                f.query,
                f.error
            );
        }
        let mut rows = vec![
            vec!["tenants".into(), self.tenants.to_string()],
            vec![
                "chunks copied".into(),
                format!(
                    "{} of {} planned ({} recorded as done, {} split, {} retries)",
                    self.chunks_copied,
                    self.chunks_planned,
                    self.chunks_recorded,
                    self.chunks_split,
                    self.retries
                ),
            ],
            vec![
                "skipped as done".into(),
                format!("{} windows", self.windows_skipped_as_done),
            ],
            vec!["failed".into(), self.failures.len().to_string()],
            vec!["points written".into(), self.points_cell()],
            vec![
                "elapsed".into(),
                format!(
                    "{:.1}s ({:.0} points/s, {} queries)",
                    self.elapsed_secs, self.points_per_sec, self.queries
                ),
            ],
        ];
        if let Some(late) = &self.late {
            s.push_str(&render_late(late));
            rows.insert(3, vec!["late points".into(), late_row(late)]);
        }
        if let Some(v) = &self.verification {
            s.push_str(&v.render());
        }
        for u in &self.untagged_measurements {
            let _ = writeln!(
                s,
                "not copied: measurement {:?} has no point with tenant tag {:?} ({})",
                u.measurement,
                u.tag,
                crate::source::findings::points_text(u.points)
            );
        }
        if let Some(why) = &self.not_verified {
            let _ = writeln!(s, "not verified: {why}");
        }
        if !self.per_tenant.is_empty() {
            let rows: Vec<Vec<String>> = self
                .per_tenant
                .iter()
                .map(|(t, r)| {
                    vec![
                        t.clone(),
                        r.chunks_copied.to_string(),
                        r.chunks_recorded.to_string(),
                        r.chunks_failed.to_string(),
                        r.points_copied.to_string(),
                    ]
                })
                .collect();
            s.push_str(&table(
                &["TENANT", "COPIED", "RECORDED", "FAILED", "POINTS"],
                &rows,
            ));
        }
        s.push_str(&table(&["summary", ""], &rows));
        s.push_str(&render_grants(&self.grants, self.grants_note.as_deref()));
        s.push_str(&render_not_applied(&self.retention_not_applied));
        if self.interrupted {
            let _ = writeln!(
                s,
                "stopped before every chunk ran: {} of {} planned chunks not run (not started, or abandoned in flight and not recorded): run again to finish",
                self.chunks_not_run, self.chunks_planned
            );
        }
        if let Some(lost) = &self.server_lost {
            let _ = writeln!(s, "stopped: {lost}");
        }
        s
    }
}

/// The privileges granted on every target database, one line.
pub fn render_grants(grants: &[UserGrant], note: Option<&str>) -> String {
    match (note, grants) {
        (Some(n), _) => format!("grants: {n}\n"),
        (None, []) => "grants: no non-admin user has a privilege on the source\n".to_string(),
        (None, g) => {
            let list: Vec<String> = g
                .iter()
                .map(|g| format!("{} {:?}", g.privilege.as_str(), g.user))
                .collect();
            format!("grants on every tenant database: {}\n", list.join(", "))
        }
    }
}

/// What the source's grants need on a 2.x target, one line each, with the commands
/// the operator runs.
pub fn render_v1_auths(steps: &[AuthStep]) -> String {
    let mut s = String::new();
    for step in steps {
        let commands = authorizations::commands(step).join("; ");
        match step {
            AuthStep::Create { user, permissions } => {
                let _ = writeln!(
                    s,
                    "v1 authorization {user:?}: created with {} bucket permission(s), without a password (1.x keeps only its hash); then: {commands}",
                    permissions.len()
                );
            }
            AuthStep::Missing {
                user, permissions, ..
            } => {
                let _ = writeln!(
                    s,
                    "v1 authorization {user:?} lacks {} tenant bucket permission(s), and 2.x cannot add them: recreate it: {commands}",
                    permissions.len()
                );
            }
        }
    }
    s
}

/// What a run on a 2.x target says of the users' access instead of the grants: the
/// v1 authorization steps it took or leaves to the operator, or that those there
/// already cover every tenant bucket.
pub fn v1_access(grants: &[UserGrant], steps: &[AuthStep]) -> String {
    if steps.is_empty() {
        let users: Vec<String> = grants.iter().map(|g| format!("{:?}", g.user)).collect();
        return match users.is_empty() {
            true => "no non-admin user has a privilege on the source".to_string(),
            false => format!(
                "the v1 authorizations of {} cover every tenant bucket",
                users.join(", ")
            ),
        };
    }
    render_v1_auths(steps).trim_end().replace('\n', "\n  ")
}

/// The retention requests left unapplied, each with the statement that applies it.
pub fn render_not_applied(list: &[NotApplied]) -> String {
    let mut s = String::new();
    for n in list {
        let _ = writeln!(
            s,
            "retention not applied: database {:?} (tenant {:?}) exists and keeps its default policy {:?}; {} asked for {:?} of {}. To apply it (monasca-api and the persister use only the default policy; points in the old one are no longer read):\n  {}",
            n.database, n.tenant, n.current_policy, n.requested_by, n.requested_policy, n.requested_duration, n.statement
        );
    }
    s
}

/// The late-point check in one summary cell.
pub(crate) fn late_row(l: &LateReport) -> String {
    if l.horizon_secs == 0 {
        return "off (run.late_horizon = 0): late writes into recorded windows are not copied"
            .into();
    }
    let horizon = humantime::format_duration(std::time::Duration::from_secs(l.horizon_secs));
    let mut cell = format!(
        "{} recorded chunks closed within {horizon} rechecked, {} reopened for late points ({} statements, {} tenants recounted by bucket, {} points counted, {:.1}s)",
        l.chunks_rechecked,
        l.reopened.len(),
        l.statements,
        l.tenants_recounted,
        l.points_counted,
        l.elapsed_ms as f64 / 1000.0
    );
    if l.chunks_unaligned > 0 {
        let _ = write!(
            cell,
            ", {} not on whole minutes left unchecked",
            l.chunks_unaligned
        );
    }
    if l.failed() {
        cell.push_str(", FAILED");
    }
    cell
}

/// One line per reopened window, and the check's error.
pub(crate) fn render_late(l: &LateReport) -> String {
    let mut s = String::new();
    for r in &l.reopened {
        let _ = writeln!(
            s,
            "late points: tenant {:?} {} .. {} ({}): source {} points, recorded {}: copied again",
            r.tenant,
            format_ns(r.window.start),
            format_ns(r.window.end),
            r.measurements.join(", "),
            r.source,
            r.recorded
        );
    }
    if let Some(e) = &l.error {
        let _ = writeln!(
            s,
            "failed: {e}; recorded windows were not rechecked for late points"
        );
    }
    s
}
