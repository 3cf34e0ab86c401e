//! `export`: each planned chunk to a gzip line-protocol file.

use crate::commands::pipeline::{self, Destination};
use crate::config::Settings;
use crate::copy::stop::StopSignal;
use crate::report::summary::RunSummary;
use anyhow::Context;
use std::path::Path;

/// The `export` command: plans as a copy would (against no target server), then writes
/// one file per chunk. `dir` is created if missing.
async fn export(settings: &Settings, dir: &Path, stop: StopSignal) -> anyhow::Result<RunSummary> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create export directory {}", dir.display()))?;
    let dir = dir
        .canonicalize()
        .with_context(|| format!("export directory {}", dir.display()))?;
    pipeline::run_to(settings, Destination::Files(dir), stop).await
}

/// Runs `export`, prints its summary and returns the exit code (0 all done, 1 some
/// chunks failed or the run was stopped).
pub async fn run(settings: &Settings, dir: &Path, stop: StopSignal) -> anyhow::Result<u8> {
    let summary = export(settings, dir, stop).await?;
    eprint!("{}", summary.render());
    Ok(summary.exit_code())
}
