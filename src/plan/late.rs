//! Late points, pure: which recorded chunks a run looks at again, and which of them
//! the source gained points in since they were recorded.
//!
//! A persister catching up on a backlog writes into windows that already closed and
//! were recorded. Each run takes the recorded chunks that closed within the late
//! horizon ([`select`]), counts the source over their time range with a few grouped
//! `count(*)` statements (`source::late`), and reopens every chunk whose source figure
//! is now above the points its copy wrote ([`compare`]).
//!
//! The count comes in two steps so that it costs what arrived, not the horizon: first
//! one total per tenant and measurement over the whole range (no time buckets: one row
//! per series, against one per series and hour), then bucket by bucket only for the
//! chunks those totals do not settle ([`unsettled`]): a tenant whose totals differ
//! from what its chunks recorded, or a chunk with a measurement counted by every field.
//!
//! The figure of a (tenant, measurement, bucket) is its largest field count: exactly
//! its points when one field is in every point (Monasca's `value`; every field of
//! `alarm_state_history`), fewer when all fields are sparse. A copy wrote every point,
//! so a figure above what was recorded means points arrived after the copy; with
//! sparse fields a late point can go unseen (documented limitation).

use crate::core::interval::{Interval, IntervalSet};
use crate::core::window::TimeUnit;
use crate::ledger::intern::{Entry, FastMap};
use crate::ledger::{Record, RecordKind, Scope, SourceRef};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Bucket sizes the source is counted in, largest first. A week is never a bucket:
/// InfluxQL's weeks start on Thursdays, ours on Mondays; days divide both.
const BUCKETS: [TimeUnit; 4] = [
    TimeUnit::Day,
    TimeUnit::Hour,
    TimeUnit::TenMinutes,
    TimeUnit::Minute,
];

/// Source figures: (tenant, measurement, bucket start) -> largest field count.
pub type SourceCounts = BTreeMap<(String, String, i64), u64>;

/// Source totals over a check's whole range: (tenant, measurement) -> points, counted
/// by a field that every point has.
pub type SourceTotals = BTreeMap<(String, String), u64>;

/// A recorded chunk looked at again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recheck {
    /// Its ledger scope.
    pub scope: Scope,
    /// Its measurements.
    pub measurements: Vec<String>,
    /// Its window.
    pub window: Interval,
    /// Points its copy wrote.
    pub recorded: u64,
}

/// What one run checks for late points.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LateCheck {
    /// The recorded chunks to compare.
    pub chunks: Vec<Recheck>,
    /// The time the count statements cover: from the oldest chunk's start to the
    /// newest one's end.
    pub range: Option<Interval>,
    /// The `GROUP BY time()` bucket: the largest that divides every chunk's bounds.
    pub bucket: Option<TimeUnit>,
    /// Every measurement of the chunks, sorted.
    pub measurements: Vec<String>,
    /// Recorded chunks in the horizon not on whole minutes (clipped by `--from`,
    /// `--to`): not compared.
    pub unaligned: u64,
}

/// A recorded chunk the source gained points in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reopened {
    /// Tenant id.
    pub tenant: String,
    /// Target database.
    pub target: String,
    /// Its measurements.
    pub measurements: Vec<String>,
    /// Its window.
    pub window: Interval,
    /// Points its copy wrote.
    pub recorded: u64,
    /// What the source holds now (largest field count per measurement and bucket).
    pub source: u64,
}

/// What the late check did, for the summary and the run report.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct LateReport {
    /// `run.late_horizon` in seconds; 0 = the check is off.
    pub horizon_secs: u64,
    /// Recorded chunks compared with the source.
    pub chunks_rechecked: u64,
    /// Recorded chunks in the horizon that could not be compared (not on whole
    /// minutes).
    pub chunks_unaligned: u64,
    /// Count statements sent to the source.
    pub statements: u64,
    /// Tenants whose totals did not settle their chunks (or with measurements counted
    /// by every field), counted again bucket by bucket.
    pub tenants_recounted: u64,
    /// Points the count statements counted (what the server read for the check).
    pub points_counted: u64,
    /// Time the count statements took, in milliseconds.
    pub elapsed_ms: u64,
    /// Chunks whose window was reopened and planned again.
    pub reopened: Vec<Reopened>,
    /// Why the check could not be done, if it failed (the run then exits 1).
    pub error: Option<String>,
}

impl LateReport {
    /// True when the check ran into an error.
    pub fn failed(&self) -> bool {
        self.error.is_some()
    }
}

