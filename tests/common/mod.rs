//! Shared helpers for the integration tests: run the real binary against private
//! `influxd` servers from `testkit`.
#![allow(dead_code)]

pub mod persister;

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use testkit::{dump, DatasetSpec, InfluxServer, Point, TenantSpec};

/// Nanoseconds in a week.
pub const WEEK: i64 = 7 * 86_400 * 1_000_000_000;
/// Nanoseconds in a minute.
pub const MINUTE: i64 = 60_000_000_000;

/// Now in nanoseconds.
pub fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as i64
}

/// The tool's binary, built by cargo for the integration tests.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_influx-tenant-migrate")
}

/// The tool running `args` (the command first, then its flags) against `server`, with
/// its ledger in `dir`, and no `ITM__*` variables leaking in from the environment.
pub fn tool(server: &InfluxServer, dir: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(bin());
    for (k, _) in std::env::vars() {
        if k.starts_with("ITM__") {
            c.env_remove(k);
        }
    }
    let (command, flags) = args.split_first().expect("a command");
    c.env("RUST_LOG", "warn").arg(command);
    if reads_source(args) {
        c.arg("--source-url").arg(server.url());
    }
    c.arg("--ledger")
        .arg(ledger_path(dir))
        .args(flags)
        .stdin(Stdio::null());
    c
}

/// Whether the command line `args` (command first) takes the source's flags: every
/// command but `import` (it reads files) and `status` without `--plan` (it reads only
/// the ledger and the failure report).
pub fn reads_source(args: &[&str]) -> bool {
    match args.first() {
        Some(&"import") => false,
        Some(&"status") => args.contains(&"--plan"),
        _ => true,
    }
}

/// The ledger path the helpers use in `dir`.
pub fn ledger_path(dir: &Path) -> PathBuf {
    dir.join("itm.ledger")
}

/// Runs a command and returns its output.
pub fn output(mut c: Command) -> Output {
    c.output().expect("run influx-tenant-migrate")
}

/// Runs `tool <command> ... <flags>` and returns the output.
pub fn run(server: &InfluxServer, dir: &Path, args: &[&str]) -> Output {
    output(tool(server, dir, args))
}

/// Text of stderr.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Asserts exit code `code` and shows stderr otherwise.
pub fn assert_exit(o: &Output, code: i32) {
    assert_eq!(
        o.status.code(),
        Some(code),
        "exit status {:?}\nstderr:\n{}\nstdout:\n{}",
        o.status,
        stderr(o),
        String::from_utf8_lossy(&o.stdout)
    );
}

/// Runs `run --json` expecting success; returns the summary.
pub fn migrate(server: &InfluxServer, dir: &Path, extra: &[&str]) -> Value {
    let mut args = vec!["run", "--json"];
    args.extend_from_slice(extra);
    let o = run(server, dir, &args);
    assert_exit(&o, 0);
    serde_json::from_slice(&o.stdout).expect("run --json prints JSON")
}

/// Runs `plan --json` expecting success; returns the plan.
pub fn plan(server: &InfluxServer, dir: &Path, extra: &[&str]) -> Value {
    let mut args = vec!["plan", "--json"];
    args.extend_from_slice(extra);
    let o = run(server, dir, &args);
    assert_exit(&o, 0);
    serde_json::from_slice(&o.stdout).expect("plan --json prints JSON")
}

/// The ledger's `copied` lines (the chunks it records), parsed.
pub fn ledger_records(dir: &Path) -> Vec<Value> {
    match std::fs::read_to_string(ledger_path(dir)) {
        Ok(t) => t
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).expect("ledger line is JSON"))
            // Only `copied` lines cover time: the `verified` lines the default
            // verification writes beside them (and `differs` lines) are not chunks.
            .filter(|r| r.get("kind").is_none_or(|k| k == "copied"))
            .collect(),
        Err(_) => vec![],
    }
}

/// The Monasca-shaped dataset most tests use: five weeks every 30 minutes, two normal
/// tenants, one that starts two weeks ago and one that stopped three weeks ago; one
/// measurement (`http_status`) has an integer `value` next to float ones.
pub fn standard_spec(now: i64) -> DatasetSpec {
    let mut spec = DatasetSpec::monasca(&["t1", "t2"], 5, Duration::from_secs(1800), now);
    spec.tenants
        .push(TenantSpec::new("late").window(Some(now - 2 * WEEK + 3 * MINUTE), None));
    spec.tenants
        .push(TenantSpec::new("early").window(None, Some(now - 3 * WEEK - 7 * MINUTE)));
    spec
}

/// The target database of a tenant under the default template.
pub fn target(tenant: &str) -> String {
    format!(
        "monasca_{}",
        tenant.replace('/', "%2F").replace('\\', "%5C")
    )
}

