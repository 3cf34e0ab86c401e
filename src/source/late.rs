//! Late points, I/O: counts the source over the recorded chunks that closed within the
//! late horizon and reopens, in the coverage, those the source gained points in (the
//! pure part is `plan::late`).
//!
//! Cost: one `SELECT count("value") ... GROUP BY "<tenant tag>"` per batch of
//! measurements over the horizon's time range, whatever the number of tenants, chunks
//! or target databases: one total per series, compared per tenant with what the
//! ledger recorded. Only the tenants whose totals differ (late points arrived) and
//! measurements without a `value` field (alarm history, counted by every field) are
//! then counted `GROUP BY time(<bucket>)`, naming those tenants. On the 2-day horizon
//! the bucketed statement over every tenant cost the server about ten times the
//! totals (hour buckets: one row per series and hour). Measurements with a `value`
//! field (every Monasca metric: the persister writes it on every point) count only
//! that field, not `value_meta` too. A statement the server refuses as too big is
//! split by measurements, then tenants, then time. The report states the statements,
//! the tenants recounted, the points counted and the time taken.

use crate::core::interval::Interval;
use crate::core::window::TimeUnit;
use crate::influx::answer::StatementResult;
use crate::influx::client::Client;
use crate::influx::error::{ClientError, FailureClass};
use crate::influx::statement::{self as influxql, Rp};
use crate::ledger::{Coverage, Record, SourceRef};
use crate::plan::late::{self, LateCheck, LateReport, SourceCounts};
use std::time::Duration;

/// What the late check needs besides the ledger and the coverage.
#[derive(Debug, Clone)]
pub struct LateOptions<'a> {
    /// `run.late_horizon`; zero turns the check off.
    pub horizon: Duration,
    /// Chunks ending at or before this (ns) are closed.
    pub closed_before: i64,
    /// The source as ledger scopes name it.
    pub source: SourceRef<'a>,
    /// The target server as ledger scopes name it (empty: the source server).
    pub target_url: &'a str,
    /// Source database and retention policy, for the statements.
    pub rp: Rp<'a>,
    /// Tenant tag keys (per measurement).
    pub tenants: &'a crate::config::TenantSettings,
    /// Most measurements one count statement names.
    pub per_statement: usize,
    /// Field names and types per measurement: which ones have [`EVERY_POINT_FIELD`].
    pub fields: &'a crate::core::field::FieldTypes,
}

/// The field Monasca's persister writes on every metric point: counting it alone
/// gives each point once.
pub const EVERY_POINT_FIELD: &str = "value";

/// Compares the recorded chunks in the horizon with the source and reopens, in
/// `coverage`, the windows that gained points. Never fails: an error is in the report.
pub async fn recheck(
    client: &Client,
    records: &[Record],
    opts: &LateOptions<'_>,
    coverage: &mut Coverage,
) -> LateReport {
    let horizon_ns = i64::try_from(opts.horizon.as_nanos()).unwrap_or(i64::MAX);
    let mut report = LateReport {
        horizon_secs: opts.horizon.as_secs(),
        ..LateReport::default()
    };
    if horizon_ns == 0 {
        return report;
    }
    let check = late::select(
        records,
        &opts.source,
        opts.target_url,
        opts.closed_before,
        horizon_ns,
    );
    report.chunks_rechecked = check.chunks.len() as u64;
    report.chunks_unaligned = check.unaligned;
    let started = std::time::Instant::now();
    let counts = count(client, &check, opts, &mut report).await;
    report.elapsed_ms = started.elapsed().as_millis() as u64;
    match counts {
        Ok((left, counts)) => {
            for (chunk, reopened) in late::compare(&left, &counts) {
                for m in &chunk.measurements {
                    coverage.reopen(&chunk.scope, m, chunk.window);
                }
                tracing::info!(
                    tenant = %reopened.tenant,
                    window = %crate::core::window::format_ns(reopened.window.start),
                    recorded = reopened.recorded,
                    source = reopened.source,
                    "late points: recorded window gained points, copying it again"
                );
                report.reopened.push(reopened);
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, "late-point check failed");
            report.error = Some(format!("late-point check on {}: {e}", client.url()));
        }
    }
    report
}