/// The recorded chunks of `source` (into the target server `target_url`) whose window
/// closed within `horizon_ns` before `closed_before`. Only the latest copy of a window
/// counts: a record that a later one overlaps (the same window copied again, or a
/// split piece since copied whole) is superseded and skipped.
pub fn select(
    records: &[Record],
    source: &SourceRef<'_>,
    target_url: &str,
    closed_before: i64,
    horizon_ns: i64,
) -> LateCheck {
    let oldest_end = closed_before.saturating_sub(horizon_ns);
    let mut later: HashMap<(&Scope, &str), IntervalSet> = HashMap::new();
    let mut picked = Vec::new();
    for r in records
        .iter()
        .rev()
        .filter(|r| r.kind == RecordKind::Copied)
    {
        let s = &r.scope;
        if s.source != source.url
            || s.source_db != source.db
            || s.source_rp != source.rp
            || s.target_url != target_url
        {
            continue;
        }
        let w = r.window();
        let superseded = r.measurements.iter().any(|m| {
            later
                .get(&(s, m.as_str()))
                .is_some_and(|set| set.gaps(w) != [w])
        });
        for m in &r.measurements {
            later.entry((s, m.as_str())).or_default().insert(w);
        }
        if !superseded && w.end <= closed_before && w.end > oldest_end {
            picked.push(Recheck {
                scope: s.clone(),
                measurements: r.measurements.clone(),
                window: w,
                recorded: r.points,
            });
        }
    }
    picked.reverse();
    let on_minutes = |c: &Recheck| aligned(c.window, TimeUnit::Minute);
    let unaligned = picked.iter().filter(|c| !on_minutes(c)).count() as u64;
    picked.retain(on_minutes);
    check_of(picked, unaligned)
}

/// The check of `picked`: its range, bucket and measurements.
fn check_of(picked: Vec<Recheck>, unaligned: u64) -> LateCheck {
    let bucket = BUCKETS
        .into_iter()
        .find(|u| picked.iter().all(|c| aligned(c.window, *u)));
    let range = picked
        .iter()
        .map(|c| c.window)
        .reduce(|a, b| Interval::new(a.start.min(b.start), a.end.max(b.end)));
    let measurements: BTreeSet<&String> = picked.iter().flat_map(|c| &c.measurements).collect();
    LateCheck {
        measurements: measurements.into_iter().cloned().collect(),
        chunks: picked,
        range,
        bucket: bucket.filter(|_| range.is_some()),
        unaligned,
    }
}

/// The records [`select`] can pick, gathered while the ledger streams by, so that a
/// run keeps the few chunks of the late horizon and not the whole ledger: the
/// `Copied` lines of the source whose window closed within the horizon and that no
/// later line overlaps. `select` over them picks what it picks over every record.
#[derive(Debug)]
pub struct Candidates<'s> {
    source: SourceRef<'s>,
    target_url: &'s str,
    closed_before: i64,
    oldest_end: i64,
    /// Per scope number: whether its source and target server are these.
    ours: Vec<Option<bool>>,
    /// In file order, with "a later line overlaps it".
    kept: Vec<(Record, bool)>,
    /// (scope number, measurement number) -> indexes into `kept`.
    by_measurement: FastMap<(u32, u32), Vec<usize>>,
}

impl<'s> Candidates<'s> {
    /// Candidates for `select(_, source, target_url, closed_before, horizon_ns)`.
    pub fn new(
        source: SourceRef<'s>,
        target_url: &'s str,
        closed_before: i64,
        horizon_ns: i64,
    ) -> Self {
        Candidates {
            source,
            target_url,
            closed_before,
            oldest_end: closed_before.saturating_sub(horizon_ns),
            ours: Vec::new(),
            kept: Vec::new(),
            by_measurement: FastMap::default(),
        }
    }

    /// Looks at the next ledger entry (all of them, in file order).
    pub fn add(&mut self, e: &Entry<'_>) {
        if e.kind != RecordKind::Copied || !self.ours(e) {
            return;
        }
        let w = e.window();
        if !self.kept.is_empty() {
            for m in e.measurement_ids {
                for i in self
                    .by_measurement
                    .get(&(e.scope_id, *m))
                    .into_iter()
                    .flatten()
                {
                    let (r, superseded) = &mut self.kept[*i];
                    // As in `select`: an empty window is superseded by any later line
                    // of its scope and measurement (its gaps are never `[w]`).
                    let earlier = r.window();
                    *superseded |= earlier.is_empty() || earlier.intersect(&w).is_some();
                }
            }
        }
        if w.end <= self.closed_before && w.end > self.oldest_end {
            let i = self.kept.len();
            self.kept.push((e.to_record(), false));
            for m in e.measurement_ids {
                self.by_measurement
                    .entry((e.scope_id, *m))
                    .or_default()
                    .push(i);
            }
        }
    }

