//! Verification: proves, chunk by chunk, that a tenant's database holds what the
//! source holds for that tenant.
//!
//! For each chunk, one request with two statements, one on the source (filtered to the
//! tenant) and one on the target database (not filtered: everything in the tenant's
//! database counts), over the same window and measurements:
//! `SELECT count("f"::field) AS "c0", sum("f"::field) AS "s0", ... FROM m1, m2, ...`
//! with no `GROUP BY`, which answers one row per measurement. Counts must be equal;
//! sums of integer fields must be equal; sums of float fields must agree within
//! [`FLOAT_REL_TOLERANCE`], because the two servers add the same values in a
//! different order (shards and series are laid out differently) and float addition is
//! not associative.
//!
//! Query text, parsing and comparison are pure; [`Verifier::check`] is the only I/O
//! per chunk. See docs/VERIFY.md for what this proves and what it does not.

use crate::core::field::{FieldType, FieldTypes};
use crate::core::interval::Interval;
use crate::core::rewrite::Rewrite;
use crate::core::window::format_ns;
use crate::influx::answer::{Series, StatementResult};
use crate::influx::client::Client;
use crate::influx::error::ClientError;
use crate::influx::statement::{self as influxql, Rp};
use crate::ledger::{Record, RecordKind};
use crate::plan::planner::RETENTION_MARGIN_NS;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

/// Relative tolerance for float sums: `|a - b| <= 1e-9 * max(|a|, |b|)`. Summing n
/// doubles in another order moves the result by at most about `n * 2.2e-16` of the
/// sum of magnitudes, so this holds for millions of same-signed values per chunk;
/// counts, which are exact, catch any missing or extra point.
pub const FLOAT_REL_TOLERANCE: f64 = 1e-9;

/// How a field's sum is compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SumKind {
    /// Not summed (string or boolean, or a type conflict with one).
    None,
    /// Every type is integer: sums compared exactly.
    Integer,
    /// Float, or float and integer: sums compared with the tolerance.
    Float,
}

/// A field checked in a chunk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedField {
    /// Field key.
    pub name: String,
    /// Whether and how it is summed.
    pub sum: SumKind,
}

/// The fields of `measurements`, sorted by name: every field is counted; those whose
/// every type (over these measurements and all shards) is integer or float are summed.
pub fn checked_fields(fields: &FieldTypes, measurements: &[String]) -> Vec<CheckedField> {
    let mut types: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for m in measurements {
        for (f, ts) in fields.get(m).into_iter().flatten() {
            types
                .entry(f)
                .or_default()
                .extend(ts.iter().map(|t| t.0.as_str()));
        }
    }
    types
        .into_iter()
        .map(|(name, ts)| {
            let sum = if ts.iter().all(|t| *t == "integer") {
                SumKind::Integer
            } else if ts.iter().all(|t| matches!(*t, "integer" | "float")) {
                SumKind::Float
            } else {
                SumKind::None
            };
            CheckedField {
                name: name.to_string(),
                sum,
            }
        })
        .collect()
}

/// The figures statement: per measurement, `count()` of every field and `sum()` of the
/// numeric ones, aliased `c<i>`/`s<i>` by field index so that no field name can clash
/// with another column. `::field` keeps a tag of the same name out of it. With
/// `tenant` the points are filtered to that tenant (source side).
pub fn figures_query(
    from: &Rp<'_>,
    measurements: &[String],
    fields: &[CheckedField],
    tenant: Option<(&str, &str)>,
    window: Interval,
) -> String {
    let mut q = String::from("SELECT ");
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            q.push_str(", ");
        }
        let field = format!("{}::field", influxql::ident(&f.name));
        let _ = write!(q, "count({field}) AS \"c{i}\"");
        if f.sum != SumKind::None {
            let _ = write!(q, ", sum({field}) AS \"s{i}\"");
        }
    }
    q.push_str(" FROM ");
    for (i, m) in measurements.iter().enumerate() {
        if i > 0 {
            q.push(',');
        }
        q.push_str(&from.measurement(m));
    }
    q.push_str(" WHERE ");
    if let Some((tag, t)) = tenant {
        q.push_str(&influxql::tenant_filter(tag, t));
        q.push_str(" AND ");
    }
    let _ = write!(q, "time >= {} AND time < {}", window.start, window.end);
    q
}

/// A sum as InfluxDB returned it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Sum {
    /// An integer (integer fields; also a float sum that happens to be whole, which
    /// InfluxDB prints without a fraction).
    Int(i64),
    /// A float.
    Float(f64),
}

impl Sum {
    fn as_f64(self) -> f64 {
        match self {
            Sum::Int(i) => i as f64,
            Sum::Float(f) => f,
        }
    }
}

impl std::fmt::Display for Sum {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Sum::Int(i) => write!(f, "{i}"),
            Sum::Float(x) => write!(f, "{x}"),
        }
    }
}

/// Count and sum of one field in one measurement and window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct FieldFigures {
    /// `count()`: points that have the field.
    pub count: u64,
    /// `sum()`, for numeric fields with at least one point.
    pub sum: Option<Sum>,
}

