//! Export to and import from gzip line-protocol files, one file per chunk.
//!
//! Layout: `DIR/<tenant>/<start>-<end>-<hash>.lp.gz`, where `<tenant>` is the tenant id
//! with every byte outside `[A-Za-z0-9_.-]` percent-encoded (a leading `.` too),
//! `<start>`/`<end>` the chunk window in ns and `<hash>` 16 hex digits of FNV-1a over
//! the source database, policy and measurements. The first line is a comment (InfluxDB
//! ignores `#` lines) holding an [`ExportHeader`] as JSON: tenant, source, measurements,
//! window, and whether the chunk was closed. The rest is plain line protocol, written
//! by [`crate::influx::lineproto`] exactly as a cross-server copy writes it.
//!
//! A file is written under `<name>.tmp`, synced, and renamed, and the directory synced:
//! a crash never leaves a partial file under a final name. Export records closed chunks
//! in the ledger with `target_url` = `file://DIR` (absolute); import records each closed
//! file it loaded with `source` = `file://DIR` and `target_url` = the target server,
//! so reruns of either skip what is done. Open chunks (still receiving late points)
//! are exported and imported on every run and never recorded, as in a copy.

use crate::config::TenantSettings;
use crate::copy::stream::{write_batches, ChunkReader, LineBatch, WriteApi, PIPELINE_BATCHES};
use crate::copy::transfer::Transfer;
use crate::core::interval::Interval;
use crate::core::window::TimeUnit;
use crate::influx::client::Client;
use crate::influx::error::ClientError;
use crate::influx::lineproto::next_point;
use crate::ledger::{Coverage, Scope, SourceRef};
use crate::plan::catalog::RetentionPolicy;
use crate::plan::target::{target_plan, TargetPlan, TargetRules};
use crate::plan::{Chunk, Plan, PlanError, TenantPlan};

use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use tokio::sync::{mpsc, oneshot};

/// What the first line of an export file says about it.
pub const HEADER_PREFIX: &str = "# influx-tenant-migrate export ";

/// Extension of finished export files.
pub const EXTENSION: &str = ".lp.gz";

/// Describes an export file; its first line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportHeader {
    /// Format version (1).
    pub format: u32,
    /// Tenant id.
    pub tenant: String,
    /// Source server URL.
    pub source: String,
    /// Source database.
    pub source_db: String,
    /// Source retention policy.
    pub source_rp: String,
    /// Source measurements the chunk covered (points carry their possibly renamed
    /// names).
    pub measurements: Vec<String>,
    /// First nanosecond of the window.
    pub start: i64,
    /// First nanosecond after the window.
    pub end: i64,
    /// Window size the chunk was cut with.
    pub unit: TimeUnit,
    /// The window had settled when exported: its content is final.
    pub closed: bool,
}

impl ExportHeader {
    /// The window `[start, end)`.
    pub fn window(&self) -> Interval {
        Interval::new(self.start, self.end)
    }
}

/// The directory name of a tenant: bytes outside `[A-Za-z0-9_.-]` (and a leading `.`)
/// percent-encoded, so any tenant id is one safe path component. Over-long names are
/// cut and suffixed with a hash; the header, not the name, says the tenant.
pub fn tenant_dir(tenant: &str) -> String {
    let mut out = String::with_capacity(tenant.len());
    for (i, b) in tenant.bytes().enumerate() {
        if b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || (b == b'.' && i > 0) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    if out.len() > 200 {
        out.truncate(200);
        out.push_str(&format!("~{:016x}", fnv1a([tenant.as_bytes()])));
    }
    out
}

fn fnv1a<'a>(parts: impl IntoIterator<Item = &'a [u8]>) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for &b in p.iter().chain([0u8].iter()) {
            h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    h
}

/// Where a chunk's export file goes.
pub fn file_path(dir: &Path, source_db: &str, source_rp: &str, chunk: &Chunk) -> PathBuf {
    let hash = fnv1a(
        [source_db.as_bytes(), source_rp.as_bytes()]
            .into_iter()
            .chain(chunk.measurements.iter().map(|m| m.as_bytes())),
    );
    dir.join(tenant_dir(&chunk.tenant)).join(format!(
        "{}-{}-{hash:016x}{EXTENSION}",
        chunk.window.start, chunk.window.end
    ))
}

