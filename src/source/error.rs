//! Why discovery failed: its own module so that discovery's parts (the statements in
//! `discover`, the tenant tag keys in `tenant_keys`) share it without importing each
//! other.

use crate::influx::error::{ClientError, FailureClass};

/// Why discovery failed.
#[derive(Debug, thiserror::Error)]
pub enum DiscoverError {
    /// Talking to the server failed.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// The source database does not exist.
    #[error("database {database:?} not found on {url}")]
    NoDatabase {
        /// Server URL.
        url: String,
        /// Database asked for.
        database: String,
    },
    /// The configured source retention policy does not exist.
    #[error("retention policy {rp:?} not found in database {database:?} on {url}")]
    NoRetentionPolicy {
        /// Server URL.
        url: String,
        /// Database.
        database: String,
        /// Policy asked for.
        rp: String,
    },
    /// A tenant's history cannot be bounded: its first/last point queries exceed the
    /// server's limits and no shard groups or --from/--to are known.
    #[error("cannot find where tenant {tenant:?}'s history starts and ends ({error}); give --from and --to, or run as an admin so shard groups can be listed")]
    NoBounds {
        /// Tenant id.
        tenant: String,
        /// The server's error.
        error: String,
    },
    /// The server refused a discovery statement.
    #[error("`{query}` failed on the source: {error}{}", limit_hint(.error))]
    Refused {
        /// The statement.
        query: String,
        /// The server's error.
        error: ClientError,
    },
    /// A statement returned something other than expected.
    #[error("unexpected answer to `{query}`: {reason}")]
    Shape {
        /// The statement.
        query: String,
        /// What was wrong.
        reason: String,
    },
}

/// What to change when a server limit refused a statement: from InfluxDB 1.8.5 the
/// SHOW statements obey `[coordinator] query-timeout` too, which 1.6 and 1.7 did not.
fn limit_hint(e: &ClientError) -> &'static str {
    if e.class() == FailureClass::TooBig {
        " (a server limit refused it: from InfluxDB 1.8.5 SHOW statements obey [coordinator] query-timeout too; raise it while migrating)"
    } else {
        ""
    }
}
