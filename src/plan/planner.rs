//! The planner. Pure: `(Catalog, Rules, Coverage, now) -> Plan` or a typed error.
//!
//! It cuts each tenant's history into aligned windows, drops what lies outside the data
//! (shard groups, first and last points, `--from`/`--to`, retention) and what the
//! ledger covers, and groups the measurements left in each window into as few
//! type-safe `SELECT INTO` queries as it can.

use crate::config::{Settings, WindowSettings};
use crate::core::interval::Interval;
use crate::core::window::TimeUnit;
use crate::ledger::{Coverage, Scope};
use crate::plan::batch::batches;
use crate::plan::catalog::{Catalog, TenantData, UserGrant};
use crate::plan::target::{target_plan, TargetPlan, TargetRules, MAX_NAME_BYTES};
use crate::plan::Measurements;
use crate::plan::{Chunk, Plan, PlanError, TenantPlan};
use std::collections::{BTreeMap, BTreeSet};

/// How far inside a retention policy's horizon copying starts. InfluxDB drops points
/// older than `now - duration` at write time, and `now` moves while a run goes on; a
/// margin keeps the oldest chunk clear of that edge (the copier also re-clamps each
/// chunk when it starts).
pub const RETENTION_MARGIN_NS: i64 = 10 * crate::core::window::MINUTE;

/// The settings the planner reads.
#[derive(Debug, Clone, Copy)]
pub struct Rules<'a> {
    /// Window size, `--from`/`--to` and the settle time.
    pub window: &'a WindowSettings,
    /// Target names and retention.
    pub targets: TargetRules<'a>,
    /// Most measurements one statement copies.
    pub max_measurements_per_query: usize,
    /// Grant each non-admin user's privilege on the source on every target.
    pub grant_privileges: bool,
    /// `run.late_horizon` (ns): closed pieces are cut where it begins, so that the
    /// late-point check of later runs recounts the horizon, not whole windows.
    pub late_horizon_ns: i64,
}

impl<'a> Rules<'a> {
    /// The rules the settings give.
    pub fn from_settings(settings: &'a Settings) -> Self {
        Rules {
            window: &settings.window,
            targets: TargetRules {
                template: &settings.tenants.target_template,
                retention: &settings.retention,
                source_policy: None,
                max_shard_group_ns: None,
            },
            max_measurements_per_query: settings.run.max_measurements_per_query,
            grant_privileges: settings.tenants.grant_privileges,
            late_horizon_ns: i64::try_from(settings.run.late_horizon.as_nanos())
                .unwrap_or(i64::MAX),
        }
    }
}

/// Chunks ending at or before this (ns) are closed: `now - settle`, or, in a final run
/// (`window.final`: the source receives no more writes), no line at all.
pub fn settle_line(window: &WindowSettings, now_ns: i64) -> i64 {
    if window.final_run {
        return i64::MAX;
    }
    let settle = i64::try_from(window.settle.as_nanos()).unwrap_or(i64::MAX);
    now_ns.saturating_sub(settle)
}

/// Where a window's uncovered pieces are cut: at the last hour boundary at or below the
/// settle line (only what follows it is open, copied by every run), and at the one at
/// or below the start of the late horizon (later runs recount only the piece after it).
/// None in a final run.
fn cut_points(closed_before: i64, late_horizon_ns: i64) -> Vec<i64> {
    if closed_before == i64::MAX {
        return Vec::new();
    }
    let hour = TimeUnit::Hour;
    let mut cuts = vec![hour.align_down(closed_before)];
    if late_horizon_ns > 0 {
        cuts.push(hour.align_down(closed_before.saturating_sub(late_horizon_ns)));
    }
    cuts.sort_unstable();
    cuts.dedup();
    cuts
}

/// `piece` cut at each point strictly inside it, in time order.
fn cut(piece: Interval, points: &[i64]) -> Vec<Interval> {
    let mut out = Vec::new();
    let mut start = piece.start;
    for &p in points
        .iter()
        .filter(|p| **p > piece.start && **p < piece.end)
    {
        out.push(Interval::new(start, p));
        start = p;
    }
    out.push(Interval::new(start, piece.end));
    out
}

