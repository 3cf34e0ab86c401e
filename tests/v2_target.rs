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

/// What the source's shared database holds of one tenant ([`shared_of`]).
fn source_of(source: &InfluxServer, tenant: &str) -> Dump {
    shared_of(source, tenant)
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
        let m: Vec<_> = dbrps
            .iter()
            .filter(|m| m.database == db && !m.is_virtual)
            .collect();
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

    // A retention asked for a tenant whose bucket exists is reported with the 2.x
    // command that applies it, not applied.
    let o = run_to(&source, &v2, dir.path(), &["plan", "--retention", "t1=30d"]);
    assert_exit(&o, 0);
    let plan = String::from_utf8_lossy(&o.stdout).into_owned();
    let t1 = buckets.iter().find(|b| b.name == "monasca_t1").unwrap();
    assert!(
        plan.contains("retention not applied: database \"monasca_t1\"")
            && plan.contains(&format!("influx bucket update --id {} --retention ", t1.id)),
        "{plan}"
    );
    assert_eq!(v2.buckets().unwrap(), buckets, "plan changes no bucket");
}

/// Tenants monasca-persister writes (raw ids: no `/` or `\`), as in `tests/rollback.rs`.
const PERSISTER_TENANTS: &[&str] = &[
    "8f3c2a9e41b04d6f9d1e5a7b3c2d1e0f",
    "with space, comma=eq",
    "ünïcødé-租户",
];

/// Milliseconds since the epoch, `minutes_ago` minutes before now, on a whole minute.
fn ms_ago(minutes_ago: i64) -> i64 {
    let now_ms = now_ns() / 1_000_000;
    (now_ms - minutes_ago * 60_000) / 60_000 * 60_000
}

/// Timestamps (ms) monasca-api printed, sorted.
fn ms(ts: &[String]) -> Vec<i64> {
    let mut v: Vec<i64> = ts
        .iter()
        .map(|s| parse_time_ns(s).unwrap() / 1_000_000)
        .collect();
    v.sort();
    v
}

