//! InfluxDB 1.x line protocol, as 1.6.7 actually parses it (docs/INFLUXDB-NOTES.md):
//! encoding query rows back into points, and finding point boundaries in a stream of
//! lines. Pure.
//!
//! Escaping rules that differ from the published spec, all checked on 1.6.7:
//! - tag keys and values escape `,`, `=` and space; a backslash is *not* an escape for
//!   itself (`a\b` is stored as written), and a trailing backslash cannot be written;
//! - measurements escape `,` and space; a backslash right before `,`, space, `=` or
//!   `"` is mangled by the server, and a leading `#` makes the line a comment;
//! - field keys escape `,`, `=` and space; `\"` is unescaped, so a backslash before
//!   `"`, `\`, `,`, `=` or space (or at the end) cannot be written faithfully;
//! - string field values escape `"` and `\`; a raw newline inside the quotes is kept.
//!
//! What cannot be written faithfully is refused with [`EncodeError`] rather than
//! stored under another name.

use crate::core::field::FieldTypes;
use crate::core::rewrite::Rewrite;
use crate::influx::answer::Series;
use serde_json::Value;
use std::fmt::Write as _;

/// A value that cannot be written as line protocol without changing it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// A name InfluxDB 1.6 would store differently or refuse.
    #[error("{kind} {name:?} cannot be written as line protocol: {reason}")]
    Name {
        /// What the name is (measurement, tag key, ...).
        kind: &'static str,
        /// The name.
        name: String,
        /// Why.
        reason: &'static str,
    },
    /// A field value that does not match the field's type.
    #[error("field {field:?} of measurement {measurement:?}: {reason}")]
    Value {
        /// Measurement.
        measurement: String,
        /// Field key.
        field: String,
        /// What is wrong.
        reason: String,
    },
    /// A row without a usable timestamp.
    #[error("measurement {measurement:?}: row without an integer time")]
    Time {
        /// Measurement.
        measurement: String,
    },
}

/// The type of a field, from `SHOW FIELD KEYS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum FieldKind {
    /// 64-bit float.
    Float,
    /// 64-bit signed integer (`i` suffix).
    Integer,
    /// String.
    String,
    /// Boolean.
    Boolean,
}

impl FieldKind {
    /// Reads the type name `SHOW FIELD KEYS` prints.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "float" => Some(FieldKind::Float),
            "integer" => Some(FieldKind::Integer),
            "string" => Some(FieldKind::String),
            "boolean" => Some(FieldKind::Boolean),
            _ => None,
        }
    }
}

fn refuse(kind: &'static str, name: &str, reason: &'static str) -> EncodeError {
    EncodeError::Name {
        kind,
        name: name.to_string(),
        reason,
    }
}

fn check_common(kind: &'static str, s: &str) -> Result<(), EncodeError> {
    if s.is_empty() {
        return Err(refuse(kind, s, "it is empty"));
    }
    if s.contains('\n') {
        return Err(refuse(kind, s, "a newline ends the line"));
    }
    if s.ends_with('\\') {
        return Err(refuse(
            kind,
            s,
            "a trailing backslash would escape the separator",
        ));
    }
    Ok(())
}

/// Escapes a measurement name (`,` and space); refuses names 1.6 cannot store as they are.
pub fn escape_measurement(name: &str) -> Result<String, EncodeError> {
    const KIND: &str = "measurement";
    check_common(KIND, name)?;
    if name.starts_with(['#', '\t', '\0', ' ']) {
        return Err(refuse(
            KIND,
            name,
            "a leading '#', space, tab or NUL is read as a comment or stripped",
        ));
    }
    let mut out = String::with_capacity(name.len() + 2);
    let mut prev_backslash = false;
    for c in name.chars() {
        if prev_backslash && matches!(c, ',' | ' ' | '=' | '"') {
            return Err(refuse(
                KIND,
                name,
                "a backslash before ',', space, '=' or '\"' is mangled by InfluxDB 1.6",
            ));
        }
        if matches!(c, ',' | ' ') {
            out.push('\\');
        }
        out.push(c);
        prev_backslash = c == '\\';
    }
    Ok(out)
}

/// Escapes a tag key or value (`,`, `=`, space); backslashes stay as they are.
pub fn escape_tag(kind: &'static str, text: &str) -> Result<String, EncodeError> {
    check_common(kind, text)?;
    let mut out = String::with_capacity(text.len() + 2);
    for c in text.chars() {
        if matches!(c, ',' | '=' | ' ') {
            out.push('\\');
        }
        out.push(c);
    }
    Ok(out)
}

