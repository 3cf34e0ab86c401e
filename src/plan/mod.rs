//! The planner. Pure: `(Catalog, Settings, Coverage, now) -> Plan` or a typed error.
//!
//! It cuts each tenant's history into aligned windows, drops what lies outside the data
//! (shard groups, first and last points, `--from`/`--to`, retention) and what the
//! ledger covers, and groups the measurements left in each window into as few
//! type-safe `SELECT INTO` queries as it can.

pub mod catalog;

use crate::config::Settings;
use crate::core::field::FieldType;
use crate::core::interval::Interval;
use crate::core::window::{influx_duration, TimeUnit};
use crate::ledger::{Coverage, Scope};
use crate::plan::catalog::Catalog;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// How far inside a retention policy's horizon copying starts. InfluxDB drops points
/// older than `now - duration` at write time, and `now` moves while a run goes on; a
/// margin keeps the oldest chunk clear of that edge (the copier also re-clamps each
/// chunk when it starts).
pub const RETENTION_MARGIN_NS: i64 = 10 * crate::core::window::MINUTE;

/// What the plan does with one tenant's target database.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TargetPlan {
    /// Tenant id.
    pub tenant: String,
    /// Target database name.
    pub database: String,
    /// The database does not exist yet and will be created.
    pub create_database: bool,
    /// Retention policy the copies are written into.
    pub retention_policy: String,
    /// Duration literal of a default retention policy to create, when it does not
    /// exist yet (an existing one is never altered).
    pub create_retention_policy: Option<String>,
    /// Effective retention of the policy written into (ns), if finite.
    pub retention_ns: Option<i64>,
}

/// One unit of work: one `SELECT INTO` query.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Chunk {
    /// Tenant id.
    pub tenant: String,
    /// Target database.
    pub target: String,
    /// Target retention policy.
    pub target_rp: String,
    /// Measurements copied together.
    pub measurements: Vec<String>,
    /// `[start, end)` in ns.
    pub window: Interval,
    /// Window size it was cut with.
    pub unit: TimeUnit,
    /// Closed chunks (ending before `now - settle`) are recorded in the ledger.
    pub closed: bool,
    /// Retention of the target policy (ns), used to clamp the start when it runs.
    pub retention_ns: Option<i64>,
}

/// Per-tenant counts in a plan.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TenantPlan {
    /// Closed chunks to copy and record.
    pub closed_chunks: u64,
    /// Open chunks to copy (recent history; never recorded).
    pub open_chunks: u64,
    /// Windows the ledger already covers for every measurement: skipped.
    pub covered_windows: u64,
    /// Earliest and latest nanosecond to copy, when anything is to be copied.
    pub range: Option<Interval>,
}

/// The planner's output.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Plan {
    /// The `now` the plan was made at (ns).
    pub now_ns: i64,
    /// Chunks ending at or before this (ns) are closed.
    pub closed_before_ns: i64,
    /// Target databases and policies, one per tenant.
    pub targets: Vec<TargetPlan>,
    /// Chunks to copy, oldest first.
    pub chunks: Vec<Chunk>,
    /// Per-tenant counts.
    pub tenants: BTreeMap<String, TenantPlan>,
}

impl Plan {
    /// Chunks that will be recorded when copied.
    pub fn closed_chunks(&self) -> usize {
        self.chunks.iter().filter(|c| c.closed).count()
    }
    /// Windows skipped because the ledger covers them.
    pub fn covered_windows(&self) -> u64 {
        self.tenants.values().map(|t| t.covered_windows).sum()
    }
}

/// Why no plan can be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// Two tenants would write into one database.
    #[error("tenants {first:?} and {second:?} both map to target database {target:?}; change tenants.target_template or exclude one")]
    TargetCollision {
        /// Target database.
        target: String,
        /// One tenant.
        first: String,
        /// The other tenant.
        second: String,
    },
    /// InfluxDB would refuse the target name.
    #[error(
        "tenant {tenant:?} maps to target database {target:?}, which InfluxDB refuses: {reason}"
    )]
    InvalidTarget {
        /// Tenant id.
        tenant: String,
        /// The target name.
        target: String,
        /// Why it is refused.
        reason: String,
    },
    /// A tenant's target is the source database, which is never written to.
    #[error("tenant {tenant:?} maps to the source database {target:?}, which is never written to; change tenants.target_template")]
    TargetIsSource {
        /// Tenant id.
        tenant: String,
        /// The source database name.
        target: String,
    },
}

