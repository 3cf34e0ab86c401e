//! Core behaviour against real, private `influxd` servers: exact per-tenant copies,
//! idempotent reruns, deltas, unit changes, crashes, hostile names, retention, dry
//! runs and clear errors.

mod common;

use common::*;
use serde_json::Value;
use std::collections::BTreeSet;
use std::time::Duration;
use testkit::{
    dump, seed, DatasetSpec, InfluxServer, MetricSpec, Point, ServerOptions, TenantSpec,
};

const TENANTS: [&str; 4] = ["t1", "t2", "late", "early"];

fn seeded() -> (InfluxServer, tempfile::TempDir, DatasetSpec) {
    let server = InfluxServer::start().expect("start influxd");
    let spec = standard_spec(now_ns());
    seed(&server, "monasca", &spec).expect("seed");
    (server, tempfile::tempdir().unwrap(), spec)
}

/// (tenant, measurement, start, end) of each ledger record.
fn covered(records: &[Value]) -> Vec<(String, String, i64, i64)> {
    let mut out = vec![];
    for r in records {
        for m in r["measurements"].as_array().unwrap() {
            out.push((
                r["tenant"].as_str().unwrap().to_string(),
                m.as_str().unwrap().to_string(),
                r["start"].as_i64().unwrap(),
                r["end"].as_i64().unwrap(),
            ));
        }
    }
    out
}

/// After `run`, each tenant database holds exactly that tenant's points: same series,
/// tags, fields, field types (an integer `value` next to float ones stays integer) and
/// timestamps, nothing of another tenant; tenants that start late or stop early too.
#[test]
fn run_copies_each_tenant_exactly() {
    let (server, dir, spec) = seeded();
    let before = dump(&server, "monasca", None).unwrap();
    let summary = migrate(&server, dir.path(), &[]);
    assert_eq!(summary["failures"].as_array().unwrap().len(), 0);
    assert_eq!(
        summary["points_written"].as_u64().unwrap(),
        spec.point_count()
    );

    assert_tenants_exact(&server, &TENANTS);
    let mut expected: Vec<String> = TENANTS.iter().map(|t| target(t)).collect();
    expected.push("monasca".into());
    expected.sort();
    assert_eq!(databases(&server), expected);
    let types = dump(&server, "monasca_t1", None).unwrap();
    assert_eq!(
        types.measurement("http_status").unwrap().field_types["value"],
        "integer"
    );
    assert_eq!(
        types.measurement("cpu.idle_perc").unwrap().field_types["value"],
        "float"
    );
    // The source is never written to.
    testkit::assert_same(&before, &dump(&server, "monasca", None).unwrap());
}

/// Waits until the hour at or below the settle line (default 15 min) cannot move in
/// the next `span`, so that a test's runs all cut the current window at the same hour.
fn clear_of_the_hour_cut(span: Duration) {
    let hour = 60 * MINUTE;
    let into = (now_ns() - 15 * MINUTE).rem_euclid(hour);
    let left = hour - into;
    let span = span.as_nanos() as i64;
    if left < span {
        std::thread::sleep(Duration::from_nanos((left + MINUTE / 60) as u64));
    }
}

/// A second run copies only the open chunks and leaves the ledger's closed chunks
/// alone; `plan` then shows nothing closed left to do.
#[test]
fn rerun_copies_only_open_chunks() {
    clear_of_the_hour_cut(Duration::from_secs(120));
    let (server, dir, _) = seeded();
    let first = migrate(&server, dir.path(), &[]);
    let records = ledger_records(dir.path());
    assert_eq!(
        records.len() as u64,
        first["chunks_recorded"].as_u64().unwrap()
    );
    assert!(!records.is_empty());

    // The seeded points stop half an hour before the seed time, so the open margin
    // (after the hour at or below the settle line) may hold none of them, and a margin
    // without points is not planned. A persister keeps writing: one point now.
    let newest = Point::new("cpu.idle_perc")
        .tag("_tenant_id", "t1")
        .tag("hostname", "h")
        .field("value", 1.5)
        .time(now_ns());
    server
        .write_lines("monasca", &newest.to_line().unwrap())
        .unwrap();
    let p = plan(&server, dir.path(), &[]);
    let chunks = p["chunks"].as_array().unwrap();
    assert_no_closed_left_but_new(&p, dir.path());
    assert!(
        !chunks.is_empty() && chunks.iter().all(|c| c["closed"] == false),
        "only the open margin is planned again: {chunks:?}"
    );

    let second = migrate(&server, dir.path(), &[]);
    assert_eq!(second["chunks_recorded"], 0);
    assert_eq!(
        second["chunks_planned"].as_u64().unwrap(),
        chunks.len() as u64
    );
    assert!(second["windows_skipped_as_done"].as_u64().unwrap() > 0);
    assert!(second["points_written"].as_u64().unwrap() < first["points_written"].as_u64().unwrap());
    assert_eq!(
        ledger_records(dir.path()),
        records,
        "the ledger's closed chunks are left alone"
    );
    let p = plan(&server, dir.path(), &[]);
    assert_no_closed_left_but_new(&p, dir.path());
    assert_tenants_exact(&server, &TENANTS);

    let o = run(&server, dir.path(), &["status", "--json"]);
    assert_exit(&o, 0);
    let status: Value = serde_json::from_slice(&o.stdout).unwrap();
    let recorded: u64 = records.iter().map(|r| r["points"].as_u64().unwrap()).sum();
    let shown: u64 = status["tenants"]
        .as_object()
        .unwrap()
        .values()
        .map(|t| t["points"].as_u64().unwrap())
        .sum();
    assert_eq!(shown, recorded);
}

