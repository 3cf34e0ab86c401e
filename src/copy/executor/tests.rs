//! `copy_all` driven by a scripted fake transfer: no server, a real ledger file.

use super::*;
use crate::copy::stop::never;
use crate::core::interval::Interval;
use crate::core::window::{TimeUnit, DAY, MINUTE, WEEK};
use crate::ledger::{self, Record};
use std::collections::HashMap;
use tokio::sync::{mpsc, watch};

/// Where the fake says the points go; the ledger must file records under it.
const TARGET_URL: &str = "http://target:8086";
/// Longest a scripted run may take: each finishes in seconds.
const RUN_LIMIT: Duration = Duration::from_secs(60);
/// Monday 1970-01-05: weeks are aligned on Mondays.
const MONDAY: i64 = 4 * DAY;

/// What the fake does for one attempt at one chunk.
enum Step {
    /// Copies this many points.
    Copy(u64),
    /// Fails at once.
    Fail(ClientError),
    /// Fails after taking this long.
    FailAfter(Duration, ClientError),
    /// Tells the test it started, waits for the gate to open, then copies.
    Hold(u64),
}

/// The answer for attempt `n` (1-based) at a chunk.
type Script = dyn Fn(&Chunk, u32) -> Step + Send + Sync;

/// A transfer that answers as its script says and remembers what it was asked.
struct Fake {
    script: Box<Script>,
    attempts: Mutex<HashMap<String, u32>>,
    calls: Mutex<Vec<String>>,
    started: mpsc::UnboundedSender<String>,
    gate: watch::Receiver<bool>,
    /// Chunks under way beyond the copy slots ([`Transfer::in_flight`]).
    extra_in_flight: usize,
}

/// The test's side of a [`Fake`]: which held chunks started, and the gate.
struct Controls {
    started: mpsc::UnboundedReceiver<String>,
    gate: watch::Sender<bool>,
}

impl Fake {
    fn new(script: impl Fn(&Chunk, u32) -> Step + Send + Sync + 'static) -> (Fake, Controls) {
        let (started_tx, started) = mpsc::unbounded_channel();
        let (gate, gate_rx) = watch::channel(false);
        let fake = Fake {
            script: Box::new(script),
            attempts: Mutex::default(),
            calls: Mutex::default(),
            started: started_tx,
            gate: gate_rx,
            extra_in_flight: 0,
        };
        (fake, Controls { started, gate })
    }

    /// Attempts made at exactly this chunk (tenant, window and measurements).
    fn attempts(&self, c: &Chunk) -> u32 {
        self.attempts
            .lock()
            .unwrap()
            .get(&label(c))
            .copied()
            .unwrap_or(0)
    }

    /// Every attempt, in order.
    fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap().clone()
    }
}

fn label(c: &Chunk) -> String {
    format!(
        "{} {}..{} {}",
        c.tenant,
        c.window.start,
        c.window.end,
        c.measurements.join(",")
    )
}

impl Transfer for Fake {
    fn describe(&self, chunk: &Chunk) -> String {
        format!("COPY {}", label(chunk))
    }

    fn transfer<'a>(&'a self, chunk: &'a Chunk) -> BoxFuture<'a, Result<u64, ClientError>> {
        let attempt = {
            let mut a = self.attempts.lock().unwrap();
            let n = a.entry(label(chunk)).or_default();
            *n += 1;
            *n
        };
        self.calls.lock().unwrap().push(label(chunk));
        let step = (self.script)(chunk, attempt);
        Box::pin(async move {
            match step {
                Step::Copy(n) => Ok(n),
                Step::Fail(e) => Err(e),
                Step::FailAfter(d, e) => {
                    tokio::time::sleep(d).await;
                    Err(e)
                }
                Step::Hold(n) => {
                    let _ = self.started.send(label(chunk));
                    let mut gate = self.gate.clone();
                    let _ = gate.wait_for(|open| *open).await;
                    Ok(n)
                }
            }
        })
    }

    fn target_url(&self) -> &str {
        TARGET_URL
    }

    fn in_flight(&self, concurrency: usize) -> usize {
        concurrency + self.extra_in_flight
    }
}

