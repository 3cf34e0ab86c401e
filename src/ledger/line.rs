//! One ledger line as it is on disk, borrowed from the read buffer, and the reader
//! that hands the lines of a file (or any buffered reader) out one at a time.
//!
//! Memory is one line's buffer, whatever the size of the ledger; a field borrows from
//! the buffer unless its JSON text has escapes. `#[serde(flatten)]` (as in [`Record`])
//! buffers every field before it can deserialize one: the flat [`Line`] does not.

use super::{LedgerError, Record, RecordKind, Scope};
use crate::core::window::TimeUnit;
use serde::Deserialize;
use std::borrow::Cow;
use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::path::Path;

/// A name inside a line: borrowed from the buffer unless it has escapes (a `Cow` in
/// a `Vec` is never borrowed without this newtype).
#[derive(Debug, Deserialize)]
pub struct Name<'a>(#[serde(borrow)] pub Cow<'a, str>);

/// One ledger line, field for field as [`Record`] writes it, flat and borrowed.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Line<'a> {
    /// What happened to the chunk (lines from before kinds existed: copied).
    #[serde(default)]
    pub kind: RecordKind,
    /// Source server URL.
    #[serde(borrow)]
    pub source: Cow<'a, str>,
    /// Source database.
    #[serde(borrow)]
    pub source_db: Cow<'a, str>,
    /// Source retention policy.
    #[serde(borrow)]
    pub source_rp: Cow<'a, str>,
    /// Target database.
    #[serde(borrow)]
    pub target: Cow<'a, str>,
    /// Target retention policy.
    #[serde(borrow)]
    pub target_rp: Cow<'a, str>,
    /// Tenant id.
    #[serde(borrow)]
    pub tenant: Cow<'a, str>,
    /// Target server (empty, or absent in older lines: the source server).
    #[serde(borrow, default)]
    pub target_url: Cow<'a, str>,
    /// Measurements the chunk covered.
    #[serde(borrow)]
    pub measurements: Vec<Name<'a>>,
    /// First nanosecond of the window.
    pub start: i64,
    /// First nanosecond after the window.
    pub end: i64,
    /// Window size the chunk was planned with.
    pub unit: TimeUnit,
    /// The chunk is a piece of a failed bigger one.
    #[serde(default)]
    pub split: bool,
    /// Points the server reported written.
    pub points: u64,
    /// When the line was written.
    #[serde(borrow)]
    pub at: Cow<'a, str>,
}

impl Line<'_> {
    /// The six scope fields and the target server, in [`Scope`]'s field order.
    pub fn scope_fields(&self) -> [&str; 7] {
        [
            &self.source,
            &self.source_db,
            &self.source_rp,
            &self.target,
            &self.target_rp,
            &self.tenant,
            &self.target_url,
        ]
    }

    /// The owned scope.
    pub fn to_scope(&self) -> Scope {
        Scope {
            source: self.source.to_string(),
            source_db: self.source_db.to_string(),
            source_rp: self.source_rp.to_string(),
            target: self.target.to_string(),
            target_rp: self.target_rp.to_string(),
            tenant: self.tenant.to_string(),
            target_url: self.target_url.to_string(),
        }
    }

    /// The owned record.
    pub fn to_record(&self) -> Record {
        Record {
            kind: self.kind,
            scope: self.to_scope(),
            measurements: self.measurements.iter().map(|m| m.0.to_string()).collect(),
            start: self.start,
            end: self.end,
            unit: self.unit,
            split: self.split,
            points: self.points,
            at: self.at.to_string(),
        }
    }
}

/// How many records a pass read, and the torn last line it skipped, if any.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Lines {
    /// Complete records (blank lines and a torn last line not counted).
    pub records: usize,
    /// 1-based number of a torn (unterminated, unparsable) last line.
    pub torn_line: Option<usize>,
}

/// Parses one line's text (without its newline).
fn parse_line(bytes: &[u8]) -> Result<Option<Line<'_>>, String> {
    let text = std::str::from_utf8(bytes).map_err(|e| e.to_string())?;
    if text.trim().is_empty() {
        return Ok(None);
    }
    serde_json::from_str(text)
        .map(Some)
        .map_err(|e| e.to_string())
}

