//! The command line: which command takes which flag, and that every flag reaches its
//! setting.

use super::*;
use crate::config::LogFormat;
use crate::core::window::TimeUnit;
use clap::CommandFactory;
use std::path::Path;
use std::time::Duration;

/// The `now` the old tool's offsets count back from.
const NOW: i64 = 1_700_000_000_000_000_000;

/// Flags of a command that set no setting: what the command itself does. `--verify`
/// sets the default again (it cannot be given with `--no-verify`, which has its case;
/// `verify_switches` tests both).
const OWN: &[&str] = &[
    "json", "estimate", "plan", "all", "open", "dir", "help", "version", "verify", "dry_run",
    "since",
];

/// Each command's own flags, given in every pass (with the modes that unlock the
/// planning flags of `status` and `verify`); `None` is the line without a command.
const COMMANDS: &[(Option<&str>, &[&str])] = &[
    (None, &["--json"]),
    (Some("run"), &["--json"]),
    (Some("plan"), &["--json", "--estimate"]),
    (Some("status"), &["--json", "--plan"]),
    (Some("verify"), &["--json", "--all", "--open"]),
    (Some("export"), &["--dir", "out"]),
    (Some("import"), &["--dir", "out"]),
    (Some("rollback"), &["--json", "--dry-run"]),
];

fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
    Cli::try_parse_from(std::iter::once("itm").chain(args.iter().copied()))
}

/// Settings from the flags alone: no file but `--config`'s, an empty environment.
fn load(cli: &Cli) -> Settings {
    cli.load_with_env(NOW, Some(Default::default()))
        .unwrap_or_else(|e| panic!("{cli:?}: {e}"))
}

/// Files the flags name, in a temporary directory.
struct Files(tempfile::TempDir);

impl Files {
    fn new() -> Files {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in [
            ("itm.toml", "[run]\nprogress_interval = \"3s\"\n"),
            ("ca.pem", "source CA\n"),
            ("target-ca.pem", "target CA\n"),
            ("password", "pw_file\n"),
            ("target-password", "tpw_file\n"),
            ("target-token", "ttoken_file\n"),
            (
                "persister.conf",
                "[influxdb]\ndatabase_name = mon_flag\nip_address = 192.0.2.3\nport = 8093\n",
            ),
        ] {
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        Files(dir)
    }

    fn path(&self, name: &str) -> String {
        self.0.path().join(name).display().to_string()
    }
}

/// Which parse gives a flag: flags that another flag shadows (a password file wins
/// over a password) or conflicts with (the old tool's flags and ours for one setting)
/// get a parse of their own.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Pass {
    Ours,
    PasswordFiles,
    OldTool,
}

/// A flag, its value (none for a switch), its parse, and what the settings then hold.
struct Case {
    flag: &'static str,
    value: Option<String>,
    pass: Pass,
    holds: Box<dyn Fn(&Settings) -> bool>,
}

fn case(flag: &'static str, value: &str, holds: impl Fn(&Settings) -> bool + 'static) -> Case {
    Case {
        flag,
        value: Some(value.to_string()),
        pass: Pass::Ours,
        holds: Box::new(holds),
    }
}

fn switch(flag: &'static str, holds: impl Fn(&Settings) -> bool + 'static) -> Case {
    Case {
        value: None,
        ..case(flag, "", holds)
    }
}

impl Case {
    fn in_pass(self, pass: Pass) -> Case {
        Case { pass, ..self }
    }
}

fn minutes(n: u64) -> Duration {
    Duration::from_secs(60 * n)
}

fn days(n: u64) -> Duration {
    Duration::from_secs(86_400 * n)
}

