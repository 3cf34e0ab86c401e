//! A private, throwaway `influxd` per test.
//!
//! Each [`InfluxServer`] runs its own `influxd` process with its own config,
//! meta, data and WAL directories in a temporary directory, listening only on
//! 127.0.0.1 (HTTP and RPC ports picked free at start). Dropping it kills the
//! process and removes the directory.

use crate::quote::{quote_ident, quote_string};
use anyhow::{anyhow, bail, Context, Result};
use serde_json::Value;
use std::collections::HashSet;
use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// Environment variable naming the `influxd` binary to use instead of the one on `PATH`.
pub const INFLUXD_ENV: &str = "ITM_INFLUXD";
/// Environment variable naming the `[data] index-version` every server gets unless
/// its options name one: `inmem` (InfluxDB's default) or `tsi1` (kolla-ansible's).
pub const INDEX_ENV: &str = "ITM_INFLUXD_INDEX";

/// How long one start attempt waits for `GET /ping` to answer 204.
const START_TIMEOUT: Duration = Duration::from_secs(15);
/// How many start attempts (each with fresh ports) before giving up.
const START_ATTEMPTS: usize = 5;
/// How long [`InfluxServer::terminate`] waits after SIGTERM before SIGKILL.
const TERM_TIMEOUT: Duration = Duration::from_secs(30);
/// Timeout of one HTTP request made by the helpers.
const HTTP_TIMEOUT: Duration = Duration::from_secs(300);

/// Options for [`InfluxServer::start_with`]. `Default` gives a plain server
/// with no auth and no limits.
#[derive(Debug, Clone, Default)]
pub struct ServerOptions {
    /// `(user, password)`: sets `[http] auth-enabled = true` and creates this
    /// admin user (`WITH ALL PRIVILEGES`) on first start.
    pub auth: Option<(String, String)>,
    /// `[coordinator] max-select-point` (0 = unlimited). InfluxDB checks it
    /// only about once a second while a query runs.
    pub max_select_point: Option<u64>,
    /// `[coordinator] max-select-series` (0 = unlimited).
    pub max_select_series: Option<u64>,
    /// `[http] max-row-limit` (0 = unlimited): rows returned by a non-chunked query.
    pub max_row_limit: Option<u64>,
    /// `[coordinator] query-timeout` (written in milliseconds; 0 = none).
    pub query_timeout: Option<Duration>,
    /// More TOML config. Keys under a table the kit already writes (`[meta]`,
    /// `[data]`, `[coordinator]`, `[monitor]`, `[http]`, `[logging]`,
    /// `[continuous_queries]`, or top-level keys before any table) replace
    /// the kit's value or are added to that table; other tables are appended.
    pub extra_config: String,
    /// `[data] index-version`: `inmem` or `tsi1`; `None` takes `$ITM_INFLUXD_INDEX`,
    /// and without it the server's default (`inmem`).
    pub index_version: Option<String>,
    /// `(certificate, private key)` PEM files: serves HTTPS (`[http] https-enabled`)
    /// and [`InfluxServer::url`] becomes `https://localhost:PORT`.
    pub https: Option<(PathBuf, PathBuf)>,
    /// Limit of open files (`RLIMIT_NOFILE`, soft and hard: Go raises its soft limit
    /// to the hard one at start) for the process: influxd out of files stops accepting
    /// connections. To recover, restart it without.
    pub max_open_files: Option<u64>,
}

impl ServerOptions {
    /// Enables auth with this admin user.
    pub fn auth(mut self, user: &str, password: &str) -> Self {
        self.auth = Some((user.to_string(), password.to_string()));
        self
    }

    /// Sets `max-select-point`.
    pub fn max_select_point(mut self, n: u64) -> Self {
        self.max_select_point = Some(n);
        self
    }

    /// Sets `max-select-series`.
    pub fn max_select_series(mut self, n: u64) -> Self {
        self.max_select_series = Some(n);
        self
    }

    /// Sets `max-row-limit`.
    pub fn max_row_limit(mut self, n: u64) -> Self {
        self.max_row_limit = Some(n);
        self
    }

    /// Sets `query-timeout`.
    pub fn query_timeout(mut self, d: Duration) -> Self {
        self.query_timeout = Some(d);
        self
    }

    /// Serves HTTPS with this certificate and key (see [`ServerOptions::https`]). The
    /// kit's own helpers do not check the certificate; the tool under test must.
    pub fn https(mut self, certificate: &Path, private_key: &Path) -> Self {
        self.https = Some((certificate.to_path_buf(), private_key.to_path_buf()));
        self
    }

    /// Sets the series index (see [`ServerOptions::index_version`]).
    pub fn index_version(mut self, index: &str) -> Self {
        self.index_version = Some(index.to_string());
        self
    }