/// Calls `each` with every record of `reader` in order. An unterminated last line
/// that does not parse is a torn write from a crash and is reported in
/// [`Lines::torn_line`]; any other bad line is an error naming `path` and its number.
pub fn for_each_line(
    mut reader: impl BufRead,
    path: &Path,
    mut each: impl FnMut(Line<'_>),
) -> Result<Lines, LedgerError> {
    let mut out = Lines::default();
    let mut buf = Vec::with_capacity(1024);
    let mut number = 0;
    loop {
        buf.clear();
        let n = reader
            .read_until(b'\n', &mut buf)
            .map_err(|source| LedgerError::Io {
                path: path.to_path_buf(),
                source,
            })?;
        if n == 0 {
            return Ok(out);
        }
        number += 1;
        let terminated = buf.last() == Some(&b'\n');
        let text = if terminated { &buf[..n - 1] } else { &buf[..] };
        match parse_line(text) {
            Ok(Some(line)) => {
                out.records += 1;
                each(line);
            }
            Ok(None) => {}
            // Only the last line can lack its newline.
            Err(_) if !terminated => out.torn_line = Some(number),
            Err(reason) => {
                return Err(LedgerError::BadLine {
                    path: path.to_path_buf(),
                    line: number,
                    reason,
                })
            }
        }
    }
}

/// [`for_each_line`] over the file at `path` (a missing file has no lines), warning
/// about a torn last line.
pub fn for_each_line_in(path: &Path, each: impl FnMut(Line<'_>)) -> Result<Lines, LedgerError> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Lines::default()),
        Err(source) => {
            return Err(LedgerError::Io {
                path: path.to_path_buf(),
                source,
            })
        }
    };
    let lines = for_each_line(BufReader::with_capacity(1 << 20, file), path, each)?;
    if let Some(line) = lines.torn_line {
        tracing::warn!(
            ledger = %path.display(),
            line,
            "ignoring torn last ledger line (an interrupted write); its chunk will be copied again"
        );
    }
    Ok(lines)
}

/// True when `text` (an unterminated last line) is a torn write: neither blank nor a
/// complete record.
pub fn is_torn(text: &[u8]) -> bool {
    parse_line(text).is_err()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str) -> Result<(Vec<Record>, Lines), LedgerError> {
        let mut out = Vec::new();
        let lines = for_each_line(text.as_bytes(), Path::new("l"), |l| out.push(l.to_record()))?;
        Ok((out, lines))
    }

    /// The flat borrowed line reads exactly what `Record` reads: escaped names, the
    /// defaults of old lines, and the same refusal of unknown fields.
    #[test]
    fn flat_line_reads_what_record_reads() {
        let escaped = r#"{"kind":"differs","source":"http://s","source_db":"mon\"asca","source_rp":"autogen","target":"t\u00e9","target_rp":"autogen","tenant":"a\\b","target_url":"http://t","measurements":["cpu","m\n"],"start":-5,"end":10,"unit":"hour","split":true,"points":3,"at":"x"}"#;
        let old = r#"{"source":"http://s","source_db":"monasca","source_rp":"autogen","target":"monasca_a","target_rp":"autogen","tenant":"a","measurements":["cpu"],"start":0,"end":10,"unit":"week","points":3,"at":"2026-01-01T00:00:00Z"}"#;
        for text in [escaped, old] {
            let (got, _) = lines(&format!("{text}\n")).unwrap();
            let want: Record = serde_json::from_str(text).unwrap();
            assert_eq!(got, vec![want]);
        }
        let unknown = old.replace(r#""points""#, r#""extra":1,"points""#);
        assert!(serde_json::from_str::<Record>(&unknown).is_err());
        assert!(lines(&format!("{unknown}\n")).is_err());
    }

    /// Blank lines are skipped; an unterminated last line is torn only when it does
    /// not parse (then it is not counted), and a complete one is a record.
    #[test]
    fn blank_and_unterminated_lines() {
        let old = r#"{"source":"s","source_db":"d","source_rp":"r","target":"t","target_rp":"r","tenant":"a","measurements":[],"start":0,"end":1,"unit":"week","points":0,"at":""}"#;
        let (rs, l) = lines(&format!("\n  \r\n{old}\n{old}")).unwrap();
        assert_eq!((rs.len(), l.records, l.torn_line), (2, 2, None));
        let (rs, l) = lines(&format!("{old}\n{}", &old[..20])).unwrap();
        assert_eq!((rs.len(), l.records, l.torn_line), (1, 1, Some(2)));
        assert!(is_torn(&old.as_bytes()[..20]) && !is_torn(old.as_bytes()));
        assert!(!is_torn(b"  "));
    }
}