fn chunk(tenant: &str, unit: TimeUnit, window: Interval, ms: &[&str], closed: bool) -> Chunk {
    Chunk {
        tenant: tenant.into(),
        target: format!("db_{tenant}"),
        target_rp: "autogen".into(),
        measurements: ms.iter().map(|s| s.to_string()).collect(),
        window,
        unit,
        closed,
        retention_ns: None,
    }
}

/// A closed week chunk of two measurements, which splits into days.
fn week(tenant: &str, n: i64) -> Chunk {
    let start = MONDAY + n * WEEK;
    chunk(
        tenant,
        TimeUnit::Week,
        Interval::new(start, start + WEEK),
        &["a", "b"],
        true,
    )
}

/// A closed chunk that cannot be split: one minute, one measurement.
fn minute(tenant: &str) -> Chunk {
    chunk(
        tenant,
        TimeUnit::Minute,
        Interval::new(MONDAY, MONDAY + MINUTE),
        &["a"],
        true,
    )
}

fn plan(chunks: Vec<Chunk>, closed_before_ns: i64) -> Plan {
    Plan {
        now_ns: closed_before_ns,
        closed_before_ns,
        targets: Vec::new(),
        chunks,
        untagged: Vec::new(),
        ..Plan::default()
    }
}

/// Every chunk closed.
fn closed_plan(chunks: Vec<Chunk>) -> Plan {
    plan(chunks, i64::MAX)
}

fn opts(retries: u32) -> CopyOptions {
    CopyOptions {
        concurrency: 1,
        retries,
        backoff: Duration::from_millis(1),
        retry_deadline: Duration::from_secs(3600),
        max_points_per_second: None,
    }
}

fn stmt(m: &str) -> ClientError {
    ClientError::Statement { message: m.into() }
}

fn http(status: u16) -> ClientError {
    ClientError::Http {
        url: "http://source:8086".into(),
        status,
        message: String::new(),
    }
}

fn unreachable() -> ClientError {
    ClientError::Unreachable {
        url: "http://source:8086".into(),
        reason: "Connection refused (os error 111)".into(),
    }
}

fn dropped() -> ClientError {
    ClientError::Dropped {
        url: "http://source:8086".into(),
        reason: "connection closed before message completed".into(),
    }
}

/// Runs `copy_all` with a ledger in a temporary directory and reads the ledger back.
async fn run(
    fake: &dyn Transfer,
    plan: &Plan,
    opts: &CopyOptions,
    stop: StopSignal,
) -> (Outcome, Vec<Record>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.jsonl");
    let ledger = Mutex::new(LedgerWriter::open(&path).unwrap());
    let progress = Progress::new(plan.chunks.len() as u64);
    let source = SourceRef {
        url: "http://source:8086",
        db: "monasca",
        rp: "autogen",
    };
    // Bounded: a broken rule (say, a halt that no longer stops the retries and splits)
    // must fail its test, not leave it retrying for hours.
    let out = tokio::time::timeout(
        RUN_LIMIT,
        copy_all(fake, source, plan, &ledger, opts, &progress, stop),
    )
    .await
    .unwrap_or_else(|_| panic!("copy_all still ran after {RUN_LIMIT:?}"));
    drop(ledger);
    let records = ledger::load(&path).unwrap().records;
    (out, records)
}

/// Runs with a stop signal that never fires.
async fn run_to_end(fake: &Fake, plan: &Plan, opts: &CopyOptions) -> (Outcome, Vec<Record>) {
    let (_keep, stop) = never();
    run(fake, plan, opts, stop).await
}

/// A [`Fake`] that also copies open chunks together: in the shared request tenant
/// `fails`'s statement fails and every other one writes 10 points.
struct Together<'a> {
    alone: &'a Fake,
    fails: &'static str,
    shared: Mutex<Vec<usize>>,
}

impl Transfer for Together<'_> {
    fn describe(&self, chunk: &Chunk) -> String {
        self.alone.describe(chunk)
    }

    fn transfer<'a>(&'a self, chunk: &'a Chunk) -> BoxFuture<'a, Result<u64, ClientError>> {
        self.alone.transfer(chunk)
    }

    fn target_url(&self) -> &str {
        TARGET_URL
    }

    fn transfer_many<'a>(&'a self, chunks: &'a [Chunk], _: usize) -> crate::copy::ManyResults<'a> {
        self.shared.lock().unwrap().push(chunks.len());
        let results = chunks
            .iter()
            .map(|c| match c.tenant == self.fails {
                true => Err(stmt("partial write")),
                false => Ok(10),
            })
            .collect();
        Box::pin(async move { Some(results) })
    }
}