/// Every settings flag with a value of its own and the setting it must reach.
fn cases(f: &Files) -> Vec<Case> {
    let mut all = vec![
        case("config", &f.path("itm.toml"), |s| {
            s.run.progress_interval == Duration::from_secs(3)
        }),
        case("log-format", "json", |s| s.log.format == LogFormat::Json),
        case("log-file", &f.path("logs"), {
            let dir = f.path("logs");
            move |s| s.log.dir.as_deref() == Some(Path::new(&dir))
        }),
        case("log-level", "debug,hyper=warn", |s| {
            s.log.level == "debug,hyper=warn"
        }),
    ];
    all.extend(source_cases(f));
    all.extend(planning_cases());
    all.extend(copy_cases(f));
    all.extend(old_tool_cases(f));
    all
}

fn source_cases(f: &Files) -> Vec<Case> {
    let ca = f.path("ca.pem");
    vec![
        case("source-url", "http://192.0.2.1:8091", |s| {
            s.source.url == "http://192.0.2.1:8091"
        }),
        case("database", "db_flag", |s| s.source.database == "db_flag"),
        case("source-retention-policy", "rp_flag", |s| {
            s.source.retention_policy.as_deref() == Some("rp_flag")
        }),
        case("username", "user_flag", |s| {
            s.source.username.as_deref() == Some("user_flag")
        }),
        case("password", "pw_flag", |s| {
            s.source.password.as_ref().map(|p| p.expose()) == Some("pw_flag")
        }),
        case("password-file", &f.path("password"), |s| {
            s.source.password.as_ref().map(|p| p.expose()) == Some("pw_file")
        })
        .in_pass(Pass::PasswordFiles),
        case("ca-file", &ca.clone(), move |s| {
            s.source.ca_file.as_deref() == Some(Path::new(&ca))
        }),
        switch("insecure-skip-verify", |s| s.source.insecure_skip_verify),
    ]
}

fn planning_cases() -> Vec<Case> {
    vec![
        case("tenant-tag", "tag_flag", |s| s.tenants.tag == "tag_flag"),
        case("tenant-tag-for", "m.x=tag_for_flag", |s| {
            s.tenants.tag_of("m.x") == "tag_for_flag"
                && s.tenants.tag_of("alarm_state_history") == "tenant_id"
        }),
        case("skip-regex", "^skip_flag", |s| {
            s.skip_measurements
                .iter()
                .map(|r| r.as_str())
                .eq(["^skip_flag"])
        }),
        case("target-template", "x_{database}_{tenant}", |s| {
            s.tenants.target_template == "x_{database}_{tenant}"
        }),
        case("tenant-include", "^inc_flag", |s| {
            s.tenants
                .include
                .iter()
                .map(|r| r.as_str())
                .eq(["^inc_flag"])
        }),
        case("tenant-exclude", "^exc_flag", |s| {
            s.tenants
                .exclude
                .iter()
                .map(|r| r.as_str())
                .eq(["^exc_flag"])
        }),
        case("time-unit", "hour", |s| s.window.unit == TimeUnit::Hour),
        case("from", "2020-01-06T00:00:00Z", |s| {
            s.window.from == Some(1_578_268_800_000_000_000)
        }),
        case("to", "2021-02-01T00:00:00Z", |s| {
            s.window.to == Some(1_612_137_600_000_000_000)
        }),
        case("settle", "17m", |s| s.window.settle == minutes(17)),
        case("late-horizon", "5h", |s| s.run.late_horizon == minutes(300)),
        case("retention", "ten=3w", |s| {
            s.retention.tenants.get("ten") == Some(&days(21))
        }),
        case("default-retention", "30d", |s| {
            s.retention.default == Some(days(30))
        }),
        case("shard-duration", "2d", |s| {
            s.retention.shard_duration == Some(days(2))
        }),
        switch("no-grants", |s| !s.tenants.grant_privileges),
        // As written, the policy keeps the name `--retention` gives it.
        case("retention-policy-names", "as-written", |s| {
            s.retention.names.get("ten").map(String::as_str) == Some("3w")
        }),
        case("ledger", "flag.ledger", |s| {
            s.run.ledger == Path::new("flag.ledger")
        }),
        case("failure-report", "flag.failures.json", |s| {
            s.run.failure_report == Path::new("flag.failures.json")
        }),
        case("concurrency", "7", |s| s.run.concurrency == Some(7)),
        case("query-timeout", "31m", |s| {
            s.run.query_timeout == minutes(31)
        }),
        case("liveness-timeout", "2m", |s| {
            s.run.liveness_timeout == minutes(2)
        }),
        case("max-measurements-per-query", "11", |s| {
            s.run.max_measurements_per_query == 11
        }),
    ]
}