/// Figures per measurement, per field. A measurement or field without points is absent.
pub type Figures = BTreeMap<String, BTreeMap<String, FieldFigures>>;

/// Reads a figures statement's result. Missing series and null cells mean no points.
pub fn parse_figures(r: &StatementResult, fields: &[CheckedField]) -> Result<Figures, String> {
    let mut out = Figures::new();
    for s in &r.series {
        if let Some(per_field) = series_figures(s, fields)? {
            out.entry(s.name.clone()).or_default().extend(per_field);
        }
    }
    Ok(out)
}

/// The figures of one answered series (one measurement, and one group when the
/// statement groups): `None` when it has no row.
pub fn series_figures(
    s: &Series,
    fields: &[CheckedField],
) -> Result<Option<BTreeMap<String, FieldFigures>>, String> {
    let row = match s.values.as_slice() {
        [] => return Ok(None),
        [row] => row,
        _ => {
            return Err(format!(
                "{} rows for measurement {:?}",
                s.values.len(),
                s.name
            ))
        }
    };
    let mut per_field = BTreeMap::new();
    for (i, f) in fields.iter().enumerate() {
        let cell = |prefix: char| {
            s.column(&format!("{prefix}{i}"))
                .and_then(|c| row.get(c))
                .filter(|v| !v.is_null())
        };
        let count = match cell('c') {
            Some(v) => v
                .as_u64()
                .ok_or_else(|| format!("count of {:?} is not a count: {v}", f.name))?,
            None => 0,
        };
        let sum = match cell('s') {
            Some(v) => Some(match (v.as_i64(), v.as_f64()) {
                (Some(i), _) => Sum::Int(i),
                (None, Some(x)) => Sum::Float(x),
                _ => return Err(format!("sum of {:?} is not a number: {v}", f.name)),
            }),
            None => None,
        };
        if count > 0 || sum.is_some() {
            per_field.insert(f.name.clone(), FieldFigures { count, sum });
        }
    }
    Ok(Some(per_field))
}

/// One figure that differs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Difference {
    /// Field key.
    pub field: String,
    /// `count` or `sum`.
    pub figure: &'static str,
    /// The source's value (`-` when there is none).
    pub source: String,
    /// The target's value.
    pub target: String,
}

fn sums_agree(kind: SumKind, a: Option<Sum>, b: Option<Sum>, tolerance: f64) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(Sum::Int(x)), Some(Sum::Int(y))) if kind == SumKind::Integer => x == y,
        (Some(x), Some(y)) => {
            let (x, y) = (x.as_f64(), y.as_f64());
            x == y || (x - y).abs() <= tolerance * x.abs().max(y.abs())
        }
        _ => false,
    }
}

/// Compares source and target figures of one measurement; empty when they agree.
pub fn compare(
    fields: &[CheckedField],
    source: Option<&BTreeMap<String, FieldFigures>>,
    target: Option<&BTreeMap<String, FieldFigures>>,
    tolerance: f64,
) -> Vec<Difference> {
    let get = |side: Option<&BTreeMap<String, FieldFigures>>, f: &str| {
        side.and_then(|m| m.get(f)).copied().unwrap_or_default()
    };
    let show = |s: Option<Sum>| s.map_or("-".to_string(), |s| s.to_string());
    let mut out = Vec::new();
    for f in fields {
        let (a, b) = (get(source, &f.name), get(target, &f.name));
        if a.count != b.count {
            out.push(Difference {
                field: f.name.clone(),
                figure: "count",
                source: a.count.to_string(),
                target: b.count.to_string(),
            });
        }
        if f.sum != SumKind::None && !sums_agree(f.sum, a.sum, b.sum, tolerance) {
            out.push(Difference {
                field: f.name.clone(),
                figure: "sum",
                source: show(a.sum),
                target: show(b.sum),
            });
        }
    }
    out
}

/// One chunk to check: a recorded copy, or an open chunk of the plan.
#[derive(Debug, Clone)]
pub struct Subject {
    /// Tenant id.
    pub tenant: String,
    /// Source database.
    pub source_db: String,
    /// Source retention policy.
    pub source_rp: String,
    /// Target database.
    pub target: String,
    /// Target retention policy.
    pub target_rp: String,
    /// Measurements copied together.
    pub measurements: Vec<String>,
    /// `[start, end)` in ns.
    pub window: Interval,
    /// Retention of the target policy (ns), if finite: older points are gone by design.
    pub retention_ns: Option<i64>,
    /// The ledger's `Copied` line, for a recorded chunk (a `Verified` line is appended
    /// when it agrees); `None` for an open chunk, which is never recorded.
    pub record: Option<Record>,
}

impl Subject {
    /// The subject of a recorded chunk.
    pub fn from_record(r: &Record, retention_ns: Option<i64>) -> Self {
        Subject {
            tenant: r.scope.tenant.clone(),
            source_db: r.scope.source_db.clone(),
            source_rp: r.scope.source_rp.clone(),
            target: r.scope.target.clone(),
            target_rp: r.scope.target_rp.clone(),
            measurements: r.measurements.clone(),
            window: r.window(),
            retention_ns,
            record: Some(r.clone()),
        }
    }

