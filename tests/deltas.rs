//! The delta phase against a real, private `influxd`: with default settings (week
//! windows) a rerun copies only the open margin after the settle line, a late point in
//! the closed part of the current week is found and copied, and `run --final` is
//! refused while the source receives writes, then closes and verifies everything.

mod common;

use common::*;
use serde_json::Value;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use testkit::{seed, DatasetSpec, InfluxServer};

const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;

/// Two weeks of three tenants, a point every two minutes per series, ending at `end`.
fn seeded(end: i64) -> (InfluxServer, tempfile::TempDir) {
    let server = InfluxServer::start().expect("start influxd");
    let spec = DatasetSpec::monasca(&["t1", "t2", "t3"], 2, Duration::from_secs(120), end);
    seed(&server, "monasca", &spec).expect("seed");
    (server, tempfile::tempdir().unwrap())
}

/// Points of every measurement of `db` at or after `from`.
fn points_since(server: &InfluxServer, db: &str, from: i64) -> u64 {
    let q = format!("SELECT count(\"value\") FROM /.*/ WHERE time >= {from}");
    let r = server.query(Some(db), &q).unwrap();
    r["results"][0]["series"]
        .as_array()
        .map(|ss| {
            ss.iter()
                .map(|s| s["values"][0][1].as_u64().unwrap_or(0))
                .sum()
        })
        .unwrap_or(0)
}

/// The newest end the ledger records.
fn recorded_until(dir: &std::path::Path) -> i64 {
    ledger_records(dir)
        .iter()
        .map(|r| r["end"].as_i64().unwrap())
        .max()
        .expect("records")
}

/// With defaults (week windows), the first run records the current week up to the
/// hour at or below the settle line; a rerun with nothing new copies exactly the points
/// after what is recorded (the open margin, at most a little over an hour here, plus an
/// hour that closed in between), in fewer requests than the first run.
#[test]
fn rerun_copies_only_the_open_margin() {
    let now = now_ns();
    let (server, dir) = seeded(now);
    let first = migrate(&server, dir.path(), &[]);
    let until = recorded_until(dir.path());
    assert!(
        until > now - 15 * MINUTE - 2 * HOUR && until <= now,
        "the current week is recorded up to the settle line's hour: {until} vs now {now}"
    );
    let margin = points_since(&server, "monasca", until);
    assert_eq!(
        first["open_points_not_verified"].as_u64().unwrap(),
        margin,
        "{first}"
    );
    let total = points_since(&server, "monasca", 0);
    assert!(
        margin > 0 && margin * 50 < total,
        "margin {margin} of {total}"
    );

    let o = run(&server, dir.path(), &["run", "--json"]);
    assert_exit(&o, 0);
    let again: Value = serde_json::from_slice(&o.stdout).unwrap();
    let margin = points_since(&server, "monasca", until);
    assert_eq!(again["points_written"].as_u64().unwrap(), margin, "{again}");
    let (q1, q2) = (
        first["queries"].as_u64().unwrap(),
        again["queries"].as_u64().unwrap(),
    );
    assert!(
        q2 < q1 && q2 <= 20,
        "rerun sent {q2} requests, first run {q1}"
    );
    assert!(
        stderr(&o).contains("of them open, after the settle line"),
        "{}",
        stderr(&o)
    );
    assert_tenants_exact(&server, &["t1", "t2", "t3"]);
}

/// A rerun asks first and last points only outside what the ledger covers; what
/// arrives there is still found: a point five weeks before the copied history, one in
/// a measurement the tenant never had (no coverage: its history is asked whole) and
/// the margin's points are all copied, and every tenant matches the source exactly.
#[test]
fn rerun_finds_points_outside_the_recorded_history() {
    let now = now_ns();
    let (server, dir) = seeded(now);
    let first = migrate(&server, dir.path(), &[]);
    let start = ledger_records(dir.path())
        .iter()
        .map(|r| r["start"].as_i64().unwrap())
        .min()
        .unwrap();
    let old = start - 5 * 7 * DAY + 3 * HOUR;
    let new_measurement = cpu_point("t3", "h", now - 3 * DAY).replace("cpu.idle_perc", "cpu.new");
    server
        .write_lines(
            "monasca",
            &format!("{}\n{new_measurement}", cpu_point("t1", "old-host", old)),
        )
        .unwrap();
    let again = migrate(&server, dir.path(), &[]);
    let copied = again["points_written"].as_u64().unwrap();
    assert!(copied >= 2, "{again}");
    assert!(
        again["queries"].as_u64().unwrap() < first["queries"].as_u64().unwrap(),
        "{again}"
    );
    let covers = |t: &str, at: i64| {
        ledger_records(dir.path()).iter().any(|r| {
            r["tenant"] == t
                && r["start"].as_i64().unwrap() <= at
                && at < r["end"].as_i64().unwrap()
        })
    };
    assert!(covers("t1", old), "the old week is recorded");
    assert_tenants_exact(&server, &["t1", "t2", "t3"]);
}

