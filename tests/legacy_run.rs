//! The drop-in: a run driven only by migrate-to-db-per-tenant.py's flags and a Monasca
//! persister.conf, against a real private influxd, gives the databases, retention
//! policies and contents the old tool's flags ask for.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use testkit::{dump, dump_filtered, seed, DatasetSpec, DumpFilter, InfluxServer};

const HOUR: i64 = 3_600_000_000_000;
const DAY: i64 = 24 * HOUR;

fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as i64
}

fn persister_conf(dir: &Path, server: &InfluxServer) -> std::path::PathBuf {
    let path = dir.join("persister.conf");
    let text = format!(
        "[DEFAULT]\ndebug = false\n\n[kafka_metrics]\nuri = 127.0.0.1:9092\n\n\
         [influxdb]\n# as the persister has it\ndatabase_name = monasca\n\
         ip_address = 127.0.0.1\nport = {}\nuser = mon_persister\nssl = false\n\
         db_per_tenant = false\n",
        server.http_port()
    );
    std::fs::write(&path, text).unwrap();
    path
}

/// `--config-file persister.conf --migrate-time-unit d --migrate-retention-policy t2:14
/// --migrate-skip-regex ^mem\.` (nothing else, run as the default command): every
/// tenant gets `monasca_<tenant>`; t2 gets a default policy named `14d` (the old tool's
/// name, not `2w`) of 336h and only its last 14 days; `mem.*` is left out; everything
/// else is copied exactly. A rerun copies nothing new and changes nothing.
#[test]
fn old_flags_and_persister_conf_drive_a_run() {
    let server = InfluxServer::start().unwrap();
    // Points at now - 30min - k hours: none near the 14-day horizon of either tool.
    let anchor = now_ns() - 30 * 60 * 1_000_000_000;
    let spec = DatasetSpec::monasca(&["t1", "t2"], 3, Duration::from_secs(3600), anchor);
    seed(&server, "monasca", &spec).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let conf = persister_conf(dir.path(), &server);

    let run = || {
        Command::new(env!("CARGO_BIN_EXE_influx-tenant-migrate"))
            .current_dir(dir.path())
            .env_remove("RUST_LOG")
            .args(["--config-file", conf.to_str().unwrap()])
            .args(["--migrate-time-unit", "d"])
            .args(["--migrate-retention-policy", "t2:14"])
            .args(["--migrate-skip-regex", r"^mem\."])
            .output()
            .unwrap()
    };
    let out = run();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");

    let mut dbs = server.databases().unwrap();
    dbs.sort();
    assert_eq!(dbs, vec!["monasca", "monasca_t1", "monasca_t2"]);

    let rps = server.retention_policies("monasca_t2").unwrap();
    let rp = rps.iter().find(|p| p.default).unwrap();
    assert_eq!(
        (rp.name.as_str(), rp.duration.as_str()),
        ("14d", "336h0m0s"),
        "{rps:?}"
    );
    let rps = server.retention_policies("monasca_t1").unwrap();
    assert_eq!(rps.iter().find(|p| p.default).unwrap().name, "autogen");

    // t1: all of its history but the skipped measurement.
    let mut expected = dump(&server, "monasca", Some(("_tenant_id", "t1"))).unwrap();
    assert!(expected.measurements.remove("mem.free_mb").is_some());
    let actual = dump(&server, "monasca_t1", None).unwrap();
    testkit::assert_same(&expected, &actual);

    // t2: only the last 14 days.
    let filter = |db_rp: Option<&str>, tag: bool| DumpFilter {
        tag: tag.then(|| ("_tenant_id".to_string(), "t2".to_string())),
        start_ns: Some(now_ns() - 14 * DAY),
        end_ns: None,
        retention_policy: db_rp.map(str::to_string),
    };
    let mut expected = dump_filtered(&server, "monasca", &filter(None, true)).unwrap();
    expected.measurements.remove("mem.free_mb");
    let actual = dump_filtered(&server, "monasca_t2", &filter(Some("14d"), false)).unwrap();
    testkit::assert_same(&expected, &actual);
    let all = DumpFilter {
        retention_policy: Some("14d".into()),
        ..DumpFilter::default()
    };
    assert_eq!(
        dump_filtered(&server, "monasca_t2", &all)
            .unwrap()
            .point_count(),
        actual.point_count(),
        "nothing older than 14 days was copied"
    );
    assert!(actual.point_count() > 0);

    // The ledger went to the working directory, as the default says; a rerun is a
    // no-op for the data.
    assert!(dir.path().join("influx-tenant-migrate.ledger").is_file());
    let before = dump(&server, "monasca_t1", None).unwrap();
    let out = run();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    testkit::assert_same(&before, &dump(&server, "monasca_t1", None).unwrap());
}

/// The old offsets bound the copy: `--migrate-start-time-offset 7
/// --migrate-end-time-offset 14 --migrate-time-unit d` copies the days from 14 back to
/// 7 back (widened to whole UTC days) and nothing newer or older.
#[test]
fn old_offsets_bound_the_copy() {
    let server = InfluxServer::start().unwrap();
    let now = now_ns();
    let spec = DatasetSpec::monasca(&["t1"], 3, Duration::from_secs(6 * 3600), now);
    seed(&server, "monasca", &spec).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let conf = persister_conf(dir.path(), &server);
    let out = Command::new(env!("CARGO_BIN_EXE_influx-tenant-migrate"))
        .current_dir(dir.path())
        .arg("run")
        .args(["--config-file", conf.to_str().unwrap()])
        .args(["--migrate-time-unit", "d"])
        .args(["--migrate-start-time-offset", "7"])
        .args(["--migrate-end-time-offset", "14"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let from = (now - 14 * DAY).div_euclid(DAY) * DAY;
    let to = (now - 7 * DAY).div_euclid(DAY) * DAY + DAY;
    let expected = dump_filtered(
        &server,
        "monasca",
        &DumpFilter {
            tag: Some(("_tenant_id".into(), "t1".into())),
            start_ns: Some(from),
            end_ns: Some(to),
            retention_policy: None,
        },
    )
    .unwrap();
    let actual = dump(&server, "monasca_t1", None).unwrap();
    testkit::assert_same(&expected, &actual);
    assert!(actual.point_count() > 0);
}
