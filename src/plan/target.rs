//! Each tenant's target: the database name (template, with the characters InfluxDB
//! refuses percent-encoded) and the retention policy copies are written into.

use crate::config::RetentionSettings;
use crate::core::window::influx_duration;
use crate::influx::statement as influxql;
use crate::plan::catalog::RetentionPolicy;
use serde::Serialize;
use std::collections::BTreeMap;

/// What the plan does with one tenant's target database.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TargetPlan {
    /// Tenant id.
    pub tenant: String,
    /// Target database name.
    pub database: String,
    /// The database does not exist yet and will be created.
    pub create_database: bool,
    /// Retention policy the copies are written into: the default policy of the
    /// database (the one the persister writes to and monasca-api reads).
    pub retention_policy: String,
    /// Duration literal of the default policy created with the database (`INF` for
    /// infinite); `None` when the database exists (its policies are never altered).
    pub create_retention_policy: Option<String>,
    /// Effective retention of the policy written into (ns), if finite.
    pub retention_ns: Option<i64>,
    /// Shard group duration of the policy written into (ns), when known.
    pub shard_group_ns: Option<i64>,
    /// Why the copies go into that policy.
    pub why: PolicyReason,
    /// A retention request the existing database does not match, left unapplied.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_applied: Option<NotApplied>,
}

/// Why a tenant's copies go into the policy they go into.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicyReason {
    /// A new database's default policy is a copy of the source policy's name and
    /// duration.
    MirrorsSource(String),
    /// A new database's default policy is named `{hours}h` after persister.conf's
    /// `default_retention_hours`, as the persister names the ones it creates.
    PersisterConf,
    /// `--retention TENANT=DURATION` (`retention.tenants`).
    TenantRetention,
    /// `--default-retention` (`retention.default`).
    DefaultRetention,
    /// The database exists: its default policy is kept.
    ExistingDefault,
    /// A new database, and no source policy to mirror (an import): `autogen`.
    NoSourcePolicy,
}

impl std::fmt::Display for PolicyReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PolicyReason::MirrorsSource(p) => write!(f, "mirrors source policy {p}"),
            PolicyReason::PersisterConf => f.write_str("persister.conf default_retention_hours"),
            PolicyReason::TenantRetention => f.write_str("--retention"),
            PolicyReason::DefaultRetention => f.write_str("--default-retention"),
            PolicyReason::ExistingDefault => f.write_str("existing default"),
            PolicyReason::NoSourcePolicy => f.write_str("no source policy known"),
        }
    }
}

impl Serialize for PolicyReason {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A retention request for a database that already exists, whose default policy
/// differs from it: not applied, since switching or altering the default policy of a
/// database the persister already writes to is the operator's decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NotApplied {
    /// Tenant id.
    pub tenant: String,
    /// Target database.
    pub database: String,
    /// Its default policy, which the copies go into.
    pub current_policy: String,
    /// The policy asked for.
    pub requested_policy: String,
    /// Its duration literal.
    pub requested_duration: String,
    /// Who asked.
    pub requested_by: PolicyReason,
    /// The statement that would apply it.
    pub statement: String,
}

/// InfluxDB's guidance for long shard group durations: a policy of up to 1 day gets
/// 6h groups, up to 7 days 1d, up to 3 months (13 weeks) 7d, longer 30d, infinite
/// (0) 52w.
pub fn recommended_shard_group_ns(retention_ns: i64) -> i64 {
    const H: i64 = 3_600_000_000_000;
    const D: i64 = 24 * H;
    const W: i64 = 7 * D;
    match retention_ns {
        n if n <= 0 => 52 * W,
        n if n <= D => 6 * H,
        n if n <= 7 * D => D,
        n if n <= 13 * W => W,
        _ => 30 * D,
    }
}

