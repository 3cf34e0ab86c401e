//! Many sparse tenants against a real, private `influxd`: discovery, target lookups
//! and copies cost a few requests per tenant, not a few per tenant and week, and the
//! copies stay exact.

mod common;

use common::*;
use std::time::Duration;
use testkit::{seed, DatasetSpec, InfluxServer, MetricSpec};

const TENANTS: usize = 40;

/// Forty tenants, two float metrics each (one statement copies both), one host, a point every 6 hours for 8 weeks.
fn sparse(now: i64) -> DatasetSpec {
    sparse_with(
        now,
        vec![
            MetricSpec::float("cpu.idle_perc").dim("service", "compute"),
            MetricSpec::float("mem.free_mb").dim("service", "compute"),
        ],
    )
}

/// Forty tenants with `metrics`, one host, a point every 6 hours for 8 weeks.
fn sparse_with(now: i64, metrics: Vec<MetricSpec>) -> DatasetSpec {
    let ids: Vec<String> = (0..TENANTS).map(|i| format!("p{i:02}")).collect();
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let mut spec = DatasetSpec::monasca(&refs, 8, Duration::from_secs(6 * 3600), now);
    spec.metrics = metrics;
    spec.hosts_per_tenant = 1;
    spec
}

/// A first run over forty sparse tenants makes at most 3.5 requests per tenant plus
/// a constant (its database, one joined copy of its closed weeks and its check, one
/// copy of its open week; discovery and sampling for all tenants in a few requests)
/// where one per tenant and week would be over 400; a rerun with nothing new makes at most 1.1 per
/// tenant plus a constant. Both are exact.
#[test]
fn sparse_tenants_cost_few_requests_and_copy_exactly() {
    let server = InfluxServer::start().expect("start influxd");
    let spec = sparse(now_ns());
    let (dir, ids) = seeded(&server, &spec);
    let tenants: Vec<&str> = ids.iter().map(String::as_str).collect();

    let first = migrate(&server, dir.path(), &[]);
    assert_eq!(
        first["points_written"].as_u64().unwrap(),
        spec.point_count()
    );
    let queries = first["queries"].as_u64().unwrap();
    assert!(
        queries <= (TENANTS as u64 * 7) / 2 + 20,
        "first run: {queries} requests for {TENANTS} tenants"
    );
    assert_tenants_exact(&server, &tenants);

    rerun_with_nothing_new(&server, dir.path());
    assert_tenants_exact(&server, &tenants);
}

/// Tenants with integer and float metrics need two statements per window (one per
/// type-safe batch); a rerun with nothing new, whose open margins hold a point of each
/// type per tenant, copies those margins again in at most 1.1 requests per tenant plus
/// a constant, because the open copies of many tenants share requests; per-tenant
/// figures add up to the run's points, and both runs are exact.
#[test]
fn mixed_types_rerun_costs_at_most_one_request_per_tenant() {
    let server = InfluxServer::start().expect("start influxd");
    let metrics = vec![
        MetricSpec::float("cpu.idle_perc").dim("service", "compute"),
        MetricSpec::integer("disk.inode_used").dim("service", "compute"),
    ];
    let spec = sparse_with(now_ns(), metrics);
    let (dir, ids) = seeded(&server, &spec);
    let tenants: Vec<&str> = ids.iter().map(String::as_str).collect();
    // A point of each type per tenant inside the open margin (a point every 6 hours
    // leaves it empty most of the time, and an open piece after a tenant's newest point
    // is not planned).
    let fresh = now_ns() - 60 * 1_000_000_000;
    let lines: String = ids
        .iter()
        .map(|t| {
            format!(
                "cpu.idle_perc,_tenant_id={t},hostname=fresh value=0.5 {fresh}\n\
                 disk.inode_used,_tenant_id={t},hostname=fresh value=7i {fresh}\n"
            )
        })
        .collect();
    server
        .write_lines("monasca", &lines)
        .expect("write fresh points");

    let first = migrate(&server, dir.path(), &[]);
    assert_eq!(
        first["points_written"].as_u64().unwrap(),
        spec.point_count() + 2 * TENANTS as u64
    );
    assert_per_tenant_adds_up(&first);
    assert_tenants_exact(&server, &tenants);

    let second = rerun_with_nothing_new(&server, dir.path());
    assert_eq!(second["failures"].as_array().map(Vec::len), Some(0));
    assert!(second["chunks_copied"].as_u64().unwrap() >= 2 * TENANTS as u64);
    assert_per_tenant_adds_up(&second);
    assert_tenants_exact(&server, &tenants);
}

/// A rerun with nothing new: at most 1.1 requests per tenant plus a constant, and
/// nothing recorded. Returns its summary.
fn rerun_with_nothing_new(server: &InfluxServer, dir: &std::path::Path) -> serde_json::Value {
    let second = migrate(server, dir, &[]);
    let queries = second["queries"].as_u64().unwrap();
    assert!(
        queries <= (TENANTS as u64 * 11) / 10 + 15,
        "rerun: {queries} requests for {TENANTS} tenants"
    );
    assert_eq!(second["chunks_recorded"], 0);
    second
}

/// The per-tenant points and chunks of a run summary add up to its totals.
fn assert_per_tenant_adds_up(summary: &serde_json::Value) {
    let per = summary["per_tenant"].as_object().expect("per_tenant");
    let sum = |k: &str| -> u64 { per.values().map(|t| t[k].as_u64().unwrap()).sum() };
    assert_eq!(
        sum("points_copied"),
        summary["points_written"].as_u64().unwrap()
    );
    assert_eq!(
        sum("chunks_copied"),
        summary["chunks_copied"].as_u64().unwrap()
    );
}

