//! Chunk sizes from the data. Pure: a plan and each tenant's sampled point rate in,
//! the same time copied in statements of about [`Sizing::target_points`] out.
//!
//! The planner cuts every tenant's history into aligned windows of one unit. For a
//! sparse tenant that is thousands of statements that copy a few hundred points each;
//! for a dense one a week can exceed the server's `max-select-point`. So a closed
//! chunk whose estimate is far above the target is cut into windows of a smaller
//! unit, and contiguous closed chunks of a tenant (same measurements, same unit) are
//! joined while their estimate stays under the target. The ledger records intervals,
//! so a rerun with other sizes still skips the covered time. Open chunks are left as
//! they are: they are copied again by every run.

use crate::core::interval::Interval;
use crate::core::window::TimeUnit;
use crate::plan::{Chunk, Plan, TenantPlan};
use serde::Serialize;
use std::collections::BTreeMap;

/// Points one statement aims to copy by default: large enough that the per-request
/// cost vanishes, small enough to stay far below memory and time limits.
pub const TARGET_POINTS: u64 = 500_000;

/// A tenant's sampled density: points per nanosecond of history.
pub type Rates = BTreeMap<String, f64>;

/// How large a statement should be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Sizing {
    /// Points one statement aims to copy.
    pub target_points: u64,
}

impl Sizing {
    /// The target: `wanted`, but at most half the server's `max-select-point` when it
    /// has one (0 means none), so a denser-than-sampled window still passes.
    pub fn new(wanted: u64, max_select_point: Option<u64>) -> Self {
        let cap = max_select_point.filter(|m| *m > 0).map(|m| (m / 2).max(1));
        Sizing {
            target_points: cap.map_or(wanted, |c| wanted.min(c)).max(1),
        }
    }

    /// Estimated points of `window` at `rate`.
    fn estimate(rate: f64, window: Interval) -> f64 {
        rate * window.len() as f64
    }

    /// Whether a chunk at `rate` is too dense: above twice the target.
    fn too_dense(&self, rate: f64, window: Interval) -> bool {
        Self::estimate(rate, window) > 2.0 * self.target_points as f64
    }
}

/// Resizes the closed chunks of tenants with a known rate (see the module docs) and
/// recounts those tenants. The chunk order is the planner's (`order`).
pub fn resize(plan: &mut Plan, rates: &Rates, sizing: Sizing, order: fn(&mut [Chunk])) {
    let chunks = std::mem::take(&mut plan.chunks);
    let (mut sized, kept): (Vec<Chunk>, Vec<Chunk>) = chunks
        .into_iter()
        .partition(|c| c.closed && rates.contains_key(&c.tenant));
    sized = sized
        .into_iter()
        .flat_map(|c| split_dense(c, rates, sizing))
        .collect();
    sized = merge_sparse(sized, rates, sizing, &plan.cuts_ns);
    for (tenant, tp) in plan.tenants.iter_mut() {
        if rates.contains_key(tenant) {
            *tp = TenantPlan {
                covered_windows: tp.covered_windows,
                ..TenantPlan::default()
            };
        }
    }
    let mut all = kept;
    all.extend(sized);
    for c in all.iter().filter(|c| rates.contains_key(&c.tenant)) {
        if let Some(tp) = plan.tenants.get_mut(&c.tenant) {
            tp.count(c.window, c.closed);
        }
    }
    order(&mut all);
    plan.chunks = all;
}

/// The chunk, or its windows of the largest smaller unit whose estimate is not too
/// dense (the smallest unit when none is).
fn split_dense(c: Chunk, rates: &Rates, sizing: Sizing) -> Vec<Chunk> {
    let rate = rates[&c.tenant];
    if !sizing.too_dense(rate, c.window) {
        return vec![c];
    }
    let mut unit = c.unit;
    while let Some(u) = unit.smaller() {
        unit = u;
        if !sizing.too_dense(rate, Interval::new(0, u.nanos())) {
            break;
        }
    }
    if unit == c.unit {
        return vec![c];
    }
    unit.windows(c.window)
        .map(|w| Chunk {
            window: w,
            unit,
            ..c.clone()
        })
        .collect()
}