/// The open chunks go together, in one call, before the closed ones; the one whose
/// statement failed there is copied alone (and retried) like any chunk; closed chunks
/// are copied and recorded one by one; the figures count each chunk once.
#[tokio::test]
async fn open_chunks_are_copied_together_and_failures_alone() {
    let (fake, _c) = Fake::new(|_, attempt| match attempt {
        1 => Step::Fail(http(503)),
        _ => Step::Copy(7),
    });
    let now = MONDAY + 3 * WEEK + DAY;
    let open = |t: &str| {
        chunk(
            t,
            TimeUnit::Week,
            Interval::new(now - DAY, now),
            &["a"],
            false,
        )
    };
    let p = plan(vec![open("a"), open("b"), open("c"), week("a", 0)], now);
    let together = Together {
        alone: &fake,
        fails: "b",
        shared: Mutex::default(),
    };
    let (out, records) = run_to_end_with(&together, &p, &opts(3)).await;
    assert_eq!(*together.shared.lock().unwrap(), vec![3]);
    assert_eq!(fake.calls().len(), 4, "{:?}", fake.calls());
    assert_eq!(fake.attempts(&p.chunks[1]), 2);
    assert_eq!(fake.attempts(&p.chunks[0]), 0);
    assert_eq!(fake.attempts(&p.chunks[3]), 2);
    assert_eq!(
        (out.copied, out.recorded, out.points),
        (4, 1, 10 + 7 + 10 + 7)
    );
    assert_eq!(out.retries, 2);
    assert!(out.failed.is_empty() && !out.interrupted);
    assert_eq!(records.len(), 1);
}

/// Runs any transfer with a stop signal that never fires.
async fn run_to_end_with(
    transfer: &dyn Transfer,
    plan: &Plan,
    opts: &CopyOptions,
) -> (Outcome, Vec<Record>) {
    let (_keep, stop) = never();
    run(transfer, plan, opts, stop).await
}

/// A stop signal whose sender is gone (as when no signal handler could be set up)
/// stops nothing: every chunk is copied and recorded.
#[tokio::test]
async fn a_closed_stop_signal_stops_nothing() {
    let (fake, _c) = Fake::new(|_, _| Step::Copy(3));
    let p = closed_plan(vec![week("t", 0), week("t", 1), week("u", 0)]);
    let (tx, stop) = never();
    drop(tx);
    let (out, records) = run(&fake, &p, &opts(0), stop).await;
    assert!(!out.interrupted);
    assert_eq!((out.copied, out.recorded, out.points), (3, 3, 9));
    assert_eq!(records.len(), 3);
}

/// The records' windows, sorted, tile `w` exactly.
fn assert_tiles(records: &[Record], w: Interval) {
    let mut windows: Vec<Interval> = records.iter().map(Record::window).collect();
    windows.sort_by_key(|w| w.start);
    assert_eq!(windows.first().map(|x| x.start), Some(w.start));
    assert_eq!(windows.last().map(|x| x.end), Some(w.end));
    assert!(
        windows.windows(2).all(|p| p[0].end == p[1].start),
        "{windows:?}"
    );
}

/// An unreachable server and an HTTP 503 are retried, after a backoff, until the
/// chunk copies; the retries are counted and the chunk recorded once, unsplit.
#[tokio::test(start_paused = true)]
async fn transient_errors_are_retried_with_backoff() {
    let (fake, _c) = Fake::new(|_, attempt| match attempt {
        1 => Step::Fail(unreachable()),
        2 => Step::Fail(http(503)),
        _ => Step::Copy(10),
    });
    let c = week("t", 0);
    let t0 = tokio::time::Instant::now();
    let (out, records) = run_to_end(&fake, &closed_plan(vec![c.clone()]), &opts(5)).await;
    // Backoffs of 1 ms and 2 ms, each jittered by 0.5x to 1.5x.
    assert!(
        t0.elapsed() >= Duration::from_micros(1500),
        "{:?}",
        t0.elapsed()
    );
    assert_eq!(fake.attempts(&c), 3);
    assert_eq!(out.retries, 2);
    assert_eq!((out.copied, out.recorded, out.points), (1, 1, 10));
    assert_eq!(out.splits, 0);
    assert!(out.failed.is_empty(), "{:?}", out.failed);
    assert!(!out.interrupted);
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].window(), c.window);
    assert!(!records[0].split);
    assert_eq!(records[0].points, 10);
}

