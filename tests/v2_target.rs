//! An InfluxDB 2.x target: one bucket per tenant with a DBRP mapping under the tenant
//! database's name, written with `/api/v2/write` and read back (dumps, checks,
//! monasca-api's own repository) through the 2.x server's InfluxQL compatibility
//! endpoint. The 2.x server is a real one, built by `scripts/influxd 2.x` and set up by
//! testkit through `/api/v2/setup`; the 1.x source is a real `influxd` too.

mod common;

use common::persister::{self, Messages, PersisterOptions};
use common::*;
use influx_tenant_migrate::core::window::parse_time_ns;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Output;
use testkit::server2::{ADMIN_TOKEN, ORG};
use testkit::{assert_same, dump, seed, DatasetSpec, Dump, Influx2Server, InfluxServer, Point};

/// 2024-01-01T00:00:00Z: seeded data ends here, so every chunk is closed.
const END: i64 = 1_704_067_200_000_000_000;
const HOUR: i64 = 3_600_000_000_000;

/// Ids with what bucket names, InfluxQL and line protocol treat specially: a slash
/// (encoded in the database name), a quote (2.x refuses it in bucket names), a space,
/// a comma and unicode.
const TENANTS: [&str; 4] = ["t1", "p/q", "it\"s", "ü x,y"];

/// Writes the token where `--target-token-file` reads it; returns the path.
fn token_file(dir: &Path, token: &str) -> String {
    let p = dir.join("token");
    std::fs::write(&p, format!("{token}\n")).unwrap();
    p.display().to_string()
}

/// Runs the tool against `source` with `target` as the 2.x target.
fn run_to(source: &InfluxServer, v2: &Influx2Server, dir: &Path, args: &[&str]) -> Output {
    let token = token_file(dir, ADMIN_TOKEN);
    let mut all: Vec<&str> = args.to_vec();
    let url = v2.url();
    all.extend([
        "--target-url",
        &url,
        "--target-org",
        ORG,
        "--target-token-file",
        &token,
    ]);
    run(source, dir, &all)
}

/// `run --json` to the 2.x target, expecting `code`; the summary.
fn migrate_to(
    source: &InfluxServer,
    v2: &Influx2Server,
    dir: &Path,
    extra: &[&str],
    code: i32,
) -> Value {
    let mut args = vec!["run", "--json"];
    args.extend_from_slice(extra);
    let o = run_to(source, v2, dir, &args);
    assert_exit(&o, code);
    serde_json::from_slice(&o.stdout).expect("run --json prints JSON")
}

/// Points with every field type, escapes in names and values, and rows with only
/// some fields set.
fn awkward_lines(tenant: &str, t0: i64) -> String {
    let mut out = String::new();
    for i in 0..6i64 {
        let p = Point::new("check status,x")
            .tag("_tenant_id", tenant)
            .tag(
                "where",
                ["a b,c=d", "C:\\tmp\\x", "\"quoted\""][i as usize % 3],
            )
            .field("ok", i % 2 == 0)
            .field(
                "msg",
                ["say \"hi\"", "line1\nline2", "tab\tü"][i as usize % 3],
            )
            .field("n", [i64::MAX, i64::MIN, -1][i as usize % 3])
            .field("f", [0.1 + 0.2, 1e300, -0.0][i as usize % 3])
            .time(t0 + i * 1_000_000_007);
        out.push_str(&p.to_line().unwrap());
        out.push('\n');
    }
    out
}

fn source_of(source: &InfluxServer, tenant: &str) -> Dump {
    dump(source, "monasca", Some(("_tenant_id", tenant))).unwrap()
}

/// Every tenant's bucket, read through its DBRP mapping, holds exactly the source's
/// points of that tenant: series, tags, fields, field types, timestamps.
fn assert_split(source: &InfluxServer, v2: &Influx2Server, tenants: &[&str]) {
    for t in tenants {
        let expected = source_of(source, t);
        assert!(expected.point_count() > 0, "{t:?} has no source points");
        let actual = dump(v2, &target(t), None).unwrap();
        assert_same(&expected, &actual);
    }
}

/// Every tenant's chunks were checked and agreed, and nothing was left unverified.
fn assert_all_verified(summary: &Value, tenants: &[&str]) {
    let v = &summary["verification"];
    assert!(v["recorded"].as_u64().unwrap() > 0, "{v:#}");
    assert_eq!(v["mismatches"].as_array().map(Vec::len), Some(0), "{v:#}");
    for t in tenants {
        let c = &v["tenants"][t];
        assert!(c["checked"].as_u64().unwrap() > 0, "{t:?}: {v:#}");
        assert_eq!(c["agreed"], c["checked"], "{t:?}: {v:#}");
    }
}

/// The tenants of a seeded 1.x source land in one bucket each on a 2.x server, exact
/// through InfluxQL; each bucket mirrors the source policy (infinite: retention 0, shard
/// groups after InfluxDB's guidance) and is mapped as its database's default policy
/// under the name a 1.x target database would have; a rerun copies nothing.
#[test]
fn splits_into_one_bucket_per_tenant() {
    let source = InfluxServer::start().unwrap();
    let v2 = Influx2Server::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let spec = DatasetSpec::monasca(&TENANTS, 3, std::time::Duration::from_secs(3600), END);
    seed(&source, "monasca", &spec).unwrap();
    for t in TENANTS {
        source
            .write_lines("monasca", &awkward_lines(t, END - 30 * HOUR))
            .unwrap();
    }

    let first = migrate_to(&source, &v2, dir.path(), &[], 0);
    assert_split(&source, &v2, &TENANTS);
    assert_eq!(
        first["failures"].as_array().map(Vec::len),
        Some(0),
        "{first}"
    );
    assert_all_verified(&first, &TENANTS);

    let buckets = v2.buckets().unwrap();
    let dbrps = v2.dbrps().unwrap();
    for t in TENANTS {
        let db = target(t);
        let bucket_name = influx_tenant_migrate::plan::bucket_name(&db);
        let b = buckets
            .iter()
            .find(|b| b.name == bucket_name)
            .unwrap_or_else(|| panic!("no bucket {bucket_name:?} in {buckets:?}"));
        assert_eq!(b.every_seconds, 0, "infinite, as the source's autogen");
        assert_eq!(
            b.shard_group_seconds,
            52 * 7 * 86_400,
            "InfluxDB's guidance for infinite"
        );
        let m: Vec<_> = dbrps.iter().filter(|m| m.database == db).collect();
        assert_eq!(m.len(), 1, "{db:?}: {dbrps:?}");
        assert_eq!(
            (m[0].retention_policy.as_str(), m[0].default),
            ("autogen", true)
        );
        assert_eq!(m[0].bucket_id, b.id);
    }
    assert!(
        buckets.iter().any(|b| b.name == "monasca_it%22s"),
        "the quote is encoded in the bucket name: {buckets:?}"
    );

    let records = ledger_records(dir.path()).len();
    let again = migrate_to(&source, &v2, dir.path(), &[], 0);
    assert_eq!(again["points_written"], 0, "{again}");
    assert_eq!(
        ledger_records(dir.path()).len(),
        records,
        "a rerun records nothing new"
    );
    assert_split(&source, &v2, &TENANTS);
}