    /// What checking this subject over `window` found.
    pub fn checked(&self, window: Interval, verdict: Verdict) -> ChunkCheck {
        ChunkCheck {
            tenant: self.tenant.clone(),
            target: self.target.clone(),
            measurements: self.measurements.len(),
            window,
            open: self.record.is_none(),
            verdict,
        }
    }

    /// The `Differs` line for this subject's record: the target misses points.
    pub fn differs_record(&self) -> Option<Record> {
        self.record.as_ref().map(|r| Record {
            kind: RecordKind::Differs,
            at: crate::core::clock::rfc3339_now(),
            ..r.clone()
        })
    }

    /// The `Verified` line for this subject's record.
    pub fn verified_record(&self) -> Option<Record> {
        self.record.as_ref().map(|r| Record {
            kind: RecordKind::Verified,
            at: crate::core::clock::rfc3339_now(),
            ..r.clone()
        })
    }
}

/// A measurement whose figures differ in one chunk.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Mismatch {
    /// Tenant id.
    pub tenant: String,
    /// Target database.
    pub target: String,
    /// The measurement.
    pub measurement: String,
    /// Window checked (ns), after any retention clamp.
    pub window: Interval,
    /// Window start, RFC 3339.
    pub from: String,
    /// Window end (exclusive), RFC 3339.
    pub to: String,
    /// The chunk is open (still receiving points; not recorded).
    pub open: bool,
    /// What differs.
    pub differences: Vec<Difference>,
    /// Reproduces the source figures of this measurement.
    pub source_query: String,
    /// Reproduces the target figures of this measurement.
    pub target_query: String,
}

impl Mismatch {
    /// Whether the target only holds more than the source: every count that differs
    /// is higher in the target, and every sum that differs belongs to such a count.
    /// A copy cannot remove points, so these are reported, never recopied; anything
    /// else (a lower count, a sum that differs with equal counts) is a loss.
    pub fn only_extra(&self) -> bool {
        let counts: Vec<&Difference> = self
            .differences
            .iter()
            .filter(|d| d.figure == "count")
            .collect();
        let higher = |d: &Difference| match (d.source.parse::<u64>(), d.target.parse::<u64>()) {
            (Ok(a), Ok(b)) => b > a,
            _ => false,
        };
        !counts.is_empty()
            && counts.iter().all(|d| higher(d))
            && self
                .differences
                .iter()
                .filter(|d| d.figure != "count")
                .all(|d| counts.iter().any(|c| c.field == d.field))
    }
}

/// What checking one chunk found.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "result", rename_all = "lowercase")]
pub enum Verdict {
    /// Every figure agrees.
    Agreed,
    /// Some measurements differ.
    Differs {
        /// One entry per differing measurement.
        mismatches: Vec<Mismatch>,
    },
    /// The check itself failed; nothing is proven either way.
    Error {
        /// What failed.
        error: String,
        /// The statements sent.
        query: String,
    },
    /// The whole window lies behind the target's retention horizon: the target has
    /// dropped it by design.
    Expired,
}

impl Verdict {
    /// The mismatches that are losses (not [`Mismatch::only_extra`]).
    pub fn losses(&self) -> Vec<&Mismatch> {
        match self {
            Verdict::Differs { mismatches } => {
                mismatches.iter().filter(|m| !m.only_extra()).collect()
            }
            _ => Vec::new(),
        }
    }
}

/// The result of checking one chunk.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChunkCheck {
    /// Tenant id.
    pub tenant: String,
    /// Target database.
    pub target: String,
    /// Measurements checked.
    pub measurements: usize,
    /// Window checked (ns).
    pub window: Interval,
    /// The chunk is open.
    pub open: bool,
    /// What was found.
    #[serde(flatten)]
    pub verdict: Verdict,
}

/// Checks chunks: source figures from the source server, target figures from the
/// target server (the same one for server-side copies).
#[derive(Debug, Clone)]
pub struct Verifier<'a> {
    /// The source server (also the target server unless `target` is set).
    pub client: &'a Client,
    /// Tenant tag keys (per measurement).
    pub tenants: &'a crate::config::TenantSettings,
    /// Another server holding the target databases (streamed copies): then the two
    /// statements go in two requests, one per server.
    pub target: Option<&'a Client>,
    /// Measurement renames of the copy: a source measurement is compared with its
    /// renamed target. Dropped tags need nothing: figures are per measurement.
    pub rewrite: Option<&'a Rewrite>,
    /// Source field types.
    pub fields: &'a FieldTypes,
    /// Relative tolerance of float sums.
    pub tolerance: f64,
    /// Filter the target side to the tenant too: the target is a shared database
    /// holding other tenants' points (`rollback`), not the tenant's own.
    pub target_tenant: bool,
}

/// A request of a check that did not get its answer, or an answer that did not parse.
fn decode(url: &str, reason: String) -> ClientError {
    ClientError::Decode {
        url: url.to_string(),
        reason,
    }
}

