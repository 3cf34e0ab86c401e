//! `plan --estimate`: how many points a run would copy, per tenant, and a rough
//! duration. Reads only.
//!
//! Points: one `SELECT count(*)` per planned chunk (many statements per request); a
//! measurement's points are taken as its largest field count, exact when every point
//! has that field (Monasca's `value`). Duration: one sample chunk (the one with the
//! median point count) is read with `SELECT *` (at most [`SAMPLE_LIMIT`] rows per
//! measurement) and timed; the total is points divided by that read rate. A run also
//! writes every point, so it is an estimate, not a promise.

use crate::config::TenantSettings;
use crate::influx::answer::StatementResult;

use crate::influx::client::Client;

use crate::core::interval::Interval;
use crate::core::window::format_ns;
use crate::influx::error::ClientError;
use crate::influx::statement::{self as influxql, Rp};
use crate::plan::{Chunk, Plan};
use futures::stream::{self, StreamExt, TryStreamExt};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Instant;

/// Count statements sent in one request.
pub const STATEMENTS_PER_REQUEST: usize = 50;
/// Rows read per measurement by the timed sample.
pub const SAMPLE_LIMIT: usize = 10_000;

/// Per-tenant figures.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TenantEstimate {
    /// Chunks planned.
    pub chunks: u64,
    /// Points in them.
    pub points: u64,
}

/// The timed read.
#[derive(Debug, Clone, Serialize)]
pub struct Sample {
    /// Tenant of the sample chunk.
    pub tenant: String,
    /// Its window.
    pub window: Interval,
    /// Measurements read.
    pub measurements: usize,
    /// Rows the server returned.
    pub rows: u64,
    /// Seconds the read took.
    pub secs: f64,
    /// Rows per second.
    pub rows_per_sec: f64,
    /// The statement that was timed.
    pub query: String,
}

/// What `plan --estimate` adds to the plan.
#[derive(Debug, Clone, Serialize)]
pub struct Estimate {
    /// How the figures were made, in words.
    pub method: &'static str,
    /// Per tenant.
    pub tenants: BTreeMap<String, TenantEstimate>,
    /// Points over all tenants.
    pub total_points: u64,
    /// The timed read, if any chunk had points.
    pub sample: Option<Sample>,
    /// Estimated seconds for the copy, at the sample's rate.
    pub estimated_secs: Option<f64>,
    /// Requests sent to count.
    pub count_requests: u64,
}

const METHOD: &str = "points: count(*) per planned chunk, largest field count per measurement; duration: total points / rows per second of one timed SELECT * of the median chunk (read only; a run also writes, and runs several queries at once): an estimate";

/// Points of a `count(*)` answer: per measurement the largest count column, summed.
pub fn points_of(r: &StatementResult) -> u64 {
    r.series
        .iter()
        .map(|s| {
            s.values
                .iter()
                .flat_map(|row| {
                    s.columns
                        .iter()
                        .zip(row)
                        .filter(|(c, _)| c.starts_with("count"))
                        .filter_map(|(_, v)| v.as_u64())
                })
                .max()
                .unwrap_or(0)
        })
        .sum()
}

fn from_list(src: &Rp<'_>, ms: &[String]) -> String {
    ms.iter()
        .map(|m| src.measurement(m))
        .collect::<Vec<_>>()
        .join(",")
}

fn where_clause(tag: &str, c: &Chunk) -> String {
    format!(
        "{} AND time >= {} AND time < {}",
        influxql::tenant_filter(tag, &c.tenant),
        c.window.start,
        c.window.end
    )
}

/// `SELECT count(*)` of one chunk.
pub fn count_query(src: &Rp<'_>, tag: &str, c: &Chunk) -> String {
    format!(
        "SELECT count(*) FROM {} WHERE {}",
        from_list(src, &c.measurements),
        where_clause(tag, c)
    )
}

