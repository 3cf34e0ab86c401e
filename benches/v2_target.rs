//! The InfluxDB 2.x target's speed (issue 22, point 6): on one 1.x source and the
//! same data, in one session, our `run` to a fresh 2.x server (verified, then
//! `--no-verify`) against a hand-written export/import a careful operator would
//! write: per tenant a bucket and its DBRP mapping, one chunked `SELECT *` of the
//! tenant's points, line protocol POSTed to `/api/v2/write` in batches of 5,000,
//! two tenants at a time. After every variant each tenant database is counted
//! (and `value` summed) through the 2.x server's InfluxQL endpoint against the
//! source: a wrong result is reported as wrong.
//!
//! Run with `scripts/bench-v2 [dense] [sparse]` (default both). Under `cargo test` it
//! does nothing. Figures go to docs/BENCHMARKS.md, "InfluxDB 2.x target (issue 22)".

// Each bench uses only some of what the shared module offers.
#[allow(dead_code)]
mod support;
use support::{load1, run_child};

use serde_json::Value;
use std::collections::BTreeMap;
use std::io::BufReader;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use testkit::server2::{ADMIN_TOKEN, ORG};
use testkit::{
    quote_string, seed, DatasetSpec, FieldValue, Influx2Server, InfluxServer, Point, ServerOptions,
};

/// Lines per `/api/v2/write` request of the hand-written copy (the 2.x docs' advice).
const BATCH: usize = 5_000;
/// Rows per chunk the hand-written copy asks the source for.
const CHUNK_SIZE: usize = 10_000;
/// Tenants in flight at once, as ours on this 2-core machine (`concurrency` auto: 2).
const IN_FLIGHT: usize = 2;

#[derive(Clone, Copy)]
struct Shape {
    name: &'static str,
    tenants: usize,
    interval: Duration,
    weeks: u32,
    /// `(metric names, names per tenant)`, float metrics, each tenant its rotation.
    names: (usize, usize),
}

/// The shapes of `benches/migrate.rs` of the same names (one host per tenant).
const SHAPES: &[Shape] = &[
    Shape {
        name: "dense",
        tenants: 8,
        interval: Duration::from_secs(1800),
        weeks: 52,
        names: (10, 10),
    },
    Shape {
        name: "sparse",
        tenants: 400,
        interval: Duration::from_secs(6 * 3600),
        weeks: 16,
        names: (60, 8),
    },
];

/// The datasets, as `benches/migrate.rs`'s `sparse_specs`: tenants grouped by the
/// rotation of metric names they use; data up to an hour ago.
fn specs(shape: &Shape, now_ns: i64) -> Vec<DatasetSpec> {
    let (names, per_tenant) = shape.names;
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
            s.hosts_per_tenant = 1;
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

/// CPU time (utime + stime) of a process so far, from /proc.
fn cpu_of(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("read stat");
    let rest = &stat[stat.rfind(')').expect("stat format") + 2..];
    let f: Vec<&str> = rest.split(' ').collect();
    let ticks: u64 = f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap();
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as u64;
    Duration::from_millis(ticks * 1000 / hz)
}

/// The pid of the 2.x server: testkit keeps its child private, so the process whose
/// command line names the server's own temporary directory.
fn pid2(server: &Influx2Server) -> u32 {
    let dir = server.dir().display().to_string();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(cmd) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
            continue;
        };
        let cmd = String::from_utf8_lossy(&cmd);
        if cmd.contains("influxd") && cmd.contains(&dir) {
            return pid;
        }
    }
    panic!("no influxd process for {dir}")
}

/// CPU (user + system) this bench process used so far: the hand-written copy's
/// client CPU (nothing else runs in it meanwhile).
fn self_cpu() -> Duration {
    // SAFETY: rusage is plain data; getrusage fills it.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(u.ru_utime) + tv(u.ru_stime)
}

struct Row {
    variant: String,
    wall: Duration,
    points: u64,
    requests: String,
    source_queries: u64,
    source_cpu: Duration,
    target_cpu: Duration,
    client_cpu: Duration,
    rss_mib: Option<f64>,
    load: f64,
    /// `OK` or what the check found wrong.
    result: String,
    /// Distinct (retention, shard group) of the tenant buckets afterwards.
    layout: String,
    /// `/api/v2/write` requests the 2.x server answered (its `/metrics`).
    writes: u64,
}