/// A transient error that persists is retried `retries` times, then the chunk fails
/// (it would have copied at the 11th attempt).
#[tokio::test]
async fn retries_stop_at_the_limit() {
    let (fake, _c) = Fake::new(|_, attempt| {
        if attempt > 10 {
            Step::Copy(1)
        } else {
            Step::Fail(http(503))
        }
    });
    let c = minute("t");
    let (out, records) = run_to_end(&fake, &closed_plan(vec![c.clone()]), &opts(3)).await;
    assert_eq!(fake.attempts(&c), 4);
    assert_eq!(out.retries, 3);
    assert_eq!(out.copied, 0);
    assert_eq!(out.failed.len(), 1);
    assert_eq!(out.failed[0].attempts, 4);
    assert_eq!(out.failed[0].chunk, c);
    assert!(records.is_empty());
}

/// Retrying stops once a chunk has spent `retry_deadline` on it, however many
/// retries are left: two 20 ms attempts pass a 30 ms deadline.
#[tokio::test(start_paused = true)]
async fn retries_stop_at_the_deadline() {
    let (fake, _c) = Fake::new(|_, attempt| {
        if attempt > 50 {
            Step::Copy(1)
        } else {
            Step::FailAfter(Duration::from_millis(20), http(503))
        }
    });
    let c = minute("t");
    let o = CopyOptions {
        retry_deadline: Duration::from_millis(30),
        ..opts(1000)
    };
    let (out, records) = run_to_end(&fake, &closed_plan(vec![c.clone()]), &o).await;
    assert_eq!(fake.attempts(&c), 2);
    assert_eq!(out.retries, 1);
    assert_eq!(out.failed.len(), 1);
    assert_eq!(out.failed[0].attempts, 2);
    assert!(records.is_empty());
}

/// A query timeout, the point limit and a dropped connection each split a week into
/// days at once (no retry of the week); the days are copied and recorded as split.
#[tokio::test]
async fn too_big_chunks_are_split_into_days() {
    let errors: [fn() -> ClientError; 3] = [
        || stmt("query-timeout limit exceeded"),
        || stmt("max-select-point limit exceeded: (10000/1000)"),
        dropped,
    ];
    for error in errors {
        let (fake, _c) = Fake::new(move |c, _| match c.unit {
            TimeUnit::Week => Step::Fail(error()),
            _ => Step::Copy(3),
        });
        let c = week("t", 0);
        let (out, records) = run_to_end(&fake, &closed_plan(vec![c.clone()]), &opts(5)).await;
        let e = error();
        assert_eq!(fake.attempts(&c), 1, "{e}");
        assert_eq!(out.splits, 1, "{e}");
        assert_eq!(out.retries, 0, "{e}");
        assert_eq!((out.copied, out.recorded, out.points), (7, 7, 21), "{e}");
        assert!(out.failed.is_empty(), "{e}: {:?}", out.failed);
        assert_eq!(records.len(), 7, "{e}");
        assert!(
            records.iter().all(|r| r.split && r.unit == TimeUnit::Day),
            "{e}"
        );
        assert!(records.iter().all(|r| r.measurements == ["a", "b"]), "{e}");
        assert!(
            records.iter().all(|r| r.scope.target_url == TARGET_URL),
            "{e}"
        );
        assert_tiles(&records, c.window);
    }
}