/// The ledger scope of a tenant's copies.
pub fn scope(catalog: &Catalog, target: &TargetPlan) -> Scope {
    catalog.source_ref().scope(
        &catalog.target_url,
        &target.database,
        &target.retention_policy,
        &target.tenant,
    )
}

/// The oldest nanosecond a policy of `retention_ns` accepts safely at `now_ns`: inside
/// the margin, rounded up to a whole minute so windows stay readable.
pub fn retention_floor(now_ns: i64, retention_ns: i64) -> i64 {
    let m = crate::core::window::MINUTE;
    let t = now_ns
        .saturating_sub(retention_ns)
        .saturating_add(RETENTION_MARGIN_NS);
    t.saturating_add(m - 1).div_euclid(m).saturating_mul(m)
}

/// Makes the plan. See the module docs.
pub fn plan(
    catalog: &Catalog,
    rules: &Rules<'_>,
    coverage: &Coverage,
    now_ns: i64,
) -> Result<Plan, PlanError> {
    let mut plan = Plan {
        now_ns,
        closed_before_ns: settle_line(rules.window, now_ns),
        untagged: catalog.untagged.clone(),
        ..Plan::default()
    };
    plan.cuts_ns = cut_points(plan.closed_before_ns, rules.late_horizon_ns);
    (plan.grants, plan.grants_note) = grants(catalog, rules);
    let conflict = catalog
        .fields
        .values()
        .any(|fields| fields.values().any(|types| types.len() > 1));
    let targets = TargetRules {
        source_policy: catalog.source_policy.as_ref(),
        max_shard_group_ns: catalog
            .source_policy
            .as_ref()
            .filter(|_| conflict)
            .map(|p| p.shard_group_ns),
        ..rules.targets
    };
    let mut owners: BTreeMap<String, String> = BTreeMap::new();
    for t in &catalog.tenants {
        let target = target_plan(&targets, &catalog.database, &catalog.targets, &t.id);
        check_target(&target, &catalog.database, &mut owners)?;
        let (counts, chunks) = plan_tenant(catalog, t, &target, rules, coverage, &plan);
        plan.tenants.insert(t.id.clone(), counts);
        plan.chunks.extend(chunks);
        plan.targets.push(target);
    }
    sort_newest_first(&mut plan.chunks);
    Ok(plan)
}

/// The privileges granted on every target, or why there are none to grant.
fn grants(catalog: &Catalog, rules: &Rules<'_>) -> (Vec<UserGrant>, Option<String>) {
    match (&catalog.grants, rules.grant_privileges) {
        (_, false) => (
            Vec::new(),
            Some("not granted (tenants.grant_privileges = false)".into()),
        ),
        (None, true) => (
            Vec::new(),
            Some(
                "users and their grants could not be listed (needs admin rights): none granted"
                    .into(),
            ),
        ),
        (Some(g), true) => (g.clone(), None),
    }
}

/// Newest first, across tenants: every tenant's newest window, then every tenant's
/// next newest, and so on, so that once monasca-api reads the tenant databases each
/// tenant's recent history (what dashboards ask for) is there early in a long first
/// run, whatever its latest point. Exactness does not depend on the order (the ledger
/// records each chunk), and neither does retention: the executor clamps each chunk to
/// the horizon when it starts.
pub fn sort_newest_first(chunks: &mut [Chunk]) {
    let mut starts: BTreeMap<&str, BTreeSet<i64>> = BTreeMap::new();
    for c in chunks.iter() {
        starts.entry(&c.tenant).or_default().insert(c.window.start);
    }
    // 0 for the tenant's newest start, 1 for the next, ...
    let rank: Vec<usize> = chunks
        .iter()
        .map(|c| {
            starts[c.tenant.as_str()]
                .range(c.window.start + 1..)
                .count()
        })
        .collect();
    // Positions are sorted, not keys cloned per chunk: at thousands of tenants the
    // cloned tenants and measurement lists were a large part of planning's memory.
    let key = |i: usize| (rank[i], &chunks[i].tenant, &chunks[i].measurements);
    let mut order: Vec<usize> = (0..chunks.len()).collect();
    order.sort_by(|&a, &b| key(a).cmp(&key(b)));
    // dest[i]: where the chunk now at i goes.
    let mut dest = vec![0; chunks.len()];
    for (to, &from) in order.iter().enumerate() {
        dest[from] = to;
    }
    for i in 0..chunks.len() {
        while dest[i] != i {
            let j = dest[i];
            chunks.swap(i, j);
            dest.swap(i, j);
        }
    }
}