impl Row {
    fn pps(&self) -> f64 {
        self.points as f64 / self.wall.as_secs_f64()
    }
    fn ok(&self) -> bool {
        self.result == "OK"
    }
}

/// What a variant's measurement brackets: wall, the source's `/query` requests, both
/// servers' CPU and the load at the start.
struct Measured {
    wall: Duration,
    source_queries: u64,
    source_cpu: Duration,
    target_cpu: Duration,
    load: f64,
}

fn measure<T>(source: &InfluxServer, target_pid: u32, f: impl FnOnce() -> T) -> (T, Measured) {
    let load = load1();
    let q0 = source.query_requests().expect("/debug/vars");
    let (s0, t0) = (cpu_of(source.pid()), cpu_of(target_pid));
    let started = Instant::now();
    let out = f();
    let wall = started.elapsed();
    let (s1, t1) = (cpu_of(source.pid()), cpu_of(target_pid));
    let q1 = source.query_requests().expect("/debug/vars");
    (
        out,
        Measured {
            wall,
            source_queries: q1 - q0,
            source_cpu: s1 - s0,
            target_cpu: t1 - t0,
            load,
        },
    )
}

/// What the source holds per tenant: (points, sum of `value`), read before any
/// variant, outside the timings.
type Expected = BTreeMap<String, (u64, f64)>;

fn expected(source: &InfluxServer, specs: &[DatasetSpec]) -> Expected {
    let mut out = Expected::new();
    for spec in specs {
        for t in &spec.tenants {
            let r = source
                .query(
                    Some("monasca"),
                    &format!(
                        "SELECT count(\"value\"), sum(\"value\") FROM /.*/ WHERE \"_tenant_id\" = {}",
                        quote_string(&t.id)
                    ),
                )
                .expect("source count");
            let (n, s) = count_sum(&r);
            assert_eq!(n, spec.tenant_point_count(&t.id), "source of {}", t.id);
            out.insert(t.id.clone(), (n, s));
        }
    }
    out
}

/// Count and sum over every series of a `SELECT count(..), sum(..)` answer.
fn count_sum(r: &Value) -> (u64, f64) {
    let mut n = 0;
    let mut s = 0.0;
    for series in r["results"][0]["series"].as_array().into_iter().flatten() {
        n += series["values"][0][1].as_u64().unwrap_or(0);
        s += series["values"][0][2].as_f64().unwrap_or(0.0);
    }
    (n, s)
}

/// Every tenant database on the 2.x server against the source: `OK`, or the first
/// few differences.
fn check(target: &Influx2Server, want: &Expected) -> String {
    let mut wrong = Vec::new();
    for (t, (n, s)) in want {
        let db = format!("monasca_{t}");
        // The 2.x endpoint answers chunked requests with a chunk per series.
        let got = target
            .query_chunked(
                Some(&db),
                "SELECT count(\"value\"), sum(\"value\") FROM /.*/",
                10_000,
            )
            .map(|chunks| {
                chunks
                    .iter()
                    .map(count_sum)
                    .fold((0, 0.0), |(n, s), (a, b)| (n + a, s + b))
            });
        match got {
            Ok((gn, gs)) if gn == *n && (gs - s).abs() <= 1e-9 * s.abs().max(1.0) => {}
            Ok((gn, gs)) => wrong.push(format!("{t}: {gn} points (sum {gs}), source {n} ({s})")),
            Err(e) => wrong.push(format!("{t}: {e:#}")),
        }
    }
    if wrong.is_empty() {
        "OK".into()
    } else {
        let more = wrong.len();
        wrong.truncate(3);
        format!("WRONG ({more} tenants): {}", wrong.join("; "))
    }
}

