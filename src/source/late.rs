//! Late points, I/O: counts the source over the recorded chunks that closed within the
//! late horizon and reopens, in the coverage, those the source gained points in (the
//! pure part is `plan::late`).
//!
//! Cost: one `SELECT count(...) ... GROUP BY time(<bucket>), "<tenant tag>"` per batch
//! of measurements over the horizon's time range, whatever the number of tenants,
//! chunks or target databases; a statement the server refuses as too big is split by
//! measurements, then by time. Measurements with a `value` field (every Monasca metric:
//! the persister writes it on every point) count only that field, not every field
//! (`value_meta` too): the server reads half the columns. The report states the
//! statements, the points counted and the time taken.

use crate::core::interval::Interval;
use crate::core::window::TimeUnit;
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
    let mut statements = 0;
    let started = std::time::Instant::now();
    let counts = count(client, &check, opts, &mut statements).await;
    report.statements = statements;
    report.elapsed_ms = started.elapsed().as_millis() as u64;
    match counts {
        Ok(counts) => {
            report.points_counted = counts.values().sum();
            for (chunk, reopened) in late::compare(&check, &counts) {
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

/// The source figures of the check's range, batch by batch.
async fn count(
    client: &Client,
    check: &LateCheck,
    opts: &LateOptions<'_>,
    statements: &mut u64,
) -> Result<SourceCounts, ClientError> {
    let mut counts = SourceCounts::new();
    let (Some(range), Some(bucket)) = (check.range, check.bucket) else {
        return Ok(counts);
    };
    // Measurements whose tenant is in another tag (alarm history) are counted apart.
    for (tag, ms) in crate::source::tenant_keys::by_key(&check.measurements, opts.tenants) {
        let (one, every): (Vec<String>, Vec<String>) = ms
            .into_iter()
            .partition(|m| has_every_point_field(opts.fields, m));
        let mut work: Vec<(&[String], Interval, Option<&str>)> = Vec::new();
        for (ms, field) in [(&one, Some(EVERY_POINT_FIELD)), (&every, None)] {
            work.extend(
                ms.chunks(opts.per_statement.max(1))
                    .map(|ms| (ms, range, field)),
            );
        }
        while let Some((ms, range, field)) = work.pop() {
            *statements += 1;
            let what = (ms, range, field);
            match count_one(client, opts, tag, what, bucket, &mut counts).await {
                Ok(()) => {}
                Err(e) if e.class() == FailureClass::TooBig => match split(ms, range, bucket) {
                    Some(halves) => work.extend(halves.map(|(ms, r)| (ms, r, field))),
                    None => return Err(e),
                },
                Err(e) => return Err(e),
            }
        }
    }
    Ok(counts)
}

/// Halves of a refused statement: by measurements while there are several, then by
/// time while the range spans more than one bucket.
fn split(ms: &[String], range: Interval, bucket: TimeUnit) -> Option<[(&[String], Interval); 2]> {
    if ms.len() > 1 {
        let (a, b) = ms.split_at(ms.len() / 2);
        return Some([(a, range), (b, range)]);
    }
    let buckets = range.len() / bucket.nanos();
    (buckets > 1).then(|| {
        let mid = range.start + buckets / 2 * bucket.nanos();
        [
            (ms, Interval::new(range.start, mid)),
            (ms, Interval::new(mid, range.end)),
        ]
    })
}

/// Whether `measurement` has a field [`EVERY_POINT_FIELD`] (of any type).
fn has_every_point_field(fields: &crate::core::field::FieldTypes, measurement: &str) -> bool {
    fields
        .get(measurement)
        .is_some_and(|f| f.contains_key(EVERY_POINT_FIELD))
}

/// The count statement of `ms` over `range`: of `field` alone when given (every
/// measurement has it), else of every field.
pub fn count_statement(
    opts: &LateOptions<'_>,
    tag: &str,
    (ms, range, field): (&[String], Interval, Option<&str>),
    bucket: TimeUnit,
) -> String {
    let from: Vec<String> = ms.iter().map(|m| opts.rp.measurement(m)).collect();
    let what = field.map_or_else(|| "*".to_string(), influxql::ident);
    format!(
        "SELECT count({what}) FROM {} WHERE time >= {} AND time < {} GROUP BY time({}), {} fill(none)",
        from.join(","),
        range.start,
        range.end,
        bucket_text(bucket),
        influxql::ident(tag)
    )
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

/// Runs one count statement and adds its rows to `counts`: per series (measurement,
/// tenant) and row (bucket), the largest count column.
async fn count_one(
    client: &Client,
    opts: &LateOptions<'_>,
    tag: &str,
    what: (&[String], Interval, Option<&str>),
    bucket: TimeUnit,
    counts: &mut SourceCounts,
) -> Result<(), ClientError> {
    let q = count_statement(opts, tag, what, bucket);
    // `query` returns the whole answer or an error: a statement refused part way
    // (query-timeout after some chunks) adds nothing before it is asked again in halves.
    let r = client.query(Some(opts.rp.db), &q).await?;
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
            *counts
                .entry((tenant.clone(), s.name.clone(), at))
                .or_default() += n;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The statement counts `value` alone where the measurements have it, else every
    /// field, over the range, grouped by the bucket and the tenant tag, quoted; refused statements split by measurements
    /// first, then by time down to one bucket.
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
        let q = count_statement(
            &opts,
            "_tenant_id",
            (&ms, range, Some("value")),
            TimeUnit::Hour,
        );
        assert!(
            q.starts_with("SELECT count(\"value\") FROM \"monasca\""),
            "{q}"
        );
        let q = count_statement(&opts, "_tenant_id", (&ms, range, None), TimeUnit::Hour);
        assert_eq!(
            q,
            format!(
                "SELECT count(*) FROM \"monasca\".\"autogen\".\"cpu\",\"monasca\".\"autogen\".\"m\\\"em\" WHERE time >= 0 AND time < {} GROUP BY time(1h), \"_tenant_id\" fill(none)",
                3 * h
            )
        );
        let [a, b] = split(&ms, Interval::new(0, 3 * h), TimeUnit::Hour).unwrap();
        assert_eq!((a.0.len(), b.0.len()), (1, 1));
        let [a, b] = split(&ms[..1], Interval::new(0, 3 * h), TimeUnit::Hour).unwrap();
        assert_eq!((a.1, b.1), (Interval::new(0, h), Interval::new(h, 3 * h)));
        assert!(split(&ms[..1], Interval::new(0, h), TimeUnit::Hour).is_none());
    }
}