/// Points written after a run into the newest window, including a new series, are
/// copied by the next run.
#[test]
fn rerun_picks_up_new_points() {
    let (server, dir, _) = seeded();
    migrate(&server, dir.path(), &[]);
    let now = now_ns();
    let lines = [
        Point::new("cpu.idle_perc")
            .tag("_tenant_id", "t1")
            .tag("hostname", "new-host")
            .field("value", 42.5)
            .time(now - MINUTE),
        Point::new("http_status")
            .tag("_tenant_id", "late")
            .tag("hostname", "h")
            .field("value", 7i64)
            .time(now - 2 * MINUTE),
    ]
    .iter()
    .map(|p| p.to_line().unwrap())
    .collect::<Vec<_>>()
    .join("\n");
    server.write_lines("monasca", &lines).unwrap();
    let before = dump(&server, "monasca_t1", None).unwrap().point_count();
    let summary = migrate(&server, dir.path(), &[]);
    assert!(summary["points_written"].as_u64().unwrap() >= 2);
    assert_eq!(
        dump(&server, "monasca_t1", None).unwrap().point_count(),
        before + 1
    );
    assert_tenants_exact(&server, &TENANTS);
}

/// After a week run, an hour run copies nothing that was covered: no hour chunk it
/// plans or records overlaps the week run's ledger records.
#[test]
fn hour_run_after_week_run_copies_nothing_covered() {
    let (server, dir, _) = seeded();
    migrate(&server, dir.path(), &[]);
    let weeks = covered(&ledger_records(dir.path()));
    let overlaps = |t: &str, m: &str, s: i64, e: i64| {
        weeks
            .iter()
            .any(|(wt, wm, ws, we)| wt == t && wm == m && s < *we && *ws < e)
    };

    let p = plan(&server, dir.path(), &["--time-unit", "hour"]);
    for c in p["chunks"].as_array().unwrap() {
        for m in c["measurements"].as_array().unwrap() {
            let (s, e) = (
                c["window"]["start"].as_i64().unwrap(),
                c["window"]["end"].as_i64().unwrap(),
            );
            assert!(
                !overlaps(c["tenant"].as_str().unwrap(), m.as_str().unwrap(), s, e),
                "planned again: {c}"
            );
        }
    }
    let n_before = ledger_records(dir.path()).len();
    migrate(&server, dir.path(), &["--time-unit", "hour"]);
    let all = ledger_records(dir.path());
    for (t, m, s, e) in covered(&all[n_before..]) {
        assert!(
            !overlaps(&t, &m, s, e),
            "hour record overlaps a week record: {t} {m} {s}..{e}"
        );
    }
    assert!(all[n_before..].iter().all(|r| r["unit"] == "hour"));
    assert_tenants_exact(&server, &TENANTS);
}

/// A run killed with SIGKILL at random moments, then rerun, ends with the exact content
/// of a clean run; the ledger stays readable and the dead run's lock does not block.
#[test]
fn sigkill_then_rerun_is_exact() {
    let (server, dir, _) = seeded();
    let mut rng = (now_ns() as u64) | 1;
    for round in 0..3 {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let delay = Duration::from_millis(100 + rng % 2500);
        let mut c = tool(
            &server,
            dir.path(),
            &["run", "--time-unit", "hour", "--concurrency", "4"],
        );
        c.stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        let mut child = c.spawn().unwrap();
        std::thread::sleep(delay);
        let killed = child.try_wait().unwrap().is_none();
        let _ = child.kill();
        child.wait().unwrap();
        eprintln!("round {round}: SIGKILL after {delay:?} (still running: {killed})");
        let o = run(&server, dir.path(), &["status"]);
        assert_exit(&o, 0);
    }
    migrate(
        &server,
        dir.path(),
        &["--time-unit", "hour", "--concurrency", "4"],
    );
    assert_tenants_exact(&server, &TENANTS);
    let p = plan(&server, dir.path(), &["--time-unit", "hour"]);
    assert_no_closed_left_but_new(&p, dir.path());
}

