//! Discovery: what the source holds and what the targets already have, gathered once
//! per run into a [`Catalog`] of plain values for the planner. The statements are
//! issued here; their answers are read by [`crate::source::answers`].

use crate::config::TenantSettings;
use crate::core::interval::Interval;
use crate::influx::answer::StatementResult;
use crate::influx::client::Client;
use crate::influx::error::{ClientError, FailureClass};
use crate::influx::multi;
use crate::influx::statement::{self as influxql, Rp};
use crate::ledger::Spans;
use crate::plan::catalog::{Catalog, RetentionPolicy, TenantData, UserGrant};
pub use crate::source::error::DiscoverError;
use crate::source::{answers, tenant_keys};
use regex::Regex;
use std::collections::{BTreeMap, HashMap};

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
    /// What the ledger covers per tenant and measurement: where it covers every
    /// measurement of a statement, only a first point before the covered span and a
    /// last point at or after its end are asked ([`search_bounds`]).
    pub known: Option<&'a Spans>,
}

/// What discovery finds of the source before its tenants: enough to name the ledger
/// scopes of its copies.
#[derive(Debug, Clone)]
pub struct SourceFound {
    /// `X-Influxdb-Version`.
    pub version: String,
    /// The server's databases.
    pub databases: Vec<String>,
    /// The source database's retention policies.
    pub policies: Vec<RetentionPolicy>,
    /// The policy read.
    pub rp: String,
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

/// Finds the source database and the policy to read. Query failures here are fatal to
/// the run.
pub async fn source(
    client: &Client,
    opts: &DiscoverOptions<'_>,
) -> Result<SourceFound, DiscoverError> {
    let db = opts.database;
    let version = client.ping().await?;
    let databases = databases(client).await?;
    if !databases.iter().any(|d| d == db) {
        return Err(DiscoverError::NoDatabase {
            url: client.url().to_string(),
            database: db.to_string(),
        });
    }
    let policies = retention_policies(client, db).await?;
    let rp = source_policy(&policies, opts.retention_policy).ok_or_else(|| {
        DiscoverError::NoRetentionPolicy {
            url: client.url().to_string(),
            database: db.to_string(),
            rp: opts.retention_policy.unwrap_or_default().to_string(),
        }
    })?;
    Ok(SourceFound {
        version,
        databases,
        policies,
        rp,
    })
}

/// Discovers the catalog of the source [`source`] found. Query failures here are
/// fatal to the run: without a catalog there is no plan.
pub async fn discover(
    client: &Client,
    opts: &DiscoverOptions<'_>,
    found: SourceFound,
) -> Result<Catalog, DiscoverError> {
    let db = opts.database;
    let SourceFound {
        version: source_version,
        databases: dbs,
        policies: rps,
        rp: source_rp,
    } = found;
    let r = show(client, &influxql::show_measurements(db)).await?;
    let measurements = answers::measurements(&r, opts.skip_measurements);
    let source = Rp { db, rp: &source_rp };
    let found = tenant_keys::find(client, &source, &measurements.kept, opts.tenants).await?;
    let r = show(client, &influxql::show_field_keys(db)).await?;
    let fields = answers::field_types(&r);
    let r = show(client, &influxql::show_tag_keys(db)).await?;
    let tag_keys = answers::tag_keys(&r);
    let shards = shards(client).await?;
    let edges = shards
        .as_ref()
        .and_then(|r| shard_edges(&answers::shard_intervals(r, db, &source_rp)));
    let shard_groups = shards.map(|r| answers::shard_ranges(&r, db, &source_rp));
    let grants = match opts.tenants.grant_privileges {
        true => user_grants(client, db).await?,
        false => Some(Vec::new()),
    };

    let fallback = fallback_bounds(shard_groups.as_deref(), opts.from, opts.to);
    let search = Search {
        fallback,
        edges,
        opts,
    };
    let tenants = tenant_extents(client, &source, found.tenants.selected, &search).await?;
    let names = tenants
        .iter()
        .map(|t| crate::plan::target::target_database(&opts.tenants.target_template, db, &t.id));
    let targets = existing_targets(client, &dbs, names).await?;

    Ok(Catalog {
        source_url: client.url().to_string(),
        source_version,
        database: db.to_string(),
        source_policy: rps.into_iter().find(|p| p.name == source_rp),
        source_rp,
        grants,
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
        target_version: String::new(),
        target_v2: None,
    })
}

/// Runs a discovery statement; when the server refuses it, the error names it.
async fn show(client: &Client, q: &str) -> Result<StatementResult, DiscoverError> {
    client.query(None, q).await.map_err(|e| match e {
        ClientError::Statement { .. } => DiscoverError::Refused {
            query: q.to_string(),
            error: e,
        },
        e => e.into(),
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

/// The server's `SHOW SHARDS`; `None` when the server will not list shards (listing
/// them needs admin rights).
async fn shards(client: &Client) -> Result<Option<StatementResult>, ClientError> {
    match client.query(None, &influxql::show_shards()).await {
        Ok(r) => Ok(Some(r)),
        Err(e) if e.class() == FailureClass::Permanent => {
            tracing::warn!(error = %e, "cannot list shards; bounding history by first and last points only");
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// Every non-admin user's privilege on `db`, sorted; `None` (and one warning) when
/// the server will not list users (listing them needs admin rights).
pub async fn user_grants(client: &Client, db: &str) -> Result<Option<Vec<UserGrant>>, ClientError> {
    let users = match client.query(None, &influxql::show_users()).await {
        Ok(r) => answers::non_admin_users(&r),
        Err(e) if e.class() == FailureClass::Permanent => {
            tracing::warn!(server = %client.url(), error = %e, "cannot list users and their grants (needs admin rights): no privileges are granted on the tenant databases");
            return Ok(None);
        }
        Err(e) => return Err(e),
    };
    let mut grants = Vec::new();
    for user in users {
        let r = client.query(None, &influxql::show_grants(&user)).await?;
        if let Some(privilege) = answers::privilege_on(&r, db) {
            grants.push(UserGrant { user, privilege });
        }
    }
    grants.sort();
    Ok(Some(grants))
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

/// The end of the oldest shard and the start of the newest: where a first point is
/// looked for first (before the end) and a last point (from the start).
fn shard_edges(shards: &[Interval]) -> Option<(i64, i64)> {
    let oldest = shards.iter().min_by_key(|s| (s.start, s.end))?;
    let newest = shards.iter().max_by_key(|s| (s.end, s.start))?;
    Some((oldest.end, newest.start))
}

/// How tenants' first and last points are searched.
struct Search<'a> {
    /// Where a tenant's history is taken to lie when its statements are refused by the
    /// server's limits ([`fallback_bounds`]).
    fallback: Option<Interval>,
    /// [`shard_edges`] of the source policy.
    edges: Option<(i64, i64)>,
    opts: &'a DiscoverOptions<'a>,
}

/// Where one pair of statements looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Bounds {
    /// Everywhere.
    None,
    /// Outside the span the ledger covers ([`search_bounds`]).
    Ledger((i64, i64)),
    /// In the oldest shard for the first point, the newest for the last
    /// ([`shard_edges`]); measurements not found there are asked again everywhere.
    Edges((i64, i64)),
}

impl Bounds {
    /// The time bound of the first-point statement, or of the last-point one.
    fn of(self, last: bool) -> Option<i64> {
        match self {
            Bounds::None => None,
            Bounds::Ledger((lo, hi)) | Bounds::Edges((lo, hi)) => Some(if last { hi } else { lo }),
        }
    }
}

/// One pair of first/last-point statements: tenant, tenant tag key, measurements and
/// where they look.
#[derive(Debug, Clone)]
struct Part<'a> {
    id: &'a String,
    tag: &'a str,
    ms: Vec<String>,
    bounds: Bounds,
}

/// Every selected tenant's data extents: the first- and last-point statements of all
/// tenants go [`multi::STATEMENTS_PER_REQUEST`] to a request, so discovery makes a few
/// requests per thousand tenants, not two per tenant. Tenants without any point are
/// left out.
///
/// Where the ledger covers a statement's measurements, only outside its span. Else
/// the first point is asked in the oldest shard and the last in the newest: about a
/// tenth of the server time of asking over every shard (16 weekly shards, 400 tenants,
/// docs/BENCHMARKS.md), as the server then opens one shard per statement, not all of
/// them. The measurements not found there (a tenant that began later or stopped
/// earlier) are asked again over all the shards, so the extents are those of
/// searching everywhere.
async fn tenant_extents(
    client: &Client,
    source: &Rp<'_>,
    by_tenant: BTreeMap<String, Vec<String>>,
    search: &Search<'_>,
) -> Result<Vec<TenantData>, DiscoverError> {
    let opts = search.opts;
    let per_query = opts.max_measurements_per_query.max(1);
    // Measurements with different tenant keys never share a statement.
    let parts: Vec<Part<'_>> = by_tenant
        .iter()
        .flat_map(|(id, ms)| {
            let spans = opts.known.and_then(|k| k.get(id));
            tenant_keys::by_key(ms, opts.tenants)
                .into_iter()
                .flat_map(move |(tag, ms)| {
                    ms.chunks(per_query)
                        .map(|p| Part {
                            id,
                            tag,
                            ms: p.to_vec(),
                            bounds: bounds_of(
                                spans.and_then(|s| search_bounds(s, p)),
                                search.edges,
                            ),
                        })
                        .collect::<Vec<_>>()
                })
        })
        .collect();
    let mut extents: BTreeMap<String, BTreeMap<String, Interval>> = by_tenant
        .keys()
        .map(|id| (id.clone(), BTreeMap::new()))
        .collect();
    let again = ask_extents(client, source, &parts, search, &mut extents).await?;
    let left = ask_extents(client, source, &again, search, &mut extents).await?;
    debug_assert!(left.is_empty(), "a search everywhere is not asked again");
    Ok(extents
        .into_iter()
        .filter(|(_, ms)| !ms.is_empty())
        .map(|(id, measurements)| TenantData { id, measurements })
        .collect())
}

/// The ledger's bounds where it covers the statement, else the shard edges, else
/// everywhere.
fn bounds_of(ledger: Option<(i64, i64)>, edges: Option<(i64, i64)>) -> Bounds {
    match (ledger, edges) {
        (Some(b), _) => Bounds::Ledger(b),
        (None, Some(e)) => Bounds::Edges(e),
        (None, None) => Bounds::None,
    }
}

/// Asks the first and last points of `parts` and adds what they find to `extents`;
/// returns the parts to ask again everywhere (measurements not found at the shard
/// edges).
async fn ask_extents<'p>(
    client: &Client,
    source: &Rp<'_>,
    parts: &[Part<'p>],
    search: &Search<'_>,
    extents: &mut BTreeMap<String, BTreeMap<String, Interval>>,
) -> Result<Vec<Part<'p>>, DiscoverError> {
    let statements: Vec<String> = parts
        .iter()
        .flat_map(|p| {
            [false, true].map(|last| {
                influxql::tenant_extent(source, &p.ms, p.tag, p.id, last, p.bounds.of(last))
            })
        })
        .collect();
    // Each answer is read down to its point times as it arrives, not held whole.
    let answers = multi::query_each_map(
        client,
        Some(source.db),
        &statements,
        multi::STATEMENTS_PER_REQUEST,
        search.opts.concurrency,
        |r| r.map(|r| answers::point_times(&r)),
    )
    .await?;
    let mut again = Vec::new();
    let mut answers = answers.into_iter();
    for p in parts {
        let (first, last) = (answers.next(), answers.next());
        let found = match (first, last) {
            (Some(Ok(f)), Some(Ok(l))) => match p.bounds {
                Bounds::None => answers::extents(&f, &l),
                Bounds::Ledger(b) => bounded_extents(&f, &l, &p.ms, b),
                Bounds::Edges(_) => {
                    let (found, missing) = edge_extents(&f, &l, &p.ms);
                    if !missing.is_empty() {
                        again.push(Part {
                            ms: missing,
                            bounds: Bounds::None,
                            ..p.clone()
                        });
                    }
                    found
                }
            },
            (Some(Err(e)), _) | (_, Some(Err(e))) => bounded_by(search.fallback, p.id, &p.ms, e)?,
            _ => unreachable!("query_each answers every statement"),
        };
        extents.get_mut(p.id).expect("tenant listed").extend(found);
    }
    Ok(again)
}

/// Extents from statements asked at the shard edges: a measurement with a first point
/// before the oldest shard's end and a last point from the newest shard's start spans
/// them (nothing of it can lie before the one or after the other); the others are
/// returned, to be asked everywhere.
fn edge_extents(
    first: &BTreeMap<String, i64>,
    last: &BTreeMap<String, i64>,
    ms: &[String],
) -> (BTreeMap<String, Interval>, Vec<String>) {
    let found = answers::extents(first, last);
    let missing = ms
        .iter()
        .filter(|m| !found.contains_key(*m))
        .cloned()
        .collect();
    (found, missing)
}

/// Where a statement of `ms` looks for first and last points when the ledger covers
/// every one of them: a first point before the latest start of their spans, a last
/// point at or after the earliest end. A rerun then reads the shards at both ends of
/// the covered history, not all of it. `None` (look everywhere) when one has no span.
fn search_bounds(spans: &HashMap<String, Interval>, ms: &[String]) -> Option<(i64, i64)> {
    let spans: Vec<Interval> = ms
        .iter()
        .map(|m| spans.get(m).copied())
        .collect::<Option<_>>()?;
    let lo = spans.iter().map(|s| s.start).max()?;
    let hi = spans.iter().map(|s| s.end).min()?;
    Some((lo, hi))
}

/// Extents from statements bounded by `(lo, hi)` ([`search_bounds`]): a measurement
/// without a point before `lo` has none there, so its history is taken to start at
/// `lo`; without one at or after `hi`, to end at `hi`. The planner then looks at every
/// window that can hold a point: those the ledger covers cost nothing, and any gap in
/// between is planned as before. One with neither and `lo >= hi` has no point.
fn bounded_extents(
    first: &BTreeMap<String, i64>,
    last: &BTreeMap<String, i64>,
    ms: &[String],
    (lo, hi): (i64, i64),
) -> BTreeMap<String, Interval> {
    ms.iter()
        .filter_map(|m| {
            let start = first.get(m).copied().unwrap_or(lo);
            let end = last.get(m).map_or(hi, |l| l.saturating_add(1));
            (start < end).then(|| (m.clone(), Interval::new(start, end)))
        })
        .collect()
}

/// The extents of measurements whose first/last-point statement failed with `e`: the
/// fallback when the server's limits refused it; without one the tenant cannot be
/// bounded, and any other error stops discovery.
fn bounded_by(
    fallback: Option<Interval>,
    id: &str,
    measurements: &[String],
    e: ClientError,
) -> Result<BTreeMap<String, Interval>, DiscoverError> {
    if e.class() != FailureClass::TooBig {
        return Err(e.into());
    }
    let Some(b) = fallback else {
        return Err(DiscoverError::NoBounds {
            tenant: id.to_string(),
            error: e.to_string(),
        });
    };
    tracing::warn!(
        tenant = %id,
        error = %e,
        "first/last point queries refused by the server's limits; bounding this tenant by the shard groups"
    );
    Ok(measurements.iter().map(|m| (m.clone(), b)).collect())
}

/// The databases among `names` that exist (`dbs` lists the server's), with their
/// retention policies: every `SHOW RETENTION POLICIES` in a few requests, not one per
/// database.
pub async fn existing_targets(
    client: &Client,
    dbs: &[String],
    names: impl IntoIterator<Item = String>,
) -> Result<BTreeMap<String, Vec<RetentionPolicy>>, ClientError> {
    let known: std::collections::HashSet<&str> = dbs.iter().map(String::as_str).collect();
    let wanted: std::collections::BTreeSet<String> = names
        .into_iter()
        .filter(|n| known.contains(n.as_str()))
        .collect();
    let statements: Vec<String> = wanted
        .iter()
        .map(|db| influxql::show_retention_policies(db))
        .collect();
    let answers =
        multi::query_each(client, None, &statements, multi::STATEMENTS_PER_REQUEST, 1).await?;
    let mut targets = BTreeMap::new();
    for (name, r) in wanted.into_iter().zip(answers) {
        targets.insert(name, answers::retention_policies(&r?));
    }
    Ok(targets)
}

/// The target database name of each of the catalog's tenants.
fn target_names<'a>(catalog: &'a Catalog, template: &'a str) -> impl Iterator<Item = String> + 'a {
    catalog
        .tenants
        .iter()
        .map(move |t| crate::plan::target::target_database(template, &catalog.database, &t.id))
}

/// [`discover_targets_on`] for an InfluxDB 2.x server: the organization's buckets and
/// DBRP mappings stand for databases and policies. The source's grants are kept as
/// they are: they become v1 authorizations there.
async fn discover_buckets_on(
    target: &Client,
    catalog: &mut Catalog,
    target_template: &str,
    org: Option<&str>,
    target_version: String,
) -> Result<(), ClientError> {
    let Some(org) = org else {
        return Err(ClientError::Setup(format!(
            "{} is InfluxDB {target_version}: set target.org (--target-org) and target.token_file (or ITM__TARGET__TOKEN)",
            target.url()
        )));
    };
    let wanted = target_names(catalog, target_template).collect();
    let (v2, targets) = crate::source::buckets::discover(target, org, &wanted).await?;
    catalog.targets = targets;
    catalog.target_url = target.url().to_string();
    catalog.target_version = target_version;
    catalog.target_v2 = Some(v2);
    Ok(())
}

/// Points the catalog's targets at another server: which target databases and
/// policies exist is asked there, and `target_url` names it. `target_template` names
/// the target databases, as `tenants.target_template`.
pub async fn discover_targets_on(
    target: &Client,
    catalog: &mut Catalog,
    target_template: &str,
    org: Option<&str>,
) -> Result<(), ClientError> {
    let target_version = target.ping().await?;
    if crate::influx::v2::is_v2(&target_version) {
        return discover_buckets_on(target, catalog, target_template, org, target_version).await;
    }
    let dbs = databases(target).await?;
    let names: Vec<String> = target_names(catalog, target_template).collect();
    catalog.targets = existing_targets(target, &dbs, names).await?;
    catalog.target_url = target.url().to_string();
    catalog.target_version = target_version;
    if let Some(grants) = catalog.grants.take() {
        catalog.grants = grants_on(target, grants).await?;
    }
    Ok(())
}

/// The source's `grants` whose users exist on another server (users are per server);
/// `None` (and one warning) when that server will not list its users.
async fn grants_on(
    target: &Client,
    grants: Vec<UserGrant>,
) -> Result<Option<Vec<UserGrant>>, ClientError> {
    match target.query(None, &influxql::show_users()).await {
        Ok(r) => {
            let users = answers::non_admin_users(&r);
            let (kept, gone): (Vec<_>, Vec<_>) =
                grants.into_iter().partition(|g| users.contains(&g.user));
            for g in gone {
                tracing::warn!(user = %g.user, server = %target.url(), "user not found on the target server: its privilege is not granted there");
            }
            Ok(Some(kept))
        }
        Err(e) if e.class() == FailureClass::Permanent => {
            tracing::warn!(server = %target.url(), error = %e, "cannot list users on the target server (needs admin rights): no privileges are granted on the tenant databases");
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rp(name: &str, default: bool) -> RetentionPolicy {
        RetentionPolicy {
            name: name.into(),
            duration_ns: 0,
            default,
            shard_group_ns: 0,
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

    /// Bounded statements are asked only when the ledger covers every measurement of
    /// the statement: below the latest covered start, from the earliest covered end;
    /// their answers give a measurement the covered bounds where nothing lies outside
    /// them, the points found where something does, and no extent when nothing can be
    /// there.
    #[test]
    fn bounded_extent_search() {
        let ms = |v: &[&str]| v.iter().map(|m| m.to_string()).collect::<Vec<_>>();
        let spans: HashMap<String, Interval> = [
            ("cpu".to_string(), Interval::new(100, 900)),
            ("mem".to_string(), Interval::new(200, 800)),
        ]
        .into_iter()
        .collect();
        assert_eq!(
            search_bounds(&spans, &ms(&["cpu", "mem"])),
            Some((200, 800))
        );
        assert_eq!(search_bounds(&spans, &ms(&["cpu"])), Some((100, 900)));
        assert_eq!(search_bounds(&spans, &ms(&["cpu", "disk"])), None);
        let times = |v: &[(&str, i64)]| -> BTreeMap<String, i64> {
            v.iter().map(|(m, t)| (m.to_string(), *t)).collect()
        };
        let first = times(&[("cpu", 150)]);
        let last = times(&[("mem", 950)]);
        let got = bounded_extents(&first, &last, &ms(&["cpu", "mem", "disk"]), (200, 800));
        assert_eq!(got["cpu"], Interval::new(150, 800));
        assert_eq!(got["mem"], Interval::new(200, 951));
        assert_eq!(got["disk"], Interval::new(200, 800));
        let none = BTreeMap::new();
        assert!(bounded_extents(&none, &none, &ms(&["cpu"]), (800, 200)).is_empty());
        let src = Rp {
            db: "monasca",
            rp: "autogen",
        };
        let q = |last, bound| {
            influxql::tenant_extent(&src, &ms(&["cpu"]), "_tenant_id", "a", last, bound)
        };
        assert!(q(false, Some(200)).contains("'a' AND time < 200 ORDER BY time ASC LIMIT 1"));
        assert!(q(true, Some(800)).contains("'a' AND time >= 800 ORDER BY time DESC LIMIT 1"));
        assert!(!q(true, None).contains("time >"));
    }

    /// First points are looked for before the oldest shard's end and last points from
    /// the newest shard's start, whatever order the server lists shards in; a
    /// measurement found at both edges spans them, one missing at either edge (begun
    /// later, stopped earlier, or without points) is asked again everywhere; the
    /// ledger's bounds, where they apply, come before the edges.
    #[test]
    fn shard_edge_search() {
        let w = 7;
        let shards = [
            Interval::new(2 * w, 3 * w),
            Interval::new(0, w),
            Interval::new(w, 2 * w),
        ];
        assert_eq!(shard_edges(&shards), Some((w, 2 * w)));
        assert_eq!(shard_edges(&shards[..1]), Some((3 * w, 2 * w)));
        assert_eq!(shard_edges(&[]), None);
        let ms = |v: &[&str]| v.iter().map(|m| m.to_string()).collect::<Vec<_>>();
        let times = |v: &[(&str, i64)]| -> BTreeMap<String, i64> {
            v.iter().map(|(m, t)| (m.to_string(), *t)).collect()
        };
        let first = times(&[("cpu", 1), ("mem", 2)]);
        let last = times(&[("cpu", 20), ("disk", 19)]);
        let (found, missing) = edge_extents(&first, &last, &ms(&["cpu", "mem", "disk", "net"]));
        assert_eq!(found.len(), 1);
        assert_eq!(found["cpu"], Interval::new(1, 21));
        assert_eq!(missing, ms(&["mem", "disk", "net"]));
        assert_eq!(
            bounds_of(Some((3, 9)), Some((w, 2 * w))),
            Bounds::Ledger((3, 9))
        );
        assert_eq!(bounds_of(None, Some((w, 2 * w))), Bounds::Edges((w, 2 * w)));
        assert_eq!(bounds_of(None, None), Bounds::None);
        assert_eq!(Bounds::Edges((w, 2 * w)).of(false), Some(w));
        assert_eq!(Bounds::Edges((w, 2 * w)).of(true), Some(2 * w));
        assert_eq!(Bounds::None.of(true), None);
    }

    /// A discovery statement the server refuses is named in the error; a refusal by a
    /// limit (1.8.5+ SHOW statements obey query-timeout) names the setting to raise.
    #[test]
    fn refused_statements_are_named() {
        let refused = |m: &str| DiscoverError::Refused {
            query: "SHOW TAG VALUES ON \"monasca\" WITH KEY = \"_tenant_id\"".into(),
            error: ClientError::Statement { message: m.into() },
        };
        let text = refused("query-timeout limit exceeded").to_string();
        assert!(text.starts_with("`SHOW TAG VALUES ON"), "{text}");
        assert!(text.contains("[coordinator] query-timeout"), "{text}");
        let text = refused("database not found: monasca").to_string();
        assert!(text.ends_with("database not found: monasca"), "{text}");
    }
}
