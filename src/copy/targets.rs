//! Creating what the copies write into: target databases with their default policy,
//! and the privileges of the services' users on them.

use crate::influx::client::Client;
use crate::influx::error::ClientError;
use crate::influx::statement as influxql;
use crate::plan::catalog::UserGrant;
use crate::plan::target::{duration_literal, TargetPlan};

/// Creates the target databases the plan needs, each with its default policy in the
/// same statement (so no `autogen` is made beside it). Idempotent in InfluxDB; an
/// existing database and its policies are never altered.
pub async fn ensure_targets(client: &Client, targets: &[TargetPlan]) -> Result<(), ClientError> {
    for t in targets.iter().filter(|t| t.create_database) {
        let q = match &t.create_retention_policy {
            Some(d) => influxql::create_database_with_policy(
                &t.database,
                &t.retention_policy,
                d,
                &duration_literal(t.shard_group_ns.unwrap_or(0)),
            ),
            None => influxql::create_database(&t.database),
        };
        client.query(None, &q).await?;
    }
    Ok(())
}

/// Grants every user its privilege on every target database (`GRANT` is idempotent).
pub async fn ensure_grants(
    client: &Client,
    targets: &[TargetPlan],
    grants: &[UserGrant],
) -> Result<(), ClientError> {
    for t in targets {
        for g in grants {
            let q = influxql::grant(g.privilege.as_str(), &t.database, &g.user);
            client.query(None, &q).await?;
        }
    }
    Ok(())
}
