//! The ledger: an append-only JSON-lines file recording every closed chunk the server
//! confirmed, read back as interval coverage.
//!
//! Parsing ([`parse`]) and coverage ([`Coverage`]) are pure; [`LedgerWriter`] is the
//! only I/O. One line per finished chunk, fsynced before the next is appended, so a
//! crash leaves at most a torn last line, which loading ignores with a warning.
//!
//! Reading streams: [`line`] parses one borrowed line at a time, [`intern`] numbers
//! its scope and measurements, [`fold`] folds the lines into coverage or per-tenant
//! progress without keeping records. [`load`] keeps every record, for the few
//! callers that need them all.

pub mod atomic;
pub mod fold;
pub mod intern;
pub mod line;
pub mod lock;

use crate::core::interval::{Interval, IntervalSet};
use crate::core::window::TimeUnit;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The source half of a [`Scope`]: where a run's copies are read from.
#[derive(Debug, Clone, Copy)]
pub struct SourceRef<'a> {
    /// Server URL (or `file://DIR` for an import).
    pub url: &'a str,
    /// Database.
    pub db: &'a str,
    /// Retention policy.
    pub rp: &'a str,
}

impl SourceRef<'_> {
    /// The scope of `tenant`'s copies from this source into `target`.`target_rp` on
    /// the server `target_url` names (empty: the source server itself).
    pub fn scope(&self, target_url: &str, target: &str, target_rp: &str, tenant: &str) -> Scope {
        Scope {
            source: self.url.to_string(),
            source_db: self.db.to_string(),
            source_rp: self.rp.to_string(),
            target: target.to_string(),
            target_rp: target_rp.to_string(),
            tenant: tenant.to_string(),
            target_url: target_url.to_string(),
        }
    }
}

/// Where a plan's chunks are read from, as ledger scopes name it: one source for every
/// chunk (`run`, `export`), or one per tenant (`rollback`: each tenant database is the
/// source of its tenant's chunks).
#[derive(Debug, Clone)]
pub enum Sources<'a> {
    /// Every chunk's.
    One(SourceRef<'a>),
    /// Per tenant id.
    PerTenant(std::collections::BTreeMap<String, SourceRef<'a>>),
}

impl<'a> Sources<'a> {
    /// The source of `tenant`'s chunks; `None` for a tenant the plan has no source of.
    pub fn of(&self, tenant: &str) -> Option<SourceRef<'a>> {
        match self {
            Sources::One(s) => Some(*s),
            Sources::PerTenant(m) => m.get(tenant).copied(),
        }
    }
}

/// Where points come from and go to: the part of a record that coverage is keyed by,
/// together with the measurement.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Scope {
    /// Source server URL.
    pub source: String,
    /// Source database.
    pub source_db: String,
    /// Source retention policy.
    pub source_rp: String,
    /// Target database.
    pub target: String,
    /// Target retention policy.
    pub target_rp: String,
    /// Tenant id.
    pub tenant: String,
    /// Where the target database lives: empty for the source server (server-side
    /// copies, and every record written before cross-server copies existed), a server
    /// URL for a cross-server copy or an import, `file://DIR` for an export. Coverage
    /// on one target never counts for another.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub target_url: String,
}

/// What a ledger line records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum RecordKind {
    /// The chunk was copied and the server confirmed the write.
    #[default]
    Copied,
    /// A copied chunk's counts and sums in the target were checked against the source
    /// and agreed (see `verify`). It covers no time: only `Copied` lines do.
    Verified,
    /// `verify` found the target missing points of a copied chunk (fewer points, or
    /// sums that differ with equal counts). It takes the chunk's window out of
    /// coverage, so the next run copies and verifies it again; a later `Copied` line
    /// covers it again.
    Differs,
}

/// One ledger line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Record {
    /// What happened to the chunk.
    #[serde(default)]
    pub kind: RecordKind,
    /// Source, target and tenant.
    #[serde(flatten)]
    pub scope: Scope,
    /// Measurements the chunk covered.
    pub measurements: Vec<String>,
    /// First nanosecond of the window.
    pub start: i64,
    /// First nanosecond after the window.
    pub end: i64,
    /// Window size the chunk was planned with (after any split).
    pub unit: TimeUnit,
    /// The chunk is a piece of a bigger one that failed: reruns start this tenant at
    /// this unit.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub split: bool,
    /// Points the server reported written.
    pub points: u64,
    /// When the line was written (RFC 3339).
    pub at: String,
}

