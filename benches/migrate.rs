//! Migration speed on one server and one dataset, in one session: our first run with
//! default settings, the server's own limit (one whole-range `SELECT * INTO` per tenant
//! and field-type batch, same concurrency), monasca-persister's
//! `migrate-to-db-per-tenant.py` with its defaults, and our rerun with nothing new.
//!
//! Run with `scripts/bench [SIZE...]` (sizes: small, year, large; default all), which
//! makes the old tool's venv and calls `cargo bench --bench migrate -- SIZE...` with
//! `OLD_TOOL_PYTHON` and `OLD_TOOL_SCRIPT` set (without them the old tool is left
//! out). Under `cargo test` it does nothing: it starts a server and writes millions
//! of points. Figures go to docs/BENCHMARKS.md, section "Migration speed".

use serde_json::Value;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use testkit::{
    quote_ident, quote_string, seed, DatasetSpec, InfluxServer, ServerOptions, TenantSpec,
};

/// A dataset shape.
struct Shape {
    name: &'static str,
    tenants: usize,
    hosts: usize,
    interval: Duration,
    weeks: u32,
    /// Many sparse tenants: `(metric names, names per tenant)`; each tenant uses its
    /// own rotation of float metrics, and the targets get 52-week shard groups.
    sparse: Option<(usize, usize)>,
}

/// The shapes: five tenants of the five Monasca-like metrics of `DatasetSpec::monasca`
/// (one with an integer `value`); tenant 3 starts 60% into the history, tenant 4 stops
/// 40% into it.
const SHAPES: &[Shape] = &[
    Shape {
        name: "small",
        tenants: 5,
        hosts: 2,
        interval: Duration::from_secs(1800),
        weeks: 52,
        sparse: None,
    },
    Shape {
        name: "year",
        tenants: 5,
        hosts: 2,
        interval: Duration::from_secs(600),
        weeks: 52,
        sparse: None,
    },
    Shape {
        name: "large",
        tenants: 5,
        hosts: 2,
        interval: Duration::from_secs(300),
        weeks: 52,
        sparse: None,
    },
    Shape {
        name: "sparse",
        tenants: 400,
        hosts: 1,
        interval: Duration::from_secs(6 * 3600),
        weeks: 16,
        sparse: Some((60, 8)),
    },
];

fn spec(shape: &Shape, now_ns: i64) -> DatasetSpec {
    let ids: Vec<String> = (0..shape.tenants).map(|i| format!("t{i}")).collect();
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    // Data up to an hour ago: the current week is open for our tool, as in production.
    let mut s = DatasetSpec::monasca(
        &refs,
        shape.weeks,
        shape.interval,
        now_ns - 3_600_000_000_000,
    );
    s.hosts_per_tenant = shape.hosts;
    let span = s.end_ns - s.start_ns;
    if shape.tenants > 4 {
        s.tenants[3] = TenantSpec::new("t3").window(Some(s.start_ns + span / 10 * 6), None);
        s.tenants[4] = TenantSpec::new("t4").window(None, Some(s.start_ns + span / 10 * 4));
    }
    s
}

/// The sparse shape's datasets: tenants grouped by the rotation of `per_tenant` of
/// `names` float metrics they use (tenant i starts at name 4i mod `names`).
fn sparse_specs(shape: &Shape, now_ns: i64) -> Vec<DatasetSpec> {
    let (names, per_tenant) = shape.sparse.expect("sparse shape");
    let rotations = names / 4;
    (0..rotations)
        .filter_map(|r| {
            let ids: Vec<String> = (0..shape.tenants)
                .filter(|i| i % rotations == r)
                .map(|i| format!("p{i:03}"))
                .collect();
            if ids.is_empty() {
                return None;
            }
            let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
            let mut s = DatasetSpec::monasca(
                &refs,
                shape.weeks,
                shape.interval,
                now_ns - 3_600_000_000_000,
            );
            s.hosts_per_tenant = shape.hosts;
            s.metrics = (0..per_tenant)
                .map(|k| {
                    testkit::MetricSpec::float(&format!("metric.{:02}", (4 * r + k) % names))
                        .dim("service", "compute")
                })
                .collect();
            Some(s)
        })
        .collect()
}