/// `/api/v2/write` requests the 2.x server answered, any status: where the time of a
/// copy into many small buckets goes is in how many writes it takes.
fn writes(target: &Influx2Server) -> u64 {
    let text = reqwest::blocking::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .get(format!("{}/metrics", target.url()))
        .send()
        .and_then(|r| r.text())
        .unwrap_or_default();
    text.lines()
        .filter(|l| {
            l.starts_with("http_api_requests_total{") && l.contains("path=\"/api/v2/write\"")
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}

/// Distinct (retention, shard group) of the `monasca_*` buckets, paged (the
/// testkit helper reads only the first 100).
fn layout(target: &Influx2Server) -> String {
    let mut seen = BTreeMap::<(i64, i64), usize>::new();
    let mut offset = 0;
    loop {
        let v = target
            .send(
                "GET",
                &format!(
                    "/api/v2/buckets?orgID={}&limit=100&offset={offset}",
                    target.org_id()
                ),
                None,
            )
            .expect("list buckets");
        let page = v["buckets"].as_array().cloned().unwrap_or_default();
        for b in &page {
            if !b["name"].as_str().unwrap_or("").starts_with("monasca_") {
                continue;
            }
            let rule = &b["retentionRules"][0];
            let key = (
                rule["everySeconds"].as_i64().unwrap_or(0),
                rule["shardGroupDurationSeconds"].as_i64().unwrap_or(0),
            );
            *seen.entry(key).or_default() += 1;
        }
        if page.len() < 100 {
            break;
        }
        offset += 100;
    }
    seen.iter()
        .map(|((r, s), n)| format!("{n} x retention {r}s shard group {}h", s / 3600))
        .collect::<Vec<_>>()
        .join(", ")
}

fn ours(source: &InfluxServer, want: &Expected, dir: &Path, variant: &str, extra: &[&str]) -> Row {
    let target = Influx2Server::start().expect("start influxd 2.x");
    let token = dir.join("token");
    std::fs::write(&token, format!("{ADMIN_TOKEN}\n")).unwrap();
    let ledger = dir.join(format!("{}.ledger", variant.replace([' ', ',', '#'], "")));
    let _ = std::fs::remove_file(&ledger);
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_influx-tenant-migrate"));
    cmd.env_remove("RUST_LOG")
        .args(["run", "--json", "--source-url", &source.url()])
        .args(["--target-url", &target.url(), "--target-org", ORG])
        .arg("--target-token-file")
        .arg(&token)
        .arg("--ledger")
        .arg(&ledger)
        .args(extra);
    let (c, m) = measure(source, pid2(&target), || run_child(cmd));
    let json: Value = serde_json::from_str(&c.stdout).unwrap_or(Value::Null);
    let mut result = check(&target, want);
    if c.status != 0 {
        result = format!(
            "WRONG: exit {} ({})",
            c.status,
            c.stderr.lines().last().unwrap_or("")
        );
    }
    eprintln!(
        "  {variant}: {:.1}s, exit {}, chunks copied {}, queries {}, {result}",
        m.wall.as_secs_f64(),
        c.status,
        json["chunks_copied"],
        json["queries"]
    );
    let out = Path::new("target/bench-out");
    std::fs::create_dir_all(out).ok();
    let name: String = variant
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect();
    std::fs::write(out.join(format!("v2-{name}.json")), &c.stdout).ok();
    Row {
        variant: variant.into(),
        wall: m.wall,
        points: json["points_written"].as_u64().unwrap_or(0),
        requests: json["queries"].to_string(),
        source_queries: m.source_queries,
        source_cpu: m.source_cpu,
        target_cpu: m.target_cpu,
        client_cpu: c.cpu,
        rss_mib: Some(c.max_rss_kib as f64 / 1024.0),
        load: m.load,
        result,
        layout: layout(&target),
        writes: writes(&target),
    }
}

/// Go duration (`0s`, `168h0m0s`) in seconds, as `SHOW RETENTION POLICIES` gives it.
fn go_secs(d: &str) -> i64 {
    let (mut total, mut num) = (0i64, 0i64);
    for c in d.chars() {
        match c {
            '0'..='9' => num = num * 10 + i64::from(c as u8 - b'0'),
            'h' => (total, num) = (total + num * 3600, 0),
            'm' => (total, num) = (total + num * 60, 0),
            's' => (total, num) = (total + num, 0),
            _ => {}
        }
    }
    total
}

/// The hand-written export/import. Counts its own HTTP requests.
struct Hand<'a> {
    http: reqwest::blocking::Client,
    source: &'a InfluxServer,
    target: &'a Influx2Server,
    /// measurement -> field -> InfluxQL type, from `SHOW FIELD KEYS`.
    types: BTreeMap<String, BTreeMap<String, String>>,
    /// The bucket's retention rule: the source's default policy.
    every_seconds: i64,
    shard_group_seconds: i64,
    requests: AtomicU64,
    points: AtomicU64,
}

impl Hand<'_> {
    fn post_json(&self, path: &str, body: Value) -> Value {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let r = self
            .http
            .post(format!("{}{path}", self.target.url()))
            .header("Authorization", format!("Token {ADMIN_TOKEN}"))
            .json(&body)
            .send()
            .expect("POST");
        let status = r.status();
        let text = r.text().unwrap_or_default();
        assert!(status.is_success(), "POST {path}: {status}: {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    fn write(&self, bucket: &str, body: String) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let r = self
            .http
            .post(format!("{}/api/v2/write", self.target.url()))
            .query(&[("org", ORG), ("bucket", bucket), ("precision", "ns")])
            .header("Authorization", format!("Token {ADMIN_TOKEN}"))
            .body(body)
            .send()
            .expect("POST /api/v2/write");
        let status = r.status();
        assert!(
            status.is_success(),
            "write {bucket}: {status}: {}",
            r.text().unwrap_or_default()
        );
    }

    fn tenant(&self, tenant: &str) {
        let db = format!("monasca_{tenant}");
        let mut rule = serde_json::json!({"type": "expire", "everySeconds": self.every_seconds});
        if self.shard_group_seconds > 0 {
            rule["shardGroupDurationSeconds"] = self.shard_group_seconds.into();
        }
        let b = self.post_json(
            "/api/v2/buckets",
            serde_json::json!({"orgID": self.target.org_id(), "name": db, "retentionRules": [rule]}),
        );
        let bucket_id = b["id"].as_str().expect("bucket id").to_string();
        self.post_json(
            "/api/v2/dbrps",
            serde_json::json!({"orgID": self.target.org_id(), "bucketID": bucket_id,
                "database": db, "retention_policy": "autogen", "default": true}),
        );
        self.requests.fetch_add(1, Ordering::Relaxed);
        let q = format!(
            "SELECT * FROM /.*/ WHERE \"_tenant_id\" = {} GROUP BY *",
            quote_string(tenant)
        );
        let chunk = CHUNK_SIZE.to_string();
        let resp = self
            .http
            .post(format!("{}/query", self.source.url()))
            .form(&[
                ("db", "monasca"),
                ("q", q.as_str()),
                ("epoch", "ns"),
                ("chunked", "true"),
                ("chunk_size", chunk.as_str()),
            ])
            .send()
            .expect("source query");
        assert!(
            resp.status().is_success(),
            "source query: {}",
            resp.status()
        );
        // Chunk by chunk as they arrive: the body is never held whole.
        let mut body = String::new();
        let mut lines = 0;
        let mut points = 0u64;
        for v in serde_json::Deserializer::from_reader(BufReader::with_capacity(1 << 16, resp))
            .into_iter::<Value>()
        {
            let v = v.expect("chunked answer");
            let res = &v["results"][0];
            assert!(res.get("error").is_none(), "source: {}", res["error"]);
            for s in res["series"].as_array().into_iter().flatten() {
                let m = s["name"].as_str().unwrap();
                let types = &self.types[m];
                let tags: Vec<(String, String)> = s["tags"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
                    .collect();
                let cols: Vec<&str> = s["columns"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|c| c.as_str().unwrap())
                    .collect();
                for row in s["values"].as_array().unwrap() {
                    let row = row.as_array().unwrap();
                    let mut p = Point::new(m).time(row[0].as_i64().unwrap());
                    p.tags = tags.clone();
                    for (c, v) in cols.iter().zip(row).skip(1) {
                        if v.is_null() {
                            continue;
                        }
                        let f = match types.get(*c).map(String::as_str) {
                            Some("integer") => FieldValue::Integer(v.as_i64().unwrap()),
                            Some("float") => FieldValue::Float(v.as_f64().unwrap()),
                            Some("boolean") => FieldValue::Bool(v.as_bool().unwrap()),
                            _ => FieldValue::Str(v.as_str().unwrap_or_default().to_string()),
                        };
                        p.fields.push((c.to_string(), f));
                    }
                    body.push_str(&p.to_line().expect("line"));
                    body.push('\n');
                    lines += 1;
                    points += 1;
                    if lines == BATCH {
                        self.write(&db, std::mem::take(&mut body));
                        lines = 0;
                    }
                }
            }
        }
        if lines > 0 {
            self.write(&db, body);
        }
        self.points.fetch_add(points, Ordering::Relaxed);
    }
}

fn hand(source: &InfluxServer, want: &Expected, variant: &str) -> Row {
    let target = Influx2Server::start().expect("start influxd 2.x");
    let http = reqwest::blocking::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(3600))
        .build()
        .unwrap();
    let failed = Mutex::new(None::<String>);
    let (hand, m) = measure(source, pid2(&target), || {
        let c0 = self_cpu();
        // What an operator reads first: the tenants, the field types, the policy.
        let tenants: Vec<String> = source
            .query_chunked(
                Some("monasca"),
                "SHOW TAG VALUES WITH KEY = \"_tenant_id\"",
                CHUNK_SIZE,
            )
            .expect("tenants")
            .iter()
            .flat_map(|c| {
                c["results"][0]["series"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
            })
            .flat_map(|s| s["values"].as_array().cloned().unwrap_or_default())
            .filter_map(|v| v[1].as_str().map(String::from))
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        let mut types: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        let fk = source
            .query(Some("monasca"), "SHOW FIELD KEYS")
            .expect("field keys");
        for s in fk["results"][0]["series"].as_array().into_iter().flatten() {
            let e = types
                .entry(s["name"].as_str().unwrap().to_string())
                .or_default();
            for v in s["values"].as_array().unwrap() {
                e.insert(
                    v[0].as_str().unwrap().to_string(),
                    v[1].as_str().unwrap().to_string(),
                );
            }
        }
        let rp = source
            .retention_policies("monasca")
            .expect("policies")
            .into_iter()
            .find(|p| p.default)
            .expect("default policy");
        let every_seconds = go_secs(&rp.duration);
        let hand = Hand {
            http,
            source,
            target: &target,
            types,
            every_seconds,
            // The shard groups ours gives an infinite source policy (52 weeks, its
            // targets' shard-duration rule), so that both write the same layout;
            // otherwise the server's choice for that retention.
            shard_group_seconds: if every_seconds == 0 {
                52 * 7 * 86_400
            } else {
                0
            },
            requests: AtomicU64::new(3),
            points: AtomicU64::new(0),
        };
        let next = AtomicUsize::new(0);
        std::thread::scope(|s| {
            for _ in 0..IN_FLIGHT {
                s.spawn(|| loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(t) = tenants.get(i) else { break };
                    let r =
                        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| hand.tenant(t)));
                    if r.is_err() {
                        *failed.lock().unwrap() = Some(format!("tenant {t} failed"));
                        break;
                    }
                });
            }
        });
        (
            hand.requests.into_inner(),
            hand.points.into_inner(),
            self_cpu() - c0,
        )
    });
    let (requests, points, client_cpu) = hand;
    let mut result = check(&target, want);
    if let Some(f) = failed.into_inner().unwrap() {
        result = format!("WRONG: {f}");
    }
    eprintln!(
        "  {variant}: {:.1}s, {points} points, {requests} requests, {result}",
        m.wall.as_secs_f64()
    );
    Row {
        variant: variant.into(),
        wall: m.wall,
        points,
        requests: requests.to_string(),
        source_queries: m.source_queries,
        source_cpu: m.source_cpu,
        target_cpu: m.target_cpu,
        client_cpu,
        rss_mib: None,
        load: m.load,
        result,
        layout: layout(&target),
        writes: writes(&target),
    }
}