impl Record {
    /// The window `[start, end)`.
    pub fn window(&self) -> Interval {
        Interval::new(self.start, self.end)
    }

    /// What identifies the chunk a record is about: a `Verified` line matches the
    /// `Copied` line with the same key.
    pub fn chunk_key(&self) -> ChunkKey {
        ChunkKey {
            scope: self.scope.clone(),
            measurements: self.measurements.clone(),
            start: self.start,
            end: self.end,
        }
    }
}

/// Scope, measurements and window of a recorded chunk.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChunkKey {
    /// Source, target and tenant.
    pub scope: Scope,
    /// Measurements the chunk covered.
    pub measurements: Vec<String>,
    /// First nanosecond of the window.
    pub start: i64,
    /// First nanosecond after the window.
    pub end: i64,
}

/// Keys of the copied chunks whose latest word is a `Verified` line: a `Differs`
/// line after it takes it back, a `Verified` line after that restores it.
pub fn verified_keys(records: &[Record]) -> std::collections::HashSet<ChunkKey> {
    let mut out = std::collections::HashSet::new();
    for r in records {
        match r.kind {
            RecordKind::Verified => {
                out.insert(r.chunk_key());
            }
            RecordKind::Differs => {
                out.remove(&r.chunk_key());
            }
            RecordKind::Copied => {}
        }
    }
    out
}

/// The `Differs` lines (one per chunk) whose window is not covered again by a later
/// `Copied` line for every one of their measurements: chunks awaiting repair. (The
/// record-slice form of what [`fold::ProgressFold`] counts, which tests hold it to.)
#[cfg(test)]
pub fn awaiting_repair(records: &[Record]) -> Vec<&Record> {
    let coverage = Coverage::from_records(records);
    let mut seen = std::collections::HashSet::new();
    records
        .iter()
        .filter(|r| r.kind == RecordKind::Differs)
        .filter(|r| {
            r.measurements
                .iter()
                .any(|m| !coverage.get(&r.scope, m).covers(r.window()))
        })
        .filter(|r| seen.insert(r.chunk_key()))
        .collect()
}

/// Errors loading or writing the ledger.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// A line other than a torn last one does not parse.
    #[error("ledger {path}: line {line} is not a valid record: {reason}")]
    BadLine {
        /// Ledger path.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What the parser said.
        reason: String,
    },
    /// Reading, writing or syncing the file failed.
    #[error("ledger {path}: {source}")]
    Io {
        /// Ledger path.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
}

/// The result of parsing ledger text.
#[derive(Debug, Default)]
pub struct Parsed {
    /// Complete records in file order.
    pub records: Vec<Record>,
    /// 1-based number of a torn (unterminated, unparsable) last line, if any ([`load`]
    /// warns about it itself).
    #[cfg_attr(not(test), allow(dead_code))]
    pub torn_line: Option<usize>,
}

/// Parses ledger text. A last line without a newline that does not parse is a torn
/// write from a crash and is reported in [`Parsed::torn_line`]; any other bad line is an
/// error naming its number. (The in-memory form of [`load`], for tests.)
#[cfg(test)]
pub fn parse(text: &str, path: &Path) -> Result<Parsed, LedgerError> {
    let mut records = Vec::new();
    let lines = line::for_each_line(text.as_bytes(), path, |l| records.push(l.to_record()))?;
    Ok(Parsed {
        records,
        torn_line: lines.torn_line,
    })
}

/// Time already copied, per scope and measurement, and the window size that last
/// worked for a scope after a failure.
#[derive(Debug, Default, Clone)]
pub struct Coverage {
    map: HashMap<Scope, HashMap<String, IntervalSet>>,
    units: HashMap<Scope, TimeUnit>,
}

static EMPTY: std::sync::OnceLock<IntervalSet> = std::sync::OnceLock::new();

