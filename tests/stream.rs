//! Cross-server streaming, export/import and transforms, against real `influxd`
//! servers started by testkit and the tool's own binary.

mod common;

use common::gauge;
use influx_tenant_migrate::plan::target_database;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};
use testkit::{assert_same, dump, seed, DatasetSpec, Dump, InfluxServer, Point};

/// 2024-01-01T00:00:00Z, a Monday: data ends here, so every chunk is closed.
const END: i64 = 1_704_067_200_000_000_000;
const WEEK: i64 = 7 * 86_400_000_000_000;

const TENANTS: [&str; 3] = ["t1", "p/q", "ü x"];

fn tool(args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_influx-tenant-migrate"))
        .args(args)
        .env("ITM__RUN__RETRY_BACKOFF", "100ms")
        .output()
        .expect("run the tool");
    eprintln!(
        "$ influx-tenant-migrate {}\n{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn code(out: &Output) -> i32 {
    out.status.code().unwrap_or(-1)
}

fn target_db(tenant: &str) -> String {
    target_database("{database}_{tenant}", "monasca", tenant)
}

/// Points with every field type and the names that need escaping: a measurement with
/// a space and a comma, tag values with spaces, commas, '=', quotes and backslashes,
/// strings with quotes, backslashes and newlines, floats that need all their digits,
/// whole floats, -0.0, extreme integers, and rows where only some fields are set (the
/// two measurements share a field name of one type, so they are read in one query
/// whose columns are the union).
fn awkward_lines(tenant: &str) -> String {
    let t0 = END - WEEK - 3 * 3_600_000_000_000;
    let floats = [
        0.1 + 0.2,
        1e-7,
        1e300,
        7.0,
        -0.0,
        123_456_789.123_456_78,
        f64::MIN_POSITIVE,
    ];
    let strings = [
        "say \"hi\"",
        "C:\\path\\",
        "line1\nline2\n",
        "\\\\",
        "",
        "tab\there ünï",
    ];
    let mut out = String::new();
    for i in 0..floats.len() {
        let p = Point::new("check status,x")
            .tag("_tenant_id", tenant)
            .tag(
                "where",
                ["a b,c=d", "C:\\tmp\\x", "\"quoted\"", "a\\,b"][i % 4],
            )
            .field("ok", i % 2 == 0)
            .field("msg", strings[i % strings.len()])
            .field("n", [i64::MAX, i64::MIN, 0, -1][i % 4])
            .field("f", floats[i])
            .time(t0 + i as i64 * 1_000_000_007);
        out.push_str(&p.to_line().unwrap());
        out.push('\n');
        // Only some fields set: the others are null in the query and must stay absent.
        let mut q = Point::new("events").tag("_tenant_id", tenant);
        q = if i % 2 == 0 {
            q.field("f", floats[i])
        } else {
            q.field("msg", strings[i % strings.len()])
        };
        out.push_str(&q.time(t0 + i as i64).to_line().unwrap());
        out.push('\n');
    }
    out
}

fn seed_source(server: &InfluxServer, weeks: u32, interval: Duration) -> DatasetSpec {
    let spec = DatasetSpec::monasca(&TENANTS, weeks, interval, END);
    seed(server, "monasca", &spec).unwrap();
    for t in TENANTS {
        server.write_lines("monasca", &awkward_lines(t)).unwrap();
    }
    spec
}

fn source_dump(source: &InfluxServer, tenant: &str) -> Dump {
    dump(source, "monasca", Some(("_tenant_id", tenant))).unwrap()
}

fn assert_tenants_equal(source: &InfluxServer, target: &InfluxServer) {
    for t in TENANTS {
        let expected = source_dump(source, t);
        assert!(expected.point_count() > 0);
        let actual = dump(target, &target_db(t), None).unwrap();
        assert_same(&expected, &actual);
    }
}

fn ledger_lines(path: &Path) -> usize {
    std::fs::read_to_string(path)
        .map(|s| s.lines().count())
        .unwrap_or(0)
}

/// Streaming into another server copies every tenant point for point and type for
/// type (integers stay integers, whole floats stay floats, booleans, strings with
/// quotes, backslashes and newlines, awkward tag values and measurement names, null
/// fields left absent), writes nothing on the source, records its chunks under the
/// target's URL, and a rerun finds everything covered and writes nothing more.
#[test]
fn stream_copies_every_type_exactly() {
    let source = InfluxServer::start().unwrap();
    let target = InfluxServer::start().unwrap();
    seed_source(&source, 2, Duration::from_secs(1800));
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("l");
    let args = [
        "run",
        "--source-url",
        &source.url(),
        "--target-url",
        &target.url(),
        "--ledger",
        ledger.to_str().unwrap(),
        "--write-batch-points",
        "100",
        "--read-chunk-size",
        "50",
    ];
    let out = tool(&args);
    assert_eq!(code(&out), 0);
    assert_tenants_equal(&source, &target);
    assert_eq!(source.databases().unwrap(), vec!["monasca".to_string()]);
    let text = std::fs::read_to_string(&ledger).unwrap();
    let records = text.lines().count();
    assert!(records > 0);
    assert!(text
        .lines()
        .all(|l| l.contains(&format!("\"target_url\":\"{}\"", target.url()))));

    let out = tool(&args);
    assert_eq!(code(&out), 0);
    assert_eq!(
        ledger_lines(&ledger),
        records,
        "a rerun recorded new chunks"
    );
    assert_tenants_equal(&source, &target);
}

/// The target is killed with SIGKILL while chunks stream into it: the run exits with
/// code 1, having recorded only chunks whose writes the target confirmed; after a
/// restart a rerun copies the rest and the result is exact, so no recorded chunk was
/// partial and no point was lost or changed.
#[test]
fn target_killed_mid_stream_then_rerun_is_exact() {
    let source = InfluxServer::start().unwrap();
    let mut target = InfluxServer::start().unwrap();
    seed_source(&source, 3, Duration::from_secs(120));
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("l");
    let url = target.url();
    let args = [
        "run",
        "--source-url",
        &source.url(),
        "--target-url",
        &url,
        "--ledger",
        ledger.to_str().unwrap(),
        "--time-unit",
        "day",
        "--concurrency",
        "2",
        "--retries",
        "1",
        "--write-batch-points",
        "500",
    ];
    let mut child = Command::new(env!("CARGO_BIN_EXE_influx-tenant-migrate"))
        .args(args)
        .env("ITM__RUN__RETRY_BACKOFF", "100ms")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    while ledger_lines(&ledger) < 2 {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before the target was killed"
        );
        assert!(Instant::now() < deadline, "no chunk recorded in 120 s");
        std::thread::sleep(Duration::from_millis(5));
    }
    target.kill();
    let recorded_before_kill = ledger_lines(&ledger);
    let out = child.wait_with_output().unwrap();
    eprintln!("{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(code(&out), 1, "the run must report the failed chunks");
    let recorded = ledger_lines(&ledger);
    assert!(recorded >= recorded_before_kill);

    target.restart().unwrap();
    assert_eq!(target.url(), url, "the target came back on another port");
    let out = tool(&args);
    assert_eq!(code(&out), 0);
    assert!(ledger_lines(&ledger) > recorded);
    assert_tenants_equal(&source, &target);
}

/// Export writes one gzip line-protocol file per chunk under a directory per tenant,
/// and import loads them into a third server equal to the source per tenant. The
/// export's records (target `file://DIR`) do not count as imported, an import rerun
/// loads nothing again, and an export rerun records nothing new.
#[test]
fn export_then_import_into_third_server() {
    let source = InfluxServer::start().unwrap();
    let third = InfluxServer::start().unwrap();
    seed_source(&source, 2, Duration::from_secs(3600));
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("l");
    let files = dir.path().join("export");
    let common = ["--ledger", ledger.to_str().unwrap()];
    let export = |extra: &[&str]| {
        let mut a = vec!["export", "--dir", files.to_str().unwrap()]
            .into_iter()
            .map(String::from)
            .collect::<Vec<_>>();
        a.extend(["--source-url".to_string(), source.url()]);
        a.extend(common.iter().map(|s| s.to_string()));
        a.extend(extra.iter().map(|s| s.to_string()));
        tool(&a.iter().map(String::as_str).collect::<Vec<_>>())
    };
    assert_eq!(code(&export(&[])), 0);
    let exported = ledger_lines(&ledger);
    assert!(exported > 0);
    let mut names = Vec::new();
    for tenant_dir in std::fs::read_dir(&files).unwrap() {
        for f in std::fs::read_dir(tenant_dir.unwrap().path()).unwrap() {
            names.push(f.unwrap().file_name().to_string_lossy().to_string());
        }
    }
    assert!(names.iter().all(|n| n.ends_with(".lp.gz")), "{names:?}");
    assert_eq!(names.len(), exported, "one file per recorded chunk");
    assert!(files.join("p%2Fq").is_dir());

    let import_args = [
        "import",
        "--dir",
        files.to_str().unwrap(),
        "--target-url",
        &third.url(),
        "--ledger",
        ledger.to_str().unwrap(),
        "--write-batch-points",
        "64",
    ];
    assert_eq!(code(&tool(&import_args)), 0);
    let after_import = ledger_lines(&ledger);
    assert_eq!(after_import, 2 * exported);
    assert_tenants_equal(&source, &third);

    assert_eq!(code(&tool(&import_args)), 0);
    assert_eq!(
        ledger_lines(&ledger),
        after_import,
        "import rerun loaded again"
    );
    assert_eq!(code(&export(&[])), 0);
    assert_eq!(
        ledger_lines(&ledger),
        after_import,
        "export rerun wrote again"
    );
    assert_tenants_equal(&source, &third);
}

/// The expected content after dropping `tag` and renaming `from` to `to`.
fn rewritten(mut d: Dump, tag: &str, from: &str, to: &str) -> Dump {
    for m in d.measurements.values_mut() {
        for p in &mut m.points {
            p.series.tags.remove(tag);
        }
    }
    if let Some(mut m) = d.measurements.remove(from) {
        for p in &mut m.points {
            p.series.measurement = to.to_string();
        }
        d.measurements.insert(to.to_string(), m);
    }
    for m in d.measurements.values_mut() {
        m.points
            .sort_by(|a, b| (&a.series, a.time_ns).cmp(&(&b.series, b.time_ns)));
    }
    d
}

fn transforms_case(server_side: bool) {
    let source = InfluxServer::start().unwrap();
    let other = InfluxServer::start().unwrap();
    // Batched measurements with different tag keys: `disk.space_used_perc` has
    // `device`, the others `component`; the group list must be their union.
    let spec = DatasetSpec::monasca(&["t1", "t2"], 1, Duration::from_secs(3600), END);
    seed(&source, "monasca", &spec).unwrap();
    for t in ["t1", "t2"] {
        source.write_lines("monasca", &awkward_lines(t)).unwrap();
    }
    let target = if server_side { &source } else { &other };
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("l");
    let mut args = vec![
        "run".to_string(),
        "--source-url".to_string(),
        source.url(),
        "--ledger".into(),
        ledger.display().to_string(),
        "--drop-tag".into(),
        "_tenant_id".into(),
        "--rename-measurement".into(),
        r"^cpu\.(.*)$=cpu_$1".into(),
    ];
    if !server_side {
        args.extend(["--target-url".to_string(), other.url()]);
    }
    let out = tool(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(code(&out), 0);
    for t in ["t1", "t2"] {
        let expected = rewritten(
            source_dump(&source, t),
            "_tenant_id",
            "cpu.idle_perc",
            "cpu_idle_perc",
        );
        let actual = dump(target, &target_db(t), None).unwrap();
        assert_same(&expected, &actual);
        let tag_keys = target
            .query(Some(&target_db(t)), "SHOW TAG KEYS")
            .unwrap()
            .to_string();
        assert!(!tag_keys.contains("_tenant_id"), "{tag_keys}");
        assert!(tag_keys.contains("device") && tag_keys.contains("component"));
    }
}

/// Server-side (SELECT INTO) with `--drop-tag _tenant_id` and a measurement rename:
/// each tenant database equals the source tenant's points without the tenant tag and
/// with the renamed measurement; every other tag of every batched measurement survives
/// (the GROUP BY list is the union of their tag keys) and no tag became a field.
#[test]
fn server_side_drop_tag_and_rename() {
    transforms_case(true);
}

/// The same transforms when streaming to another server give the same result.
#[test]
fn streamed_drop_tag_and_rename() {
    transforms_case(false);
}

/// The tool's arguments: the subcommand and its own arguments, then `flags` (server,
/// ledger, run and output flags), which each command takes after its name.
fn args<'a>(flags: &[&'a str], command: &[&'a str]) -> Vec<&'a str> {
    command.iter().chain(flags).copied().collect()
}

/// Runs `command` with its ledger, `--report` and `--metrics-file` under `dir`, named
/// after `name`, plus `flags`; returns the output, the parsed JSON report and the
/// metrics text.
fn with_outputs(
    dir: &Path,
    name: &str,
    flags: &[&str],
    command: &[&str],
) -> (Output, serde_json::Value, String) {
    let ledger = dir.join(format!("{name}.ledger"));
    let report = dir.join(format!("{name}.report.json"));
    let metrics = dir.join(format!("{name}.prom"));
    let mut all = vec![
        "--ledger",
        ledger.to_str().unwrap(),
        "--report",
        report.to_str().unwrap(),
        "--metrics-file",
        metrics.to_str().unwrap(),
    ];
    all.extend_from_slice(flags);
    let out = tool(&args(&all, command));
    let text = std::fs::read_to_string(&report).expect("the report is written");
    let report = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let metrics = std::fs::read_to_string(&metrics).expect("the metrics are written");
    (out, report, metrics)
}

/// Asserts a successful run's report and metrics: exit code 0, and for every tenant
/// this run's recorded points equal the source tenant's, nothing failed, and the
/// ledger (this command's alone) agrees. Returns the chunks recorded per tenant.
fn assert_outputs_complete(
    report: &serde_json::Value,
    metrics: &str,
    spec: &DatasetSpec,
    tenants: &[&str],
) -> Vec<u64> {
    assert_eq!(report["exit_code"], 0, "{report}");
    assert_eq!(report["error"], serde_json::Value::Null);
    assert_eq!(report["summary"]["failures"].as_array().unwrap().len(), 0);
    assert_eq!(
        report["summary"]["points_written"].as_u64().unwrap(),
        spec.point_count()
    );
    assert_eq!(gauge(metrics, "last_run_success", &[]), 1.0);
    assert_eq!(gauge(metrics, "last_run_failures", &[]), 0.0);
    let mut chunks = Vec::new();
    for t in tenants {
        let x = &report["tenants"][*t];
        let points = spec.tenant_point_count(t);
        let recorded = x["run"]["chunks_recorded"].as_u64().unwrap();
        assert!(recorded > 0, "{t}: {x}");
        assert_eq!(x["run"]["points_recorded"].as_u64().unwrap(), points, "{t}");
        assert_eq!(x["run"]["chunks_failed"], 0, "{t}");
        assert_eq!(x["ledger"]["done"].as_u64().unwrap(), recorded, "{t}");
        assert_eq!(x["ledger"]["points"].as_u64().unwrap(), points, "{t}");
        let tenant = [("tenant", *t)];
        assert_eq!(
            gauge(metrics, "last_run_points_copied", &tenant),
            points as f64
        );
        assert_eq!(gauge(metrics, "ledger_points", &tenant), points as f64);
        let state = |s| gauge(metrics, "chunks", &[("tenant", *t), ("state", s)]);
        assert_eq!(state("copied"), recorded as f64, "{t}");
        assert_eq!(state("failed"), 0.0, "{t}");
        chunks.push(recorded);
    }
    chunks
}

/// Export and import, each with `--report` and `--metrics-file` (and a ledger of its
/// own), print their summary and write a JSON report and a Prometheus file that parse,
/// whose per-tenant figures (this run's and the ledger's) match the source tenants'
/// points: import counts per tenant as export does, one chunk per exported file; no
/// failure report is left.
#[test]
fn export_and_import_write_report_and_metrics() {
    let server = InfluxServer::start().unwrap();
    let spec = DatasetSpec::monasca(&["t1", "p/q"], 2, Duration::from_secs(3600), END);
    seed(&server, "monasca", &spec).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let files = dir.path().join("export");
    let url = server.url();

    let export = ["export", "--dir", files.to_str().unwrap()];
    let (out, report, metrics) =
        with_outputs(dir.path(), "export", &["--source-url", &url], &export);
    assert_eq!(code(&out), 0);
    assert!(String::from_utf8_lossy(&out.stderr).contains("points written"));
    let exported = assert_outputs_complete(&report, &metrics, &spec, &["t1", "p/q"]);

    // Into the same server: the per-tenant databases are new there.
    let import = ["import", "--dir", files.to_str().unwrap()];
    let (out, report, metrics) =
        with_outputs(dir.path(), "import", &["--target-url", &url], &import);
    assert_eq!(code(&out), 0);
    assert!(String::from_utf8_lossy(&out.stderr).contains("points written"));
    let imported = assert_outputs_complete(&report, &metrics, &spec, &["t1", "p/q"]);
    assert_eq!(imported, exported, "one imported chunk per exported file");
    for name in ["export", "import"] {
        let failures = dir.path().join(format!("{name}.ledger.failures.json"));
        assert!(!failures.exists(), "{}", failures.display());
    }
}

/// An import whose chunks the target refuses (tenant t1's database already holds
/// `value` as a string in the last week, so InfluxDB rejects the floats: a permanent
/// error) exits 1 and lists those chunks, with the server's error, in
/// `<ledger>.failures.json`; the run report and the metrics carry them per tenant,
/// while t2 loads completely.
#[test]
fn import_failures_reach_failure_report_and_metrics() {
    let server = InfluxServer::start().unwrap();
    let spec = DatasetSpec::monasca(&["t1", "t2"], 1, Duration::from_secs(3600), END);
    seed(&server, "monasca", &spec).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let files = dir.path().join("export");
    let url = server.url();
    let export = ["export", "--dir", files.to_str().unwrap()];
    let (out, _, _) = with_outputs(dir.path(), "export", &["--source-url", &url], &export);
    assert_eq!(code(&out), 0);

    server.create_database(&target_db("t1")).unwrap();
    let line = Point::new("cpu.idle_perc")
        .tag("_tenant_id", "t1")
        .field("value", "not a number")
        .time(END - 1_800_000_000_000)
        .to_line()
        .unwrap();
    server.write_lines(&target_db("t1"), &line).unwrap();
    let import = ["import", "--dir", files.to_str().unwrap()];
    let flags = ["--target-url", &url, "--retries", "0"];
    let (out, report, metrics) = with_outputs(dir.path(), "import", &flags, &import);
    assert_eq!(code(&out), 1);
    assert!(String::from_utf8_lossy(&out.stderr).contains("failed: tenant \"t1\""));

    let path = dir.path().join("import.ledger.failures.json");
    let failures: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let listed = failures["failures"].as_array().unwrap();
    assert!(!listed.is_empty(), "{failures}");
    for f in listed {
        assert_eq!(f["chunk"]["tenant"], "t1", "{f}");
        let error = f["error"].as_str().unwrap();
        assert!(error.contains("field type conflict"), "{error}");
    }
    let n = listed.len() as u64;

    assert_eq!(report["exit_code"], 1);
    assert_eq!(
        report["summary"]["failures"].as_array().unwrap().len() as u64,
        n
    );
    let t1 = &report["tenants"]["t1"];
    assert_eq!(t1["run"]["chunks_failed"].as_u64().unwrap(), n, "{t1}");
    assert_eq!(t1["ledger"]["failed"].as_u64().unwrap(), n, "{t1}");
    let t2 = &report["tenants"]["t2"];
    assert_eq!(t2["run"]["chunks_failed"], 0, "{t2}");
    assert_eq!(
        t2["run"]["points_recorded"].as_u64().unwrap(),
        spec.tenant_point_count("t2")
    );
    assert_eq!(gauge(&metrics, "last_run_success", &[]), 0.0);
    assert_eq!(gauge(&metrics, "last_run_failures", &[]), n as f64);
    let failed = |t| gauge(&metrics, "chunks", &[("tenant", t), ("state", "failed")]);
    assert_eq!(failed("t1"), n as f64);
    assert_eq!(failed("t2"), 0.0);
}

/// `run --json`'s `queries` counts every `/query` and `/write` request the tool sends,
/// to the source and to the target (the streamed writes, the checks and the
/// verification's schema comparison on the target), as the servers themselves count
/// them.
#[test]
fn queries_count_both_servers_requests() {
    let source = InfluxServer::start().unwrap();
    let target = InfluxServer::start().unwrap();
    seed_source(&source, 2, Duration::from_secs(1800));
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("l");
    let counted = |s: &InfluxServer| s.query_requests().unwrap() + s.write_requests().unwrap();
    let before = counted(&source) + counted(&target);
    let out = tool(&[
        "run",
        "--json",
        "--source-url",
        &source.url(),
        "--target-url",
        &target.url(),
        "--ledger",
        ledger.to_str().unwrap(),
        "--write-batch-points",
        "100",
    ]);
    assert_eq!(code(&out), 0);
    let sent = counted(&source) + counted(&target) - before;
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    eprintln!(
        "servers counted {sent} requests ({} on the target), the summary {}",
        counted(&target),
        summary["queries"]
    );
    assert!(target.write_requests().unwrap() > 0);
    assert_eq!(summary["queries"].as_u64().unwrap(), sent);
}

/// `verify --all --target-url` checks a streamed copy's records on the other server:
/// all agree after the run; points dropped there behind the tool's back make it exit
/// 1 with a differing chunk recorded, and the next run copies that chunk again, after
/// which `verify` agrees and the copy is exact. Without `--target-url` those records
/// are out of `verify`'s scope (they are not on the source server).
#[test]
fn verify_checks_streamed_records_on_the_target() {
    let source = InfluxServer::start().unwrap();
    let target = InfluxServer::start().unwrap();
    seed_source(&source, 2, Duration::from_secs(1800));
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("l");
    let (s, t) = (source.url(), target.url());
    let base = ["--source-url", &s, "--ledger", ledger.to_str().unwrap()];
    let with = |cmd: &[&str], target: bool| -> Output {
        let mut a: Vec<&str> = cmd.to_vec();
        a.extend(base);
        if target {
            a.extend(["--target-url", &t]);
        }
        tool(&a)
    };
    assert_eq!(code(&with(&["run"], true)), 0);
    let json = |o: &Output| -> serde_json::Value { serde_json::from_slice(&o.stdout).unwrap() };

    let o = with(&["verify", "--all", "--json"], false);
    assert_eq!(code(&o), 0);
    let copied = std::fs::read_to_string(&ledger)
        .unwrap()
        .lines()
        .filter(|l| l.contains("\"kind\":\"copied\""))
        .count();
    assert!(copied > 0);
    assert_eq!(json(&o)["records_out_of_scope"], copied as u64);

    let o = with(&["verify", "--all", "--json"], true);
    assert_eq!(code(&o), 0);
    assert!(json(&o)["tenants"]["t1"]["agreed"].as_u64().unwrap() > 0);

    target
        .query(
            Some(&target_db("t1")),
            &format!(
                "DELETE WHERE time >= {} AND time < {}",
                END - 30 * 3_600_000_000_000,
                END - 20 * 3_600_000_000_000
            ),
        )
        .unwrap();
    let o = with(&["verify", "--all", "--json"], true);
    assert_eq!(code(&o), 1);
    let found = json(&o);
    assert!(
        found["tenants"]["t1"]["differ"].as_u64().unwrap() > 0,
        "{found:#}"
    );
    assert!(found["recorded_differs"].as_u64().unwrap() > 0, "{found:#}");

    assert_eq!(code(&with(&["run"], true)), 0);
    assert_eq!(code(&with(&["verify", "--all"], true)), 0);
    assert_tenants_equal(&source, &target);
}
