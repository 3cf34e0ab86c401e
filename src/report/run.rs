//! The JSON run report (`run.report`): what one run did, per tenant, beside what the
//! ledger says after it.

use crate::config::SourceSettings;
use crate::copy::tally::TenantRun;
use crate::core::clock::rfc3339;
use crate::ledger;
use crate::report::status::{self, TenantStatus};
use crate::report::summary::RunSummary;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, SystemTime};

/// One tenant in the run report.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TenantReport {
    /// What this run did.
    pub run: TenantRun,
    /// The ledger after the run (done, verified, points, covered range); `failed` is
    /// this run's.
    pub ledger: TenantStatus,
}

/// The JSON run report.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    /// Tool version.
    pub version: &'static str,
    /// When the run started (RFC 3339).
    pub started_at: String,
    /// When it finished (RFC 3339).
    pub finished_at: String,
    /// Wall time in seconds.
    pub elapsed_secs: f64,
    /// The process exit code.
    pub exit_code: u8,
    /// A fatal error that stopped the run (config, connection, lock, ledger).
    pub error: Option<String>,
    /// Source server.
    pub source: String,
    /// Source database.
    pub database: String,
    /// The ledger.
    pub ledger: String,
    /// Totals, failures (with queries and errors) and verification, when the run got
    /// as far as copying.
    pub summary: Option<RunSummary>,
    /// Per tenant.
    pub tenants: BTreeMap<String, TenantReport>,
}

/// Builds the report of a finished run (or of one stopped by a fatal error).
pub fn build(
    source: &SourceSettings,
    ledger_path: &Path,
    started: SystemTime,
    elapsed: Duration,
    result: Result<&RunSummary, &anyhow::Error>,
) -> RunReport {
    let (summary, error, exit_code) = match result {
        Ok(s) => (Some(s.clone()), s.server_lost.clone(), s.exit_code()),
        Err(e) => (None, Some(format!("{e:#}")), 2),
    };
    let progress = ledger::fold::load_progress(ledger_path)
        .map(|p| p.tenants)
        .unwrap_or_default();
    let failed = summary.as_ref().map_or(&[][..], |s| &s.failures[..]);
    let mut tenants: BTreeMap<String, TenantReport> = status::from_progress(progress, failed, None)
        .into_iter()
        .map(|(t, l)| {
            (
                t,
                TenantReport {
                    run: TenantRun::default(),
                    ledger: l,
                },
            )
        })
        .collect();
    if let Some(s) = &summary {
        for (t, r) in &s.per_tenant {
            tenants.entry(t.clone()).or_default().run = r.clone();
        }
    }
    RunReport {
        version: env!("CARGO_PKG_VERSION"),
        started_at: rfc3339(started),
        finished_at: rfc3339(started + elapsed),
        elapsed_secs: elapsed.as_secs_f64(),
        exit_code,
        error,
        source: source.url.clone(),
        database: source.database.clone(),
        ledger: ledger_path.display().to_string(),
        summary,
        tenants,
    }
}
