//! One streaming pass over the ledger, folded into what commands need: coverage for
//! `run`, `plan`, `export` and `import`; per-tenant progress for `status` and the run
//! report. Memory is the folded state (scopes x measurements of interval sets, one
//! flag byte per distinct chunk for progress), never the records.
//!
//! The rules are those of the record-slice functions in the parent module
//! ([`Coverage::add`], [`super::progress`], [`super::verified_keys`],
//! [`super::awaiting_repair`]); the tests there and here hold both to the same answers.

use super::intern::{self, Entry, FastMap, Interner};
use super::line::Lines;
use super::{Coverage, LedgerError, RecordKind, Scope, TenantProgress};
use crate::core::interval::{Interval, IntervalSet};
use crate::core::window::TimeUnit;
use std::collections::{BTreeMap, HashSet};
use std::path::Path;

/// Coverage per scope number and measurement number, while the ledger streams by.
#[derive(Debug, Default)]
pub struct CoverageFold {
    scopes: Vec<ScopeCover>,
}

#[derive(Debug, Default)]
struct ScopeCover {
    per_m: FastMap<u32, IntervalSet>,
    unit: Option<TimeUnit>,
}

impl CoverageFold {
    /// Folds one entry in, as [`Coverage::add`] does a record: `Copied` covers its
    /// window (a split one also notes its unit), `Differs` takes it out, `Verified`
    /// changes nothing.
    pub fn add(&mut self, e: &Entry<'_>) {
        let id = e.scope_id as usize;
        match e.kind {
            RecordKind::Copied => {}
            RecordKind::Verified => return,
            RecordKind::Differs => {
                if let Some(s) = self.scopes.get_mut(id) {
                    for m in e.measurement_ids {
                        if let Some(set) = s.per_m.get_mut(m) {
                            set.remove(e.window());
                        }
                    }
                }
                return;
            }
        }
        if self.scopes.len() <= id {
            self.scopes.resize_with(id + 1, ScopeCover::default);
        }
        let s = &mut self.scopes[id];
        if e.split {
            s.unit = Some(e.unit);
        }
        for m in e.measurement_ids {
            s.per_m.entry(*m).or_default().insert(e.window());
        }
    }

    /// True when `window` of measurement `name` is covered in scope `scope`.
    fn covers(&self, scope: u32, name: u32, window: Interval) -> bool {
        self.scopes
            .get(scope as usize)
            .and_then(|s| s.per_m.get(&name))
            .map_or(window.is_empty(), |set| set.covers(window))
    }

    /// The coverage, keyed by the scopes and names `interner` numbered.
    pub fn finish(self, interner: &Interner) -> Coverage {
        let mut c = Coverage::default();
        for (id, s) in self.scopes.into_iter().enumerate() {
            if s.per_m.is_empty() && s.unit.is_none() {
                continue;
            }
            let scope = interner.scope(id as u32);
            if let Some(unit) = s.unit {
                c.remember_unit(scope, unit);
            }
            let per_m = s
                .per_m
                .into_iter()
                .map(|(m, set)| (interner.name(m).to_string(), set))
                .collect();
            c.insert_scope(scope, per_m);
        }
        c
    }
}

/// A chunk's key in numbers: scope, measurement list, start, end.
type ChunkId = (u32, u32, i64, i64);

/// A `Copied` line exists for the chunk.
const COPIED: u8 = 1;
/// The chunk's latest `Verified`/`Differs` word is `Verified`.
const VERIFIED: u8 = 2;
/// A `Differs` line exists for the chunk.
const DIFFERS: u8 = 4;

/// Per-tenant progress, while the ledger streams by.
#[derive(Debug, Default)]
pub struct ProgressFold {
    /// Tenant number per scope number (`u32::MAX`: not looked up yet).
    tenant_of: Vec<u32>,
    tenant_ids: FastMap<String, u32>,
    tenants: Vec<TenantFold>,
    chunks: FastMap<ChunkId, u8>,
}

#[derive(Debug, Default)]
struct TenantFold {
    name: String,
    copied: bool,
    targets: Vec<String>,
    chunks: u64,
    points: u64,
    verified: u64,
    awaiting_repair: u64,
    covered: IntervalSet,
    lists: std::collections::BTreeSet<u32>,
}

impl ProgressFold {
    /// Folds one entry in (all entries, in file order).
    pub fn add(&mut self, e: &Entry<'_>) {
        let flags = self
            .chunks
            .entry((e.scope_id, e.list_id, e.start, e.end))
            .or_default();
        match e.kind {
            RecordKind::Verified => *flags |= VERIFIED,
            RecordKind::Differs => *flags = (*flags & !VERIFIED) | DIFFERS,
            RecordKind::Copied => {
                *flags |= COPIED;
                let t = self.tenant(e.scope_id, e.scope);
                t.copied = true;
                if !t.targets.iter().any(|x| *x == e.scope.target) {
                    t.targets.push(e.scope.target.clone());
                }
                t.chunks += 1;
                t.points += e.points;
                t.covered.insert(e.window());
                t.lists.insert(e.list_id);
            }
        }
    }