/// The duration literal of `ns` nanoseconds, `INF` for 0.
pub fn duration_literal(ns: i64) -> String {
    match u64::try_from(ns) {
        Ok(n) if n > 0 => influx_duration(std::time::Duration::from_nanos(n)),
        _ => "INF".to_string(),
    }
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

/// How tenants' target databases are named and which retention they get.
#[derive(Debug, Clone, Copy)]
pub struct TargetRules<'a> {
    /// Target database name template with `{database}` and `{tenant}`.
    pub template: &'a str,
    /// Retention per tenant.
    pub retention: &'a RetentionSettings,
    /// The source policy, mirrored by new databases without a retention request.
    pub source_policy: Option<&'a RetentionPolicy>,
    /// Longest shard group a new database's policy gets without `--shard-duration`:
    /// the source's, when a field has two types there (a field's type is fixed per
    /// shard, so longer groups would put both types in one shard and refuse one).
    pub max_shard_group_ns: Option<i64>,
}

/// A retention the settings ask for one tenant.
struct Request {
    name: String,
    duration_ns: i64,
    by: PolicyReason,
}

fn request(r: &RetentionSettings, tenant: &str) -> Option<Request> {
    let d = r.for_tenant(tenant)?;
    let by = if r.tenants.contains_key(tenant) {
        PolicyReason::TenantRetention
    } else if r.default_from_persister {
        PolicyReason::PersisterConf
    } else {
        PolicyReason::DefaultRetention
    };
    Some(Request {
        name: r.policy_name(tenant).unwrap_or_else(|| influx_duration(d)),
        duration_ns: i64::try_from(d.as_nanos()).unwrap_or(i64::MAX),
        by,
    })
}

/// What a tenant's target database needs: its name, whether it (with its one default
/// policy) must be created (from `existing`, the target server's databases and their
/// policies), and the policy written into. See [`new_target`] and
/// [`existing_target`].
pub fn target_plan(
    rules: &TargetRules<'_>,
    source_db: &str,
    existing: &BTreeMap<String, Vec<RetentionPolicy>>,
    tenant: &str,
) -> TargetPlan {
    let database = target_database(rules.template, source_db, tenant);
    let wanted = request(rules.retention, tenant);
    match existing.get(&database) {
        Some(rps) => existing_target(tenant, database, rps, wanted, rules.retention),
        None => new_target(rules, tenant, database, wanted),
    }
}

/// A new database gets one default policy: the requested one, else a mirror of the
/// source policy, with shard groups after InfluxDB's guidance (or
/// `retention.shard_duration`), never longer than the policy.
fn new_target(
    rules: &TargetRules<'_>,
    tenant: &str,
    database: String,
    wanted: Option<Request>,
) -> TargetPlan {
    let (name, duration_ns, why) = match (wanted, rules.source_policy) {
        (Some(r), _) => (r.name, r.duration_ns, r.by),
        (None, Some(p)) => (
            p.name.clone(),
            p.duration_ns,
            PolicyReason::MirrorsSource(p.name.clone()),
        ),
        (None, None) => ("autogen".to_string(), 0, PolicyReason::NoSourcePolicy),
    };
    let shard = rules.retention.shard_duration.map_or_else(
        || {
            let recommended = recommended_shard_group_ns(duration_ns);
            rules
                .max_shard_group_ns
                .filter(|max| *max > 0)
                .map_or(recommended, |max| recommended.min(max))
        },
        |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX),
    );
    let shard = if duration_ns > 0 {
        shard.min(duration_ns)
    } else {
        shard
    };
    TargetPlan {
        tenant: tenant.to_string(),
        database,
        create_database: true,
        retention_policy: name,
        create_retention_policy: Some(duration_literal(duration_ns)),
        retention_ns: (duration_ns > 0).then_some(duration_ns),
        shard_group_ns: Some(shard),
        why,
        not_applied: None,
    }
}

