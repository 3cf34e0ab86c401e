//! Cross-server streaming, export/import and transforms, against real `influxd`
//! servers started by testkit and the tool's own binary.

use influx_tenant_migrate::plan::target::target_database;
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
