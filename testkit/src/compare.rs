//! Exact content comparison between databases.
//!
//! [`dump()`] reads every point of a database (optionally only those with one
//! tag value) with `SELECT * FROM "m" [WHERE ...] GROUP BY *` per measurement,
//! chunked, `epoch=ns`, and the field types from `SHOW FIELD KEYS`. Two dumps
//! are equal when they have the same measurements, the same field types, and
//! the same points (series key, timestamp, field values).
//!
//! JSON cannot tell an integer from a float (InfluxDB prints the float `1.0`
//! as `1`), so the type of every field is compared through `SHOW FIELD KEYS`.
//! Only fields that occur in the dumped points are kept; a field that has
//! several types in one measurement (different shards) gets them joined with
//! `,` in sorted order, e.g. `float,integer`. `SHOW FIELD KEYS` cannot be
//! filtered by tag, so a filtered dump still reports a field's types over the
//! whole measurement.

use crate::quote::{quote_ident, quote_string};
use crate::server::{all_series, columns, rows, InfluxQl};
use anyhow::{bail, Context, Result};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// Rows per chunk when reading points.
const CHUNK_SIZE: usize = 10_000;
/// Differences listed by [`Dump::diff`] before it summarises the rest.
const MAX_DIFF_LINES: usize = 20;

/// Which points [`dump_filtered`] reads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DumpFilter {
    /// Only points whose tag `.0` equals `.1`.
    pub tag: Option<(String, String)>,
    /// Only points at or after this time (ns).
    pub start_ns: Option<i64>,
    /// Only points before this time (ns).
    pub end_ns: Option<i64>,
    /// Read this retention policy instead of the database's default one.
    pub retention_policy: Option<String>,
}

/// A series: measurement and its tag set (tags with empty values are absent).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SeriesKey {
    /// Measurement name.
    pub measurement: String,
    /// Tag key -> value, sorted.
    pub tags: BTreeMap<String, String>,
}

impl fmt::Display for SeriesKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.measurement)?;
        for (k, v) in &self.tags {
            write!(f, ",{k}={v}")?;
        }
        Ok(())
    }
}

/// One point of a dump.
#[derive(Debug, Clone, PartialEq)]
pub struct DumpPoint {
    /// Its series.
    pub series: SeriesKey,
    /// Timestamp, ns since the epoch.
    pub time_ns: i64,
    /// Field -> value as InfluxDB returned it (null fields left out).
    pub fields: BTreeMap<String, Value>,
}

/// One measurement of a dump.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MeasurementDump {
    /// Field -> type (`float`, `integer`, `string`, `boolean`; several joined with `,`).
    pub field_types: BTreeMap<String, String>,
    /// Points sorted by series key, then time.
    pub points: Vec<DumpPoint>,
}

/// The content of a database (or of one tenant in it). See the module doc.
#[derive(Clone, PartialEq, Default)]
pub struct Dump {
    /// Measurement -> content; measurements without points are absent.
    pub measurements: BTreeMap<String, MeasurementDump>,
}

impl fmt::Debug for Dump {
    /// Short on purpose: counts, field types and the first few points of each
    /// measurement. Use [`Dump::diff`] to see differences.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "Dump {{ {} measurements, {} points",
            self.measurements.len(),
            self.point_count()
        )?;
        for (name, m) in &self.measurements {
            writeln!(
                f,
                "  {name:?}: {} points, types {:?}",
                m.points.len(),
                m.field_types
            )?;
            for p in m.points.iter().take(3) {
                writeln!(f, "    {} @ {} {:?}", p.series, p.time_ns, p.fields)?;
            }
            if m.points.len() > 3 {
                writeln!(f, "    ...")?;
            }
        }
        write!(f, "}}")
    }
}

impl Dump {
    /// Number of points over all measurements.
    pub fn point_count(&self) -> usize {
        self.measurements.values().map(|m| m.points.len()).sum()
    }

    /// Measurement names, sorted.
    pub fn measurements(&self) -> Vec<&str> {
        self.measurements.keys().map(String::as_str).collect()
    }

    /// One measurement's content.
    pub fn measurement(&self, name: &str) -> Option<&MeasurementDump> {
        self.measurements.get(name)
    }

    /// Distinct series over all measurements.
    pub fn series(&self) -> BTreeSet<&SeriesKey> {
        self.measurements
            .values()
            .flat_map(|m| m.points.iter().map(|p| &p.series))
            .collect()
    }

    /// Readable differences from `self` ("left") to `other` ("right"): a
    /// summary line, then at most 20 lines (missing or extra measurements,
    /// field type differences, series or points only on one side, points
    /// whose fields differ), then a count of the rest. Empty when equal.
    pub fn diff(&self, other: &Dump) -> Vec<String> {
        self.diff_labeled(other, "left", "right")
    }