fn file_error(path: &Path, e: impl std::fmt::Display) -> ClientError {
    ClientError::File {
        path: path.display().to_string(),
        reason: e.to_string(),
    }
}

fn sync_dir(dir: &Path) -> Result<(), ClientError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| file_error(dir, e))
}

/// Writes batches into `path` through a temporary file; renames it into place only
/// when `commit` says the whole chunk was read. Blocking: runs on a blocking thread.
fn write_file(
    path: &Path,
    header: &ExportHeader,
    mut rx: mpsc::Receiver<LineBatch>,
    mut commit: oneshot::Receiver<()>,
) -> Result<u64, ClientError> {
    let parent = path
        .parent()
        .expect("export files live in a tenant directory");
    let root = parent
        .parent()
        .expect("tenant directories live in the export dir");
    if !parent.is_dir() {
        std::fs::create_dir_all(parent).map_err(|e| file_error(parent, e))?;
        sync_dir(root)?;
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let err = |e: std::io::Error| file_error(&tmp, e);
    let file = File::create(&tmp).map_err(err)?;
    let mut gz = flate2::write::GzEncoder::new(
        std::io::BufWriter::with_capacity(256 * 1024, file),
        flate2::Compression::default(),
    );
    let mut head = String::from(HEADER_PREFIX);
    head.push_str(&serde_json::to_string(header).expect("headers serialize"));
    head.push('\n');
    gz.write_all(head.as_bytes()).map_err(err)?;
    let mut points = 0;
    while let Some(b) = rx.blocking_recv() {
        gz.write_all(b.text.as_bytes()).map_err(err)?;
        points += b.points;
    }
    if commit.try_recv().is_err() {
        // The read failed or the run was abandoned: no final name for a part.
        drop(gz);
        let _ = std::fs::remove_file(&tmp);
        return Err(file_error(
            path,
            "chunk not read to its end; file not written",
        ));
    }
    let file = gz
        .finish()
        .map_err(err)?
        .into_inner()
        .map_err(|e| err(e.into_error()))?;
    file.sync_all().map_err(err)?;
    drop(file);
    std::fs::rename(&tmp, path).map_err(|e| file_error(path, e))?;
    sync_dir(parent)?;
    Ok(points)
}

/// Export of a chunk into its file.
#[derive(Debug, Clone)]
pub struct FileExport<'a> {
    /// How chunks are read.
    pub reader: ChunkReader<'a>,
    /// Source server URL (for headers).
    pub source_url: &'a str,
    /// Export directory, absolute.
    pub dir: PathBuf,
    /// `file://DIR`.
    pub url: String,
}

impl Transfer for FileExport<'_> {
    fn describe(&self, chunk: &Chunk) -> String {
        let path = file_path(
            &self.dir,
            self.reader.source.db,
            self.reader.source.rp,
            chunk,
        );
        format!("{}  ->  {}", self.reader.query(chunk), path.display())
    }

    fn transfer<'a>(&'a self, chunk: &'a Chunk) -> BoxFuture<'a, Result<u64, ClientError>> {
        Box::pin(async move {
            let src = &self.reader.source;
            let path = file_path(&self.dir, src.db, src.rp, chunk);
            let header = ExportHeader {
                format: 1,
                tenant: chunk.tenant.clone(),
                source: self.source_url.to_string(),
                source_db: src.db.to_string(),
                source_rp: src.rp.to_string(),
                measurements: chunk.measurements.to_vec(),
                start: chunk.window.start,
                end: chunk.window.end,
                unit: chunk.unit,
                closed: chunk.closed,
            };
            let (tx, rx) = mpsc::channel(PIPELINE_BATCHES);
            let (commit_tx, commit_rx) = oneshot::channel();
            let writer =
                tokio::task::spawn_blocking(move || write_file(&path, &header, rx, commit_rx));
            let read = async move {
                let tx = tx;
                let n = self.reader.read(chunk, &tx).await?;
                // Sent before `tx` is dropped, so the writer sees it once the channel
                // closes.
                let _ = commit_tx.send(());
                Ok::<_, ClientError>(n)
            };
            let write = async move {
                writer
                    .await
                    .map_err(|e| file_error(Path::new("export writer"), e))?
            };
            let (_, points) = tokio::try_join!(read, write)?;
            Ok(points)
        })
    }

    fn target_url(&self) -> &str {
        &self.url
    }
}