/// Hostile names (quotes, backslashes, spaces, commas, '=', unicode, an injection
/// attempt, '/' and '\' in tenant ids) round-trip exactly and inject nothing.
#[test]
fn hostile_names_round_trip() {
    let server = InfluxServer::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let tenants = [
        "x' OR '1'='1",
        "t'; DROP DATABASE \"monasca\"; SELECT '1",
        "quote\"d",
        "sp ace,com=ma",
        "ünï-租户",
        "a/b",
        r"c\d",
    ];
    let measurements = [
        "cpu.idle_perc",
        "we\"ird",
        "sp ace",
        "com,ma",
        "uni.çø",
        r"back\slash",
        "eq=ual",
    ];
    let now = now_ns();
    let mut lines = Vec::new();
    for (i, t) in tenants.iter().enumerate() {
        for (j, m) in measurements.iter().enumerate() {
            for k in 0..20i64 {
                let p = Point::new(*m)
                    .tag("_tenant_id", *t)
                    .tag("host name", format!("h,{i}=\"x\""))
                    .tag("dim\"q", "ü \\ v")
                    .field("value", (i * 100 + j) as f64 + 0.25)
                    .field("value_meta", "{\"k\": \"it's \\\\ \\\"q\\\"\"}")
                    .time(now - 3 * WEEK + k * 3 * 3_600_000_000_000);
                lines.push(p.to_line().unwrap());
            }
        }
    }
    server.create_database("monasca").unwrap();
    server.write_lines("monasca", &lines.join("\n")).unwrap();
    let before = dump(&server, "monasca", None).unwrap();
    assert_eq!(
        before.point_count(),
        tenants.len() * measurements.len() * 20
    );

    migrate(&server, dir.path(), &[]);
    assert_tenants_exact(&server, &tenants);
    let mut expected: BTreeSet<String> = tenants.iter().map(|t| target(t)).collect();
    expected.insert("monasca".into());
    assert_eq!(
        databases(&server).into_iter().collect::<BTreeSet<_>>(),
        expected
    );
    assert!(expected.contains("monasca_a%2Fb") && expected.contains("monasca_c%5Cd"));
    testkit::assert_same(&before, &dump(&server, "monasca", None).unwrap());
}

/// A tenant with `--retention t=2w` gets that default policy and exactly its last two
/// weeks (inside the safety margin), with no "beyond retention policy" failure; other
/// tenants keep everything.
#[test]
fn retention_policy_and_recent_history() {
    let (server, dir, _) = seeded();
    let start = now_ns();
    let summary = migrate(&server, dir.path(), &["--retention", "t1=2w"]);
    let end = now_ns();
    assert_eq!(summary["failures"].as_array().unwrap().len(), 0);
    let rps = server.retention_policies("monasca_t1").unwrap();
    let rp = rps.iter().find(|p| p.default).expect("a default policy");
    assert_eq!(rp.name, "2w");
    assert_eq!(rp.duration, "336h0m0s");

    use influx_tenant_migrate::plan::retention_floor;
    let floor_lo = retention_floor(start, 2 * WEEK); // nothing older than this can be copied
    let floor_hi = retention_floor(end, 2 * WEEK); // everything from this on must be
    let copied = dump(&server, "monasca_t1", None).unwrap();
    let source = dump(&server, "monasca", Some(("_tenant_id", "t1"))).unwrap();
    let mut n_hi = 0;
    for (m, md) in &source.measurements {
        let target = copied.measurement(m).expect("measurement copied");
        assert_eq!(target.field_types, md.field_types);
        for p in &md.points {
            let present = target.points.contains(p);
            if p.time_ns >= floor_hi {
                assert!(present, "missing recent point {p:?}");
                n_hi += 1;
            } else if p.time_ns < floor_lo {
                assert!(!present, "point older than the retention copied: {p:?}");
            }
        }
    }
    assert!(n_hi > 0);
    assert!(copied.point_count() < source.point_count());
    assert_tenants_exact(&server, &["t2", "late", "early"]);
}