/// Joins contiguous chunks of one tenant, target, unit and measurement batch while
/// their estimate stays within the target, but not across the planner's `cuts` (the
/// late check of later runs would recount the whole joined chunk).
fn merge_sparse(chunks: Vec<Chunk>, rates: &Rates, sizing: Sizing, cuts: &[i64]) -> Vec<Chunk> {
    type Key = (String, String, String, crate::plan::Measurements, TimeUnit);
    let mut groups: BTreeMap<Key, Vec<Chunk>> = BTreeMap::new();
    for c in chunks {
        let key = (
            c.tenant.clone(),
            c.target.clone(),
            c.target_rp.clone(),
            c.measurements.clone(),
            c.unit,
        );
        groups.entry(key).or_default().push(c);
    }
    let target = sizing.target_points as f64;
    let mut out = Vec::new();
    for (key, mut group) in groups {
        let rate = rates[&key.0];
        group.sort_by_key(|c| c.window.start);
        let mut current: Option<Chunk> = None;
        for c in group {
            current = match current {
                Some(mut acc)
                    if acc.window.end == c.window.start
                        && !cuts.contains(&c.window.start)
                        && Sizing::estimate(
                            rate,
                            Interval::new(acc.window.start, c.window.end),
                        ) <= target =>
                {
                    acc.window = Interval::new(acc.window.start, c.window.end);
                    Some(acc)
                }
                Some(acc) => {
                    out.push(acc);
                    Some(c)
                }
                None => Some(c),
            };
        }
        out.extend(current);
    }
    out
}

#[cfg(test)]
mod tests {
    /// Oldest first, so the assertions read in time order (the run's order is
    /// `planner::sort_newest_first`; sizing keeps whatever order it is given).
    fn oldest_first(chunks: &mut [Chunk]) {
        chunks.sort_by(|a, b| {
            (a.window.start, &a.tenant, &a.measurements).cmp(&(
                b.window.start,
                &b.tenant,
                &b.measurements,
            ))
        });
    }

    use super::*;
    use crate::core::window::{DAY, WEEK};

    const MON: i64 = 1_704_067_200_000_000_000; // 2024-01-01T00:00:00Z, a Monday

    fn chunk(tenant: &str, ms: &[&str], start: i64, end: i64, closed: bool) -> Chunk {
        Chunk {
            tenant: tenant.into(),
            target: format!("monasca_{tenant}"),
            target_rp: "autogen".into(),
            measurements: ms.iter().map(|m| m.to_string()).collect(),
            window: Interval::new(start, end),
            unit: TimeUnit::Week,
            closed,
            retention_ns: None,
        }
    }

    /// A plan of `weeks` closed week chunks (one batch) and one open week for `tenant`.
    fn weekly(tenant: &str, weeks: i64) -> Vec<Chunk> {
        let mut v: Vec<Chunk> = (0..weeks)
            .map(|w| chunk(tenant, &["cpu"], MON + w * WEEK, MON + (w + 1) * WEEK, true))
            .collect();
        v.push(chunk(
            tenant,
            &["cpu"],
            MON + weeks * WEEK,
            MON + (weeks + 1) * WEEK,
            false,
        ));
        v
    }

    fn plan_of(chunks: Vec<Chunk>) -> Plan {
        let mut p = Plan::default();
        for c in &chunks {
            p.tenants
                .entry(c.tenant.clone())
                .or_default()
                .count(c.window, c.closed);
        }
        p.chunks = chunks;
        p
    }

    /// Per week rate of `points` points.
    fn per_week(points: f64) -> f64 {
        points / WEEK as f64
    }

    /// `p` resized with tenant `a` at a thousand points a week; its windows, closed or
    /// not, oldest first.
    fn resized_sparse(p: &mut Plan) -> Vec<(Interval, bool)> {
        let rates = Rates::from([("a".to_string(), per_week(1_000.0))]);
        resize(p, &rates, Sizing::new(500_000, None), oldest_first);
        p.chunks.iter().map(|c| (c.window, c.closed)).collect()
    }

