//! What a Monasca cutover finds on real servers, against private `influxd` 1.6.7s: a
//! source created the kolla-ansible way, a persister.conf with
//! `default_retention_hours`, a tenant database the persister created before the run,
//! and a server with auth where monasca-api and the persister run as non-admin users.
//! The retention policies, shard group durations, default policies and grants the
//! run leaves are read back from the server.

mod common;

use common::{assert_exit, ledger_path, now_ns, output, stderr, tool};
use serde_json::Value;
use std::path::Path;
use std::process::Command;
use testkit::{InfluxServer, RetentionPolicyInfo, ServerOptions};

const HOUR: i64 = 3_600_000_000_000;
const ADMIN: (&str, &str) = ("admin", "adminpw");

/// Three points per tenant in the last hours, into the database's default policy
/// (the database is created when missing).
fn write_tenants(server: &InfluxServer, db: &str, tenants: &[&str]) {
    server
        .query(None, &format!("CREATE DATABASE \"{db}\""))
        .unwrap();
    let now = now_ns();
    let mut lines = String::new();
    for t in tenants {
        for k in 1..=3 {
            lines.push_str(&format!(
                "cpu.idle_perc,_tenant_id={t},hostname=h{k},_region=r1 value={k}.5 {}\n",
                now - k * HOUR
            ));
        }
    }
    server.write_lines(db, &lines).unwrap();
}

fn count(server: &InfluxServer, db: &str, rp: &str) -> i64 {
    let q = format!("SELECT count(value) FROM \"{db}\".\"{rp}\".\"cpu.idle_perc\"");
    let v = server.query(None, &q).unwrap();
    v["results"][0]["series"][0]["values"][0][1]
        .as_i64()
        .unwrap_or(0)
}

fn policies(server: &InfluxServer, db: &str) -> Vec<(String, String, String, bool)> {
    let rps: Vec<RetentionPolicyInfo> = server.retention_policies(db).unwrap();
    rps.into_iter()
        .map(|p| (p.name, p.duration, p.shard_group_duration, p.default))
        .collect()
}

fn json(o: &std::process::Output) -> Value {
    serde_json::from_slice(&o.stdout).expect("JSON on stdout")
}

/// kolla-ansible's source (`WITH DURATION 1w ... NAME monasca_metrics`, no autogen):
/// without retention flags every new tenant database gets exactly one policy, the
/// default `monasca_metrics` of 1w with 1d shard groups (InfluxDB's guidance for a
/// week), not an infinite `autogen`; `plan` says why, and every point is copied.
#[test]
fn kolla_source_policy_is_mirrored() {
    let server = InfluxServer::start().unwrap();
    server
        .query(
            None,
            "CREATE DATABASE monasca WITH DURATION 1w REPLICATION 1 NAME monasca_metrics",
        )
        .unwrap();
    write_tenants(&server, "monasca", &["t1", "t2"]);
    let dir = tempfile::tempdir().unwrap();

    let o = output(tool(&server, dir.path(), &["plan", "--json"]));
    assert_exit(&o, 0);
    let p = json(&o);
    for t in p["targets"].as_array().unwrap() {
        assert_eq!(t["retention_policy"], "monasca_metrics", "{t}");
        assert_eq!(t["why"], "mirrors source policy monasca_metrics", "{t}");
        assert_eq!(t["shard_group_ns"], 24 * HOUR, "{t}");
    }
    let o = output(tool(&server, dir.path(), &["plan"]));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("mirrors source policy monasca_metrics"),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );

    let o = output(tool(&server, dir.path(), &["run"]));
    assert_exit(&o, 0);
    for t in ["t1", "t2"] {
        let db = format!("monasca_{t}");
        assert_eq!(
            policies(&server, &db),
            vec![(
                "monasca_metrics".into(),
                "168h0m0s".into(),
                "24h0m0s".into(),
                true
            )],
            "{db}"
        );
        assert_eq!(count(&server, &db, "monasca_metrics"), 3, "{db}");
    }
}

/// The drop-in with a persister.conf whose `default_retention_hours = 2160`: new
/// tenant databases get the persister's own `2160h` default policy (90 days, 7d shard
/// groups), so they look like those the persister creates later; `--shard-duration`
/// overrides the shard group duration.
#[test]
fn persister_default_retention_hours_names_the_policy() {
    let server = InfluxServer::start().unwrap();
    write_tenants(&server, "monasca", &["t1"]);
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("persister.conf");
    std::fs::write(
        &conf,
        format!(
            "[influxdb]\ndatabase_name = monasca\nip_address = 127.0.0.1\nport = {}\n\
             default_retention_hours = 2160\ndb_per_tenant = false\n",
            server.http_port()
        ),
    )
    .unwrap();
    let conf = conf.to_str().unwrap();
    let o = output(tool(
        &server,
        dir.path(),
        &["plan", "--json", "--persister-config", conf],
    ));
    assert_exit(&o, 0);
    assert_eq!(
        json(&o)["targets"][0]["why"],
        "persister.conf default_retention_hours"
    );
    let o = output(tool(
        &server,
        dir.path(),
        &["run", "--persister-config", conf],
    ));
    assert_exit(&o, 0);
    assert_eq!(
        policies(&server, "monasca_t1"),
        vec![("2160h".into(), "2160h0m0s".into(), "168h0m0s".into(), true)]
    );
    assert_eq!(count(&server, "monasca_t1", "2160h"), 3);

    let other = tempfile::tempdir().unwrap();
    write_tenants(&server, "monasca", &["t2"]);
    let o = output(tool(
        &server,
        other.path(),
        &[
            "run",
            "--persister-config",
            conf,
            "--tenant-include",
            "^t2$",
            "--shard-duration",
            "1d",
        ],
    ));
    assert_exit(&o, 0);
    assert_eq!(
        policies(&server, "monasca_t2"),
        vec![("2160h".into(), "2160h0m0s".into(), "24h0m0s".into(), true)]
    );
}

