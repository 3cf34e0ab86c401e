//! `export`: each planned chunk to a gzip line-protocol file.

use crate::commands::migration::{Destination, Migration};
use crate::commands::pipeline;
use crate::config::Settings;
use crate::copy::stop::StopSignal;
use anyhow::Context;
use std::path::{Path, PathBuf};

/// The export directory, created if missing, as an absolute path.
fn export_dir(dir: &Path) -> anyhow::Result<PathBuf> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create export directory {}", dir.display()))?;
    dir.canonicalize()
        .with_context(|| format!("export directory {}", dir.display()))
}

/// The `export` command: plans as a copy would (against no target server), writes one
/// file per chunk under `dir`, prints the summary, writes the failure report, run
/// report and metrics, and returns the exit code (0 all done, 1 some chunks failed or
/// the run was stopped).
pub async fn run(settings: &Settings, dir: &Path, stop: StopSignal) -> anyhow::Result<u8> {
    let job = export_dir(dir).and_then(|d| Migration::new(settings, Destination::Files(d)));
    pipeline::run(settings, job, false, stop).await
}
