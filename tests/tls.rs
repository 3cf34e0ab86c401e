//! HTTPS the way InfluxDB's own guide sets it up: private `influxd` servers with
//! `https-enabled = true` and certificates made by `openssl` in each test, against the
//! tool's binary.

mod common;

use common::{assert_exit, assert_tenants_exact, databases, ledger_records, now_ns, run, stderr};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;
use testkit::{assert_same, dump, seed, DatasetSpec, InfluxServer, ServerOptions};

const TENANTS: [&str; 2] = ["t1", "t2"];

/// A certificate and its private key, in a test's temp dir.
struct Pair {
    cert: PathBuf,
    key: PathBuf,
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The guide's recipe, `openssl req -x509 -nodes -newkey rsa:2048 -days 30
/// -subj /CN=<cn>` (a self-signed certificate marked CA:TRUE), with `san` added as
/// `-addext subjectAltName=...` when given.
fn self_signed(dir: &Path, name: &str, cn: &str, san: Option<&str>) -> Pair {
    let (key, cert) = (format!("{name}.key"), format!("{name}.crt"));
    let subj = format!("/CN={cn}");
    let mut args = vec![
        "req", "-x509", "-nodes", "-newkey", "rsa:2048", "-keyout", &key, "-out", &cert, "-days",
        "30", "-subj", &subj,
    ];
    let addext = san.map(|s| format!("subjectAltName={s}"));
    if let Some(a) = &addext {
        args.extend(["-addext", a]);
    }
    openssl(dir, &args);
    Pair {
        cert: dir.join(cert),
        key: dir.join(key),
    }
}

/// A CA and a server certificate for localhost (CA:FALSE) it signed: returns the CA's
/// certificate and the server's pair.
fn ca_chain(dir: &Path) -> (PathBuf, Pair) {
    let ca = self_signed(dir, "ca", "itm test CA", None);
    openssl(
        dir,
        &[
            "req",
            "-nodes",
            "-newkey",
            "rsa:2048",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=localhost",
        ],
    );
    std::fs::write(
        dir.join("server.ext"),
        "basicConstraints=CA:FALSE\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "30",
            "-extfile",
            "server.ext",
            "-out",
            "server.crt",
        ],
    );
    let server = Pair {
        cert: dir.join("server.crt"),
        key: dir.join("server.key"),
    };
    (ca.cert, server)
}

/// An HTTPS server with this certificate, seeded with two tenants over two weeks.
fn https_source(pair: &Pair) -> InfluxServer {
    let server =
        InfluxServer::start_with(ServerOptions::default().https(&pair.cert, &pair.key)).unwrap();
    assert!(server.url().starts_with("https://localhost:"));
    let spec = DatasetSpec::monasca(&TENANTS, 2, Duration::from_secs(3600), now_ns());
    seed(&server, "monasca", &spec).unwrap();
    server
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The error the tool printed: exactly one line, starting with `error:`.
fn one_error_line(err: &str) -> &str {
    let lines: Vec<&str> = err
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.contains(" WARN "))
        .collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert!(lines[0].starts_with("error:"), "{err}");
    lines[0]
}

/// Asserts the refused run wrote nothing: no database, no ledger record.
fn assert_nothing_written(server: &InfluxServer, dir: &Path) {
    assert_eq!(databases(server), vec!["monasca".to_string()]);
    assert!(ledger_records(dir).is_empty());
}

/// The guide's recipe as written (`openssl req -x509 -nodes -newkey rsa:2048 -keyout
/// influxdb-selfsigned.key -out influxdb-selfsigned.crt -days N`, the host name typed
/// as the CN: CA:TRUE, no subjectAltName), trusted with `--ca-file` pointing at that
/// very certificate: an exact copy, the host checked against the CN. Without
/// `--ca-file` the same server is refused with exit 2, one line naming the server,
/// the untrusted CA certificate and `--ca-file`, and nothing written.
#[test]
fn guide_certificate_trusted_with_ca_file() {
    let certs = tempfile::tempdir().unwrap();
    openssl(
        certs.path(),
        &[
            "req",
            "-x509",
            "-nodes",
            "-newkey",
            "rsa:2048",
            "-keyout",
            "influxdb-selfsigned.key",
            "-out",
            "influxdb-selfsigned.crt",
            "-days",
            "30",
            "-subj",
            "/CN=localhost",
        ],
    );
    let pair = Pair {
        cert: certs.path().join("influxdb-selfsigned.crt"),
        key: certs.path().join("influxdb-selfsigned.key"),
    };
    let server = https_source(&pair);
    let dir = tempfile::tempdir().unwrap();

    let refused = run(&server, dir.path(), &["run"]);
    assert_exit(&refused, 2);
    let err = stderr(&refused);
    let line = one_error_line(&err);
    assert!(line.contains(&server.url()), "{line}");
    assert!(line.contains("TLS refused"), "{line}");
    assert!(line.contains("untrusted CA certificate (CA:TRUE"), "{line}");
    assert!(line.contains("--ca-file / source.ca_file"), "{line}");
    assert_nothing_written(&server, dir.path());

    let ok = run(&server, dir.path(), &["run", "--ca-file", path(&pair.cert)]);
    assert_exit(&ok, 0);
    assert_tenants_exact(&server, &TENANTS);
}

