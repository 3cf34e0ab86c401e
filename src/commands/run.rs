//! `run`: migrate, print the summary, write the failure report, run report and metrics.

use crate::commands::migration::{Destination, Migration};
use crate::commands::pipeline;
use crate::config::Settings;
use crate::copy::stop::StopSignal;

/// Runs the migration and returns the exit code: 0 when every planned chunk was
/// copied (and verified), 1 when some failed or the run was stopped. Setup errors
/// (config, connection, lock, ledger) are `Err`, after the report files are written.
pub async fn run(settings: &Settings, json: bool, stop: StopSignal) -> anyhow::Result<u8> {
    let job = Destination::from_settings(settings).and_then(|d| Migration::new(settings, d));
    pipeline::run(settings, job, json, stop).await
}