/// The source figures of the check's chunks that the totals do not settle: totals of
/// the every-point measurements over the whole range first, then bucket by bucket
/// for the rest ([`late::unsettled`]), of those tenants only.
async fn count(
    client: &Client,
    check: &LateCheck,
    opts: &LateOptions<'_>,
    report: &mut LateReport,
) -> Result<(LateCheck, SourceCounts), ClientError> {
    let mut sink = Sink::default();
    let Some(range) = check.range else {
        return Ok((check.clone(), sink.counts));
    };
    let every_point = |m: &str| has_every_point_field(opts.fields, m);
    let per = opts.per_statement.max(1);
    for (tag, ms) in crate::source::tenant_keys::by_key(&check.measurements, opts.tenants) {
        let ms: Vec<String> = ms.into_iter().filter(|m| every_point(m)).collect();
        for ms in ms.chunks(per) {
            let what = Count {
                ms,
                tenants: &[],
                range,
                field: Some(EVERY_POINT_FIELD),
                bucket: None,
            };
            run(client, opts, tag, what, &mut sink, report).await?;
        }
    }
    let left = late::unsettled(check, &sink.totals, every_point);
    let (Some(range), Some(bucket)) = (left.range, left.bucket) else {
        return Ok((left, sink.counts));
    };
    let tenants = late::tenants(&left);
    report.tenants_recounted = tenants.len() as u64;
    for (tag, ms) in crate::source::tenant_keys::by_key(&left.measurements, opts.tenants) {
        let (one, every): (Vec<String>, Vec<String>) = ms.into_iter().partition(|m| every_point(m));
        let batches = [(&one, Some(EVERY_POINT_FIELD)), (&every, None)];
        for (ms, field) in batches
            .iter()
            .flat_map(|(ms, f)| ms.chunks(per).map(move |c| (c, *f)))
        {
            for tenants in tenants.chunks(TENANTS_PER_STATEMENT) {
                let what = Count {
                    ms,
                    tenants,
                    range,
                    field,
                    bucket: Some(bucket),
                };
                run(client, opts, tag, what, &mut sink, report).await?;
            }
        }
    }
    Ok((left, sink.counts))
}

/// Most tenant ids one bucketed count statement names.
const TENANTS_PER_STATEMENT: usize = 100;

/// One count statement's subject.
#[derive(Debug, Clone, Copy)]
pub struct Count<'a> {
    /// Measurements (one tenant tag key).
    pub ms: &'a [String],
    /// Tenant ids to count; empty: every tenant.
    pub tenants: &'a [String],
    /// The time counted.
    pub range: Interval,
    /// The field counted; None: every field.
    pub field: Option<&'a str>,
    /// `GROUP BY time()` bucket; None: one total over the range.
    pub bucket: Option<TimeUnit>,
}

/// Where count answers go.
#[derive(Debug, Default)]
struct Sink {
    totals: late::SourceTotals,
    counts: SourceCounts,
}