impl Coverage {
    /// Coverage from records (commands fold it from the file: [`fold::load_coverage`]).
    #[cfg(test)]
    pub fn from_records<'a>(records: impl IntoIterator<Item = &'a Record>) -> Self {
        let mut c = Coverage::default();
        for r in records {
            c.add(r);
        }
        c
    }

    /// Adds one record's window for each of its measurements. Only `Copied` lines
    /// cover time; a `Verified` line says something about a copy, it is not one; a
    /// `Differs` line takes its window out again, until a later `Copied` line. Records
    /// must come in file order. ([`fold::CoverageFold::add`] is the streaming form.)
    #[cfg(test)]
    pub fn add(&mut self, r: &Record) {
        match r.kind {
            RecordKind::Copied => {}
            RecordKind::Verified => return,
            RecordKind::Differs => {
                if let Some(per_m) = self.map.get_mut(&r.scope) {
                    for m in &r.measurements {
                        if let Some(set) = per_m.get_mut(m) {
                            set.remove(r.window());
                        }
                    }
                }
                return;
            }
        }
        if r.split {
            self.remember_unit(&r.scope, r.unit);
        }
        let per_m = self.map.entry(r.scope.clone()).or_default();
        for m in &r.measurements {
            per_m.entry(m.clone()).or_default().insert(r.window());
        }
    }

    /// Sets a scope's coverage per measurement (a fold's result).
    fn insert_scope(&mut self, scope: &Arc<Scope>, per_m: HashMap<String, IntervalSet>) {
        self.map.insert(Scope::clone(scope), per_m);
    }

    /// Notes that chunks of `unit` are what works for `scope` (the latest note wins).
    pub fn remember_unit(&mut self, scope: &Scope, unit: TimeUnit) {
        self.units.insert(scope.clone(), unit);
    }

    /// Takes `window` of `measurement` out of a scope's coverage for this run: the
    /// planner then plans it again (a window that gained late points).
    pub fn reopen(&mut self, scope: &Scope, measurement: &str, window: Interval) {
        if let Some(set) = self.map.get_mut(scope).and_then(|m| m.get_mut(measurement)) {
            set.remove(window);
        }
    }

    /// The unit remembered for a scope, if a failure made one necessary.
    pub fn remembered_unit(&self, scope: &Scope) -> Option<TimeUnit> {
        self.units.get(scope).copied()
    }

    /// What is covered for one measurement in a scope.
    pub fn get(&self, scope: &Scope, measurement: &str) -> &IntervalSet {
        self.map
            .get(scope)
            .and_then(|m| m.get(measurement))
            .unwrap_or_else(|| EMPTY.get_or_init(IntervalSet::new))
    }

    /// Per tenant and measurement, from the start of the first covered piece to the
    /// end of the last one, over the scopes copying from `source` to the server
    /// `target_url` names (all target databases and policies: the span only bounds
    /// where discovery looks, see `source::discover`).
    pub fn spans(&self, source: &SourceRef<'_>, target_url: &str) -> Spans {
        let mut out = Spans::new();
        for (scope, per_m) in &self.map {
            if scope.source != source.url
                || scope.source_db != source.db
                || scope.source_rp != source.rp
                || scope.target_url != target_url
            {
                continue;
            }
            let tenant = out.entry(scope.tenant.clone()).or_default();
            for (m, set) in per_m {
                let (Some(first), Some(last)) = (set.parts().first(), set.parts().last()) else {
                    continue;
                };
                let span = Interval::new(first.start, last.end);
                tenant
                    .entry(m.clone())
                    .and_modify(|s| {
                        *s = Interval::new(s.start.min(span.start), s.end.max(span.end))
                    })
                    .or_insert(span);
            }
        }
        out
    }
}

/// Tenant -> measurement -> the span the ledger covers ([`Coverage::spans`]).
pub type Spans = HashMap<String, HashMap<String, Interval>>;

/// Per-tenant totals from the ledger, for `status`.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct TenantProgress {
    /// Target database(s) written.
    pub targets: Vec<String>,
    /// Closed chunks recorded as copied (`Copied` lines).
    pub chunks: u64,
    /// Of those, chunks with a `Verified` line (each counted once) and no `Differs`
    /// line after it.
    pub verified: u64,
    /// Chunks `verify` found missing points in, not yet copied again.
    pub awaiting_repair: u64,
    /// Points the server reported written for them.
    pub points: u64,
    /// Measurements seen in the records.
    pub measurements: u64,
    /// Earliest covered nanosecond.
    pub covered_from: Option<i64>,
    /// Latest covered nanosecond (exclusive).
    pub covered_to: Option<i64>,
    /// Covered time, merged over measurements, as disjoint intervals.
    pub covered: Vec<Interval>,
}