/// `plan` states the databases and shards the split creates and the server's limits
/// (the test server runs as no user, so `SHOW DIAGNOSTICS` answers).
#[test]
fn plan_states_footprint_and_limits() {
    let server = InfluxServer::start().expect("start influxd");
    seed(&server, "monasca", &sparse(now_ns())).expect("seed");
    let dir = tempfile::tempdir().unwrap();
    let p = plan(&server, dir.path(), &[]);
    let scale = &p["scale"];
    assert_eq!(scale["footprint"]["databases"], TENANTS);
    assert_eq!(scale["footprint"]["databases_created"], TENANTS);
    // Infinite retention: the targets get 52-week shard groups, one or two per tenant
    // over sixteen weeks.
    let shards = scale["footprint"]["shards"].as_u64().unwrap();
    assert!(
        (TENANTS as u64..=2 * TENANTS as u64).contains(&shards),
        "{shards} shards"
    );
    assert_eq!(
        scale["footprint"]["shards"],
        scale["footprint"]["shards_at_52w"]
    );
    assert!(scale["limits"]["gomaxprocs"].as_u64().unwrap() >= 1);
    assert_eq!(scale["sampled_tenants"], TENANTS);
    let o = run(&server, dir.path(), &["plan"]);
    assert_exit(&o, 0);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("server limits (SHOW DIAGNOSTICS)"), "{text}");
    assert!(
        text.contains(&format!("targets: {TENANTS} databases")),
        "{text}"
    );
    let files = scale["footprint"]["open_files"].as_u64().unwrap();
    // 1.8+ name the index of their shards (the testkit default, or ITM_INFLUXD_INDEX);
    // 1.6.7 does not, and an unknown index counts as tsi1.
    let index = scale["limits"]["index"].as_str();
    if !server.binary_version().unwrap().starts_with("1.6.") {
        let configured = std::env::var(testkit::INDEX_ENV).unwrap_or_default();
        let configured = if configured.is_empty() {
            "inmem".to_string()
        } else {
            configured
        };
        assert_eq!(index, Some(configured.as_str()));
    }
    let per_shard = if index == Some("inmem") { 2 } else { 2 + 8 };
    assert_eq!(files, 8 * TENANTS as u64 + per_shard * shards);
    assert!(
        text.contains(&format!(
            "open files: the target server keeps about {files} more open"
        )),
        "{text}"
    );
}

/// The open files `plan` states hold against a real influxd (inmem or tsi1): after the run its
/// open file descriptors grew by at least the series-file partitions and a WAL segment
/// per new database, and by no more than the estimate (its shard count is the most the
/// ranges touch).
#[test]
fn open_file_estimate_holds() {
    let server = InfluxServer::start().expect("start influxd");
    seed(&server, "monasca", &sparse(now_ns())).expect("seed");
    let dir = tempfile::tempdir().unwrap();
    let p = plan(&server, dir.path(), &[]);
    let estimate = p["scale"]["footprint"]["open_files"].as_u64().unwrap();
    let shards = p["scale"]["footprint"]["shards"].as_u64().unwrap();
    let before = server.open_files().unwrap() as u64;
    migrate(&server, dir.path(), &[]);
    let grown = server.open_files().unwrap() as u64 - before;
    eprintln!("{TENANTS} databases, {shards} shards: {grown} more files open, estimate {estimate}");
    assert!(grown >= 9 * TENANTS as u64, "grew by {grown}");
    assert!(grown <= estimate, "grew by {grown}, estimate {estimate}");
}

/// `plan` states the concurrency a run would use and why: left unset, a quarter of
/// the server's GOMAXPROCS (the test server runs as no user, so `SHOW DIAGNOSTICS`
/// answers); `--concurrency` wins and is named as the reason.
#[test]
fn plan_states_concurrency_and_why() {
    let server = InfluxServer::start().expect("start influxd");
    seed(&server, "monasca", &sparse(now_ns())).expect("seed");
    let dir = tempfile::tempdir().unwrap();
    let auto = plan(&server, dir.path(), &[]);
    let cpus = auto["scale"]["limits"]["gomaxprocs"].as_u64().unwrap();
    let expected = (cpus / 4).max(2);
    assert_eq!(auto["scale"]["concurrency"], expected);
    let reason = auto["scale"]["concurrency_reason"].as_str().unwrap();
    assert!(
        reason.contains(&format!("a quarter of the server's GOMAXPROCS {cpus}")),
        "{reason}"
    );
    let set = plan(&server, dir.path(), &["--concurrency", "7"]);
    assert_eq!(set["scale"]["concurrency"], 7);
    let o = run(&server, dir.path(), &["plan", "--concurrency", "7"]);
    assert_exit(&o, 0);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("concurrency: 7 (set by --concurrency / run.concurrency)"),
        "{text}"
    );
}

/// Seeds `spec` into `monasca` on `server`; a ledger directory and the tenant ids.
fn seeded(server: &InfluxServer, spec: &DatasetSpec) -> (tempfile::TempDir, Vec<String>) {
    seed(server, "monasca", spec).expect("seed");
    let ids = spec.tenants.iter().map(|t| t.id.clone()).collect();
    (tempfile::tempdir().unwrap(), ids)
}
