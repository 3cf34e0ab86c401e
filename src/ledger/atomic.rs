//! Replacing a file atomically: write a temporary file in the same directory, sync
//! it, rename it over the target, sync the directory. A reader (node_exporter's
//! textfile collector, a monitoring script) sees the old file or the new one, never a
//! half-written one, and a crash leaves no torn file behind.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Writing or replacing a file failed.
#[derive(Debug, thiserror::Error)]
#[error("cannot write {path}: {source}")]
pub struct AtomicWriteError {
    /// The file that was to be written.
    pub path: PathBuf,
    /// The I/O error.
    #[source]
    pub source: std::io::Error,
}

fn dir_of(path: &Path) -> &Path {
    path.parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// Replaces `path` with `bytes` atomically. The file is made world-readable (0644):
/// these are reports meant for other readers, such as node_exporter.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), AtomicWriteError> {
    let err = |source| AtomicWriteError {
        path: path.to_path_buf(),
        source,
    };
    let dir = dir_of(path);
    // The temporary name starts with a dot and ends in .tmp, so a collector that reads
    // `*.prom` never picks it up half-written.
    let mut tmp = tempfile::Builder::new()
        .prefix(".itm-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(err)?;
    tmp.write_all(bytes).map_err(err)?;
    tmp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(0o644))
        .map_err(err)?;
    tmp.as_file().sync_all().map_err(err)?;
    tmp.persist(path).map_err(|e| err(e.error))?;
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(err)
}

/// Removes `path` if it exists.
pub fn remove_if_exists(path: &Path) -> Result<(), AtomicWriteError> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(AtomicWriteError {
            path: path.to_path_buf(),
            source,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A write replaces the whole file, leaves no temporary file and is readable by all.
    #[test]
    fn replaces_whole_file_without_leftovers() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.prom");
        std::fs::write(&p, "old content that is longer").unwrap();
        write_atomic(&p, b"new").unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "new");
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1);
        let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o644);
        remove_if_exists(&p).unwrap();
        remove_if_exists(&p).unwrap();
        assert!(!p.exists());
    }

    /// A missing directory is an error naming the file.
    #[test]
    fn missing_directory_names_file() {
        let e = write_atomic(Path::new("/nonexistent-dir-itm/x.json"), b"x").unwrap_err();
        assert!(e.to_string().contains("/nonexistent-dir-itm/x.json"), "{e}");
    }
}
