//! Peak memory of streaming runs: one chunk, and one ten times larger, copied to
//! another server (and the larger one exported), each by a fresh process of the tool
//! whose peak resident set size (`ru_maxrss` from `wait4`) is recorded.
//!
//! Run with `cargo bench --bench stream_memory` (release build). Under `cargo test` it
//! does nothing: it starts servers and writes millions of points.
//! Figures go to docs/BENCHMARKS.md, section "Streaming memory".

use std::process::Command;
use std::time::{Duration, Instant};
use testkit::{seed, DatasetSpec, InfluxServer, MetricSpec, TenantSpec};

/// 2024-01-01T00:00:00Z, a Monday: the data is the week before.
const END: i64 = 1_704_067_200_000_000_000;
const WEEK: i64 = 7 * 86_400_000_000_000;
/// Points of the small chunk; the large one has ten times as many.
const SMALL: u64 = 100_000;

fn spec(tenant: &str, points: u64) -> DatasetSpec {
    let metrics: Vec<MetricSpec> = [
        "cpu.idle_perc",
        "cpu.user_perc",
        "mem.free_mb",
        "vm.net.in_bytes_sec",
    ]
    .iter()
    .map(|m| MetricSpec::float(m).dim("service", "compute"))
    .collect();
    let hosts = 5usize;
    let per_series = points / (hosts as u64 * metrics.len() as u64);
    let interval_ns = WEEK as u64 / per_series;
    DatasetSpec {
        tenants: vec![TenantSpec::new(tenant)],
        metrics,
        hosts_per_tenant: hosts,
        interval: Duration::from_nanos(interval_ns),
        start_ns: END - WEEK,
        end_ns: END,
        region: "RegionOne".into(),
    }
}

struct Measured {
    max_rss_kib: i64,
    wall: Duration,
    status: i32,
    stderr: String,
}

/// Runs the tool and returns its peak RSS from the kernel's accounting of the child.
// The child is reaped with wait4 (for its rusage), not Child::wait.
#[allow(clippy::zombie_processes)]
fn run(args: &[&str]) -> Measured {
    let started = Instant::now();
    let child = Command::new(env!("CARGO_BIN_EXE_influx-tenant-migrate"))
        .args(args)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start the tool");
    let pid = child.id() as libc::pid_t;
    // Read stderr on a thread so a full pipe never blocks the child.
    let mut err = child.stderr.expect("stderr piped");
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut err, &mut s).ok();
        s
    });
    let mut status = 0;
    // SAFETY: rusage is plain data; wait4 fills it for our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(r, pid, "wait4 failed");
    let wall = started.elapsed();
    Measured {
        max_rss_kib: usage.ru_maxrss,
        wall,
        status: libc::WEXITSTATUS(status),
        stderr: reader.join().unwrap_or_default(),
    }
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!("stream_memory: run with `cargo bench --bench stream_memory`");
        return;
    }
    let source = InfluxServer::start().expect("start source influxd");
    let target = InfluxServer::start().expect("start target influxd");
    let mut sizes = Vec::new();
    for (tenant, n) in [("small", SMALL), ("large", 10 * SMALL)] {
        let s = spec(tenant, n);
        let written = seed(&source, "monasca", &s).expect("seed");
        sizes.push((tenant, written));
    }
    let dir = tempfile::tempdir().unwrap();
    println!("| run | points in the chunk | peak RSS (MiB) | wall (s) | points/s |");
    println!("| --- | ---: | ---: | ---: | ---: |");
    for (tenant, points) in &sizes {
        for mode in ["stream", "export"] {
            let ledger = dir.path().join(format!("{tenant}-{mode}.ledger"));
            let export_dir = dir.path().join(format!("{tenant}-files"));
            let mut args: Vec<String> = match mode {
                "stream" => vec!["run".to_string()],
                _ => vec![
                    "export".into(),
                    "--dir".into(),
                    export_dir.display().to_string(),
                ],
            };
            args.extend(
                [
                    "--source-url",
                    &source.url(),
                    "--ledger",
                    ledger.to_str().unwrap(),
                    "--tenant-include",
                    &format!("^{tenant}$"),
                    "--concurrency",
                    "1",
                    "--log-level",
                    "warn",
                ]
                .iter()
                .map(|s| s.to_string()),
            );
            if mode == "stream" {
                args.extend(["--target-url".into(), target.url()]);
            }
            let m = run(&args.iter().map(String::as_str).collect::<Vec<_>>());
            assert_eq!(m.status, 0, "{mode} {tenant} failed:\n{}", m.stderr);
            let reported = m
                .stderr
                .lines()
                .find_map(|l| l.strip_prefix("points written"))
                .and_then(|v| v.trim().parse::<u64>().ok());
            assert_eq!(
                reported,
                Some(*points),
                "{mode} {tenant}: points written:\n{}",
                m.stderr
            );
            println!(
                "| {mode} `{tenant}` | {points} | {:.1} | {:.1} | {:.0} |",
                m.max_rss_kib as f64 / 1024.0,
                m.wall.as_secs_f64(),
                *points as f64 / m.wall.as_secs_f64()
            );
        }
    }
}
