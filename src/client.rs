//! HTTP client for the InfluxDB 1.x `/query` and `/ping` endpoints.
//!
//! Errors are classified here, explicitly, because the copier decides from the class
//! whether to retry, split a chunk or give up ([`ClientError::class`]).

use crate::config::{Secret, SourceSettings};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// What kind of failure an error is, which decides what the copier does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureClass {
    /// Worth retrying as is: the server was unreachable, restarting or overloaded.
    Transient,
    /// The query was too large for the server (limits, timeouts, a dropped
    /// connection): split the chunk rather than retry it whole.
    TooBig,
    /// Retrying cannot help: bad credentials, no permission, a parse error, a missing
    /// database.
    Permanent,
}

/// An error talking to InfluxDB.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// No TCP connection could be made.
    #[error("cannot reach InfluxDB at {url}: {reason}")]
    Unreachable {
        /// Server URL.
        url: String,
        /// The innermost cause, e.g. `Connection refused (os error 111)`.
        reason: String,
    },
    /// The connection broke while the query ran.
    #[error("connection to InfluxDB at {url} dropped during the query: {reason}")]
    Dropped {
        /// Server URL.
        url: String,
        /// The innermost cause.
        reason: String,
    },
    /// The request took longer than the query timeout.
    #[error("query to InfluxDB at {url} timed out after {}", humantime::format_duration(*.after))]
    Timeout {
        /// Server URL.
        url: String,
        /// The timeout that expired.
        after: Duration,
    },
    /// The server refused the credentials (HTTP 401).
    #[error("authentication failed at {url} for user {user:?}: {message}")]
    Auth {
        /// Server URL.
        url: String,
        /// User name sent (empty when none).
        user: String,
        /// The server's message.
        message: String,
    },
    /// Any other non-success HTTP status.
    #[error("InfluxDB at {url} answered HTTP {status}: {message}")]
    Http {
        /// Server URL.
        url: String,
        /// HTTP status code.
        status: u16,
        /// The server's error message or body.
        message: String,
    },
    /// A statement failed (reported inside an HTTP 200 response).
    #[error("{message}")]
    Statement {
        /// The server's error text.
        message: String,
    },
    /// The response was not what InfluxDB sends.
    #[error("unexpected response from InfluxDB at {url}: {reason}")]
    Decode {
        /// Server URL.
        url: String,
        /// What did not parse.
        reason: String,
    },
    /// The client could not be built (TLS settings).
    #[error("cannot set up HTTP client: {0}")]
    Setup(String),
    /// A point read from the source cannot be written as line protocol unchanged.
    #[error(transparent)]
    Unwritable(#[from] crate::lineproto::EncodeError),
    /// A local file (export or import) could not be read or written.
    #[error("file {path}: {reason}")]
    File {
        /// The file.
        path: String,
        /// What failed.
        reason: String,
    },
}

impl ClientError {
    /// Classifies the error; see [`FailureClass`].
    pub fn class(&self) -> FailureClass {
        match self {
            ClientError::Unreachable { .. } => FailureClass::Transient,
            ClientError::Dropped { .. } | ClientError::Timeout { .. } => FailureClass::TooBig,
            ClientError::Auth { .. }
            | ClientError::Setup(_)
            | ClientError::Decode { .. }
            | ClientError::Unwritable(_)
            | ClientError::File { .. } => FailureClass::Permanent,
            ClientError::Http {
                status, message, ..
            } => match status {
                401 | 403 => FailureClass::Permanent,
                500..=599 => classify_message(message).unwrap_or(FailureClass::Transient),
                _ => classify_message(message).unwrap_or(FailureClass::Permanent),
            },
            ClientError::Statement { message } => {
                classify_message(message).unwrap_or(FailureClass::Permanent)
            }
        }
    }
}