impl Verifier<'_> {
    /// The server holding the target databases.
    pub fn target_client(&self) -> &Client {
        self.target.unwrap_or(self.client)
    }

    /// The target name of a source measurement.
    fn target_name(&self, m: &str) -> String {
        self.rewrite
            .map_or_else(|| m.to_string(), |r| r.measurement(m).into_owned())
    }

    /// The source and target statements of a subject over `window` and `measurements`.
    fn queries(&self, s: &Subject, measurements: &[String], window: Interval) -> (String, String) {
        let fields = checked_fields(self.fields, measurements);
        let src = Rp {
            db: &s.source_db,
            rp: &s.source_rp,
        };
        let dst = Rp {
            db: &s.target,
            rp: &s.target_rp,
        };
        let mut renamed: Vec<String> = measurements.iter().map(|m| self.target_name(m)).collect();
        renamed.dedup();
        (
            figures_query(
                &src,
                measurements,
                &fields,
                Some((self.tenants.tag_of_batch(measurements), &s.tenant)),
                window,
            ),
            figures_query(
                &dst,
                &renamed,
                &fields,
                self.target_tenant
                    .then(|| (self.tenants.tag_of_batch(measurements), s.tenant.as_str())),
                window,
            ),
        )
    }

    /// Checks one chunk: one request, two statements. A check that could not run is
    /// a [`Verdict::Error`].
    pub async fn check(&self, s: &Subject, now_ns: i64) -> ChunkCheck {
        let (sq, tq) = self.queries(s, &s.measurements, s.window);
        match self.try_check(s, now_ns).await {
            Ok(c) => c,
            Err(e) => ChunkCheck {
                tenant: s.tenant.clone(),
                target: s.target.clone(),
                measurements: s.measurements.len(),
                window: s.window,
                open: s.record.is_none(),
                verdict: Verdict::Error {
                    error: e.to_string(),
                    query: format!("{sq}; {tq}"),
                },
            },
        }
    }

    /// The answers of the source and the target statement: one request with both on
    /// one server, else one request per server.
    async fn answers(
        &self,
        sq: &str,
        tq: &str,
    ) -> Result<(StatementResult, StatementResult), ClientError> {
        let url = self.client.url();
        let take = |r: Option<StatementResult>, side: &str| {
            let r = r.ok_or_else(|| decode(url, format!("no result for the {side} statement")))?;
            match &r.error {
                Some(e) => Err(ClientError::Statement {
                    message: format!("{side} figures: {e}"),
                }),
                None => Ok(r),
            }
        };
        match self.target {
            None => {
                let mut rs = self
                    .client
                    .query_all(None, &format!("{sq}; {tq}"))
                    .await?
                    .into_iter();
                let a = take(rs.next(), "source")?;
                Ok((a, take(rs.next(), "target")?))
            }
            Some(t) => {
                let a = self.client.query_all(None, sq).await?.into_iter().next();
                let b = t.query_all(None, tq).await?.into_iter().next();
                Ok((take(a, "source")?, take(b, "target")?))
            }
        }
    }

    /// Checks one chunk; `Err` when the check could not run (the request failed or
    /// its answer did not parse), classified like a copy's failure.
    pub async fn try_check(&self, s: &Subject, now_ns: i64) -> Result<ChunkCheck, ClientError> {
        let window = match self.window_to_check(s, now_ns) {
            Ok(w) => w,
            Err(done) => return Ok(*done),
        };
        let fields = checked_fields(self.fields, &s.measurements);
        let (sq, tq) = self.queries(s, &s.measurements, window);
        let (ra, rb) = self.answers(&sq, &tq).await?;
        let url = self.client.url();
        let a =
            parse_figures(&ra, &fields).map_err(|e| decode(url, format!("source figures: {e}")))?;
        let b =
            parse_figures(&rb, &fields).map_err(|e| decode(url, format!("target figures: {e}")))?;
        Ok(self.judge(s, window, &a, &b))
    }

    /// The window a check of `s` looks at now: the subject's window clamped to the
    /// target's retention horizon. `Err` carries the finished check when there is
    /// nothing to ask: the window has expired, or the source lists no field to count.
    pub fn window_to_check(&self, s: &Subject, now_ns: i64) -> Result<Interval, Box<ChunkCheck>> {
        let mut window = s.window;
        if let Some(r) = s.retention_ns {
            let floor = now_ns.saturating_sub(r).saturating_add(RETENTION_MARGIN_NS);
            if window.end <= floor {
                return Err(Box::new(s.checked(window, Verdict::Expired)));
            }
            window.start = window.start.max(floor);
        }
        if checked_fields(self.fields, &s.measurements).is_empty() {
            return Err(Box::new(s.checked(window, Verdict::Agreed)));
        }
        Ok(window)
    }

    /// The target statement of `s` over `window`.
    pub fn target_query(&self, s: &Subject, window: Interval) -> String {
        self.queries(s, &s.measurements, window).1
    }

    /// The check of `s` over `window` from the source's figures `a` and the target's
    /// figures `b`, compared measurement by measurement.
    pub fn judge(&self, s: &Subject, window: Interval, a: &Figures, b: &Figures) -> ChunkCheck {
        let mut mismatches = Vec::new();
        for m in &s.measurements {
            let mf = checked_fields(self.fields, std::slice::from_ref(m));
            let differences = compare(&mf, a.get(m), b.get(&self.target_name(m)), self.tolerance);
            if !differences.is_empty() {
                let (source_query, target_query) = self.queries(s, std::slice::from_ref(m), window);
                mismatches.push(Mismatch {
                    tenant: s.tenant.clone(),
                    target: s.target.clone(),
                    measurement: m.clone(),
                    window,
                    from: format_ns(window.start),
                    to: format_ns(window.end),
                    open: s.record.is_none(),
                    differences,
                    source_query,
                    target_query,
                });
            }
        }
        let verdict = if mismatches.is_empty() {
            Verdict::Agreed
        } else {
            Verdict::Differs { mismatches }
        };
        s.checked(window, verdict)
    }
}

