//! InfluxDB 1.x line protocol encoding, as InfluxDB 1.6.7 actually parses it.
//!
//! Checked against a real 1.6.7 server (see `docs/INFLUXDB-NOTES.md`):
//!
//! - **Measurement**: `,` and space are escaped with `\`. `=` and `"` need no
//!   escape. A backslash is kept verbatim (`a\b` stays `a\b`, `\\` is *not*
//!   an escape), except that a backslash right before `,`, space, `=` or `"` is
//!   mangled by the server (the point is accepted, the name shows in
//!   `SHOW MEASUREMENTS`, but no `SELECT` finds it), and a trailing backslash
//!   would escape the separator: both are refused here. A name may not start
//!   with `#` (the line is a comment and is silently ignored, HTTP 204) nor with
//!   a tab or NUL (stripped as leading whitespace).
//! - **Tag key and tag value**: `,`, `=` and space are escaped with `\`. A
//!   backslash is kept verbatim, also right before an escaped character
//!   (`a\,b` is written `a\\,b` and stored as `a\,b`), but a trailing backslash
//!   cannot be written (it would escape the separator): refused here. An empty
//!   tag value cannot be written (`missing tag value`): [`Point::to_line`]
//!   leaves such tags out, which is what InfluxDB means by an empty tag.
//! - **Field key**: `,`, `=` and space are escaped; a backslash is refused here
//!   (the field scanner treats `\x` as a pair, and `\"` is unescaped).
//! - **String field value**: inside `"..."`, `"` and `\` are escaped with `\`.
//!   A newline inside the quotes is accepted and stored.
//! - A newline is impossible in a measurement, tag or field key (it ends the
//!   line) and refused here. Unicode is stored as UTF-8 unchanged.
//! - Floats are written so that they are floats (`1.0`, `1e-7`), integers with
//!   the `i` suffix; NaN and infinities are refused by InfluxDB and here.
//! - The keys `time` (tag or field) are refused by the server
//!   (`invalid tag key` / `invalid field name`), not here.

use anyhow::{bail, Result};
use std::fmt::Write as _;

/// A field value of a point.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldValue {
    /// A float (`value=1.5`).
    Float(f64),
    /// A signed integer (`value=7i`).
    Integer(i64),
    /// A string (`value_meta="{}"`).
    Str(String),
    /// A boolean (`ok=true`).
    Bool(bool),
}

impl From<f64> for FieldValue {
    fn from(v: f64) -> Self {
        FieldValue::Float(v)
    }
}

impl From<i64> for FieldValue {
    fn from(v: i64) -> Self {
        FieldValue::Integer(v)
    }
}

impl From<&str> for FieldValue {
    fn from(v: &str) -> Self {
        FieldValue::Str(v.to_string())
    }
}

impl From<String> for FieldValue {
    fn from(v: String) -> Self {
        FieldValue::Str(v)
    }
}

impl From<bool> for FieldValue {
    fn from(v: bool) -> Self {
        FieldValue::Bool(v)
    }
}

/// One point, to be encoded as one line of line protocol.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    /// Measurement name.
    pub measurement: String,
    /// Tags (key, value); tags with an empty value are left out of the line.
    pub tags: Vec<(String, String)>,
    /// Fields (key, value); at least one is required.
    pub fields: Vec<(String, FieldValue)>,
    /// Timestamp in nanoseconds since the epoch.
    pub time_ns: i64,
}

impl Point {
    /// A point with no tags or fields yet, at time 0.
    pub fn new(measurement: impl Into<String>) -> Self {
        Point {
            measurement: measurement.into(),
            tags: Vec::new(),
            fields: Vec::new(),
            time_ns: 0,
        }
    }

    /// Adds a tag.
    pub fn tag(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.tags.push((key.into(), value.into()));
        self
    }

    /// Adds a field.
    pub fn field(mut self, key: impl Into<String>, value: impl Into<FieldValue>) -> Self {
        self.fields.push((key.into(), value.into()));
        self
    }