/// `plan` names the source server's version as the server reports it (its
/// `X-Influxdb-Version` header, the version `influxd version` prints), in the text
/// header and in the JSON, and with `--target-url` names the target server too.
#[test]
fn plan_names_the_server_version() {
    let (server, dir, _) = seeded();
    let version = server.binary_version().unwrap();
    let o = run(&server, dir.path(), &["plan"]);
    assert_exit(&o, 0);
    let text = String::from_utf8_lossy(&o.stdout);
    let header = text.lines().next().unwrap_or_default();
    assert!(
        header.starts_with(&format!("source {} (InfluxDB {version}) ", server.url())),
        "{header}"
    );
    assert_eq!(
        plan(&server, dir.path(), &[])["source_version"],
        version.as_str()
    );

    let target = InfluxServer::start().expect("start the target influxd");
    let args = ["plan", "--target-url", &target.url()];
    let o = run(&server, dir.path(), &args);
    assert_exit(&o, 0);
    let text = String::from_utf8_lossy(&o.stdout);
    let wanted = format!("target {} (InfluxDB {version})", target.url());
    assert!(text.lines().nth(1) == Some(wanted.as_str()), "{text}");
}

/// `plan` changes nothing on the server or in the ledger, even when a run would create
/// databases and retention policies.
#[test]
fn plan_changes_nothing() {
    let (server, dir, _) = seeded();
    let to = influx_tenant_migrate::core::window::format_ns(now_ns() - 3 * WEEK);
    migrate(
        &server,
        dir.path(),
        &["--to", &to, "--tenant-include", "^t"],
    );
    let files = |d: &std::path::Path| {
        let mut v: Vec<_> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (e.file_name(), std::fs::read(e.path()).unwrap())
            })
            .collect();
        v.sort();
        v
    };
    let ledger_before = files(dir.path());
    let dbs = databases(&server);
    let rps = server.retention_policies("monasca_t1").unwrap();
    let all_before: Vec<_> = dbs
        .iter()
        .map(|d| dump(&server, d, None).unwrap())
        .collect();

    for args in [
        vec!["plan"],
        vec![
            "plan",
            "--json",
            "--retention",
            "t1=2w",
            "--default-retention",
            "3w",
        ],
        vec!["plan", "--time-unit", "hour"],
    ] {
        let o = run(&server, dir.path(), &args);
        assert_exit(&o, 0);
        assert!(!o.stdout.is_empty());
    }
    // t1's database exists (it keeps its default policy: the request is reported as
    // not applied); the tenants without one would get a new 3w default policy.
    let p = plan(
        &server,
        dir.path(),
        &["--retention", "t1=2w", "--default-retention", "3w"],
    );
    assert!(p["targets"]
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t["create_retention_policy"] == "3w"));
    assert!(p["targets"]
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t["tenant"] == "t1" && t["not_applied"]["requested_policy"] == "2w"));
    assert!(p["targets"]
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t["create_database"] == true));

    assert_eq!(files(dir.path()), ledger_before, "ledger directory changed");
    assert_eq!(databases(&server), dbs);
    assert_eq!(server.retention_policies("monasca_t1").unwrap(), rps);
    for (d, before) in dbs.iter().zip(&all_before) {
        testkit::assert_same(before, &dump(&server, d, None).unwrap());
    }
}

fn one_error_line(o: &std::process::Output) -> String {
    assert_exit(o, 2);
    let err = stderr(o);
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "expected one line, got:\n{err}");
    lines[0].to_string()
}

/// A malformed config file exits 2 with one line naming the key and the file.
#[test]
fn bad_config_exits_2_naming_key_and_file() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("bad.toml");
    std::fs::write(&f, "[source]\ndatabse = \"monasca\"\n").unwrap();
    let mut c = std::process::Command::new(bin());
    c.args(["plan", "--config"]).arg(&f);
    let line = one_error_line(&output(c));
    assert!(
        line.contains("databse") && line.contains(&f.display().to_string()),
        "{line}"
    );

    std::fs::write(&f, "[window]\nsettle = \"a while\"\n").unwrap();
    let mut c = std::process::Command::new(bin());
    c.args(["run", "--config"]).arg(&f);
    let line = one_error_line(&output(c));
    assert!(
        line.contains("window.settle") && line.contains(&f.display().to_string()),
        "{line}"
    );
}