/// Classifies the server's error texts that say more than the HTTP status.
fn classify_message(msg: &str) -> Option<FailureClass> {
    let m = msg.to_ascii_lowercase();
    const TOO_BIG: &[&str] = &[
        "max-select-point",
        "max-select-series",
        "max-select-buckets",
        "max-row-limit",
        "query-timeout",
        "timeout",
        "query killed",
        "cache-max-memory-size",
        "cache maximum memory size exceeded",
        "out of memory",
    ];
    const TRANSIENT: &[&str] = &[
        "engine is closed",
        "shard is disabled",
        "store is closed",
        "server is shutting down",
        "query interrupted",
        "connection refused",
        "connection reset",
    ];
    const PERMANENT: &[&str] = &[
        "authoriz",
        "authenticat",
        "error parsing query",
        "database not found",
        "retention policy not found",
        "partial write",
        "field type conflict",
    ];
    if PERMANENT.iter().any(|p| m.contains(p)) {
        Some(FailureClass::Permanent)
    } else if TOO_BIG.iter().any(|p| m.contains(p)) {
        Some(FailureClass::TooBig)
    } else if TRANSIENT.iter().any(|p| m.contains(p)) {
        Some(FailureClass::Transient)
    } else {
        None
    }
}

/// One series of a statement result.
#[derive(Debug, Clone, Deserialize, Default)]
pub struct Series {
    /// Measurement or result name.
    #[serde(default)]
    pub name: String,
    /// Group-by tags, if any.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// Column names.
    #[serde(default)]
    pub columns: Vec<String>,
    /// Rows.
    #[serde(default)]
    pub values: Vec<Vec<serde_json::Value>>,
}

impl Series {
    /// Index of a column by name.
    pub fn column(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c == name)
    }
}

/// The result of one statement.
#[derive(Debug, Clone, Deserialize, Default)]
pub struct StatementResult {
    /// Series returned.
    #[serde(default)]
    pub series: Vec<Series>,
    /// Statement-level error.
    #[serde(default)]
    pub error: Option<String>,
}

#[derive(Debug, Deserialize)]
struct QueryResponse {
    #[serde(default)]
    results: Vec<StatementResult>,
    #[serde(default)]
    error: Option<String>,
}

/// A client for one InfluxDB server. Cheap to clone; clones share the query counter.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    url: String,
    username: Option<String>,
    password: Option<Secret>,
    timeout: Duration,
    queries: Arc<AtomicU64>,
}

impl Client {
    /// Builds a client for the source server's settings.
    pub fn new(s: &SourceSettings, timeout: Duration) -> Result<Self, ClientError> {
        Self::build(
            &s.url,
            s.username.clone(),
            s.password.clone(),
            s.ca_file.as_deref(),
            s.insecure_skip_verify,
            timeout,
        )
    }

    /// Builds a client for the target server of a cross-server copy, with its own
    /// credentials and TLS settings.
    pub fn new_target(
        url: &str,
        t: &crate::config::TargetSettings,
        timeout: Duration,
    ) -> Result<Self, ClientError> {
        Self::build(
            url,
            t.username.clone(),
            t.password.clone(),
            t.ca_file.as_deref(),
            t.insecure_skip_verify,
            timeout,
        )
    }

    fn build(
        url: &str,
        username: Option<String>,
        password: Option<Secret>,
        ca_file: Option<&std::path::Path>,
        insecure_skip_verify: bool,
        timeout: Duration,
    ) -> Result<Self, ClientError> {
        let mut b = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(timeout)
            .pool_idle_timeout(Duration::from_secs(30))
            .user_agent(concat!("influx-tenant-migrate/", env!("CARGO_PKG_VERSION")));
        if let Some(ca) = ca_file {
            let pem = std::fs::read(ca).map_err(|e| {
                ClientError::Setup(format!("cannot read CA file {}: {e}", ca.display()))
            })?;
            let cert = reqwest::Certificate::from_pem(&pem).map_err(|e| {
                ClientError::Setup(format!("CA file {} is not PEM: {e}", ca.display()))
            })?;
            b = b.add_root_certificate(cert);
        }
        if insecure_skip_verify {
            b = b.danger_accept_invalid_certs(true);
        }
        let http = b.build().map_err(|e| ClientError::Setup(e.to_string()))?;
        Ok(Client {
            http,
            url: url.to_string(),
            username,
            password,
            timeout,
            queries: Arc::new(AtomicU64::new(0)),
        })
    }

