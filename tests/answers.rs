//! Complete answers or an error, against real `influxd` servers: a server whose
//! `[http] max-row-limit` is far below the size of discovery's answers still gets
//! every tenant migrated exactly, and an answer marked `partial` (set by a small proxy
//! in front of the server) fails the run loudly instead of being read as data.

mod common;

use common::*;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;
use testkit::{seed, DatasetSpec, InfluxServer, ServerOptions};

/// 90 tenants of five measurements: SHOW TAG VALUES answers 450 rows.
fn ninety_tenants() -> Vec<String> {
    (0..90).map(|i| format!("p{i:02}")).collect()
}

/// With `[http] max-row-limit = 20`, far below the 450 (measurement, tenant) rows of
/// SHOW TAG VALUES and the 92 databases of SHOW DATABASES after the run, every one of
/// the 90 tenants is discovered and migrated exactly, and a rerun finds them all done.
#[test]
fn row_limit_below_discovery_loses_no_tenant() {
    let server = InfluxServer::start_with(ServerOptions::default().max_row_limit(20))
        .expect("start influxd");
    let ids = ninety_tenants();
    let names: Vec<&str> = ids.iter().map(String::as_str).collect();
    let spec = DatasetSpec::monasca(&names, 1, Duration::from_secs(3600), now_ns());
    seed(&server, "monasca", &spec).expect("seed");
    let dir = tempfile::tempdir().unwrap();

    let plan = plan(&server, dir.path(), &[]);
    assert_eq!(plan["tenants"].as_object().map(|m| m.len()), Some(90));
    let summary = migrate(&server, dir.path(), &[]);
    assert_eq!(
        summary["points_written"].as_u64(),
        Some(spec.point_count()),
        "{summary}"
    );
    assert_tenants_exact(&server, &names);
    let again = migrate(&server, dir.path(), &[]);
    assert_eq!(again["failures"].as_array().map(Vec::len), Some(0));
}

/// When the answer to SHOW TAG VALUES ends marked partial, `plan` and `run` exit 2
/// with one line naming the statement and `max-row-limit`, and nothing is copied.
#[test]
fn partial_discovery_answer_fails_plan_and_run() {
    let (server, dir) = small_source();
    let proxy = PartialProxy::start(server.http_port(), "SHOW TAG VALUES");
    for command in ["plan", "run"] {
        let o = via(&proxy.url(), dir.path(), &[command]);
        assert_exit(&o, 2);
        let err = stderr(&o);
        let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(lines.len(), 1, "{command}: {err}");
        assert!(lines[0].starts_with("error: "), "{command}: {err}");
        assert!(lines[0].contains("SHOW TAG VALUES"), "{command}: {err}");
        assert!(lines[0].contains("max-row-limit"), "{command}: {err}");
    }
    assert_eq!(databases(&server), vec!["monasca".to_string()]);
    assert!(ledger_records(dir.path()).is_empty());
}

/// When the answers to the copies (`SELECT ... INTO`) end marked partial, each chunk
/// fails: `run` exits 1, the failures name `max-row-limit`, and the ledger records
/// none of them as done.
#[test]
fn partial_copy_answer_fails_the_chunk() {
    let (server, dir) = small_source();
    let proxy = PartialProxy::start(server.http_port(), " INTO ");
    let o = via(&proxy.url(), dir.path(), &["run", "--json"]);
    assert_exit(&o, 1);
    let text = format!("{}{}", String::from_utf8_lossy(&o.stdout), stderr(&o));
    assert!(text.contains("max-row-limit"), "{text}");
    assert!(ledger_records(dir.path()).is_empty(), "{text}");
}

/// Two tenants over two weeks on a server without limits.
fn small_source() -> (InfluxServer, tempfile::TempDir) {
    let server = InfluxServer::start().expect("start influxd");
    let spec = DatasetSpec::monasca(&["t1", "t2"], 2, Duration::from_secs(3600), now_ns());
    seed(&server, "monasca", &spec).expect("seed");
    (server, tempfile::tempdir().unwrap())
}

