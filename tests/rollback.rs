//! The way back after a cutover: `rollback` copies what monasca-persister (its own
//! InfluxDB repositories, `common::persister`) wrote into the tenant databases after the
//! switch back into the shared database, on a kolla-style `monasca` (no `autogen`, a 1w
//! default policy `monasca_metrics`).

mod common;

use common::persister::{self, Messages, PersisterOptions};
use common::*;
use influx_tenant_migrate::core::window::parse_time_ns;
use serde_json::Value;
use std::collections::BTreeMap;
use testkit::{dump, Dump, InfluxServer};

/// Tenants the persister writes with `db_per_tenant = True` (it names the database
/// after the raw id, so no `/` or `\`): ids with quotes, spaces, commas and unicode.
const TENANTS: &[&str] = &[
    "8f3c2a9e41b04d6f9d1e5a7b3c2d1e0f",
    "it's \"quoted\"",
    "with space, comma=eq",
    "ünïcødé-租户",
];

/// A tenant that first writes after the switch: the persister creates its database.
const NEWCOMER: &str = "newcomer-tenant";

/// Milliseconds since the epoch, `minutes_ago` minutes before now, on a whole minute.
fn ms_ago(minutes_ago: i64) -> i64 {
    let now_ms = now_ns() / 1_000_000;
    (now_ms - minutes_ago * 60_000) / 60_000 * 60_000
}

/// The shared database as kolla-ansible creates it.
fn kolla_monasca(server: &InfluxServer) {
    server
        .query(
            None,
            "CREATE DATABASE monasca WITH DURATION 1w REPLICATION 1 NAME monasca_metrics",
        )
        .unwrap();
}

fn per_tenant(on: bool) -> PersisterOptions {
    PersisterOptions {
        db_per_tenant: on,
        ..PersisterOptions::default()
    }
}

/// Asserts that the shared database holds exactly the tenant database's points of the
/// tenant: series, tags, fields, field types, timestamps.
fn assert_rolled_back(server: &InfluxServer, stored: &str, db: &str) {
    let expected = dump(server, db, None).unwrap();
    assert!(expected.point_count() > 0, "{db:?} is empty");
    testkit::assert_same(&expected, &shared_of(server, stored));
}

/// Runs `rollback --json` with `extra`, expecting exit 0; the summary.
fn rollback(server: &InfluxServer, dir: &std::path::Path, extra: &[&str]) -> Value {
    let mut args = vec!["rollback", "--json"];
    args.extend_from_slice(extra);
    let o = run(server, dir, &args);
    assert_exit(&o, 0);
    serde_json::from_slice(&o.stdout).expect("rollback --json prints JSON")
}

/// The ledger's copied lines of the rollback (source a tenant database, target
/// `monasca`).
fn rollback_records(dir: &std::path::Path) -> Vec<Value> {
    ledger_records(dir)
        .into_iter()
        .filter(|r| r["target"] == "monasca")
        .collect()
}

const HOUR: &[&str] = &["--time-unit", "hour", "--settle", "1s"];

