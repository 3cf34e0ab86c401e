//! The validated settings: one typed section per concern, handed to the modules that
//! read it.

use crate::core::rewrite::Rewrite;
use crate::core::secret::Secret;
use crate::core::window::{influx_duration, TimeUnit};
use crate::influx::client::Endpoint;
use crate::influx::refusal::Side;
use regex::Regex;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// How the retention policies the tool creates are named.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum PolicyNames {
    /// After the duration in its largest exact unit: `14d` is named `2w`.
    #[default]
    Canonical,
    /// Exactly as the duration is written in the settings: `14d` is named `14d`
    /// (what migrate-to-db-per-tenant.py does).
    AsWritten,
}

/// The source server and database.
#[derive(Debug, Clone)]
pub struct SourceSettings {
    /// Base URL, without a trailing slash.
    pub url: String,
    /// Database to split.
    pub database: String,
    /// Retention policy to read; `None` means the database's default.
    pub retention_policy: Option<String>,
    /// User name, if the server has auth enabled.
    pub username: Option<String>,
    /// Password (from `password_file` when set, else `password`).
    pub password: Option<Secret>,
    /// PEM CA file to trust for `https`.
    pub ca_file: Option<PathBuf>,
    /// Skip TLS certificate verification (opt-in, for test setups).
    pub insecure_skip_verify: bool,
}

impl SourceSettings {
    /// How to reach the source server.
    pub fn endpoint(&self) -> Endpoint {
        Endpoint {
            url: self.url.clone(),
            username: self.username.clone(),
            password: self.password.clone(),
            ca_file: self.ca_file.clone(),
            insecure_skip_verify: self.insecure_skip_verify,
            side: Side::Source,
            token: None,
        }
    }
}

/// The tenant tag of measurements that do not use `tenants.tag`, unless
/// `tenants.tag_for` names them: monasca-persister writes alarm history with the
/// tenant in a tag `tenant_id` (and a string field of that name).
pub const BUILTIN_TAG_FOR: &[(&str, &str)] = &[("alarm_state_history", "tenant_id")];

/// Which tenants to migrate and where to.
#[derive(Debug, Clone)]
pub struct TenantSettings {
    /// Tag key holding the tenant id.
    pub tag: String,
    /// Measurements whose tenant is in another tag: measurement -> tag key (the
    /// built-in [`BUILTIN_TAG_FOR`] included).
    pub tag_for: BTreeMap<String, String>,
    /// Target database name template with `{database}` and `{tenant}`.
    pub target_template: String,
    /// Only tenants matching one of these (all when empty).
    pub include: Vec<Regex>,
    /// Tenants matching any of these are left out.
    pub exclude: Vec<Regex>,
    /// Grant each non-admin user's privilege on the source on every tenant database.
    pub grant_privileges: bool,
}

impl TenantSettings {
    /// The tag key holding the tenant id in `measurement`.
    pub fn tag_of(&self, measurement: &str) -> &str {
        self.tag_for.get(measurement).unwrap_or(&self.tag)
    }

    /// The tenant tag of a batch of measurements (batches never mix tags; an empty
    /// batch has the default).
    pub fn tag_of_batch(&self, measurements: &[String]) -> &str {
        measurements.first().map_or(&self.tag, |m| self.tag_of(m))
    }

    /// Whether the include/exclude rules keep tenant `id`: it matches an include rule
    /// (or there are none) and no exclude rule.
    pub fn selects(&self, id: &str) -> bool {
        (self.include.is_empty() || self.include.iter().any(|re| re.is_match(id)))
            && !self.exclude.iter().any(|re| re.is_match(id))
    }
}

/// Time bounds and window size.
#[derive(Debug, Clone)]
pub struct WindowSettings {
    /// Chunk window size.
    pub unit: TimeUnit,
    /// Lower bound (ns), inclusive.
    pub from: Option<i64>,
    /// Upper bound (ns), exclusive.
    pub to: Option<i64>,
    /// Chunks ending later than `now - settle` are open: copied, never recorded.
    pub settle: Duration,
    /// A final run (`run --final`): the source receives no more writes, so nothing is
    /// open; the run is refused while the source still receives points.
    pub final_run: bool,
}