fn copy_cases(f: &Files) -> Vec<Case> {
    let tca = f.path("target-ca.pem");
    vec![
        case("retries", "13", |s| s.run.retries == 13),
        case("retry-deadline", "7m", |s| {
            s.run.retry_deadline == minutes(7)
        }),
        case("max-points-per-second", "23", |s| {
            s.run.max_points_per_second == Some(23)
        }),
        switch("no-verify", |s| !s.run.verify),
        switch("final", |s| s.window.final_run),
        case("report", "flag-report.json", |s| {
            s.run.report.as_deref() == Some(Path::new("flag-report.json"))
        }),
        case("metrics-file", "flag.prom", |s| {
            s.run.metrics_file.as_deref() == Some(Path::new("flag.prom"))
        }),
        case("target-url", "http://192.0.2.2:8092", |s| {
            s.target.url.as_deref() == Some("http://192.0.2.2:8092")
        }),
        case("target-username", "tuser_flag", |s| {
            s.target.username.as_deref() == Some("tuser_flag")
        }),
        case("target-password", "tpw_flag", |s| {
            s.target.password.as_ref().map(|p| p.expose()) == Some("tpw_flag")
        }),
        case("target-password-file", &f.path("target-password"), |s| {
            s.target.password.as_ref().map(|p| p.expose()) == Some("tpw_file")
        })
        .in_pass(Pass::PasswordFiles),
        case("target-ca-file", &tca.clone(), move |s| {
            s.target.ca_file.as_deref() == Some(Path::new(&tca))
        }),
        switch("target-insecure-skip-verify", |s| {
            s.target.insecure_skip_verify
        }),
        case("target-org", "org_flag", |s| {
            s.target.org.as_deref() == Some("org_flag")
        }),
        case("target-token-file", &f.path("target-token"), |s| {
            s.target.token.as_ref().map(|p| p.expose()) == Some("ttoken_file")
        })
        .in_pass(Pass::PasswordFiles),
        case("read-chunk-size", "17", |s| s.stream.chunk_size == 17),
        case("write-batch-points", "19", |s| s.stream.batch_points == 19),
        case("drop-tag", "tag_dropped", |s| {
            s.transform.drop_tags.iter().eq(["tag_dropped"])
        }),
        case("rename-measurement", "^a(.*)$=b$1", |s| {
            let r = &s.transform.renames;
            r.len() == 1 && r[0].0.as_str() == "^a(.*)$" && r[0].1 == "b$1"
        }),
    ]
}

fn old_tool_cases(f: &Files) -> Vec<Case> {
    let (from, to) = legacy::bounds(TimeUnit::Day, 7, 14, NOW).unwrap();
    vec![
        case("persister-config", &f.path("persister.conf"), |s| {
            s.source.url == "http://192.0.2.3:8093" && s.source.database == "mon_flag"
        }),
        case("migrate-time-unit", "d", |s| s.window.unit == TimeUnit::Day),
        case("migrate-start-time-offset", "7", move |s| s.window.to == to),
        case("migrate-end-time-offset", "14", move |s| {
            s.window.from == from
        }),
        case("migrate-retention-policy", "p:3", |s| {
            s.retention.tenants.get("p") == Some(&days(3))
                && s.retention.names.get("p").map(String::as_str) == Some("3d")
        }),
        case("migrate-skip-regex", "^log", |s| {
            s.skip_measurements
                .iter()
                .map(|r| r.as_str())
                .eq(["^(?:^log)"])
        }),
    ]
    .into_iter()
    .map(|c| c.in_pass(Pass::OldTool))
    .collect()
}

