//! Surviving production: server restarts, server limits that make chunks too big,
//! graceful stops, concurrent runs and permanent errors, against real `influxd`.

mod common;

use common::*;
use serde_json::Value;
use std::io::Read;
use std::process::{Child, Output, Stdio};
use std::time::{Duration, Instant};
use testkit::{seed, DatasetSpec, InfluxServer, ServerOptions};

const TENANTS: [&str; 4] = ["t1", "t2", "late", "early"];

fn spawn(
    server: &InfluxServer,
    dir: &std::path::Path,
    args: &[&str],
    env: &[(&str, &str)],
) -> Child {
    let mut c = tool(server, dir, args);
    c.stdout(Stdio::piped()).stderr(Stdio::piped());
    for (k, v) in env {
        c.env(k, v);
    }
    c.spawn().unwrap()
}

fn finish(child: Child) -> (Option<i32>, Value, String) {
    let o = child.wait_with_output().unwrap();
    let summary = serde_json::from_slice(&o.stdout).unwrap_or(Value::Null);
    (o.status.code(), summary, stderr(&o))
}

/// The child's output once it exits; if it still runs after `limit`, it is killed and
/// the test fails with its stderr (a hang must fail the test, not stall CI).
fn output_within(mut child: Child, limit: Duration) -> Output {
    fn drain(pipe: Option<impl Read + Send + 'static>) -> std::thread::JoinHandle<Vec<u8>> {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_end(&mut buf);
            }
            buf
        })
    }
    let (out, err) = (drain(child.stdout.take()), drain(child.stderr.take()));
    let started = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait for the tool") {
            break Some(s);
        }
        if started.elapsed() >= limit {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let (stdout, stderr) = (out.join().unwrap(), err.join().unwrap());
    match status {
        Some(status) => Output {
            status,
            stdout,
            stderr,
        },
        None => panic!(
            "the tool still ran after {limit:?} and was killed; its stderr:\n{}",
            String::from_utf8_lossy(&stderr)
        ),
    }
}

/// One tenant with a dense week (about 1.2M points) so that whole-week queries run for
/// seconds even on a fast machine: long enough for InfluxDB's once-a-second
/// `max-select-point` check to fire.
fn dense() -> DatasetSpec {
    let mut spec = DatasetSpec::monasca(&["big"], 1, Duration::from_secs(10), now_ns());
    spec.hosts_per_tenant = 4;
    spec
}

/// (tenant, measurement, start, end) per measurement of each ledger record.
fn covered(records: &[Value]) -> Vec<(String, String, i64, i64)> {
    records
        .iter()
        .flat_map(|r| {
            r["measurements"].as_array().unwrap().iter().map(move |m| {
                (
                    r["tenant"].as_str().unwrap().to_string(),
                    m.as_str().unwrap().to_string(),
                    r["start"].as_i64().unwrap(),
                    r["end"].as_i64().unwrap(),
                )
            })
        })
        .collect()
}