/// Sums records per tenant. Chunks, points and covered time come from `Copied`
/// lines; `verified` counts distinct copied chunks that have a `Verified` line. (The
/// record-slice form of [`fold::load_progress`], which tests hold it to.)
#[cfg(test)]
pub fn progress(records: &[Record]) -> std::collections::BTreeMap<String, TenantProgress> {
    use std::collections::BTreeMap;
    let mut out: BTreeMap<String, TenantProgress> = BTreeMap::new();
    let mut sets: BTreeMap<String, (IntervalSet, std::collections::BTreeSet<String>)> =
        BTreeMap::new();
    let verified = verified_keys(records);
    let mut counted = std::collections::HashSet::new();
    for r in records.iter().filter(|r| r.kind == RecordKind::Copied) {
        let p = out.entry(r.scope.tenant.clone()).or_default();
        if !p.targets.contains(&r.scope.target) {
            p.targets.push(r.scope.target.clone());
        }
        p.chunks += 1;
        p.points += r.points;
        let key = r.chunk_key();
        if verified.contains(&key) && counted.insert(key) {
            p.verified += 1;
        }
        let (set, ms) = sets.entry(r.scope.tenant.clone()).or_default();
        set.insert(r.window());
        ms.extend(r.measurements.iter().cloned());
    }
    for r in awaiting_repair(records) {
        out.entry(r.scope.tenant.clone())
            .or_default()
            .awaiting_repair += 1;
    }
    for (tenant, (set, ms)) in sets {
        let p = out.entry(tenant).or_default();
        p.measurements = ms.len() as u64;
        p.covered_from = set.parts().first().map(|i| i.start);
        p.covered_to = set.parts().last().map(|i| i.end);
        p.covered = set.parts().to_vec();
    }
    out
}

/// Reads every record of the ledger at `path` (a missing file is an empty ledger) and
/// warns about a torn last line. Commands that need coverage or progress, not the
/// records, read with [`fold`] instead.
pub fn load(path: &Path) -> Result<Parsed, LedgerError> {
    let mut records = Vec::new();
    let lines = line::for_each_line_in(path, |l| records.push(l.to_record()))?;
    Ok(Parsed {
        records,
        torn_line: lines.torn_line,
    })
}

/// The last line of `file` when it lacks its newline: where it starts and its bytes.
fn unterminated_tail(file: &mut File) -> io::Result<Option<(u64, Vec<u8>)>> {
    const BLOCK: u64 = 64 * 1024;
    let len = file.metadata()?.len();
    let mut last = [0u8];
    if len == 0 || {
        file.seek(SeekFrom::Start(len - 1))?;
        file.read_exact(&mut last)?;
        last[0] == b'\n'
    } {
        return Ok(None);
    }
    let mut start = len;
    let mut tail = Vec::new();
    while start > 0 {
        let from = start.saturating_sub(BLOCK);
        let mut block = vec![0u8; (start - from) as usize];
        file.seek(SeekFrom::Start(from))?;
        file.read_exact(&mut block)?;
        block.extend_from_slice(&tail);
        tail = block;
        let scanned = (start - from) as usize;
        start = from;
        if let Some(i) = tail[..scanned].iter().rposition(|b| *b == b'\n') {
            tail.drain(..=i);
            return Ok(Some((start + i as u64 + 1, tail)));
        }
    }
    Ok(Some((0, tail)))
}

/// Appends records, one fsynced line each.
#[derive(Debug)]
pub struct LedgerWriter {
    path: PathBuf,
    file: File,
}