/// The Monasca cutover onto 2.x, as an operator meets it: a kolla-style `monasca`
/// (default policy `monasca_metrics`, 1w) with service users, written by
/// monasca-persister's own repository. Each tenant bucket keeps the policy's 7 days
/// and its name in the DBRP mapping; the users' grants become v1 authorizations on
/// every tenant bucket (READ -> read, WRITE -> write). After the switch the persister
/// (`db_per_tenant = True`, its password set by the operator) writes into the buckets
/// through their mappings, the final run passes, and monasca-api's own repository with
/// `db_per_tenant = True` reads from the 2.x server what it read from the shared 1.x
/// database plus what was written since.
#[test]
fn monasca_api_reads_the_buckets_through_dbrp() {
    let source =
        InfluxServer::start_with(testkit::ServerOptions::default().auth("admin", "adminpw"))
            .unwrap();
    source
        .query(
            None,
            "CREATE DATABASE monasca WITH DURATION 1w REPLICATION 1 NAME monasca_metrics",
        )
        .unwrap();
    for (user, privilege) in [("monasca-api", "READ"), ("monasca-persister", "WRITE")] {
        source
            .query(
                None,
                &format!("CREATE USER \"{user}\" WITH PASSWORD 'pw-{user}'"),
            )
            .unwrap();
        source
            .query(None, &format!("GRANT {privilege} ON monasca TO \"{user}\""))
            .unwrap();
    }
    let history = Messages::monasca(PERSISTER_TENANTS, ms_ago(3 * 24 * 60), 600_000, 300);
    persister::write(&source, &history, &PersisterOptions::default());
    let v2 = Influx2Server::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let login = ["--username", "admin", "--password", "adminpw"];

    // The dry run names what the run will create, and creates nothing.
    let mut args = vec!["plan"];
    args.extend(login);
    let o = run_to(&source, &v2, dir.path(), &args);
    assert_exit(&o, 0);
    let plan = String::from_utf8_lossy(&o.stdout).into_owned();
    for says in [
        "organization \"itm\"",
        &format!(
            "bucket \"{}\" of 1w, DBRP monasca_metrics (default)",
            target(PERSISTER_TENANTS[0])
        ),
        "v1 authorization \"monasca-api\": created with 3 bucket permission(s), without a password",
        "influx v1 auth set-password --username monasca-api",
    ] {
        assert!(plan.contains(says), "plan lacks {says:?}:\n{plan}");
    }
    assert!(
        v2.v1_authorizations().unwrap().is_empty()
            && v2.dbrps().unwrap().iter().all(|m| m.is_virtual)
    );

    let mut args = vec!["run", "--json"];
    args.extend(login);
    let o = run_to(&source, &v2, dir.path(), &args);
    assert_exit(&o, 0);
    let summary: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_all_verified(&summary, PERSISTER_TENANTS);
    let said = stderr(&o);
    assert!(
        said.contains(
            "grants: v1 authorization \"monasca-api\": created with 3 bucket permission(s)"
        ),
        "the summary names the authorizations, not 1.x grants: {said}"
    );

    let buckets = v2.buckets().unwrap();
    let dbrps = v2.dbrps().unwrap();
    let mut ids = Vec::new();
    for t in PERSISTER_TENANTS {
        let db = target(t);
        let b = buckets
            .iter()
            .find(|b| b.name == db)
            .unwrap_or_else(|| panic!("{db:?}: {buckets:?}"));
        assert_eq!(b.every_seconds, 7 * 86_400, "mirrors monasca_metrics");
        assert_eq!(
            b.shard_group_seconds, 86_400,
            "InfluxDB's guidance for 7 days"
        );
        let m = dbrps
            .iter()
            .find(|m| m.database == db && !m.is_virtual)
            .unwrap();
        assert_eq!(
            (m.retention_policy.as_str(), m.default),
            ("monasca_metrics", true)
        );
        ids.push(b.id.clone());
    }
    ids.sort();
    let auths = v2.v1_authorizations().unwrap();
    let of = |user: &str| auths.iter().find(|a| a.0 == user).map(|a| a.1.clone());
    let reads: Vec<(String, String)> = ids
        .iter()
        .map(|id| ("read".to_string(), id.clone()))
        .collect();
    let writes: Vec<(String, String)> = ids
        .iter()
        .map(|id| ("write".to_string(), id.clone()))
        .collect();
    assert_eq!(of("monasca-api"), Some(reads), "{auths:?}");
    assert_eq!(of("monasca-persister"), Some(writes), "{auths:?}");
    assert!(of("admin").is_none(), "admins are not mirrored: {auths:?}");

    // The switch: the persister, now with `db_per_tenant = True` and its own v1
    // authorization (password set by the operator), writes into the tenant buckets
    // through their DBRP mappings; then the final run closes everything.
    v2.set_v1_password("monasca-persister", "pw-monasca-persister")
        .unwrap();
    let switched = Messages::monasca(PERSISTER_TENANTS, ms_ago(60), 60_000, 10);
    let per_tenant = PersisterOptions {
        db_per_tenant: true,
        ..PersisterOptions::default()
    };
    persister::write_at(
        &v2.url(),
        ("monasca-persister", "pw-monasca-persister"),
        &switched,
        &per_tenant,
    );
    let mut args = vec!["run", "--json", "--final"];
    args.extend(login);
    let o = run_to(&source, &v2, dir.path(), &args);
    assert_exit(&o, 0);

    v2.set_v1_password("monasca-api", "pw-monasca-api").unwrap();
    let dims: BTreeMap<String, String> = [("hostname".to_string(), "node-1".to_string())].into();
    let alarm_ids: Vec<String> = (0..PERSISTER_TENANTS.len())
        .map(|i| format!("alarm-{i}"))
        .collect();
    let before = persister::api_read(
        &source,
        "monasca",
        false,
        PERSISTER_TENANTS,
        ("cpu.idle_perc", &dims),
        &alarm_ids,
    );
    let after = persister::api_read_at(
        &v2.url(),
        ("monasca-api", "pw-monasca-api"),
        "monasca",
        true,
        PERSISTER_TENANTS,
        ("cpu.idle_perc", &dims),
        &alarm_ids,
    );
    for t in PERSISTER_TENANTS {
        let (b, a) = (&before[*t], &after[*t]);
        assert_eq!(
            b.measurements.len(),
            300,
            "{t:?}: monasca-api reads the source"
        );
        let mut expected = ms(&b.measurements);
        expected.extend(
            switched
                .metrics
                .iter()
                .filter(|m| {
                    m.tenant == *t
                        && m.name == "cpu.idle_perc"
                        && m.dimensions["hostname"] == "node-1"
                })
                .map(|m| m.timestamp_ms),
        );
        expected.sort();
        assert_eq!(
            ms(&a.measurements),
            expected,
            "{t:?}: measurements before and after the switch"
        );
        assert!(!b.alarms.is_empty(), "{t:?}");
        let mut alarms = ms(&b.alarms);
        alarms.extend(
            switched
                .alarms
                .iter()
                .filter(|a| a.tenant == *t)
                .map(|a| a.timestamp_ms),
        );
        alarms.sort();
        assert_eq!(
            ms(&a.alarms),
            alarms,
            "{t:?}: alarm history before and after the switch"
        );
    }

    // A tenant that first writes after that run gets its bucket on the next; the
    // users' authorizations cannot gain it (2.x cannot change an authorization's
    // permissions): the plan and the run's log say how to recreate them.
    let newcomer = "newcomer-tenant";
    persister::write(
        &source,
        &Messages::monasca(&[newcomer], ms_ago(120), 600_000, 6),
        &PersisterOptions::default(),
    );
    let mut args = vec!["plan"];
    args.extend(login);
    let o = run_to(&source, &v2, dir.path(), &args);
    let plan = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        plan.contains("v1 authorization \"monasca-api\" lacks 1 tenant bucket permission(s)")
            && plan.contains("influx v1 auth delete --username monasca-api"),
        "{plan}"
    );
    let mut args = vec!["run", "--json"];
    args.extend(login);
    let o = run_to(&source, &v2, dir.path(), &args);
    assert_exit(&o, 0);
    assert!(
        stderr(&o).contains("lacks tenant buckets"),
        "{}",
        stderr(&o)
    );
    assert_same(
        &source_of(&source, newcomer),
        &dump(&v2, &target(newcomer), None).unwrap(),
    );
}