/// InfluxDB's limit on database names, in bytes.
pub const MAX_NAME_BYTES: usize = 255;

/// Whether InfluxDB 1.x refuses `c` in a database name: `/`, `\\`, and what Go's
/// `unicode.IsPrint` rejects (controls, whitespace other than the ASCII space,
/// invisible format characters, private use), as far as std can tell them apart.
fn refused_in_name(c: char) -> bool {
    matches!(c, '/' | '\\')
        || c.is_control()
        || (c.is_whitespace() && c != ' ')
        || matches!(c as u32,
            0xAD | 0x600..=0x605 | 0x61C | 0x6DD | 0x70F | 0x180E | 0x200B..=0x200F
            | 0x202A..=0x202E | 0x2060..=0x2064 | 0x2066..=0x206F | 0xFEFF | 0xFFF9..=0xFFFB
            | 0xE000..=0xF8FF | 0xF0000..=0x10FFFF)
}

/// Percent-encodes (UTF-8 bytes, `%2F`) the characters InfluxDB refuses in a database
/// name; everything else is kept as it is.
pub fn encode_tenant(tenant: &str) -> String {
    let mut out = String::with_capacity(tenant.len());
    for c in tenant.chars() {
        if refused_in_name(c) {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("%{b:02X}"));
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The target database name for a tenant: the template with `{database}` and
/// `{tenant}` filled in, the tenant id passed through [`encode_tenant`].
pub fn target_database(template: &str, database: &str, tenant: &str) -> String {
    let tenant = encode_tenant(tenant);
    let mut out = String::with_capacity(template.len() + database.len() + tenant.len());
    let mut rest = template;
    while let Some(i) = rest.find('{') {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        if let Some(r) = tail.strip_prefix("{database}") {
            out.push_str(database);
            rest = r;
        } else if let Some(r) = tail.strip_prefix("{tenant}") {
            out.push_str(&tenant);
            rest = r;
        } else {
            out.push('{');
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
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

/// What a tenant's target database needs: its name, whether it and its retention
/// policy must be created (from `catalog.targets`), and the retention written into.
pub fn target_plan(catalog: &Catalog, settings: &Settings, tenant: &str) -> TargetPlan {
    let database = target_database(&settings.tenants.target_template, &catalog.database, tenant);
    let existing = catalog.targets.get(&database);
    let finite = |ns: i64| (ns > 0).then_some(ns);
    match settings.retention.for_tenant(tenant) {
        Some(d) => {
            let name = settings
                .retention
                .policy_name(tenant)
                .unwrap_or_else(|| influx_duration(d));
            match existing.and_then(|rps| rps.iter().find(|p| p.name == name)) {
                Some(p) => TargetPlan {
                    tenant: tenant.to_string(),
                    database,
                    create_database: false,
                    retention_policy: name,
                    create_retention_policy: None,
                    retention_ns: finite(p.duration_ns),
                },
                None => TargetPlan {
                    tenant: tenant.to_string(),
                    create_database: existing.is_none(),
                    database,
                    create_retention_policy: Some(influx_duration(d)),
                    retention_policy: name,
                    retention_ns: Some(i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)),
                },
            }
        }
        None => {
            let default = existing.and_then(|rps| rps.iter().find(|p| p.default));
            TargetPlan {
                tenant: tenant.to_string(),
                create_database: existing.is_none(),
                database,
                retention_policy: default.map_or_else(|| "autogen".to_string(), |p| p.name.clone()),
                create_retention_policy: None,
                retention_ns: default.and_then(|p| finite(p.duration_ns)),
            }
        }
    }
}

/// Fields and tags of one measurement, for batching.
struct Schema<'a> {
    fields: Option<&'a BTreeMap<String, BTreeSet<FieldType>>>,
    tags: Option<&'a BTreeSet<String>>,
}

#[derive(Default)]
struct Batch {
    measurements: Vec<String>,
    fields: BTreeMap<String, FieldType>,
    tags: BTreeSet<String>,
    sealed: bool,
}

impl Batch {
    /// A measurement fits when every field name it shares with the batch has the same
    /// single type (InfluxDB issue 9887: a multi-source SELECT INTO writes an integer
    /// field as float when another source has a float of that name) and no name is a
    /// tag on one side and a field on the other (`SELECT *` would read the tag as a
    /// field).
    fn fits(&self, s: &Schema<'_>, max: usize) -> bool {
        if self.sealed || self.measurements.len() >= max {
            return false;
        }
        let fields = s.fields.into_iter().flatten();
        for (name, types) in fields {
            let mut it = types.iter();
            let (Some(ty), None) = (it.next(), it.next()) else {
                return false;
            };
            if self.fields.get(name).is_some_and(|t| t != ty) || self.tags.contains(name) {
                return false;
            }
        }
        let tags = s.tags.into_iter().flatten();
        for t in tags {
            if self.fields.contains_key(t) {
                return false;
            }
        }
        true
    }

    fn add(&mut self, m: &str, s: &Schema<'_>) {
        self.measurements.push(m.to_string());
        for (name, types) in s.fields.into_iter().flatten() {
            if types.len() == 1 {
                self.fields.insert(
                    name.clone(),
                    types.iter().next().cloned().expect("one type"),
                );
            } else {
                // A field with conflicting types is copied alone.
                self.sealed = true;
            }
        }
        self.tags.extend(s.tags.into_iter().flatten().cloned());
    }
}

/// Groups measurements into type-safe batches of at most `max`.
pub fn batches(measurements: &[String], catalog: &Catalog, max: usize) -> Vec<Vec<String>> {
    let mut out: Vec<Batch> = Vec::new();
    for m in measurements {
        let s = Schema {
            fields: catalog.fields.get(m),
            tags: catalog.tag_keys.get(m),
        };
        match out.iter_mut().find(|b| b.fits(&s, max)) {
            Some(b) => b.add(m, &s),
            None => {
                let mut b = Batch::default();
                b.add(m, &s);
                out.push(b);
            }
        }
    }
    out.into_iter().map(|b| b.measurements).collect()
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
    settings: &Settings,
    coverage: &Coverage,
    now_ns: i64,
) -> Result<Plan, PlanError> {
    let w = &settings.window;
    let settle = i64::try_from(w.settle.as_nanos()).unwrap_or(i64::MAX);
    let closed_before = now_ns.saturating_sub(settle);
    let mut plan = Plan {
        now_ns,
        closed_before_ns: closed_before,
        ..Plan::default()
    };

    let mut owners: BTreeMap<String, String> = BTreeMap::new();
    for t in &catalog.tenants {
        let target = target_plan(catalog, settings, &t.id);
        if target.database == catalog.database {
            return Err(PlanError::TargetIsSource {
                tenant: t.id.clone(),
                target: target.database,
            });
        }
        if target.database.len() > MAX_NAME_BYTES
            || matches!(target.database.as_str(), "" | "." | "..")
        {
            return Err(PlanError::InvalidTarget {
                tenant: t.id.clone(),
                reason: format!("names must be 1 to {MAX_NAME_BYTES} bytes and not . or .."),
                target: target.database,
            });
        }
        if let Some(first) = owners.insert(target.database.clone(), t.id.clone()) {
            return Err(PlanError::TargetCollision {
                target: target.database,
                first,
                second: t.id.clone(),
            });
        }
        let scope = scope(catalog, &target);
        // A tenant whose chunks had to be split starts at the size that worked.
        let unit = coverage
            .remembered_unit(&scope)
            .map_or(w.unit, |u| u.min(w.unit));

        let floor = target.retention_ns.map(|r| retention_floor(now_ns, r));
        let bounds = Interval::new(
            [w.from, floor]
                .into_iter()
                .flatten()
                .max()
                .unwrap_or(i64::MIN),
            w.to.unwrap_or(i64::MAX),
        );

        // Window -> measurements with uncovered time in it, keyed by the uncovered piece.
        let mut pieces: BTreeMap<Interval, Vec<String>> = BTreeMap::new();
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
                let gaps = coverage.get(&scope, m).gaps(win);
                let any_gap = !gaps.is_empty();
                let seen = windows_seen.entry(win).or_insert(false);
                *seen |= any_gap;
                for g in gaps {
                    pieces.entry(g).or_default().push(m.clone());
                }
            }
        }

        let tp = plan.tenants.entry(t.id.clone()).or_default();
        tp.covered_windows = windows_seen.values().filter(|gap| !**gap).count() as u64;
        for (piece, ms) in pieces {
            for batch in batches(&ms, catalog, settings.run.max_measurements_per_query) {
                let closed = piece.end <= closed_before;
                if closed {
                    tp.closed_chunks += 1;
                } else {
                    tp.open_chunks += 1;
                }
                tp.range = Some(match tp.range {
                    Some(r) => Interval::new(r.start.min(piece.start), r.end.max(piece.end)),
                    None => piece,
                });
                plan.chunks.push(Chunk {
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
        plan.targets.push(target);
    }
    // Oldest first: the chunks nearest a retention horizon go before it moves.
    plan.chunks.sort_by(|a, b| {
        (a.window.start, &a.tenant, &a.measurements).cmp(&(
            b.window.start,
            &b.tenant,
            &b.measurements,
        ))
    });
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::window::{DAY, HOUR, WEEK};
    use crate::ledger::{Record, RecordKind};
    use crate::plan::catalog::{RetentionPolicy, TenantData};
    use std::time::Duration;

    const MON: i64 = 1_704_067_200_000_000_000; // 2024-01-01T00:00:00Z, a Monday

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

    /// Three weeks of data give three aligned week chunks with all measurements in one
    /// query each; only the last (containing now) is open.
    #[test]
    fn weeks_aligned_and_batched() {
        let c = catalog(&[(
            "a",
            &[
                ("cpu", MON + HOUR, MON + 2 * WEEK + DAY),
                ("mem", MON, MON + 2 * WEEK + 5),
            ],
        )]);
        let p = plan(
            &c,
            &settings(|_| {}),
            &Coverage::default(),
            MON + 2 * WEEK + 2 * DAY,
        )
        .unwrap();
        let ws: Vec<_> = p
            .chunks
            .iter()
            .map(|c| (c.window, c.closed, c.measurements.len()))
            .collect();
        assert_eq!(
            ws,
            vec![
                (Interval::new(MON, MON + WEEK), true, 2),
                (Interval::new(MON + WEEK, MON + 2 * WEEK), true, 2),
                (Interval::new(MON + 2 * WEEK, MON + 3 * WEEK), false, 2),
            ]
        );
        assert_eq!(p.targets[0].database, "monasca_a");
        assert!(p.targets[0].create_database);
    }

    /// Time covered in the ledger is not planned again, whatever unit covered it; the
    /// uncovered rest of a partly covered window is one chunk.
    #[test]
    fn ledger_coverage_subtracted_across_units() {
        let c = catalog(&[("a", &[("cpu", MON, MON + 2 * WEEK)])]);
        let s = settings(|s| s.window.unit = TimeUnit::Hour);
        let t = target_plan(&c, &s, "a");
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
            scope(&c, &target_plan(&c, &s, "a")),
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

    /// A fully covered history plans nothing closed; the open week is still planned.
    #[test]
    fn fully_covered_plans_only_open() {
        let c = catalog(&[("a", &[("cpu", MON, MON + 2 * WEEK - 1)])]);
        let s = settings(|_| {});
        let sc = scope(&c, &target_plan(&c, &s, "a"));
        let cov = Coverage::from_records(&[record(sc, &["cpu"], Interval::new(MON, MON + WEEK))]);
        let p = plan(&c, &s, &cov, MON + WEEK + DAY).unwrap();
        assert_eq!(p.closed_chunks(), 0);
        assert_eq!(p.chunks.len(), 1);
        assert!(!p.chunks[0].closed);
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

    /// Measurements whose shared field names disagree on type go in separate queries;
    /// a measurement with a field of two types is copied alone; so is one whose field
    /// name is another's tag.
    #[test]
    fn batching_respects_types() {
        let mut c = catalog(&[]);
        let ty = |t: &str| BTreeSet::from([FieldType(t.into())]);
        let mut set = |m: &str, f: &str, t: BTreeSet<FieldType>| {
            c.fields.entry(m.into()).or_default().insert(f.into(), t);
        };
        set("a", "value", ty("float"));
        set("b", "value", ty("integer"));
        set("c", "value", ty("float"));
        set(
            "d",
            "value",
            [FieldType("float".into()), FieldType("integer".into())].into(),
        );
        set("e", "value", ty("float"));
        set("f", "host", ty("string"));
        c.tag_keys
            .insert("e".into(), BTreeSet::from(["host".to_string()]));
        let ms: Vec<String> = ["a", "b", "c", "d", "e", "f"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let got = batches(&ms, &c, 100);
        assert_eq!(got, vec![vec!["a", "c", "e"], vec!["b", "f"], vec!["d"]]);
        assert_eq!(batches(&ms, &c, 1).len(), 6);
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
