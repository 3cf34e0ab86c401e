//! Ledger lines interned as they stream by: one [`Scope`] per distinct scope, one
//! name per distinct measurement, one list per distinct measurement list, each
//! numbered in order of first appearance. An [`Entry`] is a line in that form, handed
//! to the folds (`fold`) without allocating; a million lines of a few thousand
//! tenants keep a few thousand scopes and lists.

use super::line::{self, Line, Lines};
use super::{LedgerError, Record, RecordKind, Scope};
use crate::core::interval::Interval;
use crate::core::window::TimeUnit;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::path::Path;
use std::sync::Arc;

/// A hash map with [`FastHasher`]: the folds look up a few keys per line.
pub type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FastHasher>>;

/// The Fx hash (rustc's): a multiply and a rotate per word. The keys come from the
/// operator's own ledger, so resistance to crafted collisions (std's SipHash) buys
/// nothing here, and SipHash was a tenth of a million-line load.
#[derive(Debug, Default, Clone, Copy)]
pub struct FastHasher(u64);

impl FastHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

impl Hasher for FastHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.add(u64::from_le_bytes(c.try_into().expect("8 bytes")));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut last = [0u8; 8];
            last[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(last));
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    fn write_u32(&mut self, i: u32) {
        self.add(u64::from(i));
    }

    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }

    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// The interned scopes, measurement names and measurement lists seen so far.
#[derive(Debug, Default)]
pub struct Interner {
    /// Scope fields, each length-prefixed (so no two scopes share a key) -> id.
    scope_ids: FastMap<Box<[u8]>, u32>,
    scopes: Vec<Arc<Scope>>,
    name_ids: FastMap<Arc<str>, u32>,
    names: Vec<Arc<str>>,
    list_ids: FastMap<Box<[u32]>, u32>,
    lists: Vec<List>,
    key: Vec<u8>,
    ids: Vec<u32>,
}

/// A measurement list: its name numbers and its names.
type List = (Box<[u32]>, Arc<[Arc<str>]>);

/// One ledger line, interned: what every fold reads. `at` is borrowed from the line.
#[derive(Debug, Clone, Copy)]
pub struct Entry<'a> {
    /// What happened to the chunk.
    pub kind: RecordKind,
    /// Number of the scope (dense, from 0, in order of first appearance).
    pub scope_id: u32,
    /// The scope.
    pub scope: &'a Arc<Scope>,
    /// Number of the measurement list (dense, from 0).
    pub list_id: u32,
    /// Numbers of the measurement names (dense, from 0), in the line's order.
    pub measurement_ids: &'a [u32],
    /// The measurement names, in the line's order.
    pub measurements: &'a [Arc<str>],
    /// First nanosecond of the window.
    pub start: i64,
    /// First nanosecond after the window.
    pub end: i64,
    /// Window size the chunk was planned with.
    pub unit: TimeUnit,
    /// The chunk is a piece of a failed bigger one.
    pub split: bool,
    /// Points the server reported written.
    pub points: u64,
    /// When the line was written.
    pub at: &'a str,
}

impl Entry<'_> {
    /// The window `[start, end)`.
    pub fn window(&self) -> Interval {
        Interval::new(self.start, self.end)
    }

    /// The owned record, for a line kept beyond the pass.
    pub fn to_record(self) -> Record {
        Record {
            kind: self.kind,
            scope: Scope::clone(self.scope),
            measurements: self.measurements.iter().map(|m| m.to_string()).collect(),
            start: self.start,
            end: self.end,
            unit: self.unit,
            split: self.split,
            points: self.points,
            at: self.at.to_string(),
        }
    }
}

impl Interner {
    /// The line in interned form, interning what is new in it.
    pub fn intern<'a>(&'a mut self, line: &'a Line<'_>) -> Entry<'a> {
        let scope_id = self.scope_id(line);
        let list_id = self.list_id(line);
        let (ids, names) = &self.lists[list_id as usize];
        Entry {
            kind: line.kind,
            scope_id,
            scope: &self.scopes[scope_id as usize],
            list_id,
            measurement_ids: ids,
            measurements: names,
            start: line.start,
            end: line.end,
            unit: line.unit,
            split: line.split,
            points: line.points,
            at: &line.at,
        }
    }

    fn scope_id(&mut self, line: &Line<'_>) -> u32 {
        self.key.clear();
        for f in line.scope_fields() {
            self.key.extend_from_slice(&(f.len() as u64).to_le_bytes());
            self.key.extend_from_slice(f.as_bytes());
        }
        if let Some(id) = self.scope_ids.get(&self.key[..]) {
            return *id;
        }
        let id = self.scopes.len() as u32;
        self.scopes.push(Arc::new(line.to_scope()));
        self.scope_ids.insert(self.key.as_slice().into(), id);
        id
    }

    fn list_id(&mut self, line: &Line<'_>) -> u32 {
        self.ids.clear();
        for m in &line.measurements {
            let id = match self.name_ids.get(&*m.0) {
                Some(id) => *id,
                None => {
                    let id = self.names.len() as u32;
                    let name: Arc<str> = Arc::from(&*m.0);
                    self.names.push(name.clone());
                    self.name_ids.insert(name, id);
                    id
                }
            };
            self.ids.push(id);
        }
        if let Some(id) = self.list_ids.get(&self.ids[..]) {
            return *id;
        }
        let id = self.lists.len() as u32;
        let names: Arc<[Arc<str>]> = self
            .ids
            .iter()
            .map(|i| self.names[*i as usize].clone())
            .collect();
        self.lists.push((self.ids.as_slice().into(), names));
        self.list_ids.insert(self.ids.as_slice().into(), id);
        id
    }

    /// The scope numbered `id`.
    pub fn scope(&self, id: u32) -> &Arc<Scope> {
        &self.scopes[id as usize]
    }

    /// The measurement name numbered `id`.
    pub fn name(&self, id: u32) -> &Arc<str> {
        &self.names[id as usize]
    }

    /// The name numbers of the measurement list numbered `id`.
    pub fn list(&self, id: u32) -> &[u32] {
        &self.lists[id as usize].0
    }
}

/// Streams the records of `reader` through an [`Interner`], calling `each` with every
/// one in file order; returns what was read and the interner. Torn and bad lines as
/// in [`line::for_each_line`].
#[cfg(test)]
pub fn scan_reader(
    reader: impl std::io::BufRead,
    path: &Path,
    mut each: impl FnMut(&Entry<'_>),
) -> Result<(Lines, Interner), LedgerError> {
    let mut interner = Interner::default();
    let lines = line::for_each_line(reader, path, |l| each(&interner.intern(&l)))?;
    Ok((lines, interner))
}

/// [`scan_reader`] over the ledger file at `path` (missing: no records), warning
/// about a torn last line.
pub fn scan(
    path: &Path,
    mut each: impl FnMut(&Entry<'_>),
) -> Result<(Lines, Interner), LedgerError> {
    let mut interner = Interner::default();
    let lines = line::for_each_line_in(path, |l| each(&interner.intern(&l)))?;
    Ok((lines, interner))
}