    /// Sets the open-file limit (see [`ServerOptions::max_open_files`]).
    pub fn max_open_files(mut self, n: u64) -> Self {
        self.max_open_files = Some(n);
        self
    }

    /// Adds extra TOML config (see [`ServerOptions::extra_config`]).
    pub fn extra_config(mut self, toml: &str) -> Self {
        self.extra_config.push_str(toml);
        self.extra_config.push('\n');
        self
    }
}

/// One retention policy as `SHOW RETENTION POLICIES` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetentionPolicyInfo {
    /// Policy name.
    pub name: String,
    /// Duration as InfluxDB prints it (`0s` = infinite, `336h0m0s` = 2w).
    pub duration: String,
    /// Shard group duration as InfluxDB prints it (`168h0m0s`, `24h0m0s`).
    pub shard_group_duration: String,
    /// Whether it is the database's default policy.
    pub default: bool,
}

/// What the dump comparison needs of a server: InfluxQL through `/query`, whether the
/// server is 1.x ([`InfluxServer`]) or 2.x through its compatibility endpoint
/// ([`crate::server2::Influx2Server`]).
pub trait InfluxQl {
    /// One statement's answer (see [`InfluxServer::query`]).
    fn query(&self, db: Option<&str>, q: &str) -> Result<Value>;
    /// Every chunk of a chunked answer (see [`InfluxServer::query_chunked`]).
    fn query_chunked(&self, db: Option<&str>, q: &str, chunk_size: usize) -> Result<Vec<Value>>;
    /// `SHOW DATABASES`.
    fn databases(&self) -> Result<Vec<String>>;
    /// `SHOW MEASUREMENTS` on `db`, sorted and without duplicates.
    fn measurements(&self, db: &str) -> Result<Vec<String>> {
        let chunks = self.query_chunked(Some(db), "SHOW MEASUREMENTS", 10_000)?;
        let mut out: Vec<String> = chunks
            .iter()
            .flat_map(first_column)
            .filter_map(|v| v.as_str().map(String::from))
            .collect();
        out.sort();
        out.dedup();
        Ok(out)
    }
}

impl InfluxQl for InfluxServer {
    fn query(&self, db: Option<&str>, q: &str) -> Result<Value> {
        InfluxServer::query(self, db, q)
    }
    fn query_chunked(&self, db: Option<&str>, q: &str, chunk_size: usize) -> Result<Vec<Value>> {
        InfluxServer::query_chunked(self, db, q, chunk_size)
    }
    fn databases(&self) -> Result<Vec<String>> {
        InfluxServer::databases(self)
    }
    fn measurements(&self, db: &str) -> Result<Vec<String>> {
        InfluxServer::measurements(self, db)
    }
}

/// A private `influxd` process. See the module doc.
pub struct InfluxServer {
    dir: TempDir,
    binary: PathBuf,
    opts: ServerOptions,
    http_port: u16,
    rpc_port: u16,
    child: Option<Child>,
    pid: u32,
    client: reqwest::blocking::Client,
}

impl std::fmt::Debug for InfluxServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InfluxServer")
            .field("url", &self.url())
            .field("dir", &self.dir.path())
            .field("pid", &self.pid)
            .finish()
    }
}

/// Ports handed out in this process, never handed out twice.
static USED_PORTS: Mutex<Option<HashSet<u16>>> = Mutex::new(None);

/// A loopback port that was free a moment ago and was not handed out before
/// in this process.
pub(crate) fn free_port() -> Result<u16> {
    for _ in 0..100 {
        let port = TcpListener::bind("127.0.0.1:0")
            .context("binding 127.0.0.1:0 to find a free port")?
            .local_addr()?
            .port();
        let mut used = USED_PORTS.lock().unwrap_or_else(|e| e.into_inner());
        if used.get_or_insert_with(HashSet::new).insert(port) {
            return Ok(port);
        }
    }
    bail!("no free loopback port found")
}

/// The message when `influxd` cannot be found.
pub const NOT_FOUND: &str = "influxd not found: install InfluxDB 1.x (Debian: apt-get install influxdb) or set ITM_INFLUXD=/path/to/influxd";

/// The `influxd` binary: `$ITM_INFLUXD`, else `influxd` on `PATH`. The
/// error says how to fix it ([`NOT_FOUND`]).
pub fn find_influxd() -> Result<PathBuf> {
    locate_influxd(std::env::var_os(INFLUXD_ENV), std::env::var_os("PATH"))
}

fn locate_influxd(env: Option<OsString>, path: Option<OsString>) -> Result<PathBuf> {
    if let Some(p) = env.filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        if p.is_file() {
            return Ok(p);
        }
        bail!("{NOT_FOUND} ({INFLUXD_ENV}={} is not a file)", p.display());
    }
    for dir in std::env::split_paths(&path.unwrap_or_default()) {
        let candidate = dir.join("influxd");
        if candidate.is_file() {
            return Ok(candidate);
        }
    }
    bail!("{NOT_FOUND}")
}