/// A piece that is still too big is split again: a day into hours.
#[tokio::test]
async fn pieces_split_again() {
    let c = week("t", 0);
    let second_day = Interval::new(c.window.start + DAY, c.window.start + 2 * DAY);
    let (fake, _c) = Fake::new(move |p, _| {
        if p.unit == TimeUnit::Week {
            Step::Fail(stmt("query-timeout limit exceeded"))
        } else if p.window == second_day {
            Step::Fail(dropped())
        } else {
            Step::Copy(1)
        }
    });
    let (out, records) = run_to_end(&fake, &closed_plan(vec![c.clone()]), &opts(5)).await;
    assert_eq!(out.splits, 2);
    assert_eq!((out.copied, out.recorded), (6 + 24, 6 + 24));
    assert!(out.failed.is_empty(), "{:?}", out.failed);
    assert_eq!(
        records.iter().filter(|r| r.unit == TimeUnit::Hour).count(),
        24
    );
    assert!(records.iter().all(|r| r.split));
    assert_tiles(&records, c.window);
}

/// The series limit splits the measurements, keeping the window and unit.
#[tokio::test]
async fn series_limit_splits_by_measurements() {
    let (fake, _c) = Fake::new(|c, _| {
        if c.measurements.len() > 2 {
            Step::Fail(stmt("max-select-series limit exceeded: (5/1)"))
        } else {
            Step::Copy(2)
        }
    });
    let c = chunk(
        "t",
        TimeUnit::Week,
        Interval::new(MONDAY, MONDAY + WEEK),
        &["a", "b", "c"],
        true,
    );
    let (out, records) = run_to_end(&fake, &closed_plan(vec![c.clone()]), &opts(5)).await;
    assert_eq!(out.splits, 1);
    assert_eq!((out.copied, out.recorded), (2, 2));
    let ms: Vec<Vec<String>> = records.iter().map(|r| r.measurements.clone()).collect();
    assert_eq!(ms, [vec!["a".to_string()], vec!["b".into(), "c".into()]]);
    assert!(records
        .iter()
        .all(|r| r.split && r.window() == c.window && r.unit == TimeUnit::Week));
}

/// A missing database and an HTTP 403 fail the chunk at the first attempt (a second
/// one would copy): no retry, no split; the failure carries the transfer's query and
/// the error.
#[tokio::test]
async fn permanent_errors_fail_once() {
    let (fake, _c) = Fake::new(|c, attempt| match (c.tenant.as_str(), attempt) {
        (_, 2..) => Step::Copy(1),
        ("missing", _) => Step::Fail(stmt("database not found: monasca")),
        _ => Step::Fail(http(403)),
    });
    let missing = week("missing", 0);
    let denied = week("denied", 0);
    let p = closed_plan(vec![missing.clone(), denied.clone()]);
    let (out, records) = run_to_end(&fake, &p, &opts(5)).await;
    assert_eq!(fake.calls().len(), 2);
    assert_eq!((out.retries, out.splits, out.copied), (0, 0, 0));
    assert!(records.is_empty());
    let mut failed = out.failed.clone();
    failed.sort_by(|a, b| a.chunk.tenant.cmp(&b.chunk.tenant));
    assert_eq!(failed.len(), 2);
    for (f, (c, e)) in failed.iter().zip([
        (&denied, http(403)),
        (&missing, stmt("database not found: monasca")),
    ]) {
        assert_eq!(&f.chunk, c);
        assert_eq!(f.query, fake.describe(c));
        assert_eq!(f.error, e.to_string());
        assert_eq!(f.attempts, 1);
    }
}

/// A server that cannot be reached is retried but never split, while a 503 that
/// outlasts the retries does get the chunk split. (Both would copy at the 11th
/// attempt.)
#[tokio::test(start_paused = true)]
async fn unreachable_is_retried_but_never_split() {
    let (fake, _c) = Fake::new(|c, attempt| match (c.tenant.as_str(), c.unit) {
        _ if attempt > 10 => Step::Copy(1),
        ("gone", _) => Step::Fail(unreachable()),
        (_, TimeUnit::Week) => Step::Fail(http(503)),
        _ => Step::Copy(1),
    });
    let gone = week("gone", 0);
    let busy = week("busy", 0);
    let p = closed_plan(vec![gone.clone(), busy.clone()]);
    let (out, records) = run_to_end(&fake, &p, &opts(2)).await;
    assert_eq!(fake.attempts(&gone), 3);
    assert_eq!(
        fake.calls()
            .iter()
            .filter(|l| l.starts_with("gone "))
            .count(),
        3
    );
    assert_eq!(out.failed.len(), 1);
    assert_eq!(out.failed[0].chunk, gone);
    assert_eq!(out.failed[0].attempts, 3);
    assert_eq!(fake.attempts(&busy), 3);
    assert_eq!(out.splits, 1);
    assert_eq!(out.retries, 4);
    assert_eq!(records.len(), 7);
    assert!(records.iter().all(|r| r.scope.tenant == "busy"));
}

