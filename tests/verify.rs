//! Verification, plan schema checks, run report and metrics, against real `influxd`
//! servers (testkit), through the binary.

mod common;

use common::gauge;
use influx_tenant_migrate::core::window::{TimeUnit, DAY};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use testkit::{assert_same, dump, seed, DatasetSpec, InfluxServer, Point};

const BIN: &str = env!("CARGO_BIN_EXE_influx-tenant-migrate");

fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as i64
}

/// Two weeks of Monasca data ending a day before this week's Monday: every chunk is
/// closed, so every chunk is recorded and can be verified.
fn dataset(tenants: &[&str]) -> DatasetSpec {
    let end = TimeUnit::Week.align_down(now_ns()) - DAY;
    DatasetSpec::monasca(tenants, 2, Duration::from_secs(1800), end)
}

struct Tool {
    url: String,
    dir: tempfile::TempDir,
}

impl Tool {
    fn new(server: &InfluxServer) -> Self {
        Tool {
            url: server.url(),
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn ledger(&self) -> PathBuf {
        self.dir.path().join("itm.ledger")
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Runs the binary with this server and ledger; no ITM__ variable leaks in.
    /// `args` starts with the command; `status` takes the source only with `--plan`.
    fn run(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new(BIN);
        for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("ITM__")) {
            cmd.env_remove(k);
        }
        cmd.args(args);
        if args[0] != "status" || args.contains(&"--plan") {
            cmd.arg("--source-url")
                .arg(&self.url)
                .arg("--database")
                .arg("monasca");
        }
        cmd.arg("--ledger")
            .arg(self.ledger())
            .arg("--log-level")
            .arg("warn");
        cmd.output().unwrap()
    }

    fn run_ok(&self, args: &[&str]) -> Output {
        let out = self.run(args);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{args:?}\nstdout:\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    fn json(&self, args: &[&str], code: i32) -> Value {
        let out = self.run(args);
        assert_eq!(
            out.status.code(),
            Some(code),
            "{args:?}\nstdout:\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// Ledger lines as JSON.
    fn ledger_lines(&self) -> Vec<Value> {
        ledger_lines(&self.ledger())
    }
}

fn ledger_lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Per tenant from the ledger file, read here independently of the tool: (copied
/// lines, points in them, distinct verified chunks).
fn ledger_figures(lines: &[Value]) -> BTreeMap<String, (u64, u64, u64)> {
    let key = |l: &Value| {
        format!(
            "{}|{}|{}|{}|{}",
            l["tenant"], l["target"], l["measurements"], l["start"], l["end"]
        )
    };
    let verified: std::collections::HashSet<String> = lines
        .iter()
        .filter(|l| l["kind"] == "verified")
        .map(key)
        .collect();
    let mut out: BTreeMap<String, (u64, u64, u64)> = BTreeMap::new();
    for l in lines.iter().filter(|l| l["kind"] == "copied") {
        let e = out
            .entry(l["tenant"].as_str().unwrap().to_string())
            .or_default();
        e.0 += 1;
        e.1 += l["points"].as_u64().unwrap();
        if verified.contains(&key(l)) {
            e.2 += 1;
        }
    }
    out
}

fn first_count(v: &Value) -> u64 {
    v["results"][0]["series"][0]["values"][0][1]
        .as_u64()
        .unwrap_or(0)
}

/// After a clean run every tenant's chunks verify: `verify` exits 0, checks every
/// recorded chunk of every tenant, records each as verified, and a second `verify`
/// has nothing new to check.
#[test]
fn clean_run_verifies_for_every_tenant() {
    let server = InfluxServer::start().unwrap();
    let spec = dataset(&["alpha", "beta", "gamma"]);
    seed(&server, "monasca", &spec).unwrap();
    let tool = Tool::new(&server);
    // Without verification, so that `verify` finds every chunk still to check.
    tool.run_ok(&["run", "--no-verify"]);
    let copied = ledger_figures(&tool.ledger_lines());
    assert_eq!(copied.len(), 3);

    let r = tool.json(&["verify", "--json"], 0);
    for t in ["alpha", "beta", "gamma"] {
        let v = &r["tenants"][t];
        assert_eq!(v["checked"].as_u64().unwrap(), copied[t].0, "{t}: {r}");
        assert_eq!(v["agreed"], v["checked"], "{t}: {r}");
        assert_eq!(v["differ"], 0, "{t}");
        assert_eq!(copied[t].1, spec.tenant_point_count(t), "{t}");
    }
    assert_eq!(r["mismatches"].as_array().unwrap().len(), 0);
    assert_eq!(r["schema_differences"].as_array().unwrap().len(), 0);

    let after = ledger_figures(&tool.ledger_lines());
    for (t, (chunks, _, verified)) in &after {
        assert_eq!(chunks, verified, "{t}: every copied chunk verified");
    }
    let again = tool.json(&["verify", "--json"], 0);
    assert_eq!(again["tenants"], serde_json::json!({}), "{again}");

    let status = tool.json(&["status", "--json"], 0);
    for t in ["alpha", "beta", "gamma"] {
        assert_eq!(
            status["tenants"][t]["verified"],
            status["tenants"][t]["done"]
        );
        assert_eq!(
            status["tenants"][t]["verified"].as_u64().unwrap(),
            copied[t].0
        );
    }
}

/// Points deleted from one tenant's database and a point added to another's make
/// `verify --all` exit 1, naming exactly those tenants, measurements and windows with
/// both figures; the two queries it prints reproduce the figures when run by hand;
/// the untouched tenant agrees, and the differing chunks are not recorded as verified.
#[test]
fn verify_names_what_differs() {
    let server = InfluxServer::start().unwrap();
    let spec = dataset(&["alpha", "beta", "gamma"]);
    seed(&server, "monasca", &spec).unwrap();
    let tool = Tool::new(&server);
    tool.run_ok(&["run"]);

    let t0 = TimeUnit::Day.align_down(spec.start_ns) + 3 * DAY;
    delete_six_hours(&server, "monasca_beta", t0);
    let extra_t = t0 + DAY + 17;
    let line = Point::new("mem.free_mb")
        .tag("_tenant_id", "gamma")
        .tag("hostname", "intruder")
        .field("value", 1.25)
        .time(extra_t)
        .to_line()
        .unwrap();
    server.write_lines("monasca_gamma", &line).unwrap();

    let r = tool.json(&["verify", "--all", "--json"], 1);
    // The loss is a mismatch; the point added to gamma is reported as extra.
    assert_eq!(r["mismatches"].as_array().unwrap().len(), 1, "{r:#}");
    assert_eq!(r["extra"].as_array().unwrap().len(), 1, "{r:#}");
    let mm: Vec<&Value> = r["mismatches"]
        .as_array()
        .unwrap()
        .iter()
        .chain(r["extra"].as_array().unwrap())
        .collect();
    let find = |tenant: &str| {
        mm.iter()
            .find(|m| m["tenant"] == tenant)
            .unwrap_or_else(|| panic!("no mismatch for {tenant}: {r:#}"))
    };
    let beta = find("beta");
    assert_eq!(beta["measurement"], "cpu.idle_perc");
    let (s, e) = (
        beta["window"]["start"].as_i64().unwrap(),
        beta["window"]["end"].as_i64().unwrap(),
    );
    assert!(s <= t0 && t0 < e, "window {s}..{e} holds the deleted hours");
    assert_eq!(beta["tenant"], r["mismatches"][0]["tenant"]);
    let gamma = find("gamma");
    assert_eq!(gamma["measurement"], "mem.free_mb");
    let (s, e) = (
        gamma["window"]["start"].as_i64().unwrap(),
        gamma["window"]["end"].as_i64().unwrap(),
    );
    assert!(s <= extra_t && extra_t < e);
    assert_eq!(r["tenants"]["alpha"]["differ"], 0);

    for m in [*beta, *gamma] {
        let count = m["differences"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["field"] == "value" && d["figure"] == "count")
            .unwrap();
        let src: u64 = count["source"].as_str().unwrap().parse().unwrap();
        let dst: u64 = count["target"].as_str().unwrap().parse().unwrap();
        if m["tenant"] == "beta" {
            // 2 hosts report every 30 minutes: 6 hours are 24 points.
            assert_eq!(src - dst, 24, "{m}");
        } else {
            assert_eq!(dst, src + 1, "{m}");
        }
        // The printed queries reproduce both figures (fields are sorted, so `value`
        // comes before `value_meta` and is aliased c0).
        let sq = m["source_query"].as_str().unwrap();
        let tq = m["target_query"].as_str().unwrap();
        assert!(sq.contains("count(\"value\"::field) AS \"c0\""), "{sq}");
        assert_eq!(first_count(&server.query(None, sq).unwrap()), src);
        assert_eq!(first_count(&server.query(None, tq).unwrap()), dst);
    }

    let text = tool.run(&["verify", "--all"]);
    assert_eq!(text.status.code(), Some(1));
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("MISMATCH tenant \"beta\" measurement \"cpu.idle_perc\""),
        "{text}"
    );
    assert!(text.contains("source query: SELECT"), "{text}");

    let status = tool.json(&["status", "--json"], 0);
    let b = &status["tenants"]["beta"];
    assert_eq!(
        b["verified"].as_u64().unwrap() + 1,
        b["done"].as_u64().unwrap(),
        "the differing beta chunk is not verified: {status}"
    );
    assert_eq!(
        status["tenants"]["alpha"]["verified"],
        status["tenants"]["alpha"]["done"]
    );
}

/// `plan` reports a field whose type differs between shards, a name that is both a
/// tag and a field, a skipped measurement and an excluded tenant, in JSON and text;
/// a run with --verify then copies and verifies both odd measurements.
#[test]
fn plan_reports_schema_findings() {
    let server = InfluxServer::start().unwrap();
    server.create_database("monasca").unwrap();
    let week = TimeUnit::Week.align_down(now_ns()) - 4 * 7 * DAY;
    let p = |m: &str, tenant: &str| Point::new(m).tag("_tenant_id", tenant);
    let lines = [
        p("mixed", "t1").field("value", 1.5).time(week + DAY),
        // A later week is another shard: integer is accepted there.
        p("mixed", "t1").field("value", 7i64).time(week + 8 * DAY),
        p("clash", "t1")
            .tag("host", "h1")
            .field("host", "fieldhost")
            .field("value", 2.5)
            .time(week + DAY),
        p("clash", "t1")
            .tag("host", "h2")
            .field("value", 3.5)
            .time(week + DAY + 1),
        p("log.x", "t1").field("msg", "skipped").time(week + DAY),
        p("mixed", "ops").field("value", 9.5).time(week + DAY),
    ];
    let text: Vec<String> = lines.iter().map(|l| l.to_line().unwrap()).collect();
    // One write per line: the integer must reach the later shard on its own.
    for l in &text {
        server.write_lines("monasca", l).unwrap();
    }
    let tool = Tool::new(&server);
    let filters = ["--skip-regex", "^log\\.", "--tenant-exclude", "^ops$"];
    let mut args = vec!["plan", "--json"];
    args.extend(filters);
    let plan = tool.json(&args, 0);
    let checks = plan["checks"].as_array().unwrap();
    let has =
        |kind: &str, f: &dyn Fn(&Value) -> bool| checks.iter().any(|c| c["check"] == kind && f(c));
    assert!(
        has("field_type_conflict", &|c| c["measurement"] == "mixed"
            && c["field"] == "value"
            && c["types"] == serde_json::json!(["float", "integer"])),
        "{checks:#?}"
    );
    assert!(
        has("tag_field_clash", &|c| c["measurement"] == "clash"
            && c["name"] == "host"),
        "{checks:#?}"
    );
    assert!(has("measurement_skipped", &|c| c["measurement"] == "log.x"));
    assert!(has("tenant_excluded", &|c| c["tenant"] == "ops"));

    let mut args = vec!["plan"];
    args.extend(filters);
    let out = tool.run_ok(&args);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("field \"value\" of \"mixed\" has types float and integer"),
        "{text}"
    );
    assert!(
        text.contains("\"host\" is both a tag and a field of \"clash\""),
        "{text}"
    );

    let mut args = vec!["run", "--verify"];
    args.extend(filters);
    tool.run_ok(&args);
    let v = tool.json(&["verify", "--all", "--json"], 0);
    assert!(v["tenants"]["t1"]["agreed"].as_u64().unwrap() >= 2, "{v}");
}

/// A run with --verify, --report and --metrics-file leaves a JSON report and a
/// Prometheus text file that parse (serde_json; openmetrics-parser's Prometheus
/// grammar, which also unescapes the tenant label with a quote and a backslash) and
/// whose per-tenant figures equal the ledger's as read here; no failure report is left.
#[test]
fn report_and_metrics_match_ledger() {
    let server = InfluxServer::start().unwrap();
    let odd = "q\"uote\\b";
    let spec = dataset(&["alpha", odd]);
    seed(&server, "monasca", &spec).unwrap();
    let tool = Tool::new(&server);
    let report = tool.path("report.json");
    let metrics = tool.path("itm.prom");
    tool.run_ok(&[
        "run",
        "--verify",
        "--report",
        report.to_str().unwrap(),
        "--metrics-file",
        metrics.to_str().unwrap(),
    ]);
    let ledger = ledger_figures(&tool.ledger_lines());
    assert_eq!(ledger.len(), 2);
    assert!(!tool.path("itm.ledger.failures.json").exists());

    let r: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(r["exit_code"], 0);
    assert_eq!(r["error"], Value::Null);
    assert!(r["elapsed_secs"].as_f64().unwrap() > 0.0);
    let mut total = 0;
    for (t, (chunks, points, verified)) in &ledger {
        let x = &r["tenants"][t];
        assert_eq!(
            x["run"]["chunks_recorded"].as_u64().unwrap(),
            *chunks,
            "{t}"
        );
        assert_eq!(
            x["run"]["points_recorded"].as_u64().unwrap(),
            *points,
            "{t}"
        );
        assert_eq!(x["run"]["chunks_failed"], 0);
        assert_eq!(x["ledger"]["done"].as_u64().unwrap(), *chunks, "{t}");
        assert_eq!(x["ledger"]["verified"].as_u64().unwrap(), *verified, "{t}");
        assert_eq!(x["ledger"]["points"].as_u64().unwrap(), *points, "{t}");
        assert_eq!(*verified, *chunks, "{t}: --verify verified every chunk");
        assert_eq!(*points, spec.tenant_point_count(t), "{t}");
        total += points;
    }
    assert_eq!(r["summary"]["points_written"].as_u64().unwrap(), total);
    assert_eq!(
        r["summary"]["verification"]["mismatches"]
            .as_array()
            .unwrap()
            .len(),
        0
    );

    let text = std::fs::read_to_string(&metrics).unwrap();
    let value = |name: &str, labels: &[(&str, &str)]| gauge(&text, name, labels);
    for (t, (chunks, points, verified)) in &ledger {
        assert_eq!(value("ledger_points", &[("tenant", t)]), *points as f64);
        assert_eq!(
            value("chunks", &[("tenant", t), ("state", "done")]),
            *chunks as f64
        );
        assert_eq!(
            value("chunks", &[("tenant", t), ("state", "verified")]),
            *verified as f64
        );
        assert_eq!(value("chunks", &[("tenant", t), ("state", "failed")]), 0.0);
        assert_eq!(
            value("last_run_points_copied", &[("tenant", t)]),
            *points as f64
        );
    }
    assert_eq!(value("last_run_success", &[]), 1.0);
    assert_eq!(value("last_run_failures", &[]), 0.0);
    assert_eq!(value("last_run_verify_mismatches", &[]), 0.0);
    let ran = value("last_run_timestamp_seconds", &[]);
    assert_eq!(value("last_success_timestamp_seconds", &[]), ran);
    assert!(value("last_run_duration_seconds", &[]) > 0.0);
}

/// Chunks a run cannot copy (the tenant's database already holds `value` as a string
/// in the first week, so InfluxDB refuses the floats: a permanent error) land in the
/// failure report; `status` counts them as failed, `status --plan` as pending too; the
/// metrics say the run failed and the report carries the errors; the exit code is 1.
#[test]
fn failures_reach_report_status_and_metrics() {
    let server = InfluxServer::start().unwrap();
    let spec = dataset(&["alpha"]);
    seed(&server, "monasca", &spec).unwrap();
    server.create_database("monasca_alpha").unwrap();
    let line = Point::new("cpu.idle_perc")
        .tag("_tenant_id", "alpha")
        .field("value", "not a number")
        .time(spec.start_ns)
        .to_line()
        .unwrap();
    server.write_lines("monasca_alpha", &line).unwrap();
    let tool = Tool::new(&server);
    let report = tool.path("report.json");
    let metrics = tool.path("itm.prom");
    let out = tool.run(&[
        "run",
        "--retries",
        "0",
        "--report",
        report.to_str().unwrap(),
        "--metrics-file",
        metrics.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");

    let failures: Value = serde_json::from_str(
        &std::fs::read_to_string(tool.path("itm.ledger.failures.json")).unwrap(),
    )
    .unwrap();
    let n = failures["failures"].as_array().unwrap().len() as u64;
    assert!(n > 0, "{failures}");
    let error = failures["failures"][0]["error"].as_str().unwrap();
    assert!(error.contains("field type conflict"), "{error}");

    let status = tool.json(&["status", "--json"], 0);
    assert_eq!(status["tenants"]["alpha"]["failed"].as_u64().unwrap(), n);
    assert!(
        status["tenants"]["alpha"]["done"].as_u64().unwrap() > 0,
        "{status}"
    );
    assert_eq!(status["tenants"]["alpha"]["pending"], Value::Null);
    let planned = tool.json(&["status", "--plan", "--json"], 0);
    assert!(planned["tenants"]["alpha"]["pending"].as_u64().unwrap() > 0);

    let r: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(r["exit_code"], 1);
    assert_eq!(
        r["tenants"]["alpha"]["run"]["chunks_failed"]
            .as_u64()
            .unwrap(),
        n
    );
    assert_eq!(r["summary"]["failures"].as_array().unwrap().len() as u64, n);
    let text = std::fs::read_to_string(&metrics).unwrap();
    let parsed = openmetrics_parser::prometheus::parse_prometheus(&text).unwrap();
    let gauge = |name: &str| -> f64 {
        let f = &parsed.families[&format!("influx_tenant_migrate_{name}")];
        match &f.iter_samples().next().unwrap().value {
            openmetrics_parser::PrometheusValue::Gauge(n) => n.as_f64(),
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(gauge("last_run_success"), 0.0);
    assert_eq!(gauge("last_run_failures"), n as f64);
    assert!(
        !parsed
            .families
            .contains_key("influx_tenant_migrate_last_success_timestamp_seconds"),
        "never succeeded: {text}"
    );
}

/// Runs `args` with the report written to `report.json` in the tool's directory and
/// returns the exit code, stderr and the report.
fn run_with_report(tool: &Tool, args: &[&str]) -> (i32, String, Value) {
    let report = tool.path("report.json");
    let mut all = args.to_vec();
    all.extend(["--report", report.to_str().unwrap()]);
    let out = tool.run(&all);
    let r = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (out.status.code().unwrap(), stderr, r)
}

/// A run with default settings checks every closed chunk it copies: the run report
/// shows, per tenant, as many chunks checked and agreeing as recorded, and the ledger
/// has a `verified` line for every `copied` one.
#[test]
fn default_run_report_shows_every_chunk_verified() {
    let server = InfluxServer::start().unwrap();
    let spec = dataset(&["alpha", "beta"]);
    seed(&server, "monasca", &spec).unwrap();
    let tool = Tool::new(&server);
    let (code, stderr, r) = run_with_report(&tool, &["run"]);
    assert_eq!(code, 0, "{stderr}");
    let v = &r["summary"]["verification"];
    assert_eq!(r["summary"]["not_verified"], Value::Null, "{r:#}");
    let ledger = ledger_figures(&tool.ledger_lines());
    assert_eq!(ledger.len(), 2);
    for (t, (chunks, _, verified)) in &ledger {
        assert!(*chunks > 0);
        assert_eq!(
            v["tenants"][t]["checked"].as_u64().unwrap(),
            *chunks,
            "{t}: {v:#}"
        );
        assert_eq!(v["tenants"][t]["agreed"].as_u64().unwrap(), *chunks, "{t}");
        assert_eq!(
            r["tenants"][t]["run"]["chunks_recorded"].as_u64().unwrap(),
            *chunks
        );
        assert_eq!(verified, chunks, "{t}: every copied chunk verified");
    }
    assert_eq!(v["recopied"], 0);
}

/// Points deleted from a recorded, verified chunk: `verify` exits 1 and records the
/// chunk as differing, `status` shows it awaiting repair, the next `run` copies it
/// again and exits 0, the target equals its dump from before the deletion, and a
/// second `verify --all` exits 0.
#[test]
fn deleted_points_are_restored_by_next_run() {
    let server = InfluxServer::start().unwrap();
    let spec = dataset(&["alpha", "beta"]);
    seed(&server, "monasca", &spec).unwrap();
    let tool = Tool::new(&server);
    tool.run_ok(&["run"]);
    let chunks = ledger_figures(&tool.ledger_lines())["beta"].0;
    let before = testkit::dump(&server, "monasca_beta", None).unwrap();
    let t0 = TimeUnit::Day.align_down(spec.start_ns) + 3 * DAY;
    delete_six_hours(&server, "monasca_beta", t0);

    let r = tool.json(&["verify", "--all", "--json"], 1);
    assert_eq!(r["mismatches"][0]["tenant"], "beta", "{r:#}");
    assert_eq!(r["recorded_differs"], 1, "{r:#}");
    let status = tool.json(&["status", "--json"], 0);
    assert_eq!(status["tenants"]["beta"]["repair"], 1, "{status:#}");
    assert_eq!(status["tenants"]["alpha"]["repair"], 0, "{status:#}");

    let (code, stderr, rep) = run_with_report(&tool, &["run"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        rep["summary"]["chunks_recorded"].as_u64().unwrap() >= 1,
        "{rep:#}"
    );
    let after = testkit::dump(&server, "monasca_beta", None).unwrap();
    testkit::assert_same(&before, &after);
    let again = tool.json(&["verify", "--all", "--json"], 0);
    assert_eq!(
        again["mismatches"].as_array().unwrap().len(),
        0,
        "{again:#}"
    );
    let status = tool.json(&["status", "--json"], 0);
    assert_eq!(status["tenants"]["beta"]["repair"], 0, "{status:#}");
    assert_eq!(
        status["tenants"]["beta"]["verified"].as_u64().unwrap(),
        chunks
    );
}

/// A copy that merges series (dropping the `hostname` tag puts the points of two hosts
/// at the same timestamps into one series) always leaves the target short: the chunk
/// is copied again once, still differs, and fails: exit 1, in the failure report with
/// the measurement and both counts, and not recorded as copied.
#[test]
fn chunk_that_cannot_agree_fails_unrecorded() {
    let server = InfluxServer::start().unwrap();
    server.create_database("monasca").unwrap();
    let week = TimeUnit::Week.align_down(now_ns()) - 3 * 7 * DAY;
    let mut lines = Vec::new();
    for i in 0..10i64 {
        for (host, v) in [("h1", 1.5), ("h2", 2.5)] {
            let p = Point::new("cpu.idle_perc")
                .tag("_tenant_id", "alpha")
                .tag("hostname", host)
                .field("value", v)
                .time(week + DAY + i * 60_000_000_000);
            lines.push(p.to_line().unwrap());
        }
    }
    server.write_lines("monasca", &lines.join("\n")).unwrap();
    let tool = Tool::new(&server);
    let (code, stderr, r) = run_with_report(&tool, &["run", "--drop-tag", "hostname"]);
    assert_eq!(code, 1, "{stderr}");
    let failures: Value = serde_json::from_str(
        &std::fs::read_to_string(tool.path("itm.ledger.failures.json")).unwrap(),
    )
    .unwrap();
    let failed = failures["failures"].as_array().unwrap();
    assert!(!failed.is_empty(), "{failures:#}");
    for f in failed {
        let e = f["error"].as_str().unwrap();
        assert!(e.contains("still differs"), "{e}");
        assert!(e.contains("measurement \"cpu.idle_perc\""), "{e}");
        assert!(e.contains("count(\"value\")"), "{e}");
    }
    assert!(r["summary"]["verification"]["recopied"].as_u64().unwrap() >= failed.len() as u64);
    let recorded: Vec<(i64, i64)> = tool
        .ledger_lines()
        .iter()
        .filter(|l| l["kind"] == "copied")
        .map(|l| (l["start"].as_i64().unwrap(), l["end"].as_i64().unwrap()))
        .collect();
    for f in failed {
        let w = (
            f["chunk"]["window"]["start"].as_i64().unwrap(),
            f["chunk"]["window"]["end"].as_i64().unwrap(),
        );
        assert!(!recorded.contains(&w), "failed chunk {w:?} recorded");
    }
    assert!(stderr.contains("MISMATCH tenant \"alpha\""), "{stderr}");
}

/// A streamed copy to another server is verified too: source figures from the source
/// server, target figures from the target server; every chunk agrees and is recorded
/// as verified under the target server's URL.
#[test]
fn stream_copy_is_verified() {
    let source = InfluxServer::start().unwrap();
    let target = InfluxServer::start().unwrap();
    let spec = dataset(&["alpha", "beta"]);
    seed(&source, "monasca", &spec).unwrap();
    let tool = Tool::new(&source);
    let (code, stderr, r) = run_with_report(&tool, &["run", "--target-url", &target.url()]);
    assert_eq!(code, 0, "{stderr}");
    let lines = tool.ledger_lines();
    let ledger = ledger_figures(&lines);
    assert_eq!(ledger.len(), 2);
    for (t, (chunks, points, verified)) in &ledger {
        assert_eq!(verified, chunks, "{t}");
        assert_eq!(*points, spec.tenant_point_count(t), "{t}");
        let v = &r["summary"]["verification"]["tenants"][t];
        assert_eq!(v["agreed"].as_u64().unwrap(), *chunks, "{t}: {r:#}");
    }
    assert!(lines
        .iter()
        .filter(|l| l["kind"] == "verified")
        .all(|l| l["target_url"] == target.url().as_str()));
}

/// `--no-verify` copies without checking and the summary says so; `export` writes
/// files, which are not verified, and says so too.
#[test]
fn unverified_runs_say_so() {
    let server = InfluxServer::start().unwrap();
    let spec = dataset(&["alpha"]);
    seed(&server, "monasca", &spec).unwrap();
    let tool = Tool::new(&server);
    let (code, stderr, r) = run_with_report(&tool, &["run", "--no-verify"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("not verified: --no-verify"), "{stderr}");
    assert_eq!(r["summary"]["verification"], Value::Null);
    assert!(tool.ledger_lines().iter().all(|l| l["kind"] == "copied"));
    let dir = tool.path("export");
    let out = tool.run(&["export", "--dir", dir.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("not verified: export writes files"),
        "{stderr}"
    );
}

/// Deletes six hours of `cpu.idle_perc` from `t0` in database `db`: points lost in a
/// target after the copy.
fn delete_six_hours(server: &InfluxServer, db: &str, t0: i64) {
    server
        .query(
            Some(db),
            &format!(
                "DELETE FROM \"cpu.idle_perc\" WHERE time >= {t0} AND time < {}",
                t0 + 6 * 3_600_000_000_000
            ),
        )
        .unwrap();
}

/// A server seeded with 30 tenants of one host each, and their ids.
fn many_tenants() -> (InfluxServer, Vec<String>) {
    let server = InfluxServer::start().expect("start influxd");
    let ids: Vec<String> = (0..30).map(|i| format!("t{i:02}")).collect();
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let mut spec = dataset(&refs);
    spec.hosts_per_tenant = 1;
    seed(&server, "monasca", &spec).unwrap();
    (server, ids)
}

/// The schema comparison at the end of a verified run sends its `SHOW FIELD KEYS`
/// statements of all targets in shared requests: a rerun with verification costs the
/// server at most a few requests more than one with `--no-verify`, not one per tenant
/// (counted by the server itself, which also sees the target client's requests).
#[test]
fn schema_check_costs_few_requests_for_many_tenants() {
    let (server, ids) = many_tenants();
    let tool = Tool::new(&server);
    tool.run_ok(&["run"]);

    let before = server.query_requests().unwrap();
    tool.run_ok(&["run", "--no-verify"]);
    let unverified = server.query_requests().unwrap() - before;
    let before = server.query_requests().unwrap();
    let report = tool.json(&["run", "--json"], 0);
    let verified = server.query_requests().unwrap() - before;

    assert_eq!(
        report["verification"]["schema_differences"],
        Value::Array(vec![])
    );
    assert!(
        verified <= unverified + 3,
        "rerun of {} tenants: {verified} requests verified, {unverified} with --no-verify",
        ids.len()
    );
}

/// The checks of many small chunks share requests: a verified first run over 30
/// tenants costs the server a few requests more than an unverified one, not one per
/// closed chunk, and every closed chunk is still checked and recorded as verified;
/// `verify --all` checks them all again in fewer requests than chunks (requests
/// counted by the server itself).
#[test]
fn checks_of_many_chunks_share_requests() {
    let (server, ids) = many_tenants();

    let unverified_tool = Tool::new(&server);
    let before = server.query_requests().unwrap();
    let unverified_report = unverified_tool.json(&["run", "--json", "--no-verify"], 0);
    let unverified = server.query_requests().unwrap() - before;
    for t in &ids {
        server
            .query(None, &format!("DROP DATABASE \"monasca_{t}\""))
            .unwrap();
    }

    let tool = Tool::new(&server);
    let before = server.query_requests().unwrap();
    let report = tool.json(&["run", "--json"], 0);
    let verified = server.query_requests().unwrap() - before;

    let closed = report["chunks_recorded"].as_u64().unwrap();
    assert_eq!(
        closed,
        unverified_report["chunks_recorded"].as_u64().unwrap()
    );
    assert!(closed >= ids.len() as u64, "{closed} closed chunks");
    assert_eq!(report["verification"]["recorded"].as_u64().unwrap(), closed);
    assert_eq!(report["verification"]["mismatches"], Value::Array(vec![]));
    assert!(
        verified <= unverified + 8,
        "first run of {} tenants, {closed} closed chunks: {verified} requests verified, \
         {unverified} with --no-verify",
        ids.len()
    );
    let points_of = |db: &str, t: &str| dump(&server, db, Some(("_tenant_id", t))).unwrap();
    for t in &ids {
        assert_same(
            &points_of("monasca", t),
            &points_of(&format!("monasca_{t}"), t),
        );
    }

    // `verify --all` shares its checks' requests too, and asks the targets' policies
    // in one request: a small constant, not a request per chunk or per tenant (30
    // tenants: 6 requests; 153 when each chunk was checked alone, 35 when each target's
    // `SHOW RETENTION POLICIES` was a request of its own).
    let before = server.query_requests().unwrap();
    let again = tool.json(&["verify", "--all", "--json"], 0);
    let verify_requests = server.query_requests().unwrap() - before;
    let checked: u64 = again["tenants"]
        .as_object()
        .unwrap()
        .values()
        .map(|t| t["checked"].as_u64().unwrap())
        .sum();
    assert_eq!(checked, closed, "{again}");
    assert!(
        verify_requests <= 10,
        "verify --all of {closed} chunks of {} tenants: {verify_requests} requests",
        ids.len()
    );
}