    fn tenant(&mut self, scope_id: u32, scope: &Scope) -> &mut TenantFold {
        let id = scope_id as usize;
        if self.tenant_of.len() <= id {
            self.tenant_of.resize(id + 1, u32::MAX);
        }
        if self.tenant_of[id] == u32::MAX {
            let next = self.tenants.len() as u32;
            let t = *self.tenant_ids.entry(scope.tenant.clone()).or_insert(next);
            if t == next {
                self.tenants.push(TenantFold {
                    name: scope.tenant.clone(),
                    ..TenantFold::default()
                });
            }
            self.tenant_of[id] = t;
        }
        &mut self.tenants[self.tenant_of[id] as usize]
    }

    /// Per-tenant totals: verified chunks and chunks awaiting repair are counted here,
    /// against the whole file's verdicts and its final coverage.
    pub fn finish(
        mut self,
        coverage: &CoverageFold,
        interner: &Interner,
    ) -> BTreeMap<String, TenantProgress> {
        let chunks = std::mem::take(&mut self.chunks);
        for ((scope, list, start, end), flags) in chunks {
            let w = Interval::new(start, end);
            let verified = flags & (COPIED | VERIFIED) == COPIED | VERIFIED;
            let awaiting = flags & DIFFERS != 0
                && interner
                    .list(list)
                    .iter()
                    .any(|m| !coverage.covers(scope, *m, w));
            if !verified && !awaiting {
                continue;
            }
            let t = self.tenant(scope, interner.scope(scope));
            t.verified += u64::from(verified);
            t.awaiting_repair += u64::from(awaiting);
        }
        self.tenants
            .into_iter()
            .filter(|t| t.copied || t.awaiting_repair > 0)
            .map(|t| {
                let names: HashSet<u32> = t
                    .lists
                    .iter()
                    .flat_map(|l| interner.list(*l).iter().copied())
                    .collect();
                let parts = t.covered.parts();
                let p = TenantProgress {
                    targets: t.targets,
                    chunks: t.chunks,
                    verified: t.verified,
                    awaiting_repair: t.awaiting_repair,
                    points: t.points,
                    measurements: names.len() as u64,
                    covered_from: parts.first().map(|i| i.start),
                    covered_to: parts.last().map(|i| i.end),
                    covered: parts.to_vec(),
                };
                (t.name, p)
            })
            .collect()
    }
}

/// What `status` and the run report read from the ledger.
#[derive(Debug, Default)]
pub struct Progress {
    /// Records read and the torn last line skipped, if any.
    pub lines: Lines,
    /// Per tenant, as [`super::progress`] sums records.
    pub tenants: BTreeMap<String, TenantProgress>,
}

/// Per-tenant progress from the ledger text in `reader`.
#[cfg(test)]
pub fn progress_of(reader: impl std::io::BufRead, path: &Path) -> Result<Progress, LedgerError> {
    let mut cover = CoverageFold::default();
    let mut fold = ProgressFold::default();
    let (lines, interner) = intern::scan_reader(reader, path, |e| {
        cover.add(e);
        fold.add(e);
    })?;
    let tenants = fold.finish(&cover, &interner);
    Ok(Progress { lines, tenants })
}

/// Per-tenant progress from the ledger at `path` (missing: empty), in one pass that
/// keeps no records.
pub fn load_progress(path: &Path) -> Result<Progress, LedgerError> {
    let mut cover = CoverageFold::default();
    let mut fold = ProgressFold::default();
    let (lines, interner) = intern::scan(path, |e| {
        cover.add(e);
        fold.add(e);
    })?;
    let tenants = fold.finish(&cover, &interner);
    Ok(Progress { lines, tenants })
}