/// Field types of every measurement of a database (`SHOW FIELD KEYS ON "db"`).
pub async fn field_types(client: &Client, db: &str) -> Result<FieldTypes, ClientError> {
    let r = client.query(None, &influxql::show_field_keys(db)).await?;
    Ok(crate::source::answers::field_types(&r))
}

/// A field of a target measurement that the source does not explain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SchemaDifference {
    /// Target database.
    pub target: String,
    /// Measurement.
    pub measurement: String,
    /// Field key.
    pub field: String,
    /// Types in the source (empty: the source has no such field).
    pub source_types: Vec<String>,
    /// Types in the target.
    pub target_types: Vec<String>,
}

/// Fields of the target's measurements that the source lacks, or that have a type the
/// source never had (the multi-source `SELECT INTO` trap turns integers into floats;
/// tags copied without `GROUP BY *` turn into string fields). Only measurements the
/// source has are looked at. Counts cannot see these, so they are checked apart.
pub fn compare_schema(
    target: &str,
    source: &FieldTypes,
    dest: &FieldTypes,
) -> Vec<SchemaDifference> {
    let names = |ts: &BTreeSet<FieldType>| ts.iter().map(|t| t.0.clone()).collect::<Vec<_>>();
    let mut out = Vec::new();
    for (m, fields) in dest {
        let Some(src) = source.get(m) else { continue };
        for (f, tt) in fields {
            let st = src.get(f);
            if st.is_none_or(|st| !tt.is_subset(st)) {
                out.push(SchemaDifference {
                    target: target.to_string(),
                    measurement: m.clone(),
                    field: f.clone(),
                    source_types: st.map(names).unwrap_or_default(),
                    target_types: names(tt),
                });
            }
        }
    }
    out
}

/// Per-tenant verification counts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TenantVerification {
    /// Chunks checked.
    pub checked: u64,
    /// Chunks whose figures agree.
    pub agreed: u64,
    /// Chunks with a loss: the target misses points, or sums differ.
    pub differ: u64,
    /// Chunks whose only difference is extra points in the target.
    pub extra: u64,
    /// Chunks whose check failed.
    pub errors: u64,
    /// Chunks behind the target's retention horizon, not checked.
    pub expired: u64,
}

/// What a verification found, for `verify`, `run` and the run report.
#[derive(Debug, Clone, Default, Serialize)]
pub struct VerifyReport {
    /// Relative tolerance used for float sums.
    pub float_tolerance: f64,
    /// Checked every recorded chunk again (`--all`), not only unverified ones.
    pub all: bool,
    /// Per tenant.
    pub tenants: BTreeMap<String, TenantVerification>,
    /// Ledger lines left out because they are about another source server, database or
    /// excluded tenant.
    pub records_out_of_scope: u64,
    /// Every measurement of every chunk that misses points or whose sums differ.
    pub mismatches: Vec<Mismatch>,
    /// Measurements whose target holds more points than the source (written there
    /// by something else, e.g. the persister after the cutover). Reported, never
    /// deleted, never recopied; they do not fail a run or `verify`.
    pub extra: Vec<Mismatch>,
    /// Closed chunks whose copy still differed after its check and was copied again
    /// (`run`).
    pub recopied: u64,
    /// Open chunks copied but not checked: they are still receiving points, and every
    /// run copies them again (`run`).
    pub open_not_checked: u64,
    /// `Differs` lines appended to the ledger (`verify`): the next run copies those
    /// chunks again.
    pub recorded_differs: u64,
    /// Checks that failed, with the statements sent.
    pub errors: Vec<ChunkCheck>,
    /// Target fields the source does not explain.
    pub schema_differences: Vec<SchemaDifference>,
    /// `Verified` lines appended to the ledger.
    pub recorded: u64,
}

impl VerifyReport {
    /// An empty report.
    pub fn new(all: bool) -> Self {
        VerifyReport {
            float_tolerance: FLOAT_REL_TOLERANCE,
            all,
            ..VerifyReport::default()
        }
    }

    /// Adds one chunk's result.
    pub fn add(&mut self, c: ChunkCheck) {
        let t = self.tenants.entry(c.tenant.clone()).or_default();
        match &c.verdict {
            Verdict::Expired => {
                t.expired += 1;
                return;
            }
            Verdict::Agreed => t.agreed += 1,
            Verdict::Differs { mismatches } => {
                let (extra, lost): (Vec<Mismatch>, Vec<Mismatch>) =
                    mismatches.iter().cloned().partition(Mismatch::only_extra);
                if lost.is_empty() {
                    t.extra += 1;
                } else {
                    t.differ += 1;
                }
                self.mismatches.extend(lost);
                self.extra.extend(extra);
            }
            Verdict::Error { .. } => {
                t.errors += 1;
                self.errors.push(c.clone());
            }
        }
        t.checked += 1;
    }

