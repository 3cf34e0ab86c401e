//! Where a server is and how to log in, and the HTTP client built from it: shared by
//! the query client and the liveness watchdog's fresh-connection pings.

use crate::core::secret::Secret;
use crate::influx::error::ClientError;
use crate::influx::refusal::Side;
use crate::influx::trust;
use std::path::PathBuf;
use std::time::Duration;

/// Where a server is and how to log in: the values a [`Client`](crate::influx::client::Client) is built from.
#[derive(Debug, Clone, Default)]
pub struct Endpoint {
    /// Base URL, without a trailing slash.
    pub url: String,
    /// User name, if the server has auth enabled.
    pub username: Option<String>,
    /// Password, sent with basic auth.
    pub password: Option<Secret>,
    /// PEM CA file to trust for `https`.
    pub ca_file: Option<PathBuf>,
    /// Skip TLS certificate verification (opt-in, for test setups).
    pub insecure_skip_verify: bool,
    /// Which side of the copy the server is, so that TLS errors name its settings.
    pub side: Side,
    /// An InfluxDB 2.x API token, sent as `Authorization: Token` instead of basic auth.
    pub token: Option<Secret>,
}

/// The HTTP client for `endpoint` (its TLS settings), every request timing out after
/// `timeout`; `pooled: false` keeps no idle connection, so each request opens its own.
pub(crate) fn http_client(
    endpoint: &Endpoint,
    timeout: Duration,
    pooled: bool,
) -> Result<reqwest::Client, ClientError> {
    let mut b = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10).min(timeout))
        .timeout(timeout)
        .pool_idle_timeout(Duration::from_secs(30))
        .user_agent(concat!("influx-tenant-migrate/", env!("CARGO_PKG_VERSION")));
    if !pooled {
        b = b.pool_max_idle_per_host(0);
    }
    if endpoint.insecure_skip_verify {
        b = b.danger_accept_invalid_certs(true);
    } else if let Some(ca) = &endpoint.ca_file {
        b = b.use_preconfigured_tls(trust::tls_config(ca)?);
    }
    b.build().map_err(|e| ClientError::Setup(e.to_string()))
}