/// Runs the statements of `what` (split in halves while the server refuses them as
/// too big), adding their rows to `sink`.
async fn run(
    client: &Client,
    opts: &LateOptions<'_>,
    tag: &str,
    what: Count<'_>,
    sink: &mut Sink,
    report: &mut LateReport,
) -> Result<(), ClientError> {
    let mut work = vec![what];
    while let Some(what) = work.pop() {
        if what.ms.is_empty() {
            continue;
        }
        report.statements += 1;
        // `query` returns the whole answer or an error: a statement refused part way
        // (query-timeout after some chunks) adds nothing before it is asked again in
        // halves.
        let q = count_statement(opts, tag, what);
        match client.query(Some(opts.rp.db), &q).await {
            Ok(r) => report.points_counted += sink.add(&r, tag, what.bucket.is_some()),
            Err(e) if e.class() == FailureClass::TooBig => match split(what) {
                Some(halves) => work.extend(halves),
                None => return Err(e),
            },
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Halves of a refused statement: by measurements while there are several, then by
/// tenants, then by time while the range spans more than one bucket (a total: more
/// than one minute).
fn split(what: Count<'_>) -> Option<[Count<'_>; 2]> {
    if what.ms.len() > 1 {
        let (a, b) = what.ms.split_at(what.ms.len() / 2);
        return Some([Count { ms: a, ..what }, Count { ms: b, ..what }]);
    }
    if what.tenants.len() > 1 {
        let (a, b) = what.tenants.split_at(what.tenants.len() / 2);
        return Some([Count { tenants: a, ..what }, Count { tenants: b, ..what }]);
    }
    let step = what.bucket.unwrap_or(TimeUnit::Minute).nanos();
    let steps = what.range.len() / step;
    (steps > 1).then(|| {
        let mid = what.range.start + steps / 2 * step;
        let (r, e) = (what.range, what.range.end);
        [
            Count {
                range: Interval::new(r.start, mid),
                ..what
            },
            Count {
                range: Interval::new(mid, e),
                ..what
            },
        ]
    })
}

/// Whether `measurement` has a field [`EVERY_POINT_FIELD`] (of any type).
fn has_every_point_field(fields: &crate::core::field::FieldTypes, measurement: &str) -> bool {
    fields
        .get(measurement)
        .is_some_and(|f| f.contains_key(EVERY_POINT_FIELD))
}

/// The count statement of `what`: of its field alone when given (every measurement
/// has it), else of every field; of its tenants when named; grouped by the tenant tag
/// and, when given, the bucket.
pub fn count_statement(opts: &LateOptions<'_>, tag: &str, what: Count<'_>) -> String {
    let from: Vec<String> = what.ms.iter().map(|m| opts.rp.measurement(m)).collect();
    let field = what.field.map_or_else(|| "*".to_string(), influxql::ident);
    let mut q = format!(
        "SELECT count({field}) FROM {} WHERE time >= {} AND time < {}",
        from.join(","),
        what.range.start,
        what.range.end,
    );
    if !what.tenants.is_empty() {
        let any: Vec<String> = what
            .tenants
            .iter()
            .map(|t| influxql::tenant_filter(tag, t))
            .collect();
        q.push_str(&format!(" AND ({})", any.join(" OR ")));
    }
    match what.bucket {
        Some(b) => q.push_str(&format!(
            " GROUP BY time({}), {} fill(none)",
            bucket_text(b),
            influxql::ident(tag)
        )),
        None => q.push_str(&format!(" GROUP BY {}", influxql::ident(tag))),
    }
    q
}

fn bucket_text(bucket: TimeUnit) -> &'static str {
    match bucket {
        TimeUnit::Minute => "1m",
        TimeUnit::TenMinutes => "10m",
        TimeUnit::Hour => "1h",
        TimeUnit::Day => "1d",
        TimeUnit::Week => "7d",
    }
}

impl Sink {
    /// Adds the rows of a count statement's answer: per series (measurement, tenant
    /// under `tag`) and row, the largest count column; per bucket when `bucketed`,
    /// else as a total. Returns the points counted.
    fn add(&mut self, r: &StatementResult, tag: &str, bucketed: bool) -> u64 {
        let mut counted = 0;
        for s in &r.series {
            let Some(tenant) = s.tags.get(tag).filter(|t| !t.is_empty()) else {
                continue;
            };
            let Some(time) = s.column("time") else {
                continue;
            };
            for row in &s.values {
                let Some(at) = row.get(time).and_then(|v| v.as_i64()) else {
                    continue;
                };
                let n = s
                    .columns
                    .iter()
                    .zip(row)
                    .filter(|(c, _)| c.starts_with("count"))
                    .filter_map(|(_, v)| v.as_u64())
                    .max()
                    .unwrap_or(0);
                counted += n;
                let (t, m) = (tenant.clone(), s.name.clone());
                if bucketed {
                    *self.counts.entry((t, m, at)).or_default() += n;
                } else {
                    *self.totals.entry((t, m)).or_default() += n;
                }
            }
        }
        counted
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The statement counts `value` alone where the measurements have it, else every
    /// field, over the range, of the tenants it names, grouped by the tenant tag and a
    /// bucket when it has one, every name quoted; refused statements split by
    /// measurements first, then tenants, then time down to one bucket.
    #[test]
    fn statement_and_splits() {
        let settings =
            crate::config::load_with_env(None, vec![], Some(Default::default())).unwrap();
        let mut fields = crate::core::field::FieldTypes::new();
        fields
            .entry("cpu".into())
            .or_default()
            .entry("value".into())
            .or_default();
        let opts = LateOptions {
            horizon: Duration::from_secs(86_400),
            closed_before: 0,
            source: SourceRef {
                url: "u",
                db: "monasca",
                rp: "autogen",
            },
            target_url: "",
            rp: Rp {
                db: "monasca",
                rp: "autogen",
            },
            tenants: &settings.tenants,
            per_statement: 200,
            fields: &fields,
        };
        let h = TimeUnit::Hour.nanos();
        let ms = vec!["cpu".to_string(), "m\"em".to_string()];
        assert!(has_every_point_field(&fields, "cpu"));
        assert!(!has_every_point_field(&fields, "alarm_state_history"));
        let range = Interval::new(0, 3 * h);
        let total = Count {
            ms: &ms,
            tenants: &[],
            range,
            field: Some("value"),
            bucket: None,
        };
        assert_eq!(
            count_statement(&opts, "_tenant_id", total),
            format!(
                "SELECT count(\"value\") FROM \"monasca\".\"autogen\".\"cpu\",\"monasca\".\"autogen\".\"m\\\"em\" WHERE time >= 0 AND time < {} GROUP BY \"_tenant_id\"",
                3 * h
            )
        );
        let tenants = vec!["a".to_string(), "it's".to_string()];
        let bucketed = Count {
            field: None,
            tenants: &tenants,
            bucket: Some(TimeUnit::Hour),
            ..total
        };
        assert_eq!(
            count_statement(&opts, "tenant_id", bucketed),
            format!(
                "SELECT count(*) FROM \"monasca\".\"autogen\".\"cpu\",\"monasca\".\"autogen\".\"m\\\"em\" WHERE time >= 0 AND time < {} AND (\"tenant_id\"::tag = 'a' OR \"tenant_id\"::tag = 'it\\'s') GROUP BY time(1h), \"tenant_id\" fill(none)",
                3 * h
            )
        );
        // Splits: measurements, then tenants, then time down to one bucket (a total:
        // one minute).
        let [a, b] = split(bucketed).unwrap();
        assert_eq!((a.ms.len(), b.ms.len(), a.tenants.len()), (1, 1, 2));
        let [a, b] = split(a).unwrap();
        assert_eq!((a.tenants, b.tenants), (&tenants[..1], &tenants[1..]));
        let [a, b] = split(a).unwrap();
        assert_eq!(
            (a.range, b.range),
            (Interval::new(0, h), Interval::new(h, 3 * h))
        );
        assert!(split(a).is_none());
        let one_minute = Count {
            ms: &ms[..1],
            range: Interval::new(0, 60_000_000_000),
            ..total
        };
        assert!(split(one_minute).is_none());
        let [a, _] = split(Count {
            ms: &ms[..1],
            ..total
        })
        .unwrap();
        assert_eq!(a.range, Interval::new(0, 90 * 60_000_000_000));
    }
}