/// The delta phase on a 2.x target: after a first run, the persister's new points and
/// a late point written into a window already recorded (older than the settle line)
/// reach the buckets on the rerun (the late recheck reopens that window, and it is
/// copied and verified again), with only the margin after the settle line left open.
#[test]
fn reruns_pick_up_new_and_late_points() {
    let source = InfluxServer::start().unwrap();
    let v2 = Influx2Server::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let tenants = &PERSISTER_TENANTS[..2];
    persister::write(
        &source,
        &Messages::monasca(tenants, ms_ago(2 * 24 * 60), 600_000, 270),
        &PersisterOptions::default(),
    );
    let first = migrate_to(&source, &v2, dir.path(), &[], 0);
    assert_all_verified(&first, tenants);
    assert_split(&source, &v2, tenants);
    let recorded = ledger_records(dir.path()).len();

    // New points after the first run, and one late point six hours back.
    persister::write(
        &source,
        &Messages::monasca(tenants, ms_ago(5), 60_000, 3),
        &PersisterOptions::default(),
    );
    let mut late = Messages::default();
    late.metrics.push(persister::Metric::new(
        tenants[0],
        "cpu.idle_perc",
        "late-host",
        ms_ago(6 * 60) + 7,
        42.0,
    ));
    persister::write(&source, &late, &PersisterOptions::default());

    let again = migrate_to(&source, &v2, dir.path(), &[], 0);
    let reopened = again["late"]["reopened"]
        .as_array()
        .map(Vec::len)
        .unwrap_or(0);
    assert!(
        reopened > 0,
        "the late point reopened its window: {:#}",
        again["late"]
    );
    assert_all_verified(&again, &tenants[..1]);
    assert!(
        ledger_records(dir.path()).len() > recorded,
        "the reopened window is recorded again"
    );
    assert_split(&source, &v2, tenants);
    let late_dump = dump(&v2, &target(tenants[0]), None).unwrap();
    let host_points = late_dump
        .measurement("cpu.idle_perc")
        .unwrap()
        .points
        .iter()
        .filter(|p| p.series.tags.get("hostname").map(String::as_str) == Some("late-host"))
        .count();
    assert_eq!(host_points, 1, "the late point is in the bucket");
}