/// An existing database keeps its default policy and the copies go into it; a
/// request that differs from it is listed as not applied, with the statement that
/// would apply it.
fn existing_target(
    tenant: &str,
    database: String,
    rps: &[RetentionPolicy],
    wanted: Option<Request>,
    retention: &RetentionSettings,
) -> TargetPlan {
    let default = rps.iter().find(|p| p.default);
    let current = default.map_or("autogen", |p| p.name.as_str()).to_string();
    let current_ns = default.map_or(0, |p| p.duration_ns);
    let not_applied = wanted
        .filter(|r| r.name != current || r.duration_ns != current_ns)
        .map(|r| {
            let literal = duration_literal(r.duration_ns);
            let statement = match rps.iter().find(|p| p.name == r.name) {
                Some(p) => influxql::alter_retention_policy(
                    &database,
                    &r.name,
                    (p.duration_ns != r.duration_ns).then_some(literal.as_str()),
                    !p.default,
                ),
                None => {
                    let shard = retention.shard_duration.map_or_else(
                        || recommended_shard_group_ns(r.duration_ns),
                        |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX),
                    );
                    influxql::create_sharded_default_policy(
                        &database,
                        &r.name,
                        &literal,
                        &duration_literal(shard.min(r.duration_ns)),
                    )
                }
            };
            NotApplied {
                tenant: tenant.to_string(),
                database: database.clone(),
                current_policy: current.clone(),
                requested_policy: r.name,
                requested_duration: literal,
                requested_by: r.by,
                statement,
            }
        });
    TargetPlan {
        tenant: tenant.to_string(),
        database,
        create_database: false,
        retention_policy: current,
        create_retention_policy: None,
        retention_ns: (current_ns > 0).then_some(current_ns),
        shard_group_ns: default.map(|p| p.shard_group_ns).filter(|n| *n > 0),
        why: PolicyReason::ExistingDefault,
        not_applied,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const H: i64 = 3_600_000_000_000;
    const D: i64 = 24 * H;
    const W: i64 = 7 * D;

    fn rp(name: &str, duration_ns: i64, default: bool) -> RetentionPolicy {
        RetentionPolicy {
            name: name.into(),
            duration_ns,
            default,
            shard_group_ns: D,
        }
    }

    fn plan_for(
        r: &RetentionSettings,
        source: Option<&RetentionPolicy>,
        existing: &[(&str, Vec<RetentionPolicy>)],
    ) -> TargetPlan {
        let rules = TargetRules {
            template: "{database}_{tenant}",
            retention: r,
            source_policy: source,
            max_shard_group_ns: None,
        };
        let existing = existing
            .iter()
            .map(|(d, rps)| (d.to_string(), rps.clone()))
            .collect();
        target_plan(&rules, "monasca", &existing, "t")
    }

    /// InfluxDB's shard group guidance, at and past each bound.
    #[test]
    fn shard_group_guidance() {
        let cases = [
            (0, 52 * W),
            (H, 6 * H),
            (D, 6 * H),
            (D + 1, D),
            (W, D),
            (W + 1, W),
            (90 * D, W),
            (13 * W, W),
            (13 * W + 1, 30 * D),
        ];
        for (retention, shard) in cases {
            assert_eq!(recommended_shard_group_ns(retention), shard, "{retention}");
        }
        assert_eq!(duration_literal(0), "INF");
        assert_eq!(duration_literal(2160 * H), "90d");
    }

    /// Without a retention request a new database mirrors the source policy (kolla's
    /// `monasca_metrics` of 1w, 1d shard groups); with no source policy known it gets
    /// `autogen`, infinite, with 52w groups; a shard duration longer than the policy is
    /// cut to it.
    #[test]
    fn new_database_mirrors_source_policy() {
        let none = RetentionSettings::default();
        let kolla = rp("monasca_metrics", W, true);
        let t = plan_for(&none, Some(&kolla), &[]);
        assert!(t.create_database);
        assert_eq!(t.retention_policy, "monasca_metrics");
        assert_eq!(t.create_retention_policy.as_deref(), Some("1w"));
        assert_eq!((t.retention_ns, t.shard_group_ns), (Some(W), Some(D)));
        assert_eq!(t.why.to_string(), "mirrors source policy monasca_metrics");
        let t = plan_for(&none, None, &[]);
        assert_eq!(t.retention_policy, "autogen");
        assert_eq!(t.create_retention_policy.as_deref(), Some("INF"));
        assert_eq!((t.retention_ns, t.shard_group_ns), (None, Some(52 * W)));
        let long = RetentionSettings {
            shard_duration: Some(Duration::from_secs(30 * 86_400)),
            ..RetentionSettings::default()
        };
        assert_eq!(plan_for(&long, Some(&kolla), &[]).shard_group_ns, Some(W));
        let rules = TargetRules {
            template: "{database}_{tenant}",
            retention: &none,
            source_policy: None,
            max_shard_group_ns: Some(W),
        };
        let capped = target_plan(&rules, "monasca", &BTreeMap::new(), "t");
        assert_eq!(
            capped.shard_group_ns,
            Some(W),
            "a type conflict keeps the source's groups"
        );
    }

    /// A requested retention wins over the source policy, and says who asked:
    /// persister.conf's `default_retention_hours` keeps the persister's `{hours}h` name.
    #[test]
    fn requests_win_and_name_their_origin() {
        let kolla = rp("monasca_metrics", W, true);
        let mut r = RetentionSettings {
            default: Some(Duration::from_secs(2160 * 3600)),
            default_name: Some("2160h".into()),
            default_from_persister: true,
            ..RetentionSettings::default()
        };
        let t = plan_for(&r, Some(&kolla), &[]);
        assert_eq!(t.retention_policy, "2160h");
        assert_eq!(t.create_retention_policy.as_deref(), Some("90d"));
        assert_eq!(t.shard_group_ns, Some(W));
        assert_eq!(t.why, PolicyReason::PersisterConf);
        r.tenants
            .insert("t".into(), Duration::from_secs(14 * 86_400));
        let t = plan_for(&r, Some(&kolla), &[]);
        assert_eq!(
            (t.retention_policy.as_str(), t.why),
            ("2w", PolicyReason::TenantRetention)
        );
        r.default_from_persister = false;
        r.tenants.clear();
        assert_eq!(plan_for(&r, None, &[]).why, PolicyReason::DefaultRetention);
    }

    /// An existing database keeps its default policy and the copies go into it; a
    /// request that differs is not applied and comes with the statement that applies
    /// it: CREATE ... DEFAULT when the policy is missing, ALTER when it exists.
    #[test]
    fn existing_default_is_kept() {
        let two_weeks = RetentionSettings {
            tenants: [("t".to_string(), Duration::from_secs(14 * 86_400))].into(),
            ..RetentionSettings::default()
        };
        let t = plan_for(
            &two_weeks,
            None,
            &[("monasca_t", vec![rp("autogen", 0, true)])],
        );
        assert!(!t.create_database);
        assert_eq!(t.create_retention_policy, None);
        assert_eq!(
            (t.retention_policy.as_str(), t.retention_ns),
            ("autogen", None)
        );
        assert_eq!(t.why, PolicyReason::ExistingDefault);
        let n = t.not_applied.unwrap();
        assert_eq!(n.current_policy, "autogen");
        assert_eq!(
            n.statement,
            r#"CREATE RETENTION POLICY "2w" ON "monasca_t" DURATION 2w REPLICATION 1 SHARD DURATION 1w DEFAULT"#
        );
        let rps = vec![rp("autogen", 0, true), rp("2w", W, false)];
        let t = plan_for(&two_weeks, None, &[("monasca_t", rps)]);
        assert_eq!(t.retention_policy, "autogen");
        assert_eq!(
            t.not_applied.unwrap().statement,
            r#"ALTER RETENTION POLICY "2w" ON "monasca_t" DURATION 2w DEFAULT"#
        );
        let t = plan_for(
            &two_weeks,
            None,
            &[("monasca_t", vec![rp("2w", 2 * W, true)])],
        );
        assert_eq!(t.retention_policy, "2w");
        assert_eq!(t.not_applied, None, "the request is what is there");
        let none = RetentionSettings::default();
        let t = plan_for(&none, None, &[("monasca_t", vec![rp("x", W, true)])]);
        assert_eq!((t.retention_policy.as_str(), t.not_applied), ("x", None));
    }
}