/// Per-tenant retention.
#[derive(Debug, Clone, Default)]
pub struct RetentionSettings {
    /// Retention for tenants without their own entry.
    pub default: Option<Duration>,
    /// Retention per tenant id.
    pub tenants: BTreeMap<String, Duration>,
    /// Policy name of `default` when it is not the canonical one (`policy_names =
    /// "as-written"`).
    pub default_name: Option<String>,
    /// Policy names per tenant id when they are not the canonical ones.
    pub names: BTreeMap<String, String>,
    /// `default` comes from a persister.conf's `default_retention_hours`.
    pub default_from_persister: bool,
    /// Shard group duration of the policies the tool creates; `None` = InfluxDB's
    /// guidance for the policy's duration.
    pub shard_duration: Option<Duration>,
}

impl RetentionSettings {
    /// The retention a tenant's database gets, if any.
    pub fn for_tenant(&self, tenant: &str) -> Option<Duration> {
        self.tenants.get(tenant).copied().or(self.default)
    }

    /// The name of the retention policy a tenant's database gets, if any: the name
    /// the settings give it, else the duration in its largest exact unit (`2w`).
    pub fn policy_name(&self, tenant: &str) -> Option<String> {
        match self.tenants.get(tenant) {
            Some(d) => Some(
                self.names
                    .get(tenant)
                    .cloned()
                    .unwrap_or_else(|| influx_duration(*d)),
            ),
            None => self.default.map(|d| {
                self.default_name
                    .clone()
                    .unwrap_or_else(|| influx_duration(d))
            }),
        }
    }
}

/// Queries in flight at once when the setting is "auto" and the server does not say
/// how many CPUs it has.
pub const FALLBACK_CONCURRENCY: usize = 2;

/// How the copy runs.
#[derive(Debug, Clone)]
pub struct RunSettings {
    /// Queries in flight at once; `None` ("auto", the default): derived from the
    /// server's CPUs where it says (`SHOW DIAGNOSTICS`), else [`FALLBACK_CONCURRENCY`].
    pub concurrency: Option<usize>,
    /// The ledger (success-marker) file.
    pub ledger: PathBuf,
    /// Most measurements copied by one query.
    pub max_measurements_per_query: usize,
    /// Time limit of one HTTP request.
    pub query_timeout: Duration,
    /// Retries of a transient failure before a chunk is split.
    pub retries: u32,
    /// First retry delay; doubles each attempt (capped at 30s), with jitter.
    pub retry_backoff: Duration,
    /// Most time one chunk spends retrying before it is split or reported failed.
    pub retry_deadline: Duration,
    /// Average write rate the copier keeps under (points per second); `None` = no limit.
    pub max_points_per_second: Option<u64>,
    /// Where a run lists the chunks that still failed (JSON); removed after a run
    /// without failures. Default: `<ledger>.failures.json`.
    pub failure_report: PathBuf,
    /// How often a progress line is logged when stderr is not a terminal.
    pub progress_interval: Duration,
    /// After SIGTERM/SIGINT, how long chunks in flight may take before they are
    /// abandoned.
    pub stop_grace: Duration,
    /// While requests wait on a server that sends nothing, about how long before
    /// `/ping` on new connections decides it is lost and the run stops (exit 2); zero
    /// = off. See [`crate::influx::liveness`].
    pub liveness_timeout: Duration,
    /// Check each closed chunk's counts and sums right after copying it, copy it
    /// again once when it differs (default true; `--no-verify` turns it off).
    pub verify: bool,
    /// Recorded windows that closed within this much time are compared with the
    /// source on every run and copied again when they gained points; zero = off.
    pub late_horizon: Duration,
    /// Where a run writes its JSON report, if anywhere.
    pub report: Option<PathBuf>,
    /// Where a run writes Prometheus text-format metrics, if anywhere.
    pub metrics_file: Option<PathBuf>,
}

impl RunSettings {
    /// The concurrency set, or [`FALLBACK_CONCURRENCY`] where the server was not asked.
    pub fn concurrency_or_fallback(&self) -> usize {
        self.concurrency.unwrap_or(FALLBACK_CONCURRENCY)
    }
}

/// Logging.
#[derive(Debug, Clone)]
pub struct LogSettings {
    /// Text or JSON.
    pub format: LogFormat,
    /// Directory for a daily-rolling log file, if any.
    pub dir: Option<PathBuf>,
    /// Default level filter (`RUST_LOG` overrides).
    pub level: String,
}