/// An export file found by [`list`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportFile {
    /// Its path.
    pub path: PathBuf,
    /// Its first line.
    pub header: ExportHeader,
}

/// Reads the header of an export file.
pub fn read_header(path: &Path) -> Result<ExportHeader, ClientError> {
    let file = File::open(path).map_err(|e| file_error(path, e))?;
    let mut line = String::new();
    BufReader::new(flate2::read::GzDecoder::new(file))
        .take(1 << 20)
        .read_line(&mut line)
        .map_err(|e| file_error(path, e))?;
    let json = line
        .strip_prefix(HEADER_PREFIX)
        .ok_or_else(|| file_error(path, "not an influx-tenant-migrate export (no header line)"))?;
    let h: ExportHeader = serde_json::from_str(json.trim_end())
        .map_err(|e| file_error(path, format!("bad header: {e}")))?;
    if h.format != 1 {
        return Err(file_error(
            path,
            format!("unknown export format {}", h.format),
        ));
    }
    Ok(h)
}

/// The export files under `dir` (`DIR/*/*.lp.gz`), sorted by path; temporary files
/// of an interrupted export are ignored.
pub fn list(dir: &Path) -> Result<Vec<ExportFile>, ClientError> {
    let entries = |d: &Path| -> Result<Vec<PathBuf>, ClientError> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(d)
            .map_err(|e| file_error(d, e))?
            .map(|e| e.map(|e| e.path()).map_err(|e| file_error(d, e)))
            .collect::<Result<_, _>>()?;
        v.sort();
        Ok(v)
    };
    let mut out = Vec::new();
    for sub in entries(dir)?.into_iter().filter(|p| p.is_dir()) {
        for path in entries(&sub)? {
            let is_export = path
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.ends_with(EXTENSION));
            if is_export && path.is_file() {
                let header = read_header(&path)?;
                out.push(ExportFile { path, header });
            }
        }
    }
    Ok(out)
}

/// A file to load, as the import plan knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportSource {
    /// The file's window.
    pub window: Interval,
    /// Its source measurements.
    pub measurements: Vec<String>,
    /// Its path.
    pub path: PathBuf,
    /// Source database and policy of the export, for the ledger.
    pub source: (String, String),
}

/// Files by `(target database, tenant, first measurement)`: how a chunk, or a piece
/// the copier split off it, finds its file.
pub type FileIndex = HashMap<(String, String, String), Vec<ImportSource>>;

/// An import plan: chunks as for a copy, and the file behind each.
#[derive(Debug, Default)]
pub struct ImportPlan {
    /// The plan the copier runs (one chunk per file to load).
    pub plan: Plan,
    /// The files behind the chunks.
    pub files: FileIndex,
}

/// Plans an import. Pure: files already loaded (closed ones the ledger covers for
/// this directory and target) are skipped; target databases and policies follow the
/// same rules as a copy (template, retention), checked against `existing` on the
/// target server.
pub fn plan_import(
    files: &[ExportFile],
    rules: &ImportRules<'_>,
    existing: &BTreeMap<String, Vec<RetentionPolicy>>,
    coverage: &Coverage,
    dir_url: &str,
    target_url: &str,
    now_ns: i64,
) -> Result<ImportPlan, PlanError> {
    let mut out = ImportPlan::default();
    out.plan.now_ns = now_ns;
    let mut targets = ImportTargets {
        rules: rules.targets,
        existing,
        by_tenant: BTreeMap::new(),
        owners: BTreeMap::new(),
    };
    for f in files {
        let h = &f.header;
        if !rules.tenants.selects(&h.tenant) {
            continue;
        }
        let (target, new) = targets.of(h)?;
        if new {
            out.plan.targets.push(target.clone());
        }
        let source = SourceRef {
            url: dir_url,
            db: &h.source_db,
            rp: &h.source_rp,
        };
        let scope = source.scope(
            target_url,
            &target.database,
            &target.retention_policy,
            &h.tenant,
        );
        let tp = out.plan.tenants.entry(h.tenant.clone()).or_default();
        if loaded(h, coverage, &scope) {
            tp.covered_windows += 1;
            continue;
        }
        count_file(tp, h);
        out.add(f, target);
    }
    out.plan.chunks.sort_by(|a, b| {
        (a.window.start, &a.tenant, &a.measurements).cmp(&(
            b.window.start,
            &b.tenant,
            &b.measurements,
        ))
    });
    Ok(out)
}