/// A tenant database the persister created first (as monasca-persister does with
/// `default_retention_hours = 0`: `CREATE DATABASE`, points into `autogen`) and
/// `--retention t1=2w`: the default policy stays `autogen`, no `2w` policy appears,
/// the copies land in `autogen` beside the persister's points, and the run exits 0
/// listing the request as not applied with the statement that would apply it.
#[test]
fn existing_default_policy_is_never_switched() {
    let server = InfluxServer::start().unwrap();
    write_tenants(&server, "monasca", &["t1", "t2"]);
    server
        .query(None, "CREATE DATABASE \"monasca_t1\"")
        .unwrap();
    server
        .write_lines(
            "monasca_t1",
            &format!(
                "cpu.idle_perc,hostname=new,_region=r1 value=9 {}\n",
                now_ns() - 60_000_000_000
            ),
        )
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let statement = r#"CREATE RETENTION POLICY "2w" ON "monasca_t1" DURATION 2w REPLICATION 1 SHARD DURATION 1w DEFAULT"#;

    let o = output(tool(&server, dir.path(), &["plan", "--retention", "t1=2w"]));
    assert_exit(&o, 0);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("existing default"), "{text}");
    assert!(text.contains(statement), "{text}");

    let report = dir.path().join("report.json");
    let o = output(tool(
        &server,
        dir.path(),
        &[
            "run",
            "--json",
            "--retention",
            "t1=2w",
            "--report",
            report.to_str().unwrap(),
        ],
    ));
    assert_exit(&o, 0);
    let summary = json(&o);
    let na = &summary["retention_not_applied"];
    assert_eq!(na.as_array().unwrap().len(), 1, "{summary}");
    assert_eq!(na[0]["current_policy"], "autogen");
    assert_eq!(na[0]["requested_policy"], "2w");
    assert_eq!(na[0]["statement"], statement);
    let err = stderr(&o);
    assert!(
        err.contains("retention not applied") && err.contains(statement),
        "{err}"
    );
    let r: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(
        r["summary"]["retention_not_applied"][0]["statement"],
        statement
    );

    let rps = policies(&server, "monasca_t1");
    assert_eq!(rps.len(), 1, "{rps:?}");
    assert_eq!((rps[0].0.as_str(), rps[0].3), ("autogen", true));
    assert_eq!(
        count(&server, "monasca_t1", "autogen"),
        4,
        "3 copied + 1 new"
    );
    assert_eq!(
        policies(&server, "monasca_t2")[0].0,
        "autogen",
        "t2 is new and mirrors the source's autogen"
    );
}