    /// Chunks checked, over all tenants.
    pub fn checked(&self) -> u64 {
        self.tenants.values().map(|t| t.checked).sum()
    }

    /// Whether anything failed to agree or could not be checked.
    pub fn failed(&self) -> bool {
        !self.mismatches.is_empty()
            || !self.errors.is_empty()
            || !self.schema_differences.is_empty()
    }

    /// 0 when everything checked agrees, else 1.
    pub fn exit_code(&self) -> u8 {
        u8::from(self.failed())
    }

    /// The findings, one block each: mismatches, extra points, errors, schema
    /// differences.
    fn render_findings(&self) -> String {
        let mut s = String::new();
        for m in &self.mismatches {
            let _ = writeln!(
                s,
                "MISMATCH tenant {:?} measurement {:?} window {} .. {}{} (target database {:?})",
                m.tenant,
                m.measurement,
                m.from,
                m.to,
                if m.open { " (open chunk)" } else { "" },
                m.target
            );
            s.push_str(&render_differences(&m.differences));
            let _ = writeln!(s, "  source query: {}", m.source_query);
            let _ = writeln!(s, "  target query: {}", m.target_query);
        }
        for m in &self.extra {
            let _ = writeln!(
                s,
                "EXTRA tenant {:?} measurement {:?} window {} .. {} (target database {:?}): the target holds more points than the source; not deleted, not recopied (see docs/VERIFY.md)",
                m.tenant, m.measurement, m.from, m.to, m.target
            );
            s.push_str(&render_differences(&m.differences));
        }
        for e in &self.errors {
            if let Verdict::Error { error, query } = &e.verdict {
                let _ = writeln!(
                    s,
                    "ERROR tenant {:?} window {} .. {}: {}\n  query: {}",
                    e.tenant,
                    format_ns(e.window.start),
                    format_ns(e.window.end),
                    error,
                    query
                );
            }
        }
        for d in &self.schema_differences {
            let _ = writeln!(
                s,
                "SCHEMA target {:?} measurement {:?} field {:?}: target types {:?}, source types {:?}",
                d.target, d.measurement, d.field, d.target_types, d.source_types
            );
        }
        s
    }

    /// Human-readable report: problems first, then a table per tenant.
    pub fn render(&self) -> String {
        let mut s = self.render_findings();
        let rows: Vec<Vec<String>> = self
            .tenants
            .iter()
            .map(|(t, v)| {
                vec![
                    t.clone(),
                    v.checked.to_string(),
                    v.agreed.to_string(),
                    v.differ.to_string(),
                    v.extra.to_string(),
                    v.errors.to_string(),
                    v.expired.to_string(),
                ]
            })
            .collect();
        if !rows.is_empty() {
            s.push_str(&crate::core::text::table(
                &[
                    "TENANT", "CHECKED", "AGREE", "DIFFER", "EXTRA", "ERRORS", "EXPIRED",
                ],
                &rows,
            ));
        }
        let _ = writeln!(
            s,
            "verify: {} chunk(s) checked{}, {} differ, {} with extra points only, {} error(s), {} schema difference(s); {} recorded as verified; float sums compared with relative tolerance {:e}",
            self.checked(),
            if self.all { " (--all)" } else { "" },
            self.tenants.values().map(|t| t.differ).sum::<u64>(),
            self.tenants.values().map(|t| t.extra).sum::<u64>(),
            self.errors.len(),
            self.schema_differences.len(),
            self.recorded,
            self.float_tolerance
        );
        if self.recopied > 0 {
            let _ = writeln!(
                s,
                "verify: {} chunk(s) differed after their copy and were copied again",
                self.recopied
            );
        }
        if self.open_not_checked > 0 {
            let _ = writeln!(s, "verify: {} open chunk(s) copied, not checked (still receiving points; every run copies them again)", self.open_not_checked);
        }
        if self.recorded_differs > 0 {
            let _ = writeln!(
                s,
                "verify: {} chunk(s) recorded as differing: the next run copies them again",
                self.recorded_differs
            );
        }
        s
    }
}

