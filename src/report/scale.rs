//! What a split costs the target server, for `plan`: the databases and shards the run
//! would create, a warning past what InfluxDB 1.x handles well (its maintainers warn
//! at about 1,000 databases; memory grows with the number of shards), the server's
//! limits and the chunk sizing. Pure.

use crate::core::window::{DAY, HOUR, WEEK};
use crate::plan::Plan;
use crate::source::limits::{self, Concurrency, ServerLimits};
use serde::Serialize;
use std::fmt::Write;

/// Databases past which InfluxDB 1.x is known to struggle.
pub const MANY_DATABASES: usize = 1_000;
/// Shards past which the server's memory (one index and cache per shard) is a concern.
pub const MANY_SHARDS: u64 = 10_000;
/// Files influxd 1.x keeps open per database once it holds points: its series file's
/// partitions `_series/00..07` (measured on 1.6.7: 9 per database with one shard, the
/// ninth being the shard's WAL segment; docs/RUNBOOK.md).
pub const FILES_PER_DATABASE: u64 = 8;
/// Files open per shard: its WAL segment and, once its cache was written out, its TSM
/// file (more while compactions wait).
pub const FILES_PER_SHARD: u64 = 2;
/// More files open per shard with the `tsi1` index: the log file of each of its 8
/// index partitions (`index/0..7/L0-*.tsl`), measured on 1.6.7 and 1.8.10
/// (docs/INFLUXDB-NOTES.md). Counted whenever the index is not known to be `inmem`.
pub const TSI1_FILES_PER_SHARD: u64 = 8;
/// `LimitNOFILE` of Debian's influxdb.service.
pub const DEBIAN_NOFILE: u64 = 65_536;

/// The run's footprint on the target server.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Footprint {
    /// Target databases the plan writes to.
    pub databases: usize,
    /// Of them, databases the run creates.
    pub databases_created: usize,
    /// Shard groups the copied ranges fall into, at the shard durations InfluxDB gives
    /// the target policies.
    pub shards: u64,
    /// The same ranges at 52-week shard groups.
    pub shards_at_52w: u64,
    /// Files the target server keeps open for these databases and shards
    /// ([`FILES_PER_DATABASE`], [`FILES_PER_SHARD`], [`TSI1_FILES_PER_SHARD`]), beside
    /// what it has open already.
    pub open_files: u64,
    /// Whether `open_files` counts tsi1 index files: the server's index is `tsi1` or
    /// unknown.
    pub tsi1: bool,
}

/// The shard-group duration InfluxDB gives a policy of `retention_ns` (`None` or 0:
/// infinite) when none is named: under 2 days 1 h, up to 6 months 1 d, else 7 d.
pub fn default_shard_duration(retention_ns: Option<i64>) -> i64 {
    match retention_ns.filter(|r| *r > 0) {
        Some(r) if r < 2 * DAY => HOUR,
        Some(r) if r <= 26 * WEEK => DAY,
        _ => WEEK,
    }
}

/// Shard groups of `duration` that `[start, end)` touches.
fn groups(start: i64, end: i64, duration: i64) -> u64 {
    if end <= start {
        return 0;
    }
    let first = start.div_euclid(duration);
    let last = (end - 1).div_euclid(duration);
    (last - first + 1) as u64
}

/// The plan's footprint: each target's shard group duration as the plan has it (what
/// the run creates, or what an existing policy has), else `shard_duration` of its
/// retention (InfluxDB's own default).
pub fn footprint(plan: &Plan, shard_duration: fn(Option<i64>) -> i64, tsi1: bool) -> Footprint {
    let mut f = Footprint {
        tsi1,
        ..Footprint::default()
    };
    for t in &plan.targets {
        f.databases += 1;
        f.databases_created += usize::from(t.create_database);
        let Some(r) = plan.tenants.get(&t.tenant).and_then(|tp| tp.range) else {
            continue;
        };
        let d = t
            .shard_group_ns
            .filter(|d| *d > 0)
            .unwrap_or_else(|| shard_duration(t.retention_ns));
        f.shards += groups(r.start, r.end, d);
        f.shards_at_52w += groups(r.start, r.end, 52 * WEEK);
    }
    f.open_files = open_files(f.databases as u64, f.shards, tsi1);
    f
}

/// Files influxd keeps open for `databases` holding `shards` shards in all.
pub fn open_files(databases: u64, shards: u64, tsi1: bool) -> u64 {
    let per_shard = FILES_PER_SHARD + if tsi1 { TSI1_FILES_PER_SHARD } else { 0 };
    databases * FILES_PER_DATABASE + shards * per_shard
}