impl LedgerWriter {
    /// Opens (creating) the ledger for appending. A torn last line is cut off first so
    /// the next record starts on a line of its own.
    pub fn open(path: &Path) -> Result<Self, LedgerError> {
        let io_err = |source| LedgerError::Io {
            path: path.to_path_buf(),
            source,
        };
        let existed = path.exists();
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(io_err)?;
        // Only the last line can be torn: read back to its start, not the whole file.
        if let Some((keep, tail)) = unterminated_tail(&mut file).map_err(io_err)? {
            if line::is_torn(&tail) {
                file.set_len(keep).map_err(io_err)?;
            } else {
                file.seek(SeekFrom::End(0)).map_err(io_err)?;
                file.write_all(b"\n").map_err(io_err)?;
            }
            file.sync_data().map_err(io_err)?;
        }
        file.seek(SeekFrom::End(0)).map_err(io_err)?;
        if !existed {
            // A new file's directory entry must be durable too, or a crash could lose
            // the whole ledger while the copies it recorded survive.
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                File::open(dir).and_then(|d| d.sync_all()).map_err(io_err)?;
            }
        }
        Ok(LedgerWriter {
            path: path.to_path_buf(),
            file,
        })
    }

    /// Appends one record and syncs it to disk before returning.
    pub fn append(&mut self, record: &Record) -> Result<(), LedgerError> {
        let mut line = serde_json::to_string(record).expect("records always serialize");
        line.push('\n');
        let io_err = |source| LedgerError::Io {
            path: self.path.clone(),
            source,
        };
        // One write call per line: a crash can tear the line but never interleave two.
        self.file.write_all(line.as_bytes()).map_err(io_err)?;
        self.file.sync_data().map_err(io_err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope(tenant: &str) -> Scope {
        Scope {
            source: "http://127.0.0.1:8086".into(),
            source_db: "monasca".into(),
            source_rp: "autogen".into(),
            target: format!("monasca_{tenant}"),
            target_rp: "autogen".into(),
            tenant: tenant.into(),
            target_url: String::new(),
        }
    }

    fn record(tenant: &str, ms: &[&str], start: i64, end: i64) -> Record {
        Record {
            kind: RecordKind::Copied,
            scope: scope(tenant),
            measurements: ms.iter().map(|s| s.to_string()).collect(),
            start,
            end,
            unit: TimeUnit::Week,
            split: false,
            points: 7,
            at: "2026-01-01T00:00:00Z".into(),
        }
    }

    fn text(records: &[Record]) -> String {
        records
            .iter()
            .map(|r| serde_json::to_string(r).unwrap() + "\n")
            .collect()
    }

    /// A span runs from the first covered piece's start to the last one's end, holes
    /// included, merged over the target databases and policies of one source and
    /// target server; other sources, policies and target servers add nothing.
    #[test]
    fn spans_per_tenant_and_measurement() {
        let mut other_target = record("a", &["cpu"], 0, 5);
        other_target.scope.target = "elsewhere".into();
        let mut other_server = record("a", &["cpu"], 0, 100);
        other_server.scope.target_url = "http://t".into();
        let mut other_rp = record("b", &["cpu"], 0, 100);
        other_rp.scope.source_rp = "two_weeks".into();
        let c = Coverage::from_records(&[
            record("a", &["cpu", "mem"], 10, 20),
            record("a", &["cpu"], 30, 40),
            other_target,
            other_server,
            other_rp,
        ]);
        let src = SourceRef {
            url: "http://127.0.0.1:8086",
            db: "monasca",
            rp: "autogen",
        };
        let spans = c.spans(&src, "");
        assert_eq!(spans["a"]["cpu"], Interval::new(0, 40));
        assert_eq!(spans["a"]["mem"], Interval::new(10, 20));
        assert!(!spans.contains_key("b"));
        assert_eq!(c.spans(&src, "http://t")["a"]["cpu"], Interval::new(0, 100));
    }

    /// Records serialize to one line and parse back equal.
    #[test]
    fn records_round_trip() {
        let rs = vec![
            record("a", &["cpu", "m\"em\n"], 0, 10),
            record("b", &["x"], 5, 9),
        ];
        let parsed = parse(&text(&rs), Path::new("l")).unwrap();
        assert_eq!(parsed.records, rs);
        assert_eq!(parsed.torn_line, None);
    }

    /// A torn last line is ignored and reported; a bad line elsewhere is an error naming
    /// its number.
    #[test]
    fn torn_last_line_tolerated_bad_middle_line_rejected() {
        let good = text(&[record("a", &["cpu"], 0, 10)]);
        let torn = format!("{good}{{\"kind\":\"cop");
        let p = parse(&torn, Path::new("l")).unwrap();
        assert_eq!(p.records.len(), 1);
        assert_eq!(p.torn_line, Some(2));

        let bad = format!("{good}garbage\n{good}");
        let err = parse(&bad, Path::new("led")).unwrap_err().to_string();
        assert!(err.contains("line 2"), "{err}");
        assert!(err.contains("led"), "{err}");
    }

    /// Coverage is kept per scope and measurement: another tenant or measurement is not
    /// covered by a record.
    #[test]
    fn coverage_is_per_scope_and_measurement() {
        let rs = [
            record("a", &["cpu", "mem"], 0, 10),
            record("a", &["cpu"], 10, 20),
        ];
        let c = Coverage::from_records(&rs);
        assert_eq!(c.get(&scope("a"), "cpu").parts(), &[Interval::new(0, 20)]);
        assert_eq!(c.get(&scope("a"), "mem").parts(), &[Interval::new(0, 10)]);
        assert!(c.get(&scope("b"), "cpu").is_empty());
        assert!(c.get(&scope("a"), "disk").is_empty());
    }

    /// A split record makes its unit the remembered one for the scope; the latest wins.
    #[test]
    fn split_records_remember_unit() {
        let mut a = record("a", &["cpu"], 0, 10);
        a.split = true;
        a.unit = TimeUnit::Day;
        let mut b = a.clone();
        b.unit = TimeUnit::Hour;
        let c = Coverage::from_records(&[record("a", &["cpu"], 20, 30), a.clone()]);
        assert_eq!(c.remembered_unit(&scope("a")), Some(TimeUnit::Day));
        assert_eq!(
            Coverage::from_records(&[a, b]).remembered_unit(&scope("a")),
            Some(TimeUnit::Hour)
        );
        assert_eq!(c.remembered_unit(&scope("b")), None);
        // An unsplit record serializes without the flag, keeping old ledgers' shape.
        assert!(!serde_json::to_string(&record("a", &["cpu"], 0, 1))
            .unwrap()
            .contains("split"));
    }

    /// Reopening takes one window of one measurement out of coverage; the rest of the
    /// scope stays covered.
    #[test]
    fn reopen_uncovers_one_window() {
        let mut c = Coverage::from_records(&[record("a", &["cpu", "mem"], 0, 30)]);
        c.reopen(&scope("a"), "cpu", Interval::new(10, 20));
        c.reopen(&scope("b"), "cpu", Interval::new(10, 20));
        assert_eq!(
            c.get(&scope("a"), "cpu").parts(),
            &[Interval::new(0, 10), Interval::new(20, 30)]
        );
        assert_eq!(c.get(&scope("a"), "mem").parts(), &[Interval::new(0, 30)]);
    }

    /// Progress sums chunks and points per tenant and merges covered time.
    #[test]
    fn progress_per_tenant() {
        let rs = [
            record("a", &["cpu", "mem"], 0, 10),
            record("a", &["cpu"], 10, 20),
            record("b", &["cpu"], 40, 50),
        ];
        let p = progress(&rs);
        assert_eq!(p["a"].chunks, 2);
        assert_eq!(p["a"].points, 14);
        assert_eq!(p["a"].measurements, 2);
        assert_eq!(p["a"].covered, vec![Interval::new(0, 20)]);
        assert_eq!(p["b"].covered_from, Some(40));
    }

    /// Verified lines cover no time and add no chunks or points; they count as verified
    /// only for a copied chunk with the same key, once however often they repeat.
    #[test]
    fn verified_lines_are_not_coverage() {
        let copied = record("a", &["cpu"], 0, 10);
        let verified = Record {
            kind: RecordKind::Verified,
            ..copied.clone()
        };
        let stray = Record {
            kind: RecordKind::Verified,
            ..record("a", &["cpu"], 50, 60)
        };
        let rs = [copied, verified.clone(), verified, stray.clone()];
        let c = Coverage::from_records(&rs);
        assert_eq!(c.get(&scope("a"), "cpu").parts(), &[Interval::new(0, 10)]);
        let p = progress(&rs);
        assert_eq!(p["a"].chunks, 1);
        assert_eq!(p["a"].points, 7);
        assert_eq!(p["a"].verified, 1);
        assert_eq!(p["a"].covered, vec![Interval::new(0, 10)]);
        let text = text(&[stray]);
        assert!(text.contains("\"kind\":\"verified\""), "{text}");
        assert_eq!(
            parse(&text, Path::new("l")).unwrap().records[0].kind,
            RecordKind::Verified
        );
    }

    /// A `Differs` line takes its chunk out of coverage and out of the verified
    /// chunks, and counts as awaiting repair; a later `Copied` and `Verified` pair
    /// restores both. A ledger from before `Differs` existed still parses.
    #[test]
    fn differs_lines_uncover_until_copied_again() {
        let copied = record("a", &["cpu"], 0, 10);
        let next = record("a", &["cpu"], 10, 20);
        let verified = Record {
            kind: RecordKind::Verified,
            ..copied.clone()
        };
        let differs = Record {
            kind: RecordKind::Differs,
            ..copied.clone()
        };
        let mut rs = vec![copied.clone(), verified.clone(), next, differs];
        let c = Coverage::from_records(&rs);
        assert_eq!(c.get(&scope("a"), "cpu").parts(), &[Interval::new(10, 20)]);
        assert!(verified_keys(&rs).is_empty());
        assert_eq!(awaiting_repair(&rs).len(), 1);
        let p = progress(&rs);
        assert_eq!((p["a"].verified, p["a"].awaiting_repair), (0, 1));
        rs.extend([copied, verified]);
        let c = Coverage::from_records(&rs);
        assert_eq!(c.get(&scope("a"), "cpu").parts(), &[Interval::new(0, 20)]);
        assert_eq!(verified_keys(&rs).len(), 1);
        assert!(awaiting_repair(&rs).is_empty());
        let line = serde_json::to_string(&rs[3]).unwrap();
        assert!(line.contains(r#""kind":"differs""#), "{line}");
        assert_eq!(
            parse(&format!("{line}\n"), Path::new("l")).unwrap().records[0].kind,
            RecordKind::Differs
        );
    }

    /// The writer cuts a torn tail before appending, so the file parses cleanly after.
    #[test]
    fn writer_repairs_torn_tail() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger");
        let good = text(&[record("a", &["cpu"], 0, 10)]);
        std::fs::write(&path, format!("{good}{{\"kind\":")).unwrap();
        let mut w = LedgerWriter::open(&path).unwrap();
        w.append(&record("a", &["cpu"], 10, 20)).unwrap();
        let p = load(&path).unwrap();
        assert_eq!(p.records.len(), 2);
        assert_eq!(p.torn_line, None);
    }

    /// The writer ends a complete unterminated last line before appending, and cuts
    /// a torn tail longer than one read-back block, reading back only the last line.
    #[test]
    fn writer_ends_complete_tail_and_cuts_long_torn_tail() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger");
        let good = text(&[record("a", &["cpu"], 0, 10)]);
        std::fs::write(&path, good.trim_end()).unwrap();
        LedgerWriter::open(&path)
            .unwrap()
            .append(&record("a", &["cpu"], 10, 20))
            .unwrap();
        assert_eq!(load(&path).unwrap().records.len(), 2);

        let long: Vec<String> = (0..20_000).map(|i| format!("m{i}")).collect();
        let long: Vec<&str> = long.iter().map(String::as_str).collect();
        let torn = text(&[record("a", &long, 0, 10)]);
        assert!(torn.len() > 100_000);
        std::fs::write(&path, format!("{good}{}", &torn[..torn.len() - 10])).unwrap();
        LedgerWriter::open(&path)
            .unwrap()
            .append(&record("a", &["cpu"], 10, 20))
            .unwrap();
        let p = load(&path).unwrap();
        assert_eq!((p.records.len(), p.torn_line), (2, None));
        assert_eq!(p.records[1].window(), Interval::new(10, 20));
    }

    /// A line written before `target_url` existed still parses, as the source server;
    /// records on another target server are coverage there only.
    #[test]
    fn target_url_defaults_and_separates_coverage() {
        let old = r#"{"kind":"copied","source":"http://127.0.0.1:8086","source_db":"monasca","source_rp":"autogen","target":"monasca_a","target_rp":"autogen","tenant":"a","measurements":["cpu"],"start":0,"end":10,"unit":"week","points":3,"at":"2026-01-01T00:00:00Z"}"#;
        let p = parse(&format!("{old}\n"), Path::new("l")).unwrap();
        assert_eq!(p.records[0].scope.target_url, "");
        // Same-server records serialize exactly as before.
        assert_eq!(serde_json::to_string(&p.records[0]).unwrap(), old);
        let mut other = record("a", &["cpu"], 10, 20);
        other.scope.target_url = "http://t:8086".into();
        let line = serde_json::to_string(&other).unwrap();
        assert!(line.contains(r#""target_url":"http://t:8086""#), "{line}");
        let c = Coverage::from_records(p.records.iter().chain([&other]));
        let same = scope("a");
        assert_eq!(c.get(&same, "cpu").parts(), &[Interval::new(0, 10)]);
        assert_eq!(c.get(&other.scope, "cpu").parts(), &[Interval::new(10, 20)]);
    }
}
