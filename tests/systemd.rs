//! The systemd units in systemd/ pass `systemd-analyze verify` with the real binary
//! and man page in place, and agree with the tool's settings.

use clap::CommandFactory;
use clap::Parser;
use influx_tenant_migrate::cli::{Cli, Command as Cmd};
use influx_tenant_migrate::config;
use std::path::{Path, PathBuf};
use std::process::Command;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const SERVICE: &str = "influx-tenant-migrate.service";
const TIMER: &str = "influx-tenant-migrate.timer";
const TEMPLATE_SERVICE: &str = "influx-tenant-migrate@.service";
const TEMPLATE_TIMER: &str = "influx-tenant-migrate@.timer";
const INSTALLED_BIN: &str = "/usr/bin/influx-tenant-migrate";

fn unit_text(name: &str) -> String {
    std::fs::read_to_string(Path::new(ROOT).join("systemd").join(name)).unwrap()
}

/// All values of `key=` in a unit, in order.
fn values(text: &str, key: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.strip_prefix(&format!("{key}=")))
        .map(str::to_string)
        .collect()
}

fn systemd_analyze() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join("systemd-analyze"))
        .find(|p| p.is_file())
        .expect("systemd-analyze not found: install Debian's systemd package (apt-get install -y systemd)")
}

/// A temp dir with both units, ExecStart pointing at the binary cargo built (the
/// installed path does not exist here), and a MANPATH holding the man page generated
/// from the CLI, which `Documentation=man:` needs.
struct Staged {
    dir: tempfile::TempDir,
}

impl Staged {
    fn new(edit: impl Fn(&str, String) -> String) -> Staged {
        Staged::with(&[SERVICE, TIMER], edit)
    }

    /// Like [`Staged::new`] with the units `names`.
    fn with(names: &[&str], edit: impl Fn(&str, String) -> String) -> Staged {
        let dir = tempfile::tempdir().unwrap();
        let bin = env!("CARGO_BIN_EXE_influx-tenant-migrate");
        for &name in names {
            let text = unit_text(name).replace(
                &format!("ExecStart={INSTALLED_BIN} "),
                &format!("ExecStart={bin} "),
            );
            std::fs::write(dir.path().join(name), edit(name, text)).unwrap();
        }
        let man1 = dir.path().join("man/man1");
        std::fs::create_dir_all(&man1).unwrap();
        let mut page = Vec::new();
        clap_mangen::Man::new(Cli::command())
            .render(&mut page)
            .unwrap();
        std::fs::write(man1.join("influx-tenant-migrate.1"), page).unwrap();
        Staged { dir }
    }

    fn analyze(&self, args: &[&str]) -> (bool, String) {
        let out = Command::new(systemd_analyze())
            .current_dir(self.dir.path())
            .env("MANPATH", self.dir.path().join("man"))
            .env("SYSTEMD_LOG_COLOR", "0")
            .args(args)
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), text)
    }

    fn verify(&self) -> (bool, String) {
        self.analyze(&["verify", &format!("./{SERVICE}"), &format!("./{TIMER}")])
    }
}

/// `systemd-analyze verify` accepts both units without a single warning (it exits 0
/// on unknown keys, so silence is what is checked), and it does catch a misspelt
/// directive in this harness.
#[test]
fn units_verify() {
    let staged = Staged::new(|_, t| t);
    let (ok, out) = staged.verify();
    assert!(
        ok && out.trim().is_empty(),
        "systemd-analyze verify:\n{out}"
    );

    let broken = Staged::new(|name, t| {
        if name == SERVICE {
            t.replace("ProtectSystem=strict", "ProtectSytem=strict")
        } else {
            t
        }
    });
    let (_, out) = broken.verify();
    assert!(
        out.contains("ProtectSytem"),
        "the typo went unnoticed:\n{out}"
    );
}

/// The hardening holds up to `systemd-analyze security`: overall exposure below 2.0
/// ("OK"; 10 is an unprotected service).
#[test]
fn service_exposure_is_low() {
    let staged = Staged::new(|_, t| t);
    let (_, out) = staged.analyze(&["security", "--offline=yes", &format!("./{SERVICE}")]);
    let level: f64 = out
        .lines()
        .find_map(|l| l.split("Overall exposure level for").nth(1))
        .and_then(|rest| rest.split(':').nth(1))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no exposure level in:\n{out}"));
    assert!(level < 2.0, "exposure {level}:\n{out}");
}

