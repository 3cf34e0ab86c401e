//! HTTP client for the InfluxDB 1.x `/query` and `/ping` endpoints.
//!
//! Errors are classified here, explicitly, because the copier decides from the class
//! whether to retry, split a chunk or give up ([`ClientError::class`]).

use crate::core::secret::Secret;
use crate::influx::answer::StatementResult;
use crate::influx::complete;
use crate::influx::endpoint::http_client;
pub use crate::influx::endpoint::Endpoint;
use crate::influx::error::ClientError;
use crate::influx::liveness::{self, InFlight};
use crate::influx::refusal::{self, Side};
use crate::influx::trust;
use serde::Deserialize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// A client for one InfluxDB server. Cheap to clone; clones share the query counter.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    url: String,
    username: Option<String>,
    password: Option<Secret>,
    token: Option<Secret>,
    timeout: Duration,
    side: Side,
    queries: Arc<AtomicU64>,
    activity: Arc<liveness::Activity>,
}

impl Client {
    /// A client for the server `endpoint` names; every request times out after
    /// `timeout`.
    pub fn new(endpoint: &Endpoint, timeout: Duration) -> Result<Self, ClientError> {
        if endpoint.insecure_skip_verify && endpoint.url.starts_with("https:") {
            trust::warn_unverified(&endpoint.url, endpoint.ca_file.is_some());
        }
        let http = http_client(endpoint, timeout, true)?;
        Ok(Client {
            activity: liveness::activity_for(endpoint),
            http,
            url: endpoint.url.clone(),
            username: endpoint.username.clone(),
            password: endpoint.password.clone(),
            token: endpoint.token.clone(),
            timeout,
            side: endpoint.side,
            queries: Arc::new(AtomicU64::new(0)),
        })
    }

    /// The server URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The HTTP client, for the 2.x API ([`crate::influx::v2`]).
    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// The request counter shared by clones.
    pub(crate) fn query_counter(&self) -> &AtomicU64 {
        &self.queries
    }

    /// Queries sent so far by this client and its clones.
    pub fn queries_issued(&self) -> u64 {
        self.queries.load(Ordering::Relaxed)
    }

    pub(crate) fn auth(&self, rb: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        if let Some(t) = &self.token {
            // InfluxDB 2.x: the token authorizes both its API and the 1.x
            // compatibility endpoints (`/query`, `/write`).
            return rb.header(
                reqwest::header::AUTHORIZATION,
                format!("Token {}", t.expose()),
            );
        }
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
        } else if let Some(tls) = refusal::tls_error(&e) {
            let words = refusal::describe(tls, self.side);
            ClientError::Tls {
                url: self.url.clone(),
                problem: words.problem,
                fix: words.fix,
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
        let waiting = self.activity.begin();
        let resp = self
            .auth(self.http.get(format!("{}/ping", self.url)))
            .send()
            .await
            .map_err(|e| self.transport_error(e))?;
        waiting.answered();
        drop(waiting);
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
    /// classified here, the status is left to the caller. The request counts as
    /// waiting on the server ([`liveness`]) until the returned guard is dropped: keep
    /// it while reading the body.
    pub(super) async fn post_query(
        &self,
        form: &[(&str, &str)],
    ) -> Result<(reqwest::Response, InFlight), ClientError> {
        self.queries.fetch_add(1, Ordering::Relaxed);
        let waiting = self.activity.begin();
        let resp = self
            .auth(self.http.post(format!("{}/query", self.url)))
            // Servers before 1.8.0 compare the header as one string, 1.8.0 and later
            // parse it (influxdb#14485): exactly this value means JSON to both, where
            // reqwest's `*/*` is JSON only as a fallback.
            .header(reqwest::header::ACCEPT, "application/json")
            .form(form)
            .send()
            .await
            .map_err(|e| self.transport_error(e))?;
        waiting.answered();
        Ok((resp, waiting))
    }

    /// Runs InfluxQL (one or more statements) and returns each statement's complete
    /// result. The answer is asked chunked, which `[http] max-row-limit` does not cut,
    /// and put back together ([`crate::influx::complete`]); one still marked partial
    /// is [`ClientError::Partial`]. A top-level error or a non-2xx status is an error;
    /// statement errors are left in the results.
    pub async fn query_all(
        &self,
        db: Option<&str>,
        q: &str,
    ) -> Result<Vec<StatementResult>, ClientError> {
        let rows = complete::CHUNK_ROWS.to_string();
        let mut form: Vec<(&str, &str)> = vec![
            ("q", q),
            ("epoch", "ns"),
            ("chunked", "true"),
            ("chunk_size", &rows),
        ];
        if let Some(db) = db {
            form.push(("db", db));
            self.activity.used_database(db);
        }
        let started = std::time::Instant::now();
        let (resp, waiting) = self.post_query(&form).await?;
        let status = resp.status();
        let body = resp.bytes().await.map_err(|e| self.transport_error(e))?;
        drop(waiting);
        // What each request costs, for measuring a run statement by statement
        // (`RUST_LOG=influx_tenant_migrate::influx::client=debug`).
        tracing::debug!(
            server = %self.url,
            ms = started.elapsed().as_millis() as u64,
            bytes = body.len(),
            statements = %q,
            "query answered"
        );
        if !status.is_success() {
            return Err(self.status_error(status, &body));
        }
        complete::assemble(&self.url, q, &body)
    }

    /// Runs one statement and returns its complete result (see [`Client::query_all`]);
    /// its error, if any, becomes [`ClientError::Statement`].
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
    pub(super) fn status_error(&self, status: reqwest::StatusCode, body: &[u8]) -> ClientError {
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
        if status.as_u16() == 401 && self.token.is_some() {
            return ClientError::TokenRefused {
                url: self.url.clone(),
                message,
            };
        }
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

    /// Writes line protocol (`/write?db=..&rp=..&precision=ns`). The server answers 204
    /// once every point is in its write-ahead log; anything else is an error.
    pub async fn write(&self, db: &str, rp: &str, body: String) -> Result<(), ClientError> {
        self.activity.used_database(db);
        let query = [("db", db), ("rp", rp), ("precision", "ns")];
        self.post_lines("/write", &query, body, Client::status_error)
            .await
    }

    /// Counts and sends one line-protocol `POST` to `path` with `query`; a
    /// non-success answer becomes the error `refused` words from its status and body
    /// (1.x and 2.x word their errors differently).
    pub(crate) async fn post_lines(
        &self,
        path: &str,
        query: &[(&str, &str)],
        body: String,
        refused: fn(&Client, reqwest::StatusCode, &[u8]) -> ClientError,
    ) -> Result<(), ClientError> {
        self.queries.fetch_add(1, Ordering::Relaxed);
        let waiting = self.activity.begin();
        let resp = self
            .auth(self.http.post(format!("{}{path}", self.url)))
            .query(query)
            .body(body)
            .send()
            .await
            .map_err(|e| self.transport_error(e))?;
        waiting.answered();
        let status = resp.status();
        if status.is_success() {
            return Ok(());
        }
        let body = resp.bytes().await.map_err(|e| self.transport_error(e))?;
        Err(refused(self, status, &body))
    }
}

fn innermost(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}
