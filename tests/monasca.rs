//! A Monasca cutover against data written by monasca-persister's own InfluxDB
//! repositories (`common::persister`, the venv `scripts/old-tool-venv` builds): metrics
//! and alarm history of several tenants, including ids with quotes, spaces, backslashes,
//! commas and unicode.

mod common;

use common::persister::{self, Messages, PersisterOptions};
use common::*;
use testkit::{dump, InfluxServer};

/// Tenant ids as Keystone or operators make them, plus the characters line protocol and
/// InfluxQL must escape.
const ODD_TENANTS: &[&str] = &[
    "8f3c2a9e41b04d6f9d1e5a7b3c2d1e0f",
    "it's \"quoted\"",
    "with space, comma=eq",
    "back\\slash",
    "ünïcødé-租户",
];

/// Milliseconds since the epoch, `hours_ago` hours before now, on a whole minute.
fn ms_ago(hours_ago: i64) -> i64 {
    let now_ms = now_ns() / 1_000_000;
    (now_ms - hours_ago * 3_600_000) / 60_000 * 60_000
}

/// The harness writes through the persister's own repositories: every tenant's metrics
/// carry `_tenant_id` and `_region` tags, and its alarm history a `tenant_id` tag and a
/// `tenant_id` string field, with every point of the batch present (a backslash in a
/// tenant id doubled, as the persister's escaping leaves it).
#[test]
fn persister_harness_writes_monasca_shaped_points() {
    let server = InfluxServer::start().unwrap();
    server.create_database("monasca").unwrap();
    let messages = Messages::monasca(ODD_TENANTS, ms_ago(48), 600_000, 8);
    persister::write(&server, &messages, &PersisterOptions::default());
    let all = dump(&server, "monasca", None).unwrap();
    let history = all.measurement("alarm_state_history").unwrap();
    assert_eq!(history.field_types["tenant_id"], "string");
    for t in ODD_TENANTS {
        let stored = persister::stored_tenant(t);
        let metrics = dump(&server, "monasca", Some(("_tenant_id", &stored))).unwrap();
        assert_eq!(
            metrics.measurement("cpu.idle_perc").unwrap().points.len(),
            16
        );
        let p = &metrics.measurement("mem.free_mb").unwrap().points[0];
        assert_eq!(p.series.tags["_region"], "RegionOne");
        assert_eq!(p.series.tags["hostname"], "node-1");
        assert!(p.fields["value_meta"].as_str().unwrap().contains("sample"));
        // The tag as stored, the field as sent: string fields unescape backslashes.
        let points: Vec<_> = history
            .points
            .iter()
            .filter(|p| p.series.tags["tenant_id"] == stored)
            .collect();
        assert_eq!(points.len(), 2, "{all:?}");
        assert!(points.iter().all(|p| p.fields["tenant_id"] == *t));
    }
}

/// A source as a running Monasca leaves it: every tenant's metrics and alarm history
/// written by the persister, plus a measurement written without any tenant tag.
fn monasca_source(server: &InfluxServer, tenants: &[&str]) -> Messages {
    server.create_database("monasca").unwrap();
    let messages = Messages::monasca(tenants, ms_ago(48), 600_000, 8);
    persister::write(server, &messages, &PersisterOptions::default());
    let t0 = ms_ago(30) * 1_000_000;
    let untagged: Vec<String> = (0..5)
        .map(|i| {
            format!(
                "log.rate,hostname=node-1 value={i} {}",
                t0 + i * 60_000_000_000
            )
        })
        .collect();
    server.write_lines("monasca", &untagged.join("\n")).unwrap();
    messages
}