    /// The server URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Queries sent so far by this client and its clones.
    pub fn queries_issued(&self) -> u64 {
        self.queries.load(Ordering::Relaxed)
    }

    fn auth(&self, rb: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.username {
            // Basic auth keeps the password out of URLs, logs and error texts.
            Some(u) => rb.basic_auth(u, self.password.as_ref().map(|p| p.expose().to_string())),
            None => rb,
        }
    }

    pub(crate) fn transport_error(&self, e: reqwest::Error) -> ClientError {
        let reason = innermost(&e);
        if e.is_timeout() {
            ClientError::Timeout {
                url: self.url.clone(),
                after: self.timeout,
            }
        } else if e.is_connect() {
            ClientError::Unreachable {
                url: self.url.clone(),
                reason,
            }
        } else {
            ClientError::Dropped {
                url: self.url.clone(),
                reason,
            }
        }
    }

    /// Checks that the server answers `/ping` and returns its version.
    pub async fn ping(&self) -> Result<String, ClientError> {
        let resp = self
            .auth(self.http.get(format!("{}/ping", self.url)))
            .send()
            .await
            .map_err(|e| self.transport_error(e))?;
        let version = resp
            .headers()
            .get("X-Influxdb-Version")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("unknown")
            .to_string();
        if !resp.status().is_success() {
            return Err(ClientError::Http {
                url: self.url.clone(),
                status: resp.status().as_u16(),
                message: "ping failed (is this an InfluxDB 1.x server?)".into(),
            });
        }
        Ok(version)
    }

    /// Counts and sends one `POST /query` with `form`; transport failures are
    /// classified here, the status is left to the caller.
    async fn post_query(&self, form: &[(&str, &str)]) -> Result<reqwest::Response, ClientError> {
        self.queries.fetch_add(1, Ordering::Relaxed);
        self.auth(self.http.post(format!("{}/query", self.url)))
            .form(form)
            .send()
            .await
            .map_err(|e| self.transport_error(e))
    }

    /// Runs InfluxQL (one or more statements) and returns each statement's result.
    /// A top-level error or a non-2xx status is an error; statement errors are left in
    /// the results.
    pub async fn query_all(
        &self,
        db: Option<&str>,
        q: &str,
    ) -> Result<Vec<StatementResult>, ClientError> {
        let mut form: Vec<(&str, &str)> = vec![("q", q), ("epoch", "ns")];
        if let Some(db) = db {
            form.push(("db", db));
        }
        let resp = self.post_query(&form).await?;
        let status = resp.status();
        let body = resp.bytes().await.map_err(|e| self.transport_error(e))?;
        if !status.is_success() {
            return Err(self.status_error(status, &body));
        }
        let parsed: QueryResponse =
            serde_json::from_slice(&body).map_err(|e| ClientError::Decode {
                url: self.url.clone(),
                reason: e.to_string(),
            })?;
        if let Some(message) = parsed.error {
            return Err(ClientError::Statement { message });
        }
        Ok(parsed.results)
    }

    /// Runs one statement; its error, if any, becomes [`ClientError::Statement`].
    pub async fn query(&self, db: Option<&str>, q: &str) -> Result<StatementResult, ClientError> {
        let mut results = self.query_all(db, q).await?;
        if results.is_empty() {
            return Ok(StatementResult::default());
        }
        let r = results.swap_remove(0);
        match r.error {
            Some(message) => Err(ClientError::Statement { message }),
            None => Ok(r),
        }
    }
}

impl Client {
    /// The error for a non-success HTTP status, with the server's message.
    fn status_error(&self, status: reqwest::StatusCode, body: &[u8]) -> ClientError {
        #[derive(Deserialize)]
        struct ErrorBody {
            error: String,
        }
        let message = match serde_json::from_slice::<ErrorBody>(body) {
            Ok(b) => b.error,
            Err(_) => String::from_utf8_lossy(body)
                .trim()
                .chars()
                .take(300)
                .collect(),
        };
        if status.as_u16() == 401 {
            return ClientError::Auth {
                url: self.url.clone(),
                user: self.username.clone().unwrap_or_default(),
                message,
            };
        }
        ClientError::Http {
            url: self.url.clone(),
            status: status.as_u16(),
            message,
        }
    }