/// The long flags a command takes (with those every command takes), but its own.
fn settings_flags(name: Option<&str>) -> Vec<String> {
    let mut root = Cli::command();
    root.build();
    let cmd = match name {
        Some(n) => root.find_subcommand(n).unwrap().clone(),
        None => root,
    };
    cmd.get_arguments()
        .filter(|a| !OWN.contains(&a.get_id().as_str()))
        .map(|a| a.get_long().unwrap().to_string())
        .collect()
}

/// The command's own flags reached the command.
fn own_flags_parsed(cli: &Cli) -> bool {
    match &cli.command {
        Command::Run(a) => a.json,
        Command::Plan(a) => a.json && a.estimate,
        Command::Status(a) => a.json && a.plan,
        Command::Verify(a) => a.json && a.all && a.open,
        Command::Export(a) => a.dir == Path::new("out"),
        Command::Import(a) => a.dir == Path::new("out"),
        Command::Rollback(a) => a.json && a.dry_run,
    }
}

/// `run` verifies by default; `--no-verify` turns it off, `--verify` (kept for old
/// command lines) turns it back on over a file's `verify = false`, and the two together
/// are refused.
#[test]
fn verify_switches() {
    let files = Files::new();
    let off = files.path("off.toml");
    std::fs::write(&off, "[run]\nverify = false\n").unwrap();
    let verify = |args: &[&str]| load(&parse(args).unwrap()).run.verify;
    assert!(verify(&["run"]));
    assert!(!verify(&["run", "--no-verify"]));
    assert!(!verify(&["run", "--config", &off]));
    assert!(verify(&["run", "--config", &off, "--verify"]));
    assert!(parse(&["run", "--verify", "--no-verify"]).is_err());
}

/// Every flag of every command (and of the line without one), given a value distinct
/// from every other flag's, reaches its own setting: through our overrides, `--config`,
/// the password files, or the old tool's layers. Each command takes a case for each of
/// its flags, so a new flag without a case here fails this test.
#[test]
fn every_flag_reaches_its_setting() {
    let files = Files::new();
    let cases = cases(&files);
    for (name, own) in COMMANDS {
        let flags = settings_flags(*name);
        for flag in &flags {
            assert!(
                cases.iter().any(|c| c.flag == flag),
                "{name:?}: no case for --{flag}"
            );
        }
        for pass in [Pass::Ours, Pass::PasswordFiles, Pass::OldTool] {
            let given: Vec<&Case> = cases
                .iter()
                .filter(|c| c.pass == pass && flags.iter().any(|f| f == c.flag))
                .collect();
            if given.is_empty() {
                continue;
            }
            let mut argv: Vec<String> = name.iter().map(|n| n.to_string()).collect();
            argv.extend(own.iter().map(|s| s.to_string()));
            for c in &given {
                argv.push(format!("--{}", c.flag));
                argv.extend(c.value.clone());
            }
            let args: Vec<&str> = argv.iter().map(String::as_str).collect();
            let cli = parse(&args).unwrap_or_else(|e| panic!("{args:?}: {e}"));
            assert!(own_flags_parsed(&cli), "{args:?}: {cli:?}");
            let s = load(&cli);
            for c in given {
                assert!(
                    (c.holds)(&s),
                    "{name:?} --{} {:?} did not reach its setting: {s:?}",
                    c.flag,
                    c.value
                );
            }
        }
    }
}

