//! The `verify` command: which recorded chunks to check, checking them with
//! [`Verifier`], recording those that agree as `Verified` lines and those that miss
//! points as `Differs` lines (the next run copies them again).

use crate::commands::migration;
use crate::commands::watch::watched;
use crate::config::Settings;
use crate::core::clock::now_ns;
use crate::influx::client::Client;
use crate::ledger::lock::RunLock;
use crate::ledger::{self, ChunkKey, LedgerWriter};
use crate::source::discover as catalog;
use crate::verify::batch::TENANTS_PER_STATEMENT;
use crate::verify::checking::schema_differences;
use crate::verify::figures::{
    self as verify, ChunkCheck, Subject, Verdict, Verifier, VerifyReport, FLOAT_REL_TOLERANCE,
};
use crate::verify::select::{select, Selection};
use futures::stream::{self, StreamExt};
use std::collections::{BTreeMap, BTreeSet, HashSet};

/// What `verify` checks.
#[derive(Debug, Clone, Copy, Default)]
pub struct VerifyOptions {
    /// Check every recorded chunk again, not only those without a `Verified` line.
    pub all: bool,
    /// Also check the plan's open chunks (never recorded; they may still be receiving
    /// points, so a difference there can be new data).
    pub open: bool,
}

/// Runs `verify`. Errors are fatal (lock, ledger, connection, missing source); chunk
/// differences and failed checks are in the report.
pub async fn verify(settings: &Settings, opts: VerifyOptions) -> anyhow::Result<VerifyReport> {
    // Verified lines are appended to the ledger: one writer at a time.
    let _lock = RunLock::acquire(&settings.run.ledger)?;
    let client = Client::new(&settings.source.endpoint(), settings.run.query_timeout)?;
    client.ping().await?;
    let dbs = catalog::databases(&client).await?;
    let db = &settings.source.database;
    if !dbs.contains(db) {
        anyhow::bail!("database {db:?} not found on {}", client.url());
    }
    let source_fields = verify::field_types(&client, db).await?;
    let target = match settings.target.endpoint() {
        Some(e) => Some(TargetServer::connect(&e, settings).await?),
        None => None,
    };
    let parsed = ledger::load(&settings.run.ledger)?;
    let selection = Selection {
        source_url: &settings.source.url,
        source_db: &settings.source.database,
        target_url: target.as_ref().map_or("", |t| t.client.url()),
        tenants: &settings.tenants,
        all: opts.all,
    };
    let (chosen, out_of_scope) = select(&parsed.records, &selection);
    let mut report = VerifyReport::new(opts.all);
    report.records_out_of_scope = out_of_scope;
    let targets: BTreeSet<String> = chosen.iter().map(|r| r.scope.target.clone()).collect();
    let (target_client, target_dbs) = match &target {
        Some(t) => (&t.client, &t.databases),
        None => (&client, &dbs),
    };
    let retention = match target.as_ref().and_then(|t| t.retention.as_ref()) {
        Some(r) => r.clone(),
        None => target_retention(target_client, &targets, target_dbs).await?,
    };
    let mut subjects: Vec<Subject> = chosen
        .iter()
        .map(|r| {
            let key = (r.scope.target.clone(), r.scope.target_rp.clone());
            Subject::from_record(r, retention.get(&key).copied().flatten())
        })
        .collect();
    if opts.open {
        subjects.extend(open_subjects(settings).await?);
    }
    let verifier = Verifier {
        client: &client,
        tenants: &settings.tenants,
        target: target.as_ref().map(|t| &t.client),
        // The same configuration renames as the run did.
        rewrite: Some(&settings.transform),
        fields: &source_fields,
        tolerance: FLOAT_REL_TOLERANCE,
        target_tenant: false,
    };
    // --all checks verified chunks again; a second Verified line for one would say
    // nothing new.
    let already = ledger::verified_keys(&parsed.records);
    let mut writer = LedgerWriter::open(&settings.run.ledger)?;
    let concurrency = settings.run.concurrency_or_fallback().max(1);
    check_all(
        &verifier,
        &subjects,
        concurrency,
        &already,
        &mut writer,
        &mut report,
    )
    .await?;
    report.schema_differences =
        schema_differences(target_client, &source_fields, &targets, target_dbs).await?;
    Ok(report)
}

/// The target server of the records `verify` checks, when `target.url` names one.
struct TargetServer {
    client: Client,
    /// Its databases (on 2.x: the databases its DBRP mappings name).
    databases: Vec<String>,
    /// On 2.x, each mapped `(database, policy)`'s finite retention, from its bucket.
    retention: Option<BTreeMap<(String, String), Option<i64>>>,
}