/// Creates each tenant's target database with 52-week shard groups (what the
/// targets' shard-duration rule gives an infinite policy), outside the timings.
fn create_targets_52w(server: &InfluxServer, tenants: &[String]) {
    for t in tenants {
        server
            .query(
                None,
                &format!(
                    "CREATE DATABASE {} WITH SHARD DURATION 52w",
                    quote_ident(&format!("monasca_{t}"))
                ),
            )
            .expect("create target");
    }
}

/// Peak RSS, CPU and exit status of one child process.
struct Child {
    wall: Duration,
    max_rss_kib: i64,
    cpu: Duration,
    status: i32,
    stdout: String,
    stderr: String,
}

/// Runs a command and reaps it with wait4 for its rusage.
// The child is reaped with wait4 (for its rusage), not Child::wait.
#[allow(clippy::zombie_processes)]
fn run_child(mut cmd: Command) -> Child {
    let started = Instant::now();
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start child");
    let pid = child.id() as libc::pid_t;
    let drain = |mut r: Box<dyn std::io::Read + Send>| {
        std::thread::spawn(move || {
            let mut s = String::new();
            r.read_to_string(&mut s).ok();
            s
        })
    };
    let out = drain(Box::new(child.stdout.expect("stdout piped")));
    let err = drain(Box::new(child.stderr.expect("stderr piped")));
    let mut status = 0;
    // SAFETY: rusage is plain data; wait4 fills it for our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(r, pid, "wait4 failed");
    let wall = started.elapsed();
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    Child {
        wall,
        max_rss_kib: usage.ru_maxrss,
        cpu: tv(usage.ru_utime) + tv(usage.ru_stime),
        status: libc::WEXITSTATUS(status),
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    }
}

/// CPU time the server process used so far (utime + stime from /proc).
fn server_cpu(server: &InfluxServer) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", server.pid())).expect("read stat");
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = &stat[stat.rfind(')').expect("stat format") + 2..];
    let f: Vec<&str> = rest.split(' ').collect();
    let ticks: u64 = f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap();
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as u64;
    Duration::from_millis(ticks * 1000 / hz)
}

/// `/query` requests the server has answered (its `httpd` `queryReq` counter): the same
/// count for every variant, whoever sends the queries.
fn query_requests(server: &InfluxServer) -> u64 {
    let body = reqwest::blocking::get(format!("{}/debug/vars", server.url()))
        .and_then(|r| r.text())
        .expect("GET /debug/vars");
    let v: Value = serde_json::from_str(&body).expect("debug vars JSON");
    v.as_object()
        .expect("object")
        .values()
        .filter(|s| s["name"] == "httpd")
        .filter_map(|s| s["values"]["queryReq"].as_u64())
        .sum()
}

/// Points in every target database (count of `value`, which every point has).
fn target_points(server: &InfluxServer, tenants: &[String]) -> u64 {
    let mut n = 0;
    for t in tenants {
        let db = format!("monasca_{t}");
        if !server.databases().unwrap().contains(&db) {
            continue;
        }
        let r = server
            .query(Some(&db), "SELECT count(\"value\") FROM /.*/")
            .expect("count");
        for s in r["results"][0]["series"].as_array().into_iter().flatten() {
            n += s["values"][0][1].as_u64().unwrap_or(0);
        }
    }
    n
}

