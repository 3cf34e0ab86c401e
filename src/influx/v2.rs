//! The parts of InfluxDB 2.x's HTTP API a 2.x target needs: the organization, buckets,
//! DBRP mappings (what lets 1.x InfluxQL clients find a bucket under a database and
//! policy name), v1-compatible authorizations, and `/api/v2/write`.
//!
//! Plain reqwest through [`Client`], not the `influxdb2` crate: that crate builds a
//! client of its own, so the CA file and pinned self-signed certificate trust
//! (`influx::trust`), the error classes the copier retries and splits by
//! ([`ClientError::class`]), the request counts and the liveness watchdog would not
//! apply to its requests, and it has no API for DBRP mappings or v1 authorizations.
//! Reads and checks go through the 2.x server's 1.x compatibility endpoint (`/query`),
//! which the DBRP mappings made here serve: the same InfluxQL as on 1.x.

use crate::influx::client::Client;
use crate::influx::error::ClientError;
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::atomic::Ordering;

const NS_PER_S: i64 = 1_000_000_000;

/// Whether a server's version (`X-Influxdb-Version`, `/health`) is 2.x or later.
pub fn is_v2(version: &str) -> bool {
    let v = version.strip_prefix('v').unwrap_or(version);
    v.split('.')
        .next()
        .and_then(|m| m.parse::<u32>().ok())
        .is_some_and(|major| major >= 2)
}

/// The bucket name of a target database: 2.x refuses `"` in bucket names and keeps a
/// leading `_` for its system buckets, so those are percent-encoded (`%22`, `%5F`) as
/// the 1.x naming encodes what 1.x refuses. The DBRP mapping keeps the database name
/// itself, so that InfluxQL clients find the tenant where they looked on 1.x.
pub fn bucket_name(database: &str) -> String {
    let mut out = String::with_capacity(database.len());
    for (i, c) in database.chars().enumerate() {
        match c {
            '"' => out.push_str("%22"),
            '_' if i == 0 => out.push_str("%5F"),
            c => out.push(c),
        }
    }
    out
}

/// A bucket of the organization.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Bucket {
    /// Bucket id.
    pub id: String,
    /// Bucket name.
    pub name: String,
    /// Retention (ns), 0 for forever.
    pub retention_ns: i64,
    /// Shard group duration (ns), 0 when the server did not say.
    pub shard_group_ns: i64,
}

/// A DBRP mapping: database and policy names pointing at a bucket.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Dbrp {
    /// The 1.x database name.
    pub database: String,
    /// The 1.x retention policy name.
    pub retention_policy: String,
    /// The database's default policy.
    pub default: bool,
    /// The bucket it points at.
    #[serde(rename = "bucketID")]
    pub bucket_id: String,
    /// Made by the server for a bucket without a mapping of its own (database = bucket
    /// name, policy `autogen`); gone once a real mapping names the database.
    #[serde(default, rename = "virtual")]
    pub is_virtual: bool,
}

/// What a v1 authorization lets its user do on one bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Read (InfluxQL `READ`).
    Read,
    /// Write (InfluxQL `WRITE`).
    Write,
}

impl Action {
    /// The API's word.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Read => "read",
            Action::Write => "write",
        }
    }
}

/// A v1-compatible authorization: a user name (its "token") and password that 1.x
/// clients log in with, and its permissions on buckets.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct V1Auth {
    /// The user name.
    pub user: String,
    /// (action, bucket id) pairs, sorted.
    pub permissions: Vec<(Action, String)>,
}

