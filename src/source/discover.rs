//! Discovery: what the source holds and what the targets already have, gathered once
//! per run into a [`Catalog`] of plain values for the planner.

use crate::config::Settings;
use crate::core::field::{FieldType, FieldTypes};
use crate::core::interval::{Interval, IntervalSet};
use crate::influx::answer::StatementResult;
use crate::influx::client::Client;
use crate::influx::error::{ClientError, FailureClass};
use crate::influx::statement::{self as influxql, Rp};
use crate::plan::catalog::{Catalog, RetentionPolicy, TenantData};
use futures::stream::{self, StreamExt, TryStreamExt};
use std::collections::{BTreeMap, BTreeSet};

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

fn str_col<'a>(
    s: &'a crate::influx::answer::Series,
    row: &'a [serde_json::Value],
    col: &str,
) -> Option<&'a str> {
    row.get(s.column(col)?)?.as_str()
}

/// Lists the databases on a server.
pub async fn databases(client: &Client) -> Result<Vec<String>, ClientError> {
    let r = client.query(None, &influxql::show_databases()).await?;
    Ok(first_column(&r))
}

/// Lists the retention policies of a database.
pub async fn retention_policies(
    client: &Client,
    db: &str,
) -> Result<Vec<RetentionPolicy>, ClientError> {
    let r = client
        .query(None, &influxql::show_retention_policies(db))
        .await?;
    let mut out = Vec::new();
    for s in &r.series {
        for row in &s.values {
            let name = str_col(s, row, "name").unwrap_or_default().to_string();
            let duration = str_col(s, row, "duration").unwrap_or("0s");
            let default = s
                .column("default")
                .and_then(|i| row.get(i))
                .and_then(|v| v.as_bool())
                .unwrap_or(false);
            out.push(RetentionPolicy {
                name,
                duration_ns: parse_go_duration(duration).unwrap_or(0),
                default,
            });
        }
    }
    Ok(out)
}

/// Parses Go's `time.Duration` text as InfluxDB prints it (`336h0m0s`, `0s`).
pub fn parse_go_duration(s: &str) -> Option<i64> {
    let mut total: i64 = 0;
    let mut num = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() || c == '.' {
            num.push(c);
            continue;
        }
        let unit = match c {
            'h' => 3_600_000_000_000.0,
            'm' if chars.peek() == Some(&'s') => {
                chars.next();
                1_000_000.0
            }
            'm' => 60_000_000_000.0,
            's' => 1_000_000_000.0,
            'u' | 'µ' if chars.peek() == Some(&'s') => {
                chars.next();
                1_000.0
            }
            'n' if chars.peek() == Some(&'s') => {
                chars.next();
                1.0
            }
            _ => return None,
        };
        let v: f64 = num.parse().ok()?;
        total = total.checked_add((v * unit) as i64)?;
        num.clear();
    }
    num.is_empty().then_some(total)
}

