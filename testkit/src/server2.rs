//! A private, throwaway InfluxDB 2.x `influxd` per test, set up through `/api/v2/setup`.
//!
//! Each [`Influx2Server`] runs its own process with its bolt file, SQLite file and
//! engine directory in a temporary directory, listening only on 127.0.0.1 (a free
//! port picked at start), then creates its first user, organization, bucket and
//! all-access token as an operator's `influx setup` does. Dropping it kills the
//! process and removes the directory.
//!
//! The binary is `$ITM_INFLUXD2`, else the one `scripts/influxd 2.x` built and pinned
//! in its cache: 2.x is built from the Go module proxy, never taken from `PATH` (where
//! a 1.x `influxd` of the same name usually is).

use crate::server::{chunked_query, first_column, free_port, tail, InfluxQl};
use anyhow::{anyhow, bail, Context, Result};
use serde_json::{json, Value};
use std::fs::{self, OpenOptions};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// Environment variable naming the InfluxDB 2.x `influxd` binary.
pub const INFLUXD2_ENV: &str = "ITM_INFLUXD2";
/// The organization every test server is set up with.
pub const ORG: &str = "itm";
/// The all-access token every test server is set up with (a throwaway server's).
pub const ADMIN_TOKEN: &str = "itm-admin-token-for-tests-only";
/// The first user's name and password.
pub const ADMIN: (&str, &str) = ("admin", "admin-password");

const START_TIMEOUT: Duration = Duration::from_secs(30);
const START_ATTEMPTS: usize = 3;
const HTTP_TIMEOUT: Duration = Duration::from_secs(300);

/// The message when no 2.x `influxd` can be found.
pub const NOT_FOUND2: &str = "InfluxDB 2.x influxd not found: build it with `scripts/influxd 2.x` (Go and the Go module proxy; about 6 minutes) and set ITM_INFLUXD2 to the path it prints, or run scripts/test, which does both";

/// The 2.x binary: `$ITM_INFLUXD2`, else what `scripts/influxd 2.x` pinned in its cache
/// (`${ITM_CACHE:-~/.cache/influx-tenant-migrate}/influxd/resolved/2`).
pub fn find_influxd2() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os(INFLUXD2_ENV).filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        if p.is_file() {
            return Ok(p);
        }
        bail!(
            "{NOT_FOUND2} ({INFLUXD2_ENV}={} is not a file)",
            p.display()
        );
    }
    let cache = std::env::var_os("ITM_CACHE")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache/influx-tenant-migrate"))
        })
        .map(|c| c.join("influxd"));
    if let Some(cache) = cache {
        if let Ok(tag) = fs::read_to_string(cache.join("resolved/2")) {
            let bin = cache.join(tag.trim()).join("influxd");
            if bin.is_file() {
                return Ok(bin);
            }
        }
    }
    bail!("{NOT_FOUND2}")
}

/// A bucket as `/api/v2/buckets` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketInfo {
    /// Bucket id.
    pub id: String,
    /// Bucket name.
    pub name: String,
    /// Retention in seconds (0: forever).
    pub every_seconds: i64,
    /// Shard group duration in seconds.
    pub shard_group_seconds: i64,
}

/// A DBRP mapping as `/api/v2/dbrps` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbrpInfo {
    /// The 1.x database name.
    pub database: String,
    /// The 1.x retention policy name.
    pub retention_policy: String,
    /// Whether it is the database's default policy.
    pub default: bool,
    /// The bucket it maps to.
    pub bucket_id: String,
    /// Made by the server for a bucket (database = bucket name, policy `autogen`),
    /// not by a client.
    pub is_virtual: bool,
}

/// A v1-compatible authorization: the user name and its (action, bucket id) pairs,
/// sorted.
pub type V1Authorization = (String, Vec<(String, String)>);

/// A private InfluxDB 2.x process. See the module doc.
pub struct Influx2Server {
    dir: TempDir,
    binary: PathBuf,
    port: u16,
    child: Option<Child>,
    client: reqwest::blocking::Client,
    org_id: String,
}