/// Counts the plan's points and times a sample read.
pub async fn estimate(
    client: &Client,
    src: &Rp<'_>,
    keys: &TenantSettings,
    plan: &Plan,
    concurrency: usize,
) -> Result<Estimate, ClientError> {
    let batches = plan.chunks.chunks(STATEMENTS_PER_REQUEST);
    let count_requests = batches.len() as u64;
    let per_chunk = count_points(client, src, keys, batches, concurrency).await?;
    let tenants = per_tenant(&plan.chunks, &per_chunk);
    let total_points = tenants.values().map(|t| t.points).sum();
    let sample = match median_chunk(&per_chunk) {
        Some(i) => Some(sample(client, src, keys, &plan.chunks[i]).await?),
        None => None,
    };
    let estimated_secs = sample
        .as_ref()
        .filter(|s| s.rows_per_sec > 0.0)
        .map(|s| total_points as f64 / s.rows_per_sec);
    Ok(Estimate {
        method: METHOD,
        tenants,
        total_points,
        sample,
        estimated_secs,
        count_requests,
    })
}

/// Points per chunk, as `(index in the plan, points)` sorted by index: one request
/// of `count(*)` statements per batch of [`STATEMENTS_PER_REQUEST`] chunks, several
/// requests at once.
async fn count_points(
    client: &Client,
    src: &Rp<'_>,
    tenants: &TenantSettings,
    batches: std::slice::Chunks<'_, Chunk>,
    concurrency: usize,
) -> Result<Vec<(usize, u64)>, ClientError> {
    let counted: Vec<Vec<(usize, u64)>> = stream::iter(batches.enumerate())
        .map(|(b, chunks)| async move {
            let q = chunks
                .iter()
                .map(|c| count_query(src, tenants.tag_of_batch(&c.measurements), c))
                .collect::<Vec<_>>()
                .join("; ");
            let results = client.query_all(Some(src.db), &q).await?;
            let mut out = Vec::with_capacity(chunks.len());
            for (i, r) in results.iter().enumerate() {
                if let Some(e) = &r.error {
                    return Err(ClientError::Statement { message: e.clone() });
                }
                out.push((b * STATEMENTS_PER_REQUEST + i, points_of(r)));
            }
            Ok(out)
        })
        .buffer_unordered(concurrency.max(1))
        .try_collect()
        .await?;
    let mut per_chunk: Vec<(usize, u64)> = counted.into_iter().flatten().collect();
    per_chunk.sort_unstable();
    Ok(per_chunk)
}

/// Chunks and points per tenant from the points per chunk (`(index in chunks, points)`).
fn per_tenant(chunks: &[Chunk], per_chunk: &[(usize, u64)]) -> BTreeMap<String, TenantEstimate> {
    let mut tenants: BTreeMap<String, TenantEstimate> = BTreeMap::new();
    for &(i, points) in per_chunk {
        let t = tenants.entry(chunks[i].tenant.clone()).or_default();
        t.chunks += 1;
        t.points += points;
    }
    tenants
}

/// The chunk to time: the one with the median point count among chunks with points
/// (ties broken by index), or `None` when no chunk has points.
fn median_chunk(per_chunk: &[(usize, u64)]) -> Option<usize> {
    let mut nonempty: Vec<(u64, usize)> = per_chunk
        .iter()
        .filter(|(_, p)| *p > 0)
        .map(|&(i, p)| (p, i))
        .collect();
    nonempty.sort_unstable();
    nonempty.get(nonempty.len() / 2).map(|&(_, i)| i)
}