impl Client {
    /// Sends one request to the 2.x API and returns its JSON answer (`Null` when
    /// empty); a non-2xx status is an error with the server's message.
    pub(crate) async fn api(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, ClientError> {
        self.count_request();
        let mut rb = self.auth(self.http().request(method, format!("{}{path}", self.url())));
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let resp = rb.send().await.map_err(|e| self.transport_error(e))?;
        let status = resp.status();
        let bytes = resp.bytes().await.map_err(|e| self.transport_error(e))?;
        if !status.is_success() {
            return Err(self.v2_status_error(status, &bytes));
        }
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Value::Null);
        }
        serde_json::from_slice(&bytes).map_err(|e| ClientError::Decode {
            url: self.url().to_string(),
            reason: format!("{path}: {e}"),
        })
    }

    /// 2.x answers errors as `{"code": ..., "message": ...}`.
    pub(crate) fn v2_status_error(&self, status: reqwest::StatusCode, body: &[u8]) -> ClientError {
        #[derive(Deserialize)]
        struct ErrorBody {
            message: String,
        }
        match serde_json::from_slice::<ErrorBody>(body) {
            Ok(b) => {
                self.status_error(status, json!({ "error": b.message }).to_string().as_bytes())
            }
            Err(_) => self.status_error(status, body),
        }
    }

    /// Writes line protocol into a bucket (`/api/v2/write`, precision ns). The server
    /// answers 204 once the points are in its write-ahead log.
    pub async fn write_bucket(
        &self,
        org: &str,
        bucket: &str,
        body: String,
    ) -> Result<(), ClientError> {
        let query = [("org", org), ("bucket", bucket), ("precision", "ns")];
        self.post_lines("/api/v2/write", &query, body, Client::v2_status_error)
            .await
    }

    fn count_request(&self) {
        self.query_counter().fetch_add(1, Ordering::Relaxed);
    }
}

fn text(v: &Value, key: &str) -> String {
    v[key].as_str().unwrap_or_default().to_string()
}

/// The id of organization `org`; an unknown name is an error naming it.
pub async fn org_id(client: &Client, org: &str) -> Result<String, ClientError> {
    let path = format!("/api/v2/orgs?org={}", encode(org));
    let v = match client.api(reqwest::Method::GET, &path, None).await {
        Err(ClientError::Http { status: 404, .. }) => Value::Null,
        r => r?,
    };
    v["orgs"]
        .as_array()
        .and_then(|a| a.iter().find(|o| o["name"] == org))
        .map(|o| text(o, "id"))
        .ok_or_else(|| ClientError::Http {
            url: client.url().to_string(),
            status: 404,
            message: format!("organization {org:?} not found (target.org)"),
        })
}

/// Every bucket of the organization, page by page.
pub async fn buckets(client: &Client, org_id: &str) -> Result<Vec<Bucket>, ClientError> {
    const PAGE: usize = 100;
    let mut out = Vec::new();
    loop {
        let path = format!(
            "/api/v2/buckets?orgID={org_id}&limit={PAGE}&offset={}",
            out.len()
        );
        let v = client.api(reqwest::Method::GET, &path, None).await?;
        let page: Vec<Bucket> = v["buckets"]
            .as_array()
            .into_iter()
            .flatten()
            .map(parse_bucket)
            .collect();
        let n = page.len();
        out.extend(page);
        if n < PAGE {
            return Ok(out);
        }
    }
}

fn parse_bucket(b: &Value) -> Bucket {
    let rule = b["retentionRules"]
        .as_array()
        .and_then(|r| r.iter().find(|r| r["type"] == "expire"));
    let secs = |k: &str| rule.and_then(|r| r[k].as_i64()).unwrap_or(0);
    Bucket {
        id: text(b, "id"),
        name: text(b, "name"),
        retention_ns: secs("everySeconds").saturating_mul(NS_PER_S),
        shard_group_ns: secs("shardGroupDurationSeconds").saturating_mul(NS_PER_S),
    }
}

/// Creates a bucket with one retention rule (`retention_ns` 0: forever) and the
/// shard group duration (0: the server's choice).
pub async fn create_bucket(
    client: &Client,
    org_id: &str,
    name: &str,
    retention_ns: i64,
    shard_group_ns: i64,
) -> Result<Bucket, ClientError> {
    let mut rule = json!({ "type": "expire", "everySeconds": retention_ns / NS_PER_S });
    if shard_group_ns > 0 {
        rule["shardGroupDurationSeconds"] = json!(shard_group_ns / NS_PER_S);
    }
    let body = json!({ "orgID": org_id, "name": name, "retentionRules": [rule] });
    let v = client
        .api(reqwest::Method::POST, "/api/v2/buckets", Some(body))
        .await?;
    Ok(parse_bucket(&v))
}