/// A flag a command does not read is refused with clap's usual error, also before the
/// command; `status` and `verify` take the planning flags only with `--plan`/`--open`,
/// the modes in which they plan, and the flags they read in any case without.
#[test]
fn flags_a_command_does_not_read_are_refused() {
    let unknown = ErrorKind::UnknownArgument;
    let needs_mode = ErrorKind::MissingRequiredArgument;
    let refused: &[(&[&str], ErrorKind)] = &[
        (&["status", "--retries", "3"], unknown),
        (&["status", "--verify"], unknown),
        (&["status", "--read-chunk-size", "5"], unknown),
        (&["status", "--source-url", "http://x:1"], needs_mode),
        (&["status", "--time-unit", "day"], needs_mode),
        (&["status", "--target-url", "http://x:1"], needs_mode),
        (&["status", "--config-file", "p.conf"], needs_mode),
        (&["plan", "--verify"], unknown),
        (&["plan", "--retries", "3"], unknown),
        (&["plan", "--report", "r.json"], unknown),
        (&["plan", "--drop-tag", "t"], unknown),
        (&["plan", "--write-batch-points", "5"], unknown),
        (&["verify", "--retries", "3"], unknown),
        (&["verify", "--metrics-file", "m.prom"], unknown),
        (&["verify", "--time-unit", "day"], needs_mode),
        (&["verify", "--source-retention-policy", "rp"], needs_mode),
        (&["verify", "--skip-regex", "^x"], needs_mode),
        (&["verify", "--failure-report", "f.json"], needs_mode),
        (&["verify", "--migrate-time-unit", "d"], needs_mode),
        (
            &["export", "--dir", "d", "--target-url", "http://x:1"],
            unknown,
        ),
        (&["export", "--dir", "d", "--verify"], unknown),
        (
            &["import", "--dir", "d", "--source-url", "http://x:1"],
            unknown,
        ),
        (&["import", "--dir", "d", "--tenant-tag", "t"], unknown),
        (&["import", "--dir", "d", "--time-unit", "day"], unknown),
        (&["import", "--dir", "d", "--read-chunk-size", "5"], unknown),
        (
            &["import", "--dir", "d", "--max-measurements-per-query", "5"],
            unknown,
        ),
        (
            &["import", "--dir", "d", "--config-file", "p.conf"],
            unknown,
        ),
        (&["--retries", "3", "status"], unknown),
        (&["--source-url", "http://x:1", "run"], unknown),
        (&["--ledger", "l", "status"], unknown),
    ];
    for (args, kind) in refused {
        match parse(args) {
            Ok(cli) => panic!("{args:?} accepted: {cli:?}"),
            Err(e) => assert_eq!(e.kind(), *kind, "{args:?}: {e}"),
        }
    }
    let accepted: &[&[&str]] = &[
        &[
            "status",
            "--json",
            "--ledger",
            "l",
            "--failure-report",
            "f.json",
        ],
        &[
            "status",
            "--plan",
            "--source-url",
            "http://x:1",
            "--time-unit",
            "day",
        ],
        &[
            "verify",
            "--json",
            "--all",
            "--source-url",
            "http://x:1",
            "--database",
            "d",
            "--username",
            "u",
            "--password",
            "p",
            "--password-file",
            "pw",
            "--ca-file",
            "ca.pem",
            "--insecure-skip-verify",
            "--config-file",
            "p.conf",
            "--tenant-tag",
            "t",
            "--tenant-tag-for",
            "m=k",
            "--tenant-include",
            "i",
            "--tenant-exclude",
            "e",
            "--ledger",
            "l",
            "--concurrency",
            "3",
            "--query-timeout",
            "1m",
        ],
        &[
            "verify",
            "--open",
            "--time-unit",
            "day",
            "--target-url",
            "http://x:1",
        ],
    ];
    for args in accepted {
        parse(args).unwrap_or_else(|e| panic!("{args:?}: {e}"));
    }
}