impl std::fmt::Debug for Influx2Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Influx2Server")
            .field("url", &self.url())
            .field("dir", &self.dir.path())
            .finish()
    }
}

impl Influx2Server {
    /// Starts a server and sets it up (organization [`ORG`], token [`ADMIN_TOKEN`]).
    /// Fails, never skips, when the binary is missing ([`NOT_FOUND2`]).
    pub fn start() -> Result<Influx2Server> {
        let binary = find_influxd2()?;
        let dir = tempfile::Builder::new()
            .prefix("itm-influxd2-")
            .tempdir()
            .context("creating the server's temp dir")?;
        let client = reqwest::blocking::Client::builder()
            .timeout(HTTP_TIMEOUT)
            .no_proxy()
            .build()
            .context("building the HTTP client")?;
        let mut server = Influx2Server {
            dir,
            binary,
            port: 0,
            child: None,
            client,
            org_id: String::new(),
        };
        server.launch()?;
        server.setup()?;
        Ok(server)
    }

    /// Base URL, `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The organization's id.
    pub fn org_id(&self) -> &str {
        &self.org_id
    }

    /// The server's private directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The last `max_bytes` of the server log.
    pub fn log_tail(&self, max_bytes: u64) -> String {
        tail(&self.dir.path().join("influxd.log"), max_bytes)
    }

    /// The version the server reports on `/health` (`v2.9.1`).
    pub fn version(&self) -> Result<String> {
        let v: Value = self
            .client
            .get(format!("{}/health", self.url()))
            .send()?
            .json()?;
        v["version"]
            .as_str()
            .map(String::from)
            .ok_or_else(|| anyhow!("/health gave no version: {v}"))
    }

    fn launch(&mut self) -> Result<()> {
        let mut errors = Vec::new();
        for attempt in 0..START_ATTEMPTS {
            self.port = free_port()?;
            match self.spawn_and_wait() {
                Ok(()) => return Ok(()),
                Err(e) => {
                    self.kill();
                    errors.push(format!(
                        "attempt {} (port {}): {e:#}\n--- influxd log ---\n{}",
                        attempt + 1,
                        self.port,
                        self.log_tail(4000)
                    ));
                }
            }
        }
        bail!(
            "influxd 2.x ({}) did not start after {START_ATTEMPTS} attempts in {}:\n{}",
            self.binary.display(),
            self.dir.path().display(),
            errors.join("\n")
        )
    }