/// Runs on a server that makes big chunks fail: every chunk is eventually copied by
/// splitting, the result is exact, the ledger records the pieces, and a rerun issues no
/// query for covered time and starts at the unit that worked.
fn split_until_copied(opts: ServerOptions, what: &str, flags: &[&str]) {
    // Read back with the server's limits lifted: the test's own 6-hour reads of a
    // target with 52-week shard groups are not what the limits are there to test.
    let check = |server: &mut InfluxServer, spec: &DatasetSpec| {
        server.restart_with(ServerOptions::default()).unwrap();
        let hours6 = 6 * 3_600_000_000_000;
        assert_tenant_exact_sliced(
            server,
            "big",
            spec.start_ns - hours6,
            spec.end_ns + hours6,
            hours6,
        );
    };
    let mut server = InfluxServer::start_with(opts).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let spec = dense();
    seed(&server, "monasca", &spec).unwrap();
    let first = migrate(&server, dir.path(), flags);
    assert_eq!(first["failures"].as_array().unwrap().len(), 0, "{first}");
    assert!(
        first["chunks_split"].as_u64().unwrap() > 0,
        "{what}: no chunk was split: {first}"
    );
    assert!(first["points_written"].as_u64().unwrap() >= spec.point_count());
    let records = ledger_records(dir.path());
    assert!(
        records
            .iter()
            .any(|r| r["split"] == true && r["unit"] != "week"),
        "{records:?}"
    );

    let cov = covered(&records);
    let overlaps = |m: &str, s: i64, e: i64| {
        cov.iter()
            .any(|(_, cm, cs, ce)| cm == m && s < *ce && *cs < e)
    };
    let second = migrate(&server, dir.path(), flags);
    // The rerun works at the unit that worked: closed pieces of the week that was open
    // before may be recorded now, but none of them overlaps what was covered.
    for (_, m, s, e) in covered(&ledger_records(dir.path())[records.len()..]) {
        assert!(
            !overlaps(&m, s, e),
            "rerun copied covered time: {m} {s}..{e}; late check: {}",
            second["late"]
        );
    }
    let p = plan(&server, dir.path(), flags);
    let chunks = p["chunks"].as_array().unwrap();
    assert!(
        chunks
            .iter()
            .all(|c| c["closed"] == false && c["unit"] != "week"),
        "{chunks:?}; late check of the plan: {}",
        p["late"]
    );
    for c in chunks {
        let (s, e) = (
            c["window"]["start"].as_i64().unwrap(),
            c["window"]["end"].as_i64().unwrap(),
        );
        for m in c["measurements"].as_array().unwrap() {
            assert!(
                !overlaps(m.as_str().unwrap(), s, e),
                "rerun plans covered time: {c}"
            );
        }
    }
    check(&mut server, &spec);
    // The rerun's late-point counts are neither discovery nor copies.
    let discovery = second["queries"].as_u64().unwrap()
        - second["chunks_copied"].as_u64().unwrap()
        - second["retries"].as_u64().unwrap()
        - second["late"]["statements"].as_u64().unwrap_or(0);
    let extra = first["queries"]
        .as_u64()
        .unwrap()
        .saturating_sub(discovery + first["chunks_planned"].as_u64().unwrap());
    eprintln!(
        "{what}: planned {} chunks, split {}, copied {} pieces, {} queries in all, {} discovery, {} extra queries for splitting; rerun: {} queries, {} chunks",
        first["chunks_planned"], first["chunks_split"], first["chunks_copied"], first["queries"], discovery, extra,
        second["queries"], second["chunks_planned"]
    );
}

/// A server with a small `max-select-point`: day chunks (a unit the user chose, so not
/// resized: default week runs are sized to half the limit, and only their small open
/// margin is left as planned) fail, the tool splits them and copies everything; a
/// rerun issues no query for covered time.
#[test]
fn max_select_point_splits_chunks() {
    split_until_copied(
        ServerOptions::default().max_select_point(20_000),
        "max-select-point",
        &["--time-unit", "day"],
    );
}

/// A server with a short `query-timeout`: week chunks time out, the tool splits them and
/// copies everything; a rerun issues no query for covered time.
#[test]
fn query_timeout_splits_chunks() {
    split_until_copied(
        ServerOptions::default().query_timeout(Duration::from_millis(300)),
        "query-timeout",
        &[],
    );
}

