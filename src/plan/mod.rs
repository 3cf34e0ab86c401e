//! Planning, pure: what a run will copy, as values.
//!
//! - [`catalog`]: what discovery found on the servers (the planner's input).
//! - [`target`]: each tenant's target database and retention policy.
//! - [`authorizations`]: the source's grants as v1 authorizations on a 2.x target.
//! - [`batch`]: which measurements one statement may copy together.
//! - [`late`]: which recorded chunks a run looks at again for late points.
//! - [`planner`]: `(Catalog, Rules, Coverage, now) -> Plan` or a [`PlanError`].
//! - [`sizing`]: chunk sizes from sampled point rates (sparse windows joined, dense
//!   ones cut).
//!
//! This file holds the plan itself: [`Plan`], its [`Chunk`]s and per-tenant counts.

pub(crate) mod authorizations;
pub(crate) mod batch;
pub(crate) mod catalog;
pub(crate) mod late;
pub(crate) mod planner;
pub(crate) mod rollback;
pub(crate) mod sizing;
pub(crate) mod target;

pub use crate::influx::v2::bucket_name;
pub use planner::retention_floor;
pub use target::target_database;

use crate::core::interval::Interval;
use crate::core::window::TimeUnit;
use crate::plan::target::TargetPlan;
use serde::Serialize;
use std::collections::BTreeMap;

/// The measurements of a chunk, shared: the planner cuts each tenant's history into
/// windows (tens of thousands of chunks at thousands of tenants) that name the same
/// measurements, and sizing cuts and joins them again.
pub type Measurements = std::sync::Arc<[String]>;

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
    pub measurements: Measurements,
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
    /// Where the planner cut windows (ns): the hour at or below the settle line and
    /// the one where the late horizon begins; sizing joins no chunks across them.
    #[serde(skip)]
    pub cuts_ns: Vec<i64>,
    /// Target databases and policies, one per tenant.
    pub targets: Vec<TargetPlan>,
    /// Chunks to copy, newest first across tenants (see `planner::sort_newest_first`).
    pub chunks: Vec<Chunk>,
    /// Per-tenant counts.
    pub tenants: BTreeMap<String, TenantPlan>,
    /// Privileges granted on every target database: each non-admin user's on the
    /// source.
    pub grants: Vec<crate::plan::catalog::UserGrant>,
    /// Why nothing is granted, when that is not because no user has a privilege.
    pub grants_note: Option<String>,
    /// Measurements without a point carrying their tenant tag: not copied.
    pub untagged: Vec<crate::plan::catalog::UntaggedMeasurement>,
    /// The late-point check made before planning, when the command makes one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub late: Option<late::LateReport>,
}

impl TenantPlan {
    /// Counts a chunk copying `window`.
    pub fn count(&mut self, window: Interval, closed: bool) {
        if closed {
            self.closed_chunks += 1;
        } else {
            self.open_chunks += 1;
        }
        self.range = Some(match self.range {
            Some(r) => Interval::new(r.start.min(window.start), r.end.max(window.end)),
            None => window,
        });
    }
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