/// The tool running `args` (command first) against the server at `url`, with its
/// ledger in `dir`: [`tool`] for a source reached through the proxy.
fn via(url: &str, dir: &Path, args: &[&str]) -> Output {
    let mut c = Command::new(bin());
    for (k, _) in std::env::vars() {
        if k.starts_with("ITM__") {
            c.env_remove(k);
        }
    }
    let (command, flags) = args.split_first().expect("a command");
    c.env("RUST_LOG", "warn")
        .arg(command)
        .arg("--source-url")
        .arg(url)
        .arg("--ledger")
        .arg(ledger_path(dir))
        .args(flags)
        .stdin(Stdio::null());
    output(c)
}

/// An HTTP proxy in front of a server that passes everything through, but marks
/// every statement result `"partial": true` in answers to requests whose query
/// contains `needle`: what a server that cut the answer short would send.
struct PartialProxy {
    port: u16,
}

impl PartialProxy {
    fn start(upstream: u16, needle: &'static str) -> PartialProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                std::thread::spawn(move || {
                    let _ = relay(conn, upstream, needle);
                });
            }
        });
        PartialProxy { port }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

/// Relays one request (one per connection: both sides are told to close) and its
/// answer, rewritten when the request's query contains `needle`.
fn relay(mut client: TcpStream, upstream: u16, needle: &str) -> std::io::Result<()> {
    let (head, body) = read_request(&mut client)?;
    let mut forwarded: Vec<u8> = head
        .lines()
        .filter(|l| !l.is_empty() && !l.to_ascii_lowercase().starts_with("connection:"))
        .map(|l| format!("{l}\r\n"))
        .collect::<String>()
        .into_bytes();
    forwarded.extend_from_slice(b"Connection: close\r\n\r\n");
    forwarded.extend_from_slice(&body);
    let mut up = TcpStream::connect(("127.0.0.1", upstream))?;
    up.write_all(&forwarded)?;
    let mut answer = Vec::new();
    up.read_to_end(&mut answer)?;
    let split = find(&answer, b"\r\n\r\n").expect("answer head") + 4;
    let head = String::from_utf8_lossy(&answer[..split]).into_owned();
    let mut text = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        unchunk(&answer[split..])
    } else {
        answer[split..].to_vec()
    };
    let query = String::from_utf8_lossy(&body).replace('+', " ");
    if query.contains(needle) {
        text = String::from_utf8_lossy(&text)
            .replace("\"statement_id\":0", "\"statement_id\":0,\"partial\":true")
            .into_bytes();
    }
    let mut out: String = head
        .lines()
        .filter(|l| {
            let l = l.to_ascii_lowercase();
            !l.is_empty()
                && !l.starts_with("transfer-encoding:")
                && !l.starts_with("content-length:")
                && !l.starts_with("connection:")
        })
        .map(|l| format!("{l}\r\n"))
        .collect();
    out.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        text.len()
    ));
    client.write_all(out.as_bytes())?;
    client.write_all(&text)?;
    client.flush()
}

/// The head (as text) and body of one HTTP request with a `Content-Length`.
fn read_request(s: &mut TcpStream) -> std::io::Result<(String, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut piece = [0u8; 8192];
    let head_end = loop {
        if let Some(p) = find(&buf, b"\r\n\r\n") {
            break p + 4;
        }
        let n = s.read(&mut piece)?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&piece[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .unwrap_or(0);
    while buf.len() < head_end + length {
        let n = s.read(&mut piece)?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&piece[..n]);
    }
    Ok((head, buf[head_end..].to_vec()))
}

/// The payload of an HTTP/1.1 chunked body.
fn unchunk(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = find(body, b"\r\n") {
        let size_text = String::from_utf8_lossy(&body[..eol]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap().trim(), 16)
            .expect("chunk size");
        if size == 0 {
            break;
        }
        out.extend_from_slice(&body[eol + 2..eol + 2 + size]);
        body = &body[eol + 2 + size + 2..];
    }
    out
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}