impl InfluxServer {
    /// Starts a plain server (no auth, no limits). Fails, never skips, when
    /// `influxd` is missing.
    pub fn start() -> Result<InfluxServer> {
        Self::start_with(ServerOptions::default())
    }

    /// Starts a server with these options; retries with new ports (up to 5
    /// times) if it does not answer `/ping` within 15 s or exits early.
    pub fn start_with(mut opts: ServerOptions) -> Result<InfluxServer> {
        let binary = find_influxd()?;
        if opts.index_version.is_none() {
            opts.index_version = std::env::var(INDEX_ENV).ok().filter(|v| !v.is_empty());
        }
        if let Some(index) = opts.index_version.as_deref() {
            if index != "inmem" && index != "tsi1" {
                bail!("{INDEX_ENV}={index}: the index must be inmem or tsi1");
            }
        }
        let dir = tempfile::Builder::new()
            .prefix("itm-influxd-")
            .tempdir()
            .context("creating the server's temp dir")?;
        let client = reqwest::blocking::Client::builder()
            .timeout(HTTP_TIMEOUT)
            .no_proxy()
            // The helpers seed and compare; trusting the certificate is the tool's test.
            .danger_accept_invalid_certs(opts.https.is_some())
            .build()
            .context("building the HTTP client")?;
        let mut server = InfluxServer {
            dir,
            binary,
            opts,
            http_port: 0,
            rpc_port: 0,
            child: None,
            pid: 0,
            client,
        };
        server.launch(false)?;
        if let Some((user, password)) = server.opts.auth.clone() {
            let q = format!(
                "CREATE USER {} WITH PASSWORD {} WITH ALL PRIVILEGES",
                quote_ident(&user),
                quote_string(&password)
            );
            server
                .query_as(None, &q, None)
                .context("creating the admin user")?;
        }
        Ok(server)
    }

    /// The binary's version as `influxd version` prints it (`1.6.7~rc0`, `1.8.10`):
    /// what the server should send in its `X-Influxdb-Version` header.
    pub fn binary_version(&self) -> Result<String> {
        let out = Command::new(&self.binary)
            .arg("version")
            .output()
            .with_context(|| format!("running {} version", self.binary.display()))?;
        let text = String::from_utf8_lossy(&out.stdout);
        // "InfluxDB v1.8.10 (git: branch commit)"; 1.13 prints "InfluxDB 1.13.2 (...)".
        let word = text
            .split_whitespace()
            .nth(1)
            .filter(|_| text.starts_with("InfluxDB "));
        word.map(|w| w.strip_prefix('v').unwrap_or(w).to_string())
            .with_context(|| format!("{} version printed {text:?}", self.binary.display()))
    }

    /// Base URL, `http://127.0.0.1:PORT`, or `https://localhost:PORT` with
    /// [`ServerOptions::https`] (the name certificates are usually made for).
    pub fn url(&self) -> String {
        match self.opts.https {
            Some(_) => format!("https://localhost:{}", self.http_port),
            None => format!("http://127.0.0.1:{}", self.http_port),
        }
    }

    /// The HTTP port.
    pub fn http_port(&self) -> u16 {
        self.http_port
    }

    /// The RPC (backup/restore) port.
    pub fn rpc_port(&self) -> u16 {
        self.rpc_port
    }

