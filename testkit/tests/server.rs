//! Integration tests of `InfluxServer` against a real `influxd`.

use std::time::Duration;
use testkit::{InfluxServer, ServerOptions};

fn count(server: &InfluxServer, db: &str, q: &str) -> i64 {
    let v = server.query(Some(db), q).unwrap();
    v["results"][0]["series"][0]["values"][0][1]
        .as_i64()
        .unwrap_or(0)
}

/// A server starts, answers /ping, binds loopback only, and takes writes and queries.
#[test]
fn server_starts_and_answers() {
    let server = InfluxServer::start().unwrap();
    assert!(server.ping());
    assert!(server.url().starts_with("http://127.0.0.1:"));
    assert_eq!(
        server.url(),
        format!("http://127.0.0.1:{}", server.http_port())
    );
    assert!(server.dir().join("influxd.toml").is_file());
    assert!(
        server.databases().unwrap().is_empty(),
        "no _internal database expected"
    );
    server.create_database("db").unwrap();
    server
        .write_lines("db", "m,h=a value=1.5 1000\nm,h=b value=2.5 2000\n")
        .unwrap();
    assert_eq!(count(&server, "db", "SELECT count(value) FROM m"), 2);
    assert_eq!(server.databases().unwrap(), vec!["db".to_string()]);
    let cfg = std::fs::read_to_string(server.config_path()).unwrap();
    for line in cfg.lines().filter(|l| l.contains("bind-address")) {
        assert!(line.contains("127.0.0.1:"), "{line}");
    }
}

/// Two servers run side by side on different ports with separate data.
#[test]
fn two_servers_in_parallel() {
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(InfluxServer::start);
        let b = s.spawn(InfluxServer::start);
        (a.join().unwrap().unwrap(), b.join().unwrap().unwrap())
    });
    assert_ne!(a.http_port(), b.http_port());
    assert_ne!(a.pid(), b.pid());
    a.create_database("only_a").unwrap();
    assert!(b.databases().unwrap().is_empty());
    assert_eq!(a.databases().unwrap(), vec!["only_a".to_string()]);
}

/// restart() after SIGTERM, and after a SIGKILL crash, keeps data, directory and port.
#[test]
fn restart_keeps_data() {
    let mut server = InfluxServer::start().unwrap();
    server.create_database("db").unwrap();
    server
        .write_lines("db", "m value=1.0 1\nm value=2.0 2\n")
        .unwrap();
    let url = server.url();
    let old_pid = server.pid();
    server.restart().unwrap();
    assert_ne!(server.pid(), old_pid);
    assert_eq!(server.url(), url);
    assert_eq!(count(&server, "db", "SELECT count(value) FROM m"), 2);

    server.write_lines("db", "m value=3.0 3\n").unwrap();
    server.kill();
    assert!(!server.is_running());
    assert!(!server.ping());
    server.restart().unwrap();
    assert!(server.is_running());
    assert_eq!(
        count(&server, "db", "SELECT count(value) FROM m"),
        3,
        "WAL replay after SIGKILL"
    );
}

/// terminate() stops the process; dropping the server kills it and removes its directory.
#[test]
fn terminate_and_drop_clean_up() {
    let mut server = InfluxServer::start().unwrap();
    server.terminate();
    assert!(!server.is_running());
    server.restart().unwrap();
    let pid = server.pid() as libc::pid_t;
    let dir = server.dir().to_path_buf();
    drop(server);
    // SAFETY: signal 0 only checks whether the pid exists.
    let alive = unsafe { libc::kill(pid, 0) } == 0;
    assert!(!alive, "influxd {pid} still exists after drop");
    assert!(!dir.exists());
}

/// With auth on, the admin user works and a bad password or no credentials are refused.
#[test]
fn auth_rejects_bad_password() {
    let server =
        InfluxServer::start_with(ServerOptions::default().auth("admin", "s3cret'\"")).unwrap();
    assert_eq!(server.credentials(), Some(("admin", "s3cret'\"")));
    server.create_database("db").unwrap();
    server.write_lines("db", "m value=1.0 1\n").unwrap();
    let err = server
        .query_as(None, "SHOW DATABASES", Some(("admin", "wrong")))
        .unwrap_err();
    assert!(
        format!("{err:#}").contains("authorization failed"),
        "{err:#}"
    );
    assert!(format!("{err:#}").contains("401"), "{err:#}");
    let err = server.query_as(None, "SHOW DATABASES", None).unwrap_err();
    assert!(
        format!("{err:#}").contains("unable to parse authentication credentials"),
        "{err:#}"
    );
}