/// Prints, per tenant and measurement, the weeks whose point counts differ between
/// the source and the target.
fn explain_mismatch(server: &InfluxServer, tenants: &[String]) {
    let weekly = |db: &str, m: &str, t: &str| -> std::collections::BTreeMap<i64, u64> {
        let q = format!(
            "SELECT count(\"value\") FROM {} WHERE \"_tenant_id\" = {} AND time < now() GROUP BY time(1w)",
            quote_ident(m),
            quote_string(t)
        );
        let r = server.query(Some(db), &q).unwrap_or_default();
        r["results"][0]["series"][0]["values"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| Some((v[0].as_i64()?, v[1].as_u64()?)))
            .filter(|(_, n)| *n > 0)
            .collect()
    };
    for t in tenants {
        for m in server.measurements("monasca").unwrap() {
            let a = weekly("monasca", &m, t);
            let b = weekly(&format!("monasca_{t}"), &m, t);
            for (w, n) in &a {
                let got = b.get(w).copied().unwrap_or(0);
                if got != *n {
                    eprintln!("  tenant {t} {m} week starting {w}: source {n}, target {got}");
                }
            }
        }
    }
}

fn drop_targets(server: &InfluxServer, tenants: &[String]) {
    for t in tenants {
        server
            .query(
                None,
                &format!("DROP DATABASE {}", quote_ident(&format!("monasca_{t}"))),
            )
            .expect("drop target");
    }
}

/// One row of the table.
struct Row {
    variant: String,
    wall: Duration,
    points: u64,
    own_queries: String,
    server_queries: u64,
    server_cpu: Duration,
    rss_mib: Option<f64>,
}

/// Measures `f` on the server: wall time, `/query` requests and server CPU.
fn measure<T>(server: &InfluxServer, f: impl FnOnce() -> T) -> (T, Duration, u64, Duration) {
    let q0 = query_requests(server);
    let c0 = server_cpu(server);
    let t0 = Instant::now();
    let out = f();
    let wall = t0.elapsed();
    let c1 = server_cpu(server);
    let q1 = query_requests(server);
    // The second /debug/vars read is not a /query request, so no correction is needed.
    (out, wall, q1 - q0, c1 - c0)
}

fn ours(server: &InfluxServer, ledger: &Path, variant: &str) -> (Row, Value) {
    ours_with(server, ledger, variant, &[])
}

fn ours_with(server: &InfluxServer, ledger: &Path, variant: &str, extra: &[&str]) -> (Row, Value) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_influx-tenant-migrate"));
    cmd.env_remove("RUST_LOG")
        .args(["run", "--json", "--source-url", &server.url(), "--ledger"])
        .arg(ledger)
        .args(extra);
    let (c, wall, sq, cpu) = measure(server, || run_child(cmd));
    assert_eq!(c.status, 0, "{variant} failed:\n{}", c.stderr);
    // Kept for a look after the run: the summary and the ledger of each of our runs.
    let out = Path::new("target/bench-out");
    std::fs::create_dir_all(out).ok();
    let name: String = variant
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect();
    std::fs::write(out.join(format!("{name}.json")), &c.stdout).ok();
    std::fs::copy(ledger, out.join(format!("{name}.ledger"))).ok();
    let json: Value = serde_json::from_str(&c.stdout).expect("run --json output");
    let row = Row {
        variant: variant.into(),
        wall,
        points: json["points_written"].as_u64().unwrap(),
        own_queries: json["queries"].to_string(),
        server_queries: sq,
        server_cpu: cpu,
        rss_mib: Some(c.max_rss_kib as f64 / 1024.0),
    };
    eprintln!(
        "  {variant}: {:.1}s, client CPU {:.2}s, chunks copied {}, queries {}",
        c.wall.as_secs_f64(),
        c.cpu.as_secs_f64(),
        json["chunks_copied"],
        json["queries"]
    );
    (row, json)
}