/// Closed chunks are recorded; open ones are copied but not recorded.
#[tokio::test]
async fn only_closed_chunks_are_recorded() {
    let (fake, _c) = Fake::new(|_, _| Step::Copy(4));
    let closed = week("t", 0);
    let open = Chunk {
        closed: false,
        ..week("t", 1)
    };
    let p = plan(vec![closed.clone(), open], closed.window.end);
    let (out, records) = run_to_end(&fake, &p, &opts(5)).await;
    assert_eq!((out.copied, out.recorded, out.points), (2, 1, 8));
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].window(), closed.window);
    assert_eq!(records[0].scope.tenant, "t");
    assert_eq!(records[0].scope.target, "db_t");
    assert_eq!(records[0].scope.target_url, TARGET_URL);
}

/// When an open chunk is split, the pieces that end before the plan's cutoff are
/// closed and recorded; the rest are copied only.
#[tokio::test]
async fn pieces_of_an_open_chunk_before_the_cutoff_are_recorded() {
    let (fake, _c) = Fake::new(|c, _| match c.unit {
        TimeUnit::Week => Step::Fail(stmt("query-timeout limit exceeded")),
        _ => Step::Copy(1),
    });
    let open = Chunk {
        closed: false,
        ..week("t", 0)
    };
    let cutoff = open.window.start + 3 * DAY;
    let (out, records) = run_to_end(&fake, &plan(vec![open.clone()], cutoff), &opts(5)).await;
    assert_eq!((out.splits, out.copied, out.recorded), (1, 7, 3));
    assert_tiles(&records, Interval::new(open.window.start, cutoff));
    assert!(records.iter().all(|r| r.split));
}

/// Four chunks, two at a time, plan of holds: the test waits until two are in flight.
fn held_plan() -> (Fake, Controls, Plan, CopyOptions) {
    let (fake, controls) = Fake::new(|_, _| Step::Hold(5));
    let p = closed_plan((0..4).map(|i| week(&format!("t{i}"), 0)).collect());
    let o = CopyOptions {
        concurrency: 2,
        ..opts(5)
    };
    (fake, controls, p, o)
}

/// Drain: once sent, no new chunk starts; the two in flight finish and are recorded,
/// and the run reports itself interrupted.
#[tokio::test]
async fn drain_lets_chunks_in_flight_finish() {
    let (fake, mut controls, p, o) = held_plan();
    let (tx, stop) = never();
    let steer = async {
        let mut started = vec![
            controls.started.recv().await.unwrap(),
            controls.started.recv().await.unwrap(),
        ];
        tx.send(StopLevel::Drain).unwrap();
        controls.gate.send(true).unwrap();
        started.sort();
        started
    };
    let ((out, records), started) = tokio::join!(run(&fake, &p, &o, stop), steer);
    assert_eq!(fake.calls().len(), 2, "{:?}", fake.calls());
    assert!(
        started[0].starts_with("t0 ") && started[1].starts_with("t1 "),
        "{started:?}"
    );
    assert_eq!((out.copied, out.recorded, out.points), (2, 2, 10));
    assert!(out.interrupted);
    let mut tenants: Vec<&str> = records.iter().map(|r| r.scope.tenant.as_str()).collect();
    tenants.sort();
    assert_eq!(tenants, ["t0", "t1"]);
}

/// Abort: chunks in flight are abandoned (they would finish right after) and nothing
/// is recorded.
#[tokio::test]
async fn abort_abandons_chunks_in_flight() {
    let (fake, mut controls, p, o) = held_plan();
    let (tx, stop) = never();
    let steer = async {
        controls.started.recv().await.unwrap();
        controls.started.recv().await.unwrap();
        tx.send(StopLevel::Abort).unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
        // Had the copier waited for them, they would now copy and be recorded.
        let _ = controls.gate.send(true);
    };
    let ((out, records), ()) = tokio::join!(run(&fake, &p, &o, stop), steer);
    assert_eq!(fake.calls().len(), 2, "{:?}", fake.calls());
    assert_eq!((out.copied, out.recorded), (0, 0));
    assert!(out.failed.is_empty());
    assert!(out.interrupted);
    assert!(records.is_empty(), "{records:?}");
}