/// The settings an import plan reads.
#[derive(Debug, Clone, Copy)]
pub struct ImportRules<'a> {
    /// Which tenants to import.
    pub tenants: &'a TenantSettings,
    /// How their target databases are named and which retention they get.
    pub targets: TargetRules<'a>,
}

/// The target databases of an import, named as a copy names them, one tenant each.
struct ImportTargets<'a> {
    /// Target names and retention.
    rules: TargetRules<'a>,
    /// Databases and policies on the target server.
    existing: &'a BTreeMap<String, Vec<RetentionPolicy>>,
    /// Targets planned so far, by source database and tenant.
    by_tenant: BTreeMap<(String, String), TargetPlan>,
    /// The tenant each target database was planned for.
    owners: BTreeMap<String, String>,
}

impl ImportTargets<'_> {
    /// The target of a file's tenant, and whether its database is new to the plan.
    /// Two tenants whose files name one database are refused, as in a copy.
    fn of(&mut self, h: &ExportHeader) -> Result<(TargetPlan, bool), PlanError> {
        let key = (h.source_db.clone(), h.tenant.clone());
        if let Some(tp) = self.by_tenant.get(&key) {
            return Ok((tp.clone(), false));
        }
        let tp = target_plan(&self.rules, &h.source_db, self.existing, &h.tenant);
        let new = match self.owners.insert(tp.database.clone(), h.tenant.clone()) {
            Some(first) if first != h.tenant => {
                return Err(PlanError::TargetCollision {
                    target: tp.database,
                    first,
                    second: h.tenant.clone(),
                })
            }
            Some(_) => false,
            None => true,
        };
        self.by_tenant.insert(key, tp.clone());
        Ok((tp, new))
    }
}

/// A closed file whose every measurement the ledger covers over its window: loaded
/// before. Open files are loaded on every run.
fn loaded(h: &ExportHeader, coverage: &Coverage, scope: &Scope) -> bool {
    h.closed
        && h.measurements
            .iter()
            .all(|m| coverage.get(scope, m).covers(h.window()))
}

/// Counts a file to load in its tenant's figures.
fn count_file(tp: &mut TenantPlan, h: &ExportHeader) {
    if h.closed {
        tp.closed_chunks += 1;
    } else {
        tp.open_chunks += 1;
    }
    let window = h.window();
    tp.range = Some(match tp.range {
        Some(r) => Interval::new(r.start.min(window.start), r.end.max(window.end)),
        None => window,
    });
}

impl ImportPlan {
    /// Adds a file to load into `target`: a chunk, and the file behind it. A file
    /// without measurements has nothing to load.
    fn add(&mut self, f: &ExportFile, target: TargetPlan) {
        let h = &f.header;
        let Some(first) = h.measurements.first() else {
            return;
        };
        self.files
            .entry((target.database.clone(), h.tenant.clone(), first.clone()))
            .or_default()
            .push(ImportSource {
                window: h.window(),
                measurements: h.measurements.clone(),
                path: f.path.clone(),
                source: (h.source_db.clone(), h.source_rp.clone()),
            });
        self.plan.chunks.push(Chunk {
            tenant: h.tenant.clone(),
            target: target.database,
            target_rp: target.retention_policy,
            measurements: h.measurements.clone().into(),
            window: h.window(),
            unit: h.unit,
            closed: h.closed,
            retention_ns: target.retention_ns,
        });
    }

    /// The plan's chunks grouped by the source database and policy of their files, so
    /// each ledger record can name the ones its file came from.
    pub fn by_source(&self) -> BTreeMap<(String, String), Plan> {
        let mut groups: BTreeMap<(String, String), Plan> = BTreeMap::new();
        for c in &self.plan.chunks {
            let src = find_source(&self.files, c)
                .map(|f| f.source.clone())
                .unwrap_or_default();
            groups
                .entry(src)
                .or_insert_with(|| Plan {
                    now_ns: self.plan.now_ns,
                    ..Plan::default()
                })
                .chunks
                .push(c.clone());
        }
        groups
    }
}