    /// The server's private directory (config, `meta/`, `data/`, `wal/`, log).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The config file the server runs with.
    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("influxd.toml")
    }

    /// The file that collects the server's stdout and stderr.
    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("influxd.log")
    }

    /// The last `max_bytes` of the server log (stdout and stderr).
    pub fn log_tail(&self, max_bytes: u64) -> String {
        tail(&self.log_path(), max_bytes)
    }

    /// The process id of the current (or last) `influxd` process.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The admin `(user, password)` when auth is enabled.
    pub fn credentials(&self) -> Option<(&str, &str)> {
        self.opts
            .auth
            .as_ref()
            .map(|(u, p)| (u.as_str(), p.as_str()))
    }

    /// The options the server was started with.
    pub fn options(&self) -> &ServerOptions {
        &self.opts
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut() {
            Some(child) => matches!(child.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// Kills the process with SIGKILL and waits for it (no-op if not running).
    pub fn kill(&mut self) {
        self.stop(libc::SIGKILL, Duration::from_secs(60));
    }

    /// Stops the process with SIGTERM and waits for it (SIGKILL after 30 s).
    pub fn terminate(&mut self) {
        self.stop(libc::SIGTERM, TERM_TIMEOUT);
    }

    /// Stops the server if it runs (SIGTERM) and starts it again on the same
    /// directories and ports, waiting for `/ping`. If the old port was taken
    /// meanwhile by another process, new ports are picked (so `url()` may change).
    pub fn restart(&mut self) -> Result<()> {
        self.terminate();
        self.launch(true)
    }

    /// Restarts the server on the same ports and data with other options (e.g. its
    /// query limits lifted so a test can read back what the tool wrote under them).
    pub fn restart_with(&mut self, opts: ServerOptions) -> Result<()> {
        self.opts = opts;
        self.restart()
    }

    /// `GET /ping`: true when the server answers 204.
    pub fn ping(&self) -> bool {
        self.client
            .get(format!("{}/ping", self.url()))
            .timeout(Duration::from_secs(2))
            .send()
            .map(|r| r.status().as_u16() == 204)
            .unwrap_or(false)
    }

    /// Runs InfluxQL with `POST /query` (form `q`, `db`, `epoch=ns`), with the
    /// admin credentials when auth is on. Returns the parsed JSON; an HTTP
    /// error, a top-level `error` or an `error` in any result is an `Err`. A
    /// truncated result (`"partial": true` from `max-row-limit`) is returned
    /// as it is.
    pub fn query(&self, db: Option<&str>, q: &str) -> Result<Value> {
        self.query_as(db, q, self.credentials())
    }

    /// Like [`InfluxServer::query`] but with explicit credentials (`None` = no
    /// auth header), to test what a wrong password gets.
    pub fn query_as(&self, db: Option<&str>, q: &str, auth: Option<(&str, &str)>) -> Result<Value> {
        let mut form: Vec<(&str, &str)> = vec![("q", q), ("epoch", "ns")];
        if let Some(db) = db {
            form.push(("db", db));
        }
        let mut req = self
            .client
            .post(format!("{}/query", self.url()))
            .form(&form);
        if let Some((u, p)) = auth {
            req = req.basic_auth(u, Some(p));
        }
        let resp = req.send().with_context(|| format!("POST /query {q:?}"))?;
        let status = resp.status();
        let body = resp.text().context("reading the /query response")?;
        let value: Value = serde_json::from_str(&body)
            .map_err(|_| anyhow!("query {q:?}: HTTP {status}: {body}"))?;
        check_query_errors(&value).with_context(|| format!("query {q:?} (HTTP {status})"))?;
        if !status.is_success() {
            bail!("query {q:?}: HTTP {status}: {body}");
        }
        Ok(value)
    }

    /// Runs a query with `chunked=true&chunk_size=N` and returns every chunk
    /// (one JSON object each). Chunked queries are not cut by `max-row-limit`.
    /// An error in any chunk is an `Err`.
    pub fn query_chunked(
        &self,
        db: Option<&str>,
        q: &str,
        chunk_size: usize,
    ) -> Result<Vec<Value>> {
        let mut req = self.client.post(format!("{}/query", self.url()));
        if let Some((u, p)) = self.credentials() {
            req = req.basic_auth(u, Some(p));
        }
        chunked_query(req, db, q, chunk_size)
    }

    /// Writes line protocol with `POST /write?db=..&precision=ns`; anything
    /// but 204 is an `Err` carrying the body. The caller batches big inputs.
    pub fn write_lines(&self, db: &str, lines: &str) -> Result<()> {
        self.write_lines_rp(db, None, lines)
    }

    /// Like [`InfluxServer::write_lines`] into a named retention policy.
    pub fn write_lines_rp(&self, db: &str, rp: Option<&str>, lines: &str) -> Result<()> {
        let mut params: Vec<(&str, &str)> = vec![("db", db), ("precision", "ns")];
        if let Some(rp) = rp {
            params.push(("rp", rp));
        }
        let mut req = self
            .client
            .post(format!("{}/write", self.url()))
            .query(&params)
            .body(lines.to_string());
        if let Some((u, p)) = self.credentials() {
            req = req.basic_auth(u, Some(p));
        }
        let resp = req.send().context("POST /write")?;
        let status = resp.status();
        if status.as_u16() != 204 {
            let body = resp.text().unwrap_or_default();
            bail!("write to {db:?}: HTTP {status}: {body}");
        }
        Ok(())
    }

    /// `CREATE DATABASE "db"` (a no-op if it exists).
    pub fn create_database(&self, db: &str) -> Result<()> {
        self.query(None, &format!("CREATE DATABASE {}", quote_ident(db)))?;
        Ok(())
    }

    /// `/query` requests the server has answered so far: the `httpd` `queryReq`
    /// counter of `/debug/vars`, which counts every client's requests alike.
    pub fn query_requests(&self) -> Result<u64> {
        self.httpd_stat("queryReq")
    }

    /// One counter of the `httpd` statistics in `/debug/vars`, summed over its entries.
    fn httpd_stat(&self, name: &str) -> Result<u64> {
        let body = self
            .client
            .get(format!("{}/debug/vars", self.url()))
            .send()
            .and_then(|r| r.text())
            .context("GET /debug/vars")?;
        let v: Value = serde_json::from_str(&body).context("/debug/vars is not JSON")?;
        let stats = v.as_object().context("/debug/vars is not an object")?;
        Ok(stats
            .values()
            .filter(|s| s["name"] == "httpd")
            .filter_map(|s| s["values"][name].as_u64())
            .sum())
    }

    /// Open file descriptors of the process (`/proc/<pid>/fd`).
    pub fn open_files(&self) -> Result<usize> {
        Ok(fs::read_dir(format!("/proc/{}/fd", self.pid))
            .context("reading /proc/<pid>/fd")?
            .count())
    }

    /// Requests the server counted to `/write` (`/debug/vars`, `httpd` `writeReq`).
    pub fn write_requests(&self) -> Result<u64> {
        self.httpd_stat("writeReq")
    }

    /// `SHOW DATABASES`, in server order; asked chunked, so that a server's
    /// `max-row-limit` does not cut the list.
    pub fn databases(&self) -> Result<Vec<String>> {
        let chunks = self.query_chunked(None, "SHOW DATABASES", 10_000)?;
        Ok(chunks
            .iter()
            .flat_map(first_column)
            .filter_map(|v| v.as_str().map(String::from))
            .collect())
    }

    /// `SHOW MEASUREMENTS` on `db`, sorted (empty for a missing database).
    pub fn measurements(&self, db: &str) -> Result<Vec<String>> {
        let chunks = self.query_chunked(Some(db), "SHOW MEASUREMENTS", 10_000)?;
        let mut out: Vec<String> = chunks
            .iter()
            .flat_map(first_column)
            .filter_map(|v| v.as_str().map(String::from))
            .collect();
        out.sort();
        out.dedup();
        Ok(out)
    }

    /// `SHOW RETENTION POLICIES ON "db"`.
    pub fn retention_policies(&self, db: &str) -> Result<Vec<RetentionPolicyInfo>> {
        let v = self.query(
            None,
            &format!("SHOW RETENTION POLICIES ON {}", quote_ident(db)),
        )?;
        let mut out = Vec::new();
        for series in all_series(&v) {
            let cols = columns(series);
            let idx = |name: &str| cols.iter().position(|c| c == name);
            let (Some(n), Some(d), Some(s), Some(def)) = (
                idx("name"),
                idx("duration"),
                idx("shardGroupDuration"),
                idx("default"),
            ) else {
                bail!("unexpected SHOW RETENTION POLICIES columns: {cols:?}");
            };
            for row in rows(series) {
                let text = |i: usize| {
                    row.get(i)
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string()
                };
                out.push(RetentionPolicyInfo {
                    name: text(n),
                    duration: text(d),
                    shard_group_duration: text(s),
                    default: row.get(def).and_then(Value::as_bool).unwrap_or(false),
                });
            }
        }
        Ok(out)
    }

    fn stop(&mut self, signal: i32, grace: Duration) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        if matches!(child.try_wait(), Ok(Some(_))) {
            return;
        }
        let pid = child.id() as libc::pid_t;
        // SAFETY: plain kill(2) on our own child's pid, which is not reaped yet.
        unsafe {
            libc::kill(pid, signal);
        }
        let deadline = Instant::now() + grace;
        loop {
            match child.try_wait() {
                Ok(Some(_)) | Err(_) => return,
                Ok(None) if Instant::now() >= deadline => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return;
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            }
        }
    }

    /// Starts the process; `reuse_ports` tries the current ports first.
    fn launch(&mut self, reuse_ports: bool) -> Result<()> {
        for sub in ["meta", "data", "wal"] {
            fs::create_dir_all(self.dir.path().join(sub))?;
        }
        let mut errors = Vec::new();
        for attempt in 0..START_ATTEMPTS {
            if !(reuse_ports && attempt == 0) {
                self.http_port = free_port()?;
                self.rpc_port = free_port()?;
            }
            let config = render_config(self.dir.path(), self.http_port, self.rpc_port, &self.opts);
            fs::write(self.config_path(), config).context("writing influxd.toml")?;
            let log_start = fs::metadata(self.log_path()).map(|m| m.len()).unwrap_or(0);
            match self.spawn_and_wait() {
                Ok(()) => return Ok(()),
                Err(e) => {
                    self.kill();
                    let log = tail_from(&self.log_path(), log_start, 4000);
                    errors.push(format!(
                        "attempt {} (http {}, rpc {}): {e:#}\n--- influxd log ---\n{log}",
                        attempt + 1,
                        self.http_port,
                        self.rpc_port
                    ));
                }
            }
        }
        bail!(
            "influxd ({}) did not start after {START_ATTEMPTS} attempts in {}:\n{}",
            self.binary.display(),
            self.dir.path().display(),
            errors.join("\n")
        )
    }

    fn spawn_and_wait(&mut self) -> Result<()> {
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .context("opening influxd.log")?;
        let mut command = Command::new(&self.binary);
        command
            .arg("-config")
            .arg(self.config_path())
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        if let Some(n) = self.opts.max_open_files {
            use std::os::unix::process::CommandExt;
            // SAFETY: only setrlimit(2), async-signal-safe, between fork and exec.
            unsafe {
                command.pre_exec(move || {
                    let limit = libc::rlimit {
                        rlim_cur: n,
                        rlim_max: n,
                    };
                    if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        }
        let child = command
            .spawn()
            .with_context(|| format!("spawning {}", self.binary.display()))?;
        self.pid = child.id();
        self.child = Some(child);
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(child) = self.child.as_mut() {
                if let Some(status) = child.try_wait()? {
                    bail!("influxd exited early with {status}");
                }
            }
            if self.ping() {
                // The port might belong to another test's server: make sure
                // the one answering runs our config file.
                if self.answers_as_us()? {
                    return Ok(());
                }
                bail!("another process answers on port {}", self.http_port);
            }
            if Instant::now() >= deadline {
                bail!("no 204 from GET /ping within {START_TIMEOUT:?}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Whether the server on our port runs our config file (`/debug/vars` cmdline).
    fn answers_as_us(&self) -> Result<bool> {
        let resp = self
            .client
            .get(format!("{}/debug/vars", self.url()))
            .timeout(Duration::from_secs(5))
            .send();
        let Ok(resp) = resp else {
            return Ok(false);
        };
        let Ok(vars) = resp.json::<Value>() else {
            return Ok(false);
        };
        let ours = self.config_path().to_string_lossy().to_string();
        Ok(vars["cmdline"]
            .as_array()
            .is_some_and(|args| args.iter().any(|a| a.as_str() == Some(ours.as_str()))))
    }
}

impl Drop for InfluxServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Errors in a `/query` answer: top-level `error`, or `error` in a result.
/// Sends `req` (a `POST /query` with its URL and auth set) as a chunked query (form
/// `q`, `db`, `epoch=ns`, `chunk_size`) and returns every chunk's JSON; an HTTP error
/// or an error in any chunk is an `Err`.
pub(crate) fn chunked_query(
    req: reqwest::blocking::RequestBuilder,
    db: Option<&str>,
    q: &str,
    chunk_size: usize,
) -> Result<Vec<Value>> {
    let chunk = chunk_size.to_string();
    let mut form: Vec<(&str, &str)> = vec![
        ("q", q),
        ("epoch", "ns"),
        ("chunked", "true"),
        ("chunk_size", &chunk),
    ];
    if let Some(db) = db {
        form.push(("db", db));
    }
    let resp = req
        .form(&form)
        .send()
        .with_context(|| format!("POST /query {q:?}"))?;
    let status = resp.status();
    let body = resp.text().context("reading the /query response")?;
    if !status.is_success() {
        bail!("query {q:?}: HTTP {status}: {body}");
    }
    let mut chunks = Vec::new();
    for v in serde_json::Deserializer::from_str(&body).into_iter::<Value>() {
        let v = v.with_context(|| format!("query {q:?}: bad JSON in chunked response"))?;
        check_query_errors(&v).with_context(|| format!("query {q:?}"))?;
        chunks.push(v);
    }
    Ok(chunks)
}

pub(crate) fn check_query_errors(v: &Value) -> Result<()> {
    if let Some(e) = v.get("error").and_then(Value::as_str) {
        bail!("{e}");
    }
    if let Some(results) = v.get("results").and_then(Value::as_array) {
        for r in results {
            if let Some(e) = r.get("error").and_then(Value::as_str) {
                bail!("{e}");
            }
        }
    }
    Ok(())
}

/// All series of all results of a `/query` answer.
pub(crate) fn all_series(v: &Value) -> impl Iterator<Item = &Value> {
    v.get("results")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|r| r.get("series").and_then(Value::as_array))
        .flatten()
}

/// The column names of a series.
pub(crate) fn columns(series: &Value) -> Vec<String> {
    series
        .get("columns")
        .and_then(Value::as_array)
        .map(|c| {
            c.iter()
                .map(|c| c.as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// The rows of a series.
pub(crate) fn rows(series: &Value) -> impl Iterator<Item = &Vec<Value>> {
    series
        .get("values")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_array)
}

/// The first column of every row of every series.
pub(crate) fn first_column(v: &Value) -> Vec<&Value> {
    all_series(v)
        .flat_map(rows)
        .filter_map(|r| r.first())
        .collect()
}

pub(crate) fn tail(path: &Path, max_bytes: u64) -> String {
    let len = fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    tail_from(path, len.saturating_sub(max_bytes), max_bytes)
}

fn tail_from(path: &Path, from: u64, max_bytes: u64) -> String {
    let Ok(mut f) = File::open(path) else {
        return String::from("(no log)");
    };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let start = from.max(len.saturating_sub(max_bytes));
    let mut buf = Vec::new();
    if f.seek(SeekFrom::Start(start)).is_ok() {
        let _ = f.read_to_end(&mut buf);
    }
    String::from_utf8_lossy(&buf).into_owned()
}

fn toml_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The config file: private dirs, loopback only, quiet, limits from `opts`,
/// then `opts.extra_config` merged in.
fn render_config(dir: &Path, http_port: u16, rpc_port: u16, opts: &ServerOptions) -> String {
    let p = |sub: &str| toml_str(&dir.join(sub).to_string_lossy());
    let mut tables: Vec<(String, Vec<(String, String)>)> = vec![
        (
            String::new(),
            vec![
                // Upstream spells it reporting-disabled; Debian's 1.6.7 build reporting-enabled.
                ("reporting-disabled".into(), "true".into()),
                ("reporting-enabled".into(), "false".into()),
                (
                    "bind-address".into(),
                    toml_str(&format!("127.0.0.1:{rpc_port}")),
                ),
            ],
        ),
        (
            "meta".into(),
            vec![
                ("dir".into(), p("meta")),
                ("logging-enabled".into(), "false".into()),
            ],
        ),
        (
            "data".into(),
            vec![
                ("dir".into(), p("data")),
                ("wal-dir".into(), p("wal")),
                ("query-log-enabled".into(), "false".into()),
            ],
        ),
        ("coordinator".into(), vec![]),
        (
            "monitor".into(),
            vec![("store-enabled".into(), "false".into())],
        ),
        (
            "http".into(),
            vec![
                (
                    "bind-address".into(),
                    toml_str(&format!("127.0.0.1:{http_port}")),
                ),
                ("log-enabled".into(), "false".into()),
                ("auth-enabled".into(), opts.auth.is_some().to_string()),
                ("pprof-enabled".into(), "true".into()),
            ],
        ),
        (
            "continuous_queries".into(),
            vec![
                ("enabled".into(), "false".into()),
                ("log-enabled".into(), "false".into()),
            ],
        ),
        (
            "logging".into(),
            vec![
                ("level".into(), toml_str("warn")),
                ("suppress-logo".into(), "true".into()),
            ],
        ),
    ];
    let set = |tables: &mut Vec<(String, Vec<(String, String)>)>,
               table: &str,
               key: &str,
               value: String| {
        let t = match tables.iter().position(|(n, _)| n == table) {
            Some(i) => i,
            None => {
                tables.push((table.to_string(), Vec::new()));
                tables.len() - 1
            }
        };
        let entries = &mut tables[t].1;
        match entries.iter_mut().find(|(k, _)| k == key) {
            Some(e) => e.1 = value,
            None => entries.push((key.to_string(), value)),
        }
    };
    if let Some(n) = opts.max_select_point {
        set(
            &mut tables,
            "coordinator",
            "max-select-point",
            n.to_string(),
        );
    }
    if let Some(n) = opts.max_select_series {
        set(
            &mut tables,
            "coordinator",
            "max-select-series",
            n.to_string(),
        );
    }
    if let Some(d) = opts.query_timeout {
        set(
            &mut tables,
            "coordinator",
            "query-timeout",
            toml_str(&format!("{}ms", d.as_millis())),
        );
    }
    if let Some(n) = opts.max_row_limit {
        set(&mut tables, "http", "max-row-limit", n.to_string());
    }
    if let Some(index) = &opts.index_version {
        set(&mut tables, "data", "index-version", toml_str(index));
    }
    if let Some((certificate, key)) = &opts.https {
        set(&mut tables, "http", "https-enabled", "true".into());
        let path = |p: &PathBuf| toml_str(&p.to_string_lossy());
        set(&mut tables, "http", "https-certificate", path(certificate));
        set(&mut tables, "http", "https-private-key", path(key));
    }
    // Merge extra_config: keys of known simple tables override, the rest is appended.
    let mut appended = String::new();
    let mut current: Option<String> = Some(String::new());
    for raw in opts.extra_config.lines() {
        let line = raw.trim();
        if line.starts_with("[[") {
            current = None;
            appended.push_str(raw);
            appended.push('\n');
        } else if line.starts_with('[') && line.ends_with(']') {
            let name = line
                .trim_matches(|c| c == '[' || c == ']')
                .trim()
                .to_string();
            if tables.iter().any(|(n, _)| *n == name) {
                current = Some(name);
            } else {
                current = None;
                appended.push_str(raw);
                appended.push('\n');
            }
        } else if let (Some(table), Some((k, v))) = (current.as_ref(), line.split_once('=')) {
            if !line.starts_with('#') {
                set(&mut tables, &table.clone(), k.trim(), v.trim().to_string());
            }
        } else if current.is_none() {
            appended.push_str(raw);
            appended.push('\n');
        }
    }
    let mut out = String::from("# written by testkit\n");
    for (name, entries) in &tables {
        if !name.is_empty() {
            out.push_str(&format!("\n[{name}]\n"));
        }
        for (k, v) in entries {
            out.push_str(&format!("  {k} = {v}\n"));
        }
    }
    if !appended.is_empty() {
        out.push('\n');
        out.push_str(&appended);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A missing binary is an error that says how to fix it, never a skip.
    #[test]
    fn missing_binary_message() {
        let e = locate_influxd(None, Some(OsString::from("/nonexistent"))).unwrap_err();
        assert_eq!(e.to_string(), NOT_FOUND);
        let e = locate_influxd(Some(OsString::from("/nonexistent/influxd")), None).unwrap_err();
        assert!(e.to_string().starts_with(NOT_FOUND), "{e}");
        let dir = tempfile::tempdir().unwrap();
        let fake = dir.path().join("influxd");
        fs::write(&fake, "").unwrap();
        assert_eq!(
            locate_influxd(Some(fake.clone().into()), None).unwrap(),
            fake
        );
        assert_eq!(locate_influxd(None, Some(dir.path().into())).unwrap(), fake);
    }

    /// If the port is taken by another influxd, start-up notices (the other
    /// server does not run our config), picks new ports and still succeeds.
    #[test]
    fn port_taken_by_another_server_is_retried() {
        let a = InfluxServer::start().unwrap();
        let mut b = InfluxServer::start().unwrap();
        b.terminate();
        b.http_port = a.http_port;
        b.restart().unwrap();
        assert_ne!(b.http_port(), a.http_port());
        assert!(b.answers_as_us().unwrap());
        assert!(a.answers_as_us().unwrap());
        b.rpc_port = a.rpc_port;
        b.restart().unwrap();
        assert_ne!(b.rpc_port(), a.rpc_port());
        assert!(
            b.log_tail(100_000).contains("address already in use"),
            "{}",
            b.log_tail(2000)
        );
    }

    /// A server that cannot start gives an error with the attempts and the log tail.
    #[test]
    fn failed_start_reports_log_tail() {
        let opts = ServerOptions::default()
            .extra_config("[data]\n  max-series-per-database = \"not a number\"\n");
        let err = InfluxServer::start_with(opts).unwrap_err();
        let text = format!("{err:#}");
        assert!(text.contains("did not start after 5 attempts"), "{text}");
        assert!(text.contains("--- influxd log ---"), "{text}");
        assert!(text.contains("max-series-per-database"), "{text}");
    }

    /// The config binds only loopback, merges limits and extra config.
    #[test]
    fn config_rendering() {
        let opts = ServerOptions::default()
            .auth("admin", "pw")
            .max_select_point(10)
            .query_timeout(Duration::from_millis(250))
            .extra_config("[data]\n  max-series-per-database = 5\n  query-log-enabled = true\n[[udp]]\n  enabled = false\n");
        let c = render_config(Path::new("/tmp/x"), 1234, 5678, &opts);
        assert!(c.contains("bind-address = \"127.0.0.1:5678\""), "{c}");
        assert!(c.contains("bind-address = \"127.0.0.1:1234\""), "{c}");
        assert!(c.contains("auth-enabled = true"), "{c}");
        assert!(c.contains("max-select-point = 10"), "{c}");
        assert!(c.contains("query-timeout = \"250ms\""), "{c}");
        assert!(c.contains("max-series-per-database = 5"), "{c}");
        assert!(c.contains("query-log-enabled = true"), "{c}");
        assert!(!c.contains("query-log-enabled = false"), "{c}");
        assert!(c.contains("[[udp]]"), "{c}");
        assert!(!c.contains("https-enabled"), "{c}");
    }

    /// HTTPS options turn on `https-enabled` with the certificate and key files.
    #[test]
    fn https_config_rendering() {
        let opts = ServerOptions::default().https(Path::new("/c/s.crt"), Path::new("/c/s.key"));
        let c = render_config(Path::new("/tmp/x"), 1234, 5678, &opts);
        assert!(c.contains("https-enabled = true"), "{c}");
        assert!(c.contains("https-certificate = \"/c/s.crt\""), "{c}");
        assert!(c.contains("https-private-key = \"/c/s.key\""), "{c}");
    }
}