/// Drain with more chunks under way than copy slots (a checking transfer's): the
/// chunks waiting for a slot do not start; the two copying finish and are recorded.
#[tokio::test]
async fn drain_starts_no_chunk_waiting_for_a_slot() {
    let (mut fake, mut controls, p, o) = held_plan();
    fake.extra_in_flight = 8;
    let (tx, stop) = never();
    let steer = async {
        controls.started.recv().await.unwrap();
        controls.started.recv().await.unwrap();
        tx.send(StopLevel::Drain).unwrap();
        controls.gate.send(true).unwrap();
    };
    let ((out, records), ()) = tokio::join!(run(&fake, &p, &o, stop), steer);
    assert_eq!(fake.calls().len(), 2, "{:?}", fake.calls());
    assert_eq!((out.copied, out.recorded, out.points), (2, 2, 10));
    assert!(out.interrupted);
    assert_eq!(records.len(), 2);
}

/// More chunks under way than copy slots: still no more than `concurrency` copies
/// run at once, and every chunk is copied and recorded.
#[tokio::test]
async fn copy_slots_bound_copies_when_more_chunks_are_under_way() {
    let (mut fake, mut controls, p, o) = held_plan();
    fake.extra_in_flight = 8;
    let (_tx, stop) = never();
    let steer = async {
        controls.started.recv().await.unwrap();
        controls.started.recv().await.unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        // Two copies hold both slots: the other two chunks have not started.
        let early = controls.started.try_recv().is_err();
        controls.gate.send(true).unwrap();
        early
    };
    let ((out, records), early) = tokio::join!(run(&fake, &p, &o, stop), steer);
    assert!(early, "a third copy started while two held the slots");
    assert_eq!((out.copied, out.recorded), (4, 4));
    assert!(!out.interrupted);
    assert_eq!(records.len(), 4);
}

/// What influxd says when it is out of file descriptors.
fn out_of_files() -> ClientError {
    stmt("open /var/lib/influxdb/data/db_t1/autogen/3/000000001-000000001.tsm: too many open files")
}

/// A server out of open files halts the run at the first such failure: the chunk is
/// neither retried nor split nor reported as failed (it would copy at its second
/// attempt), no new chunk starts, the chunk in flight finishes and is recorded, and
/// the outcome carries the one line naming the servers, the message and the fix.
#[tokio::test]
async fn a_server_that_cannot_work_halts_the_run() {
    let (fake, mut controls) = Fake::new(|c, attempt| match (c.tenant.as_str(), attempt) {
        ("t0", _) => Step::Hold(5),
        ("t1", 1) => Step::Fail(out_of_files()),
        _ => Step::Copy(1),
    });
    let p = closed_plan((0..4).map(|i| week(&format!("t{i}"), 0)).collect());
    let o = CopyOptions {
        concurrency: 2,
        ..opts(5)
    };
    let (_tx, stop) = never();
    let steer = async {
        controls.started.recv().await.unwrap();
        // t1 fails at once; t0 is still copying.
        tokio::time::sleep(Duration::from_millis(50)).await;
        controls.gate.send(true).unwrap();
    };
    let ((out, records), ()) = tokio::join!(run(&fake, &p, &o, stop), steer);
    let mut calls = fake.calls();
    calls.sort();
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert!(calls[0].starts_with("t0 ") && calls[1].starts_with("t1 "));
    assert!(out.failed.is_empty(), "{:?}", out.failed);
    assert_eq!(
        (out.copied, out.recorded, out.splits, out.retries),
        (1, 1, 0, 0)
    );
    assert!(out.interrupted);
    assert_eq!(out.not_run, 3);
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].scope.tenant, "t0");
    let line = out.halted.expect("the run halted");
    assert!(
        line.starts_with(
            "server http://source:8086 or http://target:8086: open /var/lib/influxdb/"
        ),
        "{line}"
    );
    assert!(
        line.contains(
            "too many open files; influxd reached its open-file limit: raise LimitNOFILE"
        ),
        "{line}"
    );
}