/// Mean of the rows that are right, or `None` when none is.
fn mean(rows: &[&Row], f: impl Fn(&Row) -> f64) -> Option<f64> {
    let ok: Vec<f64> = rows.iter().filter(|r| r.ok()).map(|r| f(r)).collect();
    (!ok.is_empty()).then(|| ok.iter().sum::<f64>() / ok.len() as f64)
}

fn bench(shape: &Shape) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as i64;
    let specs = specs(shape, now);
    // Snapshots after 10 s without writes: the seeded data is in TSM files before the
    // first variant, as in production. The longer write timeout and the retries: the
    // seed's writes timed out at the default 10 s on this shared, loaded machine
    // (rewriting the same points is harmless).
    let source = InfluxServer::start_with(ServerOptions::default().extra_config(
        "[data]\ncache-snapshot-write-cold-duration = \"10s\"\n[coordinator]\nwrite-timeout = \"120s\"\n",
    ))
    .expect("start influxd");
    let t0 = Instant::now();
    let seeded: u64 = specs
        .iter()
        .map(|s| {
            let mut tries = 0;
            loop {
                match seed(&source, "monasca", s) {
                    Ok(n) => break n,
                    Err(e) if tries < 3 => {
                        tries += 1;
                        eprintln!("  seed: {e:#}; again");
                    }
                    Err(e) => panic!("seed: {e:#}"),
                }
            }
        })
        .sum();
    let seed_secs = t0.elapsed().as_secs_f64();
    std::thread::sleep(Duration::from_secs(15));
    // Also warms the page cache: every variant reads the source from memory.
    let want = expected(&source, &specs);
    println!(
        "\n### {} — {} tenants, {} measurements ({} per tenant), 1 host, every {}s, {} weeks: {seeded} points (seeded in {seed_secs:.0} s); 1.x {} -> 2.x {}\n",
        shape.name,
        shape.tenants,
        shape.names.0,
        shape.names.1,
        shape.interval.as_secs(),
        shape.weeks,
        source.binary_version().unwrap_or_default(),
        Influx2Server::start()
            .and_then(|s| s.version())
            .unwrap_or_default(),
    );
    let dir = tempfile::tempdir().unwrap();
    let mut rows = Vec::new();
    // Row by row as each variant ends: a long shape cut short still leaves its rows.
    println!("| variant | wall (s) | points | points/s | requests | source /query | source CPU (s) | 2.x CPU (s) | client CPU (s) | peak RSS (MiB) | load | result | 2.x writes (points/write) | buckets |");
    println!(
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | --- |"
    );
    let print = |r: &Row| {
        println!(
            "| {} | {:.1} | {} | {:.0} | {} | {} | {:.1} | {:.1} | {:.1} | {} | {:.2} | {} | {} ({:.0}) | {} |",
            r.variant,
            r.wall.as_secs_f64(),
            r.points,
            r.pps(),
            r.requests,
            r.source_queries,
            r.source_cpu.as_secs_f64(),
            r.target_cpu.as_secs_f64(),
            r.client_cpu.as_secs_f64(),
            r.rss_mib.map_or("-".into(), |m| format!("{m:.1}")),
            r.load,
            r.result,
            r.writes,
            r.points as f64 / r.writes.max(1) as f64,
            r.layout
        );
        use std::io::Write as _;
        std::io::stdout().flush().ok();
    };
    // Alternating, so that a change in the machine's load falls on both.
    for i in 1..=2 {
        rows.push(hand(&source, &want, &format!("hand-written #{i}")));
        print(rows.last().unwrap());
        rows.push(ours(
            &source,
            &want,
            dir.path(),
            &format!("ours, verified #{i}"),
            &[],
        ));
        print(rows.last().unwrap());
    }
    for i in 1..=2 {
        rows.push(ours(
            &source,
            &want,
            dir.path(),
            &format!("ours, --no-verify #{i}"),
            &["--no-verify"],
        ));
        print(rows.last().unwrap());
    }
    let group =
        |p: &str| -> Vec<&Row> { rows.iter().filter(|r| r.variant.starts_with(p)).collect() };
    let (h, v, n) = (
        group("hand"),
        group("ours, verified"),
        group("ours, --no-verify"),
    );
    let pps = |rs: &[&Row]| mean(rs, Row::pps);
    let wall = |rs: &[&Row]| mean(rs, |r| r.wall.as_secs_f64());
    let cpu = |rs: &[&Row]| mean(rs, |r| (r.source_cpu + r.target_cpu).as_secs_f64());
    let fmt = |x: Option<f64>, pct: bool| match x {
        Some(x) if pct => format!("{:.0}%", x * 100.0),
        Some(x) => format!("{x:.2}"),
        None => "- (no right run)".into(),
    };
    let ratio = |a: Option<f64>, b: Option<f64>| a.zip(b).map(|(a, b)| a / b);
    let share = |a: Option<f64>, b: Option<f64>| a.zip(b).map(|(a, b)| (a - b) / a);
    println!();
    println!(
        "- ours verified / hand-written (points/s, means of the right runs): {}",
        fmt(ratio(pps(&v), pps(&h)), false)
    );
    println!(
        "- ours --no-verify / hand-written (points/s): {}",
        fmt(ratio(pps(&n), pps(&h)), false)
    );
    println!(
        "- verification's share of our verified run: wall {}, server CPU (source + 2.x) {}",
        fmt(share(wall(&v), wall(&n)), true),
        fmt(share(cpu(&v), cpu(&n)), true)
    );
    println!();
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if !args.iter().any(|a| a == "--bench") {
        println!("v2_target: run with `scripts/bench-v2` or `cargo bench --bench v2_target`");
        return;
    }
    let wanted: Vec<&str> = args
        .iter()
        .map(String::as_str)
        .filter(|a| !a.starts_with('-'))
        .collect();
    for shape in SHAPES {
        if wanted.is_empty() || wanted.contains(&shape.name) {
            bench(shape);
        }
    }
}