/// The target server of a cross-server copy (`[target]`).
#[derive(Debug, Clone, Default)]
pub struct TargetSettings {
    /// Base URL without a trailing slash; `None` = the source server (`SELECT INTO`).
    pub url: Option<String>,
    /// User name on the target.
    pub username: Option<String>,
    /// Password (from `password_file` when set, else `password`).
    pub password: Option<Secret>,
    /// PEM CA file to trust for `https`.
    pub ca_file: Option<PathBuf>,
    /// Skip TLS certificate verification.
    pub insecure_skip_verify: bool,
    /// Organization of an InfluxDB 2.x target (`target.org`): where its buckets go.
    pub org: Option<String>,
    /// API token of an InfluxDB 2.x target (from `token_file` when set, else `token`,
    /// e.g. `ITM__TARGET__TOKEN`); sent as `Authorization: Token`, never logged.
    pub token: Option<Secret>,
}

impl TargetSettings {
    /// How to reach the target server of a cross-server copy, when one is set.
    pub fn endpoint(&self) -> Option<Endpoint> {
        Some(Endpoint {
            url: self.url.clone()?,
            username: self.username.clone(),
            password: self.password.clone(),
            ca_file: self.ca_file.clone(),
            insecure_skip_verify: self.insecure_skip_verify,
            side: Side::Target,
            token: self.token.clone(),
        })
    }
}

/// How points are read and written when they leave the server (`[stream]`).
#[derive(Debug, Clone)]
pub struct StreamSettings {
    /// Rows per JSON object of a chunked source query.
    pub chunk_size: usize,
    /// Points per `/write` request (or per batch handed to a file).
    pub batch_points: usize,
}

/// All settings, validated.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Source server.
    pub source: SourceSettings,
    /// Tenants and targets.
    pub tenants: TenantSettings,
    /// Measurements to leave out.
    pub skip_measurements: Vec<Regex>,
    /// Time bounds and window size.
    pub window: WindowSettings,
    /// Retention per tenant.
    pub retention: RetentionSettings,
    /// Copy behaviour.
    pub run: RunSettings,
    /// Logging.
    pub log: LogSettings,
    /// Target server of a cross-server copy.
    pub target: TargetSettings,
    /// Streaming read and write sizes.
    pub stream: StreamSettings,
    /// Tags dropped and measurements renamed in the copy.
    pub transform: Rewrite,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tenant is selected when it matches an include rule (or there are none) and no
    /// exclude rule.
    #[test]
    fn tenant_selection() {
        let re = |r: &str| Regex::new(r).unwrap();
        let mut t = TenantSettings {
            tag: "_tenant_id".into(),
            tag_for: BTreeMap::new(),
            target_template: "{database}_{tenant}".into(),
            include: vec![],
            exclude: vec![re("^test")],
            grant_privileges: true,
        };
        assert!(t.selects("abc"));
        assert!(!t.selects("test1"));
        t.include = vec![re("^a"), re("^t")];
        assert!(t.selects("abc"));
        assert!(!t.selects("xyz"));
        assert!(!t.selects("test1"));
    }

    /// A tenant's own retention wins over the default; policies are named as the
    /// settings wrote them when given, else after the largest exact unit.
    #[test]
    fn retention_per_tenant_and_names() {
        let day = Duration::from_secs(86_400);
        let mut r = RetentionSettings {
            default: Some(7 * day),
            ..RetentionSettings::default()
        };
        r.tenants.insert("a".into(), 14 * day);
        r.tenants.insert("b".into(), 3 * day);
        r.names.insert("b".into(), "72h".into());
        assert_eq!(r.for_tenant("a"), Some(14 * day));
        assert_eq!(r.for_tenant("z"), Some(7 * day));
        assert_eq!(r.policy_name("a").as_deref(), Some("2w"));
        assert_eq!(r.policy_name("b").as_deref(), Some("72h"));
        assert_eq!(r.policy_name("z").as_deref(), Some("1w"));
        r.default_name = Some("7d".into());
        assert_eq!(r.policy_name("z").as_deref(), Some("7d"));
        assert_eq!(RetentionSettings::default().policy_name("z"), None);
    }
}
