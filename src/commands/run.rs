//! `run`: migrate, print the summary, write the run report and metrics.

use crate::commands::pipeline;
use crate::config::Settings;
use crate::copy::stop::StopSignal;
use crate::report::{outputs, run as run_report};
use std::time::{Instant, SystemTime};

/// Runs the migration and returns the exit code: 0 when every planned chunk was
/// copied (and verified), 1 when some failed or the run was stopped. Setup errors
/// (config, connection, lock, ledger) are `Err`, after the report files are written.
pub async fn run(settings: &Settings, json: bool, stop: StopSignal) -> anyhow::Result<u8> {
    let started = SystemTime::now();
    let clock = Instant::now();
    let result = pipeline::run(settings, stop).await;
    let report = run_report::build(settings, started, clock.elapsed(), result.as_ref());
    if let Ok(summary) = &result {
        eprint!("{}", summary.render());
        if json {
            println!("{}", serde_json::to_string_pretty(summary)?);
        }
    }
    outputs::write(&settings.run, &report)?;
    result.map(|s| s.exit_code())
}