/// A CA plus a server certificate it signed, `--ca-file` = the CA: an exact copy, as
/// before the pinning was added.
#[test]
fn ca_chain_trusted_with_ca_file() {
    let certs = tempfile::tempdir().unwrap();
    let (ca, pair) = ca_chain(certs.path());
    let server = https_source(&pair);
    let dir = tempfile::tempdir().unwrap();
    let ok = run(&server, dir.path(), &["run", "--ca-file", path(&ca)]);
    assert_exit(&ok, 0);
    assert_tenants_exact(&server, &TENANTS);
}

/// Host names stay checked: a certificate for another host name is refused even when
/// `--ca-file` trusts it (exit 2 naming the mismatch, nothing written), whether the
/// name is in its subjectAltName or, as the guide's recipe makes it, only in its CN.
#[test]
fn other_host_name_is_refused() {
    let certs = tempfile::tempdir().unwrap();
    let other = self_signed(certs.path(), "other", "otherhost", Some("DNS:otherhost"));
    let server = https_source(&other);
    let dir = tempfile::tempdir().unwrap();
    let out = run(
        &server,
        dir.path(),
        &["run", "--ca-file", path(&other.cert)],
    );
    assert_exit(&out, 2);
    let err = stderr(&out);
    let line = one_error_line(&err);
    assert!(line.contains("host name mismatch"), "{line}");
    assert!(line.contains("is for otherhost, not localhost"), "{line}");
    assert!(line.contains("--source-url / source.url"), "{line}");
    assert_nothing_written(&server, dir.path());

    let by_cn = self_signed(certs.path(), "by-cn", "otherhost", None);
    let server = https_source(&by_cn);
    let out = run(
        &server,
        dir.path(),
        &["run", "--ca-file", path(&by_cn.cert)],
    );
    assert_exit(&out, 2);
    let err = stderr(&out);
    let line = one_error_line(&err);
    assert!(line.contains("host name mismatch"), "{line}");
    assert!(
        line.contains("is for otherhost (its CN; it has no subjectAltName), not localhost"),
        "{line}"
    );
    assert!(line.contains("subjectAltName=DNS:"), "{line}");
    assert_nothing_written(&server, dir.path());
}

/// `--insecure-skip-verify` still copies from a server nothing trusts, and warns once
/// that verification is off, also for `verify --open`, which connects to the source
/// twice.
#[test]
fn insecure_skip_verify_warns_once() {
    let certs = tempfile::tempdir().unwrap();
    let other = self_signed(certs.path(), "other", "otherhost", Some("DNS:otherhost"));
    let server = https_source(&other);
    let dir = tempfile::tempdir().unwrap();
    let out = run(&server, dir.path(), &["run", "--insecure-skip-verify"]);
    assert_exit(&out, 0);
    let err = stderr(&out);
    assert_eq!(
        err.matches("TLS certificate verification is off").count(),
        1,
        "{err}"
    );
    assert_tenants_exact(&server, &TENANTS);

    let out = run(
        &server,
        dir.path(),
        &["verify", "--open", "--insecure-skip-verify"],
    );
    assert_exit(&out, 0);
    let err = stderr(&out);
    assert_eq!(
        err.matches("TLS certificate verification is off").count(),
        1,
        "{err}"
    );
}

/// Stream mode to a second HTTPS server with its own self-signed certificate: without
/// `--target-ca-file` the run is refused naming that setting and writes nothing on the
/// target; with it the copy is exact.
#[test]
fn stream_to_https_target_with_target_ca_file() {
    let certs = tempfile::tempdir().unwrap();
    let san = Some("DNS:localhost,IP:127.0.0.1");
    let source_pair = self_signed(certs.path(), "source", "localhost", san);
    let target_pair = self_signed(certs.path(), "target", "localhost", san);
    let source = https_source(&source_pair);
    let target = InfluxServer::start_with(
        ServerOptions::default().https(&target_pair.cert, &target_pair.key),
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let base = [
        "run",
        "--ca-file",
        path(&source_pair.cert),
        "--target-url",
        &target.url(),
    ];

    let refused = run(&source, dir.path(), &base);
    assert_exit(&refused, 2);
    let err = stderr(&refused);
    let line = one_error_line(&err);
    assert!(line.contains(&target.url()), "{line}");
    assert!(line.contains("--target-ca-file / target.ca_file"), "{line}");
    assert!(databases(&target).is_empty(), "{:?}", databases(&target));
    assert!(ledger_records(dir.path()).is_empty());

    let mut args = base.to_vec();
    args.extend(["--target-ca-file", path(&target_pair.cert)]);
    let ok = run(&source, dir.path(), &args);
    assert_exit(&ok, 0);
    for t in TENANTS {
        let expected = dump(&source, "monasca", Some(("_tenant_id", t))).unwrap();
        assert!(expected.point_count() > 0);
        let actual = dump(&target, &common::target(t), None).unwrap();
        assert_same(&expected, &actual);
    }
}
