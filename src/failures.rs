//! The failure report: the chunks that still failed after a run, each with its query,
//! the last error and the attempts made. Written atomically after every run that had
//! failures, removed after one that had none; the next run reads it to start failed
//! tenants at the smaller window that was last tried.

use crate::copy::FailedChunk;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::Path;

/// The report file's content.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FailureReport {
    /// When the run ended (RFC 3339).
    pub generated_at: String,
    /// The chunks that failed.
    pub failures: Vec<FailedChunk>,
}

/// Writes the report for `failures` (atomically: temp file, fsync, rename), or removes
/// a stale one when there are none and the run was not interrupted.
pub fn store(path: &Path, failures: &[FailedChunk], interrupted: bool) -> std::io::Result<()> {
    if failures.is_empty() {
        if !interrupted {
            match std::fs::remove_file(path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
        return Ok(());
    }
    let report = FailureReport {
        generated_at: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
        failures: failures.to_vec(),
    };
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    serde_json::to_writer_pretty(&mut tmp, &report)?;
    tmp.write_all(b"\n")?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// Reads a report; a missing or unreadable one is `None` (it only guides planning).
pub fn load(path: &Path) -> Option<FailureReport> {
    let text = std::fs::read_to_string(path).ok()?;
    match serde_json::from_str(&text) {
        Ok(r) => Some(r),
        Err(e) => {
            tracing::warn!(report = %path.display(), error = %e, "ignoring unreadable failure report");
            None
        }
    }
}
