//! The shipped example config and Monasca persister.conf files load as documented; a
//! broken one fails naming the key.

use clap::Parser;
use influx_tenant_migrate::cli::Cli;
use influx_tenant_migrate::config;
use std::path::Path;
use std::process::Command;

const EXAMPLE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/etc/influx-tenant-migrate.toml"
);

/// The example with every `#key = value` line uncommented.
fn uncommented_example() -> (String, usize) {
    let text = std::fs::read_to_string(EXAMPLE).unwrap();
    let mut keys = 0;
    let out: Vec<String> = text
        .lines()
        .map(|l| {
            let rest = l.strip_prefix('#').unwrap_or("");
            let is_key = rest.split_once(" = ").is_some_and(|(k, _)| {
                !k.is_empty() && k.chars().all(|c| c.is_ascii_lowercase() || c == '_')
            });
            if is_key {
                keys += 1;
                rest.to_string()
            } else {
                l.to_string()
            }
        })
        .collect();
    (out.join("\n"), keys)
}

/// Every commented key of etc/influx-tenant-migrate.toml, uncommented, loads, and
/// (but for the example per-tenant retention list) gives exactly the built-in
/// defaults: the file shows the real defaults.
#[test]
fn example_config_uncommented_loads_with_defaults() {
    let (text, keys) = uncommented_example();
    assert!(keys >= 30, "only {keys} keys found in {EXAMPLE}");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("all.toml");
    std::fs::write(&path, &text).unwrap();
    let env: Option<::config::Map<String, String>> = Some(Default::default());
    let from_file = config::load_with_env(Some(&path), vec![], env.clone()).unwrap();
    let defaults = config::load_with_env(None, vec![], env).unwrap();
    assert_eq!(
        from_file.retention.tenants.len(),
        2,
        "the example retention list"
    );
    let show = |s: &config::Settings| {
        format!(
            "{:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?}",
            s.source,
            s.tenants,
            s.skip_measurements,
            s.window,
            s.retention.default,
            s.run,
            s.log,
            s.retention.default_name,
            s.retention.shard_duration
        )
    };
    assert_eq!(show(&from_file), show(&defaults));
}

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// A Monasca persister.conf loads through `--config-file`; the TOML file wins over it
/// key by key, and flags win over both.
#[test]
fn persister_conf_loads_under_toml() {
    let dir = tempfile::tempdir().unwrap();
    let conf = write(
        dir.path(),
        "persister.conf",
        "[DEFAULT]\nlog_file = persister.log\n\n[influxdb]\ndatabase_name = mon_db\n\
         ip_address = 192.0.2.7\nport = 8087\nuser = mon_persister\npassword = pw\n\
         default_retention_hours = 48\n",
    );
    let cli = Cli::parse_from(["itm", "plan", "--config-file", conf.to_str().unwrap()]);
    let s = cli.load(1_700_000_000_000_000_000).unwrap();
    assert_eq!(s.source.url, "http://192.0.2.7:8087");
    assert_eq!(s.source.database, "mon_db");
    assert_eq!(s.source.username.as_deref(), Some("mon_persister"));
    assert_eq!(s.source.password.as_ref().unwrap().expose(), "pw");
    assert_eq!(s.retention.policy_name("any").as_deref(), Some("48h"));
    assert!(
        s.retention.default_from_persister,
        "plan names persister.conf"
    );
    // The old tool's default end offset (520 weeks) became a lower bound.
    assert!(s.window.from.is_some());

    let toml = write(
        dir.path(),
        "itm.toml",
        "[source]\ndatabase = \"from_toml\"\n",
    );
    let cli = Cli::parse_from([
        "itm",
        "--config",
        toml.to_str().unwrap(),
        "plan",
        "--persister-config",
        conf.to_str().unwrap(),
        "--source-url",
        "http://flag:1",
    ]);
    let s = cli.load(1_700_000_000_000_000_000).unwrap();
    assert_eq!(s.source.database, "from_toml");
    assert_eq!(s.source.url, "http://flag:1");
    assert_eq!(s.source.username.as_deref(), Some("mon_persister"));

    // An explicit --default-retention wins over default_retention_hours, and says so.
    let cli = Cli::parse_from([
        "itm",
        "plan",
        "--config-file",
        conf.to_str().unwrap(),
        "--default-retention",
        "3d",
    ]);
    let s = cli.load(1_700_000_000_000_000_000).unwrap();
    assert_eq!(s.retention.policy_name("any").as_deref(), Some("3d"));
    assert!(!s.retention.default_from_persister);
}

/// A broken persister.conf stops the binary with exit code 2 and one line naming the
/// file and the key; so do a bad old flag and an old and a new flag for one setting.
#[test]
fn broken_persister_conf_names_key() {
    let dir = tempfile::tempdir().unwrap();
    let bin = env!("CARGO_BIN_EXE_influx-tenant-migrate");
    let conf = write(
        dir.path(),
        "persister.conf",
        "[influxdb]\nip_address = 127.0.0.1\nport = 80a86\n",
    );
    let out = Command::new(bin)
        .args(["plan", "--config-file", conf.to_str().unwrap()])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("[influxdb] port"), "{err}");
    assert!(err.contains(conf.to_str().unwrap()), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");

    let conf = write(
        dir.path(),
        "p2.conf",
        "[influxdb]\ndatabase_name = mon\ndefault_retention_hours = 0\nip_address = 127.0.0.1\n",
    );
    let out = Command::new(bin)
        .args(["plan", "--config-file", conf.to_str().unwrap()])
        .args(["--migrate-end-time-offset", "0"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("--migrate-end-time-offset"), "{err}");

    let out = Command::new(bin)
        .args([
            "plan",
            "--migrate-skip-regex",
            "^log",
            "--skip-regex",
            "^cpu",
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("--migrate-skip-regex") && err.contains("--skip-regex"),
        "{err}"
    );
}