/// The server is killed and restarted in the middle of a run: the run retries, completes
/// (or a rerun does) and the result equals a clean run's, point for point.
#[test]
fn server_restart_mid_run() {
    let server_spec = standard_spec(now_ns());
    let mut server = InfluxServer::start().unwrap();
    seed(&server, "monasca", &server_spec).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut child = spawn(
        &server,
        dir.path(),
        &["run", "--json", "--time-unit", "hour"],
        &[],
    );
    // Wait until the run is copying, then take the server away under it.
    let t = Instant::now();
    while ledger_records(dir.path()).len() < 20 && t.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        child.try_wait().unwrap().is_none(),
        "the run ended before the server could be killed"
    );
    let url = server.url();
    server.kill();
    let killed_at = Instant::now();
    std::thread::sleep(Duration::from_secs(2));
    server.restart().unwrap();
    assert_eq!(
        server.url(),
        url,
        "restarted on other ports; the run cannot follow"
    );
    let back_at = Instant::now();
    let n = ledger_records(dir.path()).len();
    let mut resumed = None;
    while child.try_wait().unwrap().is_none() {
        if resumed.is_none() && ledger_records(dir.path()).len() > n {
            resumed = Some(back_at.elapsed());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let (code, summary, err) = finish(child);
    eprintln!(
        "server down for {:?}; first chunk recorded {:?} after it answered again; run exit {code:?}, retries {}, splits {}",
        back_at - killed_at,
        resumed,
        summary["retries"],
        summary["chunks_split"]
    );
    assert!(code == Some(0) || code == Some(1), "exit {code:?}: {err}");
    assert!(
        summary["retries"].as_u64().unwrap() > 0,
        "no retry happened: {summary}"
    );
    if code == Some(1) {
        migrate(&server, dir.path(), &["--time-unit", "hour"]);
    }
    assert_tenants_exact(&server, &TENANTS);
}

/// SIGTERM during a run: it stops within the grace period, exits 1, the ledger stays
/// consistent, and a rerun completes with an exact result.
#[test]
fn sigterm_stops_gracefully() {
    let server = InfluxServer::start().unwrap();
    seed(&server, "monasca", &standard_spec(now_ns())).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let child = spawn(
        &server,
        dir.path(),
        &["run", "--json", "--time-unit", "hour"],
        &[("ITM__RUN__STOP_GRACE", "5s")],
    );
    let t = Instant::now();
    while ledger_records(dir.path()).len() < 10 && t.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(20));
    }
    signal(child.id(), "-TERM");
    let sent = Instant::now();
    let (code, summary, err) = finish(child);
    let took = sent.elapsed();
    eprintln!("stopped {took:?} after SIGTERM");
    assert!(took < Duration::from_secs(5), "took {took:?}");
    assert_eq!(code, Some(1), "{err}");
    assert_eq!(summary["interrupted"], true);
    assert!(err.contains("stopping"), "{err}");
    let recorded = ledger_records(dir.path()).len() as u64;
    assert_eq!(recorded, summary["chunks_recorded"].as_u64().unwrap());
    migrate(&server, dir.path(), &["--time-unit", "hour"]);
    assert_tenants_exact(&server, &TENANTS);
}

/// Two runs at once on one ledger: the second exits 2 naming the lock file and the
/// holder's pid; a lock left by a SIGKILLed run does not block the next.
#[test]
fn one_run_at_a_time() {
    let server = InfluxServer::start().unwrap();
    seed(&server, "monasca", &standard_spec(now_ns())).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut first = spawn(&server, dir.path(), &["run", "--time-unit", "hour"], &[]);
    let lock = dir.path().join("itm.ledger.lock");
    let t = Instant::now();
    while ledger_records(dir.path()).is_empty() && t.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let o = run(&server, dir.path(), &["run"]);
    assert_exit(&o, 2);
    let err = stderr(&o);
    assert!(err.contains("another run holds the lock"), "{err}");
    assert!(err.contains(&lock.display().to_string()), "{err}");
    assert!(err.contains(&first.id().to_string()), "{err}");
    assert!(first.try_wait().unwrap().is_none());
    first.kill().unwrap();
    first.wait().unwrap();
    assert!(lock.exists());
    migrate(&server, dir.path(), &["--time-unit", "hour"]);
    assert_tenants_exact(&server, &TENANTS);
}