/// After a forward run, the persister with `db_per_tenant = True` writes new points
/// for every tenant and a brand-new one (whose database it creates): the dry run lists
/// them with point counts and writes nothing; rollback then copies exactly them into
/// `monasca`'s default policy (per tenant the shared database equals the tenant
/// database: tags `_tenant_id`, `_region`, alarm history's `tenant_id` tag and string
/// field, field types); a rerun after more writes copies only the new closed windows;
/// the persister switched back writes beside them, a rollback then still exits 0 (extra
/// points reported, not failed), and a read the way monasca-api reads with
/// `db_per_tenant = False` (default policy, tenant filter) sees every tenant's history
/// before, during and after the switch. Databases outside the naming rule are not
/// touched.
#[test]
fn rollback_merges_post_switch_points_exactly() {
    let server = InfluxServer::start().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    kolla_monasca(&server);
    let history = Messages::monasca(TENANTS, ms_ago(48 * 60), 600_000, 8);
    persister::write(&server, &history, &per_tenant(false));
    migrate(&server, dir, HOUR);
    for t in TENANTS {
        assert_rolled_back(&server, t, &target(t));
    }

    // Beside them: a database outside the naming rule, and one inside it holding
    // another tenant's points; neither is read or written.
    let line = format!(
        "cpu.idle_perc,_tenant_id={},hostname=x value=1 {}",
        TENANTS[0],
        ms_ago(200) * 1_000_000
    );
    for db in ["backup", "monasca_old"] {
        server.create_database(db).unwrap();
        server.write_lines(db, &line).unwrap();
    }
    let untouched: Vec<Dump> = ["backup", "monasca_old"]
        .iter()
        .map(|d| dump(&server, d, None).unwrap())
        .collect();

    // The switch: the persister writes into tenant databases, one of them new.
    let mut all: Vec<&str> = TENANTS.to_vec();
    all.push(NEWCOMER);
    // Hour-aligned phases, so that each lands in a closed hour of its own.
    let hour0 = ms_ago(0) / 3_600_000 * 3_600_000;
    let after = Messages::monasca(&all, hour0 - 4 * 3_600_000 + 600_000, 60_000, 8);
    persister::write(&server, &after, &per_tenant(true));
    let newcomer_db = target(NEWCOMER);
    assert!(databases(&server).contains(&newcomer_db));
    // The persister keeps the tenant tags in the tenant databases.
    let d = dump(&server, &target(TENANTS[1]), None).unwrap();
    let p = &d.measurement("cpu.idle_perc").unwrap().points[0];
    assert_eq!(p.series.tags["_tenant_id"], TENANTS[1]);
    assert_eq!(p.series.tags["_region"], "RegionOne");

    // Dry run: lists, counts, writes nothing.
    let before = dump(&server, "monasca", None).unwrap();
    let ledger_before = std::fs::read_to_string(ledger_path(dir)).unwrap();
    let o = run(
        &server,
        dir,
        &[
            "rollback",
            "--dry-run",
            "--json",
            HOUR[0],
            HOUR[1],
            HOUR[2],
            HOUR[3],
        ],
    );
    assert_exit(&o, 0);
    let plan: Value = serde_json::from_slice(&o.stdout).unwrap();
    let sources: Vec<&Value> = plan["sources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["tenants"].as_array().is_some_and(|t| !t.is_empty()))
        .collect();
    assert_eq!(sources.len(), all.len(), "{plan:#}");
    let newcomer = sources
        .iter()
        .find(|s| s["database"] == newcomer_db.as_str())
        .unwrap();
    assert_eq!(newcomer["new"], true);
    // 8 steps of three metric points, and an alarm transition every fourth step: a
    // new database whole, a migrated one from where the forward run's records end,
    // without the history already in monasca.
    assert_eq!(newcomer["points"], 8 * 3 + 2);
    assert!(sources.iter().all(|s| s["points"] == 8 * 3 + 2), "{plan:#}");
    assert!(sources
        .iter()
        .all(|s| s["database"] == newcomer_db.as_str() || s["new"] == false));
    assert_eq!(plan["foreign"]["monasca_old"][0], TENANTS[0]);
    testkit::assert_same(&before, &dump(&server, "monasca", None).unwrap());
    assert_eq!(
        std::fs::read_to_string(ledger_path(dir)).unwrap(),
        ledger_before
    );

    let s = rollback(&server, dir, HOUR);
    let v = &s["verification"];
    // Compared tenant by tenant on the shared side: nothing extra, nothing lost.
    assert!(v["recorded"].as_u64().unwrap() > 0, "{s:#}");
    assert_eq!(v["extra"], serde_json::json!([]), "{s:#}");
    assert_eq!(v["mismatches"], serde_json::json!([]), "{s:#}");
    for t in &all {
        assert_rolled_back(&server, t, &target(t));
    }
    for (db, d) in ["backup", "monasca_old"].iter().zip(&untouched) {
        testkit::assert_same(d, &dump(&server, db, None).unwrap());
    }
    let first = rollback_records(dir);
    assert!(!first.is_empty(), "{s:#}");
    assert!(first.iter().all(|r| r["target_rp"] == "monasca_metrics"));

    // More writes into the tenant databases, then the persister switched back writes
    // into monasca in the same (closed) hour; the timer's next rollback copies only
    // the new points, and the tenant's points monasca holds beyond them are reported
    // as extra, not failed.
    let hour2 = hour0 - 2 * 3_600_000;
    let more = Messages::monasca(&all, hour2 + 300_000, 60_000, 4);
    persister::write(&server, &more, &per_tenant(true));
    let back = Messages::monasca(&all, hour2 + 1_800_000, 60_000, 4);
    persister::write(&server, &back, &per_tenant(false));
    let s = rollback(&server, dir, HOUR);
    // Per tenant 4 steps of three metric points and one alarm transition.
    assert_eq!(s["points_written"], all.len() * (4 * 3 + 1), "{s:#}");
    assert!(
        !s["verification"]["extra"].as_array().unwrap().is_empty(),
        "{s:#}"
    );
    let second = rollback_records(dir);
    let window = |r: &Value| {
        let key = ["source_db", "tenant", "measurements", "start"];
        key.map(|k| r[k].to_string())
    };
    assert!(second.len() > first.len());
    for r in &second[first.len()..] {
        assert!(
            !first.iter().any(|f| window(f) == window(r)),
            "recopied a recorded window: {r}"
        );
    }

    // monasca-api's own repository with db_per_tenant = False reads every tenant's
    // history from monasca: every point of every phase, before, during and after the
    // switch, none missing. (It puts tenant ids into its queries unescaped, so ids
    // with a quote cannot be read through it at all.)
    let readable: Vec<&str> = all.iter().copied().filter(|t| !t.contains('\'')).collect();
    let dims: BTreeMap<String, String> = [("hostname".to_string(), "node-1".to_string())].into();
    let alarm_ids: Vec<String> = (0..all.len()).map(|i| format!("alarm-{i}")).collect();
    let read = persister::api_read(
        &server,
        "monasca",
        false,
        &readable,
        ("cpu.idle_perc", &dims),
        &alarm_ids,
    );
    let phases = [&history, &after, &more, &back];
    for t in &readable {
        let got = &read[*t];
        let ms = |ts: &[String]| -> Vec<i64> {
            let mut v: Vec<i64> = ts
                .iter()
                .map(|s| parse_time_ns(s).unwrap() / 1_000_000)
                .collect();
            v.sort();
            v
        };
        let mut metrics: Vec<i64> = phases
            .iter()
            .flat_map(|m| &m.metrics)
            .filter(|m| {
                m.tenant == *t && m.name == "cpu.idle_perc" && m.dimensions["hostname"] == "node-1"
            })
            .map(|m| m.timestamp_ms)
            .collect();
        metrics.sort();
        let mut alarms: Vec<i64> = phases
            .iter()
            .flat_map(|m| &m.alarms)
            .filter(|a| a.tenant == *t)
            .map(|a| a.timestamp_ms)
            .collect();
        alarms.sort();
        assert_eq!(ms(&got.measurements), metrics, "{t:?}");
        assert_eq!(ms(&got.alarms), alarms, "{t:?}");
    }
}

/// Tenant ids the persister cannot name a database after (a backslash) or that need
/// quoting (quotes, unicode) round-trip the way back: points written into the
/// databases the forward run created (`%5C`-encoded) come back into `monasca` with the
/// tenant tag exactly as stored.
#[test]
fn odd_tenant_ids_round_trip_the_way_back() {
    let tenants = ["back\\slash", "it's \"q\" ü租"];
    let server = InfluxServer::start().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    kolla_monasca(&server);
    let history = Messages::monasca(&tenants, ms_ago(48 * 60), 600_000, 4);
    persister::write(&server, &history, &per_tenant(false));
    migrate(&server, dir, HOUR);
    for t in tenants {
        let stored = persister::stored_tenant(t);
        let db = target(&stored);
        let lines: Vec<String> = (0..5)
            .map(|i| {
                testkit::Point::new("cpu.idle_perc")
                    .tag("_tenant_id", stored.as_str())
                    .tag("_region", "RegionOne")
                    .tag("hostname", "node 2")
                    .field("value", 1.5 + i as f64)
                    .time((ms_ago(120) + i * 60_000) * 1_000_000)
                    .to_line()
                    .unwrap()
            })
            .collect();
        server.write_lines(&db, &lines.join("\n")).unwrap();
    }
    // The dry run's table names each tenant database as the server lists it.
    let o = run(
        &server,
        dir,
        &["rollback", "--dry-run", HOUR[0], HOUR[1], HOUR[2], HOUR[3]],
    );
    assert_exit(&o, 0);
    let text = String::from_utf8_lossy(&o.stdout);
    for t in tenants {
        assert!(
            text.contains(&target(&persister::stored_tenant(t))),
            "{text}"
        );
    }
    assert!(text.ends_with("dry run: nothing written\n"), "{text}");
    rollback(&server, dir, HOUR);
    for t in tenants {
        let stored = persister::stored_tenant(t);
        assert_rolled_back(&server, &stored, &target(&stored));
    }
    // The rollback's records are a scope of their own: a forward run afterwards plans
    // and copies as before, and the two sides still agree.
    let s = migrate(&server, dir, HOUR);
    assert_eq!(s["failures"], serde_json::json!([]), "{s:#}");
    for t in tenants {
        let stored = persister::stored_tenant(t);
        assert_rolled_back(&server, &stored, &target(&stored));
    }
}

/// A chunk the shared database refuses (a field whose type differs there) fails the
/// rollback with exit 1, listed with its statement in the summary and the failure
/// report, like a failed `run` chunk; the other tenant's points are copied back.
#[test]
fn refused_chunk_exits_1_and_is_reported() {
    let server = InfluxServer::start().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    server.create_database("monasca").unwrap();
    let t0 = (ms_ago(180) / 3_600_000 * 3_600_000) * 1_000_000;
    server
        .write_lines("monasca", &format!("m,_tenant_id=a value=1.5 {t0}"))
        .unwrap();
    // A tenant database the persister created and never wrote to is no trouble.
    server.create_database("monasca_empty").unwrap();
    for (db, v) in [("monasca_b", "7i"), ("monasca_c", "2.5")] {
        server.create_database(db).unwrap();
        let tenant = &db["monasca_".len()..];
        let lines: Vec<String> = (1..4)
            .map(|i| {
                format!(
                    "m,_tenant_id={tenant} value={v} {}",
                    t0 + i * 60_000_000_000
                )
            })
            .collect();
        server.write_lines(db, &lines.join("\n")).unwrap();
    }
    let o = run(
        &server,
        dir,
        &[
            "rollback",
            "--json",
            "--retries",
            "0",
            HOUR[0],
            HOUR[1],
            HOUR[2],
            HOUR[3],
        ],
    );
    assert_exit(&o, 1);
    let s: Value = serde_json::from_slice(&o.stdout).unwrap();
    let failures = s["failures"].as_array().unwrap();
    assert_eq!(failures.len(), 1, "{s:#}");
    assert_eq!(failures[0]["chunk"]["tenant"], "b", "{s:#}");
    assert!(
        failures[0]["query"]
            .as_str()
            .unwrap()
            .contains("\"monasca_b\""),
        "{s:#}"
    );
    let report = ledger_path(dir).with_extension("ledger.failures.json");
    assert!(report.exists(), "{}", report.display());
    assert_rolled_back(&server, "c", "monasca_c");
    assert_eq!(shared_of(&server, "b").point_count(), 0);
}

/// A shared database that does not exist stops the rollback before anything is read
/// or written: exit 2, one line naming it.
#[test]
fn missing_shared_database_exits_2() {
    let server = InfluxServer::start().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    server.create_database("nope_a").unwrap();
    let o = run(&server, tmp.path(), &["rollback", "--database", "nope"]);
    assert_exit(&o, 2);
    let e = stderr(&o);
    assert!(e.contains("database \"nope\" does not exist"), "{e}");
    assert_eq!(
        e.lines().filter(|l| l.starts_with("error:")).count(),
        1,
        "{e}"
    );
}

/// The forward run's skip rules do not hold back the way back: a measurement a config
/// file leaves out (`measurements.skip`) is copied back too, since the persister wrote
/// it into the tenant database after the switch; retention settings meant for the
/// forward run ask nothing of the shared database.
#[test]
fn skip_rules_and_retention_do_not_apply_to_the_way_back() {
    let server = InfluxServer::start().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    server.create_database("monasca").unwrap();
    server.create_database("monasca_d").unwrap();
    let t0 = (ms_ago(180) / 3_600_000 * 3_600_000) * 1_000_000;
    let lines: Vec<String> = ["log.rate", "cpu.idle_perc"]
        .iter()
        .map(|m| format!("{m},_tenant_id=d,hostname=h value=3.25 {t0}"))
        .collect();
    server.write_lines("monasca_d", &lines.join("\n")).unwrap();
    let config = dir.join("itm.toml");
    std::fs::write(
        &config,
        "[measurements]\nskip = [\"^log\\\\.\"]\n[retention]\ndefault = \"2d\"\n",
    )
    .unwrap();
    let s = rollback(
        &server,
        dir,
        &[
            "--config",
            config.to_str().unwrap(),
            HOUR[0],
            HOUR[1],
            HOUR[2],
            HOUR[3],
        ],
    );
    assert_eq!(s["retention_not_applied"], serde_json::json!([]), "{s:#}");
    assert_rolled_back(&server, "d", "monasca_d");
    assert_eq!(server.retention_policies("monasca").unwrap().len(), 1);
}
