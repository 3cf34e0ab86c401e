//! The files a run leaves besides the ledger, written atomically: the failure report,
//! the JSON run report (`run.report`) and the Prometheus metrics (`run.metrics_file`).

use crate::config::RunSettings;
use crate::ledger::atomic;
use crate::report::run::RunReport;
use crate::report::{failures, metrics};
use anyhow::Context;

/// After a run: updates the failure report (only when the run got as far as copying),
/// writes the JSON report and the metrics file when configured.
pub fn write(run: &RunSettings, report: &RunReport) -> anyhow::Result<()> {
    // A run stopped before it tried everything keeps the previous report's failures.
    if let Some(s) = report
        .summary
        .as_ref()
        .filter(|s| !(s.interrupted && s.failures.is_empty()))
    {
        failures::save(&run.failure_report, &run.ledger, &s.failures)?;
    }
    if let Some(path) = &run.report {
        let mut text = serde_json::to_string_pretty(report).context("cannot encode run report")?;
        text.push('\n');
        atomic::write_atomic(path, text.as_bytes())?;
    }
    if let Some(path) = &run.metrics_file {
        let previous = std::fs::read_to_string(path).unwrap_or_default();
        let text = metrics::render(report, metrics::last_success(&previous));
        atomic::write_atomic(path, text.as_bytes())?;
    }
    Ok(())
}