/// What `plan` shows about scale.
#[derive(Debug, Clone, Serialize)]
pub struct ScaleReport {
    /// Databases and shards.
    pub footprint: Footprint,
    /// The server's limits; `None` without admin rights.
    pub limits: Option<ServerLimits>,
    /// Points one statement aims to copy, when chunks were sized.
    pub target_points: Option<u64>,
    /// Tenants whose chunks were sized from a sampled rate.
    pub sampled_tenants: usize,
    /// Copies run at once.
    pub concurrency: usize,
    /// Why that many.
    pub concurrency_reason: String,
    /// What the server's CPUs would suggest (a quarter of GOMAXPROCS, at least 2).
    pub suggested_concurrency: Option<usize>,
}

impl ScaleReport {
    /// Whether the split goes beyond what InfluxDB 1.x handles well.
    pub fn too_big(&self) -> bool {
        self.footprint.databases > MANY_DATABASES || self.footprint.shards > MANY_SHARDS
    }

    /// Lines for `plan`.
    pub fn render(&self) -> String {
        let mut s = String::new();
        let f = &self.footprint;
        let _ = writeln!(
            s,
            "targets: {} databases ({} to create), about {} shards at the targets' shard durations ({} at 52-week shard groups)",
            f.databases, f.databases_created, f.shards, f.shards_at_52w
        );
        if self.too_big() {
            let _ = writeln!(
                s,
                "  warning: InfluxDB 1.x handles about {MANY_DATABASES} databases and {MANY_SHARDS} shards well; this split makes {} and {}. Use longer shard groups for the targets (52 weeks: {} shards), or migrate the tenants in parts with tenants.include (at most {MANY_DATABASES} per server)",
                f.databases, f.shards, f.shards_at_52w
            );
        }
        let _ = writeln!(
            s,
            "open files: the target server keeps about {} more open for these databases ({FILES_PER_DATABASE} series-file partitions each, {FILES_PER_SHARD} per shard: WAL segment and TSM file{}); influxd out of open files stops accepting connections. Raise its LimitNOFILE (systemd; Debian's unit sets {DEBIAN_NOFILE}) above what it has open now (ls /proc/$(pidof influxd)/fd | wc -l) plus that",
            f.open_files,
            match (f.tsi1, self.limits.as_ref().and_then(|l| l.index.as_deref())) {
                (false, _) => String::new(),
                (true, Some(_)) => format!(", plus {TSI1_FILES_PER_SHARD} for its tsi1 index"),
                (true, None) => format!(", plus {TSI1_FILES_PER_SHARD} for a tsi1 index: the server's index is unknown"),
            }
        );
        match &self.limits {
            Some(l) => s.push_str(&l.render()),
            None => s.push_str("server limits: unknown (SHOW DIAGNOSTICS needs admin rights); chunks keep the default sizes\n"),
        }
        match self.target_points {
            Some(p) => {
                let _ = writeln!(
                    s,
                    "chunk sizes: about {p} points per statement (half of max-select-point when the server has one); {} tenant(s) resized from sampled rates",
                    self.sampled_tenants
                );
            }
            None => s.push_str("chunk sizes: the window size (no rates sampled)\n"),
        }
        let _ = write!(
            s,
            "concurrency: {} ({})",
            self.concurrency, self.concurrency_reason
        );
        match self.suggested_concurrency {
            Some(c) if c != self.concurrency => {
                let _ = writeln!(s, "; the server has CPUs for {c} (a quarter of its GOMAXPROCS, leaving the rest to production traffic): set --concurrency {c}, or leave run.concurrency unset (\"auto\"), to use them");
            }
            _ => s.push('\n'),
        }
        s
    }
}