/// The file a chunk (or a piece the copier split off it) comes from.
fn find_source<'a>(files: &'a FileIndex, chunk: &Chunk) -> Option<&'a ImportSource> {
    let key = (
        chunk.target.clone(),
        chunk.tenant.clone(),
        chunk.measurements.first()?.clone(),
    );
    files.get(&key)?.iter().find(|f| {
        f.window.start <= chunk.window.start
            && chunk.window.end <= f.window.end
            && chunk
                .measurements
                .iter()
                .all(|m| f.measurements.contains(m))
    })
}

/// Reads the points of `path` inside `window` into batches. Blocking.
fn read_file(
    path: &Path,
    window: Interval,
    batch_points: usize,
    tx: mpsc::Sender<LineBatch>,
) -> Result<u64, ClientError> {
    let err = |e: std::io::Error| file_error(path, e);
    let file = File::open(path).map_err(err)?;
    let mut gz = flate2::read::GzDecoder::new(BufReader::with_capacity(256 * 1024, file));
    let mut buf: Vec<u8> = Vec::with_capacity(256 * 1024);
    let mut piece = vec![0u8; 64 * 1024];
    let (mut start, mut eof, mut sent) = (0usize, false, 0u64);
    let mut batch = LineBatch::default();
    loop {
        while let Some(p) = next_point(&buf[start..], eof) {
            let bytes = &buf[start..start + p.len];
            let at = start;
            start += p.len;
            if p.blank {
                continue;
            }
            let t = p.time.ok_or_else(|| {
                file_error(
                    path,
                    format!("no timestamp in the point near byte {at} of the data"),
                )
            })?;
            if t < window.start || t >= window.end {
                continue;
            }
            let text = std::str::from_utf8(bytes).map_err(|e| file_error(path, e))?;
            batch.text.push_str(text);
            if !text.ends_with('\n') {
                batch.text.push('\n');
            }
            batch.points += 1;
            if batch.points as usize >= batch_points {
                sent += batch.points;
                if tx.blocking_send(std::mem::take(&mut batch)).is_err() {
                    return Ok(sent);
                }
            }
        }
        if eof {
            break;
        }
        buf.drain(..start);
        start = 0;
        let n = gz.read(&mut piece).map_err(err)?;
        if n == 0 {
            eof = true;
        } else {
            buf.extend_from_slice(&piece[..n]);
        }
    }
    if batch.points > 0 {
        sent += batch.points;
        let _ = tx.blocking_send(batch);
    }
    Ok(sent)
}

/// Import of one file (or of a piece of its window) into the target server.
#[derive(Debug)]
pub struct FileImport<'a> {
    /// Target server.
    pub target: &'a Client,
    /// The plan's files.
    pub files: &'a FileIndex,
    /// Points per write request.
    pub batch_points: usize,
}

impl FileImport<'_> {
    /// The file a chunk (or a piece of one) comes from.
    pub fn source(&self, chunk: &Chunk) -> Option<&ImportSource> {
        find_source(self.files, chunk)
    }

    fn file(&self, chunk: &Chunk) -> Option<&Path> {
        self.source(chunk).map(|f| f.path.as_path())
    }
}

impl Transfer for FileImport<'_> {
    fn describe(&self, chunk: &Chunk) -> String {
        format!(
            "{}  ->  POST {}/write?db={}&rp={}",
            self.file(chunk)
                .map_or_else(|| "?".to_string(), |p| p.display().to_string()),
            self.target.url(),
            chunk.target,
            chunk.target_rp
        )
    }

    fn transfer<'a>(&'a self, chunk: &'a Chunk) -> BoxFuture<'a, Result<u64, ClientError>> {
        Box::pin(async move {
            let path = self
                .file(chunk)
                .ok_or_else(|| file_error(Path::new("?"), "no export file for this chunk"))?
                .to_path_buf();
            let (tx, rx) = mpsc::channel(PIPELINE_BATCHES);
            let (window, batch) = (chunk.window, self.batch_points);
            // A piece split off by measurement still loads the whole file: the other
            // measurements' points are written again, which changes nothing.
            let reader = tokio::task::spawn_blocking(move || read_file(&path, window, batch, tx));
            let read = async move {
                reader
                    .await
                    .map_err(|e| file_error(Path::new("import reader"), e))?
            };
            let write = write_batches(
                self.target,
                WriteApi::V1,
                &chunk.target,
                &chunk.target_rp,
                rx,
            );
            let (_, written) = tokio::try_join!(read, write)?;
            Ok(written)
        })
    }

    fn target_url(&self) -> &str {
        self.target.url()
    }
}

