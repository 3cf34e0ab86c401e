//! What an InfluxDB 2.x target holds: the organization, its buckets, the DBRP mappings
//! that name tenant databases, and its v1-compatible authorizations.

use crate::influx::client::Client;
use crate::influx::error::ClientError;
use crate::influx::v2::{self, Bucket, Dbrp};
use crate::plan::catalog::{RetentionPolicy, V2Target};
use std::collections::{BTreeMap, BTreeSet};

/// The organization `org` on `target` and what it holds, and the wanted target
/// databases already mapped there (with their mappings as retention policies).
pub async fn discover(
    target: &Client,
    org: &str,
    wanted: &BTreeSet<String>,
) -> Result<(V2Target, BTreeMap<String, Vec<RetentionPolicy>>), ClientError> {
    let org_id = v2::org_id(target, org).await?;
    let buckets = v2::buckets(target, &org_id).await?;
    let dbrps = v2::dbrps(target, &org_id).await?;
    let v1_auths = v2::v1_authorizations(target, &org_id).await?;
    let (targets, mapped) = mapped_targets(&dbrps, &buckets, wanted);
    let v2 = V2Target {
        org: org.to_string(),
        org_id,
        buckets: buckets.into_iter().map(|b| (b.name.clone(), b)).collect(),
        mapped,
        v1_auths,
    };
    Ok((v2, targets))
}

/// The wanted databases that real (not virtual) DBRP mappings name, each with its
/// mappings as policies (the bucket's retention and shard groups), and the bucket its
/// default mapping points at. A mapping to a bucket that is gone is left out.
pub fn mapped_targets(
    dbrps: &[Dbrp],
    buckets: &[Bucket],
    wanted: &BTreeSet<String>,
) -> (
    BTreeMap<String, Vec<RetentionPolicy>>,
    BTreeMap<String, String>,
) {
    let by_id: BTreeMap<&str, &Bucket> = buckets.iter().map(|b| (b.id.as_str(), b)).collect();
    let mut targets: BTreeMap<String, Vec<RetentionPolicy>> = BTreeMap::new();
    let mut mapped = BTreeMap::new();
    for m in dbrps
        .iter()
        .filter(|m| !m.is_virtual && wanted.contains(&m.database))
    {
        let Some(b) = by_id.get(m.bucket_id.as_str()) else {
            continue;
        };
        targets
            .entry(m.database.clone())
            .or_default()
            .push(RetentionPolicy {
                name: m.retention_policy.clone(),
                duration_ns: b.retention_ns,
                default: m.default,
                shard_group_ns: b.shard_group_ns,
            });
        if m.default {
            mapped.insert(m.database.clone(), b.id.clone());
        }
    }
    (targets, mapped)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bucket(id: &str, name: &str, retention_ns: i64) -> Bucket {
        Bucket {
            id: id.into(),
            name: name.into(),
            retention_ns,
            shard_group_ns: 86_400_000_000_000,
        }
    }

    fn dbrp(db: &str, rp: &str, bucket: &str, default: bool, is_virtual: bool) -> Dbrp {
        Dbrp {
            database: db.into(),
            retention_policy: rp.into(),
            default,
            bucket_id: bucket.into(),
            is_virtual,
        }
    }

    /// Only real mappings of wanted databases count as existing targets; a virtual
    /// mapping (a bucket of that name without one) and a mapping to a deleted bucket
    /// do not, so the run creates the mapping.
    #[test]
    fn maps_only_real_mappings_of_wanted_databases() {
        let buckets = [
            bucket("b1", "monasca_a", 0),
            bucket("b2", "monasca_b", 3_600_000_000_000),
        ];
        let dbrps = [
            dbrp("monasca_a", "7d", "b1", true, false),
            dbrp("monasca_b", "autogen", "b2", true, true),
            dbrp("monasca_c", "autogen", "gone", true, false),
            dbrp("other", "autogen", "b1", true, false),
        ];
        let wanted: BTreeSet<String> = ["monasca_a", "monasca_b", "monasca_c"]
            .map(String::from)
            .into();
        let (targets, mapped) = mapped_targets(&dbrps, &buckets, &wanted);
        assert_eq!(targets.keys().collect::<Vec<_>>(), ["monasca_a"]);
        assert_eq!(targets["monasca_a"][0].name, "7d");
        assert!(targets["monasca_a"][0].default);
        assert_eq!(mapped["monasca_a"], "b1");
        assert_eq!(mapped.len(), 1);
    }
}
