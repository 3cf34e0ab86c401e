//! Migration speed on one server and one dataset, in one session: our first run with
//! default settings, the server's own limit (one whole-range `SELECT * INTO` per tenant
//! and field-type batch, same concurrency), monasca-persister's
//! `migrate-to-db-per-tenant.py` with its defaults, and our rerun with nothing new.
//!
//! Run with `scripts/bench [SIZE...]` (sizes: small, year, large, dense, sparse;
//! default all; `scale` and `scale-run` only when named, see `scale`), which makes
//! the old tool's venv and calls `cargo bench --bench migrate -- SIZE...` with
//! `OLD_TOOL_PYTHON` and `OLD_TOOL_SCRIPT` set (without them the old tool is left
//! out). Under `cargo test` it does nothing: it starts a server and writes millions
//! of points. Figures go to docs/BENCHMARKS.md, sections "Migration speed" and "Issue 13:
//! thousands of tenants".

mod support;
use support::{load1, run_child, Child};

use serde_json::Value;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use testkit::{
    quote_ident, quote_string, seed, DatasetSpec, InfluxServer, ServerOptions, TenantSpec,
};

/// Tenants the old tool's sample copies on the many-tenant shapes.
const OLD_SAMPLE: usize = 5;

/// A dataset shape.
#[derive(Clone, Copy)]
struct Shape {
    name: &'static str,
    tenants: usize,
    hosts: usize,
    interval: Duration,
    weeks: u32,
    /// Float metrics only: `(metric names, names per tenant)`; each tenant uses its
    /// own rotation of them (the many-tenant shapes of issue 13).
    sparse: Option<(usize, usize)>,
    /// One more tenant, `big`, with 10 float metric names on `(hosts, interval)`
    /// (the skewed shape: one tenant holding most series beside many small ones).
    big: Option<(usize, Duration)>,
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
        big: None,
    },
    Shape {
        name: "year",
        tenants: 5,
        hosts: 2,
        interval: Duration::from_secs(600),
        weeks: 52,
        sparse: None,
        big: None,
    },
    Shape {
        name: "large",
        tenants: 5,
        hosts: 2,
        interval: Duration::from_secs(300),
        weeks: 52,
        sparse: None,
        big: None,
    },
    Shape {
        name: "dense",
        tenants: 8,
        hosts: 1,
        interval: Duration::from_secs(1800),
        weeks: 52,
        sparse: Some((10, 10)),
        big: None,
    },
    // Issue 20's delta phase: one dense tenant (10 metric names x 100 hosts), scaled
    // down to a point every 10 minutes for two weeks (2.0M points) to fit a shared
    // 2-core machine; its rerun with nothing new is the figure to watch.
    Shape {
        name: "delta-dense",
        tenants: 1,
        hosts: 100,
        interval: Duration::from_secs(600),
        weeks: 2,
        sparse: Some((10, 10)),
        big: None,
    },
    Shape {
        name: "sparse",
        tenants: 400,
        hosts: 1,
        interval: Duration::from_secs(6 * 3600),
        weeks: 16,
        sparse: Some((60, 8)),
        big: None,
    },
    // Issue 20's skewed shape: one tenant with 50 hosts x 10 metric names every 10
    // minutes (1.0M points, 500 series) beside 200 small ones (8 names, 1 host, hourly:
    // 2,688 points each), two weeks.
    Shape {
        name: "skewed",
        tenants: 200,
        hosts: 1,
        interval: Duration::from_secs(3600),
        weeks: 2,
        sparse: Some((60, 8)),
        big: Some((50, Duration::from_secs(600))),
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

/// A shape's datasets: the sparse rotations or the Monasca-like tenants, and `big`.
fn specs_of(shape: &Shape, now_ns: i64) -> Vec<DatasetSpec> {
    let mut specs = match shape.sparse {
        Some(_) => sparse_specs(shape, now_ns),
        None => vec![spec(shape, now_ns)],
    };
    if let Some((hosts, interval)) = shape.big {
        let one = Shape {
            tenants: 1,
            hosts,
            interval,
            sparse: Some((10, 10)),
            big: None,
            ..*shape
        };
        let mut s = sparse_specs(&one, now_ns).remove(0);
        s.tenants = vec![TenantSpec::new("big")];
        specs.push(s);
    }
    specs
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

/// Creates each tenant's target database with 52-week shard groups: what our
/// targets' shard-duration rule gives the source's infinite `autogen`, so the
/// hand-written best writes into the same shard layout as ours.
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

/// Points in every target database (count of `value`, which every point has).
fn target_points(server: &InfluxServer, tenants: &[String]) -> u64 {
    points_in(server, "monasca", tenants)
}

/// Points in the databases `<database>_<tenant>` of `tenants`.
fn points_in(server: &InfluxServer, database: &str, tenants: &[String]) -> u64 {
    let mut n = 0;
    for t in tenants {
        let db = format!("{database}_{t}");
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

/// The target databases' default policies as `name duration shard-group-duration`
/// (distinct values) and the number of shards they hold: what shows that the
/// hand-written best and ours wrote into the same shard layout.
fn target_layout(server: &InfluxServer, tenants: &[String]) -> String {
    let dbs: std::collections::BTreeSet<String> =
        tenants.iter().map(|t| format!("monasca_{t}")).collect();
    let mut policies = std::collections::BTreeSet::new();
    for db in &dbs {
        for p in server.retention_policies(db).unwrap_or_default() {
            if p.default {
                policies.insert(format!(
                    "{} {} {}",
                    p.name, p.duration, p.shard_group_duration
                ));
            }
        }
    }
    let shards = server.query(None, "SHOW SHARDS").unwrap_or_default();
    let n: usize = shards["results"][0]["series"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|s| s["name"].as_str().is_some_and(|d| dbs.contains(d)))
        .map(|s| s["values"].as_array().map_or(0, Vec::len))
        .sum();
    let p: Vec<String> = policies.into_iter().collect();
    format!("{}; {n} shards", p.join(", "))
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
    /// 1-minute load average when the variant started.
    load: f64,
    /// The targets' default policies and shard count afterwards (`target_layout`).
    layout: String,
}

/// Measures `f` on the server: wall time, `/query` requests, server CPU and the load
/// average at the start.
fn measure<T>(server: &InfluxServer, f: impl FnOnce() -> T) -> (T, Duration, u64, Duration, f64) {
    let load = load1();
    let q0 = server.query_requests().expect("/debug/vars");
    let c0 = server_cpu(server);
    let t0 = Instant::now();
    let out = f();
    let wall = t0.elapsed();
    let c1 = server_cpu(server);
    let q1 = server.query_requests().expect("/debug/vars");
    // The second /debug/vars read is not a /query request, so no correction is needed.
    (out, wall, q1 - q0, c1 - c0, load)
}

fn ours(server: &InfluxServer, ledger: &Path, variant: &str) -> (Row, Value) {
    ours_with(server, ledger, variant, &[])
}

fn ours_with(server: &InfluxServer, ledger: &Path, variant: &str, extra: &[&str]) -> (Row, Value) {
    let bin = env!("CARGO_BIN_EXE_influx-tenant-migrate");
    run_bin(server, Path::new(bin), ledger, variant, extra)
}

/// Our run with the binary `bin` (this build's, or an older one to compare with).
fn run_bin(
    server: &InfluxServer,
    bin: &Path,
    ledger: &Path,
    variant: &str,
    extra: &[&str],
) -> (Row, Value) {
    let mut cmd = Command::new(bin);
    cmd.env_remove("RUST_LOG")
        .args(["run", "--json", "--source-url", &server.url(), "--ledger"])
        .arg(ledger)
        .args(extra);
    // ITM_BENCH_REQUEST_LOG=1: one JSON line per request (statements, ms, bytes) in
    // target/bench-out/<variant>.log, to see where a run's time went.
    let request_log = std::env::var_os("ITM_BENCH_REQUEST_LOG").is_some();
    if request_log {
        cmd.env("RUST_LOG", "influx_tenant_migrate::influx::client=debug")
            .env("ITM__LOG__FORMAT", "json");
    }
    let (c, wall, sq, cpu, load) = measure(server, || run_child(cmd));
    assert_eq!(c.status, 0, "{variant} failed:\n{}", c.stderr);
    // Kept for a look after the run: the summary and the ledger of each of our runs.
    let out = Path::new("target/bench-out");
    std::fs::create_dir_all(out).ok();
    let name: String = variant
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect();
    if request_log {
        std::fs::write(out.join(format!("{name}.log")), &c.stderr).ok();
    }
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
        load,
        layout: String::new(),
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

/// The limit (the hand-written best): per tenant, `CREATE DATABASE ... WITH SHARD
/// DURATION 52w` then one whole-range `SELECT * INTO` of the float-valued measurements
/// and one of the integer-valued one (in one statement InfluxDB would write the integer
/// `value` as float; `sparse`: all float, one statement), `concurrency` at a time.
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
    let (_, wall, sq, cpu, load) = measure(server, || {
        create_targets_52w(server, tenants);
        issued.fetch_add(tenants.len(), Ordering::Relaxed);
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
        load,
        layout: String::new(),
    }
}

/// The hand-written checks after the hand copy, as our contract words them: per
/// tenant `count(*), sum(*)` (count of every field, sum of every numeric one) over the
/// whole range, per measurement, on the source (filtered to the tenant) and on its
/// target, `concurrency` tenants at a time, compared. The row's `points` are the
/// tenants whose figures differ (0 when all agree).
fn hand_checks(server: &InfluxServer, tenants: &[String], concurrency: usize) -> Row {
    let next = AtomicUsize::new(0);
    let issued = AtomicUsize::new(0);
    let differ = AtomicUsize::new(0);
    let figures = |db: &str, filter: &str| {
        let q = format!(
            "SELECT count(*), sum(*) FROM {}.\"autogen\"./.*/{filter}",
            quote_ident(db)
        );
        let r = server.query(Some(db), &q).expect("hand check");
        issued.fetch_add(1, Ordering::Relaxed);
        let mut out: Vec<(String, Vec<(String, f64)>)> = Vec::new();
        for s in r["results"][0]["series"].as_array().into_iter().flatten() {
            let cols = s["columns"].as_array().unwrap();
            let row = s["values"][0].as_array().unwrap();
            let vals = cols
                .iter()
                .zip(row)
                .skip(1)
                .filter_map(|(c, v)| Some((c.as_str()?.to_string(), v.as_f64()?)))
                .collect();
            out.push((s["name"].as_str().unwrap().to_string(), vals));
        }
        out
    };
    let (_, wall, sq, cpu, load) = measure(server, || {
        std::thread::scope(|s| {
            for _ in 0..concurrency {
                s.spawn(|| loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(t) = tenants.get(i) else { break };
                    let filter = format!(" WHERE \"_tenant_id\" = {}", quote_string(t));
                    let source = figures("monasca", &filter);
                    let target = figures(&format!("monasca_{t}"), "");
                    if !same_figures(&source, &target) {
                        differ.fetch_add(1, Ordering::Relaxed);
                    }
                });
            }
        });
    });
    Row {
        variant: "hand checks".into(),
        wall,
        points: differ.load(Ordering::Relaxed) as u64,
        own_queries: issued.load(Ordering::Relaxed).to_string(),
        server_queries: sq,
        server_cpu: cpu,
        rss_mib: None,
        load,
        layout: String::new(),
    }
}

/// Figures equal per measurement and column; sums within a relative 1e-9 (the two
/// sides add the same floats in different shard orders).
fn same_figures(a: &[(String, Vec<(String, f64)>)], b: &[(String, Vec<(String, f64)>)]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|((ma, va), (mb, vb))| {
            ma == mb
                && va.len() == vb.len()
                && va.iter().zip(vb).all(|((ca, x), (cb, y))| {
                    ca == cb && (x - y).abs() <= 1e-9 * x.abs().max(y.abs()).max(1.0)
                })
        })
}

/// The old tool with its defaults (520 weeks back, week unit, no retention flags) on
/// `database`, whose tenants use `pairs` (measurement, tenant) pairs in all.
fn old_tool(
    server: &InfluxServer,
    (python, script): (&str, &str),
    dir: &Path,
    database: &str,
    pairs: usize,
) -> Row {
    let cwd = dir.join("old");
    std::fs::create_dir_all(&cwd).unwrap();
    let conf = dir.join("persister.conf");
    std::fs::write(
        &conf,
        format!(
            "[DEFAULT]\nuse_stderr = true\n\n[influxdb]\ndatabase_name = {database}\n\
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
    let (c, wall, sq, cpu, load) = measure(server, || run_child(cmd));
    assert_eq!(c.status, 0, "old tool failed:\n{}", c.stderr);
    assert!(
        !c.stderr.contains(" ERROR "),
        "old tool logged errors:\n{}",
        c.stderr
    );
    // Its code path: SHOW MEASUREMENTS, SHOW TAG VALUES, then per (measurement, tenant)
    // CREATE DATABASE and 520 week queries (no retention policy without
    // default_retention_hours).
    let by_code = 2 + pairs * (1 + 520);
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
        load,
        layout: String::new(),
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
    let specs = specs_of(shape, now);
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
    // The old tool's sample for the many-tenant shapes: its first tenants, the same
    // data, in a database of their own.
    let sample =
        (shape.sparse.is_some() && shape.tenants > OLD_SAMPLE && old.is_some()).then(|| {
            let few = Shape {
                tenants: OLD_SAMPLE,
                ..*shape
            };
            let specs = sparse_specs(&few, now);
            let n: u64 = specs
                .iter()
                .map(|s| seed(&server, "oldsample", s).expect("seed sample"))
                .sum();
            let ids: Vec<String> = specs
                .iter()
                .flat_map(|s| s.tenants.iter().map(|t| t.id.clone()))
                .collect();
            (ids, n)
        });
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
        r.layout = target_layout(&server, &tenants);
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
    // Issue 20: (first run #2's open points, the rerun's server CPU, points and late check).
    let mut delta: Option<(u64, Value)> = None;
    // Limit and ours twice, alternating, so neither always runs on a fresher server.
    for round in 1..=2 {
        eprintln!("{} round {round}: limit", shape.name);
        let mut l = limit(&server, &tenants, concurrency, shape.sparse.is_some());
        check(&mut l);
        l.variant = format!("limit #{round}");
        let mut h = hand_checks(&server, &tenants, concurrency);
        if h.points > 0 {
            h.variant.push_str(" (MISMATCH)");
        }
        h.variant = format!("{} #{round}", h.variant);
        drop_targets(&server, &tenants);
        rows.push(l);
        rows.push(h);
        eprintln!("{} round {round}: ours", shape.name);
        let ledger = dir.path().join(format!("round{round}.ledger"));
        let (mut r, first) = ours(&server, &ledger, &format!("ours, first run #{round}"));
        check(&mut r);
        rows.push(r);
        if round == 2 {
            // As the hourly timer would find it: the first run's writes snapshotted
            // (the server's cold-write snapshot is 10 s) and compacted, not still
            // being written to disk while the rerun is measured.
            std::thread::sleep(Duration::from_secs(30));
            let (mut again, json) = ours(&server, &ledger, "ours, rerun (nothing new)");
            // Points of the open windows copied again.
            again.points = json["points_written"].as_u64().unwrap();
            rows.push(again);
            let open = first["open_points_not_verified"].as_u64().unwrap_or(0);
            delta = Some((open, json["late"].clone()));
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
    // An older build's default first run on the same data (`ITM_BENCH_BASELINE_BIN`:
    // e.g. main before a change), to compare first runs in one session.
    if let Ok(bin) = std::env::var("ITM_BENCH_BASELINE_BIN") {
        eprintln!("{}: baseline {bin}", shape.name);
        let ledger = dir.path().join("baseline.ledger");
        let (mut b, _) = run_bin(
            &server,
            Path::new(&bin),
            &ledger,
            "baseline build, first run",
            &[],
        );
        check(&mut b);
        rows.push(b);
        drop_targets(&server, &tenants);
    }
    let mut old_sample = None;
    if let (Some((_, per_tenant)), Some(old), Some((ids, n))) = (shape.sparse, old, &sample) {
        // Its 520 week queries per (tenant, measurement used) take hours at this
        // shape: a sample of tenants (database `oldsample`), extrapolated.
        eprintln!("{}: old tool, {} tenants", shape.name, ids.len());
        let mut o = old_tool(
            &server,
            old,
            dir.path(),
            "oldsample",
            ids.len() * per_tenant,
        );
        o.points = points_in(&server, "oldsample", ids);
        if o.points != *n {
            eprintln!(
                "MISMATCH old tool sample: seeded {n}, in its targets {}",
                o.points
            );
            o.variant.push_str(" (MISMATCH)");
        }
        o.variant = format!("old tool, sample of {} tenants", ids.len());
        old_sample = Some((o.wall, ids.len(), o.points));
        rows.push(o);
    } else if shape.sparse.is_none() {
        if let Some(old) = old {
            eprintln!("{}: old tool", shape.name);
            let pairs = metric_names * tenants.len();
            let mut o = old_tool(&server, old, dir.path(), "monasca", pairs);
            check(&mut o);
            drop_targets(&server, &tenants);
            rows.push(o);
        }
    }
    if let Some((_, per_tenant)) = shape.sparse {
        println!(
            "- old tool, code path: {} queries = 2 + tenants x measurements used x (1 + 520)",
            2 + tenants.len() * per_tenant * 521
        );
    }

    println!("| variant | wall (s) | points | points/s | queries (own count) | /query requests (server) | server CPU (s) | server CPU / wall | peak RSS (MiB) | load avg at start | targets: default policy (name duration shard groups); shards |");
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |");
    for r in &rows {
        println!(
            "| {} | {:.2} | {} | {:.0} | {} | {} | {:.1} | {:.2} | {} | {:.2} | {} |",
            r.variant,
            r.wall.as_secs_f64(),
            r.points,
            pps(r),
            r.own_queries,
            r.server_queries,
            r.server_cpu.as_secs_f64(),
            r.server_cpu.as_secs_f64() / r.wall.as_secs_f64(),
            r.rss_mib.map_or("-".into(), |m| format!("{m:.1}")),
            r.load,
            r.layout
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
    if let Some((wall, n, points)) = old_sample {
        let whole = wall.as_secs_f64() * tenants.len() as f64 / n as f64;
        println!(
            "- old tool, sample: {n} tenants ({points} points) in {:.1} s; x {} tenants / {n} = {:.0} s extrapolated = {:.0}x ours (first run #2, {:.1} s)",
            wall.as_secs_f64(),
            tenants.len(),
            whole,
            whole / firsts[1].wall.as_secs_f64(),
            firsts[1].wall.as_secs_f64()
        );
    } else if let Some(o) = find("old tool").first() {
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
    // Issue 20, point 4: like for like, within this run.
    let hands = find("hand checks");
    let secs = |r: &Row| r.wall.as_secs_f64();
    let cpu = |r: &Row| r.server_cpu.as_secs_f64();
    for ((l, h), o) in limits.iter().zip(&hands).zip(&firsts) {
        println!(
            "- like for like, {}: (hand copy + hand checks) / ours verified = ({:.2} + {:.2}) / {:.2} s wall = **{:.3}**; server CPU ({:.1} + {:.1}) / {:.1} s = {:.3}",
            o.variant,
            secs(l),
            secs(h),
            secs(o),
            (secs(l) + secs(h)) / secs(o),
            cpu(l),
            cpu(h),
            cpu(o),
            (cpu(l) + cpu(h)) / cpu(o)
        );
    }
    if let Some(u) = find("unverified").first() {
        for l in &limits {
            println!(
                "- like for like, unverified: hand copy ({}) / ours --no-verify = {:.2} / {:.2} s wall = **{:.3}**; server CPU {:.1} / {:.1} s = {:.3}",
                l.variant,
                secs(l),
                secs(u),
                secs(l) / secs(u),
                cpu(l),
                cpu(u),
                cpu(l) / cpu(u)
            );
        }
        println!(
            "- verification's share of our run: server CPU (first run #2 {:.1} s - --no-verify {:.1} s) / {:.1} s = {:.1}%; wall {:.2} s vs {:.2} s",
            cpu(firsts[1]),
            cpu(u),
            cpu(firsts[1]),
            100.0 * (cpu(firsts[1]) - cpu(u)) / cpu(firsts[1]),
            secs(firsts[1]),
            secs(u)
        );
    }
    if let Some(b) = find("baseline").first() {
        for o in &firsts {
            println!(
                "- {} / baseline build's first run: server CPU {:.1} / {:.1} s = {:.3}; wall {:.2} / {:.2} s = {:.3}; requests {} / {}",
                o.variant,
                cpu(o),
                cpu(b),
                cpu(o) / cpu(b),
                secs(o),
                secs(b),
                secs(o) / secs(b),
                o.server_queries,
                b.server_queries
            );
        }
    }
    let rerun = find("ours, rerun")[0];
    if let Some((open, late)) = &delta {
        println!(
            "- rerun (nothing new), server CPU: {:.2} s = {:.2}% of first run #2's {:.2} s; points copied {} (first run #2 left {open} open); late check: {} statements, {} tenants recounted by bucket, {} points counted, {} ms",
            rerun.server_cpu.as_secs_f64(),
            100.0 * rerun.server_cpu.as_secs_f64() / firsts[1].server_cpu.as_secs_f64(),
            firsts[1].server_cpu.as_secs_f64(),
            rerun.points,
            late["statements"],
            late["tenants_recounted"],
            late["points_counted"],
            late["elapsed_ms"]
        );
    }
    let first_q: f64 = firsts[1].own_queries.parse().unwrap();
    let rerun_q: f64 = rerun.own_queries.parse().unwrap();
    println!(
        "- rerun: {:.2} s, {} queries = {:.1}% of the first run's {}; {:.2} per tenant ({} tenants)",
        rerun.wall.as_secs_f64(),
        rerun_q,
        100.0 * rerun_q / first_q,
        first_q,
        rerun_q / tenants.len() as f64,
        tenants.len()
    );
}

/// The `scale` shape (issue 13): tenants, metric names, names per tenant, a point
/// every `SCALE_INTERVAL` for `SCALE_WEEKS`.
const SCALE: (usize, usize, usize) = (5000, 300, 5);
const SCALE_INTERVAL: Duration = Duration::from_secs(86_400);
const SCALE_WEEKS: u32 = 8;
/// Ledger lines `status` loads in the `scale` bench.
const SCALE_LEDGER_LINES: usize = 1_000_000;

/// The scale datasets: tenant i uses the `per` names starting at `per * (i mod
/// names / per)`, one dataset per rotation.
fn scale_specs(now_ns: i64) -> Vec<DatasetSpec> {
    let (tenants, names, per) = SCALE;
    let rotations = names / per;
    (0..rotations)
        .map(|r| {
            let ids: Vec<String> = (0..tenants)
                .filter(|i| i % rotations == r)
                .map(|i| format!("s{i:04}"))
                .collect();
            let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
            let mut s = DatasetSpec::monasca(
                &refs,
                SCALE_WEEKS,
                SCALE_INTERVAL,
                now_ns - 3_600_000_000_000,
            );
            s.hosts_per_tenant = 1;
            s.metrics = (0..per)
                .map(|k| testkit::MetricSpec::float(&format!("metric.{:03}", per * r + k)))
                .collect();
            s
        })
        .collect()
}

/// Writes a ledger of `lines` lines in the format of `src/ledger/mod.rs` (`Record`,
/// serialized field by field in its order): per tenant of `SCALE`, week chunks of its
/// measurements, each a `copied` line followed by its `verified` line. Returns the
/// tenants it names and the copied chunks per tenant.
fn write_ledger(path: &Path, lines: usize, url: &str) -> (usize, usize) {
    use std::io::Write;
    let (tenants, _, per) = SCALE;
    let per_tenant = lines / tenants / 2;
    let week = 7 * 86_400_000_000_000i64;
    // Monday 2024-01-01 00:00 UTC: chunks are aligned weeks, as ours are.
    let monday = 1_704_067_200_000_000_000i64;
    let mut w = std::io::BufWriter::new(std::fs::File::create(path).expect("create ledger"));
    for t in 0..tenants {
        let tenant = format!("s{t:04}");
        let ms: Vec<String> = (0..per)
            .map(|k| format!("metric.{:03}", (per * t + k) % 300))
            .collect();
        for c in 0..per_tenant {
            let start = monday + c as i64 * week;
            for kind in ["copied", "verified"] {
                let line = serde_json::json!({
                    "kind": kind,
                    "source": url,
                    "source_db": "monasca",
                    "source_rp": "autogen",
                    "target": format!("monasca_{tenant}"),
                    "target_rp": "autogen",
                    "tenant": tenant,
                    "measurements": ms,
                    "start": start,
                    "end": start + week,
                    "unit": "week",
                    "points": 5 * 7 * 24,
                    "at": "2026-11-22T03:00:00.000000000Z",
                });
                writeln!(w, "{line}").expect("write ledger");
            }
        }
    }
    w.flush().expect("flush ledger");
    (tenants, per_tenant)
}

/// One of our commands on the scale server: a row with wall time, requests and RSS.
fn scale_step(server: &InfluxServer, variant: &str, args: &[&str]) -> (Row, Child) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_influx-tenant-migrate"));
    cmd.env_remove("RUST_LOG").args(args);
    eprintln!("scale: {variant}");
    let (c, wall, sq, cpu, load) = measure(server, || run_child(cmd));
    assert!(
        c.status == 0,
        "{variant} failed ({}):\n{}",
        c.status,
        c.stderr
    );
    std::fs::create_dir_all("target/bench-out").ok();
    let name: String = variant
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect();
    std::fs::write(format!("target/bench-out/scale-{name}.json"), &c.stdout).ok();
    let row = Row {
        variant: variant.into(),
        wall,
        points: 0,
        own_queries: "-".into(),
        server_queries: sq,
        server_cpu: cpu,
        rss_mib: Some(c.max_rss_kib as f64 / 1024.0),
        load,
        layout: String::new(),
    };
    eprintln!(
        "  {variant}: {:.2} s, {sq} requests, peak RSS {:.1} MiB, load {load:.2}",
        wall.as_secs_f64(),
        c.max_rss_kib as f64 / 1024.0
    );
    (row, c)
}

/// Issue 13's scale figures: `plan` (discovery and planning) for 5,000 tenants x 300
/// metric names, a server-side first run and rerun of the same data, and `status`
/// loading a ledger of a million lines.
fn scale(with_run: bool) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as i64;
    let server = InfluxServer::start_with(
        ServerOptions::default()
            .extra_config("[data]\ncache-snapshot-write-cold-duration = \"10s\""),
    )
    .expect("start influxd");
    let t0 = Instant::now();
    let seeded: u64 = scale_specs(now)
        .iter()
        .map(|s| seed(&server, "monasca", s).expect("seed"))
        .sum();
    let seed_secs = t0.elapsed().as_secs_f64();
    std::thread::sleep(Duration::from_secs(15));
    server
        .query(Some("monasca"), "SELECT count(\"value\") FROM /.*/")
        .expect("warm-up");
    let (tenants, names, per) = SCALE;
    println!(
        "\n### scale — {tenants} tenants x {per} of {names} metric names, 1 host, every {}s, {SCALE_WEEKS} weeks: {seeded} points (seeded in {seed_secs:.0} s)\n",
        SCALE_INTERVAL.as_secs()
    );
    let dir = tempfile::tempdir().unwrap();
    let url = server.url();
    let ledger = dir.path().join("scale.ledger");
    let l = ledger.to_str().unwrap();
    let mut rows = Vec::new();
    let (mut r, c) = scale_step(
        &server,
        "plan (discovery + planning)",
        &["plan", "--json", "--source-url", &url, "--ledger", l],
    );
    r.own_queries = json_queries(&c.stdout);
    rows.push(r);
    let big = dir.path().join("million.ledger");
    let t0 = Instant::now();
    let (lt, chunks) = write_ledger(&big, SCALE_LEDGER_LINES, &url);
    let gen_secs = t0.elapsed().as_secs_f64();
    let size = std::fs::metadata(&big).map_or(0, |m| m.len());
    let (r, c) = scale_step(
        &server,
        "status, 1M-line ledger",
        &["status", "--json", "--ledger", big.to_str().unwrap()],
    );
    let status: Value = serde_json::from_str(&c.stdout).unwrap_or_default();
    rows.push(r);

    println!(
        "- ledger: {SCALE_LEDGER_LINES} lines ({:.0} MiB; {lt} tenants x {chunks} week chunks, a copied and a verified line each), written in {gen_secs:.1} s; status read {} tenants from it",
        size as f64 / 1_048_576.0,
        count_tenants(&status)
    );
    // At 5,000 target databases InfluxDB 1.6.7 needs about 10 open files per
    // database (8 series-file partitions, a WAL and a TSM file per shard): with a
    // limit of 20,000 it stopped accepting connections after about 2,000 of them, so
    // the copy is only run when asked for (`scale-run`).
    if with_run {
        let (mut r, c) = scale_step(
            &server,
            "ours, first run",
            &["run", "--json", "--source-url", &url, "--ledger", l],
        );
        let json: Value = serde_json::from_str(&c.stdout).expect("run --json");
        r.points = json["points_written"].as_u64().unwrap_or(0);
        r.own_queries = json["queries"].to_string();
        let names_of: Vec<String> = (0..tenants).map(|i| format!("s{i:04}")).collect();
        let found = target_points(&server, &names_of);
        if found != seeded || r.points != seeded {
            eprintln!(
                "MISMATCH scale run: seeded {seeded}, reported {}, in the targets {found}",
                r.points
            );
            r.variant.push_str(" (MISMATCH)");
        }
        r.layout = target_layout(&server, &names_of);
        let first_q = r.server_queries;
        rows.push(r);
        let (mut r, c) = scale_step(
            &server,
            "ours, rerun (nothing new)",
            &["run", "--json", "--source-url", &url, "--ledger", l],
        );
        let json: Value = serde_json::from_str(&c.stdout).expect("run --json");
        r.points = json["points_written"].as_u64().unwrap_or(0);
        r.own_queries = json["queries"].to_string();
        let rerun_q = r.server_queries;
        rows.push(r);
        println!(
            "- rerun: {rerun_q} requests = {:.2} per tenant, {:.2}% of the first run's {first_q}",
            rerun_q as f64 / tenants as f64,
            100.0 * rerun_q as f64 / first_q as f64
        );
    }
    print_steps(&rows);
}

/// The table of `scale` and `rollback`: one row per step.
fn print_steps(rows: &[Row]) {
    println!("| step | wall (s) | points | queries (own count) | /query requests (server) | server CPU (s) | peak RSS (MiB) | load avg at start | targets: default policy; shards |");
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |");
    for r in rows {
        println!(
            "| {} | {:.2} | {} | {} | {} | {:.1} | {} | {:.2} | {} |",
            r.variant,
            r.wall.as_secs_f64(),
            r.points,
            r.own_queries,
            r.server_queries,
            r.server_cpu.as_secs_f64(),
            r.rss_mib.map_or("-".into(), |m| format!("{m:.1}")),
            r.load,
            r.layout
        );
    }
    println!();
}

/// Tenants, and the minutes of new points each tenant database gets after the switch
/// (five metrics, one host, one point a minute), of the `rollback` figures.
const ROLLBACK: (usize, i64) = (200, 120);

/// `rollback` (issue 23): `ROLLBACK.0` tenants migrated, then every tenant database
/// gets new points for the last `ROLLBACK.1` minutes; our rollback from `--since`
/// (hour windows, verified), its rerun with nothing new, the hand-written best (per
/// tenant one `SELECT * INTO` back into `monasca` of the float-valued measurements and
/// one of the integer-valued one, from the same time, two at a time) and ours with
/// `--no-verify` on a fresh ledger, in that order on the same data: the later copies
/// write the same points again.
fn rollback_figures() {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as i64;
    let (n, minutes) = ROLLBACK;
    let server = InfluxServer::start().expect("start influxd");
    let ids: Vec<String> = (0..n).map(|i| format!("r{i:03}")).collect();
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let hour = 3_600_000_000_000i64;
    let since = (now - minutes * 60_000_000_000) / hour * hour;
    let mut spec = DatasetSpec::monasca(&refs, 1, Duration::from_secs(1800), since);
    spec.hosts_per_tenant = 1;
    seed(&server, "monasca", &spec).expect("seed");
    let dir = tempfile::tempdir().unwrap();
    let url = server.url();
    let ledger = dir.path().join("rollback.ledger");
    let l = ledger.to_str().unwrap();
    let base = ["--source-url", url.as_str(), "--ledger", l];
    let (_, c) = scale_step(
        &server,
        "forward run",
        &[&["run", "--json"][..], &base].concat(),
    );
    let forward: Value = serde_json::from_str(&c.stdout).expect("run --json");
    let mut new_points = 0u64;
    for t in &ids {
        let mut lines = Vec::new();
        for k in 0..minutes {
            let ts = since + k * 60_000_000_000;
            for m in &spec.metrics {
                lines.push(format!(
                    "{},_tenant_id={t},_region=RegionOne,hostname=h0 value={k}{} {ts}",
                    m.name,
                    if matches!(m.value_kind, testkit::ValueKind::Integer) {
                        "i"
                    } else {
                        ".5"
                    }
                ));
            }
        }
        new_points += lines.len() as u64;
        server
            .write_lines(&format!("monasca_{t}"), &lines.join("\n"))
            .expect("write tenant database");
    }
    println!(
        "\n### rollback — {n} tenants, {} points migrated, then {new_points} new points in the tenant databases ({minutes} min x {} metrics x 1 host each)\n",
        forward["points_written"],
        spec.metrics.len()
    );
    let since_arg = influx_tenant_migrate::core::window::format_ns(since);
    let ours = [
        &[
            "rollback",
            "--json",
            "--time-unit",
            "hour",
            "--since",
            since_arg.as_str(),
        ][..],
        &base,
    ]
    .concat();
    let mut rows = Vec::new();
    for (variant, expected) in [
        ("ours, rollback", new_points),
        ("ours, rerun (nothing new)", 0),
    ] {
        let (mut r, c) = scale_step(&server, variant, &ours);
        let json: Value = serde_json::from_str(&c.stdout).expect("rollback --json");
        r.points = json["points_written"].as_u64().unwrap_or(0);
        r.own_queries = json["queries"].to_string();
        if r.points != expected {
            r.variant.push_str(" (MISMATCH)");
        }
        rows.push(r);
    }
    rows.push(limit_back(&server, &ids, since, 2));
    let fresh = dir.path().join("fresh.ledger");
    let mut unverified = ours.clone();
    unverified[ours.len() - 1] = fresh.to_str().unwrap();
    unverified.push("--no-verify");
    let (mut r, c) = scale_step(&server, "ours, rollback --no-verify", &unverified);
    let json: Value = serde_json::from_str(&c.stdout).expect("rollback --json");
    r.points = json["points_written"].as_u64().unwrap_or(0);
    r.own_queries = json["queries"].to_string();
    rows.push(r);
    print_steps(&rows);
}

/// The hand-written best way back: per tenant, one `SELECT * INTO` of the
/// float-valued measurements and one of the integer-valued one from its database
/// back into `monasca`'s default policy, from `since`, `concurrency` at a time.
fn limit_back(server: &InfluxServer, tenants: &[String], since: i64, concurrency: usize) -> Row {
    let floats = [
        "cpu.idle_perc",
        "disk.space_used_perc",
        "mem.free_mb",
        "vm.net.in_bytes_sec",
    ];
    let mut queries = Vec::new();
    for t in tenants {
        let db = quote_ident(&format!("monasca_{t}"));
        for group in [&floats[..], &["http_status"][..]] {
            let from: Vec<String> = group
                .iter()
                .map(|m| format!("{db}.\"autogen\".{}", quote_ident(m)))
                .collect();
            queries.push(format!(
                "SELECT * INTO \"monasca\".\"autogen\".:MEASUREMENT FROM {} WHERE time >= {since} GROUP BY *",
                from.join(",")
            ));
        }
    }
    let next = AtomicUsize::new(0);
    let written = AtomicUsize::new(0);
    let (_, wall, sq, cpu, load) = measure(server, || {
        std::thread::scope(|s| {
            for _ in 0..concurrency {
                s.spawn(|| loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(q) = queries.get(i) else { break };
                    let r = server.query(Some("monasca"), q).expect("limit query");
                    let n = r["results"][0]["series"][0]["values"][0][1]
                        .as_u64()
                        .unwrap_or(0);
                    written.fetch_add(n as usize, Ordering::Relaxed);
                });
            }
        });
    });
    Row {
        variant: "hand-written best (SELECT INTO per tenant and type batch)".into(),
        wall,
        points: written.load(Ordering::Relaxed) as u64,
        own_queries: queries.len().to_string(),
        server_queries: sq,
        server_cpu: cpu,
        rss_mib: None,
        load,
        layout: String::new(),
    }
}

/// `queries` of a `--json` answer, or `-`.
fn json_queries(stdout: &str) -> String {
    serde_json::from_str::<Value>(stdout)
        .ok()
        .and_then(|v| v.get("queries").map(Value::to_string))
        .unwrap_or_else(|| "-".into())
}

/// Tenants in `status --json`: the length of its tenant list, wherever it is.
fn count_tenants(v: &Value) -> String {
    match v {
        Value::Array(a) => a.len().to_string(),
        Value::Object(o) => o
            .get("tenants")
            .map(|t| match t {
                Value::Array(a) => a.len().to_string(),
                Value::Object(m) => m.len().to_string(),
                _ => "?".into(),
            })
            .unwrap_or_else(|| format!("? (keys: {:?})", o.keys().collect::<Vec<_>>())),
        _ => "?".into(),
    }
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
    // Not in the default set: what a check reads, field by field, on the sparse shape.
    if wanted.contains(&"check-cost") {
        check_cost();
    }
    // Not in the default set: a rerun with nothing new, request by request.
    for name in ["sparse", "delta-dense", "skewed"] {
        if wanted.contains(&format!("rerun-cost-{name}").as_str()) {
            rerun_cost(name);
        }
    }
    // Not in the default set: the way back (issue 23).
    if wanted.contains(&"rollback") {
        rollback_figures();
    }
    // Not in the default set: it seeds 5,000 tenants and copies them.
    if wanted.contains(&"scale") || wanted.contains(&"scale-run") {
        scale(wanted.contains(&"scale-run"));
    }
}

/// The fields a check variant reads, as the `SELECT` list of its statements.
const CHECK_VARIANTS: &[(&str, &str)] = &[
    (
        "the contract: count of every field, sum of every numeric one",
        "count(\"value\"::field) AS \"c0\", sum(\"value\"::field) AS \"s0\", count(\"value_meta\"::field) AS \"c1\"",
    ),
    (
        "count and sum of `value` only (no string field)",
        "count(\"value\"::field) AS \"c0\", sum(\"value\"::field) AS \"s0\"",
    ),
    (
        "count of `value` only",
        "count(\"value\"::field) AS \"c0\"",
    ),
];

/// `check-cost`: on the sparse shape, copied once with `--no-verify`, the server CPU
/// of the checks' statements for every chunk, as `run` sends them
/// (`verify::batch::grouped_query`: one source statement per 100 tenants grouped by
/// the tenant tag; one target statement per chunk, 100 to a request), for the
/// contract's fields and for lighter variants, against the copies' own CPU and the
/// hand-written best's, in the same session.
fn check_cost() {
    let shape = SHAPES.iter().find(|s| s.name == "sparse").unwrap();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as i64;
    let specs = sparse_specs(shape, now);
    let tenants: Vec<String> = specs
        .iter()
        .flat_map(|s| s.tenants.iter().map(|t| t.id.clone()))
        .collect();
    let server = InfluxServer::start_with(
        ServerOptions::default()
            .extra_config("[data]\ncache-snapshot-write-cold-duration = \"10s\""),
    )
    .expect("start influxd");
    let seeded: u64 = specs
        .iter()
        .map(|s| seed(&server, "monasca", s).expect("seed"))
        .sum();
    std::thread::sleep(Duration::from_secs(15));
    server
        .query(Some("monasca"), "SELECT count(\"value\") FROM /.*/")
        .expect("warm-up");
    println!(
        "\n### check-cost — sparse shape ({} tenants, {seeded} points): what a check reads\n",
        tenants.len()
    );
    let best = limit(&server, &tenants, 2, true);
    drop_targets(&server, &tenants);
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("copied.ledger");
    let (copied, _) = ours_with(&server, &ledger, "ours --no-verify", &["--no-verify"]);
    let chunks: Vec<Value> = std::fs::read_to_string(&ledger)
        .unwrap()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|r| r["kind"] == "copied")
        .collect();
    let cpu = |sql: &[String], per_request: usize| {
        let c0 = server_cpu(&server);
        for group in sql.chunks(per_request) {
            server
                .query(Some("monasca"), &group.join(";"))
                .expect("check statement");
        }
        server_cpu(&server) - c0
    };
    println!("- chunks: {} (copied by `ours --no-verify`); hand-written best: {:.1} s server CPU, ours --no-verify: {:.1} s", chunks.len(), best.server_cpu.as_secs_f64(), copied.server_cpu.as_secs_f64());
    println!();
    println!("| fields checked | source statements | source CPU (s) | target CPU (s) | check / copy (ours --no-verify) | first run at best / (1 + check/copy), if CPU-bound |");
    println!("| --- | ---: | ---: | ---: | ---: | ---: |");
    for (what, select) in CHECK_VARIANTS {
        let (source, target) = check_statements(&chunks, select);
        // Twice each, the lower kept: other users' builds share this machine.
        let s = cpu(&source, 1).min(cpu(&source, 1));
        let t = cpu(&target, 100).min(cpu(&target, 100));
        let share = (s + t).as_secs_f64() / copied.server_cpu.as_secs_f64();
        let ratio =
            best.server_cpu.as_secs_f64() / (copied.server_cpu.as_secs_f64() * (1.0 + share));
        println!(
            "| {what} | {} | {:.2} | {:.2} | {:.1}% | {:.2} |",
            source.len(),
            s.as_secs_f64(),
            t.as_secs_f64(),
            share * 100.0,
            ratio
        );
    }
    drop_targets(&server, &tenants);
}

/// The checks of `chunks` (ledger records) as `run` words them, reading `select`: a
/// source statement per 100 tenants (same window), grouped by `_tenant_id`, and a
/// target statement per chunk.
fn check_statements(chunks: &[Value], select: &str) -> (Vec<String>, Vec<String>) {
    let window = |r: &Value| {
        format!(
            "time >= {} AND time < {}",
            r["start"].as_i64().unwrap(),
            r["end"].as_i64().unwrap()
        )
    };
    let from = |db: &str, ms: &mut dyn Iterator<Item = &str>| {
        ms.map(|m| format!("{}.\"autogen\".{}", quote_ident(db), quote_ident(m)))
            .collect::<Vec<_>>()
            .join(",")
    };
    let measurements = |r: &Value| -> Vec<String> {
        r["measurements"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m.as_str().unwrap().to_string())
            .collect()
    };
    let mut source = Vec::new();
    for group in chunks.chunks(100) {
        // The tool groups only chunks of one window; the sparse shape's are all one.
        assert!(group.iter().all(|r| window(r) == window(&group[0])));
        let ms: std::collections::BTreeSet<String> = group.iter().flat_map(measurements).collect();
        let tenants: Vec<String> = group
            .iter()
            .map(|r| {
                format!(
                    "\"_tenant_id\"::tag = {}",
                    quote_string(r["tenant"].as_str().unwrap())
                )
            })
            .collect();
        source.push(format!(
            "SELECT {select} FROM {} WHERE ({}) AND {} GROUP BY \"_tenant_id\"",
            from("monasca", &mut ms.iter().map(String::as_str)),
            tenants.join(" OR "),
            window(&group[0])
        ));
    }
    let target = chunks
        .iter()
        .map(|r| {
            let ms = measurements(r);
            format!(
                "SELECT {select} FROM {} WHERE {}",
                from(
                    r["target"].as_str().unwrap(),
                    &mut ms.iter().map(String::as_str)
                ),
                window(r)
            )
        })
        .collect();
    (source, target)
}

/// `rerun-cost-<shape>`: after a first run, a rerun with nothing new logs every request
/// it sends (the client's debug line); each is then sent again alone, three times, and
/// its server CPU and wall time measured: where a rerun's server time goes.
fn rerun_cost(name: &str) {
    let shape = SHAPES.iter().find(|s| s.name == name).unwrap();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as i64;
    let specs = specs_of(shape, now);
    let server = InfluxServer::start_with(
        ServerOptions::default()
            .extra_config("[data]\ncache-snapshot-write-cold-duration = \"10s\""),
    )
    .expect("start influxd");
    let seeded: u64 = specs
        .iter()
        .map(|s| seed(&server, "monasca", s).expect("seed"))
        .sum();
    std::thread::sleep(Duration::from_secs(15));
    server
        .query(Some("monasca"), "SELECT count(\"value\") FROM /.*/")
        .expect("warm-up");
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("first.ledger");
    let (first, _) = ours(&server, &ledger, "ours, first run");
    // As in `bench`: the first run's writes settle before the rerun is measured; what
    // the server burns meanwhile on its own (snapshots, compactions) is measured too.
    std::thread::sleep(Duration::from_secs(25));
    let idle0 = server_cpu(&server);
    std::thread::sleep(Duration::from_secs(5));
    let idle = server_cpu(&server) - idle0;
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_influx-tenant-migrate"));
    cmd.env("RUST_LOG", "influx_tenant_migrate::influx::client=debug")
        .env("ITM__LOG__FORMAT", "json")
        .args(["run", "--json", "--source-url", &server.url(), "--ledger"])
        .arg(&ledger);
    let (c, wall, requests, cpu, load) = measure(&server, || run_child(cmd));
    assert_eq!(c.status, 0, "rerun failed:\n{}", c.stderr);
    println!(
        "\n- server CPU with no request, over the 5 s before the rerun: {:.2} s",
        idle.as_secs_f64()
    );
    println!(
        "\n### rerun-cost — {name}: {seeded} points; first run {:.2} s wall, server CPU {:.2} s; rerun {:.2} s wall, server CPU {:.2} s ({:.2}%), {requests} requests, load {load:.2}\n",
        first.wall.as_secs_f64(),
        first.server_cpu.as_secs_f64(),
        wall.as_secs_f64(),
        cpu.as_secs_f64(),
        100.0 * cpu.as_secs_f64() / first.server_cpu.as_secs_f64()
    );
    let logged: Vec<(String, u64)> = c
        .stderr
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["fields"]["message"] == "query answered")
        .map(|v| {
            let f = &v["fields"];
            let q = f["statements"].as_str().unwrap_or_default().to_string();
            (q, f["ms"].as_u64().unwrap_or(0))
        })
        .collect();
    println!("| request (first statement, shortened) | statements | ms in the rerun | server CPU (ms), alone, best of 3 | wall (ms), alone, best of 3 |");
    println!("| --- | ---: | ---: | ---: | ---: |");
    let mut total = Duration::ZERO;
    for (q, ms) in &logged {
        // Discovery statements name their database; the rest run in `monasca`.
        let (mut best_cpu, mut best_wall) = (Duration::MAX, Duration::MAX);
        for _ in 0..3 {
            let (_, w, _, cpu, _) = measure(&server, || server.query(Some("monasca"), q));
            best_cpu = best_cpu.min(cpu);
            best_wall = best_wall.min(w);
        }
        total += best_cpu;
        let head: String = q.chars().take(110).collect::<String>().replace('|', "\\|");
        println!(
            "| `{head}` | {} | {ms} | {} | {:.0} |",
            q.matches(';').count() + 1,
            best_cpu.as_millis(),
            best_wall.as_secs_f64() * 1000.0
        );
    }
    println!(
        "\n- {} requests logged; their server CPU sent alone, summed: {:.2} s (the rerun's whole: {:.2} s; /proc ticks are 10 ms)",
        logged.len(),
        total.as_secs_f64(),
        cpu.as_secs_f64()
    );
    horizon_cut_cost(&server, &specs, &first, dir.path());
}

/// What the cut where the late horizon begins costs and saves (issue 20): a first run
/// without it (`--late-horizon 0s`: no cut, no late check), then, on that ledger, a
/// rerun with the default horizon, whose late check must count each tenant's whole
/// last closed chunk; against the default first run `with_cut`.
fn horizon_cut_cost(server: &InfluxServer, specs: &[DatasetSpec], with_cut: &Row, dir: &Path) {
    let tenants: Vec<String> = specs
        .iter()
        .flat_map(|s| s.tenants.iter().map(|t| t.id.clone()))
        .collect();
    drop_targets(server, &tenants);
    let ledger = dir.join("nocut.ledger");
    let (nocut, _) = ours_with(
        server,
        &ledger,
        "ours, first run, no horizon cut",
        &["--late-horizon", "0s"],
    );
    std::thread::sleep(Duration::from_secs(30));
    let (rerun, json) = ours(
        server,
        &ledger,
        "ours, rerun with the horizon, after no cut",
    );
    println!("\n| variant | wall (s) | /query requests | server CPU (s) | load avg at start |");
    println!("| --- | ---: | ---: | ---: | ---: |");
    for r in [with_cut, &nocut, &rerun] {
        println!(
            "| {} | {:.2} | {} | {:.2} | {:.2} |",
            r.variant,
            r.wall.as_secs_f64(),
            r.server_queries,
            r.server_cpu.as_secs_f64(),
            r.load
        );
    }
    println!(
        "\n- the cut costs the first run {} requests and {:.2} s server CPU ({:+.1}%); without it a rerun's late check counts {} points in {} statements, {} ms, rerun server CPU {:.2} s",
        with_cut.server_queries as i64 - nocut.server_queries as i64,
        with_cut.server_cpu.as_secs_f64() - nocut.server_cpu.as_secs_f64(),
        100.0 * (with_cut.server_cpu.as_secs_f64() / nocut.server_cpu.as_secs_f64() - 1.0),
        json["late"]["points_counted"],
        json["late"]["statements"],
        json["late"]["elapsed_ms"],
        rerun.server_cpu.as_secs_f64()
    );
}
