//! What discovery found on the servers, as plain values: the planner's input.

use crate::core::field::FieldTypes;
use crate::core::interval::Interval;
use crate::ledger::SourceRef;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// A retention policy as `SHOW RETENTION POLICIES` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RetentionPolicy {
    /// Policy name.
    pub name: String,
    /// Duration in nanoseconds; 0 means infinite.
    pub duration_ns: i64,
    /// Whether it is the database's default.
    pub default: bool,
}

/// One tenant's data in the source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TenantData {
    /// Tenant id (the tag value).
    pub id: String,
    /// Per measurement: `[first point, last point + 1ns)`.
    pub measurements: BTreeMap<String, Interval>,
}

/// A measurement none of whose points carries its tenant tag: nothing of it is copied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct UntaggedMeasurement {
    /// Measurement.
    pub measurement: String,
    /// The tenant tag it was looked up by.
    pub tag: String,
    /// Its points in the source policy (largest field count); `None` when the server's
    /// limits refused the count.
    pub points: Option<u64>,
}

/// Everything the planner needs to know about the servers, as plain values.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Catalog {
    /// Source server URL.
    pub source_url: String,
    /// Source database.
    pub database: String,
    /// Source retention policy read from.
    pub source_rp: String,
    /// Time ranges of the source's shard groups (merged); `None` when the server would
    /// not list them (no admin rights), in which case history is bounded by the
    /// tenants' first and last points alone.
    pub shard_groups: Option<Vec<Interval>>,
    /// Field types per measurement; a field listed with two types has a conflict.
    pub fields: FieldTypes,
    /// Tag keys per measurement.
    pub tag_keys: BTreeMap<String, BTreeSet<String>>,
    /// Tenants to migrate, sorted by id, with their data extents.
    pub tenants: Vec<TenantData>,
    /// Tenants found but left out by the include/exclude rules.
    pub excluded_tenants: Vec<String>,
    /// Measurements left out by the skip rules.
    pub skipped_measurements: Vec<String>,
    /// Measurements whose tenant is in another tag than `tenants.tag`: measurement ->
    /// tag key. One statement never copies measurements of different keys.
    pub tenant_keys: BTreeMap<String, String>,
    /// Measurements without a point carrying their tenant tag.
    pub untagged: Vec<UntaggedMeasurement>,
    /// Databases that exist on the target server, with their retention policies
    /// (only those the plan may write to).
    pub targets: BTreeMap<String, Vec<RetentionPolicy>>,
    /// Where the targets are, as the ledger's `target_url`: empty for the source
    /// server, else the target server's URL or `file://DIR`.
    pub target_url: String,
}

impl Catalog {
    /// The source as ledger scopes name it.
    pub fn source_ref(&self) -> SourceRef<'_> {
        SourceRef {
            url: &self.source_url,
            db: &self.database,
            rp: &self.source_rp,
        }
    }
}