    fn ours(&mut self, e: &Entry<'_>) -> bool {
        let id = e.scope_id as usize;
        if self.ours.len() <= id {
            self.ours.resize(id + 1, None);
        }
        *self.ours[id].get_or_insert_with(|| {
            let s = e.scope;
            s.source == self.source.url
                && s.source_db == self.source.db
                && s.source_rp == self.source.rp
                && s.target_url == self.target_url
        })
    }

    /// The candidates no later line overlaps, in file order.
    pub fn into_records(self) -> Vec<Record> {
        self.kept
            .into_iter()
            .filter(|(_, superseded)| !superseded)
            .map(|(r, _)| r)
            .collect()
    }
}

/// The part of `check` that `totals` (counted over its whole range for the
/// measurements where `every_point` is true) does not settle, to be counted bucket by
/// bucket: every chunk of a tenant whose totals differ from the points its chunks of
/// such measurements recorded, and every chunk with a measurement of another kind.
///
/// A tenant's totals equal to what its chunks recorded means no chunk gained points,
/// unless as many were deleted from the source in the same range (not looked for).
/// Points in the range that no chunk recorded (a hole, another tenant's window) make
/// the totals differ: that tenant is counted by bucket, as before this step.
pub fn unsettled(
    check: &LateCheck,
    totals: &SourceTotals,
    every_point: impl Fn(&str) -> bool,
) -> LateCheck {
    let counted = |c: &Recheck| c.measurements.iter().all(|m| every_point(m));
    let mut recorded: BTreeMap<&str, u64> = BTreeMap::new();
    for c in check.chunks.iter().filter(|c| counted(c)) {
        *recorded.entry(&c.scope.tenant).or_default() += c.recorded;
    }
    let mut source: BTreeMap<&str, u64> = BTreeMap::new();
    for ((t, _), n) in totals {
        *source.entry(t).or_default() += n;
    }
    let settled =
        |t: &str| recorded.get(t).copied().unwrap_or(0) == source.get(t).copied().unwrap_or(0);
    let left: Vec<Recheck> = check
        .chunks
        .iter()
        .filter(|c| !counted(c) || !settled(&c.scope.tenant))
        .cloned()
        .collect();
    check_of(left, check.unaligned)
}

/// The tenants of a check's chunks, sorted.
pub fn tenants(check: &LateCheck) -> Vec<String> {
    let t: BTreeSet<&String> = check.chunks.iter().map(|c| &c.scope.tenant).collect();
    t.into_iter().cloned().collect()
}

/// True when both bounds of `w` are multiples of `unit` (UTC days, hours, minutes).
fn aligned(w: Interval, unit: TimeUnit) -> bool {
    w.start.rem_euclid(unit.nanos()) == 0 && w.end.rem_euclid(unit.nanos()) == 0
}