/// Points lost from a bucket behind the tool's back are found: `verify --all` against
/// the 2.x target checks every recorded chunk there, exits 1 naming the chunk, and
/// records it as differing; the next run copies it again, and `verify --all` then
/// agrees. Everything else stays verified and exact.
#[test]
fn lost_points_fail_verify_and_the_rerun_repairs_them() {
    let source = InfluxServer::start().unwrap();
    let v2 = Influx2Server::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let spec = DatasetSpec::monasca(&["t1", "t2"], 2, std::time::Duration::from_secs(3600), END);
    seed(&source, "monasca", &spec).unwrap();
    migrate_to(&source, &v2, dir.path(), &[], 0);
    let verify = |code: i32| -> Value {
        let o = run_to(&source, &v2, dir.path(), &["verify", "--all", "--json"]);
        assert_exit(&o, code);
        serde_json::from_slice(&o.stdout).expect("verify --json prints JSON")
    };
    let clean = verify(0);
    assert!(
        clean["tenants"]["t1"]["agreed"].as_u64().unwrap() > 0,
        "{clean:#}"
    );

    v2.delete_points("monasca_t1", END - 30 * HOUR, END - 20 * HOUR)
        .unwrap();
    let found = verify(1);
    assert!(
        found["tenants"]["t1"]["differ"].as_u64().unwrap() > 0,
        "{found:#}"
    );
    assert_eq!(found["tenants"]["t2"]["differ"], 0, "{found:#}");
    assert!(found["recorded_differs"].as_u64().unwrap() > 0, "{found:#}");

    let repaired = migrate_to(&source, &v2, dir.path(), &[], 0);
    assert!(
        repaired["points_written"].as_u64().unwrap() > 0,
        "{repaired}"
    );
    assert_all_verified(&repaired, &["t1"]);
    verify(0);
    assert_split(&source, &v2, &["t1", "t2"]);
}

/// A bucket of a tenant's name that already exists (an operator's earlier attempt,
/// with another retention and a point the source does not hold) is used as it is: its
/// retention is not altered, the run maps it and copies into it, and the extra point
/// is reported, not deleted (as on 1.x, see docs/VERIFY.md).
#[test]
fn an_existing_bucket_is_used_as_it_is() {
    let source = InfluxServer::start().unwrap();
    let v2 = Influx2Server::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let spec = DatasetSpec::monasca(&["t1", "t2"], 2, std::time::Duration::from_secs(3600), END);
    seed(&source, "monasca", &spec).unwrap();
    v2.create_bucket("monasca_t1", 2000 * 86_400).unwrap();
    v2.write_lines(
        "monasca_t1",
        &format!(
            "cpu.idle_perc,_tenant_id=t1,hostname=intruder value=1 {}\n",
            END - 2 * HOUR
        ),
    )
    .unwrap();

    let o = run_to(&source, &v2, dir.path(), &["run", "--json"]);
    assert_exit(&o, 0);
    let err = stderr(&o);
    assert!(
        err.contains("EXTRA tenant \"t1\"") && err.contains("the target holds more points"),
        "{err}"
    );
    let b = v2
        .buckets()
        .unwrap()
        .into_iter()
        .find(|b| b.name == "monasca_t1")
        .unwrap();
    assert_eq!(
        b.every_seconds,
        2000 * 86_400,
        "the existing bucket is not altered"
    );
    let m = v2
        .dbrps()
        .unwrap()
        .into_iter()
        .find(|m| m.database == "monasca_t1" && !m.is_virtual);
    assert_eq!(
        m.map(|m| m.bucket_id),
        Some(b.id),
        "mapped to the existing bucket"
    );
    assert_same(
        &source_of(&source, "t2"),
        &dump(&v2, "monasca_t2", None).unwrap(),
    );
    let mut t1 = dump(&v2, "monasca_t1", None).unwrap();
    let m = t1.measurements.get_mut("cpu.idle_perc").unwrap();
    m.points
        .retain(|p| p.series.tags.get("hostname").map(String::as_str) != Some("intruder"));
    assert_same(&source_of(&source, "t1"), &t1);
}