    /// A sparse tenant's sixteen closed weeks become one statement covering exactly
    /// the same time; its open week stays apart; counts follow.
    #[test]
    fn sparse_weeks_merge() {
        let mut p = plan_of(weekly("a", 16));
        let ws = resized_sparse(&mut p);
        assert_eq!(
            ws,
            vec![
                (Interval::new(MON, MON + 16 * WEEK), true),
                (Interval::new(MON + 16 * WEEK, MON + 17 * WEEK), false)
            ]
        );
        assert_eq!(p.tenants["a"].closed_chunks, 1);
        assert_eq!(p.tenants["a"].open_chunks, 1);
        assert_eq!(
            p.tenants["a"].range,
            Some(Interval::new(MON, MON + 17 * WEEK))
        );
    }

    /// Merging stops at the target, at a hole between windows, and between
    /// measurement batches; tenants without a rate are left as planned.
    #[test]
    fn merge_stops_at_target_holes_and_batches() {
        let mut chunks = weekly("a", 6);
        chunks.retain(|c| c.window.start != MON + 3 * WEEK);
        chunks.push(chunk("a", &["mem"], MON, MON + WEEK, true));
        chunks.push(chunk("a", &["mem"], MON + WEEK, MON + 2 * WEEK, true));
        chunks.extend(weekly("b", 3));
        let mut p = plan_of(chunks);
        let rates = Rates::from([("a".to_string(), per_week(100.0))]);
        resize(&mut p, &rates, Sizing::new(250, None), oldest_first);
        let a: Vec<_> = p
            .chunks
            .iter()
            .filter(|c| c.tenant == "a" && c.closed)
            .map(|c| (c.measurements[0].as_str(), c.window))
            .collect();
        assert_eq!(
            a,
            vec![
                ("cpu", Interval::new(MON, MON + 2 * WEEK)),
                ("mem", Interval::new(MON, MON + 2 * WEEK)),
                ("cpu", Interval::new(MON + 2 * WEEK, MON + 3 * WEEK)),
                ("cpu", Interval::new(MON + 4 * WEEK, MON + 6 * WEEK)),
            ]
        );
        assert_eq!(p.chunks.iter().filter(|c| c.tenant == "b").count(), 4);
        assert_eq!(p.tenants["b"].closed_chunks, 3);
    }

    /// Closed chunks are not joined across the planner's cuts (where the late
    /// horizon begins): the late check of later runs recounts only what follows.
    #[test]
    fn merge_stops_at_the_planners_cuts() {
        let mut p = plan_of(weekly("a", 4));
        p.cuts_ns = vec![MON + 2 * WEEK];
        let ws = resized_sparse(&mut p);
        assert_eq!(
            ws,
            vec![
                (Interval::new(MON, MON + 2 * WEEK), true),
                (Interval::new(MON + 2 * WEEK, MON + 4 * WEEK), true),
                (Interval::new(MON + 4 * WEEK, MON + 5 * WEEK), false)
            ]
        );
    }

    /// A week far denser than the target is cut into days (the largest unit under
    /// twice the target), covering the same time.
    #[test]
    fn dense_week_splits_into_days() {
        let mut p = plan_of(vec![chunk("a", &["cpu"], MON, MON + WEEK, true)]);
        let rates = Rates::from([("a".to_string(), per_week(7_000_000.0))]);
        resize(&mut p, &rates, Sizing::new(500_000, None), oldest_first);
        assert_eq!(p.chunks.len(), 7);
        assert!(p.chunks.iter().all(|c| c.unit == TimeUnit::Day));
        assert_eq!(p.chunks[0].window, Interval::new(MON, MON + DAY));
        assert_eq!(p.chunks[6].window.end, MON + WEEK);
        assert_eq!(p.tenants["a"].closed_chunks, 7);
    }

    /// The server's max-select-point caps the target at half of it; 0 means no limit.
    #[test]
    fn target_capped_by_server_limit() {
        assert_eq!(Sizing::new(500_000, None).target_points, 500_000);
        assert_eq!(Sizing::new(500_000, Some(0)).target_points, 500_000);
        assert_eq!(Sizing::new(500_000, Some(100_000)).target_points, 50_000);
        assert_eq!(Sizing::new(500_000, Some(1)).target_points, 1);
    }
}
