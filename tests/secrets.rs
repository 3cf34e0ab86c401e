//! Passwords never reach logs or error output, whichever way they are given, and the
//! log options work: `--log-format json|text`, `--log-file DIR` (daily file).

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;
use testkit::{seed, DatasetSpec, InfluxServer, ServerOptions};

const USER: &str = "admin";
const GOOD: &str = "Corr3ct-H0rse-s3cret";
const WRONG: &str = "Wr0ng-B4ttery-s3cret";

/// Standard base64, to look for the HTTP Basic header's encoding of a password too.
fn base64(input: &[u8]) -> String {
    const T: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for c in input.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                out.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Everything the run printed and logged: stderr, stdout, every file in `log_dir`.
fn all_output(out: &Output, log_dir: &Path) -> String {
    let mut text = String::from_utf8_lossy(&out.stderr).to_string();
    text.push_str(&String::from_utf8_lossy(&out.stdout));
    for e in std::fs::read_dir(log_dir).unwrap() {
        text.push_str(&std::fs::read_to_string(e.unwrap().path()).unwrap());
    }
    text
}

fn assert_no_secret(text: &str, password: &str) {
    assert!(!text.contains(password), "password leaked:\n{text}");
    for form in [
        base64(format!("{USER}:{password}").as_bytes()),
        base64(password.as_bytes()),
    ] {
        assert!(
            !text.contains(&form),
            "base64 of the password leaked:\n{text}"
        );
    }
}

/// Adds one way of giving the password to a command.
type AddSecret<'a> = Box<dyn Fn(&mut Command) + 'a>;

/// `run` against `server` at trace level, logging to `log_dir`; the caller adds how the
/// password is given.
fn tool(server: &InfluxServer, dir: &Path, log_dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_influx-tenant-migrate"));
    c.current_dir(dir)
        .env_remove("RUST_LOG")
        .env_remove("ITM__SOURCE__PASSWORD")
        .arg("run")
        .args(["--source-url", &server.url(), "--username", USER])
        .args(["--log-file", log_dir.to_str().unwrap()])
        .args(["--log-level", "trace", "--retries", "0"]);
    c
}

/// A run with a wrong password, given on the command line, in ITM__SOURCE__PASSWORD,
/// in a password file or in a persister.conf, against an auth-enabled server, fails
/// with exit code 2 and "authentication failed"; neither stderr nor the (trace-level)
/// log file holds the password or its base64 form. A run with the right password at
/// trace level succeeds and leaks nothing either.
#[test]
fn password_never_logged() {
    let server = InfluxServer::start_with(ServerOptions::default().auth(USER, GOOD)).unwrap();
    let spec = DatasetSpec::monasca(
        &["t1"],
        1,
        Duration::from_secs(3600),
        1_700_000_000_000_000_000,
    );
    seed(&server, "monasca", &spec).unwrap();
    let dir = tempfile::tempdir().unwrap();

    let pw_file = dir.path().join("password");
    std::fs::write(&pw_file, format!("{WRONG}\n")).unwrap();
    let conf = dir.path().join("persister.conf");
    std::fs::write(
        &conf,
        format!(
            "[influxdb]\nip_address = 127.0.0.1\nport = {}\nuser = {USER}\npassword = {WRONG}\ndatabase_name = monasca\n",
            server.http_port()
        ),
    )
    .unwrap();

    let ways: Vec<(&str, AddSecret)> = vec![
        (
            "flag",
            Box::new(|c: &mut Command| {
                c.args(["--password", WRONG]);
            }),
        ),
        (
            "env",
            Box::new(|c: &mut Command| {
                c.env("ITM__SOURCE__PASSWORD", WRONG)
                    .args(["--log-format", "json"]);
            }),
        ),
        (
            "file",
            Box::new(|c: &mut Command| {
                c.args(["--password-file", pw_file.to_str().unwrap()]);
            }),
        ),
        (
            "persister.conf",
            Box::new(|c: &mut Command| {
                c.args(["--config-file", conf.to_str().unwrap()]);
            }),
        ),
    ];
    for (how, add) in &ways {
        let log_dir = tempfile::tempdir().unwrap();
        let mut c = tool(&server, dir.path(), log_dir.path());
        add(&mut c);
        let out = c.output().unwrap();
        let text = all_output(&out, log_dir.path());
        assert_eq!(out.status.code(), Some(2), "{how}: {text}");
        assert!(text.contains("authentication failed"), "{how}: {text}");
        assert_no_secret(&text, WRONG);
    }

    let log_dir = tempfile::tempdir().unwrap();
    let out = tool(&server, dir.path(), log_dir.path())
        .env("ITM__SOURCE__PASSWORD", GOOD)
        .output()
        .unwrap();
    let text = all_output(&out, log_dir.path());
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(server
        .databases()
        .unwrap()
        .contains(&"monasca_t1".to_string()));
    assert_no_secret(&text, GOOD);
}

/// `--log-file DIR --log-format json` writes one file `influx-tenant-migrate.log.<date>`
/// of JSON lines (the daily-rolling appender), and stderr is JSON too; with text the
/// file has plain lines without colour codes.
#[test]
fn log_file_and_formats() {
    let server = InfluxServer::start().unwrap();
    let spec = DatasetSpec::monasca(
        &["t1"],
        1,
        Duration::from_secs(3600),
        1_700_000_000_000_000_000,
    );
    seed(&server, "monasca", &spec).unwrap();
    let dir = tempfile::tempdir().unwrap();
    for format in ["json", "text"] {
        let log_dir = tempfile::tempdir().unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_influx-tenant-migrate"))
            .current_dir(dir.path())
            .env_remove("RUST_LOG")
            .args(["run", "--source-url", &server.url(), "--log-format", format])
            .args(["--log-file", log_dir.path().to_str().unwrap()])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{stderr}");
        let files: Vec<_> = std::fs::read_dir(log_dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
            .collect();
        assert_eq!(files.len(), 1, "{files:?}");
        let date = files[0]
            .strip_prefix("influx-tenant-migrate.log.")
            .unwrap_or_else(|| panic!("{files:?}"));
        assert!(
            date.len() == 10 && date.chars().filter(|c| *c == '-').count() == 2,
            "{date}"
        );
        let log = std::fs::read_to_string(log_dir.path().join(&files[0])).unwrap();
        assert!(log.contains("plan ready"), "{log}");
        for line in log.lines() {
            match format {
                "json" => {
                    let v: serde_json::Value = serde_json::from_str(line).unwrap();
                    assert!(
                        v.get("level").is_some() && v.get("fields").is_some(),
                        "{line}"
                    );
                }
                _ => assert!(!line.contains('\u{1b}') && !line.starts_with('{'), "{line}"),
            }
        }
        if format == "json" {
            let first = stderr.lines().next().unwrap();
            serde_json::from_str::<serde_json::Value>(first)
                .unwrap_or_else(|e| panic!("stderr line is not JSON ({e}): {first}"));
        }
    }
}

/// A `--log-file` that is a file (oslo.log's meaning) or a directory that cannot be
/// created stops the binary with exit code 2 and one line naming it, not a panic.
#[test]
fn unusable_log_dir_is_one_line_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("migrate.log");
    std::fs::write(&file, "").unwrap();
    let blocked = file.join("sub");
    for (path, says) in [(&file, "is a file"), (&blocked, "cannot write log files")] {
        let out = Command::new(env!("CARGO_BIN_EXE_influx-tenant-migrate"))
            .args(["--log-file", path.to_str().unwrap()])
            .args(["status", "--ledger", dir.path().join("l").to_str().unwrap()])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(
            err.contains(says) && err.contains(path.to_str().unwrap()),
            "{err}"
        );
        assert_eq!(err.trim().lines().count(), 1, "{err}");
    }
}