/// max-row-limit and max-select-series reach the server config and take effect.
#[test]
fn limits_are_applied() {
    let server = InfluxServer::start_with(
        ServerOptions::default()
            .max_row_limit(3)
            .max_select_series(2)
            .query_timeout(Duration::from_secs(60)),
    )
    .unwrap();
    server.create_database("db").unwrap();
    let lines: String = (0..10)
        .map(|i| format!("m,h=h{} value={i}.5 {i}\n", i % 3))
        .collect();
    server.write_lines("db", &lines).unwrap();
    let v = server
        .query(Some("db"), "SELECT * FROM m WHERE h = 'h0'")
        .unwrap();
    assert_eq!(v["results"][0]["series"][0]["partial"], true);
    assert_eq!(
        v["results"][0]["series"][0]["values"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    let chunks = server
        .query_chunked(Some("db"), "SELECT * FROM m WHERE h = 'h0'", 100)
        .unwrap();
    assert_eq!(
        chunks[0]["results"][0]["series"][0]["values"]
            .as_array()
            .unwrap()
            .len(),
        4
    );
    let err = server
        .query(Some("db"), "SELECT * FROM m GROUP BY *")
        .unwrap_err();
    assert!(
        format!("{err:#}").contains("max-select-series limit exceeded"),
        "{err:#}"
    );
    let cfg = std::fs::read_to_string(server.config_path()).unwrap();
    assert!(cfg.contains("query-timeout = \"60000ms\""), "{cfg}");
}

/// Errors from the server come back as Err with InfluxDB's text.
#[test]
fn query_and_write_errors() {
    let server = InfluxServer::start().unwrap();
    let err = server.query(Some("nope"), "SELECT * FROM m").unwrap_err();
    assert!(
        format!("{err:#}").contains("database not found: nope"),
        "{err:#}"
    );
    let err = server.query(None, "SELEC 1").unwrap_err();
    assert!(
        format!("{err:#}").contains("error parsing query"),
        "{err:#}"
    );
    let err = server.write_lines("nope", "m value=1.0 1").unwrap_err();
    assert!(format!("{err:#}").contains("database not found"), "{err:#}");
}

/// retention_policies() reports name, duration, shard duration and the default flag.
#[test]
fn retention_policies_are_listed() {
    let server = InfluxServer::start().unwrap();
    server.create_database("db").unwrap();
    server
        .query(
            None,
            "CREATE RETENTION POLICY \"two_weeks\" ON \"db\" DURATION 2w REPLICATION 1 DEFAULT",
        )
        .unwrap();
    let rps = server.retention_policies("db").unwrap();
    assert_eq!(rps.len(), 2, "{rps:?}");
    assert_eq!(rps[0].name, "autogen");
    assert_eq!(rps[0].duration, "0s");
    assert!(!rps[0].default);
    assert_eq!(rps[1].name, "two_weeks");
    assert_eq!(rps[1].duration, "336h0m0s");
    assert_eq!(rps[1].shard_group_duration, "24h0m0s");
    assert!(rps[1].default);
}

/// `index_version("tsi1")` gives the server the disk-based series index (a shard
/// gets an `index` directory), `inmem` does not: the matrix's tsi1 pass really runs
/// on tsi1.
#[test]
fn index_version_is_applied() {
    for (index, has_index_dir) in [("tsi1", true), ("inmem", false)] {
        let server = InfluxServer::start_with(ServerOptions::default().index_version(index))
            .expect("start influxd");
        server.create_database("ix").unwrap();
        server
            .write_lines("ix", "m,t=x value=1 1000000000000000000")
            .unwrap();
        let shards = server.dir().join("data").join("ix").join("autogen");
        let shard = std::fs::read_dir(&shards)
            .unwrap()
            .next()
            .expect("a shard directory")
            .unwrap()
            .path();
        assert_eq!(
            shard.join("index").is_dir(),
            has_index_dir,
            "{index}: {}",
            shard.display()
        );
    }
}

/// `binary_version` names the version the server itself reports in
/// `X-Influxdb-Version`, so tests can compare the tool's output with it.
#[test]
fn binary_version_matches_the_header() {
    let server = InfluxServer::start().expect("start influxd");
    let resp = reqwest::blocking::get(format!("{}/ping", server.url())).unwrap();
    let header = resp.headers()["X-Influxdb-Version"]
        .to_str()
        .unwrap()
        .to_string();
    assert_eq!(server.binary_version().unwrap(), header);
}