/// A permanent error (no write permission on the target, on a server with auth) is
/// reported once per chunk, never retried or split, listed in the failure report, and
/// the run exits 1.
#[test]
fn permanent_error_not_retried() {
    let server =
        InfluxServer::start_with(ServerOptions::default().auth("admin", "adminpw")).unwrap();
    seed(&server, "monasca", &standard_spec(now_ns())).unwrap();
    for q in [
        "CREATE USER reader WITH PASSWORD 'readerpw'",
        "GRANT READ ON \"monasca\" TO \"reader\"",
        "CREATE DATABASE \"monasca_t1\"",
        "GRANT READ ON \"monasca_t1\" TO \"reader\"",
    ] {
        server.query(None, q).unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let o = run(
        &server,
        dir.path(),
        &[
            "run",
            "--json",
            "--username",
            "reader",
            "--password",
            "readerpw",
            "--tenant-include",
            "^t1$",
        ],
    );
    assert_exit(&o, 1);
    let summary: Value = serde_json::from_slice(&o.stdout).unwrap();
    let failures = summary["failures"].as_array().unwrap();
    assert_eq!(
        failures.len() as u64,
        summary["chunks_planned"].as_u64().unwrap()
    );
    assert!(!failures.is_empty());
    assert_eq!(summary["retries"], 0);
    assert_eq!(summary["chunks_split"], 0);
    for f in failures {
        assert_eq!(f["attempts"], 1, "{f}");
        assert!(
            f["error"].as_str().unwrap().contains("not authorized"),
            "{f}"
        );
        assert!(
            f["query"]
                .as_str()
                .unwrap()
                .starts_with("SELECT * INTO \"monasca_t1\""),
            "{f}"
        );
    }
    assert!(ledger_records(dir.path()).is_empty());
    let report: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("itm.ledger.failures.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(report["failures"].as_array().unwrap().len(), failures.len());
    let err = stderr(&o);
    assert!(err.contains("failed: tenant \"t1\""), "{err}");
}

/// With a points-per-second limit the average write rate stays under it.
#[test]
fn points_per_second_limit() {
    let server = InfluxServer::start().unwrap();
    let spec = DatasetSpec::monasca(&["a", "b"], 1, Duration::from_secs(600), now_ns());
    let n = seed(&server, "monasca", &spec).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let limit = n / 3; // at least about two seconds of pacing
    let summary = migrate(
        &server,
        dir.path(),
        &[
            "--time-unit",
            "day",
            "--max-points-per-second",
            &limit.to_string(),
        ],
    );
    let rate = summary["points_per_sec"].as_f64().unwrap();
    eprintln!(
        "{n} points, limit {limit}/s, measured {rate:.0}/s over {}s",
        summary["elapsed_secs"]
    );
    assert!(rate <= limit as f64 * 1.1, "rate {rate} over limit {limit}");
    assert_tenants_exact(&server, &["a", "b"]);
}

/// Counts of every field of each recorded chunk's measurements in its window, source
/// (its tenant) beside target: the ledger records only chunks that were copied whole.
fn assert_records_complete(server: &InfluxServer, records: &[Value]) {
    for (tenant, m, start, end) in covered(records) {
        let count = |db: &str, tenant_filter: &str| {
            let q = format!(
                "SELECT count(*) FROM {}.\"autogen\".{} WHERE time >= {start} AND time < {end}{tenant_filter}",
                testkit::quote_ident(db),
                testkit::quote_ident(&m)
            );
            server.query(None, &q).unwrap()["results"][0]["series"][0]["values"].clone()
        };
        let source = count("monasca", &format!(" AND \"_tenant_id\" = '{tenant}'"));
        let copied = count(&target(&tenant), "");
        assert!(source.is_array(), "no source points for {tenant} {m}");
        assert_eq!(source, copied, "recorded chunk {tenant} {m} {start}..{end}");
    }
}

/// The one `error:` line of a run's stderr; asserts it names `server` as lost.
fn lost_line(err: &str, server: &InfluxServer) -> String {
    let line = err
        .lines()
        .find(|l| l.starts_with("error: "))
        .unwrap_or_else(|| panic!("no error line:\n{err}"))
        .to_string();
    let expected = format!("error: server {}: no answer for ", server.url());
    assert!(line.starts_with(&expected), "{line}");
    assert!(line.contains("too many open files"), "{line}");
    line
}

/// The one `error:` line of a run stopped by a server out of open files, and which
/// path stopped it: `true` when the copier did, at a statement that failed with `too
/// many open files`; `false` when the watchdog found the server lost (it stopped
/// accepting connections). Both are correct; the line must be exactly one of them.
fn out_of_files_line(err: &str, server: &InfluxServer) -> (String, bool) {
    let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("error: ")).collect();
    assert_eq!(lines.len(), 1, "not one error line:\n{err}");
    let line = lines[0].to_string();
    let prefix = format!("error: server {}: ", server.url());
    assert!(line.starts_with(&prefix), "{line}");
    let rest = &line[prefix.len()..];
    let by_copier = rest.contains("too many open files; influxd reached its open-file limit: raise LimitNOFILE in its systemd unit");
    let by_watchdog = rest.starts_with("no answer for ")
        && rest.contains("probes on a new connection")
        && rest.contains("got no answer")
        && rest.contains("too many open files");
    assert!(by_copier != by_watchdog, "{line}");
    (line, by_copier)
}

/// influxd out of open files stops accepting connections, so requests would wait
/// `query_timeout` (30 min) each, and statements on connections it already accepted
/// fail with `too many open files`: instead the run stops at the first such failure
/// or when the watchdog finds the server lost, within a bounded time, with exit 2 and
/// one error line naming the server, the cause and the fix; no chunk is reported as
/// failed for it, the summary says what was not run, the ledger holds exactly the
/// chunks that completed (each equal to the source), and once the server has files
/// again a rerun completes exactly.
#[test]
fn out_of_open_files_stops_the_run() {
    let mut server =
        InfluxServer::start_with(ServerOptions::default().max_open_files(250)).unwrap();
    let names: Vec<String> = (0..30).map(|i| format!("t{i:02}")).collect();
    let tenants: Vec<&str> = names.iter().map(String::as_str).collect();
    let spec = DatasetSpec::monasca(&tenants, 2, Duration::from_secs(3600), now_ns());
    seed(&server, "monasca", &spec).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let child = spawn(
        &server,
        dir.path(),
        &["run", "--json", "--liveness-timeout", "6s"],
        &[],
    );
    // Killed and failed with its stderr if the run hangs.
    let o = output_within(child, Duration::from_secs(180));
    let took = started.elapsed();
    let err = stderr(&o);
    let (line, by_copier) = out_of_files_line(&err, &server);
    eprintln!("run stopped after {took:?} (by the copier: {by_copier}): {line}");
    assert_exit(&o, 2);
    // Usually within seconds (the copier stops at the first `too many open files`;
    // the watchdog after about 6 s of silence); generous for a loaded 2-core machine,
    // and far under `query_timeout` (30 min a request).
    assert!(took < Duration::from_secs(180), "took {took:?}");
    // influxd logs the connections it cannot accept; a statement's error is the
    // server's own word in the line.
    assert!(
        by_copier || server.log_tail(100_000).contains("too many open files"),
        "the server never ran out of files: the test proves nothing"
    );
    let summary: Value = serde_json::from_slice(&o.stdout).expect("the summary as JSON");
    assert_eq!(summary["interrupted"], true, "{summary}");
    assert!(summary["chunks_not_run"].as_u64().unwrap() > 0, "{summary}");
    assert_eq!(
        summary["server_lost"]
            .as_str()
            .map(|l| format!("error: {l}")),
        Some(line),
        "{summary}"
    );
    assert!(err.contains("stopped before every chunk ran"), "{err}");
    // Out of files is the server's state, not the chunk's: never a chunk failed for it.
    let out_of_files: Vec<&Value> = summary["failures"]
        .as_array()
        .expect("the failures")
        .iter()
        .filter(|f| f.to_string().contains("too many open files"))
        .collect();
    assert!(out_of_files.is_empty(), "{out_of_files:?}");
    let records = ledger_records(dir.path());
    assert_eq!(
        records.len() as u64,
        summary["chunks_recorded"].as_u64().unwrap()
    );
    server.restart_with(ServerOptions::default()).unwrap();
    assert_records_complete(&server, &records);
    migrate(&server, dir.path(), &[]);
    assert_tenants_exact(&server, &tenants);
}

/// A hung server (SIGSTOP: the kernel still queues connections, nothing answers) is
/// noticed within a bounded time: exit 2 with the error line, the ledger intact; after
/// SIGCONT a rerun completes exactly.
#[test]
fn stopped_server_stops_the_run() {
    let server = InfluxServer::start().unwrap();
    let spec = DatasetSpec::monasca(&["a", "b"], 1, Duration::from_secs(600), now_ns());
    let n = seed(&server, "monasca", &spec).unwrap();
    let dir = tempfile::tempdir().unwrap();
    // Paced to about ten seconds, so that the server can be stopped mid-run.
    let limit = (n / 10).to_string();
    let child = spawn(
        &server,
        dir.path(),
        &[
            "run",
            "--json",
            "--time-unit",
            "hour",
            "--liveness-timeout",
            "3s",
            "--max-points-per-second",
            &limit,
        ],
        &[],
    );
    let t = Instant::now();
    while ledger_records(dir.path()).len() < 3 && t.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(20));
    }
    signal(server.pid(), "-STOP");
    let stopped = Instant::now();
    let (code, summary, err) = finish(child);
    let took = stopped.elapsed();
    signal(server.pid(), "-CONT");
    eprintln!(
        "run stopped {took:?} after SIGSTOP: {}",
        lost_line(&err, &server)
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(took < Duration::from_secs(60), "took {took:?}");
    assert_eq!(summary["interrupted"], true, "{summary}");
    let records = ledger_records(dir.path());
    assert_eq!(
        records.len() as u64,
        summary["chunks_recorded"].as_u64().unwrap()
    );
    assert_records_complete(&server, &records);
    migrate(&server, dir.path(), &["--time-unit", "hour"]);
    assert_tenants_exact(&server, &["a", "b"]);
}