/// The chunks of `check` whose source figure in `counts` is above the points their
/// copy wrote.
pub fn compare(check: &LateCheck, counts: &SourceCounts) -> Vec<(Recheck, Reopened)> {
    let mut out = Vec::new();
    for c in &check.chunks {
        let t = &c.scope.tenant;
        let source: u64 = c
            .measurements
            .iter()
            .flat_map(|m| {
                let from = (t.clone(), m.clone(), c.window.start);
                let to = (t.clone(), m.clone(), c.window.end);
                counts.range(from..to).map(|(_, n)| *n)
            })
            .sum();
        if source > c.recorded {
            let reopened = Reopened {
                tenant: t.clone(),
                target: c.scope.target.clone(),
                measurements: c.measurements.clone(),
                window: c.window,
                recorded: c.recorded,
                source,
            };
            out.push((c.clone(), reopened));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::window::{DAY, HOUR};
    use std::path::Path;

    const MON: i64 = 1_704_067_200_000_000_000; // 2024-01-01T00:00:00Z

    fn src() -> SourceRef<'static> {
        SourceRef {
            url: "http://s",
            db: "monasca",
            rp: "autogen",
        }
    }

    fn rec(tenant: &str, ms: &[&str], start: i64, end: i64, points: u64) -> Record {
        Record {
            kind: RecordKind::Copied,
            scope: src().scope("", &format!("monasca_{tenant}"), "autogen", tenant),
            measurements: ms.iter().map(|m| m.to_string()).collect(),
            start,
            end,
            unit: TimeUnit::Hour,
            split: false,
            points,
            at: String::new(),
        }
    }

    /// Only chunks that closed within the horizon are picked; the latest copy of a
    /// window supersedes earlier ones; other sources and verified lines are ignored;
    /// the bucket is the largest unit dividing every window.
    #[test]
    fn select_picks_latest_records_in_horizon() {
        let closed = MON + 10 * HOUR;
        let mut other = rec("a", &["cpu"], MON + 8 * HOUR, MON + 9 * HOUR, 5);
        other.scope.source = "http://elsewhere".into();
        let mut verified = rec("a", &["cpu"], MON + 7 * HOUR, MON + 8 * HOUR, 5);
        verified.kind = RecordKind::Verified;
        let records = [
            rec("a", &["cpu"], MON, MON + HOUR, 3),
            rec("a", &["cpu", "mem"], MON + 8 * HOUR, MON + 9 * HOUR, 4),
            rec("a", &["cpu", "mem"], MON + 8 * HOUR, MON + 9 * HOUR, 6),
            rec("b", &["disk"], MON + 9 * HOUR, MON + 10 * HOUR, 2),
            other,
            verified,
        ];
        let c = select(&records, &src(), "", closed, 5 * HOUR);
        let got: Vec<_> = c
            .chunks
            .iter()
            .map(|r| (r.window.start, r.recorded))
            .collect();
        assert_eq!(got, vec![(MON + 8 * HOUR, 6), (MON + 9 * HOUR, 2)]);
        assert_eq!(c.bucket, Some(TimeUnit::Hour));
        assert_eq!(
            c.range,
            Some(Interval::new(MON + 8 * HOUR, MON + 10 * HOUR))
        );
        assert_eq!(c.measurements, vec!["cpu", "disk", "mem"]);
        // A horizon of zero picks nothing: the check is off.
        assert!(select(&records, &src(), "", closed, 0).chunks.is_empty());
        // Day windows are counted in day buckets; a clipped window is left out.
        let days = [
            rec("a", &["cpu"], MON, MON + DAY, 1),
            rec("a", &["cpu"], MON + DAY, MON + DAY + 7, 1),
        ];
        let c = select(&days, &src(), "", MON + 3 * DAY, 3 * DAY);
        assert_eq!(c.bucket, Some(TimeUnit::Day));
        assert_eq!((c.chunks.len(), c.unaligned), (1, 1));
    }

    /// A chunk is reopened only when the source now holds more than its copy wrote,
    /// summed over its measurements and the buckets inside its window.
    #[test]
    fn compare_reopens_chunks_that_gained_points() {
        let records = [
            rec("a", &["cpu", "mem"], MON, MON + HOUR, 4),
            rec("a", &["cpu"], MON + HOUR, MON + 2 * HOUR, 2),
            rec("b", &["cpu"], MON, MON + HOUR, 2),
        ];
        let check = select(&records, &src(), "", MON + 2 * HOUR, DAY);
        let key = |t: &str, m: &str, at: i64| (t.to_string(), m.to_string(), at);
        let counts: SourceCounts = [
            (key("a", "cpu", MON), 2),
            (key("a", "mem", MON), 3),
            (key("a", "cpu", MON + HOUR), 2),
            (key("b", "cpu", MON), 1),
            (key("c", "cpu", MON), 9),
        ]
        .into_iter()
        .collect();
        let reopened = compare(&check, &counts);
        assert_eq!(reopened.len(), 1, "{reopened:?}");
        let (r, rep) = &reopened[0];
        assert_eq!((r.scope.tenant.as_str(), r.window.start), ("a", MON));
        assert_eq!((rep.recorded, rep.source), (4, 5));
    }

    /// Totals settle a tenant whose every-point chunks recorded what the source holds
    /// over the range: its chunks are not counted by bucket. A tenant whose totals are
    /// above (a late point) or below what it recorded, one with points outside its
    /// chunks (no record), and every chunk with a measurement counted by every field
    /// (alarm history) are left to the bucketed count, which keeps the range and
    /// bucket of what is left.
    #[test]
    fn unsettled_keeps_what_totals_do_not_settle() {
        let records = [
            rec("ok", &["cpu", "mem"], MON, MON + HOUR, 4),
            rec("ok", &["cpu"], MON + HOUR, MON + 2 * HOUR, 2),
            rec("late", &["cpu"], MON, MON + HOUR, 3),
            rec("less", &["cpu"], MON, MON + HOUR, 3),
            rec(
                "alarms",
                &["alarm_state_history"],
                MON + HOUR,
                MON + 2 * HOUR,
                1,
            ),
            rec("mixed", &["cpu", "alarm_state_history"], MON, MON + DAY, 5),
        ];
        let check = select(&records, &src(), "", MON + 2 * DAY, 3 * DAY);
        assert_eq!(check.chunks.len(), 6);
        let key = |t: &str, m: &str| (t.to_string(), m.to_string());
        let totals: SourceTotals = [
            (key("ok", "cpu"), 5),
            (key("ok", "mem"), 1),
            (key("late", "cpu"), 4),
            (key("less", "cpu"), 2),
            (key("mixed", "cpu"), 2),
            (key("unrecorded", "cpu"), 7),
        ]
        .into_iter()
        .collect();
        let every_point = |m: &str| m != "alarm_state_history";
        let left = unsettled(&check, &totals, every_point);
        let got: Vec<(&str, i64)> = left
            .chunks
            .iter()
            .map(|c| (c.scope.tenant.as_str(), c.window.start))
            .collect();
        assert_eq!(
            got,
            vec![
                ("late", MON),
                ("less", MON),
                ("alarms", MON + HOUR),
                ("mixed", MON)
            ]
        );
        assert_eq!(tenants(&left), vec!["alarms", "late", "less", "mixed"]);
        assert_eq!(left.range, Some(Interval::new(MON, MON + DAY)));
        assert_eq!(left.bucket, Some(TimeUnit::Hour));
        assert_eq!(left.measurements, vec!["alarm_state_history", "cpu"]);
        // Everything settled: nothing is left to count by bucket.
        let settled: SourceTotals = [(key("ok", "cpu"), 6)].into_iter().collect();
        let only_ok = select(&records[..2], &src(), "", MON + 2 * DAY, 3 * DAY);
        let left = unsettled(&only_ok, &settled, every_point);
        assert!(left.chunks.is_empty() && left.range.is_none(), "{left:?}");
    }

    /// Gathering candidates while the ledger streams by, then selecting among them,
    /// picks what selecting over every record picks: superseded windows (overlapped
    /// by a later line, whole or split, in any shared measurement), other sources and
    /// target servers, windows outside the horizon, an empty window.
    #[test]
    fn streamed_candidates_select_as_all_records() {
        let mut other = rec("a", &["cpu"], MON + 8 * HOUR, MON + 9 * HOUR, 5);
        other.scope.source = "http://elsewhere".into();
        let mut elsewhere = rec("b", &["disk"], MON + 5 * HOUR, MON + 6 * HOUR, 5);
        elsewhere.scope.target_url = "http://t".into();
        let mut verified = rec("a", &["cpu"], MON + 7 * HOUR, MON + 8 * HOUR, 5);
        verified.kind = RecordKind::Verified;
        let records = vec![
            rec("a", &["cpu"], MON, MON + HOUR, 3),
            rec("a", &["cpu", "mem"], MON + 8 * HOUR, MON + 9 * HOUR, 4),
            rec(
                "a",
                &["mem"],
                MON + 8 * HOUR,
                MON + 8 * HOUR + 10 * 60_000_000_000,
                1,
            ),
            rec("a", &["cpu", "mem"], MON + 6 * HOUR, MON + 7 * HOUR, 6),
            rec("a", &["cpu"], MON + 6 * HOUR, MON + 7 * HOUR, 7),
            rec("b", &["disk"], MON + 9 * HOUR, MON + 10 * HOUR, 2),
            rec("b", &["disk"], MON + 9 * HOUR, MON + 9 * HOUR, 0),
            rec("b", &["disk"], MON + 2 * HOUR, MON + 3 * HOUR, 1),
            rec("b", &["disk"], MON + 4 * HOUR, MON + 5 * HOUR + 7, 1),
            other,
            elsewhere,
            verified,
        ];
        let text: String = records
            .iter()
            .map(|r| serde_json::to_string(r).unwrap() + "\n")
            .collect();
        for (closed, horizon) in [(10, 5), (10, 9), (10, 0), (9, 3), (20, 20)] {
            let (closed, horizon) = (MON + closed * HOUR, horizon * HOUR);
            let mut c = Candidates::new(src(), "", closed, horizon);
            crate::ledger::intern::scan_reader(text.as_bytes(), Path::new("l"), |e| c.add(e))
                .unwrap();
            let kept = c.into_records();
            assert!(kept.len() <= records.len());
            assert_eq!(
                select(&kept, &src(), "", closed, horizon),
                select(&records, &src(), "", closed, horizon),
                "closed {closed}, horizon {horizon}"
            );
        }
        let mut c = Candidates::new(src(), "", MON + 10 * HOUR, 9 * HOUR);
        crate::ledger::intern::scan_reader(text.as_bytes(), Path::new("l"), |e| c.add(e)).unwrap();
        // Only what the late check can pick is kept.
        assert_eq!(c.into_records().len(), 5);
    }
}
