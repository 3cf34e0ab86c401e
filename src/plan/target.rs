//! Each tenant's target: the database name (template, with the characters InfluxDB
//! refuses percent-encoded) and the retention policy copies are written into.

use crate::config::RetentionSettings;
use crate::core::window::influx_duration;
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
    /// Retention policy the copies are written into.
    pub retention_policy: String,
    /// Duration literal of a default retention policy to create, when it does not
    /// exist yet (an existing one is never altered).
    pub create_retention_policy: Option<String>,
    /// Effective retention of the policy written into (ns), if finite.
    pub retention_ns: Option<i64>,
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
}

/// What a tenant's target database needs: its name, whether it and its retention
/// policy must be created (from `existing`, the target server's databases and their
/// policies), and the retention written into.
pub fn target_plan(
    rules: &TargetRules<'_>,
    source_db: &str,
    existing: &BTreeMap<String, Vec<RetentionPolicy>>,
    tenant: &str,
) -> TargetPlan {
    let database = target_database(rules.template, source_db, tenant);
    let existing = existing.get(&database);
    let finite = |ns: i64| (ns > 0).then_some(ns);
    match rules.retention.for_tenant(tenant) {
        Some(d) => {
            let name = rules
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
