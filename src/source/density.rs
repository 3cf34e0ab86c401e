//! How dense each tenant's history is, sampled cheaply for [`crate::plan::sizing`]:
//! for every tenant with more than one closed chunk to copy, the points of its first
//! and its last closed window are counted (`count(*)` of the chunks' own statements,
//! all tenants' counts [`multi::STATEMENTS_PER_REQUEST`] to a request). A tenant's rate
//! is the denser of the two. Reads only a few windows per tenant, never its history.

use crate::config::TenantSettings;
use crate::core::interval::Interval;
use crate::influx::client::Client;
use crate::influx::error::ClientError;
use crate::influx::multi;
use crate::influx::statement::Rp;
use crate::plan::sizing::Rates;
use crate::plan::{Chunk, Plan};
use crate::source::estimate::{count_query, points_of};
use std::collections::BTreeMap;

/// The sampled chunks: per tenant with at least two closed chunks, those of its
/// earliest and its latest closed window (every measurement batch of them).
pub fn samples(plan: &Plan) -> Vec<&Chunk> {
    let mut windows: BTreeMap<&str, (Interval, Interval, usize)> = BTreeMap::new();
    for c in plan.chunks.iter().filter(|c| c.closed) {
        let e = windows
            .entry(c.tenant.as_str())
            .or_insert((c.window, c.window, 0));
        if c.window.start < e.0.start {
            e.0 = c.window;
        }
        if c.window.start > e.1.start {
            e.1 = c.window;
        }
        e.2 += 1;
    }
    plan.chunks
        .iter()
        .filter(|c| c.closed)
        .filter(|c| {
            windows
                .get(c.tenant.as_str())
                .is_some_and(|(first, last, n)| *n > 1 && (c.window == *first || c.window == *last))
        })
        .collect()
}

/// Points per nanosecond per tenant from the sampled chunks and their counts: per
/// window the points of all its chunks, per tenant the densest window. Tenants with a
/// failed count are left out (they keep the planner's sizes).
pub fn rates(samples: &[&Chunk], counts: &[Option<u64>]) -> Rates {
    let mut per_window: BTreeMap<(&str, Interval), Option<u64>> = BTreeMap::new();
    for (c, n) in samples.iter().zip(counts) {
        let e = per_window
            .entry((c.tenant.as_str(), c.window))
            .or_insert(Some(0));
        *e = e.zip(*n).map(|(a, b)| a + b);
    }
    let mut failed: Vec<&str> = Vec::new();
    let mut out = Rates::new();
    for ((tenant, window), points) in per_window {
        let Some(points) = points else {
            failed.push(tenant);
            continue;
        };
        let rate = points as f64 / window.len().max(1) as f64;
        let e = out.entry(tenant.to_string()).or_insert(0.0);
        *e = e.max(rate);
    }
    for t in failed {
        out.remove(t);
    }
    out
}

/// Samples the plan's tenants on the source (see the module docs). A count the
/// server refuses leaves that tenant out; a request that fails as a whole fails.
pub async fn sample_rates(
    client: &Client,
    src: &Rp<'_>,
    tenants: &TenantSettings,
    plan: &Plan,
    concurrency: usize,
) -> Result<(Rates, usize), ClientError> {
    let chunks = samples(plan);
    let statements: Vec<String> = chunks
        .iter()
        .map(|c| count_query(src, tenants.tag_of_batch(&c.measurements), c))
        .collect();
    // Each answer is read down to its count as it arrives: thousands of whole answers
    // held until the last one came were the largest part of `plan`'s peak memory.
    let counts: Vec<Option<u64>> = multi::query_each_map(
        client,
        Some(src.db),
        &statements,
        multi::STATEMENTS_PER_REQUEST,
        concurrency,
        |r| r.ok().as_ref().map(points_of),
    )
    .await?;
    Ok((rates(&chunks, &counts), statements.len()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::window::{TimeUnit, WEEK};

    fn chunk(tenant: &str, m: &str, w: i64, closed: bool) -> Chunk {
        Chunk {
            tenant: tenant.into(),
            target: format!("db_{tenant}"),
            target_rp: "autogen".into(),
            measurements: vec![m.into()].into(),
            window: Interval::new(w * WEEK, (w + 1) * WEEK),
            unit: TimeUnit::Week,
            closed,
            retention_ns: None,
        }
    }

    /// The first and last closed windows of each tenant are sampled, with every batch
    /// of them; a tenant with one closed chunk and open chunks are not.
    #[test]
    fn first_and_last_closed_windows() {
        let p = Plan {
            chunks: vec![
                chunk("a", "cpu", 1, true),
                chunk("a", "mem", 1, true),
                chunk("a", "cpu", 2, true),
                chunk("a", "cpu", 3, true),
                chunk("a", "cpu", 4, false),
                chunk("b", "cpu", 1, true),
                chunk("b", "cpu", 2, false),
            ],
            ..Plan::default()
        };
        let got: Vec<(&str, &str, i64)> = samples(&p)
            .iter()
            .map(|c| {
                (
                    c.tenant.as_str(),
                    c.measurements[0].as_str(),
                    c.window.start / WEEK,
                )
            })
            .collect();
        assert_eq!(got, vec![("a", "cpu", 1), ("a", "mem", 1), ("a", "cpu", 3)]);
    }

    /// A window's batches add up, the denser window gives the rate, and a failed
    /// count leaves the tenant out.
    #[test]
    fn densest_window_wins() {
        let cs = [
            chunk("a", "cpu", 1, true),
            chunk("a", "mem", 1, true),
            chunk("a", "cpu", 3, true),
            chunk("b", "cpu", 1, true),
            chunk("b", "cpu", 3, true),
        ];
        let refs: Vec<&Chunk> = cs.iter().collect();
        let r = rates(&refs, &[Some(10), Some(20), Some(5), Some(1), None]);
        assert_eq!(r.len(), 1);
        assert!((r["a"] - 30.0 / WEEK as f64).abs() < 1e-18);
    }
}