    fn spawn_and_wait(&mut self) -> Result<()> {
        let d = self.dir.path();
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(d.join("influxd.log"))
            .context("opening influxd.log")?;
        let child = Command::new(&self.binary)
            .arg("--bolt-path")
            .arg(d.join("influxd.bolt"))
            .arg("--sqlite-path")
            .arg(d.join("influxd.sqlite"))
            .arg("--engine-path")
            .arg(d.join("engine"))
            .arg("--http-bind-address")
            .arg(format!("127.0.0.1:{}", self.port))
            .arg("--reporting-disabled")
            .arg("--log-level")
            .arg("warn")
            // A config file in the working directory or named by the environment
            // would be read: the server gets an empty directory of its own.
            .current_dir(d)
            .env_remove("INFLUXD_CONFIG_PATH")
            .env("INFLUXD_CONFIG_PATH", d)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("spawning {}", self.binary.display()))?;
        self.child = Some(child);
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(child) = self.child.as_mut() {
                if let Some(status) = child.try_wait()? {
                    bail!("influxd exited early: {status}");
                }
            }
            let ready = self
                .client
                .get(format!("{}/health", self.url()))
                .timeout(Duration::from_secs(2))
                .send()
                .map(|r| r.status().is_success())
                .unwrap_or(false);
            if ready {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("no answer on /health within {START_TIMEOUT:?}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn setup(&mut self) -> Result<()> {
        let body = json!({
            "username": ADMIN.0, "password": ADMIN.1, "org": ORG,
            "bucket": "setup", "token": ADMIN_TOKEN,
        });
        let v = self.send("POST", "/api/v2/setup", Some(body))?;
        self.org_id = v["org"]["id"]
            .as_str()
            .ok_or_else(|| anyhow!("/api/v2/setup gave no org id: {v}"))?
            .to_string();
        Ok(())
    }

    /// Sends an API request with the admin token; a non-2xx answer is an `Err` with
    /// the server's message. Returns the JSON answer (`Null` for an empty body).
    pub fn send(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value> {
        let method = reqwest::Method::from_bytes(method.as_bytes())?;
        let mut req = self
            .client
            .request(method.clone(), format!("{}{path}", self.url()))
            .header("Authorization", format!("Token {ADMIN_TOKEN}"));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().with_context(|| format!("{method} {path}"))?;
        let status = resp.status();
        let text = resp.text()?;
        if !status.is_success() {
            bail!("{method} {path}: HTTP {status}: {text}");
        }
        if text.trim().is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_str(&text).with_context(|| format!("{method} {path}: {text}"))
    }

    /// Every bucket of the organization (the system buckets too), by name, page by
    /// page.
    pub fn buckets(&self) -> Result<Vec<BucketInfo>> {
        let mut out = Vec::new();
        loop {
            let path = format!(
                "/api/v2/buckets?orgID={}&limit=100&offset={}",
                self.org_id,
                out.len()
            );
            let v = self.send("GET", &path, None)?;
            let page = v["buckets"].as_array().cloned().unwrap_or_default();
            for b in &page {
                let rule = b["retentionRules"].get(0);
                out.push(BucketInfo {
                    id: b["id"].as_str().unwrap_or_default().to_string(),
                    name: b["name"].as_str().unwrap_or_default().to_string(),
                    every_seconds: rule.and_then(|r| r["everySeconds"].as_i64()).unwrap_or(0),
                    shard_group_seconds: rule
                        .and_then(|r| r["shardGroupDurationSeconds"].as_i64())
                        .unwrap_or(0),
                });
            }
            if page.len() < 100 {
                break;
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// Every DBRP mapping of the organization.
    pub fn dbrps(&self) -> Result<Vec<DbrpInfo>> {
        let v = self.send("GET", &format!("/api/v2/dbrps?orgID={}", self.org_id), None)?;
        let mut out: Vec<DbrpInfo> = v["content"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|m| DbrpInfo {
                database: m["database"].as_str().unwrap_or_default().to_string(),
                retention_policy: m["retention_policy"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                default: m["default"].as_bool().unwrap_or(false),
                bucket_id: m["bucketID"].as_str().unwrap_or_default().to_string(),
                is_virtual: m["virtual"].as_bool().unwrap_or(false),
            })
            .collect();
        out.sort_by(|a, b| {
            (&a.database, &a.retention_policy).cmp(&(&b.database, &b.retention_policy))
        });
        Ok(out)
    }

    /// Creates a bucket (retention `every_seconds`, 0 = forever) and returns its id.
    pub fn create_bucket(&self, name: &str, every_seconds: i64) -> Result<String> {
        let v = self.send(
            "POST",
            "/api/v2/buckets",
            Some(json!({
                "orgID": self.org_id, "name": name,
                "retentionRules": [{"type": "expire", "everySeconds": every_seconds}],
            })),
        )?;
        Ok(v["id"].as_str().unwrap_or_default().to_string())
    }

    /// Maps database `db` and policy `rp` to a bucket, as the database's default.
    pub fn create_dbrp(&self, db: &str, rp: &str, bucket_id: &str) -> Result<()> {
        self.send(
            "POST",
            "/api/v2/dbrps",
            Some(json!({
                "orgID": self.org_id, "bucketID": bucket_id,
                "database": db, "retention_policy": rp, "default": true,
            })),
        )?;
        Ok(())
    }

    /// Writes line protocol into a bucket with `/api/v2/write` (precision ns).
    pub fn write_lines(&self, bucket: &str, lines: &str) -> Result<()> {
        let resp = self
            .client
            .post(format!("{}/api/v2/write", self.url()))
            .query(&[("org", ORG), ("bucket", bucket), ("precision", "ns")])
            .header("Authorization", format!("Token {ADMIN_TOKEN}"))
            .body(lines.to_string())
            .send()?;
        let status = resp.status();
        if !status.is_success() {
            bail!("write to {bucket:?}: HTTP {status}: {}", resp.text()?);
        }
        Ok(())
    }

    /// Deletes a bucket's points in `[start_ns, stop_ns)` (`/api/v2/delete`), e.g. to
    /// make a target lose points behind the tool's back.
    pub fn delete_points(&self, bucket: &str, start_ns: i64, stop_ns: i64) -> Result<()> {
        let rfc = |ns: i64| {
            let at = std::time::UNIX_EPOCH + Duration::from_nanos(ns.max(0) as u64);
            humantime::format_rfc3339_nanos(at).to_string()
        };
        self.send(
            "POST",
            &format!(
                "/api/v2/delete?orgID={}&bucket={}",
                self.org_id,
                encode(bucket)
            ),
            Some(json!({ "start": rfc(start_ns), "stop": rfc(stop_ns - 1) })),
        )?;
        Ok(())
    }

    /// The v1-compatible authorizations (`/private/legacy/authorizations`):
    /// (user name, [(action, bucket id)]).
    pub fn v1_authorizations(&self) -> Result<Vec<V1Authorization>> {
        let v = self.send(
            "GET",
            &format!("/private/legacy/authorizations?orgID={}", self.org_id),
            None,
        )?;
        let mut out = Vec::new();
        for a in v["authorizations"].as_array().into_iter().flatten() {
            let mut perms: Vec<(String, String)> = a["permissions"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|p| {
                    (
                        p["action"].as_str().unwrap_or_default().to_string(),
                        p["resource"]["id"].as_str().unwrap_or_default().to_string(),
                    )
                })
                .collect();
            perms.sort();
            out.push((a["token"].as_str().unwrap_or_default().to_string(), perms));
        }
        out.sort();
        Ok(out)
    }

    /// Sets the password of the v1 authorization of `user` (what `influx v1 auth
    /// set-password` does), so that 1.x clients can log in with it.
    pub fn set_v1_password(&self, user: &str, password: &str) -> Result<()> {
        let v = self.send(
            "GET",
            &format!(
                "/private/legacy/authorizations?orgID={}&token={user}",
                self.org_id
            ),
            None,
        )?;
        let id = v["authorizations"][0]["id"]
            .as_str()
            .ok_or_else(|| anyhow!("no v1 authorization for {user:?}: {v}"))?
            .to_string();
        self.send(
            "POST",
            &format!("/private/legacy/authorizations/{id}/password"),
            Some(json!({ "password": password })),
        )?;
        Ok(())
    }

    /// Runs InfluxQL through the 1.x compatibility endpoint (`/query`, the admin
    /// token), asked chunked; every chunk's JSON. An error anywhere is an `Err`.
    pub fn query_chunked(
        &self,
        db: Option<&str>,
        q: &str,
        chunk_size: usize,
    ) -> Result<Vec<Value>> {
        let req = self
            .client
            .post(format!("{}/query", self.url()))
            .header("Authorization", format!("Token {ADMIN_TOKEN}"));
        chunked_query(req, db, q, chunk_size)
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl InfluxQl for Influx2Server {
    fn query(&self, db: Option<&str>, q: &str) -> Result<Value> {
        let mut chunks = self.query_chunked(db, q, 10_000)?;
        match chunks.len() {
            0 => Ok(Value::Null),
            1 => Ok(chunks.remove(0)),
            _ => bail!("query {q:?}: {} chunks; use query_chunked", chunks.len()),
        }
    }

    fn query_chunked(&self, db: Option<&str>, q: &str, chunk_size: usize) -> Result<Vec<Value>> {
        Influx2Server::query_chunked(self, db, q, chunk_size)
    }

    fn databases(&self) -> Result<Vec<String>> {
        Ok(self
            .query_chunked(None, "SHOW DATABASES", 10_000)?
            .iter()
            .flat_map(first_column)
            .filter_map(|v| v.as_str().map(String::from))
            .collect())
    }
}

impl Drop for Influx2Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Percent-encodes a query-string value.
fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}