/// Discovers the catalog. Query failures here are fatal to the run: without a
/// catalog there is no plan.
pub async fn discover(client: &Client, settings: &Settings) -> Result<Catalog, DiscoverError> {
    let src = &settings.source;
    client.ping().await?;
    let dbs = databases(client).await?;
    if !dbs.contains(&src.database) {
        return Err(DiscoverError::NoDatabase {
            url: client.url().to_string(),
            database: src.database.clone(),
        });
    }
    let rps = retention_policies(client, &src.database).await?;
    let source_rp = match &src.retention_policy {
        Some(rp) if rps.iter().any(|p| &p.name == rp) => rp.clone(),
        Some(rp) => {
            return Err(DiscoverError::NoRetentionPolicy {
                url: client.url().to_string(),
                database: src.database.clone(),
                rp: rp.clone(),
            })
        }
        None => rps
            .iter()
            .find(|p| p.default)
            .map(|p| p.name.clone())
            .unwrap_or_else(|| "autogen".to_string()),
    };

    let q = influxql::show_measurements(&src.database);
    let r = client.query(None, &q).await?;
    let mut skipped = Vec::new();
    let mut kept = BTreeSet::new();
    for name in first_column(&r) {
        if settings
            .skip_measurements
            .iter()
            .any(|re| re.is_match(&name))
        {
            skipped.push(name);
        } else {
            kept.insert(name);
        }
    }

    let q = influxql::show_tenants(&src.database, &settings.tenants.tag);
    let r = client.query(None, &q).await?;
    let mut by_tenant: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for s in &r.series {
        if !kept.contains(&s.name) {
            continue;
        }
        let vi = s.column("value").ok_or_else(|| DiscoverError::Shape {
            query: q.clone(),
            reason: "no value column".into(),
        })?;
        for row in &s.values {
            if let Some(t) = row.get(vi).and_then(|v| v.as_str()) {
                by_tenant
                    .entry(t.to_string())
                    .or_default()
                    .push(s.name.clone());
            }
        }
    }
    let t = &settings.tenants;
    let mut excluded = Vec::new();
    by_tenant.retain(|id, _| {
        let keep = t.selects(id);
        if !keep {
            excluded.push(id.clone());
        }
        keep
    });

    let q = influxql::show_field_keys(&src.database);
    let r = client.query(None, &q).await?;
    let mut fields: FieldTypes = BTreeMap::new();
    for s in &r.series {
        let m = fields.entry(s.name.clone()).or_default();
        for row in &s.values {
            if let (Some(k), Some(ty)) = (str_col(s, row, "fieldKey"), str_col(s, row, "fieldType"))
            {
                m.entry(k.to_string())
                    .or_default()
                    .insert(FieldType(ty.to_string()));
            }
        }
    }

    let r = client
        .query(None, &influxql::show_tag_keys(&src.database))
        .await?;
    let mut tag_keys: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for s in &r.series {
        let keys = tag_keys.entry(s.name.clone()).or_default();
        keys.extend(
            s.values
                .iter()
                .filter_map(|row| row.first()?.as_str().map(str::to_string)),
        );
    }

    let shard_groups = match client.query(None, &influxql::show_shards()).await {
        Ok(r) => Some(shard_ranges(&r, &src.database, &source_rp)),
        Err(e) if e.class() == FailureClass::Permanent => {
            tracing::warn!(error = %e, "cannot list shards; bounding history by first and last points only");
            None
        }
        Err(e) => return Err(e.into()),
    };

    let source = Rp {
        db: &src.database,
        rp: &source_rp,
    };
    // When the server's limits refuse the first/last-point queries, history is bounded
    // by the shard groups, or by --from/--to, instead of by the tenant's own points.
    let fallback = match (&shard_groups, settings.window.from, settings.window.to) {
        (Some(g), _, _) if !g.is_empty() => Some(Interval::new(g[0].start, g[g.len() - 1].end)),
        (_, Some(f), Some(t)) => Some(Interval::new(f, t)),
        _ => None,
    };
    let chunk = settings.run.max_measurements_per_query;
    let tenants: Vec<TenantData> = stream::iter(by_tenant)
        .map(|(id, ms)| {
            let source = source.clone();
            async move {
                let mut extents = BTreeMap::new();
                for part in ms.chunks(chunk) {
                    let bounds = async {
                        let first = extent(client, &source, part, &t.tag, &id, false).await?;
                        let last = extent(client, &source, part, &t.tag, &id, true).await?;
                        Ok::<_, ClientError>((first, last))
                    };
                    match bounds.await {
                        Ok((first, last)) => {
                            for (m, f) in first {
                                if let Some(l) = last.get(&m) {
                                    extents.insert(m, Interval::new(f, l.saturating_add(1)));
                                }
                            }
                        }
                        Err(e) if e.class() == FailureClass::TooBig => {
                            let Some(b) = fallback else {
                                return Err(DiscoverError::NoBounds {
                                    tenant: id.clone(),
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
                Ok::<_, DiscoverError>(TenantData {
                    id,
                    measurements: extents,
                })
            }
        })
        .buffered(settings.run.concurrency)
        .try_collect()
        .await?;
    let tenants: Vec<TenantData> = tenants
        .into_iter()
        .filter(|t| !t.measurements.is_empty())
        .collect();

    let names = tenants.iter().map(|t| {
        crate::plan::target::target_database(
            &settings.tenants.target_template,
            &src.database,
            &t.id,
        )
    });
    let targets = existing_targets(client, &dbs, names).await?;

    Ok(Catalog {
        source_url: client.url().to_string(),
        database: src.database.clone(),
        source_rp,
        shard_groups,
        fields,
        tag_keys,
        tenants,
        excluded_tenants: excluded,
        skipped_measurements: skipped,
        targets,
        target_url: String::new(),
    })
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
/// policies exist is asked there, and `target_url` names it.
pub async fn discover_targets_on(
    target: &Client,
    catalog: &mut Catalog,
    settings: &Settings,
) -> Result<(), ClientError> {
    target.ping().await?;
    let dbs = databases(target).await?;
    let names = catalog.tenants.iter().map(|t| {
        crate::plan::target::target_database(
            &settings.tenants.target_template,
            &catalog.database,
            &t.id,
        )
    });
    catalog.targets = existing_targets(target, &dbs, names.collect::<Vec<_>>()).await?;
    catalog.target_url = target.url().to_string();
    Ok(())
}

fn first_column(r: &StatementResult) -> Vec<String> {
    r.series
        .iter()
        .flat_map(|s| {
            s.values
                .iter()
                .filter_map(|row| row.first()?.as_str().map(str::to_string))
        })
        .collect()
}

/// Time of the first (or last) point of a tenant per measurement.
async fn extent(
    client: &Client,
    src: &Rp<'_>,
    measurements: &[String],
    tag: &str,
    tenant: &str,
    last: bool,
) -> Result<BTreeMap<String, i64>, ClientError> {
    let q = influxql::tenant_extent(src, measurements, tag, tenant, last);
    let r = client.query(Some(src.db), &q).await?;
    Ok(r.series
        .iter()
        .filter_map(|s| {
            let i = s.column("time")?;
            Some((s.name.clone(), s.values.first()?.get(i)?.as_i64()?))
        })
        .collect())
}

/// The merged time ranges of a database's shard groups in one retention policy.
fn shard_ranges(r: &StatementResult, db: &str, rp: &str) -> Vec<Interval> {
    let mut set = IntervalSet::new();
    for s in r.series.iter().filter(|s| s.name == db) {
        for row in &s.values {
            if str_col(s, row, "retention_policy") != Some(rp) {
                continue;
            }
            let time = |c: &str| -> Option<i64> {
                let v = row.get(s.column(c)?)?;
                if let Some(n) = v.as_i64() {
                    return Some(n);
                }
                crate::core::window::parse_rfc3339_ns(v.as_str()?).ok()
            };
            if let (Some(a), Some(b)) = (time("start_time"), time("end_time")) {
                set.insert(Interval::new(a, b));
            }
        }
    }
    set.parts().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Go duration text from SHOW RETENTION POLICIES parses to nanoseconds.
    #[test]
    fn go_durations() {
        assert_eq!(parse_go_duration("0s"), Some(0));
        assert_eq!(parse_go_duration("336h0m0s"), Some(336 * 3_600_000_000_000));
        assert_eq!(parse_go_duration("1h30m0s"), Some(5_400_000_000_000));
        assert_eq!(parse_go_duration("500ms"), Some(500_000_000));
        assert_eq!(parse_go_duration("x"), None);
    }

    /// SHOW SHARDS rows of other databases and policies are ignored; touching groups merge.
    #[test]
    fn shard_ranges_filter_and_merge() {
        let r: StatementResult = serde_json::from_str(
            r#"{"series":[
              {"name":"monasca","columns":["id","database","retention_policy","shard_group","start_time","end_time","expiry_time","owners"],
               "values":[[1,"monasca","autogen",1,"2024-01-01T00:00:00Z","2024-01-08T00:00:00Z","2024-01-08T00:00:00Z",""],
                         [2,"monasca","autogen",2,"2024-01-08T00:00:00Z","2024-01-15T00:00:00Z","2024-01-15T00:00:00Z",""],
                         [3,"monasca","other",3,"2023-01-08T00:00:00Z","2023-01-15T00:00:00Z","2023-01-15T00:00:00Z",""]]},
              {"name":"_internal","columns":["id","database","retention_policy","shard_group","start_time","end_time","expiry_time","owners"],
               "values":[[4,"_internal","monitor",4,"2020-01-01T00:00:00Z","2020-01-02T00:00:00Z","2020-01-02T00:00:00Z",""]]}]}"#,
        )
        .unwrap();
        let got = shard_ranges(&r, "monasca", "autogen");
        let a = crate::core::window::parse_rfc3339_ns("2024-01-01T00:00:00Z").unwrap();
        let b = crate::core::window::parse_rfc3339_ns("2024-01-15T00:00:00Z").unwrap();
        assert_eq!(got, vec![Interval::new(a, b)]);
    }
}