/// `file://` URL of a directory, as the ledger names it.
pub fn dir_url(dir: &Path) -> String {
    format!("file://{}", dir.display())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Settings;
    use crate::influx::client::Endpoint;
    use crate::ledger::{self, Scope};

    fn header(tenant: &str, ms: &[&str], start: i64, end: i64, closed: bool) -> ExportHeader {
        ExportHeader {
            format: 1,
            tenant: tenant.into(),
            source: "http://src".into(),
            source_db: "monasca".into(),
            source_rp: "autogen".into(),
            measurements: ms.iter().map(|s| s.to_string()).collect(),
            start,
            end,
            unit: TimeUnit::Week,
            closed,
        }
    }

    /// The import rules of `s`.
    fn rules(s: &Settings) -> ImportRules<'_> {
        ImportRules {
            tenants: &s.tenants,
            targets: crate::plan::planner::Rules::from_settings(s).targets,
        }
    }

    fn settings() -> Settings {
        crate::config::load_with_env(None, vec![], Some(Default::default())).unwrap()
    }

    /// Tenant directory names are single safe path components and distinct for
    /// distinct tenants.
    #[test]
    fn tenant_dirs() {
        assert_eq!(tenant_dir("abc-1_2.x"), "abc-1_2.x");
        assert_eq!(tenant_dir("a/b"), "a%2Fb");
        assert_eq!(tenant_dir(".."), "%2E.");
        assert_eq!(tenant_dir("a%2Fb"), "a%252Fb");
        assert_eq!(tenant_dir("ü"), "%C3%BC");
        let long = "x".repeat(300);
        assert!(tenant_dir(&long).len() < 255);
        assert_ne!(tenant_dir(&long), tenant_dir(&"x".repeat(301)));
    }

    /// Closed files the ledger covers for this directory and target are skipped; open
    /// ones are always loaded; coverage for another target server does not count.
    #[test]
    fn import_plan_skips_covered_closed_files() {
        let files = vec![
            ExportFile {
                path: "d/a/1.lp.gz".into(),
                header: header("a", &["cpu", "mem"], 0, 10, true),
            },
            ExportFile {
                path: "d/a/2.lp.gz".into(),
                header: header("a", &["cpu"], 10, 20, true),
            },
            ExportFile {
                path: "d/a/3.lp.gz".into(),
                header: header("a", &["cpu"], 20, 30, false),
            },
        ];
        let s = settings();
        let scope = |url: &str| Scope {
            source: "file:///d".into(),
            source_db: "monasca".into(),
            source_rp: "autogen".into(),
            target: "monasca_a".into(),
            target_rp: "autogen".into(),
            tenant: "a".into(),
            target_url: url.into(),
        };
        let rec = |sc: Scope, ms: &[&str], s: i64, e: i64| ledger::Record {
            split: false,
            kind: ledger::RecordKind::Copied,
            scope: sc,
            measurements: ms.iter().map(|m| m.to_string()).collect(),
            start: s,
            end: e,
            unit: TimeUnit::Week,
            points: 1,
            at: String::new(),
        };
        let cov = Coverage::from_records(&[
            rec(scope("http://t"), &["cpu", "mem"], 0, 10),
            rec(scope("http://t"), &["cpu"], 20, 30),
            rec(scope("http://other"), &["cpu"], 10, 20),
        ]);
        let ip = plan_import(
            &files,
            &rules(&s),
            &BTreeMap::new(),
            &cov,
            "file:///d",
            "http://t",
            0,
        )
        .unwrap();
        let windows: Vec<_> = ip
            .plan
            .chunks
            .iter()
            .map(|c| (c.window.start, c.closed))
            .collect();
        assert_eq!(windows, vec![(10, true), (20, false)]);
        assert_eq!(ip.plan.targets.len(), 1);
        assert!(ip.plan.targets[0].create_database);
        assert_eq!(ip.plan.tenants["a"].covered_windows, 1);
        let t = FileImport {
            target: &Client::new(
                &Endpoint {
                    url: "http://t".into(),
                    ..Endpoint::default()
                },
                std::time::Duration::from_secs(1),
            )
            .unwrap(),
            files: &ip.files,
            batch_points: 1,
        };
        let mut piece = ip.plan.chunks[0].clone();
        piece.window = Interval::new(12, 14);
        assert_eq!(t.file(&piece), Some(Path::new("d/a/2.lp.gz")));
    }

    /// An import plan's chunks group by the source database and policy of their
    /// files, every chunk in exactly one group, in plan order, with the plan's `now`.
    #[test]
    fn import_plan_groups_chunks_by_source() {
        let mut other_rp = header("a", &["cpu"], 10, 20, true);
        other_rp.source_rp = "weekly".into();
        let files = vec![
            ExportFile {
                path: "d/a/1.lp.gz".into(),
                header: header("a", &["cpu"], 0, 10, true),
            },
            ExportFile {
                path: "d/a/2.lp.gz".into(),
                header: other_rp,
            },
            ExportFile {
                path: "d/a/3.lp.gz".into(),
                header: header("a", &["mem"], 20, 30, false),
            },
        ];
        let s = settings();
        let ip = plan_import(
            &files,
            &rules(&s),
            &BTreeMap::new(),
            &Coverage::default(),
            "file:///d",
            "http://t",
            7,
        )
        .unwrap();
        let groups = ip.by_source();
        let starts = |db: &str, rp: &str| -> Vec<i64> {
            let plan = &groups[&(db.to_string(), rp.to_string())];
            assert_eq!(plan.now_ns, 7);
            plan.chunks.iter().map(|c| c.window.start).collect()
        };
        assert_eq!(groups.len(), 2);
        assert_eq!(starts("monasca", "autogen"), vec![0, 20]);
        assert_eq!(starts("monasca", "weekly"), vec![10]);
    }

    /// A written file reads back: header first, the same points, points outside the
    /// window left out, a string with a newline kept whole; an unfinished export leaves
    /// no file under the final name.
    #[test]
    fn file_round_trip_and_abort() {
        let dir = tempfile::tempdir().unwrap();
        let h = header("t/1", &["m"], 0, 100, true);
        let chunk = Chunk {
            tenant: h.tenant.clone(),
            target: "x".into(),
            target_rp: "autogen".into(),
            measurements: h.measurements.clone().into(),
            window: h.window(),
            unit: TimeUnit::Week,
            closed: true,
            retention_ns: None,
        };
        let path = file_path(dir.path(), "monasca", "autogen", &chunk);
        assert!(path.starts_with(dir.path().join("t%2F1")));
        let lines = "m,t=a s=\"x\ny\" 5\nm v=1.0 50\nm v=2.0 150\n";
        let (tx, rx) = mpsc::channel(4);
        let (ctx, crx) = oneshot::channel();
        tx.try_send(LineBatch {
            text: lines.into(),
            points: 3,
        })
        .unwrap();
        drop(tx);
        ctx.send(()).unwrap();
        assert_eq!(write_file(&path, &h, rx, crx).unwrap(), 3);
        assert_eq!(read_header(&path).unwrap(), h);
        let (tx, mut rx) = mpsc::channel(16);
        assert_eq!(read_file(&path, Interval::new(0, 100), 1, tx).unwrap(), 2);
        let mut got = String::new();
        while let Ok(b) = rx.try_recv() {
            got.push_str(&b.text);
        }
        assert_eq!(got, "m,t=a s=\"x\ny\" 5\nm v=1.0 50\n");
        assert_eq!(list(dir.path()).unwrap().len(), 1);

        let mut other = chunk.clone();
        other.window = Interval::new(100, 200);
        let path2 = file_path(dir.path(), "monasca", "autogen", &other);
        let (tx, rx) = mpsc::channel(4);
        let (ctx, crx) = oneshot::channel::<()>();
        tx.try_send(LineBatch {
            text: "m v=1.0 150\n".into(),
            points: 1,
        })
        .unwrap();
        drop(tx);
        drop(ctx);
        assert!(write_file(&path2, &h, rx, crx).is_err());
        assert!(!path2.exists());
        assert_eq!(
            std::fs::read_dir(path2.parent().unwrap()).unwrap().count(),
            1
        );
    }
}
