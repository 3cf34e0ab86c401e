//! Demo: a throwaway InfluxDB seeded with Monasca-shaped data, split into one database
//! per tenant by the real binary, then the results per tenant.
//!
//! Run it with `scripts/demo` (which installs InfluxDB if needed and builds the
//! binary); by hand: `cargo run --example demo -- target/release/influx-tenant-migrate`.

use anyhow::{bail, Context, Result};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use testkit::{dump, seed, DatasetSpec, InfluxServer, TenantSpec};

const WEEK: i64 = 7 * 86_400 * 1_000_000_000;

fn main() -> Result<()> {
    let bin = std::env::args()
        .nth(1)
        .context("usage: demo PATH-TO-influx-tenant-migrate")?;
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_nanos() as i64;

    step("starting a throwaway InfluxDB (private config, temp dir, loopback port)");
    let server = InfluxServer::start()?;
    println!(
        "influxd at {} (data in {})",
        server.url(),
        server.dir().display()
    );

    step("seeding Monasca-shaped data into database \"monasca\"");
    // Keystone project ids as tenants; one joined two weeks ago, one left a month ago.
    let mut spec = DatasetSpec::monasca(
        &[
            "3f1c2a9e8b7d4c6e9a0b1c2d3e4f5a6b",
            "a7b8c9d0e1f2435465768798a9b0c1d2",
        ],
        6,
        Duration::from_secs(600),
        now,
    );
    spec.tenants.push(
        TenantSpec::new("5e6f7a8b9c0d41e2f3a4b5c6d7e8f9a0").window(Some(now - 2 * WEEK), None),
    );
    spec.tenants.push(
        TenantSpec::new("c0ffee00c0ffee00c0ffee00c0ffee00").window(None, Some(now - 4 * WEEK)),
    );
    let points = seed(&server, "monasca", &spec)?;
    println!(
        "{points} points: {} tenants x {} metrics x {} hosts, every 10 minutes over 6 weeks",
        spec.tenants.len(),
        spec.metrics.len(),
        spec.hosts_per_tenant
    );

    let work = tempfile::tempdir()?;
    let ledger = work.path().join("demo.ledger");
    let keep_two_weeks = format!("{}=2w", spec.tenants[1].id);
    let tool = |args: &[&str]| -> Result<()> {
        println!("\n$ influx-tenant-migrate {}", args.join(" "));
        let mut cmd = Command::new(&bin);
        cmd.args(args);
        // `status` reads only the ledger; the other commands read the source too.
        if args[0] != "status" {
            cmd.arg("--source-url").arg(server.url());
        }
        let status = cmd
            .arg("--ledger")
            .arg(&ledger)
            .env("RUST_LOG", "warn")
            .status()
            .with_context(|| format!("cannot run {bin}"))?;
        if !status.success() {
            bail!("influx-tenant-migrate {} failed: {status}", args.join(" "));
        }
        Ok(())
    };

    step("dry run: what a run would do (writes nothing)");
    tool(&["plan", "--retention", &keep_two_weeks])?;
    step("migration: one database per tenant, one tenant keeping two weeks");
    tool(&["run", "--retention", &keep_two_weeks])?;
    step("rerun: only the open (newest) chunks are copied again, the rest is skipped");
    tool(&["run", "--retention", &keep_two_weeks])?;
    step("progress per tenant from the ledger");
    tool(&["status"])?;

    step("result per tenant: source points vs copied points, exact comparison");
    println!(
        "{:<34} {:<42} {:<8} {:>8} {:>8}  CHECK",
        "TENANT", "DATABASE", "POLICY", "SOURCE", "COPIED"
    );
    for t in &spec.tenants {
        let db = format!("monasca_{}", t.id);
        let source = dump(&server, "monasca", Some(("_tenant_id", &t.id)))?;
        let copied = dump(&server, &db, None)?;
        let rp = server
            .retention_policies(&db)?
            .into_iter()
            .find(|p| p.default)
            .map(|p| p.name)
            .unwrap_or_default();
        let check = if rp == "2w" {
            // Only the last two weeks are copied; each copied point must be the source's.
            let all_match = copied.measurements.iter().all(|(m, md)| {
                source.measurement(m).is_some_and(|s| {
                    s.field_types == md.field_types
                        && md.points.iter().all(|p| s.points.contains(p))
                })
            });
            format!("last 2 weeks only, every point identical: {all_match}")
        } else {
            format!(
                "identical (series, tags, fields, types, times): {}",
                source == copied
            )
        };
        println!(
            "{:<34} {:<42} {:<8} {:>8} {:>8}  {}",
            t.id,
            db,
            rp,
            source.point_count(),
            copied.point_count(),
            check
        );
    }
    println!(
        "\nsource database \"monasca\" untouched: {} points",
        dump(&server, "monasca", None)?.point_count()
    );
    ledger_note(&ledger);
    Ok(())
}

fn step(s: &str) {
    println!("\n==> {s}");
}

fn ledger_note(ledger: &Path) {
    if let Ok(text) = std::fs::read_to_string(ledger) {
        println!(
            "ledger: {} lines in {} (removed with the demo's temp dir)",
            text.lines().count(),
            ledger.display()
        );
    }
}