/// An unreachable server, a wrong password and a missing database each exit 2 with one
/// line saying so.
#[test]
fn unreachable_wrong_password_missing_database_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{closed}");
    let mut c = std::process::Command::new(bin());
    c.args(["run", "--source-url", &url, "--ledger"])
        .arg(ledger_path(dir.path()));
    let line = one_error_line(&output(c));
    assert!(
        line.contains("cannot reach InfluxDB") && line.contains(&url),
        "{line}"
    );

    let server =
        InfluxServer::start_with(ServerOptions::default().auth("admin", "right-pass")).unwrap();
    server.create_database("monasca").unwrap();
    // The password comes from the environment, as recommended (--password would add a
    // process-list warning line).
    let mut c = tool(&server, dir.path(), &["run", "--username", "admin"]);
    c.env("ITM__SOURCE__PASSWORD", "wrong-pass");
    let line = one_error_line(&output(c));
    assert!(
        line.contains("authentication failed") && line.contains("admin"),
        "{line}"
    );
    assert!(!line.contains("wrong-pass"), "{line}");

    let mut c = tool(
        &server,
        dir.path(),
        &["plan", "--username", "admin", "--database", "nope"],
    );
    c.env("ITM__SOURCE__PASSWORD", "right-pass");
    let line = one_error_line(&output(c));
    assert!(line.contains("database \"nope\" not found"), "{line}");
}

/// Tenants and measurements a run leaves out by rule get no database and no copy.
#[test]
fn include_exclude_and_skip_rules() {
    let server = InfluxServer::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let now = now_ns();
    let mut spec = DatasetSpec::monasca(
        &["keep", "drop", "other"],
        1,
        Duration::from_secs(3600),
        now,
    );
    spec.metrics.push(MetricSpec::float("log.lines"));
    spec.tenants.push(TenantSpec::new("keep2"));
    seed(&server, "monasca", &spec).unwrap();
    let p = plan(
        &server,
        dir.path(),
        &[
            "--tenant-include",
            "^keep",
            "--tenant-include",
            "^drop",
            "--tenant-exclude",
            "^drop",
            "--skip-regex",
            "^log\\.",
        ],
    );
    assert_eq!(p["excluded_tenants"], serde_json::json!(["drop", "other"]));
    assert_eq!(p["skipped_measurements"], serde_json::json!(["log.lines"]));
    migrate(
        &server,
        dir.path(),
        &[
            "--tenant-include",
            "^keep",
            "--tenant-exclude",
            "^drop",
            "--skip-regex",
            "^log\\.",
        ],
    );
    assert_eq!(
        databases(&server),
        vec!["monasca", "monasca_keep", "monasca_keep2"]
    );
    let d = dump(&server, "monasca_keep", None).unwrap();
    assert!(d.measurement("log.lines").is_none());
    assert!(d.measurement("cpu.idle_perc").is_some());
}

/// A first run asks first points in the oldest shard and last points in the newest;
/// what is not found there is asked again over every shard. Each tenant's copy is
/// exact whether a measurement spans both edge shards, begins after the oldest, ends
/// before the newest, or lies only in between, beside another measurement of the same
/// tenant that spans them all.
#[test]
fn first_and_last_points_away_from_the_edge_shards() {
    let server = InfluxServer::start().expect("start influxd");
    let now = now_ns();
    let point = |m: &str, tenant: &str, at: i64| {
        Point::new(m)
            .tag("_tenant_id", tenant)
            .tag("hostname", "h")
            .field("value", 2.5)
            .time(at)
            .to_line()
            .unwrap()
    };
    let (oldest, middle) = (now - 5 * WEEK, now - 3 * WEEK);
    let lines = [
        // "a": cpu in the oldest and the newest shard; mem begins later, disk ends
        // earlier, net lies only in the middle.
        point("cpu.idle_perc", "a", oldest),
        point("cpu.idle_perc", "a", now - MINUTE),
        point("mem.free_mb", "a", middle),
        point("mem.free_mb", "a", now - 2 * MINUTE),
        point("disk.used", "a", oldest + MINUTE),
        point("disk.used", "a", middle + MINUTE),
        point("net.in", "a", middle + 2 * MINUTE),
        point("net.in", "a", middle + WEEK),
        // "b" only in between, "c" only in the oldest shard, "d" only in the newest.
        point("cpu.idle_perc", "b", middle),
        point("cpu.idle_perc", "c", oldest + 3 * MINUTE),
        point("cpu.idle_perc", "d", now - 3 * MINUTE),
    ]
    .join("\n");
    server.create_database("monasca").unwrap();
    server.write_lines("monasca", &lines).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let summary = migrate(&server, dir.path(), &[]);
    assert_eq!(summary["points_written"], 11, "{summary}");
    assert_tenants_exact(&server, &["a", "b", "c", "d"]);
}
