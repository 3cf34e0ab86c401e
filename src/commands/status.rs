//! `status`: per tenant, what the ledger and the failure report say; with `--plan`,
//! also what a run would copy now.

use crate::commands::migration;
use crate::commands::watch::watched;
use crate::config::Settings;
use crate::ledger;
use crate::report::failures;
use crate::report::status::{self, Status};

/// Prints the status (JSON with `json`); contacts the server only with `with_plan`.
/// Returns the exit code (0).
pub async fn run(settings: &Settings, json: bool, with_plan: bool) -> anyhow::Result<u8> {
    let progress = ledger::fold::load_progress(&settings.run.ledger)?;
    let failed = failures::load(&settings.run.failure_report)?;
    let prepared = if with_plan {
        let prepared = migration::prepare(settings);
        Some(watched(settings.run.liveness_timeout, prepared).await?)
    } else {
        None
    };
    let status = Status {
        ledger: settings.run.ledger.display().to_string(),
        records: progress.lines.records,
        failure_report: settings.run.failure_report.display().to_string(),
        failures_written_at: failed.as_ref().map(|f| f.written_at.clone()),
        planned: with_plan,
        tenants: status::from_progress(
            progress.tenants,
            failed.as_ref().map_or(&[][..], |f| &f.failures[..]),
            prepared.as_ref().map(|p| &p.plan),
        ),
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&status)?);
    } else {
        print!("{}", status.render());
    }
    Ok(0)
}