/// A [`Fake`] whose settling (a checking transfer's verification) fails with `error`
/// for tenant `fails`.
struct Settling<'a> {
    inner: &'a Fake,
    fails: &'static str,
    error: fn() -> ClientError,
}

impl Transfer for Settling<'_> {
    fn describe(&self, chunk: &Chunk) -> String {
        self.inner.describe(chunk)
    }

    fn transfer<'a>(&'a self, chunk: &'a Chunk) -> BoxFuture<'a, Result<u64, ClientError>> {
        self.inner.transfer(chunk)
    }

    fn target_url(&self) -> &str {
        self.inner.target_url()
    }

    fn settle<'a>(
        &'a self,
        chunk: &'a Chunk,
        points: u64,
    ) -> BoxFuture<'a, Result<u64, ClientError>> {
        let failed = chunk.tenant == self.fails;
        Box::pin(async move {
            if failed {
                Err((self.error)())
            } else {
                Ok(points)
            }
        })
    }
}

/// A check (settling) that fails because the target cannot work halts the run as a
/// copy would: that chunk is not recorded, not retried and not failed as unverified,
/// and the next chunks do not start; the line names the server the error names.
#[tokio::test]
async fn a_check_that_finds_the_server_unable_to_work_halts_the_run() {
    let (fake, _c) = Fake::new(|_, _| Step::Copy(3));
    let settling = Settling {
        inner: &fake,
        fails: "t1",
        error: || ClientError::Http {
            url: TARGET_URL.into(),
            status: 500,
            message:
                "write /var/lib/influxdb/wal/db_t1/autogen/4/_00001.wal: no space left on device"
                    .into(),
        },
    };
    let p = closed_plan((0..3).map(|i| week(&format!("t{i}"), 0)).collect());
    let (_tx, stop) = never();
    let (out, records) = run(&settling, &p, &opts(5), stop).await;
    assert_eq!(fake.calls().len(), 2, "{:?}", fake.calls());
    assert!(out.failed.is_empty(), "{:?}", out.failed);
    assert_eq!((out.recorded, out.not_run), (1, 2));
    assert!(out.interrupted);
    assert_eq!(records.len(), 1);
    let line = out.halted.expect("the run halted");
    assert!(
        line.starts_with(
            "server http://target:8086: InfluxDB at http://target:8086 answered HTTP 500: write "
        ),
        "{line}"
    );
    assert!(
        line.contains("no space left on device; the server's disk is full: free space"),
        "{line}"
    );
}

/// A halt while a chunk is being split leaves its remaining pieces unstarted (those
/// done stay recorded), and cuts short another chunk's retries of a transient error:
/// neither chunk is reported as failed; both count as not run.
#[tokio::test]
async fn a_halt_stops_pieces_and_retries() {
    let (fake, _c) = Fake::new(|c, _| match (c.tenant.as_str(), c.unit) {
        ("split", TimeUnit::Week) => Step::Fail(stmt("query-timeout limit exceeded")),
        ("split", _) if c.window.start >= MONDAY + 2 * DAY => {
            Step::FailAfter(Duration::from_millis(30), out_of_files())
        }
        ("split", _) => Step::Copy(2),
        _ => Step::Fail(http(503)),
    });
    let split = week("split", 0);
    let busy = week("busy", 0);
    let p = closed_plan(vec![split.clone(), busy.clone()]);
    // Without the halt the busy chunk's retries end at the deadline and it fails: a
    // few seconds, not an hour of retrying.
    let o = CopyOptions {
        concurrency: 2,
        retry_deadline: Duration::from_secs(5),
        ..opts(1_000_000)
    };
    let (out, records) = run_to_end(&fake, &p, &o).await;
    assert!(out.failed.is_empty(), "{:?}", out.failed);
    assert!(out.halted.is_some());
    assert_eq!((out.splits, out.recorded, out.not_run), (1, 2, 2));
    assert_tiles(&records, Interval::new(MONDAY, MONDAY + 2 * DAY));
    // The third day failed; the four after it never started.
    let days = fake
        .calls()
        .iter()
        .filter(|l| l.starts_with("split "))
        .count();
    assert_eq!(days, 1 + 3);
    assert!(
        fake.attempts(&busy) > 1,
        "the 503 was retried until the halt"
    );
}