/// The limit: per tenant, `CREATE DATABASE` then one whole-range `SELECT * INTO` of
/// the float-valued measurements and one of the integer-valued one (in one statement
/// InfluxDB would write the integer `value` as float), `concurrency` at a time.
fn limit(server: &InfluxServer, tenants: &[String], concurrency: usize, sparse: bool) -> Row {
    let floats = [
        "cpu.idle_perc",
        "disk.space_used_perc",
        "mem.free_mb",
        "vm.net.in_bytes_sec",
    ];
    let from = |ms: &[&str]| {
        ms.iter()
            .map(|m| format!("\"monasca\".\"autogen\".{}", quote_ident(m)))
            .collect::<Vec<_>>()
            .join(",")
    };
    let mut queries = Vec::new();
    let groups: Vec<String> = if sparse {
        vec!["\"monasca\".\"autogen\"./.*/".to_string()]
    } else {
        vec![from(&floats), from(&["http_status"])]
    };
    for t in tenants {
        for ms in &groups {
            queries.push((
                t.clone(),
                format!(
                    "SELECT * INTO {}.\"autogen\".:MEASUREMENT FROM {ms} WHERE \"_tenant_id\" = {} GROUP BY *",
                    quote_ident(&format!("monasca_{t}")),
                    quote_string(t)
                ),
            ));
        }
    }
    let next = AtomicUsize::new(0);
    let written = AtomicUsize::new(0);
    let issued = AtomicUsize::new(0);
    let (_, wall, sq, cpu) = measure(server, || {
        if sparse {
            create_targets_52w(server, tenants);
            issued.fetch_add(tenants.len(), Ordering::Relaxed);
        } else {
            for t in tenants {
                server.create_database(&format!("monasca_{t}")).unwrap();
                issued.fetch_add(1, Ordering::Relaxed);
            }
        }
        std::thread::scope(|s| {
            for _ in 0..concurrency {
                s.spawn(|| loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some((_, q)) = queries.get(i) else { break };
                    let r = server.query(Some("monasca"), q).expect("limit query");
                    issued.fetch_add(1, Ordering::Relaxed);
                    let n = r["results"][0]["series"][0]["values"][0][1]
                        .as_u64()
                        .unwrap();
                    written.fetch_add(n as usize, Ordering::Relaxed);
                });
            }
        });
    });
    Row {
        variant: "limit".into(),
        wall,
        points: written.load(Ordering::Relaxed) as u64,
        own_queries: issued.load(Ordering::Relaxed).to_string(),
        server_queries: sq,
        server_cpu: cpu,
        rss_mib: None,
    }
}

/// The old tool with its defaults (520 weeks back, week unit, no retention flags).
fn old_tool(
    server: &InfluxServer,
    python: &str,
    script: &str,
    dir: &Path,
    measurements: usize,
    tenants: usize,
) -> Row {
    let cwd = dir.join("old");
    std::fs::create_dir_all(&cwd).unwrap();
    let conf = dir.join("persister.conf");
    std::fs::write(
        &conf,
        format!(
            "[DEFAULT]\nuse_stderr = true\n\n[influxdb]\ndatabase_name = monasca\n\
             ip_address = 127.0.0.1\nport = {}\n",
            server.http_port()
        ),
    )
    .unwrap();
    let mut cmd = Command::new(python);
    cmd.current_dir(&cwd)
        .arg(script)
        .arg("--config-file")
        .arg(&conf);
    let (c, wall, sq, cpu) = measure(server, || run_child(cmd));
    assert_eq!(c.status, 0, "old tool failed:\n{}", c.stderr);
    assert!(
        !c.stderr.contains(" ERROR "),
        "old tool logged errors:\n{}",
        c.stderr
    );
    // Its code path: SHOW MEASUREMENTS, SHOW TAG VALUES, then per (measurement, tenant)
    // CREATE DATABASE and 520 week queries (no retention policy without
    // default_retention_hours).
    let by_code = 2 + measurements * tenants * (1 + 520);
    eprintln!(
        "  old tool: {:.1}s, client CPU {:.2}s, peak RSS {:.1} MiB",
        c.wall.as_secs_f64(),
        c.cpu.as_secs_f64(),
        c.max_rss_kib as f64 / 1024.0
    );
    Row {
        variant: "old tool".into(),
        wall,
        points: 0,
        own_queries: format!("{by_code} (code path)"),
        server_queries: sq,
        server_cpu: cpu,
        rss_mib: Some(c.max_rss_kib as f64 / 1024.0),
    }
}

fn pps(r: &Row) -> f64 {
    r.points as f64 / r.wall.as_secs_f64()
}

