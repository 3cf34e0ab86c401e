//! What a run leaves behind besides the ledger: per-tenant figures counted while it
//! copies ([`Tally`]), the failure report, the JSON run report (`run.report`) and the
//! Prometheus metrics file (`run.metrics_file`), all written atomically.

use crate::config::Settings;
use crate::copy::Transfer;
use crate::plan::Chunk;
use crate::report::RunSummary;
use crate::status::{self, TenantStatus};
use crate::{atomic, failures, ledger, metrics};
use anyhow::Context;
use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// One tenant's figures in one run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantRun {
    /// Chunks (or pieces) copied, open ones included.
    pub chunks_copied: u64,
    /// Of those, closed ones, which the copier records in the ledger.
    pub chunks_recorded: u64,
    /// Chunks (or pieces) that still failed.
    pub chunks_failed: u64,
    /// Points the server reported written, open chunks included.
    pub points_copied: u64,
    /// Points of the closed chunks, as recorded in the ledger.
    pub points_recorded: u64,
}

/// A [`Transfer`] that counts what the transfer it wraps copied, per tenant.
pub struct Tally<'a> {
    inner: &'a dyn Transfer,
    figures: Mutex<BTreeMap<String, TenantRun>>,
}

impl<'a> Tally<'a> {
    /// Wraps a transfer.
    pub fn new(inner: &'a dyn Transfer) -> Self {
        Tally {
            inner,
            figures: Mutex::new(BTreeMap::new()),
        }
    }

    /// The figures so far, with the run's failures counted in.
    pub fn figures(&self, failed: &[crate::copy::FailedChunk]) -> BTreeMap<String, TenantRun> {
        let mut f = self
            .figures
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        for c in failed {
            f.entry(c.chunk.tenant.clone()).or_default().chunks_failed += 1;
        }
        f
    }
}

impl Transfer for Tally<'_> {
    fn target_url(&self) -> &str {
        self.inner.target_url()
    }

    fn describe(&self, chunk: &Chunk) -> String {
        self.inner.describe(chunk)
    }

    fn transfer<'b>(
        &'b self,
        chunk: &'b Chunk,
    ) -> BoxFuture<'b, Result<u64, crate::client::ClientError>> {
        Box::pin(async move {
            let r = self.inner.transfer(chunk).await;
            if let Ok(points) = r {
                let mut f = self.figures.lock().unwrap_or_else(|p| p.into_inner());
                let t = f.entry(chunk.tenant.clone()).or_default();
                t.chunks_copied += 1;
                t.points_copied += points;
                if chunk.closed {
                    t.chunks_recorded += 1;
                    t.points_recorded += points;
                }
            }
            r
        })
    }
}

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

fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_seconds(t).to_string()
}

/// Unix seconds of a time.
pub fn unix_secs(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// Builds the report of a finished run (or of one stopped by a fatal error).
pub fn build(
    settings: &Settings,
    started: SystemTime,
    elapsed: Duration,
    result: Result<&RunSummary, &anyhow::Error>,
) -> RunReport {
    let (summary, error, exit_code) = match result {
        Ok(s) => (Some(s.clone()), None, s.exit_code()),
        Err(e) => (None, Some(format!("{e:#}")), 2),
    };
    let records = ledger::load(&settings.run.ledger)
        .map(|p| p.records)
        .unwrap_or_default();
    let failed = summary.as_ref().map_or(&[][..], |s| &s.failures[..]);
    let mut tenants: BTreeMap<String, TenantReport> = status::tenants(&records, failed, None)
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
        source: settings.source.url.clone(),
        database: settings.source.database.clone(),
        ledger: settings.run.ledger.display().to_string(),
        summary,
        tenants,
    }
}

/// After a run: updates the failure report (only when the run got as far as copying),
/// writes the JSON report and the metrics file when configured.
pub fn write_outputs(settings: &Settings, report: &RunReport) -> anyhow::Result<()> {
    // A run stopped before it tried everything keeps the previous report's failures.
    if let Some(s) = report
        .summary
        .as_ref()
        .filter(|s| !(s.interrupted && s.failures.is_empty()))
    {
        failures::save(
            &settings.run.failure_report,
            &settings.run.ledger,
            &s.failures,
        )?;
    }
    if let Some(path) = &settings.run.report {
        let mut text = serde_json::to_string_pretty(report).context("cannot encode run report")?;
        text.push('\n');
        atomic::write_atomic(path, text.as_bytes())?;
    }
    if let Some(path) = &settings.run.metrics_file {
        let previous = std::fs::read_to_string(path).unwrap_or_default();
        let text = metrics::render(report, metrics::last_success(&previous));
        atomic::write_atomic(path, text.as_bytes())?;
    }
    Ok(())
}
