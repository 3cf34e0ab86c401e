//! The commands that only read (`plan`, `status --plan`, `verify`) notice a server
//! that stops answering as `run` does, against a real, stopped `influxd`.

mod common;

use common::*;
use std::time::{Duration, Instant};
use testkit::{seed, DatasetSpec, InfluxServer};

/// Resumes a stopped server when dropped, so that a failed assertion does not leave a
/// stopped `influxd` behind the test's own clean-up.
struct Stopped(u32);

impl Stopped {
    fn stop(pid: u32) -> Stopped {
        signal(pid, "-STOP");
        Stopped(pid)
    }
}

impl Drop for Stopped {
    fn drop(&mut self) {
        signal(self.0, "-CONT");
    }
}

/// With the server stopped (SIGSTOP: the kernel still takes connections, nothing
/// answers), `plan`, `status --plan`, `verify` and `verify --open` each end within a
/// bounded time with exit 2 and one error line naming the server, instead of waiting
/// out the 30-minute query timeout; `verify` writes nothing to the ledger. Once the
/// server runs again, `verify` checks every recorded chunk.
#[test]
fn stopped_server_stops_the_reading_commands() {
    let server = InfluxServer::start().unwrap();
    let spec = DatasetSpec::monasca(&["a", "b"], 1, Duration::from_secs(3600), now_ns());
    seed(&server, "monasca", &spec).unwrap();
    let dir = tempfile::tempdir().unwrap();
    migrate(&server, dir.path(), &["--time-unit", "day"]);
    let ledger = std::fs::read(ledger_path(dir.path())).unwrap();
    let commands: [&[&str]; 4] = [
        &["plan"],
        &["status", "--plan"],
        &["verify", "--all"],
        &["verify", "--open"],
    ];
    {
        let _stopped = Stopped::stop(server.pid());
        for args in commands {
            let mut args = args.to_vec();
            args.extend(["--liveness-timeout", "3s"]);
            let t = Instant::now();
            let o = run(&server, dir.path(), &args);
            let took = t.elapsed();
            let err = stderr(&o);
            assert_exit(&o, 2);
            assert!(took < Duration::from_secs(60), "{args:?} took {took:?}");
            let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("error: ")).collect();
            assert_eq!(errors.len(), 1, "{args:?}:\n{err}");
            let expected = format!("error: server {}: no answer", server.url());
            assert!(errors[0].starts_with(&expected), "{args:?}: {}", errors[0]);
        }
    }
    assert_eq!(
        std::fs::read(ledger_path(dir.path())).unwrap(),
        ledger,
        "a stopped verify changed the ledger"
    );
    let o = run(&server, dir.path(), &["verify", "--all", "--json"]);
    assert_exit(&o, 0);
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let checked: u64 = report["tenants"]
        .as_object()
        .unwrap()
        .values()
        .map(|t| t["checked"].as_u64().unwrap())
        .sum();
    let recorded = ledger_records(dir.path())
        .iter()
        .filter(|r| r["kind"] == "copied")
        .count() as u64;
    assert!(recorded > 0);
    assert_eq!(checked, recorded, "{report}");
}