async fn sample(
    client: &Client,
    src: &Rp<'_>,
    tenants: &TenantSettings,
    c: &Chunk,
) -> Result<Sample, ClientError> {
    let query = format!(
        "SELECT * FROM {} WHERE {} LIMIT {SAMPLE_LIMIT}",
        from_list(src, &c.measurements),
        where_clause(tenants.tag_of_batch(&c.measurements), c)
    );
    let started = Instant::now();
    let r = client.query(Some(src.db), &query).await?;
    let secs = started.elapsed().as_secs_f64();
    let rows: u64 = r.series.iter().map(|s| s.values.len() as u64).sum();
    Ok(Sample {
        tenant: c.tenant.clone(),
        window: c.window,
        measurements: c.measurements.len(),
        rows,
        secs,
        rows_per_sec: if secs > 0.0 { rows as f64 / secs } else { 0.0 },
        query,
    })
}

impl Estimate {
    /// Human-readable estimate.
    pub fn render(&self) -> String {
        let mut s = String::from("ESTIMATE (");
        s.push_str(self.method);
        s.push_str(")\n");
        let rows: Vec<Vec<String>> = self
            .tenants
            .iter()
            .map(|(t, e)| vec![t.clone(), e.chunks.to_string(), e.points.to_string()])
            .collect();
        s.push_str(&crate::core::text::table(
            &["TENANT", "CHUNKS", "POINTS"],
            &rows,
        ));
        let _ = writeln!(
            s,
            "{} points to copy (counted with {} request(s))",
            self.total_points, self.count_requests
        );
        match (&self.sample, self.estimated_secs) {
            (Some(x), Some(secs)) => {
                let _ = writeln!(
                    s,
                    "sample: tenant {:?} {} .. {}, {} measurement(s): {} rows read in {:.3}s = {:.0} rows/s\nestimated copy time: about {} (an estimate from one read; writing is not measured)",
                    x.tenant,
                    format_ns(x.window.start),
                    format_ns(x.window.end),
                    x.measurements,
                    x.rows,
                    x.secs,
                    x.rows_per_sec,
                    humantime::format_duration(std::time::Duration::from_secs(secs.ceil() as u64))
                );
            }
            _ => s.push_str("no points to copy: no duration estimate\n"),
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Points per measurement are its largest count column; measurements add up.
    #[test]
    fn points_from_counts() {
        let r: StatementResult = serde_json::from_str(
            r#"{"series":[
              {"name":"a","columns":["time","count_value","count_value_meta"],"values":[[0,10,4]]},
              {"name":"b","columns":["time","count_value","count_other"],"values":[[0,null,7]]}]}"#,
        )
        .unwrap();
        assert_eq!(points_of(&r), 17);
        assert_eq!(points_of(&StatementResult::default()), 0);
    }

    fn chunk(tenant: &str) -> Chunk {
        Chunk {
            tenant: tenant.into(),
            target: format!("monasca_{tenant}"),
            target_rp: "autogen".into(),
            measurements: vec!["cpu".into()].into(),
            window: Interval::new(0, 10),
            unit: crate::core::window::TimeUnit::Day,
            closed: true,
            retention_ns: None,
        }
    }

    /// Chunks and points add up per tenant.
    #[test]
    fn figures_per_tenant() {
        let chunks = [chunk("a"), chunk("b"), chunk("a")];
        let got = per_tenant(&chunks, &[(0, 5), (1, 0), (2, 7)]);
        assert_eq!(
            got,
            BTreeMap::from([
                (
                    "a".to_string(),
                    TenantEstimate {
                        chunks: 2,
                        points: 12
                    }
                ),
                (
                    "b".to_string(),
                    TenantEstimate {
                        chunks: 1,
                        points: 0
                    }
                ),
            ])
        );
    }

    /// The sample is the chunk with the median point count, empty chunks left out;
    /// with no points there is no sample.
    #[test]
    fn median_chunk_skips_empty() {
        assert_eq!(median_chunk(&[(0, 0), (1, 30), (2, 10), (3, 20)]), Some(3));
        assert_eq!(median_chunk(&[(0, 9), (1, 3)]), Some(0));
        assert_eq!(median_chunk(&[(0, 0), (1, 0)]), None);
        assert_eq!(median_chunk(&[]), None);
    }
}