/// What the source holds of one tenant (by its id as stored): its metrics by
/// `_tenant_id` and its alarm history by the `tenant_id` *tag*.
fn tenant_source(server: &InfluxServer, stored: &str) -> testkit::Dump {
    let mut d = dump(server, "monasca", Some(("_tenant_id", stored))).unwrap();
    let all = dump(server, "monasca", None).unwrap();
    let mut history = all.measurement("alarm_state_history").unwrap().clone();
    history
        .points
        .retain(|p| p.series.tags.get("tenant_id").map(String::as_str) == Some(stored));
    assert!(!history.points.is_empty(), "no alarm history of {stored:?}");
    d.measurements.insert("alarm_state_history".into(), history);
    d
}

/// `run` copies every tenant's metrics *and* alarm history (tenant in the `tenant_id`
/// tag, also a string field) exactly into its database, odd tenant ids included: both
/// the tag and the field `tenant_id` arrive. A measurement without tenant tag is
/// listed with its point count by `plan`, in the run summary and in the run report.
#[test]
fn alarm_history_is_migrated_and_untagged_measurements_are_listed() {
    let server = InfluxServer::start().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    monasca_source(&server, ODD_TENANTS);

    let p = plan(&server, dir, &[]);
    let untagged: Vec<&serde_json::Value> = p["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["check"] == "no_tenant_tag")
        .collect();
    assert_eq!(untagged.len(), 1, "{p:#}");
    assert_eq!(untagged[0]["measurement"], "log.rate");
    assert_eq!(untagged[0]["points"], 5);
    let o = run(&server, dir, &["plan"]);
    assert!(
        stderr(&o).contains("\"log.rate\" has no point with tenant tag \"_tenant_id\" (5 points)")
            || String::from_utf8_lossy(&o.stdout)
                .contains("\"log.rate\" has no point with tenant tag \"_tenant_id\" (5 points)"),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );

    let report = dir.join("report.json");
    let summary = migrate(&server, dir, &["--report", report.to_str().unwrap()]);
    assert_eq!(
        summary["untagged_measurements"][0]["measurement"],
        "log.rate"
    );
    assert_eq!(summary["untagged_measurements"][0]["points"], 5);
    let r: serde_json::Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    assert_eq!(r["summary"]["untagged_measurements"][0]["points"], 5);

    for t in ODD_TENANTS {
        let stored = persister::stored_tenant(t);
        let expected = tenant_source(&server, &stored);
        let actual = dump(&server, &target(&stored), None).unwrap();
        testkit::assert_same(&expected, &actual);
        let history = actual.measurement("alarm_state_history").unwrap();
        assert_eq!(history.field_types["tenant_id"], "string");
        for p in &history.points {
            assert_eq!(p.series.tags["tenant_id"], stored);
            assert_eq!(p.fields["tenant_id"], *t);
        }
    }
}

/// After the run, the persister switched to `db_per_tenant = True` writes new points
/// for each tenant: they land in the database and default policy the run created, in
/// the same series as the migrated history, and a read the way monasca-api reads
/// (default policy, `_region` filter, no tenant filter; alarm history by `tenant_id`)
/// returns both the migrated and the new points. (Tenant ids with a backslash are left
/// out: the persister names its database after the raw id, the tool percent-encodes it.)
#[test]
fn persister_with_db_per_tenant_continues_the_migrated_series() {
    let tenants: Vec<&str> = ODD_TENANTS
        .iter()
        .copied()
        .filter(|t| !t.contains('\\'))
        .collect();
    let server = InfluxServer::start().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    monasca_source(&server, &tenants);
    migrate(&server, tmp.path(), &[]);
    let before: Vec<testkit::Dump> = tenants
        .iter()
        .map(|t| dump(&server, &target(t), None).unwrap())
        .collect();

    let new = Messages::monasca(&tenants, ms_ago(1), 60_000, 4);
    let opts = PersisterOptions {
        db_per_tenant: true,
        ..PersisterOptions::default()
    };
    persister::write(&server, &new, &opts);

    for (t, old) in tenants.iter().zip(&before) {
        let db = target(t);
        let rps = server.retention_policies(&db).unwrap();
        let default = rps.iter().find(|p| p.default).unwrap();
        assert_eq!(rps.len(), 1, "{rps:?}");
        let f = testkit::DumpFilter {
            retention_policy: Some(default.name.clone()),
            ..testkit::DumpFilter::default()
        };
        let after = testkit::dump_filtered(&server, &db, &f).unwrap();
        assert_eq!(after.series(), old.series(), "tenant {t:?}: new series");
        assert_eq!(after.point_count(), old.point_count() + 4 * 3 + 1);

        // monasca-api: the database's default policy, no tenant filter.
        let q = "SELECT value, value_meta FROM \"cpu.idle_perc\" WHERE \"_region\" = 'RegionOne' AND hostname = 'node-1'";
        assert_eq!(rows(&server, &db, q), 8 + 4, "tenant {t:?}");
        let q = format!(
            "SELECT alarm_id, new_state, old_state, reason, sub_alarms FROM alarm_state_history WHERE tenant_id = {}",
            testkit::quote_string(t)
        );
        assert_eq!(rows(&server, &db, &q), 2 + 1, "tenant {t:?}");
    }
}

/// Rows of a query's only series.
fn rows(server: &InfluxServer, db: &str, q: &str) -> usize {
    let r = server.query(Some(db), q).unwrap();
    r["results"][0]["series"][0]["values"]
        .as_array()
        .map_or(0, |v| v.len())
}

/// Newest first: a first run stopped by SIGTERM after its first few chunks has already
/// copied the newest window of every tenant (one whose data stopped two days earlier
/// included), and the rerun completes exactly.
#[test]
fn interrupted_first_run_has_every_tenants_newest_window() {
    let server = InfluxServer::start().unwrap();
    server.create_database("monasca").unwrap();
    let live = [
        "8f3c2a9e41b04d6f9d1e5a7b3c2d1e0f",
        "it's \"quoted\"",
        "ünïcødé-租户",
    ];
    let (step, steps) = (1_800_000, 96);
    let mut messages = Messages::monasca(&live, ms_ago(50), step, steps);
    let stopped = Messages::monasca(&["stopped"], ms_ago(100), step, steps);
    messages.metrics.extend(stopped.metrics);
    messages.alarms.extend(stopped.alarms);
    persister::write(&server, &messages, &PersisterOptions::default());
    let last_ms = |t: &str| {
        let ts = messages.metrics.iter().filter(|m| m.tenant == t);
        ts.map(|m| m.timestamp_ms).max().unwrap()
    };

    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let args = [
        "run",
        "--json",
        "--time-unit",
        "hour",
        "--concurrency",
        "1",
        "--max-points-per-second",
        "100",
    ];
    let child = tool(&server, dir, &args)
        .env("ITM__RUN__STOP_GRACE", "5s")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let t = std::time::Instant::now();
    while ledger_records(dir).len() < 10 && t.elapsed() < std::time::Duration::from_secs(60) {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let ok = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
    let o = child.wait_with_output().unwrap();
    assert_exit(&o, 1);
    let summary: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(summary["interrupted"], true);
    let records = ledger_records(dir);
    assert!((records.len() as u64) < summary["chunks_planned"].as_u64().unwrap());

    for t in live.iter().chain(&["stopped"]) {
        let last_ns = last_ms(t) * 1_000_000;
        let newest = records.iter().any(|r| {
            r["tenant"] == *t
                && r["start"].as_i64().unwrap() <= last_ns
                && last_ns < r["end"].as_i64().unwrap()
                && r["measurements"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|m| m == "cpu.idle_perc")
        });
        assert!(
            newest,
            "newest window of {t:?} not copied first: {records:#?}"
        );
    }

    migrate(&server, dir, &["--time-unit", "hour"]);
    for t in live.iter().chain(&["stopped"]) {
        let expected = tenant_source(&server, t);
        testkit::assert_same(&expected, &dump(&server, &target(t), None).unwrap());
    }
}
