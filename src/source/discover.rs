//! Discovery: what the source holds and what the targets already have, gathered once
//! per run into a [`Catalog`] of plain values for the planner. The statements are
//! issued here; their answers are read by [`crate::source::answers`].

use crate::config::TenantSettings;
use crate::core::interval::Interval;
use crate::influx::client::Client;
use crate::influx::error::{ClientError, FailureClass};
use crate::influx::statement::{self as influxql, Rp};
use crate::plan::catalog::{Catalog, RetentionPolicy, TenantData};
use crate::source::{answers, tenant_keys};
use futures::stream::{self, StreamExt, TryStreamExt};
use regex::Regex;
use std::collections::BTreeMap;

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
    /// A statement returned something other than expected.
    #[error("unexpected answer to `{query}`: {reason}")]
    Shape {
        /// The statement.
        query: String,
        /// What was wrong.
        reason: String,
    },
}

/// What discovery needs from the settings.
#[derive(Debug, Clone, Copy)]
pub struct DiscoverOptions<'a> {
    /// Source database.
    pub database: &'a str,
    /// Source retention policy; `None` reads the database's default.
    pub retention_policy: Option<&'a str>,
    /// The tenant tag, which tenants are selected, and the target name template.
    pub tenants: &'a TenantSettings,
    /// Measurements matching any of these are left out.
    pub skip_measurements: &'a [Regex],
    /// `--from` (ns): bounds history when first/last points cannot be asked.
    pub from: Option<i64>,
    /// `--to` (ns), as `from`.
    pub to: Option<i64>,
    /// Measurements per first/last-point query.
    pub max_measurements_per_query: usize,
    /// Tenants whose first and last points are asked at once.
    pub concurrency: usize,
}

/// Lists the databases on a server.
pub async fn databases(client: &Client) -> Result<Vec<String>, ClientError> {
    let r = client.query(None, &influxql::show_databases()).await?;
    Ok(answers::databases(&r))
}

/// Lists the retention policies of a database.
pub async fn retention_policies(
    client: &Client,
    db: &str,
) -> Result<Vec<RetentionPolicy>, ClientError> {
    let r = client
        .query(None, &influxql::show_retention_policies(db))
        .await?;
    Ok(answers::retention_policies(&r))
}

/// Discovers the catalog. Query failures here are fatal to the run: without a
/// catalog there is no plan.
pub async fn discover(
    client: &Client,
    opts: &DiscoverOptions<'_>,
) -> Result<Catalog, DiscoverError> {
    let db = opts.database;
    client.ping().await?;
    let dbs = databases(client).await?;
    if !dbs.iter().any(|d| d == db) {
        return Err(DiscoverError::NoDatabase {
            url: client.url().to_string(),
            database: db.to_string(),
        });
    }
    let rps = retention_policies(client, db).await?;
    let source_rp = source_policy(&rps, opts.retention_policy).ok_or_else(|| {
        DiscoverError::NoRetentionPolicy {
            url: client.url().to_string(),
            database: db.to_string(),
            rp: opts.retention_policy.unwrap_or_default().to_string(),
        }
    })?;
    let r = client.query(None, &influxql::show_measurements(db)).await?;
    let measurements = answers::measurements(&r, opts.skip_measurements);
    let source = Rp { db, rp: &source_rp };
    let found = tenant_keys::find(client, &source, &measurements.kept, opts.tenants).await?;
    let r = client.query(None, &influxql::show_field_keys(db)).await?;
    let fields = answers::field_types(&r);
    let r = client.query(None, &influxql::show_tag_keys(db)).await?;
    let tag_keys = answers::tag_keys(&r);
    let shard_groups = shard_groups(client, db, &source_rp).await?;

    let fallback = fallback_bounds(shard_groups.as_deref(), opts.from, opts.to);
    let tenants = tenant_extents(client, &source, found.tenants.selected, fallback, opts).await?;
    let names = tenants
        .iter()
        .map(|t| crate::plan::target::target_database(&opts.tenants.target_template, db, &t.id));
    let targets = existing_targets(client, &dbs, names).await?;

    Ok(Catalog {
        source_url: client.url().to_string(),
        database: db.to_string(),
        source_rp,
        shard_groups,
        fields,
        tag_keys,
        tenants,
        excluded_tenants: found.tenants.excluded,
        skipped_measurements: measurements.skipped,
        tenant_keys: found.keys,
        untagged: found.untagged,
        targets,
        target_url: String::new(),
    })
}