/// The service is a oneshot run of the default command with the packaged config,
/// the ledger in its StateDirectory, no secret on the command line, and a stop
/// timeout longer than the tool's default stop grace; the timer reruns it hourly and
/// catches up on missed runs.
#[test]
fn units_match_the_tool() {
    let svc = unit_text(SERVICE);
    assert_eq!(values(&svc, "Type"), vec!["oneshot"]);
    let exec = values(&svc, "ExecStart");
    assert_eq!(exec.len(), 1);
    assert!(!exec[0].to_lowercase().contains("password"), "{}", exec[0]);
    let args: Vec<&str> = exec[0].split_whitespace().collect();
    assert_eq!(args[0], INSTALLED_BIN);
    assert_eq!(
        &args[1..3],
        &[
            "--config",
            "/etc/influx-tenant-migrate/influx-tenant-migrate.toml"
        ]
    );
    assert_eq!(
        values(&svc, "EnvironmentFile"),
        vec!["-/etc/influx-tenant-migrate/env"]
    );
    assert_eq!(
        values(&svc, "StateDirectory"),
        vec!["influx-tenant-migrate"]
    );
    assert_eq!(values(&svc, "LogsDirectory"), vec!["influx-tenant-migrate"]);
    assert_eq!(values(&svc, "KillSignal"), vec!["SIGTERM"]);

    // The command line parses, and with the shipped example config and the unit's
    // environment the ledger lands in the state directory.
    let example = format!("{ROOT}/etc/influx-tenant-migrate.toml");
    let mut argv: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    argv[2] = example.clone();
    let cli = Cli::try_parse_from(&argv).unwrap();
    assert!(matches!(cli.command, Cmd::Run(_)));
    let env: ::config::Map<String, String> = values(&svc, "Environment")
        .iter()
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let s = config::load_with_env(Some(Path::new(&example)), cli.overrides(), Some(env)).unwrap();
    assert_eq!(
        s.run.ledger,
        Path::new("/var/lib/influx-tenant-migrate/influx-tenant-migrate.ledger")
    );
    let stop = humantime::parse_duration(&values(&svc, "TimeoutStopSec")[0]).unwrap();
    assert!(
        stop > s.run.stop_grace,
        "TimeoutStopSec {stop:?} must exceed run.stop_grace {:?}",
        s.run.stop_grace
    );

    let timer = unit_text(TIMER);
    assert_eq!(values(&timer, "OnCalendar"), vec!["hourly"]);
    assert_eq!(values(&timer, "Persistent"), vec!["true"]);
    assert_eq!(values(&timer, "Unit"), vec![SERVICE]);
}

/// The template pair verifies as an instance (`influx-tenant-migrate@eu.service` and
/// `.timer`) without a warning, and a misspelt directive in the template is caught.
#[test]
fn template_units_verify() {
    let names = [TEMPLATE_SERVICE, TEMPLATE_TIMER];
    let instances = [
        "verify",
        "./influx-tenant-migrate@eu.service",
        "./influx-tenant-migrate@eu.timer",
    ];
    let staged = Staged::with(&names, |_, t| t);
    let (ok, out) = staged.analyze(&instances);
    assert!(
        ok && out.trim().is_empty(),
        "systemd-analyze verify:\n{out}"
    );
    let broken = Staged::with(&names, |name, t| {
        if name == TEMPLATE_SERVICE {
            t.replace("ProtectSystem=strict", "ProtectSytem=strict")
        } else {
            t
        }
    });
    let (_, out) = broken.analyze(&instances);
    assert!(
        out.contains("ProtectSytem"),
        "the typo went unnoticed:\n{out}"
    );
}

/// Each instance NAME reads /etc/influx-tenant-migrate/NAME.toml and keeps its ledger
/// in its own state directory, /var/lib/influx-tenant-migrate/NAME/; the rest of the
/// template (hardening, exit codes, stop timeout) is the single service's, and its
/// timer starts the same instance on the same schedule.
#[test]
fn template_units_are_per_instance() {
    let svc = unit_text(TEMPLATE_SERVICE);
    let exec = values(&svc, "ExecStart");
    assert_eq!(
        exec,
        vec!["/usr/bin/influx-tenant-migrate --config /etc/influx-tenant-migrate/%i.toml run"]
    );
    assert_eq!(
        values(&svc, "StateDirectory"),
        vec!["influx-tenant-migrate/%i"]
    );
    assert_eq!(
        values(&svc, "Environment"),
        vec!["ITM__RUN__LEDGER=/var/lib/influx-tenant-migrate/%i/influx-tenant-migrate.ledger"]
    );
    assert_eq!(
        values(&svc, "EnvironmentFile"),
        vec!["-/etc/influx-tenant-migrate/%i.env"]
    );
    let single = unit_text(SERVICE);
    let per_instance = [
        "Description",
        "ExecStart",
        "EnvironmentFile",
        "StateDirectory",
        "Environment",
        "WorkingDirectory",
        "LogsDirectory",
        "SyslogIdentifier",
    ];
    let settings = |text: &str| -> Vec<String> {
        text.lines()
            .filter(|l| !l.starts_with('#') && l.contains('='))
            .filter(|l| !per_instance.iter().any(|k| l.starts_with(&format!("{k}="))))
            .map(str::to_string)
            .collect()
    };
    assert_eq!(settings(&svc), settings(&single));
    let timer = unit_text(TEMPLATE_TIMER);
    assert_eq!(
        values(&timer, "Unit"),
        vec!["influx-tenant-migrate@%i.service"]
    );
    assert_eq!(
        values(&timer, "OnCalendar"),
        values(&unit_text(TIMER), "OnCalendar")
    );
    assert_eq!(values(&timer, "Persistent"), vec!["true"]);
}