/// Asserts that every tenant's database holds exactly that tenant's points of the
/// source: same series, tags, fields, field types and timestamps.
pub fn assert_tenants_exact(server: &InfluxServer, tenants: &[&str]) {
    for t in tenants {
        let expected = dump(server, "monasca", Some(("_tenant_id", t))).unwrap();
        let actual = dump(server, &target(t), None).unwrap();
        assert!(
            expected.point_count() > 0,
            "tenant {t} has no source points"
        );
        testkit::assert_same(&expected, &actual);
    }
}

/// Databases on the server, sorted.
pub fn databases(server: &InfluxServer) -> Vec<String> {
    let mut d = server.databases().unwrap();
    d.sort();
    d
}

/// Like [`assert_tenants_exact`] for one tenant, compared in time slices so that each
/// read stays under a server's query limits.
pub fn assert_tenant_exact_sliced(
    server: &InfluxServer,
    tenant: &str,
    start: i64,
    end: i64,
    slice: i64,
) {
    let mut total = 0;
    let mut t = start;
    while t < end {
        let f = |tag: Option<(String, String)>| testkit::DumpFilter {
            tag,
            start_ns: Some(t),
            end_ns: Some(t + slice),
            retention_policy: None,
        };
        let expected = testkit::dump_filtered(
            server,
            "monasca",
            &f(Some(("_tenant_id".into(), tenant.into()))),
        )
        .unwrap();
        let actual = testkit::dump_filtered(server, &target(tenant), &f(None)).unwrap();
        testkit::assert_same(&expected, &actual);
        total += expected.point_count();
        t += slice;
    }
    assert!(total > 0, "tenant {tenant} has no source points");
}

/// The value of the gauge `influx_tenant_migrate_<name>` with `labels` in a Prometheus text file,
/// parsed by openmetrics-parser.
pub fn gauge(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    let parsed = openmetrics_parser::prometheus::parse_prometheus(text)
        .unwrap_or_else(|e| panic!("{e:?}\n{text}"));
    let family = parsed
        .families
        .get(&format!("influx_tenant_migrate_{name}"))
        .unwrap_or_else(|| panic!("no {name} in\n{text}"));
    let sample = family
        .iter_samples()
        .find(|s| {
            let ls = s.get_labelset().unwrap();
            labels
                .iter()
                .all(|(k, v)| ls.get_label_value(k) == Some(*v))
        })
        .unwrap_or_else(|| panic!("no {name} {labels:?} in\n{text}"));
    match &sample.value {
        openmetrics_parser::PrometheusValue::Gauge(n) => n.as_f64(),
        other => panic!("{name} is not a gauge: {other:?}"),
    }
}

/// Sends `sig` (e.g. `-STOP`) to process `pid` with kill(1).
pub fn signal(pid: u32, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
}

/// One line of `tenant`'s `cpu.idle_perc` on host `host` at `at` (value 12.5), as the
/// persister writes it: for points written late or by a writer during a run.
pub fn cpu_point(tenant: &str, host: &str, at: i64) -> String {
    Point::new("cpu.idle_perc")
        .tag("_tenant_id", tenant)
        .tag("hostname", host)
        .tag("service", "compute")
        .tag("component", "vm")
        .field("value", 12.5)
        .time(at)
        .to_line()
        .unwrap()
}

/// Asserts that `plan` (a `plan --json` answer made after a run) has no closed chunk
/// left but those of the time that closed since that run: the open margin is cut at
/// the hour at or below `now - settle`, so when an hour boundary passes between a run
/// and the plan, the hour that just closed is rightly planned as closed.
pub fn assert_no_closed_left_but_new(plan: &Value, dir: &Path) {
    let records = ledger_records(dir);
    let recorded_end = |tenant: &Value| {
        records
            .iter()
            .filter(|r| &r["tenant"] == tenant)
            .map(|r| r["end"].as_i64().unwrap())
            .max()
            .unwrap_or(i64::MAX)
    };
    let left: Vec<&Value> = plan["chunks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| {
            c["closed"] == true
                && c["window"]["start"].as_i64().unwrap() < recorded_end(&c["tenant"])
        })
        .collect();
    assert!(
        left.is_empty(),
        "closed chunks left before the ledger's end: {left:?}"
    );
}

/// What the shared database holds of one tenant (id as stored): metrics by
/// `_tenant_id`, alarm history by the `tenant_id` tag.
pub fn shared_of(server: &InfluxServer, stored: &str) -> testkit::Dump {
    let mut d = dump(server, "monasca", Some(("_tenant_id", stored))).unwrap();
    let all = dump(server, "monasca", None).unwrap();
    if let Some(h) = all.measurement("alarm_state_history") {
        let mut h = h.clone();
        h.points
            .retain(|p| p.series.tags.get("tenant_id").map(String::as_str) == Some(stored));
        if !h.points.is_empty() {
            d.measurements.insert("alarm_state_history".into(), h);
        }
    }
    d
}