/// Without a command the line is `run`'s: the old tool's drop-in form
/// `--config-file persister.conf --migrate-retention-policy p:2` loads the old tool's
/// source and retention; `--config FILE run` (the systemd unit's form) and
/// `run --config FILE` both read the file, and logging flags go before a command too.
#[test]
fn the_line_without_a_command_is_run() {
    let files = Files::new();
    let conf = files.path("persister.conf");
    let cli = parse(&["--config-file", &conf, "--migrate-retention-policy", "p:2"]).unwrap();
    assert!(matches!(&cli.command, Command::Run(a) if !a.json && !a.verify));
    let s = load(&cli);
    assert_eq!(s.source.url, "http://192.0.2.3:8093");
    assert_eq!(s.source.database, "mon_flag");
    assert_eq!(s.retention.tenants.get("p"), Some(&days(14)));
    assert_eq!(s.retention.names.get("p").map(String::as_str), Some("2w"));

    let toml = files.path("itm.toml");
    for args in [["--config", &toml, "run"], ["run", "--config", &toml]] {
        let cli = parse(&args).unwrap();
        assert!(matches!(cli.command, Command::Run(_)), "{args:?}");
        assert_eq!(load(&cli).run.progress_interval, Duration::from_secs(3));
    }
    let cli = parse(&["--log-level", "debug", "status", "--log-format", "json"]).unwrap();
    assert!(matches!(cli.command, Command::Status(_)));
    let s = load(&cli);
    assert_eq!(
        (s.log.level.as_str(), s.log.format),
        ("debug", LogFormat::Json)
    );
}

/// The help of every settings flag says its default and the setting it overrides.
#[test]
fn every_flag_says_its_default_and_setting() {
    let mut root = Cli::command();
    root.build();
    for cmd in std::iter::once(&root).chain(root.get_subcommands()) {
        for a in cmd.get_arguments() {
            let id = a.get_id().as_str();
            // `--config` and persister.conf are files of settings, not one setting.
            if OWN.contains(&id) || ["config", "persister_config"].contains(&id) {
                continue;
            }
            let help = a.get_help().map(|h| h.to_string()).unwrap_or_default();
            assert!(
                help.contains("Default") && help.contains("overrides `"),
                "{} --{id}: {help}",
                cmd.get_name()
            );
        }
    }
}

/// The clap definition is internally consistent.
#[test]
fn cli_definition_is_valid() {
    Cli::command().debug_assert();
}

/// Flags become overrides that win over file and environment.
#[test]
fn flags_override_settings() {
    let cli = Cli::parse_from([
        "itm",
        "plan",
        "--database",
        "db1",
        "--retention",
        "a=2w",
        "--retention",
        "b=1d",
        "--concurrency",
        "5",
        "--time-unit",
        "day",
    ]);
    assert!(matches!(
        cli.command,
        Command::Plan(PlanArgs {
            json: false,
            estimate: false,
            ..
        })
    ));
    let s = crate::config::load_with_env(None, cli.overrides(), Some(Default::default())).unwrap();
    assert_eq!(s.source.database, "db1");
    assert_eq!(s.run.concurrency, Some(5));
    assert_eq!(s.retention.tenants.len(), 2);
    assert_eq!(s.window.unit, crate::core::window::TimeUnit::Day);

    let cli = Cli::parse_from([
        "itm",
        "run",
        "--verify",
        "--report",
        "r.json",
        "--metrics-file",
        "m.prom",
    ]);
    let s = crate::config::load_with_env(None, cli.overrides(), Some(Default::default())).unwrap();
    assert!(s.run.verify);
    assert_eq!(s.run.report, Some(PathBuf::from("r.json")));
    assert_eq!(s.run.metrics_file, Some(PathBuf::from("m.prom")));
}

/// `rollback --since` takes a date or RFC 3339 time as nanoseconds and refuses other
/// text naming the flag; flags rollback does not read (retention, target) are refused.
#[test]
fn rollback_since_and_refused_flags() {
    let cli = parse(&["rollback", "--since", "2024-01-01T01:00:00+01:00"]).unwrap();
    match cli.command {
        Command::Rollback(a) => assert_eq!(a.since, Some(1_704_067_200_000_000_000)),
        c => panic!("{c:?}"),
    }
    let e = parse(&["rollback", "--since", "yesterday"]).unwrap_err();
    assert!(e.to_string().contains("--since"), "{e}");
    for flag in ["--retention", "--target-url", "--drop-tag", "--skip-regex"] {
        assert!(parse(&["rollback", flag, "x"]).is_err(), "{flag}");
    }
}