    fn diff_labeled(&self, other: &Dump, l: &str, r: &str) -> Vec<String> {
        if self == other {
            return Vec::new();
        }
        let mut found = Vec::new();
        let names: BTreeSet<&String> = self
            .measurements
            .keys()
            .chain(other.measurements.keys())
            .collect();
        for name in names {
            match (self.measurements.get(name), other.measurements.get(name)) {
                (Some(a), None) => found.push(format!(
                    "measurement {name:?} only in {l} ({} points)",
                    a.points.len()
                )),
                (None, Some(b)) => found.push(format!(
                    "measurement {name:?} only in {r} ({} points)",
                    b.points.len()
                )),
                (Some(a), Some(b)) => diff_measurement(name, a, b, l, r, &mut found),
                (None, None) => {}
            }
        }
        let total = found.len();
        let mut out = vec![format!(
            "{l}: {} points in {} measurements; {r}: {} points in {} measurements; {total} differences",
            self.point_count(),
            self.measurements.len(),
            other.point_count(),
            other.measurements.len()
        )];
        out.extend(found.into_iter().take(MAX_DIFF_LINES));
        if total > MAX_DIFF_LINES {
            out.push(format!(
                "... and {} more differences",
                total - MAX_DIFF_LINES
            ));
        }
        out
    }
}

fn diff_measurement(
    name: &str,
    a: &MeasurementDump,
    b: &MeasurementDump,
    l: &str,
    r: &str,
    out: &mut Vec<String>,
) {
    if a.field_types != b.field_types {
        out.push(format!(
            "measurement {name:?}: field types differ: {l} {:?}, {r} {:?}",
            a.field_types, b.field_types
        ));
    }
    let group = |m: &MeasurementDump| {
        let mut g: BTreeMap<SeriesKey, Vec<DumpPoint>> = BTreeMap::new();
        for p in &m.points {
            g.entry(p.series.clone()).or_default().push(p.clone());
        }
        g
    };
    let (ga, gb) = (group(a), group(b));
    let keys: BTreeSet<&SeriesKey> = ga.keys().chain(gb.keys()).collect();
    for key in keys {
        match (ga.get(key), gb.get(key)) {
            (Some(pa), None) => out.push(format!("series {key} only in {l} ({} points)", pa.len())),
            (None, Some(pb)) => out.push(format!("series {key} only in {r} ({} points)", pb.len())),
            (Some(pa), Some(pb)) => {
                let (mut i, mut j) = (0, 0);
                while i < pa.len() || j < pb.len() {
                    let ta = pa.get(i).map(|p| p.time_ns);
                    let tb = pb.get(j).map(|p| p.time_ns);
                    match (ta, tb) {
                        (Some(x), Some(y)) if x == y => {
                            if pa[i].fields != pb[j].fields {
                                out.push(format!(
                                    "point {key} @ {x}: fields differ: {l} {:?}, {r} {:?}",
                                    pa[i].fields, pb[j].fields
                                ));
                            }
                            i += 1;
                            j += 1;
                        }
                        (Some(x), y) if y.is_none_or(|y| x < y) => {
                            out.push(format!("point {key} @ {x} only in {l}: {:?}", pa[i].fields));
                            i += 1;
                        }
                        (_, Some(y)) => {
                            out.push(format!("point {key} @ {y} only in {r}: {:?}", pb[j].fields));
                            j += 1;
                        }
                        _ => break,
                    }
                }
            }
            (None, None) => {}
        }
    }
}

/// Panics with [`Dump::diff`] (labelled expected/actual) unless the dumps are equal.
#[track_caller]
pub fn assert_same(expected: &Dump, actual: &Dump) {
    if expected != actual {
        panic!(
            "dumps differ:\n{}",
            expected
                .diff_labeled(actual, "expected", "actual")
                .join("\n")
        );
    }
}

/// Dumps database `db`, all points or only those whose tag `filter.0` equals
/// `filter.1`. The database must exist.
pub fn dump(server: &dyn InfluxQl, db: &str, filter: Option<(&str, &str)>) -> Result<Dump> {
    let f = DumpFilter {
        tag: filter.map(|(k, v)| (k.to_string(), v.to_string())),
        ..DumpFilter::default()
    };
    dump_filtered(server, db, &f)
}