/// The policy to read: `wanted` when the database has it (`None` when it does not),
/// else the database's default, else `autogen`.
fn source_policy(rps: &[RetentionPolicy], wanted: Option<&str>) -> Option<String> {
    match wanted {
        Some(rp) => rps.iter().any(|p| p.name == rp).then(|| rp.to_string()),
        None => Some(
            rps.iter()
                .find(|p| p.default)
                .map_or("autogen", |p| p.name.as_str())
                .to_string(),
        ),
    }
}

/// The merged time ranges of the source policy's shard groups; `None` when the server
/// will not list shards (listing them needs admin rights).
async fn shard_groups(
    client: &Client,
    db: &str,
    rp: &str,
) -> Result<Option<Vec<Interval>>, ClientError> {
    match client.query(None, &influxql::show_shards()).await {
        Ok(r) => Ok(Some(answers::shard_ranges(&r, db, rp))),
        Err(e) if e.class() == FailureClass::Permanent => {
            tracing::warn!(error = %e, "cannot list shards; bounding history by first and last points only");
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// Where a tenant's history is taken to lie when the server's limits refuse its
/// first/last-point queries: the span of the shard groups, else `--from`..`--to`.
fn fallback_bounds(
    shard_groups: Option<&[Interval]>,
    from: Option<i64>,
    to: Option<i64>,
) -> Option<Interval> {
    match (shard_groups, from, to) {
        (Some([first, .., last]), _, _) => Some(Interval::new(first.start, last.end)),
        (Some([only]), _, _) => Some(*only),
        (_, Some(f), Some(t)) => Some(Interval::new(f, t)),
        _ => None,
    }
}

/// Every selected tenant's data extents, several tenants at once; tenants without any
/// point are left out.
async fn tenant_extents(
    client: &Client,
    source: &Rp<'_>,
    by_tenant: BTreeMap<String, Vec<String>>,
    fallback: Option<Interval>,
    opts: &DiscoverOptions<'_>,
) -> Result<Vec<TenantData>, DiscoverError> {
    let per_query = opts.max_measurements_per_query;
    let tenants: Vec<TenantData> = stream::iter(by_tenant)
        .map(|(id, ms)| tenant_data(client, source, opts.tenants, id, ms, fallback, per_query))
        .buffered(opts.concurrency)
        .try_collect()
        .await?;
    Ok(tenants
        .into_iter()
        .filter(|t| !t.measurements.is_empty())
        .collect())
}

/// One tenant's first and last point per measurement, `per_query` measurements of one
/// tenant tag key per query. When the server's limits refuse a query, those measurements are bounded by
/// `fallback` instead; without one the tenant cannot be bounded.
async fn tenant_data(
    client: &Client,
    source: &Rp<'_>,
    keys: &TenantSettings,
    id: String,
    measurements: Vec<String>,
    fallback: Option<Interval>,
    per_query: usize,
) -> Result<TenantData, DiscoverError> {
    let mut extents = BTreeMap::new();
    let by_key = tenant_keys::by_key(&measurements, keys);
    let parts = by_key
        .iter()
        .flat_map(|(tag, ms)| ms.chunks(per_query).map(move |part| (*tag, part)));
    for (tag, part) in parts {
        let bounds = async {
            let first = point_times(client, source, part, tag, &id, false).await?;
            let last = point_times(client, source, part, tag, &id, true).await?;
            Ok::<_, ClientError>(answers::extents(&first, &last))
        };
        match bounds.await {
            Ok(found) => extents.extend(found),
            Err(e) if e.class() == FailureClass::TooBig => {
                let Some(b) = fallback else {
                    return Err(DiscoverError::NoBounds {
                        tenant: id,
                        error: e.to_string(),
                    });
                };
                tracing::warn!(
                    tenant = %id,
                    error = %e,
                    "first/last point queries refused by the server's limits; bounding this tenant by the shard groups"
                );
                extents.extend(part.iter().map(|m| (m.clone(), b)));
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(TenantData {
        id,
        measurements: extents,
    })
}

/// Time of the first (or last) point of a tenant per measurement.
async fn point_times(
    client: &Client,
    src: &Rp<'_>,
    measurements: &[String],
    tag: &str,
    tenant: &str,
    last: bool,
) -> Result<BTreeMap<String, i64>, ClientError> {
    let q = influxql::tenant_extent(src, measurements, tag, tenant, last);
    let r = client.query(Some(src.db), &q).await?;
    Ok(answers::point_times(&r))
}

/// The databases among `names` that exist (`dbs` lists the server's), with their
/// retention policies.
pub async fn existing_targets(
    client: &Client,
    dbs: &[String],
    names: impl IntoIterator<Item = String>,
) -> Result<BTreeMap<String, Vec<RetentionPolicy>>, ClientError> {
    let mut targets = BTreeMap::new();
    for name in names {
        if dbs.contains(&name) && !targets.contains_key(&name) {
            let rps = retention_policies(client, &name).await?;
            targets.insert(name, rps);
        }
    }
    Ok(targets)
}

/// Points the catalog's targets at another server: which target databases and
/// policies exist is asked there, and `target_url` names it. `target_template` names
/// the target databases, as `tenants.target_template`.
pub async fn discover_targets_on(
    target: &Client,
    catalog: &mut Catalog,
    target_template: &str,
) -> Result<(), ClientError> {
    target.ping().await?;
    let dbs = databases(target).await?;
    let names: Vec<String> = catalog
        .tenants
        .iter()
        .map(|t| crate::plan::target::target_database(target_template, &catalog.database, &t.id))
        .collect();
    catalog.targets = existing_targets(target, &dbs, names).await?;
    catalog.target_url = target.url().to_string();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rp(name: &str, default: bool) -> RetentionPolicy {
        RetentionPolicy {
            name: name.into(),
            duration_ns: 0,
            default,
        }
    }

    /// The configured policy is read when the database has it and refused when not;
    /// without one the default policy is read, and `autogen` when none is marked.
    #[test]
    fn source_policy_choice() {
        let rps = [rp("autogen", false), rp("two_weeks", true)];
        assert_eq!(source_policy(&rps, Some("autogen")), Some("autogen".into()));
        assert_eq!(source_policy(&rps, Some("nope")), None);
        assert_eq!(source_policy(&rps, None), Some("two_weeks".into()));
        assert_eq!(
            source_policy(&[rp("x", false)], None),
            Some("autogen".into())
        );
    }

    /// History refused by the server's limits is bounded by the span of the shard
    /// groups, else by --from/--to when both are given, else not at all.
    #[test]
    fn fallback_bounds_order() {
        let groups = [Interval::new(10, 20), Interval::new(30, 40)];
        assert_eq!(
            fallback_bounds(Some(&groups), Some(0), Some(100)),
            Some(Interval::new(10, 40))
        );
        assert_eq!(
            fallback_bounds(Some(&groups[..1]), None, None),
            Some(Interval::new(10, 20))
        );
        assert_eq!(
            fallback_bounds(Some(&[]), Some(0), Some(100)),
            Some(Interval::new(0, 100))
        );
        assert_eq!(
            fallback_bounds(None, Some(0), Some(100)),
            Some(Interval::new(0, 100))
        );
        assert_eq!(fallback_bounds(None, Some(0), None), None);
        assert_eq!(fallback_bounds(Some(&[]), None, None), None);
    }
}