/// A point written, after the first run, into the closed part of the current week
/// (recorded and verified, an hour before the recorded end) is found by the next run's
/// late-point check, which reopens that piece and copies it again.
#[test]
fn late_point_in_the_closed_part_of_the_current_week_is_copied() {
    let now = now_ns();
    let (server, dir) = seeded(now);
    migrate(&server, dir.path(), &[]);
    let until = recorded_until(dir.path());
    let at = until - HOUR - 7 * MINUTE;
    server
        .write_lines("monasca", &cpu_point("t2", "late-host", at))
        .unwrap();
    let again = migrate(&server, dir.path(), &[]);
    let reopened = again["late"]["reopened"].as_array().unwrap();
    assert_eq!(reopened.len(), 1, "{}", again["late"]);
    assert_eq!(reopened[0]["tenant"], "t2");
    let w = &reopened[0]["window"];
    assert!(w["start"].as_i64().unwrap() <= at && at < w["end"].as_i64().unwrap());
    assert_tenants_exact(&server, &["t1", "t2", "t3"]);
}

/// `run --final` is refused with exit 2 and one line while a writer keeps adding
/// points (with day-old timestamps, so only the write counters can tell), and while the
/// newest point is younger than the settle time; once writes stopped and the newest
/// point is older, it exits 0 with nothing open, and the ledger records and verifies
/// every tenant's data up to its newest point.
#[test]
fn final_run_refused_while_written_then_closes_everything() {
    let now = now_ns();
    let (server, dir) = seeded(now - 20 * MINUTE);
    let writing = Arc::new(AtomicBool::new(true));
    let writer = {
        let (url, writing) = (server.url(), writing.clone());
        std::thread::spawn(move || {
            let mut i = 0;
            while writing.load(Ordering::Relaxed) {
                let line = cpu_point("t1", "backlog-host", now - DAY + i * 1_000_000_000);
                let _ = std::process::Command::new("curl")
                    .args(["-s", "-XPOST", &format!("{url}/write?db=monasca")])
                    .args(["--data-binary", &line])
                    .output();
                i += 1;
                std::thread::sleep(Duration::from_millis(200));
            }
        })
    };
    let o = run(&server, dir.path(), &["run", "--final"]);
    writing.store(false, Ordering::Relaxed);
    writer.join().unwrap();
    assert_exit(&o, 2);
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("error: final run refused: the source database \"monasca\" received"),
        "{err}"
    );
    assert!(ledger_records(dir.path()).is_empty());

    // A fresh point: refused for the settle time.
    server
        .write_lines("monasca", &cpu_point("t3", "fresh-host", now_ns() - MINUTE))
        .unwrap();
    let o = run(&server, dir.path(), &["run", "--final"]);
    assert_exit(&o, 2);
    assert!(
        stderr(&o).contains("less than window.settle (15m) ago"),
        "{}",
        stderr(&o)
    );
    let o = run(
        &server,
        dir.path(),
        &["run", "--final", "--json", "--settle", "30s"],
    );
    assert_exit(&o, 0);
    let s: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(s["open_points_not_verified"], 0, "{s}");
    assert_eq!(s["chunks_recorded"], s["chunks_copied"], "{s}");
    assert_eq!(
        s["verification"]["mismatches"],
        serde_json::json!([]),
        "{}",
        s["verification"]
    );
    assert_eq!(
        s["verification"]["open_not_checked"], 0,
        "{}",
        s["verification"]
    );
    assert_tenants_exact(&server, &["t1", "t2", "t3"]);
    // Every tenant's newest point lies in a recorded window, every record verified.
    let records = ledger_records(dir.path());
    for t in ["t1", "t2", "t3"] {
        let newest = recorded_newest(&server, t);
        assert!(
            records
                .iter()
                .any(|r| r["tenant"] == t && r["end"].as_i64().unwrap() > newest),
            "{t}: newest point {newest} not recorded"
        );
    }
    let status = run(&server, dir.path(), &["status", "--json"]);
    assert_exit(&status, 0);
    let status: Value = serde_json::from_slice(&status.stdout).unwrap();
    for t in ["t1", "t2", "t3"] {
        assert_eq!(
            status["tenants"][t]["verified"],
            status["tenants"][t]["done"]
        );
    }
    // Nothing left: a plan now has no chunk.
    let p = plan(&server, dir.path(), &["--settle", "30s"]);
    let open: Vec<&Value> = p["chunks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["closed"] == true)
        .collect();
    assert!(
        open.is_empty(),
        "closed chunks left after --final: {open:?}"
    );
}

/// Time of `tenant`'s newest point in the source.
fn recorded_newest(server: &InfluxServer, tenant: &str) -> i64 {
    let q = format!("SELECT last(\"value\") FROM /.*/ WHERE \"_tenant_id\" = '{tenant}'");
    let r = server.query(Some("monasca"), &q).unwrap();
    r["results"][0]["series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["values"][0][0].as_i64().unwrap())
        .max()
        .unwrap()
}