impl TargetServer {
    async fn connect(
        e: &crate::influx::client::Endpoint,
        settings: &Settings,
    ) -> anyhow::Result<Self> {
        let client = Client::new(e, settings.run.query_timeout)?;
        let version = client.ping().await?;
        let databases = catalog::databases(&client).await?;
        if !crate::influx::v2::is_v2(&version) {
            return Ok(TargetServer {
                client,
                databases,
                retention: None,
            });
        }
        let org = settings.target.org.as_deref().ok_or_else(|| {
            anyhow::anyhow!(
                "{} is InfluxDB {version}: set target.org (--target-org)",
                client.url()
            )
        })?;
        let wanted: BTreeSet<String> = databases.iter().cloned().collect();
        let (_, mapped) = crate::source::buckets::discover(&client, org, &wanted).await?;
        let retention = mapped
            .into_iter()
            .flat_map(|(db, policies)| {
                policies.into_iter().map(move |p| {
                    (
                        (db.clone(), p.name),
                        (p.duration_ns > 0).then_some(p.duration_ns),
                    )
                })
            })
            .collect();
        Ok(TargetServer {
            client,
            databases,
            retention: Some(retention),
        })
    }
}

/// The finite retention (ns) of each `(database, policy)` of the `targets` that
/// exist (`dbs`): their `SHOW RETENTION POLICIES` share requests, not one each.
async fn target_retention(
    client: &Client,
    targets: &BTreeSet<String>,
    dbs: &[String],
) -> anyhow::Result<BTreeMap<(String, String), Option<i64>>> {
    let existing = catalog::existing_targets(client, dbs, targets.iter().cloned()).await?;
    Ok(existing
        .into_iter()
        .flat_map(|(t, policies)| {
            policies.into_iter().map(move |p| {
                let finite = (p.duration_ns > 0).then_some(p.duration_ns);
                ((t.clone(), p.name), finite)
            })
        })
        .collect())
}

/// The open chunks a run would copy now (`--open`): never recorded, so they have no
/// record to mark verified.
async fn open_subjects(settings: &Settings) -> anyhow::Result<Vec<Subject>> {
    let p = migration::prepare(settings).await?;
    let open = p.plan.chunks.iter().filter(|c| !c.closed);
    Ok(open
        .map(|c| Subject {
            tenant: c.tenant.clone(),
            source_db: p.catalog.database.clone(),
            source_rp: p.catalog.source_rp.clone(),
            target: c.target.clone(),
            target_rp: c.target_rp.clone(),
            measurements: c.measurements.to_vec(),
            window: c.window,
            retention_ns: c.retention_ns,
            record: None,
        })
        .collect())
}

/// Checks every subject, `concurrency` at a time, appending a `Verified` line for each
/// recorded chunk that agrees and is not verified `already`, and a `Differs` line for
/// each recorded chunk whose target misses points.
async fn check_all(
    verifier: &Verifier<'_>,
    subjects: &[Subject],
    concurrency: usize,
    already: &HashSet<ChunkKey>,
    writer: &mut LedgerWriter,
    report: &mut VerifyReport,
) -> anyhow::Result<()> {
    let now = now_ns();
    // A hundred chunks' checks share requests (verify::batch); a chunk whose shared
    // statement failed is checked alone.
    let mut checks = stream::iter(subjects.chunks(TENANTS_PER_STATEMENT))
        .map(|group| async move {
            let shared = verifier.try_check_many(group, now).await;
            let mut out = Vec::with_capacity(group.len());
            for (s, r) in group.iter().zip(shared) {
                let c = match r {
                    Ok(c) => c,
                    Err(_) => verifier.check(s, now).await,
                };
                out.push((s, c));
            }
            out
        })
        .buffer_unordered(concurrency);
    while let Some(done) = checks.next().await {
        for (s, c) in done {
            record_check(s, &c, already, writer, report)?;
            report.add(c);
        }
    }
    Ok(())
}

/// Appends what a check of `s` found to the ledger: a `Verified` line for a recorded
/// chunk that agrees and is not verified `already`, a `Differs` line for a recorded
/// chunk whose target misses points.
fn record_check(
    s: &Subject,
    c: &ChunkCheck,
    already: &HashSet<ChunkKey>,
    writer: &mut LedgerWriter,
    report: &mut VerifyReport,
) -> anyhow::Result<()> {
    if c.verdict == Verdict::Agreed {
        let new = s
            .record
            .as_ref()
            .is_some_and(|r| !already.contains(&r.chunk_key()));
        if let Some(v) = s.verified_record().filter(|_| new) {
            writer.append(&v)?;
            report.recorded += 1;
        }
    }
    if let Some(d) = s
        .differs_record()
        .filter(|_| !c.verdict.losses().is_empty())
    {
        // The next run copies the chunk again (coverage drops it) and verifies it.
        writer.append(&d)?;
        report.recorded_differs += 1;
    }
    Ok(())
}

/// Runs `verify` and prints its report (JSON with `json`). Returns the exit code: 1
/// when a chunk differs or could not be checked, else 0.
pub async fn run(settings: &Settings, json: bool, opts: VerifyOptions) -> anyhow::Result<u8> {
    let report = watched(settings.run.liveness_timeout, verify(settings, opts)).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report.render());
    }
    Ok(report.exit_code())
}