/// Dumps database `db` with a tag, time range and retention policy filter.
pub fn dump_filtered(server: &dyn InfluxQl, db: &str, filter: &DumpFilter) -> Result<Dump> {
    if !server.databases()?.iter().any(|d| d == db) {
        bail!("database {db:?} does not exist");
    }
    let types = field_types(server, db, filter.retention_policy.as_deref())?;
    let mut conditions = Vec::new();
    if let Some((k, v)) = &filter.tag {
        conditions.push(format!("{} = {}", quote_ident(k), quote_string(v)));
    }
    if let Some(s) = filter.start_ns {
        conditions.push(format!("time >= {s}"));
    }
    if let Some(e) = filter.end_ns {
        conditions.push(format!("time < {e}"));
    }
    let where_clause = if conditions.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", conditions.join(" AND "))
    };
    let mut dump = Dump::default();
    for m in server.measurements(db)? {
        let from = match &filter.retention_policy {
            Some(rp) => format!("{}.{}", quote_ident(rp), quote_ident(&m)),
            None => quote_ident(&m),
        };
        let q = format!("SELECT * FROM {from}{where_clause} GROUP BY *");
        let chunks = server
            .query_chunked(Some(db), &q, CHUNK_SIZE)
            .with_context(|| format!("dumping {db:?}"))?;
        let mut points = Vec::new();
        for chunk in &chunks {
            for series in all_series(chunk) {
                read_series(series, &mut points)?;
            }
        }
        if points.is_empty() {
            continue;
        }
        points.sort_by(|a, b| (&a.series, a.time_ns).cmp(&(&b.series, b.time_ns)));
        let used: BTreeSet<&String> = points.iter().flat_map(|p| p.fields.keys()).collect();
        let field_types = used
            .into_iter()
            .map(|f| {
                let t = types
                    .get(&m)
                    .and_then(|t| t.get(f))
                    .map(|set| set.iter().cloned().collect::<Vec<_>>().join(","))
                    .unwrap_or_else(|| "unknown".to_string());
                (f.clone(), t)
            })
            .collect();
        dump.measurements.insert(
            m,
            MeasurementDump {
                field_types,
                points,
            },
        );
    }
    Ok(dump)
}

/// `SHOW FIELD KEYS`: measurement -> field -> types.
fn field_types(
    server: &dyn InfluxQl,
    db: &str,
    rp: Option<&str>,
) -> Result<BTreeMap<String, BTreeMap<String, BTreeSet<String>>>> {
    let q = match rp {
        // SHOW FIELD KEYS has no ON-RP form; FROM "rp"./.*/ selects the policy.
        Some(rp) => format!("SHOW FIELD KEYS FROM {}./.*/", quote_ident(rp)),
        None => "SHOW FIELD KEYS".to_string(),
    };
    let mut out: BTreeMap<String, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    for chunk in server.query_chunked(Some(db), &q, CHUNK_SIZE)? {
        for series in all_series(&chunk) {
            let name = series
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let entry = out.entry(name.to_string()).or_default();
            for row in rows(series) {
                if let (Some(k), Some(t)) = (
                    row.first().and_then(Value::as_str),
                    row.get(1).and_then(Value::as_str),
                ) {
                    entry
                        .entry(k.to_string())
                        .or_default()
                        .insert(t.to_string());
                }
            }
        }
    }
    Ok(out)
}

fn read_series(series: &Value, points: &mut Vec<DumpPoint>) -> Result<()> {
    let measurement = series
        .get("name")
        .and_then(Value::as_str)
        .context("series without a name")?
        .to_string();
    let tags: BTreeMap<String, String> = series
        .get("tags")
        .and_then(Value::as_object)
        .map(|t| {
            t.iter()
                .filter_map(|(k, v)| {
                    v.as_str()
                        .filter(|v| !v.is_empty())
                        .map(|v| (k.clone(), v.to_string()))
                })
                .collect()
        })
        .unwrap_or_default();
    let cols = columns(series);
    if cols.first().map(String::as_str) != Some("time") {
        bail!("series {measurement:?} has no leading time column: {cols:?}");
    }
    let key = SeriesKey { measurement, tags };
    for row in rows(series) {
        let time_ns = row
            .first()
            .and_then(Value::as_i64)
            .with_context(|| format!("bad time in {row:?}"))?;
        let fields = cols
            .iter()
            .zip(row.iter())
            .skip(1)
            .filter(|(_, v)| !v.is_null())
            .map(|(c, v)| (c.clone(), v.clone()))
            .collect();
        points.push(DumpPoint {
            series: key.clone(),
            time_ns,
            fields,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn point(m: &str, host: &str, t: i64, v: Value) -> DumpPoint {
        DumpPoint {
            series: SeriesKey {
                measurement: m.into(),
                tags: [("host".to_string(), host.to_string())].into(),
            },
            time_ns: t,
            fields: [("value".to_string(), v)].into(),
        }
    }

    fn dump_of(points: Vec<DumpPoint>, ty: &str) -> Dump {
        let mut d = Dump::default();
        d.measurements.insert(
            "m".into(),
            MeasurementDump {
                field_types: [("value".to_string(), ty.to_string())].into(),
                points,
            },
        );
        d
    }

    /// diff() names missing points, changed values, extra series and type changes.
    #[test]
    fn diff_is_readable() {
        let a = dump_of(
            vec![point("m", "h1", 1, json!(1)), point("m", "h1", 2, json!(2))],
            "float",
        );
        let b = dump_of(
            vec![point("m", "h1", 1, json!(5)), point("m", "h2", 1, json!(1))],
            "integer",
        );
        assert!(a.diff(&a).is_empty());
        let d = a.diff(&b);
        let text = d.join("\n");
        assert!(text.contains("field types differ"), "{text}");
        assert!(text.contains("m,host=h1 @ 1: fields differ"), "{text}");
        assert!(text.contains("m,host=h1 @ 2 only in left"), "{text}");
        assert!(text.contains("series m,host=h2 only in right"), "{text}");
        assert_eq!(d.len(), 5, "{text}");
    }
}