/// Coverage from the ledger at `path` (missing: empty), in one pass that keeps no
/// records; `each` sees every entry too (to keep the few a caller needs).
pub fn load_coverage(
    path: &Path,
    mut each: impl FnMut(&Entry<'_>),
) -> Result<(Coverage, Lines), LedgerError> {
    let mut cover = CoverageFold::default();
    let (lines, interner) = intern::scan(path, |e| {
        cover.add(e);
        each(e);
    })?;
    Ok((cover.finish(&interner), lines))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::{progress, Record};

    fn line(kind: &str, tenant: &str, target_url: &str, ms: &str, w: (i64, i64)) -> String {
        let url = if target_url.is_empty() {
            String::new()
        } else {
            format!(r#","target_url":"{target_url}""#)
        };
        format!(
            r#"{{"kind":"{kind}","source":"http://s","source_db":"monasca","source_rp":"autogen","target":"monasca_{tenant}","target_rp":"autogen","tenant":"{tenant}"{url},"measurements":[{ms}],"start":{},"end":{},"unit":"week","points":{},"at":"2026-01-01T00:00:00Z"}}"#,
            w.0,
            w.1,
            w.1 - w.0
        )
    }

    /// A ledger with every kind of line: copies, verifications (repeated, stray, one
    /// before its copy), a difference repaired and one not, split pieces remembering
    /// units, an escaped name, several scopes (tenants, a second target server), a
    /// line from before `kind` and `target_url` existed, and a torn last line.
    fn mixed() -> String {
        let cpu = r#""cpu""#;
        let both = r#""cpu","m\"em""#;
        let mut lines = vec![
            line("copied", "a", "", both, (0, 10)),
            line("verified", "a", "", both, (0, 10)),
            line("verified", "a", "", both, (0, 10)),
            line("copied", "a", "", cpu, (10, 20)),
            line("verified", "b", "", cpu, (0, 10)),
            line("copied", "b", "", cpu, (0, 10)),
            line("copied", "b", "", cpu, (10, 20)),
            line("verified", "b", "", cpu, (10, 20)),
            line("differs", "b", "", cpu, (10, 20)),
            line("copied", "a", "", cpu, (30, 40)),
            line("differs", "a", "", cpu, (30, 40)),
            line("copied", "a", "", cpu, (30, 40)),
            line("verified", "a", "", cpu, (30, 40)),
            line("copied", "a", "http://t", cpu, (0, 50)),
            line("verified", "c", "", cpu, (70, 80)),
            line("differs", "d", "", cpu, (0, 5)),
            line("verified", "a", "", cpu, (50, 60)),
        ];
        let split = line("copied", "b", "", both, (40, 41))
            .replace(r#""unit":"week""#, r#""unit":"hour","split":true"#);
        let split_later = line("copied", "b", "", cpu, (41, 42))
            .replace(r#""unit":"week""#, r#""unit":"minute","split":true"#);
        lines.extend([split, split_later]);
        lines.push(
            line("copied", "e", "", cpu, (0, 7))
                .replace(r#""kind":"copied","#, "")
                .replace(r#","target_url":"""#, ""),
        );
        let mut text = lines.join("\n") + "\n";
        text.push_str(r#"{"kind":"copied","source":"ht"#);
        text
    }

    /// The records as the old loader read them: `Record` through serde, line by line,
    /// the torn last line left out.
    fn records(text: &str) -> Vec<Record> {
        let n = text.lines().count();
        text.lines()
            .take(n - 1)
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// The streaming, interned fold gives the same per-tenant progress as summing the
    /// records, counts the same records and reports the torn last line.
    #[test]
    fn streamed_progress_matches_records() {
        let text = mixed();
        let rs = records(&text);
        let streamed = progress_of(text.as_bytes(), Path::new("l")).unwrap();
        let expected = progress(&rs);
        assert_eq!(streamed.tenants, expected);
        assert_eq!(streamed.lines.records, rs.len());
        assert_eq!(streamed.lines.torn_line, Some(rs.len() + 1));
        // The case is not trivial: every count is exercised.
        let a = &expected["a"];
        assert_eq!((a.chunks, a.verified, a.awaiting_repair), (5, 2, 0));
        assert_eq!(a.targets, vec!["monasca_a".to_string()]);
        let b = &expected["b"];
        assert_eq!((b.chunks, b.verified, b.awaiting_repair), (4, 1, 1));
        assert_eq!(expected["d"].awaiting_repair, 1);
        assert!(!expected.contains_key("c"));
        assert_eq!(expected["e"].chunks, 1);
    }

    /// Coverage folded from the file equals coverage from the records, for every
    /// scope and measurement, remembered units included.
    #[test]
    fn streamed_coverage_matches_records() {
        let text = mixed();
        let rs = records(&text);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger");
        std::fs::write(&path, &text).unwrap();
        let mut seen = 0;
        let (streamed, lines) = load_coverage(&path, |_| seen += 1).unwrap();
        assert_eq!((seen, lines.records), (rs.len(), rs.len()));
        let expected = Coverage::from_records(&rs);
        for r in &rs {
            for m in r.measurements.iter().map(String::as_str).chain(["disk"]) {
                assert_eq!(
                    streamed.get(&r.scope, m),
                    expected.get(&r.scope, m),
                    "{} {m}",
                    r.scope.tenant
                );
            }
            assert_eq!(
                streamed.remembered_unit(&r.scope),
                expected.remembered_unit(&r.scope)
            );
        }
        let b = &rs.iter().find(|r| r.scope.tenant == "b").unwrap().scope;
        assert_eq!(streamed.remembered_unit(b), Some(TimeUnit::Minute));
        assert_eq!(
            streamed.get(b, "cpu").parts(),
            &[Interval::new(0, 10), Interval::new(40, 42)]
        );
    }

    /// A missing ledger folds to nothing; a bad line that is not the last is an error
    /// naming the file and the line.
    #[test]
    fn missing_is_empty_bad_line_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("none");
        let p = load_progress(&path).unwrap();
        assert!(p.tenants.is_empty());
        assert_eq!(p.lines, Lines::default());
        let text = mixed().replacen("\n", "\ngarbage\n", 1);
        std::fs::write(&path, text).unwrap();
        let err = load_progress(&path).unwrap_err().to_string();
        assert!(err.contains("line 2") && err.contains("none"), "{err}");
    }
}