/// The report from the plan, the limits and the sizing.
pub fn scale_report(
    plan: &Plan,
    limits: Option<ServerLimits>,
    target_points: Option<u64>,
    sampled_tenants: usize,
    concurrency: Concurrency,
) -> ScaleReport {
    // Unknown (1.6.7, no admin rights) counts as tsi1: too many files is harmless,
    // too few stops the server.
    let tsi1 = limits.as_ref().and_then(|l| l.index.as_deref()) != Some("inmem");
    let suggested_concurrency = limits
        .as_ref()
        .and_then(|l| l.gomaxprocs)
        .map(limits::concurrency_for);
    ScaleReport {
        footprint: footprint(plan, default_shard_duration, tsi1),
        limits,
        target_points,
        sampled_tenants,
        concurrency: concurrency.value,
        concurrency_reason: concurrency.reason(),
        suggested_concurrency,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::interval::Interval;
    use crate::plan::target::TargetPlan;
    use crate::plan::TenantPlan;

    fn plan(tenants: usize, weeks: i64) -> Plan {
        let mut p = Plan::default();
        for i in 0..tenants {
            let id = format!("t{i}");
            p.targets.push(TargetPlan {
                tenant: id.clone(),
                database: format!("monasca_{id}"),
                retention_policy: "autogen".into(),
                create_database: true,
                create_retention_policy: None,
                retention_ns: None,
                shard_group_ns: None,
                why: crate::plan::target::PolicyReason::NoSourcePolicy,
                not_applied: None,
            });
            p.tenants.insert(
                id,
                TenantPlan {
                    range: Some(Interval::new(0, weeks * WEEK)),
                    ..TenantPlan::default()
                },
            );
        }
        p
    }

    /// Shards are counted per target from its range and shard duration; 52 weeks
    /// is shown beside.
    #[test]
    fn counts_databases_and_shards() {
        let f = footprint(&plan(3, 52), default_shard_duration, false);
        assert_eq!(f.databases, 3);
        assert_eq!(f.databases_created, 3);
        assert_eq!(f.shards, 3 * 52);
        assert_eq!(f.shards_at_52w, 3);
        assert_eq!(f.open_files, 3 * 8 + 3 * 52 * 2);
        let f = footprint(&plan(3, 52), default_shard_duration, true);
        assert_eq!(f.open_files, 3 * 8 + 3 * 52 * (2 + 8));
        assert_eq!(default_shard_duration(Some(DAY)), HOUR);
        assert_eq!(default_shard_duration(Some(4 * WEEK)), DAY);
        assert_eq!(default_shard_duration(Some(0)), WEEK);
    }

    /// Past 1,000 databases the plan warns and suggests longer shard groups or
    /// migrating in parts; below it, it does not.
    #[test]
    fn warns_past_a_thousand_databases() {
        let big = scale_report(&plan(1_001, 1), None, None, 0, set(2));
        let text = big.render();
        assert!(
            text.contains("warning: InfluxDB 1.x handles about 1000 databases"),
            "{text}"
        );
        assert!(text.contains("tenants.include"), "{text}");
        assert!(text.contains("SHOW DIAGNOSTICS needs admin"), "{text}");
        let small = scale_report(&plan(10, 52), None, None, 0, set(2));
        assert!(!small.render().contains("warning"));
    }

    /// The plan states the open files the targets need (5,000 one-shard databases:
    /// 50,000 with the inmem index, 90,000 with tsi1's 8 more per shard, and tsi1's
    /// count when the index is unknown) and says to raise LimitNOFILE above what is
    /// open plus that.
    #[test]
    fn states_open_files() {
        let index = |i: Option<&str>| ServerLimits {
            index: i.map(str::to_string),
            ..ServerLimits::default()
        };
        for (limits, files, why) in [
            (Some(index(Some("inmem"))), 50_000, "TSM file)"),
            (
                Some(index(Some("tsi1"))),
                90_000,
                "plus 8 for its tsi1 index",
            ),
            (Some(index(None)), 90_000, "the server's index is unknown"),
            (None, 90_000, "the server's index is unknown"),
        ] {
            let text = scale_report(&plan(5_000, 1), limits, None, 0, set(2)).render();
            let wanted = format!("open files: the target server keeps about {files} more open");
            assert!(text.contains(&wanted), "{text}");
            assert!(text.contains(why), "{text}");
            assert!(text.contains("LimitNOFILE"), "{text}");
        }
    }

    /// A concurrency set on the command line or in the config.
    fn set(n: usize) -> Concurrency {
        limits::choose_concurrency(Some(n), None)
    }

    /// A server with 16 CPUs suggests 4 copies at once, and the plan says how to use
    /// them when the setting differs.
    #[test]
    fn concurrency_suggested_from_cpus() {
        let limits = ServerLimits {
            gomaxprocs: Some(16),
            ..ServerLimits::default()
        };
        let r = scale_report(&plan(1, 1), Some(limits), Some(500_000), 1, set(2));
        assert_eq!(r.suggested_concurrency, Some(4));
        assert!(r.render().contains("--concurrency 4"), "{}", r.render());
    }

    /// Left to the server, the plan shows the concurrency derived from its CPUs and
    /// why, with no hint to change it.
    #[test]
    fn concurrency_from_the_server_is_explained() {
        let limits = ServerLimits {
            gomaxprocs: Some(16),
            ..ServerLimits::default()
        };
        let c = limits::choose_concurrency(None, Some(&limits));
        let text = scale_report(&plan(1, 1), Some(limits), None, 0, c).render();
        assert!(
            text.contains("concurrency: 4 (a quarter of the server's GOMAXPROCS 16"),
            "{text}"
        );
        assert!(!text.contains("set --concurrency"), "{text}");
    }
}
