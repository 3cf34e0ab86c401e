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
    /// Shard group duration in nanoseconds (0 when the answer did not say).
    pub shard_group_ns: i64,
}

/// A privilege InfluxDB grants a non-admin user on one database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Privilege {
    /// Queries.
    Read,
    /// Writes.
    Write,
    /// Both.
    All,
}

impl Privilege {
    /// The privilege as `SHOW GRANTS` prints it (`READ`, `WRITE`, `ALL PRIVILEGES`);
    /// `None` for `NO PRIVILEGES` and anything else.
    pub fn from_shown(s: &str) -> Option<Self> {
        match s {
            "READ" => Some(Privilege::Read),
            "WRITE" => Some(Privilege::Write),
            "ALL PRIVILEGES" | "ALL" => Some(Privilege::All),
            _ => None,
        }
    }

    /// The privilege as `GRANT` takes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Privilege::Read => "READ",
            Privilege::Write => "WRITE",
            Privilege::All => "ALL",
        }
    }
}

/// A non-admin user's privilege on the source database.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct UserGrant {
    /// User name.
    pub user: String,
    /// Privilege on the source database.
    pub privilege: Privilege,
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
    /// The source server's version, as its `X-Influxdb-Version` header says
    /// (`unknown` when it sends none).
    pub source_version: String,
    /// Source database.
    pub database: String,
    /// Source retention policy read from.
    pub source_rp: String,
    /// That policy as the source lists it (duration, shard group duration); `None`
    /// when no policy of that name is listed (e.g. a database without policies).
    pub source_policy: Option<RetentionPolicy>,
    /// Non-admin users' privileges on the source database; `None` when the server
    /// would not list users and grants (listing them needs admin rights).
    pub grants: Option<Vec<UserGrant>>,
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
    /// The target server's version (`X-Influxdb-Version`) when the targets are on
    /// another server; empty otherwise.
    pub target_version: String,
    /// The target server's organization, buckets and mappings when it is InfluxDB
    /// 2.x; `None` for a 1.x target (or none).
    pub target_v2: Option<V2Target>,
}

/// An InfluxDB 2.x target: a tenant's target "database" is a bucket
/// ([`bucket_name`](crate::influx::v2::bucket_name) of the database name) with a DBRP
/// mapping under the database name, so that InfluxQL clients find it as on 1.x.
/// [`Catalog::targets`] lists the databases already mapped, with their mappings as
/// policies.
#[derive(Debug, Clone, Default, Serialize)]
pub struct V2Target {
    /// Organization name (`target.org`).
    pub org: String,
    /// Its id.
    pub org_id: String,
    /// The organization's buckets, by name.
    pub buckets: BTreeMap<String, crate::influx::v2::Bucket>,
    /// The bucket each mapped target database's policies point at, by database.
    pub mapped: BTreeMap<String, String>,
    /// The organization's v1-compatible authorizations.
    pub v1_auths: Vec<crate::influx::v2::V1Auth>,
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