/// The differing figures of one measurement, one indented line each.
fn render_differences(differences: &[Difference]) -> String {
    let mut s = String::new();
    for d in differences {
        let _ = writeln!(
            s,
            "  {}({:?}): source {}, target {}",
            d.figure, d.field, d.source, d.target
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn types(spec: &[(&str, &str, &[&str])]) -> FieldTypes {
        let mut out = FieldTypes::new();
        for (m, f, ts) in spec {
            out.entry(m.to_string()).or_default().insert(
                f.to_string(),
                ts.iter().map(|t| FieldType(t.to_string())).collect(),
            );
        }
        out
    }

    fn ms(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    /// Every field is counted; only fields numeric in every shard and measurement are
    /// summed, integers exactly.
    #[test]
    fn fields_to_check() {
        let t = types(&[
            ("a", "value", &["float"]),
            ("a", "value_meta", &["string"]),
            ("b", "value", &["float"]),
            ("b", "n", &["integer"]),
            ("c", "mixed", &["float", "integer"]),
            ("c", "odd", &["float", "string"]),
        ]);
        let got = checked_fields(&t, &ms(&["a", "b", "c"]));
        let kinds: Vec<_> = got.iter().map(|f| (f.name.as_str(), f.sum)).collect();
        assert_eq!(
            kinds,
            vec![
                ("mixed", SumKind::Float),
                ("n", SumKind::Integer),
                ("odd", SumKind::None),
                ("value", SumKind::Float),
                ("value_meta", SumKind::None),
            ]
        );
        assert!(checked_fields(&t, &ms(&["nosuch"])).is_empty());
    }

    /// The statement aliases by index, casts to ::field, quotes every name and filters
    /// the tenant only when asked.
    #[test]
    fn query_text() {
        let fields = vec![
            CheckedField {
                name: "value".into(),
                sum: SumKind::Float,
            },
            CheckedField {
                name: "me\"ta".into(),
                sum: SumKind::None,
            },
        ];
        let src = Rp {
            db: "monasca",
            rp: "autogen",
        };
        let q = figures_query(
            &src,
            &ms(&["cpu", "m'x"]),
            &fields,
            Some(("_tenant_id", "t'1")),
            Interval::new(10, 20),
        );
        assert_eq!(
            q,
            r#"SELECT count("value"::field) AS "c0", sum("value"::field) AS "s0", count("me\"ta"::field) AS "c1" FROM "monasca"."autogen"."cpu","monasca"."autogen"."m'x" WHERE "_tenant_id"::tag = 't\'1' AND time >= 10 AND time < 20"#
        );
        let q = figures_query(&src, &ms(&["cpu"]), &fields[..1], None, Interval::new(1, 2));
        assert!(
            q.ends_with(r#"FROM "monasca"."autogen"."cpu" WHERE time >= 1 AND time < 2"#),
            "{q}"
        );
    }

    /// Answers parse per measurement; nulls and missing series are "no points"; an
    /// integral float sum printed as an integer still parses.
    #[test]
    fn parse_answers() {
        let fields = vec![
            CheckedField {
                name: "value".into(),
                sum: SumKind::Float,
            },
            CheckedField {
                name: "n".into(),
                sum: SumKind::Integer,
            },
        ];
        let r: StatementResult = serde_json::from_str(
            r#"{"series":[
              {"name":"a","columns":["time","c0","s0","c1","s1"],"values":[[0,2,3.75,null,null]]},
              {"name":"b","columns":["time","c0","s0","c1","s1"],"values":[[0,2,3,1,15]]}]}"#,
        )
        .unwrap();
        let f = parse_figures(&r, &fields).unwrap();
        assert_eq!(
            f["a"]["value"],
            FieldFigures {
                count: 2,
                sum: Some(Sum::Float(3.75))
            }
        );
        assert!(!f["a"].contains_key("n"));
        assert_eq!(f["b"]["value"].sum, Some(Sum::Int(3)));
        assert_eq!(f["b"]["n"].sum, Some(Sum::Int(15)));
        assert!(parse_figures(&StatementResult::default(), &fields)
            .unwrap()
            .is_empty());
    }

    /// Counts must match exactly, integer sums exactly, float sums within the relative
    /// tolerance (a summation-order difference passes, a changed value does not).
    #[test]
    fn comparison_rules() {
        let fields = vec![
            CheckedField {
                name: "f".into(),
                sum: SumKind::Float,
            },
            CheckedField {
                name: "i".into(),
                sum: SumKind::Integer,
            },
            CheckedField {
                name: "s".into(),
                sum: SumKind::None,
            },
        ];
        let fig = |fc, fs: Sum, ic, is: Sum, sc| {
            BTreeMap::from([
                (
                    "f".to_string(),
                    FieldFigures {
                        count: fc,
                        sum: Some(fs),
                    },
                ),
                (
                    "i".to_string(),
                    FieldFigures {
                        count: ic,
                        sum: Some(is),
                    },
                ),
                (
                    "s".to_string(),
                    FieldFigures {
                        count: sc,
                        sum: None,
                    },
                ),
            ])
        };
        let tol = FLOAT_REL_TOLERANCE;
        // 0.1 + 0.2 + 0.3 and 0.3 + 0.2 + 0.1 are two different doubles.
        let xs = [0.1, 0.2, 0.3];
        let fwd: f64 = xs.iter().sum();
        let rev: f64 = xs.iter().rev().sum();
        assert_ne!(fwd, rev);
        let a = fig(10, Sum::Float(fwd), 3, Sum::Int(6), 10);
        let b = fig(10, Sum::Float(rev), 3, Sum::Int(6), 10);
        assert!(compare(&fields, Some(&a), Some(&b), tol).is_empty());
        // A whole float sum printed as an integer on one side only.
        let c = fig(10, Sum::Int(5), 3, Sum::Int(6), 10);
        let d = fig(10, Sum::Float(5.000000000000001), 3, Sum::Int(6), 10);
        assert!(compare(&fields, Some(&c), Some(&d), tol).is_empty());

        let e = fig(9, Sum::Float(fwd - 0.1), 3, Sum::Int(7), 11);
        let diff = compare(&fields, Some(&a), Some(&e), tol);
        let what: Vec<_> = diff.iter().map(|d| (d.field.as_str(), d.figure)).collect();
        assert_eq!(
            what,
            vec![("f", "count"), ("f", "sum"), ("i", "sum"), ("s", "count")]
        );
        assert_eq!(diff[0].source, "10");
        assert_eq!(diff[0].target, "9");

        // A measurement missing on the target entirely.
        let diff = compare(&fields, Some(&a), None, tol);
        assert_eq!(diff.len(), 5);
        assert_eq!(diff[1].target, "-");
        assert!(compare(&fields, None, None, tol).is_empty());
    }

    /// Target fields the source lacks, or with a type the source never had, are schema
    /// differences; a target type that is one of a conflicting source's is not.
    #[test]
    fn schema_comparison() {
        let src = types(&[
            ("a", "value", &["integer"]),
            ("b", "value", &["float", "integer"]),
        ]);
        let dst = types(&[
            ("a", "value", &["float"]),
            ("a", "hostname", &["string"]),
            ("b", "value", &["float"]),
            ("z", "other", &["string"]),
        ]);
        let d = compare_schema("t", &src, &dst);
        let what: Vec<_> = d
            .iter()
            .map(|d| (d.measurement.as_str(), d.field.as_str()))
            .collect();
        assert_eq!(what, vec![("a", "hostname"), ("a", "value")]);
        assert_eq!(d[1].source_types, vec!["integer"]);
        assert_eq!(d[1].target_types, vec!["float"]);
        assert!(d[0].source_types.is_empty());
    }

    /// Higher target counts (with the sums of those fields) are extra; a lower count,
    /// or a sum that differs with equal counts, is a loss. The report keeps extras
    /// apart and does not fail on them.
    #[test]
    fn extra_points_are_not_losses() {
        let d = |field: &str, figure: &'static str, s: &str, t: &str| Difference {
            field: field.into(),
            figure,
            source: s.into(),
            target: t.into(),
        };
        let mm = |differences| Mismatch {
            tenant: "a".into(),
            target: "db_a".into(),
            measurement: "cpu".into(),
            window: Interval::new(0, 10),
            from: format_ns(0),
            to: format_ns(10),
            open: false,
            differences,
            source_query: "S".into(),
            target_query: "T".into(),
        };
        let extra = mm(vec![d("v", "count", "3", "4"), d("v", "sum", "1.5", "2.5")]);
        assert!(extra.only_extra());
        assert!(!mm(vec![d("v", "count", "4", "3")]).only_extra());
        assert!(!mm(vec![d("v", "sum", "1.5", "2.5")]).only_extra());
        assert!(!mm(vec![d("v", "count", "3", "4"), d("n", "sum", "1", "2")]).only_extra());
        assert!(!mm(vec![d("v", "count", "3", "4"), d("n", "count", "3", "2")]).only_extra());
        let mut r = VerifyReport::new(false);
        r.add(ChunkCheck {
            tenant: "a".into(),
            target: "db_a".into(),
            measurements: 1,
            window: Interval::new(0, 10),
            open: false,
            verdict: Verdict::Differs {
                mismatches: vec![extra],
            },
        });
        assert_eq!((r.tenants["a"].extra, r.tenants["a"].differ), (1, 0));
        assert_eq!((r.extra.len(), r.mismatches.len()), (1, 0));
        assert_eq!(r.exit_code(), 0);
        assert!(r.render().contains("EXTRA tenant \"a\""));
    }

    /// The report counts per tenant, keeps mismatches and errors, and fails on either.
    #[test]
    fn report_counts_and_exit_code() {
        let mut r = VerifyReport::new(false);
        let check = |t: &str, v: Verdict| ChunkCheck {
            tenant: t.into(),
            target: format!("db_{t}"),
            measurements: 1,
            window: Interval::new(0, 10),
            open: false,
            verdict: v,
        };
        r.add(check("a", Verdict::Agreed));
        r.add(check("a", Verdict::Expired));
        assert_eq!(r.exit_code(), 0);
        let mm = Mismatch {
            tenant: "b".into(),
            target: "db_b".into(),
            measurement: "cpu".into(),
            window: Interval::new(0, 10),
            from: format_ns(0),
            to: format_ns(10),
            open: false,
            differences: vec![],
            source_query: "S".into(),
            target_query: "T".into(),
        };
        r.add(check(
            "b",
            Verdict::Differs {
                mismatches: vec![mm],
            },
        ));
        assert_eq!(r.tenants["a"].checked, 1);
        assert_eq!(r.tenants["a"].expired, 1);
        assert_eq!(r.tenants["b"].differ, 1);
        assert_eq!(r.exit_code(), 1);
        let text = r.render();
        assert!(
            text.contains("MISMATCH tenant \"b\" measurement \"cpu\""),
            "{text}"
        );
        assert!(text.contains("source query: S"), "{text}");
    }
}