/// Refuses a target InfluxDB would refuse, the source itself, or one that another
/// tenant (recorded in `owners`) already writes to.
pub fn check_target(
    target: &TargetPlan,
    source_db: &str,
    owners: &mut BTreeMap<String, String>,
) -> Result<(), PlanError> {
    if target.database == source_db {
        return Err(PlanError::TargetIsSource {
            tenant: target.tenant.clone(),
            target: target.database.clone(),
        });
    }
    if target.database.len() > MAX_NAME_BYTES || matches!(target.database.as_str(), "" | "." | "..")
    {
        return Err(PlanError::InvalidTarget {
            tenant: target.tenant.clone(),
            reason: format!("names must be 1 to {MAX_NAME_BYTES} bytes and not . or .."),
            target: target.database.clone(),
        });
    }
    match owners.insert(target.database.clone(), target.tenant.clone()) {
        Some(first) if first != target.tenant => Err(PlanError::TargetCollision {
            target: target.database.clone(),
            first,
            second: target.tenant.clone(),
        }),
        _ => Ok(()),
    }
}

/// One tenant's chunks and counts.
fn plan_tenant(
    catalog: &Catalog,
    t: &TenantData,
    target: &TargetPlan,
    rules: &Rules<'_>,
    coverage: &Coverage,
    plan: &Plan,
) -> (TenantPlan, Vec<Chunk>) {
    let w = rules.window;
    let scope = scope(catalog, target);
    // A tenant whose chunks had to be split starts at the size that worked.
    let unit = coverage
        .remembered_unit(&scope)
        .map_or(w.unit, |u| u.min(w.unit));
    let floor = target.retention_ns.map(|r| retention_floor(plan.now_ns, r));
    let lower = [w.from, floor].into_iter().flatten().max();
    let bounds = Interval::new(lower.unwrap_or(i64::MIN), w.to.unwrap_or(i64::MAX));
    let gaps = Gaps::find(catalog, t, unit, bounds, coverage, &scope);

    let mut tp = TenantPlan {
        covered_windows: gaps.covered_windows,
        ..TenantPlan::default()
    };
    let mut chunks = Vec::new();
    // Consecutive windows mostly miss the same measurements: their chunks share the
    // batches' lists.
    let mut shared: Option<(Vec<String>, Vec<Measurements>)> = None;
    let cuts = &plan.cuts_ns;
    let pieces = gaps
        .pieces
        .into_iter()
        .flat_map(|(piece, ms)| cut(piece, cuts).into_iter().map(move |p| (p, ms.clone())));
    for (piece, mut ms) in pieces {
        // An open piece after a measurement's newest point (as discovery saw it) holds
        // nothing of it: not copied. Open pieces are never recorded, so a point that
        // arrives later is copied by the next run (a tenant that stopped reporting
        // costs its rerun nothing).
        if piece.end > plan.closed_before_ns {
            ms.retain(|m| t.measurements.get(m).is_none_or(|e| e.end > piece.start));
            if ms.is_empty() {
                continue;
            }
        }
        let max = rules.max_measurements_per_query;
        let keys = &catalog.tenant_keys;
        let lists = match &shared {
            Some((seen, lists)) if *seen == ms => lists.clone(),
            _ => {
                let lists: Vec<Measurements> =
                    batches(&ms, &catalog.fields, &catalog.tag_keys, keys, max)
                        .into_iter()
                        .map(Measurements::from)
                        .collect();
                shared = Some((ms, lists.clone()));
                lists
            }
        };
        for batch in lists {
            let closed = piece.end <= plan.closed_before_ns;
            tp.count(piece, closed);
            chunks.push(Chunk {
                tenant: t.id.clone(),
                target: target.database.clone(),
                target_rp: target.retention_policy.clone(),
                measurements: batch,
                window: piece,
                unit,
                closed,
                retention_ns: target.retention_ns,
            });
        }
    }
    (tp, chunks)
}

/// What the ledger does not cover yet of one tenant's aligned windows.
struct Gaps {
    /// Uncovered piece of a window -> the measurements with that piece uncovered.
    pieces: BTreeMap<Interval, Vec<String>>,
    /// Windows the ledger covers for every measurement.
    covered_windows: u64,
}