/// POSTs one point to `/write` on `db` as `user`; the HTTP status.
fn write_as(server: &InfluxServer, db: &str, user: (&str, &str)) -> String {
    let out = Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "-u"])
        .arg(format!("{}:{}", user.0, user.1))
        .args(["--data-binary", "cpu.idle_perc,hostname=svc value=1"])
        .arg(format!("{}/write?db={db}", server.url()))
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// GETs a query on `db` as `user` (the way monasca-api reads); the HTTP status.
fn read_as(server: &InfluxServer, db: &str, user: (&str, &str)) -> String {
    let out = Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "-G", "-u"])
        .arg(format!("{}:{}", user.0, user.1))
        .args([
            "--data-urlencode",
            "q=SELECT count(value) FROM \"cpu.idle_perc\"",
        ])
        .args(["--data-urlencode", &format!("db={db}")])
        .arg(format!("{}/query", server.url()))
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn grants_of(server: &InfluxServer, user: &str) -> Vec<(String, String)> {
    let v = server
        .query(None, &format!("SHOW GRANTS FOR \"{user}\""))
        .unwrap();
    let mut out: Vec<(String, String)> = v["results"][0]["series"][0]["values"]
        .as_array()
        .map(|rows| {
            rows.iter()
                .map(|r| (r[0].as_str().unwrap().into(), r[1].as_str().unwrap().into()))
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

fn auth_server() -> InfluxServer {
    let server = InfluxServer::start_with(ServerOptions::default().auth(ADMIN.0, ADMIN.1)).unwrap();
    server
        .query(
            None,
            "CREATE DATABASE monasca WITH DURATION 1w REPLICATION 1 NAME monasca_metrics",
        )
        .unwrap();
    server.query(None, "CREATE DATABASE other").unwrap();
    for (user, grant) in [
        ("mon_api", Some("READ")),
        ("mon_persister", Some("WRITE")),
        ("mon_all", Some("ALL")),
        ("nobody", None),
    ] {
        server
            .query(None, &format!("CREATE USER \"{user}\" WITH PASSWORD 'pw'"))
            .unwrap();
        if let Some(g) = grant {
            server
                .query(None, &format!("GRANT {g} ON monasca TO \"{user}\""))
                .unwrap();
        }
    }
    server.query(None, "GRANT READ ON other TO nobody").unwrap();
    write_tenants(&server, "monasca", &["t1", "t2"]);
    server
}

fn as_user(server: &InfluxServer, dir: &Path, user: &str, pw: &str, args: &[&str]) -> Command {
    let mut c = tool(server, dir, args);
    c.args(["--username", user])
        .env("ITM__SOURCE__PASSWORD", pw);
    c
}

/// On a server with auth, a run as admin grants each non-admin user exactly its
/// privilege on `monasca` (READ, WRITE, ALL) on every tenant database, created or
/// existing, and nothing to a user without one; `plan` lists the grants. Then
/// monasca-api's user reads (200) and the persister's writes (204) each tenant
/// database with its own credentials, and a READ-only user still cannot write (403).
/// A rerun grants again without error.
#[test]
fn service_users_keep_their_access() {
    let server = auth_server();
    server.query(None, "CREATE DATABASE monasca_t2").unwrap();
    let dir = tempfile::tempdir().unwrap();

    let o = output(as_user(
        &server,
        dir.path(),
        ADMIN.0,
        ADMIN.1,
        &["plan", "--json"],
    ));
    assert_exit(&o, 0);
    let g = json(&o)["grants"].clone();
    assert_eq!(
        g,
        serde_json::json!([
            {"user": "mon_all", "privilege": "ALL"},
            {"user": "mon_api", "privilege": "READ"},
            {"user": "mon_persister", "privilege": "WRITE"},
        ])
    );
    for _ in 0..2 {
        let o = output(as_user(&server, dir.path(), ADMIN.0, ADMIN.1, &["run"]));
        assert_exit(&o, 0);
    }
    for db in ["monasca_t1", "monasca_t2"] {
        for (user, privilege) in [
            ("mon_api", "READ"),
            ("mon_persister", "WRITE"),
            ("mon_all", "ALL PRIVILEGES"),
        ] {
            assert!(
                grants_of(&server, user).contains(&(db.to_string(), privilege.to_string())),
                "{user} on {db}: {:?}",
                grants_of(&server, user)
            );
        }
        assert_eq!(read_as(&server, db, ("mon_api", "pw")), "200", "{db}");
        assert_eq!(
            write_as(&server, db, ("mon_persister", "pw")),
            "204",
            "{db}"
        );
        assert_eq!(write_as(&server, db, ("mon_api", "pw")), "403", "{db}");
        assert_eq!(read_as(&server, db, ("mon_all", "pw")), "200", "{db}");
    }
    assert_eq!(
        grants_of(&server, "nobody"),
        vec![("other".to_string(), "READ".to_string())]
    );

    let off = tempfile::tempdir().unwrap();
    server
        .query(None, "CREATE USER late WITH PASSWORD 'pw'")
        .unwrap();
    server.query(None, "GRANT READ ON monasca TO late").unwrap();
    let o = output(as_user(
        &server,
        off.path(),
        ADMIN.0,
        ADMIN.1,
        &["run", "--no-grants"],
    ));
    assert_exit(&o, 0);
    assert!(grants_of(&server, "late")
        .iter()
        .all(|(db, _)| db == "monasca"));
}

/// Run as a non-admin user (ALL on `monasca` and on the tenant databases an admin
/// created): users cannot be listed, and the run says so in exactly one line and
/// still copies (exit 0); `plan` notes it.
#[test]
fn non_admin_run_says_grants_are_not_copied() {
    let server = auth_server();
    for db in ["monasca_t1", "monasca_t2"] {
        server
            .query(None, &format!("CREATE DATABASE {db}"))
            .unwrap();
        server
            .query(None, &format!("GRANT ALL ON {db} TO mon_all"))
            .unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let o = output(as_user(
        &server,
        dir.path(),
        "mon_all",
        "pw",
        &["plan", "--json"],
    ));
    assert_exit(&o, 0);
    let note = json(&o)["grants_note"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(note.contains("needs admin rights"), "{note}");

    let o = output(as_user(&server, dir.path(), "mon_all", "pw", &["run"]));
    assert_exit(&o, 0);
    let err = stderr(&o);
    let lines: Vec<&str> = err
        .lines()
        .filter(|l| l.contains("cannot list users"))
        .collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert_eq!(count(&server, "monasca_t1", "autogen"), 3);
    assert!(ledger_path(dir.path()).exists());
}