    /// Sets the timestamp (nanoseconds since the epoch).
    pub fn time(mut self, time_ns: i64) -> Self {
        self.time_ns = time_ns;
        self
    }

    /// Encodes the point as one line (no trailing newline), tags sorted by key.
    /// Fails for names InfluxDB 1.6 cannot store faithfully (see the module
    /// doc), duplicate tag keys, no fields, or a non-finite float.
    pub fn to_line(&self) -> Result<String> {
        if self.fields.is_empty() {
            bail!("point in {:?} has no fields", self.measurement);
        }
        let mut out = escape_measurement(&self.measurement)?;
        let mut tags: Vec<&(String, String)> =
            self.tags.iter().filter(|(_, v)| !v.is_empty()).collect();
        tags.sort_by(|a, b| a.0.cmp(&b.0));
        for pair in tags.windows(2) {
            if pair[0].0 == pair[1].0 {
                bail!("duplicate tag key {:?}", pair[0].0);
            }
        }
        for (k, v) in tags {
            out.push(',');
            out.push_str(&escape_tag(k)?);
            out.push('=');
            out.push_str(&escape_tag(v)?);
        }
        for (i, (k, v)) in self.fields.iter().enumerate() {
            out.push(if i == 0 { ' ' } else { ',' });
            out.push_str(&escape_field_key(k)?);
            out.push('=');
            write_field_value(&mut out, v)?;
        }
        let _ = write!(out, " {}", self.time_ns);
        Ok(out)
    }
}

/// Appends the line-protocol form of a field value to `out`.
pub fn write_field_value(out: &mut String, value: &FieldValue) -> Result<()> {
    match value {
        FieldValue::Float(f) => out.push_str(&format_float(*f)?),
        FieldValue::Integer(i) => {
            let _ = write!(out, "{i}i");
        }
        FieldValue::Str(s) => {
            out.push('"');
            out.push_str(&escape_field_string(s));
            out.push('"');
        }
        FieldValue::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
    }
    Ok(())
}

/// Formats a float so InfluxDB parses it as a float: `1.0`, `2.5`, `1e-7`.
/// NaN and infinities are refused.
pub fn format_float(value: f64) -> Result<String> {
    if !value.is_finite() {
        bail!("InfluxDB cannot store the float {value}");
    }
    // Debug always has a `.` or an exponent: `1.0`, `1e-7`, `1e16`.
    Ok(format!("{value:?}"))
}

fn check_name(kind: &str, s: &str) -> Result<()> {
    if s.is_empty() {
        bail!("empty {kind}");
    }
    if s.contains('\n') {
        bail!("{kind} {s:?} contains a newline, which line protocol cannot carry");
    }
    if s.ends_with('\\') {
        bail!("{kind} {s:?} ends with a backslash, which would escape the separator");
    }
    Ok(())
}

/// Escapes a measurement name: `,` and space get a backslash. Fails for
/// names InfluxDB 1.6 cannot store faithfully: empty, a newline, a leading
/// `#`, tab or NUL, a trailing backslash, or a backslash right before `,`,
/// space, `=` or `"`.
pub fn escape_measurement(name: &str) -> Result<String> {
    check_name("measurement", name)?;
    if name.starts_with(['#', '\t', '\0']) {
        bail!("measurement {name:?} starts with '#', tab or NUL, which line protocol cannot carry");
    }
    let mut out = String::with_capacity(name.len() + 4);
    let mut prev_backslash = false;
    for c in name.chars() {
        if prev_backslash && matches!(c, ',' | ' ' | '=' | '"') {
            bail!(
                "measurement {name:?} has a backslash before {c:?}: InfluxDB 1.6 stores it under a name no query finds"
            );
        }
        if matches!(c, ',' | ' ') {
            out.push('\\');
        }
        out.push(c);
        prev_backslash = c == '\\';
    }
    Ok(out)
}