impl Gaps {
    /// The gaps of `t`'s windows of `unit` inside `bounds` and the source's shard
    /// groups.
    fn find(
        catalog: &Catalog,
        t: &TenantData,
        unit: TimeUnit,
        bounds: Interval,
        coverage: &Coverage,
        scope: &Scope,
    ) -> Self {
        let mut pieces: BTreeMap<Interval, Vec<String>> = BTreeMap::new();
        // Window -> whether any measurement has a gap in it.
        let mut windows_seen: BTreeMap<Interval, bool> = BTreeMap::new();
        for (m, extent) in &t.measurements {
            let aligned = Interval::new(
                unit.align_down(extent.start),
                unit.align_down(extent.end.saturating_sub(1))
                    .saturating_add(unit.nanos()),
            );
            for win in unit.windows(aligned) {
                let Some(win) = win.intersect(&bounds) else {
                    continue;
                };
                if let Some(groups) = &catalog.shard_groups {
                    if !groups.iter().any(|g| g.overlaps(&win)) {
                        continue;
                    }
                }
                let gaps = coverage.get(scope, m).gaps(win);
                *windows_seen.entry(win).or_insert(false) |= !gaps.is_empty();
                for g in gaps {
                    pieces.entry(g).or_default().push(m.clone());
                }
            }
        }
        let covered_windows = windows_seen.values().filter(|gap| !**gap).count() as u64;
        Gaps {
            pieces,
            covered_windows,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Settings;
    use crate::core::field::FieldType;
    use crate::core::window::{DAY, HOUR, MINUTE, WEEK};
    use crate::ledger::{Record, RecordKind};
    use crate::plan::catalog::{RetentionPolicy, TenantData};
    use crate::plan::target::{encode_tenant, target_database};
    use std::time::Duration;

    const MON: i64 = 1_704_067_200_000_000_000; // 2024-01-01T00:00:00Z, a Monday

    /// The planner with the rules of `settings`, its chunks read back oldest first (the
    /// tests below are about which windows are planned; the run order, newest first, is
    /// `newest_windows_of_every_tenant_first`'s).
    fn plan(c: &Catalog, s: &Settings, cov: &Coverage, now: i64) -> Result<Plan, PlanError> {
        let mut p = super::plan(c, &Rules::from_settings(s), cov, now)?;
        p.chunks.sort_by(|a, b| {
            (a.window.start, &a.tenant, &a.measurements).cmp(&(
                b.window.start,
                &b.tenant,
                &b.measurements,
            ))
        });
        Ok(p)
    }

    /// The target plan of `tenant` under the rules of `settings`.
    fn target(c: &Catalog, s: &Settings, tenant: &str) -> TargetPlan {
        let rules = Rules::from_settings(s);
        target_plan(&rules.targets, &c.database, &c.targets, tenant)
    }

    fn settings(f: impl FnOnce(&mut Settings)) -> Settings {
        let mut s = crate::config::load_with_env(None, vec![], Some(Default::default())).unwrap();
        f(&mut s);
        s
    }

    /// (tenant, [(measurement, first, end)])
    type Spec<'a> = (&'a str, &'a [(&'a str, i64, i64)]);

    fn catalog(tenants: &[Spec<'_>]) -> Catalog {
        let mut c = Catalog {
            source_url: "http://src".into(),
            database: "monasca".into(),
            source_rp: "autogen".into(),
            ..Catalog::default()
        };
        for (id, ms) in tenants {
            let mut measurements = BTreeMap::new();
            for (m, a, b) in *ms {
                measurements.insert(m.to_string(), Interval::new(*a, *b));
                c.fields
                    .entry(m.to_string())
                    .or_default()
                    .entry("value".into())
                    .or_default()
                    .insert(FieldType("float".into()));
            }
            c.tenants.push(TenantData {
                id: id.to_string(),
                measurements,
            });
        }
        c
    }

    fn record(scope: Scope, ms: &[&str], w: Interval) -> Record {
        Record {
            kind: RecordKind::Copied,
            scope,
            measurements: ms.iter().map(|s| s.to_string()).collect(),
            start: w.start,
            end: w.end,
            unit: TimeUnit::Week,
            split: false,
            points: 1,
            at: String::new(),
        }
    }

    /// Chunks run newest first across tenants: every tenant's newest window (a
    /// tenant whose data stopped weeks ago included) before anyone's second newest.
    #[test]
    fn newest_windows_of_every_tenant_first() {
        let c = catalog(&[
            ("a", &[("cpu", MON, MON + 3 * WEEK)]),
            ("old", &[("cpu", MON, MON + WEEK)]),
        ]);
        // No late horizon: its cut would split a's newest week in two.
        let s = settings(|s| s.run.late_horizon = Duration::ZERO);
        let rules = Rules::from_settings(&s);
        let p = super::plan(&c, &rules, &Coverage::default(), MON + 3 * WEEK + DAY).unwrap();
        let order: Vec<(&str, i64)> = p
            .chunks
            .iter()
            .map(|c| (c.tenant.as_str(), (c.window.start - MON) / WEEK))
            .collect();
        assert_eq!(order, vec![("a", 2), ("old", 0), ("a", 1), ("a", 0)]);
    }

    /// Three weeks of data give aligned week chunks with all measurements in one query
    /// each; the week containing now is cut at the last hour boundary at or below the
    /// settle line (now - 15m): only the part after it is open.
    #[test]
    fn weeks_aligned_and_batched_only_the_margin_open() {
        let c = catalog(&[(
            "a",
            &[
                ("cpu", MON + HOUR, MON + 2 * WEEK + 2 * DAY - MINUTE),
                ("mem", MON, MON + 2 * WEEK + 2 * DAY - 5),
            ],
        )]);
        let s = settings(|s| s.run.late_horizon = Duration::ZERO);
        let p = plan(&c, &s, &Coverage::default(), MON + 2 * WEEK + 2 * DAY).unwrap();
        let ws: Vec<_> = p
            .chunks
            .iter()
            .map(|c| (c.window, c.closed, c.measurements.len()))
            .collect();
        let cut = MON + 2 * WEEK + 2 * DAY - HOUR;
        assert_eq!(
            ws,
            vec![
                (Interval::new(MON, MON + WEEK), true, 2),
                (Interval::new(MON + WEEK, MON + 2 * WEEK), true, 2),
                (Interval::new(MON + 2 * WEEK, cut), true, 2),
                (Interval::new(cut, MON + 3 * WEEK), false, 2),
            ]
        );
        assert!(p.chunks.iter().all(|c| c.unit == TimeUnit::Week));
        assert_eq!(p.targets[0].database, "monasca_a");
        assert!(p.targets[0].create_database);
    }

    /// Closed pieces are also cut at the hour at or below the start of the late horizon,
    /// so the late check of later runs recounts that piece, not the whole week.
    #[test]
    fn closed_pieces_cut_where_the_late_horizon_begins() {
        let c = catalog(&[("a", &[("cpu", MON, MON + WEEK)])]);
        let s = settings(|_| {}); // late_horizon 2d, settle 15m
        let now = MON + 4 * DAY + 30 * MINUTE;
        let p = plan(&c, &s, &Coverage::default(), now).unwrap();
        let ws: Vec<_> = p.chunks.iter().map(|c| (c.window, c.closed)).collect();
        assert_eq!(
            ws,
            vec![
                (Interval::new(MON, MON + 2 * DAY), true),
                (Interval::new(MON + 2 * DAY, MON + 4 * DAY), true),
                (Interval::new(MON + 4 * DAY, MON + WEEK), false),
            ]
        );
    }

    /// A rerun in the same hour plans only the open margin; an hour later it plans the
    /// hour that closed since (recorded) and the new margin, nothing else.
    #[test]
    fn rerun_plans_the_margin_and_what_closed_since() {
        let c = catalog(&[("a", &[("cpu", MON, MON + WEEK)])]);
        let s = settings(|s| s.run.late_horizon = Duration::ZERO);
        let now = MON + 3 * DAY + 40 * MINUTE;
        let first = plan(&c, &s, &Coverage::default(), now).unwrap();
        let sc = scope(&c, &target(&c, &s, "a"));
        let recorded: Vec<Record> = first
            .chunks
            .iter()
            .filter(|c| c.closed)
            .map(|c| record(sc.clone(), &["cpu"], c.window))
            .collect();
        let cov = Coverage::from_records(&recorded);
        let again = plan(&c, &s, &cov, now + 10 * MINUTE).unwrap();
        let ws: Vec<_> = again.chunks.iter().map(|c| (c.window, c.closed)).collect();
        assert_eq!(ws, vec![(Interval::new(MON + 3 * DAY, MON + WEEK), false)]);
        let later = plan(&c, &s, &cov, now + HOUR).unwrap();
        let ws: Vec<_> = later.chunks.iter().map(|c| (c.window, c.closed)).collect();
        assert_eq!(
            ws,
            vec![
                (Interval::new(MON + 3 * DAY, MON + 3 * DAY + HOUR), true),
                (Interval::new(MON + 3 * DAY + HOUR, MON + WEEK), false),
            ]
        );
    }

    /// An open margin after a measurement's newest point is not planned (nothing to
    /// copy there; never recorded, so the next run copies what arrives), while the
    /// measurements with points in it are. An extent ending where the margin starts
    /// (its newest point 1 ns before: what a rerun's bounded discovery reports for a
    /// measurement with nothing new) has nothing in it either.
    #[test]
    fn open_margin_after_the_newest_point_skipped() {
        let now = MON + 3 * DAY + 40 * MINUTE;
        let c = catalog(&[(
            "a",
            &[
                ("cpu", MON, now - MINUTE),
                ("disk", MON, MON + 3 * DAY),
                ("mem", MON, MON + 3 * DAY - 5 * HOUR),
            ],
        )]);
        let s = settings(|s| s.run.late_horizon = Duration::ZERO);
        let p = plan(&c, &s, &Coverage::default(), now).unwrap();
        let open: Vec<_> = p.chunks.iter().filter(|c| !c.closed).collect();
        assert_eq!(open.len(), 1, "{open:?}");
        assert_eq!(&open[0].measurements[..], ["cpu".to_string()]);
        assert_eq!(open[0].window.start, MON + 3 * DAY);
        assert!(p
            .chunks
            .iter()
            .filter(|c| c.closed)
            .all(|c| c.measurements.len() == 3));
    }

    /// A final run (`window.final`) has no settle line: every window up to the newest
    /// point is closed, whole, and recorded; the planned chunks are the weeks.
    #[test]
    fn final_run_closes_everything() {
        let c = catalog(&[("a", &[("cpu", MON, MON + WEEK + DAY)])]);
        let s = settings(|s| s.window.final_run = true);
        let now = MON + WEEK + DAY + 5 * MINUTE;
        let p = plan(&c, &s, &Coverage::default(), now).unwrap();
        assert_eq!(p.closed_before_ns, i64::MAX);
        let ws: Vec<_> = p.chunks.iter().map(|c| (c.window, c.closed)).collect();
        assert_eq!(
            ws,
            vec![
                (Interval::new(MON, MON + WEEK), true),
                (Interval::new(MON + WEEK, MON + 2 * WEEK), true),
            ]
        );
    }

    /// Time covered in the ledger is not planned again, whatever unit covered it; the
    /// uncovered rest of a partly covered window is one chunk.
    #[test]
    fn ledger_coverage_subtracted_across_units() {
        let c = catalog(&[("a", &[("cpu", MON, MON + 2 * WEEK)])]);
        let s = settings(|s| s.window.unit = TimeUnit::Hour);
        let t = target(&c, &s, "a");
        let sc = scope(&c, &t);
        let cov = Coverage::from_records(&[record(
            sc,
            &["cpu"],
            Interval::new(MON, MON + WEEK + 3 * HOUR),
        )]);
        let now = MON + 10 * WEEK;
        let p = plan(&c, &s, &cov, now).unwrap();
        assert_eq!(
            p.chunks.first().unwrap().window.start,
            MON + WEEK + 3 * HOUR
        );
        assert!(p
            .chunks
            .iter()
            .all(|c| c.window.start >= MON + WEEK + 3 * HOUR));
        assert_eq!(p.chunks.len() as i64, (WEEK - 3 * HOUR) / HOUR);
        assert_eq!(
            p.tenants["a"].covered_windows as i64,
            (WEEK + 3 * HOUR) / HOUR
        );

        // A week run after that: the partly covered week becomes its uncovered rest.
        let s = settings(|_| {});
        let p = plan(&c, &s, &cov, now).unwrap();
        assert_eq!(p.chunks.len(), 1);
        assert_eq!(
            p.chunks[0].window,
            Interval::new(MON + WEEK + 3 * HOUR, MON + 2 * WEEK)
        );
    }

    /// A tenant whose chunks were split is planned at the unit that worked; others
    /// keep the configured one.
    #[test]
    fn remembered_unit_is_used() {
        let c = catalog(&[
            ("a", &[("cpu", MON, MON + 2 * WEEK)]),
            ("b", &[("cpu", MON, MON + 2 * WEEK)]),
        ]);
        let s = settings(|_| {});
        let mut r = record(
            scope(&c, &target(&c, &s, "a")),
            &["cpu"],
            Interval::new(MON, MON + DAY),
        );
        r.split = true;
        r.unit = TimeUnit::Day;
        let p = plan(&c, &s, &Coverage::from_records(&[r]), MON + 10 * WEEK).unwrap();
        let a: Vec<_> = p.chunks.iter().filter(|c| c.tenant == "a").collect();
        assert!(a.iter().all(|c| c.unit == TimeUnit::Day));
        assert_eq!(a.len(), 13);
        assert!(p
            .chunks
            .iter()
            .filter(|c| c.tenant == "b")
            .all(|c| c.unit == TimeUnit::Week));
    }

    /// A covered week is not planned again; of the current week, the part before the
    /// settle line is closed and the margin after it open.
    #[test]
    fn covered_week_skipped_current_week_cut() {
        let c = catalog(&[("a", &[("cpu", MON, MON + 2 * WEEK - 1)])]);
        let s = settings(|_| {});
        let sc = scope(&c, &target(&c, &s, "a"));
        let cov = Coverage::from_records(&[record(sc, &["cpu"], Interval::new(MON, MON + WEEK))]);
        let p = plan(&c, &s, &cov, MON + WEEK + DAY).unwrap();
        let ws: Vec<_> = p.chunks.iter().map(|c| (c.window, c.closed)).collect();
        let cut = MON + WEEK + DAY - HOUR;
        assert_eq!(
            ws,
            vec![
                (Interval::new(MON + WEEK, cut), true),
                (Interval::new(cut, MON + 2 * WEEK), false)
            ]
        );
        assert_eq!(p.covered_windows(), 1);
    }

    /// Windows with no shard group in the source are not planned.
    #[test]
    fn shard_groups_bound_history() {
        let mut c = catalog(&[("a", &[("cpu", MON, MON + 4 * WEEK)])]);
        c.shard_groups = Some(vec![
            Interval::new(MON, MON + WEEK),
            Interval::new(MON + 3 * WEEK, MON + 4 * WEEK),
        ]);
        let p = plan(&c, &settings(|_| {}), &Coverage::default(), MON + 10 * WEEK).unwrap();
        let starts: Vec<_> = p.chunks.iter().map(|c| c.window.start).collect();
        assert_eq!(starts, vec![MON, MON + 3 * WEEK]);
    }

    /// A tenant with retention gets a default policy named after the duration and only
    /// history inside it (with the safety margin).
    #[test]
    fn retention_clamps_history() {
        let c = catalog(&[("a", &[("cpu", MON, MON + 6 * WEEK)])]);
        let s = settings(|s| {
            s.retention
                .tenants
                .insert("a".into(), Duration::from_secs(14 * 86400));
        });
        let now = MON + 6 * WEEK;
        let p = plan(&c, &s, &Coverage::default(), now).unwrap();
        let t = &p.targets[0];
        assert_eq!(t.retention_policy, "2w");
        assert_eq!(t.create_retention_policy.as_deref(), Some("2w"));
        let floor = retention_floor(now, 2 * WEEK);
        assert_eq!(
            floor,
            now - 2 * WEEK + RETENTION_MARGIN_NS,
            "already whole minutes"
        );
        assert_eq!(
            retention_floor(now + 1, 2 * WEEK),
            floor + crate::core::window::MINUTE
        );
        assert_eq!(p.chunks[0].window.start, floor);
        assert!(p.chunks.iter().all(|c| c.window.start >= floor));
    }

    /// A policy name given by the settings (`policy_names = "as-written"`, what the old
    /// Monasca tool does) names the policy; its duration literal stays canonical.
    #[test]
    fn retention_policy_name_as_written() {
        let c = catalog(&[("a", &[("cpu", MON, MON + 6 * WEEK)])]);
        let s = settings(|s| {
            s.retention
                .tenants
                .insert("a".into(), Duration::from_secs(14 * 86400));
            s.retention.names.insert("a".into(), "14d".into());
        });
        let p = plan(&c, &s, &Coverage::default(), MON + 6 * WEEK).unwrap();
        let t = &p.targets[0];
        assert_eq!(t.retention_policy, "14d");
        assert_eq!(t.create_retention_policy.as_deref(), Some("2w"));
        assert!(p.chunks.iter().all(|c| c.target_rp == "14d"));
    }

    /// An existing policy of that name is used as it is, with its own duration.
    #[test]
    fn existing_policy_not_altered() {
        let mut c = catalog(&[("a", &[("cpu", MON, MON + 6 * WEEK)])]);
        c.targets.insert(
            "monasca_a".into(),
            vec![RetentionPolicy {
                name: "2w".into(),
                duration_ns: 3 * WEEK,
                default: true,
                shard_group_ns: 0,
            }],
        );
        let s = settings(|s| s.retention.default = Some(Duration::from_secs(14 * 86400)));
        let p = plan(&c, &s, &Coverage::default(), MON + 6 * WEEK).unwrap();
        assert_eq!(p.targets[0].create_retention_policy, None);
        assert!(!p.targets[0].create_database);
        assert_eq!(p.targets[0].retention_ns, Some(3 * WEEK));
    }

    /// Tenant ids with '/' and '\' are percent-encoded; two tenants landing in one
    /// database, or a tenant landing in the source, stop the plan.
    #[test]
    fn target_names_and_collisions() {
        assert_eq!(
            target_database("{database}_{tenant}", "monasca", r"a/b\c"),
            "monasca_a%2Fb%5Cc"
        );
        assert_eq!(target_database("x{y}_{tenant}", "db", "t"), "x{y}_t");
        assert_eq!(
            encode_tenant("a\tb\u{200B} c\u{A0}ü"),
            "a%09b%E2%80%8B c%C2%A0ü"
        );
        assert_eq!(encode_tenant("x' OR '1'='1"), "x' OR '1'='1");
        let long = catalog(&[(&"/".repeat(90), &[("cpu", MON, MON + 1)])]);
        let err = plan(&long, &settings(|_| {}), &Coverage::default(), MON).unwrap_err();
        assert!(matches!(err, PlanError::InvalidTarget { .. }), "{err}");
        let c = catalog(&[
            ("a/b", &[("cpu", MON, MON + 1)]),
            ("a%2Fb", &[("cpu", MON, MON + 1)]),
        ]);
        let err = plan(&c, &settings(|_| {}), &Coverage::default(), MON).unwrap_err();
        assert!(matches!(err, PlanError::TargetCollision { .. }), "{err}");
        assert!(err.to_string().contains("a/b") && err.to_string().contains("a%2Fb"));

        let c = catalog(&[("x", &[("cpu", MON, MON + 1)])]);
        let s = settings(|s| s.tenants.target_template = "{database}{tenant}".into());
        let mut c2 = c.clone();
        c2.database = "monascax".into();
        c2.tenants[0].id = String::new();
        assert!(matches!(
            plan(&c2, &s, &Coverage::default(), MON),
            Err(PlanError::TargetIsSource { .. })
        ));
    }

    /// --from and --to clip the windows; nothing outside them is planned.
    #[test]
    fn from_to_bounds() {
        let c = catalog(&[("a", &[("cpu", MON, MON + 4 * WEEK)])]);
        let s = settings(|s| {
            s.window.from = Some(MON + WEEK + DAY);
            s.window.to = Some(MON + 2 * WEEK + DAY);
        });
        let p = plan(&c, &s, &Coverage::default(), MON + 10 * WEEK).unwrap();
        let ws: Vec<_> = p.chunks.iter().map(|c| c.window).collect();
        assert_eq!(
            ws,
            vec![
                Interval::new(MON + WEEK + DAY, MON + 2 * WEEK),
                Interval::new(MON + 2 * WEEK, MON + 2 * WEEK + DAY)
            ]
        );
    }
}
