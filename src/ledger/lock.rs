//! One run at a time per ledger: an exclusive `flock` on `<ledger>.lock`.
//!
//! The kernel drops the lock when its holder dies, so a lock left by a killed run
//! never blocks the next one; the pid written inside is only for the message.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// Why the lock could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another live process holds it.
    #[error("another run holds the lock {path} (pid {pid}); wait for it to finish or stop it")]
    Held {
        /// Lock file.
        path: PathBuf,
        /// Holder's pid as written in the file (`unknown` if unreadable).
        pid: String,
    },
    /// The lock file could not be opened or locked.
    #[error("cannot lock {path}: {source}")]
    Io {
        /// Lock file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// Held while a run goes on; released on drop (or by the kernel if the process dies).
#[derive(Debug)]
pub struct RunLock {
    _file: File,
    path: PathBuf,
}

impl RunLock {
    /// The lock file that goes with a ledger.
    pub fn path_for(ledger: &Path) -> PathBuf {
        let mut p = ledger.as_os_str().to_owned();
        p.push(".lock");
        PathBuf::from(p)
    }

    /// Takes the lock for `ledger` without waiting.
    pub fn acquire(ledger: &Path) -> Result<RunLock, LockError> {
        let path = Self::path_for(ledger);
        let io = |source| LockError::Io {
            path: path.clone(),
            source,
        };
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut pid = String::new();
                let _ = file.read_to_string(&mut pid);
                let pid = pid.trim();
                return Err(LockError::Held {
                    path,
                    pid: if pid.is_empty() {
                        "unknown".into()
                    } else {
                        pid.to_string()
                    },
                });
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io(e)),
        }
        file.set_len(0).map_err(io)?;
        file.seek(SeekFrom::Start(0)).map_err(io)?;
        writeln!(file, "{}", std::process::id()).map_err(io)?;
        Ok(RunLock { _file: file, path })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A second lock on the same ledger is refused with the lock path and holder pid;
    /// after the first is dropped it can be taken again.
    #[test]
    fn second_lock_refused_until_released() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = dir.path().join("l");
        let first = RunLock::acquire(&ledger).unwrap();
        let err = RunLock::acquire(&ledger).unwrap_err().to_string();
        assert!(err.contains("l.lock"), "{err}");
        assert!(err.contains(&std::process::id().to_string()), "{err}");
        drop(first);
        RunLock::acquire(&ledger).unwrap();
    }
}