/// Escapes a tag key or tag value: `,`, `=` and space get a backslash;
/// backslashes stay as they are (InfluxDB 1.6 has no escape for them). Fails
/// for an empty text, a newline or a trailing backslash.
pub fn escape_tag(text: &str) -> Result<String> {
    check_name("tag key or value", text)?;
    let mut out = String::with_capacity(text.len() + 4);
    for c in text.chars() {
        if matches!(c, ',' | '=' | ' ') {
            out.push('\\');
        }
        out.push(c);
    }
    Ok(out)
}

/// Escapes a field key: `,`, `=` and space get a backslash. Fails for an empty
/// key, a newline or any backslash.
pub fn escape_field_key(key: &str) -> Result<String> {
    check_name("field key", key)?;
    if key.contains('\\') {
        bail!(
            "field key {key:?} contains a backslash, which InfluxDB 1.6 does not store faithfully"
        );
    }
    let mut out = String::with_capacity(key.len() + 4);
    for c in key.chars() {
        if matches!(c, ',' | '=' | ' ') {
            out.push('\\');
        }
        out.push(c);
    }
    Ok(out)
}

/// Escapes the inside of a string field value (without the surrounding
/// quotes): `"` and `\` get a backslash. Every string can be written.
pub fn escape_field_string(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    for c in value.chars() {
        if matches!(c, '"' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Measurement escaping escapes only `,` and space and refuses the names
    /// 1.6 mangles.
    #[test]
    fn measurement_escaping() {
        assert_eq!(
            escape_measurement("cpu.idle_perc").unwrap(),
            "cpu.idle_perc"
        );
        assert_eq!(escape_measurement("a b,c=d\"e").unwrap(), "a\\ b\\,c=d\"e");
        assert_eq!(escape_measurement("a\\b").unwrap(), "a\\b");
        assert!(escape_measurement("a\\,b").is_err());
        assert!(escape_measurement("a\\").is_err());
        assert!(escape_measurement("#x").is_err());
        assert!(escape_measurement("").is_err());
        assert!(escape_measurement("a\nb").is_err());
    }

    /// Tag escaping escapes `,`, `=` and space, keeps backslashes verbatim.
    #[test]
    fn tag_escaping() {
        assert_eq!(escape_tag("a b,c=d").unwrap(), "a\\ b\\,c\\=d");
        assert_eq!(escape_tag("a\\,b").unwrap(), "a\\\\,b");
        assert_eq!(escape_tag("\"q\" 'x' ü").unwrap(), "\"q\"\\ 'x'\\ ü");
        assert!(escape_tag("x\\").is_err());
        assert!(escape_tag("").is_err());
    }

    /// String fields escape quotes and backslashes only.
    #[test]
    fn field_string_escaping() {
        assert_eq!(
            escape_field_string(r#"{"a": "b\c"}"#),
            r#"{\"a\": \"b\\c\"}"#
        );
        assert_eq!(escape_field_string("x\ny"), "x\ny");
    }

    /// Floats always look like floats, integers carry `i`.
    #[test]
    fn number_formatting() {
        assert_eq!(format_float(1.0).unwrap(), "1.0");
        assert_eq!(format_float(-2.5).unwrap(), "-2.5");
        assert_eq!(format_float(1e-7).unwrap(), "1e-7");
        assert!(format_float(f64::NAN).is_err());
        let line = Point::new("m")
            .tag("b", "2")
            .tag("a", "1")
            .tag("empty", "")
            .field("value", 3i64)
            .field("f", 1.0)
            .field("s", "say \"hi\"")
            .field("ok", true)
            .time(5)
            .to_line()
            .unwrap();
        assert_eq!(line, r#"m,a=1,b=2 value=3i,f=1.0,s="say \"hi\"",ok=true 5"#);
    }

    /// Duplicate tag keys and pointless points are refused.
    #[test]
    fn invalid_points() {
        assert!(Point::new("m").time(1).to_line().is_err());
        assert!(Point::new("m")
            .tag("a", "1")
            .tag("a", "2")
            .field("v", 1.0)
            .to_line()
            .is_err());
    }
}