fn bench(shape: &Shape, old: Option<(&str, &str)>) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as i64;
    let specs = match shape.sparse {
        Some(_) => sparse_specs(shape, now),
        None => vec![spec(shape, now)],
    };
    let tenants: Vec<String> = specs
        .iter()
        .flat_map(|s| s.tenants.iter().map(|t| t.id.clone()))
        .collect();
    let metric_names: usize = shape
        .sparse
        .map_or(specs[0].metrics.len(), |(names, _)| names);
    // Snapshots after 10 s without writes: the seeded data is in TSM files, as in
    // production, before the first variant starts, not snapshotted in the middle of one.
    let server = InfluxServer::start_with(
        ServerOptions::default()
            .extra_config("[data]\ncache-snapshot-write-cold-duration = \"10s\""),
    )
    .expect("start influxd");
    let t0 = Instant::now();
    let mut seeded = 0;
    for spec in &specs {
        seeded += seed(&server, "monasca", spec).expect("seed");
    }
    let seed_secs = t0.elapsed().as_secs_f64();
    std::thread::sleep(Duration::from_secs(15));
    // Warm the page cache: every variant reads the source from memory.
    server
        .query(Some("monasca"), "SELECT count(\"value\") FROM /.*/")
        .expect("warm-up");
    println!(
        "\n### {} — {} tenants, {} measurements, {} hosts, every {}s, {} weeks: {} points (seeded in {:.0} s, {:.0} points/s)\n",
        shape.name,
        shape.tenants,
        metric_names,
        shape.hosts,
        shape.interval.as_secs(),
        shape.weeks,
        seeded,
        seed_secs,
        seeded as f64 / seed_secs
    );
    // "auto", the default, is a quarter of the server's GOMAXPROCS, at least 2; the
    // bench's influxd runs here, so its GOMAXPROCS is this machine's CPUs.
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let concurrency = influx_tenant_migrate::config::load(None, Vec::new())
        .expect("default settings")
        .run
        .concurrency
        .unwrap_or((cpus / 4).max(2));
    let dir = tempfile::tempdir().unwrap();
    let check = |r: &mut Row| {
        let found = target_points(&server, &tenants);
        if r.points == 0 {
            r.points = found;
        }
        if found != seeded || r.points != seeded {
            eprintln!(
                "MISMATCH {}: seeded {seeded}, reported {}, in the targets {found}",
                r.variant, r.points
            );
            explain_mismatch(&server, &tenants);
            r.variant.push_str(" (MISMATCH)");
        }
    };
    let mut rows = Vec::new();
    // Limit and ours twice, alternating, so neither always runs on a fresher server.
    for round in 1..=2 {
        eprintln!("{} round {round}: limit", shape.name);
        let mut l = limit(&server, &tenants, concurrency, shape.sparse.is_some());
        check(&mut l);
        l.variant = format!("limit #{round}");
        drop_targets(&server, &tenants);
        rows.push(l);
        eprintln!("{} round {round}: ours", shape.name);
        if shape.sparse.is_some() {
            // The same shard durations as the hand-written best (until ours creates
            // 52-week groups itself, these are made outside the timing).
            create_targets_52w(&server, &tenants);
        }
        let ledger = dir.path().join(format!("round{round}.ledger"));
        let (mut r, _) = ours(&server, &ledger, &format!("ours, first run #{round}"));
        check(&mut r);
        rows.push(r);
        if round == 2 {
            let (mut again, json) = ours(&server, &ledger, "ours, rerun (nothing new)");
            // Points of the open windows copied again.
            again.points = json["points_written"].as_u64().unwrap();
            rows.push(again);
        }
        drop_targets(&server, &tenants);
    }
    // The cost of the default verification: the same first run without it.
    eprintln!("{}: ours --no-verify", shape.name);
    let ledger = dir.path().join("noverify.ledger");
    let (mut r, _) = ours_with(
        &server,
        &ledger,
        "unverified: ours, first run --no-verify",
        &["--no-verify"],
    );
    check(&mut r);
    rows.push(r);
    drop_targets(&server, &tenants);
    if shape.sparse.is_some() {
        // 520 week queries per (tenant, measurement used) plus the database: days of
        // requests at this shape; its code path gives the count.
        let per_tenant = shape.sparse.map_or(0, |(_, k)| k);
        println!(
            "- old tool (code path, not run): {} queries = 2 + tenants x measurements used x (1 + 520)",
            2 + tenants.len() * per_tenant * 521
        );
    } else if let Some((python, script)) = old {
        eprintln!("{}: old tool", shape.name);
        let mut o = old_tool(
            &server,
            python,
            script,
            dir.path(),
            metric_names,
            tenants.len(),
        );
        check(&mut o);
        drop_targets(&server, &tenants);
        rows.push(o);
    }

    println!("| variant | wall (s) | points | points/s | queries (own count) | /query requests (server) | server CPU (s) | server CPU / wall | peak RSS (MiB) |");
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for r in &rows {
        println!(
            "| {} | {:.2} | {} | {:.0} | {} | {} | {:.1} | {:.2} | {} |",
            r.variant,
            r.wall.as_secs_f64(),
            r.points,
            pps(r),
            r.own_queries,
            r.server_queries,
            r.server_cpu.as_secs_f64(),
            r.server_cpu.as_secs_f64() / r.wall.as_secs_f64(),
            r.rss_mib.map_or("-".into(), |m| format!("{m:.1}"))
        );
    }
    let find = |p: &str| {
        rows.iter()
            .filter(|r| r.variant.starts_with(p))
            .collect::<Vec<_>>()
    };
    let limits = find("limit");
    let firsts = find("ours, first");
    println!();
    for (l, o) in limits.iter().zip(&firsts) {
        println!(
            "- {} / {}: points/s ratio {:.3}",
            o.variant,
            l.variant,
            pps(o) / pps(l)
        );
    }
    let mean = |rs: &[&Row]| rs.iter().map(|r| pps(r)).sum::<f64>() / rs.len() as f64;
    println!(
        "- mean of rounds: ours/limit points/s {:.3}",
        mean(&firsts) / mean(&limits)
    );
    if let Some(o) = find("old tool").first() {
        println!(
            "- old tool / ours (round 2) wall time: {:.1}x",
            o.wall.as_secs_f64() / firsts[1].wall.as_secs_f64()
        );
    }
    if let Some(u) = find("unverified").first() {
        println!(
            "- verification cost: first run #2 {:.2} s, {} queries; --no-verify {:.2} s, {} queries: {:+.1}% wall time",
            firsts[1].wall.as_secs_f64(),
            firsts[1].own_queries,
            u.wall.as_secs_f64(),
            u.own_queries,
            100.0 * (firsts[1].wall.as_secs_f64() / u.wall.as_secs_f64() - 1.0)
        );
    }
    let rerun = find("ours, rerun")[0];
    let first_q: f64 = firsts[1].own_queries.parse().unwrap();
    let rerun_q: f64 = rerun.own_queries.parse().unwrap();
    println!(
        "- rerun: {:.2} s, {} queries = {:.1}% of the first run's {}",
        rerun.wall.as_secs_f64(),
        rerun_q,
        100.0 * rerun_q / first_q,
        first_q
    );
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if !args.iter().any(|a| a == "--bench") {
        println!("migrate: run with `scripts/bench` or `cargo bench --bench migrate`");
        return;
    }
    let wanted: Vec<&str> = args
        .iter()
        .map(String::as_str)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let python = std::env::var("OLD_TOOL_PYTHON").ok();
    let script = std::env::var("OLD_TOOL_SCRIPT").ok();
    let old = python.as_deref().zip(script.as_deref());
    if old.is_none() {
        eprintln!("OLD_TOOL_PYTHON/OLD_TOOL_SCRIPT not set: the old tool is left out (scripts/bench sets them)");
    }
    for shape in SHAPES {
        if wanted.is_empty() || wanted.contains(&shape.name) {
            bench(shape, old);
        }
    }
}