/// Every DBRP mapping of the organization.
pub async fn dbrps(client: &Client, org_id: &str) -> Result<Vec<Dbrp>, ClientError> {
    let v = client
        .api(
            reqwest::Method::GET,
            &format!("/api/v2/dbrps?orgID={org_id}"),
            None,
        )
        .await?;
    serde_json::from_value(v["content"].clone()).map_err(|e| ClientError::Decode {
        url: client.url().to_string(),
        reason: format!("/api/v2/dbrps: {e}"),
    })
}

/// Maps `database` and `policy` to a bucket, as the database's default policy.
pub async fn create_dbrp(
    client: &Client,
    org_id: &str,
    bucket_id: &str,
    database: &str,
    policy: &str,
) -> Result<(), ClientError> {
    let body = json!({
        "orgID": org_id, "bucketID": bucket_id,
        "database": database, "retention_policy": policy, "default": true,
    });
    client
        .api(reqwest::Method::POST, "/api/v2/dbrps", Some(body))
        .await
        .map(drop)
}

/// Every v1-compatible authorization of the organization.
pub async fn v1_authorizations(client: &Client, org_id: &str) -> Result<Vec<V1Auth>, ClientError> {
    let path = format!("/private/legacy/authorizations?orgID={org_id}");
    let v = client.api(reqwest::Method::GET, &path, None).await?;
    Ok(v["authorizations"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|a| {
            let mut permissions: Vec<(Action, String)> = a["permissions"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|p| p["resource"]["type"] == "buckets")
                .filter_map(|p| {
                    let action = match p["action"].as_str()? {
                        "read" => Action::Read,
                        "write" => Action::Write,
                        _ => return None,
                    };
                    Some((action, text(&p["resource"], "id")))
                })
                .collect();
            permissions.sort();
            V1Auth {
                user: text(a, "token"),
                permissions,
            }
        })
        .collect())
}

/// Creates a v1-compatible authorization for `user` with these bucket permissions and
/// no password: the tool cannot know the user's 1.x password (1.x keeps only its
/// hash), so the operator sets it (`influx v1 auth set-password`).
pub async fn create_v1_authorization(
    client: &Client,
    org_id: &str,
    user: &str,
    permissions: &[(Action, String)],
) -> Result<(), ClientError> {
    let perms: Vec<Value> = permissions
        .iter()
        .map(|(a, id)| {
            json!({ "action": a.as_str(), "resource": { "type": "buckets", "id": id, "orgID": org_id } })
        })
        .collect();
    let body = json!({
        "token": user, "status": "active", "orgID": org_id,
        "description": "influx-tenant-migrate: the 1.x grants of this user on the tenant databases",
        "permissions": perms,
    });
    client
        .api(
            reqwest::Method::POST,
            "/private/legacy/authorizations",
            Some(body),
        )
        .await
        .map(drop)
}

/// Percent-encodes a query-string value.
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
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

#[cfg(test)]
mod tests {
    use super::*;

    /// 2.x and later are told from 1.x by the major version, with or without `v`.
    #[test]
    fn tells_versions() {
        assert!(is_v2("v2.9.1"));
        assert!(is_v2("2.7.12"));
        assert!(is_v2("v3.0.0"));
        assert!(!is_v2("1.6.7~rc0"));
        assert!(!is_v2("v1.8.10"));
        assert!(!is_v2("unknown"));
    }

    /// Only what 2.x refuses in a bucket name is encoded: quotes anywhere, a leading
    /// underscore; everything else (spaces, commas, unicode) is kept.
    #[test]
    fn bucket_names() {
        assert_eq!(bucket_name("monasca_t1"), "monasca_t1");
        assert_eq!(bucket_name("m_a\"b"), "m_a%22b");
        assert_eq!(bucket_name("_x_y"), "%5Fx_y");
        assert_eq!(bucket_name("m_é ,x"), "m_é ,x");
    }

    /// Query values are percent-encoded byte by byte.
    #[test]
    fn encodes_query_values() {
        assert_eq!(encode("my org/é"), "my%20org%2F%C3%A9");
    }
}