/// A refused token stops the run before anything is written: exit 2, one line naming
/// the server and the setting, never the token; so does a 2.x target without
/// `target.org`, and an organization that does not exist. A good token from
/// `ITM__TARGET__TOKEN` works and appears in no log line and no file the run writes.
#[test]
fn a_bad_token_or_org_is_one_line() {
    let source = InfluxServer::start().unwrap();
    let v2 = Influx2Server::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    seed(
        &source,
        "monasca",
        &DatasetSpec::monasca(&["t1"], 1, std::time::Duration::from_secs(3600), END),
    )
    .unwrap();
    let before = v2.buckets().unwrap();
    let url = v2.url();
    let bad = token_file(dir.path(), "not-the-token");
    let cases: [(&[&str], &str); 3] = [
        (
            &["--target-org", ORG, "--target-token-file", &bad],
            "token was refused",
        ),
        (&["--target-token-file", &bad], "set target.org"),
        (
            &["--target-org", "no-such-org", "--target-token-file", &bad],
            "token was refused",
        ),
    ];
    for (flags, says) in cases {
        let mut args = vec!["run", "--target-url", &url];
        args.extend_from_slice(flags);
        let o = run(&source, dir.path(), &args);
        assert_exit(&o, 2);
        let err = stderr(&o);
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(err.contains(says) && err.contains(&url), "{err}");
        assert!(
            !err.contains("not-the-token"),
            "the token is never printed: {err}"
        );
    }
    let good = token_file(dir.path(), ADMIN_TOKEN);
    let o = run(
        &source,
        dir.path(),
        &[
            "run",
            "--target-url",
            &url,
            "--target-org",
            "no-such-org",
            "--target-token-file",
            &good,
        ],
    );
    assert_exit(&o, 2);
    let err = stderr(&o);
    assert!(
        err.trim().lines().count() == 1 && err.contains("organization \"no-such-org\" not found"),
        "{err}"
    );
    assert_eq!(v2.buckets().unwrap(), before, "nothing was created");
    assert!(ledger_records(dir.path()).is_empty());
    // Given through the environment, the token works and never shows: not in debug
    // logs, not in the ledger, the run report or the failure report.
    let report = dir.path().join("report.json");
    let report_arg = report.display().to_string();
    let mut c = tool(
        &source,
        dir.path(),
        &[
            "run",
            "--target-url",
            &url,
            "--target-org",
            ORG,
            "--log-level",
            "debug",
            "--report",
            &report_arg,
        ],
    );
    c.env("ITM__TARGET__TOKEN", ADMIN_TOKEN);
    let o = output(c);
    assert_exit(&o, 0);
    assert!(
        !stderr(&o).contains(ADMIN_TOKEN)
            && !String::from_utf8_lossy(&o.stdout).contains(ADMIN_TOKEN)
    );
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        if path.file_name().is_some_and(|n| n != "token") && path.is_file() {
            let text = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
            assert!(
                !text.contains(ADMIN_TOKEN),
                "{} holds the token",
                path.display()
            );
        }
    }
    assert!(report.exists() && !ledger_records(dir.path()).is_empty());
}