    /// Starts a chunked query (`chunked=true`, `chunk_size` rows per JSON object,
    /// `epoch=ns`) and returns the response to read object by object, so a result of
    /// any size is never held whole.
    pub async fn query_chunked(
        &self,
        db: &str,
        q: &str,
        chunk_size: usize,
    ) -> Result<crate::chunked::ChunkedResponse, ClientError> {
        let size = chunk_size.to_string();
        let form: [(&str, &str); 5] = [
            ("q", q),
            ("db", db),
            ("epoch", "ns"),
            ("chunked", "true"),
            ("chunk_size", &size),
        ];
        let resp = self.post_query(&form).await?;
        let status = resp.status();
        if !status.is_success() {
            let body = resp.bytes().await.map_err(|e| self.transport_error(e))?;
            return Err(self.status_error(status, &body));
        }
        Ok(crate::chunked::ChunkedResponse::new(self.clone(), resp))
    }

    /// Writes line protocol (`/write?db=..&rp=..&precision=ns`). The server answers 204
    /// once every point is in its write-ahead log; anything else is an error.
    pub async fn write(&self, db: &str, rp: &str, body: String) -> Result<(), ClientError> {
        self.queries.fetch_add(1, Ordering::Relaxed);
        let resp = self
            .auth(self.http.post(format!("{}/write", self.url)))
            .query(&[("db", db), ("rp", rp), ("precision", "ns")])
            .body(body)
            .send()
            .await
            .map_err(|e| self.transport_error(e))?;
        let status = resp.status();
        if status.is_success() {
            return Ok(());
        }
        let body = resp.bytes().await.map_err(|e| self.transport_error(e))?;
        Err(self.status_error(status, &body))
    }
}

fn innermost(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

/// The `written` figure of a `SELECT ... INTO` result.
pub fn written(r: &StatementResult) -> u64 {
    r.series
        .iter()
        .filter_map(|s| {
            let i = s.column("written")?;
            s.values.first()?.get(i)?.as_u64()
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stmt(m: &str) -> ClientError {
        ClientError::Statement { message: m.into() }
    }

    /// Limits and timeouts mean "split"; auth, parse and missing-database errors mean
    /// "give up"; restarts and 5xx mean "retry".
    #[test]
    fn classification() {
        use FailureClass::*;
        assert_eq!(
            stmt("max-select-point limit exceeded: (10000/1000)").class(),
            TooBig
        );
        assert_eq!(
            stmt("max-select-series limit exceeded: (5/1)").class(),
            TooBig
        );
        assert_eq!(stmt("query-timeout limit exceeded").class(), TooBig);
        assert_eq!(stmt("database not found: x").class(), Permanent);
        assert_eq!(
            stmt("error authorizing query: bob not authorized").class(),
            Permanent
        );
        assert_eq!(
            stmt("partial write: points beyond retention policy dropped=3").class(),
            Permanent
        );
        assert_eq!(stmt("something new").class(), Permanent);
        let http = |status, m: &str| ClientError::Http {
            url: "u".into(),
            status,
            message: m.into(),
        };
        assert_eq!(http(503, "").class(), Transient);
        assert_eq!(http(500, "timeout").class(), TooBig);
        assert_eq!(http(400, "error parsing query: found x").class(), Permanent);
        assert_eq!(http(403, "").class(), Permanent);
        let unreachable = ClientError::Unreachable {
            url: "u".into(),
            reason: "refused".into(),
        };
        assert_eq!(unreachable.class(), Transient);
        let t = ClientError::Timeout {
            url: "u".into(),
            after: Duration::from_secs(1),
        };
        assert_eq!(t.class(), TooBig);
    }

    /// The written count is read from the `result` series of SELECT INTO.
    #[test]
    fn written_count() {
        let r: StatementResult = serde_json::from_str(
            r#"{"statement_id":0,"series":[{"name":"result","columns":["time","written"],"values":[[0,42]]}]}"#,
        )
        .unwrap();
        assert_eq!(written(&r), 42);
    }
}
