//! Late points against a real, private `influxd`: points written into a window that a
//! run already copied and recorded are copied by the next run, within the late horizon.

mod common;

use common::*;
use serde_json::Value;
use std::time::Duration;
use testkit::{seed, DatasetSpec, InfluxServer};

const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;

/// One point of `tenant`'s `cpu.idle_perc` on host `host` at `at`, written to the source.
fn write_late(server: &InfluxServer, tenant: &str, host: &str, at: i64) {
    server
        .write_lines("monasca", &cpu_point(tenant, host, at))
        .unwrap();
}

/// Points of `host` in `db`.
fn host_points(server: &InfluxServer, db: &str, host: &str) -> u64 {
    let q = format!("SELECT count(\"value\") FROM \"cpu.idle_perc\" WHERE \"hostname\" = '{host}'");
    let r = server.query(Some(db), &q).unwrap();
    r["results"][0]["series"][0]["values"][0][1]
        .as_u64()
        .unwrap_or(0)
}

/// With default settings, a point written three hours late into an hour window the
/// previous run recorded is copied by the next run, which names the reopened window
/// in its summary; a point later than the horizon (two days by default) into a window
/// recorded before it is not rechecked; only the tenant whose totals changed is
/// counted bucket by bucket, and a rerun with nothing new sends one total statement;
/// `--late-horizon 0` says the check is off.
#[test]
fn late_point_in_recorded_window_is_copied_by_next_run() {
    let server = InfluxServer::start().expect("start influxd");
    let now = now_ns();
    let mut spec = DatasetSpec::monasca(&["t1", "t2"], 1, Duration::from_secs(1800), now);
    spec.start_ns = now - 3 * DAY;
    seed(&server, "monasca", &spec).expect("seed");
    let dir = tempfile::tempdir().unwrap();
    let first = migrate(&server, dir.path(), &["--time-unit", "hour"]);
    assert_eq!(first["late"]["reopened"].as_array().unwrap().len(), 0);
    assert_tenants_exact(&server, &["t1", "t2"]);

    let late_at = now - 3 * HOUR;
    write_late(&server, "t1", "late-host", late_at);
    // Into a window recorded by the first run but closed more than two days ago.
    write_late(&server, "t2", "too-late-host", now - 2 * DAY - 12 * HOUR);
    let o = run(
        &server,
        dir.path(),
        &["run", "--json", "--time-unit", "hour"],
    );
    assert_exit(&o, 0);
    let summary: Value = serde_json::from_slice(&o.stdout).unwrap();
    let late = &summary["late"];
    assert_eq!(late["horizon_secs"], 2 * 86_400, "{late}");
    assert!(late["chunks_rechecked"].as_u64().unwrap() >= 48, "{late}");
    let reopened = late["reopened"].as_array().unwrap();
    assert_eq!(reopened.len(), 1, "{late}");
    let window_start = late_at - late_at.rem_euclid(HOUR);
    assert_eq!(reopened[0]["tenant"], "t1");
    assert_eq!(reopened[0]["window"]["start"], window_start);
    assert_eq!(
        reopened[0]["source"].as_u64().unwrap(),
        reopened[0]["recorded"].as_u64().unwrap() + 1
    );
    let text = stderr(&o);
    let named = format!(
        "late points: tenant \"t1\" {}",
        humantime::format_rfc3339_seconds(
            std::time::UNIX_EPOCH + Duration::from_nanos(window_start as u64)
        )
    );
    assert!(text.contains(&named), "{named:?} not in:\n{text}");
    assert_tenants_exact(&server, &["t1"]);
    assert_eq!(host_points(&server, "monasca_t1", "late-host"), 1);
    assert_eq!(host_points(&server, "monasca_t2", "too-late-host"), 0);
    // The totals per tenant settle t2 (nothing arrived in its horizon): only t1 is
    // counted again bucket by bucket, to find the window.
    assert_eq!(late["tenants_recounted"], 1, "{late}");

    // Nothing new: the totals settle every tenant, no bucketed count is sent.
    let again = migrate(&server, dir.path(), &["--time-unit", "hour"]);
    let late = &again["late"];
    assert_eq!(late["reopened"].as_array().unwrap().len(), 0, "{late}");
    assert_eq!(late["tenants_recounted"], 0, "{late}");
    assert!(late["chunks_rechecked"].as_u64().unwrap() >= 48, "{late}");
    assert_eq!(late["statements"], 1, "{late}");

    let o = run(
        &server,
        dir.path(),
        &["run", "--time-unit", "hour", "--late-horizon", "0"],
    );
    assert_exit(&o, 0);
    assert!(
        stderr(&o).contains("off (run.late_horizon = 0)"),
        "{}",
        stderr(&o)
    );
}
