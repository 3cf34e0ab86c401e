//! Creating what the copies write into: target databases with their default policy,
//! and the privileges of the services' users on them.

use crate::influx::client::Client;
use crate::influx::error::ClientError;
use crate::influx::statement as influxql;
use crate::influx::v2;
use crate::plan::authorizations::{self, AuthStep};
use crate::plan::catalog::{UserGrant, V2Target};
use crate::plan::target::{duration_literal, TargetPlan};
use std::collections::BTreeMap;

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

/// On an InfluxDB 2.x target: creates each new target's bucket (its retention and
/// shard groups as the plan decided; an existing bucket of that name is used as it
/// is, never altered) and its DBRP mapping under the database and policy name, then
/// the v1 authorizations the source's grants call for. Returns the authorization
/// steps, those done and those left to the operator ([`AuthStep::Missing`]).
pub async fn ensure_buckets(
    client: &Client,
    v2: &V2Target,
    targets: &[TargetPlan],
    grants: &[UserGrant],
) -> Result<Vec<AuthStep>, ClientError> {
    let mut ids = v2.mapped.clone();
    for t in targets.iter().filter(|t| t.create_database) {
        let name = v2::bucket_name(&t.database);
        let id = match v2.buckets.get(&name) {
            Some(b) => {
                if b.retention_ns != t.retention_ns.unwrap_or(0) {
                    tracing::warn!(bucket = %name, retention = %duration_literal(b.retention_ns), wanted = %duration_literal(t.retention_ns.unwrap_or(0)), "the bucket exists with another retention: kept as it is");
                }
                b.id.clone()
            }
            None => {
                let retention = t.retention_ns.unwrap_or(0);
                let shard = t.shard_group_ns.unwrap_or(0);
                v2::create_bucket(client, &v2.org_id, &name, retention, shard)
                    .await?
                    .id
            }
        };
        v2::create_dbrp(client, &v2.org_id, &id, &t.database, &t.retention_policy).await?;
        ids.insert(t.database.clone(), id);
    }
    let ids: BTreeMap<String, String> = ids
        .into_iter()
        .filter(|(db, _)| targets.iter().any(|t| &t.database == db))
        .collect();
    let steps = authorizations::steps(grants, &ids, &v2.v1_auths);
    for s in &steps {
        match s {
            AuthStep::Create { user, permissions } => {
                v2::create_v1_authorization(client, &v2.org_id, user, permissions).await?;
                tracing::warn!(user = %user, buckets = ids.len(), then = %authorizations::commands(s).join("; "), "v1 authorization created without a password (1.x keeps only its hash): set it");
            }
            AuthStep::Missing {
                user, permissions, ..
            } => {
                tracing::warn!(user = %user, missing = permissions.len(), fix = %authorizations::commands(s).join("; "), "the user's v1 authorization lacks tenant buckets, and 2.x cannot add permissions to it: recreate it");
            }
        }
    }
    Ok(steps)
}
