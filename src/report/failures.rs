//! The failure report file: the chunks the last run could not copy, as JSON, so that
//! `status` (and operators' scripts) can tell failed chunks from pending ones.
//!
//! Written atomically after every run that had failures, removed after a run without
//! any: the file always describes the last run.

use crate::copy::FailedChunk;
use crate::ledger::atomic::{remove_if_exists, write_atomic, AtomicWriteError};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The file's content.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FailureReport {
    /// When the run that failed finished (RFC 3339).
    pub written_at: String,
    /// The ledger of that run.
    pub ledger: String,
    /// The chunks (or pieces) that still failed.
    pub failures: Vec<FailedChunk>,
}

/// Reading the failure report failed.
#[derive(Debug, thiserror::Error)]
pub enum FailureReportError {
    /// The file exists but cannot be read.
    #[error("cannot read failure report {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a failure report.
    #[error("failure report {path} is not valid: {reason}")]
    Bad {
        /// The file.
        path: PathBuf,
        /// What the parser said.
        reason: String,
    },
}

/// Writes the failures of a run to `path` atomically, or removes the file when there
/// are none.
pub fn save(path: &Path, ledger: &Path, failures: &[FailedChunk]) -> Result<(), AtomicWriteError> {
    if failures.is_empty() {
        return remove_if_exists(path);
    }
    let report = FailureReport {
        written_at: crate::core::clock::rfc3339_now(),
        ledger: ledger.display().to_string(),
        failures: failures.to_vec(),
    };
    let mut text = serde_json::to_string_pretty(&report).expect("failure reports serialize");
    text.push('\n');
    write_atomic(path, text.as_bytes())
}

/// Reads the failure report; a missing file means the last run had no failures.
pub fn load(path: &Path) -> Result<Option<FailureReport>, FailureReportError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(FailureReportError::Io {
                path: path.to_path_buf(),
                source,
            })
        }
    };
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| FailureReportError::Bad {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::interval::Interval;
    use crate::core::window::TimeUnit;
    use crate::plan::Chunk;

    /// Failures round-trip through the file; a run without failures removes it.
    #[test]
    fn save_load_remove() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.json");
        assert!(load(&path).unwrap().is_none());
        let f = FailedChunk {
            chunk: Chunk {
                tenant: "t\"1".into(),
                target: "db_t1".into(),
                target_rp: "autogen".into(),
                measurements: vec!["cpu".into()].into(),
                window: Interval::new(0, 10),
                unit: TimeUnit::Hour,
                closed: true,
                retention_ns: None,
            },
            query: "SELECT 1".into(),
            error: "boom".into(),
            attempts: 4,
        };
        save(&path, Path::new("l"), std::slice::from_ref(&f)).unwrap();
        let back = load(&path).unwrap().unwrap();
        assert_eq!(back.failures.len(), 1);
        assert_eq!(back.failures[0].chunk, f.chunk);
        save(&path, Path::new("l"), &[]).unwrap();
        assert!(!path.exists());
        std::fs::write(&path, "{").unwrap();
        let e = load(&path).unwrap_err().to_string();
        assert!(e.contains("f.json"), "{e}");
    }
}