/// Escapes a field key (`,`, `=`, space); refuses a backslash the field scanner would
/// read as an escape.
pub fn escape_field_key(key: &str) -> Result<String, EncodeError> {
    const KIND: &str = "field key";
    check_common(KIND, key)?;
    let mut out = String::with_capacity(key.len() + 2);
    let mut prev_backslash = false;
    for c in key.chars() {
        if prev_backslash && matches!(c, '"' | '\\' | ',' | '=' | ' ') {
            return Err(refuse(
                KIND,
                key,
                "a backslash before '\"', '\\', ',', '=' or space is read as an escape",
            ));
        }
        if matches!(c, ',' | '=' | ' ') {
            out.push('\\');
        }
        out.push(c);
        prev_backslash = c == '\\';
    }
    Ok(out)
}

/// Appends a string field value with its quotes, escaping `"` and `\`.
pub fn push_string_field(out: &mut String, value: &str) {
    out.reserve(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        if matches!(c, '"' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
}

/// Appends a float so it parses back as the same `f64`: Rust's shortest round-trip
/// form, which always has a `.` or an exponent (`1.0`, `1e-7`, `1e300`). Without the
/// `i` suffix InfluxDB reads any number as a float, so the form only has to be exact.
pub fn push_float(out: &mut String, v: f64) -> bool {
    if !v.is_finite() {
        return false;
    }
    let _ = write!(out, "{v:?}");
    true
}

/// Encodes the rows of one `GROUP BY *` series (tags in the series, fields in the
/// columns) as lines. Names are escaped once per series.
#[derive(Debug)]
pub struct SeriesEncoder<'a> {
    measurement: &'a str,
    /// Escaped measurement and tags.
    key: String,
    time: usize,
    /// (column index, escaped key, the types the field may have).
    fields: Vec<(usize, String, Vec<FieldKind>)>,
}

impl<'a> SeriesEncoder<'a> {
    /// Prepares a series. The field types come from `SHOW FIELD KEYS` of the source
    /// measurement: JSON cannot tell the float `7.0` from the integer `7`.
    pub fn new(
        series: &'a Series,
        types: &FieldTypes,
        rewrite: &Rewrite,
    ) -> Result<Self, EncodeError> {
        let measurement = series.name.as_str();
        let mut key = escape_measurement(&rewrite.measurement(measurement))?;
        // Tags come sorted (BTreeMap), which is the order InfluxDB prefers.
        for (k, v) in &series.tags {
            // GROUP BY * reports a tag key the series lacks as "".
            if v.is_empty() || rewrite.drop_tags.contains(k) {
                continue;
            }
            key.push(',');
            key.push_str(&escape_tag("tag key", k)?);
            key.push('=');
            key.push_str(&escape_tag("tag value", v)?);
        }
        let time = series.column("time").ok_or_else(|| EncodeError::Time {
            measurement: measurement.to_string(),
        })?;
        let known = types.get(measurement);
        let mut fields = Vec::with_capacity(series.columns.len());
        for (i, c) in series.columns.iter().enumerate() {
            if i == time {
                continue;
            }
            let mut kinds: Vec<FieldKind> = known
                .and_then(|f| f.get(c))
                .into_iter()
                .flatten()
                .filter_map(|t| FieldKind::parse(&t.0))
                .collect();
            kinds.sort();
            fields.push((i, escape_field_key(c)?, kinds));
        }
        Ok(SeriesEncoder {
            measurement,
            key,
            time,
            fields,
        })
    }

    fn value_error(&self, field: usize, reason: String) -> EncodeError {
        let name = &self.fields[field].1;
        EncodeError::Value {
            measurement: self.measurement.to_string(),
            field: name.clone(),
            reason,
        }
    }

    /// Appends one row as a line (with its newline). Null fields are left out; a row
    /// whose fields are all null is skipped and `Ok(false)` returned.
    pub fn push_row(&self, row: &[Value], out: &mut String) -> Result<bool, EncodeError> {
        let time = row
            .get(self.time)
            .and_then(Value::as_i64)
            .ok_or_else(|| EncodeError::Time {
                measurement: self.measurement.to_string(),
            })?;
        let start = out.len();
        out.push_str(&self.key);
        let mut any = false;
        for (n, (col, key, kinds)) in self.fields.iter().enumerate() {
            let v = match row.get(*col) {
                None | Some(Value::Null) => continue,
                Some(v) => v,
            };
            out.push(if any { ',' } else { ' ' });
            any = true;
            out.push_str(key);
            out.push('=');
            if let Err(reason) = push_value(out, v, kinds) {
                out.truncate(start);
                return Err(self.value_error(n, reason));
            }
        }
        if !any {
            out.truncate(start);
            return Ok(false);
        }
        let _ = writeln!(out, " {time}");
        Ok(true)
    }
}

/// Appends one field value of the given possible types.
fn push_value(out: &mut String, v: &Value, kinds: &[FieldKind]) -> Result<(), String> {
    let allows = |k| kinds.contains(&k);
    match v {
        Value::Bool(b) if kinds.is_empty() || allows(FieldKind::Boolean) => {
            out.push_str(if *b { "true" } else { "false" });
            Ok(())
        }
        Value::String(s) if kinds.is_empty() || allows(FieldKind::String) => {
            push_string_field(out, s);
            Ok(())
        }
        Value::Number(n) => {
            let int = allows(FieldKind::Integer);
            let float = allows(FieldKind::Float);
            if int && !float {
                let i = n
                    .as_i64()
                    .ok_or_else(|| format!("{n} is not a 64-bit integer"))?;
                let _ = write!(out, "{i}i");
                Ok(())
            } else if float {
                // A field that is float in one shard and integer in another prints both
                // as plain JSON numbers; it is written as float, as InfluxDB's own
                // SELECT INTO does over such shards.
                let f = n.as_f64().ok_or_else(|| format!("{n} is not a number"))?;
                if push_float(out, f) {
                    Ok(())
                } else {
                    Err(format!("{f} cannot be stored"))
                }
            } else if kinds.is_empty() {
                Err(format!(
                    "number {n} for a field SHOW FIELD KEYS did not list (it appeared after discovery); run again"
                ))
            } else {
                Err(format!("number {n} for a field of type {kinds:?}"))
            }
        }
        other => Err(format!("value {other} does not match type {kinds:?}")),
    }
}

/// Where the next point in a buffer of line protocol ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PointSpan {
    /// Bytes the point takes, including its newline if it has one.
    pub len: usize,
    /// The point's timestamp; `None` for a comment, an empty line, or a point without
    /// a timestamp.
    pub time: Option<i64>,
    /// The line is a comment (`#...`) or empty: nothing to write.
    pub blank: bool,
}

impl PointSpan {
    /// A point line of `len` bytes that ends before any timestamp.
    fn untimed(len: usize) -> Self {
        PointSpan {
            len,
            time: None,
            blank: false,
        }
    }
}

/// Finds the end of the first point in `buf`, scanning like InfluxDB 1.6.7: in the
/// measurement and tags a separator is escaped when the byte before it is a backslash;
/// in the fields a backslash escapes the next byte and a newline inside a quoted string
/// value belongs to the value. Returns `None` when `buf` holds no complete point yet
/// (more bytes may follow unless `eof`).
pub fn next_point(buf: &[u8], eof: bool) -> Option<PointSpan> {
    if buf.is_empty() {
        return None;
    }
    let newline_end = |from: usize| -> Option<usize> {
        match buf[from..].iter().position(|&b| b == b'\n') {
            Some(p) => Some(from + p + 1),
            None if eof => Some(buf.len()),
            None => None,
        }
    };
    if buf[0] == b'#' || buf[0] == b'\n' || buf[0] == b'\r' {
        let len = newline_end(0)?;
        let blank = buf[..len].iter().all(|b| b.is_ascii_whitespace()) || buf[0] == b'#';
        return Some(PointSpan {
            len,
            time: None,
            blank,
        });
    }
    let mut i = 0;
    // Measurement and tags.
    while i < buf.len() {
        match buf[i] {
            b'\n' => return Some(PointSpan::untimed(i + 1)),
            b' ' if i == 0 || buf[i - 1] != b'\\' => break,
            _ => {}
        }
        i += 1;
    }
    if i >= buf.len() {
        return eof.then_some(PointSpan::untimed(buf.len()));
    }
    // Fields.
    i += 1;
    let mut quoted = false;
    while i < buf.len() {
        match buf[i] {
            b'\\' => {
                i += 2;
                continue;
            }
            b'"' if quoted => quoted = false,
            b'"' if buf[i - 1] == b'=' => quoted = true,
            b' ' if !quoted => break,
            b'\n' if !quoted => return Some(PointSpan::untimed(i + 1)),
            _ => {}
        }
        i += 1;
    }
    if i >= buf.len() {
        return eof.then_some(PointSpan::untimed(buf.len()));
    }
    let ts_start = i + 1;
    let len = newline_end(ts_start)?;
    let text = std::str::from_utf8(&buf[ts_start..len]).ok()?;
    Some(PointSpan {
        len,
        time: text.trim_end().parse().ok(),
        blank: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::field::FieldType;
    use serde_json::json;

    fn types(spec: &[(&str, &str, &[&str])]) -> FieldTypes {
        let mut t = FieldTypes::new();
        for (m, f, kinds) in spec {
            t.entry(m.to_string()).or_default().insert(
                f.to_string(),
                kinds.iter().map(|k| FieldType(k.to_string())).collect(),
            );
        }
        t
    }

    fn series(name: &str, tags: &[(&str, &str)], columns: &[&str], rows: Value) -> Series {
        Series {
            name: name.into(),
            tags: tags
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            columns: columns.iter().map(|c| c.to_string()).collect(),
            values: serde_json::from_value(rows).unwrap(),
            ..Series::default()
        }
    }

    fn encode(s: &Series, t: &FieldTypes, r: &Rewrite) -> Result<String, EncodeError> {
        let e = SeriesEncoder::new(s, t, r)?;
        let mut out = String::new();
        for row in &s.values {
            e.push_row(row, &mut out)?;
        }
        Ok(out)
    }

    /// Types come from SHOW FIELD KEYS: a whole float stays a float (`7.0`), an integer
    /// gets `i`, booleans and strings are written as such; nulls are left out and a row
    /// of nulls is skipped; empty tags (absent in the series) are left out.
    #[test]
    fn rows_keep_types_and_skip_nulls() {
        let t = types(&[
            ("m", "f", &["float"]),
            ("m", "i", &["integer"]),
            ("m", "b", &["boolean"]),
            ("m", "s", &["string"]),
        ]);
        let s = series(
            "m",
            &[("host", "h1"), ("absent", ""), ("_tenant_id", "x")],
            &["time", "b", "f", "i", "s"],
            json!([
                [1, true, 7, 9223372036854775807i64, "say \"hi\"\\\nnext"],
                [2, null, 0.1, null, null],
                [3, null, null, null, null],
                [4, false, -0.0, -9223372036854775808i64, ""]
            ]),
        );
        let got = encode(&s, &t, &Rewrite::default()).unwrap();
        assert_eq!(
            got,
            "m,_tenant_id=x,host=h1 b=true,f=7.0,i=9223372036854775807i,s=\"say \\\"hi\\\"\\\\\nnext\" 1\n\
             m,_tenant_id=x,host=h1 f=0.1 2\n\
             m,_tenant_id=x,host=h1 b=false,f=-0.0,i=-9223372036854775808i,s=\"\" 4\n"
        );
    }

    /// Floats are written in Rust's shortest round-trip form and parse back equal,
    /// including values JSON prints with exponents.
    #[test]
    fn floats_round_trip() {
        for v in [
            0.1 + 0.2,
            1e-7,
            1e300,
            -2.5e-308,
            123456789.12345678,
            1e16,
            f64::MAX,
            f64::MIN_POSITIVE,
            5e-324,
        ] {
            let mut s = String::new();
            assert!(push_float(&mut s, v));
            assert!(s.contains('.') || s.contains('e'), "{s}");
            assert_eq!(s.parse::<f64>().unwrap().to_bits(), v.to_bits(), "{s}");
            // What InfluxDB sends as JSON for it parses to the same bits too.
            let json: Value = serde_json::from_str(&format!("{v:e}")).unwrap();
            assert_eq!(json.as_f64().unwrap().to_bits(), v.to_bits());
        }
        assert!(!push_float(&mut String::new(), f64::NAN));
    }

    /// Measurement, tag and field-key escaping follows 1.6.7; unwritable names are refused.
    #[test]
    fn escaping() {
        assert_eq!(escape_measurement("a b,c=d\"e").unwrap(), "a\\ b\\,c=d\"e");
        assert_eq!(escape_measurement("a\\b").unwrap(), "a\\b");
        assert!(escape_measurement("a\\,b").is_err());
        assert!(escape_measurement("#x").is_err());
        assert!(escape_measurement("x\\").is_err());
        assert_eq!(escape_tag("t", "a b,c=d").unwrap(), "a\\ b\\,c\\=d");
        assert_eq!(escape_tag("t", "C:\\tmp").unwrap(), "C:\\tmp");
        assert_eq!(escape_tag("t", "a\\,b").unwrap(), "a\\\\,b");
        assert!(escape_tag("t", "ends\\").is_err());
        assert!(escape_tag("t", "two\nlines").is_err());
        assert_eq!(escape_field_key("k x=1").unwrap(), "k\\ x\\=1");
        assert_eq!(escape_field_key("k\\x").unwrap(), "k\\x");
        assert!(escape_field_key("k\\\"y").is_err());
        let mut s = String::new();
        push_string_field(&mut s, "q\"uo\\te\\");
        assert_eq!(s, "\"q\\\"uo\\\\te\\\\\"");
    }

    /// A value of the wrong type, or a number for a field discovery did not see, is an
    /// error naming the measurement and field, not a guess.
    #[test]
    fn type_mismatch_is_an_error() {
        let t = types(&[("m", "i", &["integer"])]);
        let s = series("m", &[], &["time", "i"], json!([[1, 1.5]]));
        let err = encode(&s, &t, &Rewrite::default()).unwrap_err().to_string();
        assert!(err.contains("\"m\"") && err.contains("\"i\""), "{err}");
        let s = series("m", &[], &["time", "new"], json!([[1, 3]]));
        assert!(encode(&s, &t, &Rewrite::default()).is_err());
        // Strings and booleans are unambiguous even for an unknown field.
        let s = series("m", &[], &["time", "new"], json!([[1, "x"]]));
        assert_eq!(
            encode(&s, &t, &Rewrite::default()).unwrap(),
            "m new=\"x\" 1\n"
        );
    }

    /// A field that is float in one shard and integer in another is written as float.
    #[test]
    fn mixed_numeric_field_is_float() {
        let t = types(&[("m", "v", &["integer", "float"])]);
        let s = series("m", &[], &["time", "v"], json!([[1, 7], [2, 1.5]]));
        assert_eq!(
            encode(&s, &t, &Rewrite::default()).unwrap(),
            "m v=7.0 1\nm v=1.5 2\n"
        );
    }

    /// Dropped tags are left out and renamed measurements get their new name; field
    /// types are still looked up under the source name.
    #[test]
    fn rewrite_drops_tags_and_renames() {
        let t = types(&[("cpu.idle", "v", &["integer"])]);
        let r = Rewrite {
            drop_tags: ["_tenant_id".to_string()].into(),
            renames: vec![(regex::Regex::new(r"^cpu\.(.*)$").unwrap(), "c_$1".into())],
        };
        let s = series(
            "cpu.idle",
            &[("_tenant_id", "x"), ("host", "h")],
            &["time", "v"],
            json!([[5, 3]]),
        );
        assert_eq!(encode(&s, &t, &r).unwrap(), "c_idle,host=h v=3i 5\n");
        assert_eq!(r.measurement("mem"), "mem");
    }

    /// Point boundaries: a newline inside a quoted string value is part of the point,
    /// escaped quotes and backslashes do not end the string, quotes in tags and field
    /// keys are ordinary, comments and blank lines are marked blank.
    #[test]
    fn point_boundaries() {
        let text = "# header {\"x\":1}\n\
                    m,t=a\\ b\\,\"q s=\"one\ntwo \\\"x\\\\\",f=1.0 10\n\
                    \n\
                    m,t=x k\"ey=2i,s=\"end\\\\\" 11\n\
                    m v=1 12";
        let b = text.as_bytes();
        let mut at = 0;
        let mut got = Vec::new();
        while let Some(p) = next_point(&b[at..], true) {
            got.push((
                std::str::from_utf8(&b[at..at + p.len]).unwrap().to_string(),
                p.time,
                p.blank,
            ));
            at += p.len;
        }
        assert_eq!(at, b.len());
        let times: Vec<_> = got.iter().map(|g| (g.1, g.2)).collect();
        assert_eq!(
            times,
            vec![
                (None, true),
                (Some(10), false),
                (None, true),
                (Some(11), false),
                (Some(12), false)
            ]
        );
        assert!(got[1].0.contains("one\ntwo"));
        // Without eof, an unterminated last point waits for more bytes.
        assert_eq!(next_point(b"m v=1 12", false), None);
        assert_eq!(next_point(b"m s=\"open\n", false), None);
    }

    /// Every line the encoder writes is found again whole by the boundary scanner.
    #[test]
    fn encoder_output_scans_back() {
        let t = types(&[("m m", "s", &["string"]), ("m m", "n", &["integer"])]);
        let s = series(
            "m m",
            &[("t k", "v=\"1\",\\x")],
            &["time", "n", "s"],
            json!([
                [1, 1, "a\nb \"c\" \\"],
                [2, 2, "\\"],
                [3, 3, " x=\"y\" 5\n"]
            ]),
        );
        let text = encode(&s, &t, &Rewrite::default()).unwrap();
        let b = text.as_bytes();
        let (mut at, mut times) = (0, vec![]);
        while let Some(p) = next_point(&b[at..], false) {
            times.push(p.time.unwrap());
            at += p.len;
        }
        assert_eq!(times, vec![1, 2, 3]);
        assert_eq!(at, b.len());
    }
}
