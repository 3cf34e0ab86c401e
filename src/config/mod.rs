//! Settings: defaults, then the TOML file, then `ITM__SECTION__KEY` environment
//! variables, then command-line flags (later wins), validated once into [`Settings`].
//!
//! Durations, times, regexes and the password file are parsed here, at load, so the
//! rest of the tool only sees typed values. Every error names the key and where its
//! value came from.

pub mod legacy;

use crate::core::secret::Secret;
use crate::core::window::{influx_duration, parse_rfc3339_ns, TimeUnit};
use crate::influx::client::Endpoint;
use regex::Regex;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Environment prefix: `ITM__SOURCE__URL` sets `source.url`.
pub const ENV_PREFIX: &str = "ITM";

/// A configuration error: which key, what is wrong, where the value came from.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file, env or flags could not be read or deserialized.
    #[error("{0}")]
    Load(String),
    /// A value was read but is not valid.
    #[error("invalid `{key}` {origin}: {reason}")]
    Invalid {
        /// Dotted key, e.g. `window.settle`.
        key: String,
        /// Where the value came from, e.g. `in /etc/x.toml`.
        origin: String,
        /// What is wrong with it.
        reason: String,
    },
}

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

// ---- raw, as deserialized ---------------------------------------------------------

#[derive(Debug, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct Raw {
    source: RawSource,
    tenants: RawTenants,
    measurements: RawMeasurements,
    window: RawWindow,
    retention: RawRetention,
    run: RawRun,
    log: RawLog,
    target: RawTarget,
    stream: RawStream,
    transform: RawTransform,
}

#[derive(Debug, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct RawTarget {
    url: String,
    username: String,
    password: String,
    password_file: String,
    ca_file: String,
    insecure_skip_verify: bool,
}

#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RawStream {
    chunk_size: usize,
    batch_points: usize,
}

impl Default for RawStream {
    fn default() -> Self {
        RawStream {
            chunk_size: 10_000,
            batch_points: 5_000,
        }
    }
}

#[derive(Debug, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct RawTransform {
    drop_tags: Vec<String>,
    rename_measurements: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RawSource {
    url: String,
    database: String,
    retention_policy: String,
    username: String,
    password: String,
    password_file: String,
    ca_file: String,
    insecure_skip_verify: bool,
}

impl Default for RawSource {
    fn default() -> Self {
        RawSource {
            url: "http://127.0.0.1:8086".into(),
            database: "monasca".into(),
            retention_policy: String::new(),
            username: String::new(),
            password: String::new(),
            password_file: String::new(),
            ca_file: String::new(),
            insecure_skip_verify: false,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RawTenants {
    tag: String,
    target_template: String,
    include: Vec<String>,
    exclude: Vec<String>,
}

impl Default for RawTenants {
    fn default() -> Self {
        RawTenants {
            tag: "_tenant_id".into(),
            target_template: "{database}_{tenant}".into(),
            include: vec![],
            exclude: vec![],
        }
    }
}

#[derive(Debug, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct RawMeasurements {
    skip: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RawWindow {
    time_unit: String,
    from: String,
    to: String,
    settle: String,
}

impl Default for RawWindow {
    fn default() -> Self {
        RawWindow {
            time_unit: "week".into(),
            from: String::new(),
            to: String::new(),
            settle: "15m".into(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RawRetention {
    default: String,
    tenants: Vec<String>,
    policy_names: PolicyNames,
}

impl Default for RawRetention {
    fn default() -> Self {
        RawRetention {
            default: String::new(),
            tenants: vec![],
            policy_names: PolicyNames::Canonical,
        }
    }
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

#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RawRun {
    concurrency: usize,
    ledger: String,
    max_measurements_per_query: usize,
    query_timeout: String,
    retries: u32,
    retry_backoff: String,
    retry_deadline: String,
    max_points_per_second: u64,
    failure_report: String,
    progress_interval: String,
    stop_grace: String,
    verify: bool,
    report: String,
    metrics_file: String,
}

impl Default for RawRun {
    fn default() -> Self {
        RawRun {
            concurrency: 2,
            ledger: "influx-tenant-migrate.ledger".into(),
            max_measurements_per_query: 200,
            query_timeout: "30m".into(),
            retries: 8,
            retry_backoff: "1s".into(),
            retry_deadline: "5m".into(),
            max_points_per_second: 0,
            failure_report: String::new(),
            progress_interval: "10s".into(),
            stop_grace: "60s".into(),
            verify: false,
            report: String::new(),
            metrics_file: String::new(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RawLog {
    format: LogFormat,
    dir: String,
    level: String,
}

impl Default for RawLog {
    fn default() -> Self {
        RawLog {
            format: LogFormat::Text,
            dir: String::new(),
            level: "info".into(),
        }
    }
}

// ---- validated ----------------------------------------------------------------------

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
        }
    }
}

/// Which tenants to migrate and where to.
#[derive(Debug, Clone)]
pub struct TenantSettings {
    /// Tag key holding the tenant id.
    pub tag: String,
    /// Target database name template with `{database}` and `{tenant}`.
    pub target_template: String,
    /// Only tenants matching one of these (all when empty).
    pub include: Vec<Regex>,
    /// Tenants matching any of these are left out.
    pub exclude: Vec<Regex>,
}

impl TenantSettings {
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

/// How the copy runs.
#[derive(Debug, Clone)]
pub struct RunSettings {
    /// Queries in flight at once.
    pub concurrency: usize,
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
    /// Check each closed chunk's counts and sums right after copying it.
    pub verify: bool,
    /// Where a run writes its JSON report, if anywhere.
    pub report: Option<PathBuf>,
    /// Where a run writes Prometheus text-format metrics, if anywhere.
    pub metrics_file: Option<PathBuf>,
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
    pub transform: crate::core::rewrite::Rewrite,
}

/// A value set from the command line; it overrides file and environment.
pub type Override = (&'static str, config::Value);

/// Values that sit between the built-in defaults and the TOML file, e.g. those read
/// from a Monasca `persister.conf`, with where they came from for error messages.
#[derive(Debug, Clone, Default)]
pub struct BaseLayer {
    /// Where the values came from, e.g. `in /etc/monasca/persister.conf`.
    pub origin: String,
    /// The values.
    pub values: Vec<Override>,
}

/// Loads settings: defaults, `file` (if any), `ITM__*` environment, then `overrides`.
pub fn load(file: Option<&Path>, overrides: Vec<Override>) -> Result<Settings, ConfigError> {
    load_with_env(file, overrides, None)
}

/// Like [`load`] with an explicit environment (tests pass their own map).
pub fn load_with_env(
    file: Option<&Path>,
    overrides: Vec<Override>,
    env: Option<config::Map<String, String>>,
) -> Result<Settings, ConfigError> {
    load_layers(BaseLayer::default(), file, overrides, env)
}

/// Loads settings from every layer, later wins: defaults, `base`, `file`, `ITM__*`
/// environment (`env`, or the process environment when `None`), `overrides`.
pub fn load_layers(
    base: BaseLayer,
    file: Option<&Path>,
    overrides: Vec<Override>,
    env: Option<config::Map<String, String>>,
) -> Result<Settings, ConfigError> {
    let mut b = config::Config::builder();
    for (k, v) in &base.values {
        b = b
            .set_default(*k, v.clone())
            .map_err(|e| ConfigError::Load(e.to_string()))?;
    }
    if let Some(f) = file {
        if !f.is_file() {
            return Err(ConfigError::Load(format!(
                "config file {} does not exist or is not a file",
                f.display()
            )));
        }
        b = b.add_source(config::File::from(f).format(config::FileFormat::Toml));
    }
    let env_names: Vec<String> = match &env {
        Some(map) => map.keys().cloned().collect(),
        None => std::env::vars().map(|(k, _)| k).collect(),
    };
    let origins = Origins {
        file,
        file_keys: file.map(file_keys).unwrap_or_default(),
        base_origin: base.origin.clone(),
        base: base.values.iter().map(|(k, _)| *k).collect(),
        flags: overrides.iter().map(|(k, _)| *k).collect(),
        env: env_names
            .into_iter()
            .filter(|k| k.starts_with(ENV_PREFIX))
            .collect(),
    };
    let mut env_src = config::Environment::with_prefix(ENV_PREFIX)
        .prefix_separator("__")
        .separator("__");
    if let Some(map) = env {
        env_src = env_src.source(Some(map));
    }
    b = b.add_source(env_src);
    for (k, v) in overrides {
        b = b
            .set_override(k, v)
            .map_err(|e| ConfigError::Load(e.to_string()))?;
    }
    let cfg = b.build().map_err(|e| load_error(e, file))?;
    let raw: Raw = cfg.try_deserialize().map_err(|e| load_error(e, file))?;
    validate(raw, &origins)
}

fn load_error(e: config::ConfigError, file: Option<&Path>) -> ConfigError {
    let msg = e.to_string();
    match file {
        // Type errors already say which file; unknown keys and parse errors do not.
        Some(f) if !msg.contains(&f.display().to_string()) => {
            ConfigError::Load(format!("config file {}: {msg}", f.display()))
        }
        _ => ConfigError::Load(format!("invalid settings: {msg}")),
    }
}

/// The dotted keys a TOML file sets (empty when it does not parse: loading reports
/// that).
fn file_keys(f: &Path) -> Vec<String> {
    let Ok(cfg) = config::Config::builder()
        .add_source(config::File::from(f).format(config::FileFormat::Toml))
        .build()
    else {
        return vec![];
    };
    let Ok(tables) = cfg.try_deserialize::<config::Map<String, config::Value>>() else {
        return vec![];
    };
    let mut keys = Vec::new();
    for (section, v) in tables {
        if let Ok(t) = v.into_table() {
            keys.extend(t.into_keys().map(|k| format!("{section}.{k}")));
        }
    }
    keys
}

/// Where values came from, for error messages: the layer that set a key last wins,
/// exactly as in loading.
struct Origins<'a> {
    file: Option<&'a Path>,
    file_keys: Vec<String>,
    base_origin: String,
    base: Vec<&'static str>,
    flags: Vec<&'static str>,
    env: Vec<String>,
}

impl Origins<'_> {
    fn describe(&self, key: &str) -> String {
        let var = format!("{ENV_PREFIX}__{}", key.replace('.', "__").to_uppercase());
        if self.flags.contains(&key) {
            "from the command line".to_string()
        } else if self.env.contains(&var) {
            format!("from environment variable {var}")
        } else if self.base.contains(&key) && !self.file_keys.iter().any(|k| k == key) {
            self.base_origin.clone()
        } else if let Some(f) = self.file {
            format!("in {}", f.display())
        } else {
            "(built-in default)".to_string()
        }
    }
}

fn opt(s: String) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_string())
}

fn validate(raw: Raw, origins: &Origins<'_>) -> Result<Settings, ConfigError> {
    let invalid = |key: &str, reason: String| ConfigError::Invalid {
        key: key.to_string(),
        origin: origins.describe(key),
        reason,
    };
    let duration = |key: &str, s: &str| -> Result<Duration, ConfigError> {
        humantime::parse_duration(s.trim()).map_err(|e| {
            invalid(
                key,
                format!("{s:?} is not a duration ({e}); write e.g. 15m, 2h, 2w"),
            )
        })
    };
    let regexes = |key: &str, list: &[String]| -> Result<Vec<Regex>, ConfigError> {
        list.iter()
            .map(|r| Regex::new(r).map_err(|e| invalid(key, format!("bad regex {r:?}: {e}"))))
            .collect()
    };

    let s = raw.source;
    let url = s.url.trim().trim_end_matches('/').to_string();
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(invalid(
            "source.url",
            format!("{url:?} must start with http:// or https://"),
        ));
    }
    // The URL is printed in logs and errors; a password inside it would be too. The
    // value itself is not repeated here for the same reason.
    let authority = url.split_once("://").map_or("", |(_, rest)| {
        rest.split(['/', '?', '#']).next().unwrap_or_default()
    });
    if authority.contains('@') {
        return Err(invalid(
            "source.url",
            "must not contain credentials (user:password@host): set source.username and \
             source.password_file or ITM__SOURCE__PASSWORD instead"
                .into(),
        ));
    }
    if s.database.trim().is_empty() {
        return Err(invalid("source.database", "must not be empty".into()));
    }
    let password = match opt(s.password_file) {
        Some(path) => {
            let text = std::fs::read_to_string(&path)
                .map_err(|e| invalid("source.password_file", format!("cannot read {path}: {e}")))?;
            Some(Secret::new(text.trim_end_matches(['\n', '\r'])))
        }
        None => (!s.password.is_empty()).then(|| Secret::new(s.password)),
    };
    let ca_file = opt(s.ca_file).map(PathBuf::from);
    if let Some(ca) = &ca_file {
        if !ca.is_file() {
            return Err(invalid(
                "source.ca_file",
                format!("{} is not a readable file", ca.display()),
            ));
        }
    }
    let source = SourceSettings {
        url,
        database: s.database,
        retention_policy: opt(s.retention_policy),
        username: opt(s.username),
        password,
        ca_file,
        insecure_skip_verify: s.insecure_skip_verify,
    };

    let t = raw.tenants;
    if t.tag.is_empty() {
        return Err(invalid("tenants.tag", "must not be empty".into()));
    }
    if !t.target_template.contains("{tenant}") {
        return Err(invalid(
            "tenants.target_template",
            format!(
                "{:?} must contain {{tenant}}, or every tenant would land in one database",
                t.target_template
            ),
        ));
    }
    let leftover = t
        .target_template
        .replace("{tenant}", "")
        .replace("{database}", "");
    if leftover.contains('{') || leftover.contains('}') {
        return Err(invalid(
            "tenants.target_template",
            format!(
                "{:?}: only {{database}} and {{tenant}} can be used",
                t.target_template
            ),
        ));
    }
    let tenants = TenantSettings {
        tag: t.tag,
        target_template: t.target_template,
        include: regexes("tenants.include", &t.include)?,
        exclude: regexes("tenants.exclude", &t.exclude)?,
    };
    let skip_measurements = regexes("measurements.skip", &raw.measurements.skip)?;

    let w = raw.window;
    let unit: TimeUnit =
        w.time_unit
            .parse()
            .map_err(|e: crate::core::window::UnknownTimeUnit| {
                invalid("window.time_unit", e.to_string())
            })?;
    if !matches!(unit, TimeUnit::Week | TimeUnit::Day | TimeUnit::Hour) {
        return Err(invalid(
            "window.time_unit",
            format!("{unit}: use week, day or hour"),
        ));
    }
    let time = |key: &str, s: String| -> Result<Option<i64>, ConfigError> {
        opt(s)
            .map(|v| parse_rfc3339_ns(&v).map_err(|e| invalid(key, format!("{v:?}: {e}"))))
            .transpose()
    };
    let from = time("window.from", w.from)?;
    let to = time("window.to", w.to)?;
    if let (Some(f), Some(t)) = (from, to) {
        if f >= t {
            return Err(invalid(
                "window.to",
                "must be later than window.from".into(),
            ));
        }
    }
    let window = WindowSettings {
        unit,
        from,
        to,
        settle: duration("window.settle", &w.settle)?,
    };

    let r = raw.retention;
    let as_written = r.policy_names == PolicyNames::AsWritten;
    let policy_name = |key: &str, written: &str| -> Result<Option<String>, ConfigError> {
        if !as_written {
            return Ok(None);
        }
        let name = written.trim();
        if name
            .chars()
            .any(|c| matches!(c, '/' | '\\') || c.is_control())
        {
            return Err(invalid(
                key,
                format!("{name:?} cannot name a retention policy (policy_names = \"as-written\")"),
            ));
        }
        Ok(Some(name.to_string()))
    };
    let default_text = opt(r.default);
    let mut retention = RetentionSettings {
        default: default_text
            .as_deref()
            .map(|d| duration("retention.default", d))
            .transpose()?,
        tenants: BTreeMap::new(),
        default_name: match &default_text {
            Some(d) => policy_name("retention.default", d)?,
            None => None,
        },
        names: BTreeMap::new(),
    };
    for entry in &r.tenants {
        // Durations never contain '=', tenant ids may: split at the last one.
        let (tenant, dur) = entry.rsplit_once('=').ok_or_else(|| {
            invalid(
                "retention.tenants",
                format!("{entry:?} is not TENANT=DURATION"),
            )
        })?;
        let d = duration("retention.tenants", dur)?;
        if d < Duration::from_secs(3600) {
            return Err(invalid(
                "retention.tenants",
                format!("{entry:?}: InfluxDB needs at least 1h"),
            ));
        }
        retention.tenants.insert(tenant.to_string(), d);
        if let Some(name) = policy_name("retention.tenants", dur)? {
            retention.names.insert(tenant.to_string(), name);
        }
    }
    if let Some(d) = retention.default {
        if d < Duration::from_secs(3600) {
            return Err(invalid(
                "retention.default",
                "InfluxDB needs at least 1h".into(),
            ));
        }
    }

    let r = raw.run;
    if r.concurrency == 0 {
        return Err(invalid("run.concurrency", "must be at least 1".into()));
    }
    if r.max_measurements_per_query == 0 {
        return Err(invalid(
            "run.max_measurements_per_query",
            "must be at least 1".into(),
        ));
    }
    if r.ledger.trim().is_empty() {
        return Err(invalid("run.ledger", "must not be empty".into()));
    }
    let ledger = PathBuf::from(&r.ledger);
    let failure_report = match opt(r.failure_report) {
        Some(p) => PathBuf::from(p),
        None => {
            let mut p = ledger.clone().into_os_string();
            p.push(".failures.json");
            PathBuf::from(p)
        }
    };
    let run = RunSettings {
        concurrency: r.concurrency,
        ledger,
        max_measurements_per_query: r.max_measurements_per_query,
        query_timeout: duration("run.query_timeout", &r.query_timeout)?,
        retries: r.retries,
        retry_backoff: duration("run.retry_backoff", &r.retry_backoff)?,
        retry_deadline: duration("run.retry_deadline", &r.retry_deadline)?,
        max_points_per_second: (r.max_points_per_second > 0).then_some(r.max_points_per_second),
        failure_report,
        progress_interval: duration("run.progress_interval", &r.progress_interval)?,
        stop_grace: duration("run.stop_grace", &r.stop_grace)?,
        verify: r.verify,
        report: opt(r.report).map(PathBuf::from),
        metrics_file: opt(r.metrics_file).map(PathBuf::from),
    };

    let l = raw.log;
    let dir = opt(l.dir).map(PathBuf::from);
    if let Some(d) = &dir {
        // oslo.log's --log-file takes a file; ours takes a directory.
        if d.is_file() {
            return Err(invalid(
                "log.dir",
                format!(
                    "{} is a file: --log-file / log.dir take a directory, in which a daily \
                     file influx-tenant-migrate.log.YYYY-MM-DD is written",
                    d.display()
                ),
            ));
        }
    }
    let log = LogSettings {
        format: l.format,
        dir,
        level: l.level,
    };

    let target = validate_target(raw.target, &invalid)?;
    let st = raw.stream;
    if st.chunk_size == 0 {
        return Err(invalid("stream.chunk_size", "must be at least 1".into()));
    }
    if st.batch_points == 0 {
        return Err(invalid("stream.batch_points", "must be at least 1".into()));
    }
    let stream = StreamSettings {
        chunk_size: st.chunk_size,
        batch_points: st.batch_points,
    };
    let transform = validate_transform(raw.transform, &invalid)?;

    Ok(Settings {
        source,
        tenants,
        skip_measurements,
        window,
        retention,
        run,
        log,
        target,
        stream,
        transform,
    })
}

fn validate_target(
    t: RawTarget,
    invalid: &dyn Fn(&str, String) -> ConfigError,
) -> Result<TargetSettings, ConfigError> {
    let url = opt(t.url).map(|u| u.trim_end_matches('/').to_string());
    if let Some(u) = &url {
        if !(u.starts_with("http://") || u.starts_with("https://")) {
            return Err(invalid(
                "target.url",
                format!("{u:?} must start with http:// or https://"),
            ));
        }
    }
    let password = match opt(t.password_file) {
        Some(path) => {
            let text = std::fs::read_to_string(&path)
                .map_err(|e| invalid("target.password_file", format!("cannot read {path}: {e}")))?;
            Some(Secret::new(text.trim_end_matches(['\n', '\r'])))
        }
        None => (!t.password.is_empty()).then(|| Secret::new(t.password)),
    };
    let ca_file = opt(t.ca_file).map(PathBuf::from);
    if let Some(ca) = &ca_file {
        if !ca.is_file() {
            return Err(invalid(
                "target.ca_file",
                format!("{} is not a readable file", ca.display()),
            ));
        }
    }
    Ok(TargetSettings {
        url,
        username: opt(t.username),
        password,
        ca_file,
        insecure_skip_verify: t.insecure_skip_verify,
    })
}

fn validate_transform(
    t: RawTransform,
    invalid: &dyn Fn(&str, String) -> ConfigError,
) -> Result<crate::core::rewrite::Rewrite, ConfigError> {
    let mut rewrite = crate::core::rewrite::Rewrite::default();
    for tag in t.drop_tags {
        if tag.is_empty() {
            return Err(invalid(
                "transform.drop_tags",
                "a tag key must not be empty".into(),
            ));
        }
        rewrite.drop_tags.insert(tag);
    }
    for rule in &t.rename_measurements {
        // A replacement may contain '=' and a regex rarely needs one (write \x3D):
        // split at the first.
        let (re, rep) = rule.split_once('=').ok_or_else(|| {
            invalid(
                "transform.rename_measurements",
                format!("{rule:?} is not REGEX=REPLACEMENT"),
            )
        })?;
        let re = Regex::new(re).map_err(|e| {
            invalid(
                "transform.rename_measurements",
                format!("bad regex {re:?}: {e}"),
            )
        })?;
        if rep.is_empty() {
            return Err(invalid(
                "transform.rename_measurements",
                format!("{rule:?}: the replacement must not be empty"),
            ));
        }
        rewrite.renames.push((re, rep.to_string()));
    }
    Ok(rewrite)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Option<config::Map<String, String>> {
        Some(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    fn file(text: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
        std::io::Write::write_all(&mut f, text.as_bytes()).unwrap();
        f
    }

    /// With nothing set, the documented defaults apply.
    #[test]
    fn defaults() {
        let s = load_with_env(None, vec![], env(&[])).unwrap();
        assert_eq!(s.source.url, "http://127.0.0.1:8086");
        assert_eq!(s.source.database, "monasca");
        assert_eq!(s.tenants.tag, "_tenant_id");
        assert_eq!(s.tenants.target_template, "{database}_{tenant}");
        assert_eq!(s.window.unit, TimeUnit::Week);
        assert_eq!(s.window.settle, Duration::from_secs(900));
        assert_eq!(s.run.concurrency, 2);
        assert!(!s.run.verify);
        assert_eq!(s.run.report, None);
        assert_eq!(s.run.metrics_file, None);
        assert_eq!(
            s.run.failure_report,
            PathBuf::from("influx-tenant-migrate.ledger.failures.json")
        );
    }

    /// The failure report defaults to the ledger's path plus `.failures.json`, so two
    /// ledgers in one directory keep their own; it, the run report and the metrics file
    /// can be set.
    #[test]
    fn output_files() {
        let s = load_with_env(
            None,
            vec![("run.ledger", "/var/lib/itm/x.ledger".into())],
            env(&[]),
        )
        .unwrap();
        assert_eq!(
            s.run.failure_report,
            PathBuf::from("/var/lib/itm/x.ledger.failures.json")
        );
        let s = load_with_env(
            None,
            vec![],
            env(&[
                ("ITM__RUN__FAILURE_REPORT", "/tmp/f.json"),
                ("ITM__RUN__REPORT", "/tmp/r.json"),
                ("ITM__RUN__METRICS_FILE", "/tmp/m.prom"),
                ("ITM__RUN__VERIFY", "true"),
            ]),
        )
        .unwrap();
        assert_eq!(s.run.failure_report, PathBuf::from("/tmp/f.json"));
        assert_eq!(s.run.report, Some(PathBuf::from("/tmp/r.json")));
        assert_eq!(s.run.metrics_file, Some(PathBuf::from("/tmp/m.prom")));
        assert!(s.run.verify);
    }

    /// File, then environment, then flags: the later source wins key by key.
    #[test]
    fn precedence_file_env_flags() {
        let f = file(
            "[source]\ndatabase = \"fromfile\"\nurl = \"http://file:1\"\n[run]\nconcurrency = 7\n",
        );
        let s = load_with_env(
            Some(f.path()),
            vec![("run.concurrency", 3.into())],
            env(&[("ITM__SOURCE__URL", "http://env:2")]),
        )
        .unwrap();
        assert_eq!(s.source.database, "fromfile");
        assert_eq!(s.source.url, "http://env:2");
        assert_eq!(s.run.concurrency, 3);
    }

    /// An unknown key names the key and the file.
    #[test]
    fn unknown_key_names_key_and_file() {
        let f = file("[source]\ndatabse = \"x\"\n");
        let err = load_with_env(Some(f.path()), vec![], env(&[]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("databse"), "{err}");
        assert!(err.contains(&f.path().display().to_string()), "{err}");
    }

    /// A bad duration names the key and the file it came from.
    #[test]
    fn bad_duration_names_key_and_origin() {
        let f = file("[window]\nsettle = \"soon\"\n");
        let err = load_with_env(Some(f.path()), vec![], env(&[]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("window.settle"), "{err}");
        assert!(err.contains(&f.path().display().to_string()), "{err}");
        assert!(err.contains("soon"), "{err}");
    }

    /// A wrongly typed value names the key and the file.
    #[test]
    fn wrong_type_names_key_and_file() {
        let f = file("[run]\nconcurrency = \"many\"\n");
        let err = load_with_env(Some(f.path()), vec![], env(&[]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("concurrency"), "{err}");
        assert!(err.contains(&f.path().display().to_string()), "{err}");
    }

    /// A bad value from the environment names the variable.
    #[test]
    fn bad_env_value_names_variable() {
        let err = load_with_env(
            None,
            vec![],
            env(&[("ITM__WINDOW__TIME_UNIT", "fortnight")]),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("ITM__WINDOW__TIME_UNIT"), "{err}");
    }

    /// Per-tenant retention splits at the last '=', so tenant ids may contain '='.
    #[test]
    fn retention_entries() {
        let s = load_with_env(
            None,
            vec![
                ("retention.tenants", vec!["a=b=2w", "c=36h"].into()),
                ("retention.default", "52w".into()),
            ],
            env(&[]),
        )
        .unwrap();
        assert_eq!(
            s.retention.for_tenant("a=b"),
            Some(Duration::from_secs(14 * 86400))
        );
        assert_eq!(
            s.retention.for_tenant("c"),
            Some(Duration::from_secs(36 * 3600))
        );
        assert_eq!(
            s.retention.for_tenant("z"),
            Some(Duration::from_secs(52 * 7 * 86400))
        );
    }

    /// A template without {tenant} and a bad regex are refused, naming the key.
    #[test]
    fn template_and_regex_validation() {
        let err = load_with_env(
            None,
            vec![("tenants.target_template", "x_{database}".into())],
            env(&[]),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("tenants.target_template"), "{err}");
        let err = load_with_env(
            None,
            vec![("tenants.include", vec!["(".to_string()].into())],
            env(&[]),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("tenants.include"), "{err}");
    }

    /// "as-written" keeps the policy names as the durations are written; "canonical"
    /// (the default) names them after the largest exact unit.
    #[test]
    fn policy_names() {
        let o = || {
            vec![
                ("retention.tenants", vec!["a=14d"].into()),
                ("retention.default", "168h".into()),
            ]
        };
        let s = load_with_env(None, o(), env(&[])).unwrap();
        assert_eq!(s.retention.policy_name("a").as_deref(), Some("2w"));
        assert_eq!(s.retention.policy_name("z").as_deref(), Some("1w"));
        let mut with = o();
        with.push(("retention.policy_names", "as-written".into()));
        let s = load_with_env(None, with, env(&[])).unwrap();
        assert_eq!(s.retention.policy_name("a").as_deref(), Some("14d"));
        assert_eq!(s.retention.policy_name("z").as_deref(), Some("168h"));
        assert_eq!(
            s.retention.for_tenant("a"),
            Some(Duration::from_secs(14 * 86400))
        );
        let err = load_with_env(
            None,
            vec![("retention.policy_names", "pretty".into())],
            env(&[]),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("pretty"), "{err}");
    }

    /// A URL with credentials is refused without repeating them.
    #[test]
    fn url_with_credentials_refused() {
        let err = load_with_env(
            None,
            vec![("source.url", "http://admin:hunter2@db:8086".into())],
            env(&[]),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("source.url"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
        // An '@' after the host is not userinfo.
        assert!(load_with_env(
            None,
            vec![("source.url", "http://db:8086/x@y".into())],
            env(&[])
        )
        .is_ok());
    }

    /// The base layer (persister.conf) sits under the file: the file wins where it sets
    /// a key, and errors in base values name the base as their origin.
    #[test]
    fn base_layer_below_file() {
        let f = file("[source]\ndatabase = \"fromfile\"\n");
        let base = || BaseLayer {
            origin: "in persister config p.conf [influxdb]".into(),
            values: vec![
                ("source.database", "frombase".into()),
                ("source.username", "baseuser".into()),
                ("source.url", "ftp://nope".into()),
            ],
        };
        let err = load_layers(base(), Some(f.path()), vec![], env(&[]))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("source.url") && err.contains("p.conf"),
            "{err}"
        );
        let s = load_layers(
            base(),
            Some(f.path()),
            vec![("source.url", "http://flag:1".into())],
            env(&[]),
        )
        .unwrap();
        assert_eq!(s.source.database, "fromfile");
        assert_eq!(s.source.username.as_deref(), Some("baseuser"));
        assert_eq!(s.source.url, "http://flag:1");
    }

    /// The password file wins over a password, loses its trailing newline, and never
    /// appears in Debug output.
    #[test]
    fn password_file() {
        let f = file("s3cret\n");
        let s = load_with_env(
            None,
            vec![
                ("source.password", "other".into()),
                (
                    "source.password_file",
                    f.path().display().to_string().into(),
                ),
            ],
            env(&[]),
        )
        .unwrap();
        assert_eq!(s.source.password.as_ref().unwrap().expose(), "s3cret");
        assert!(!format!("{s:?}").contains("s3cret"));
    }

    /// The target section: its own credentials from a file, a trailing slash trimmed,
    /// transforms parsed; a bad rename rule names its key.
    #[test]
    fn target_stream_and_transforms() {
        let f = file("t0ps3cret\n");
        let s = load_with_env(
            None,
            vec![
                ("target.url", "http://other:8086/".into()),
                ("target.username", "bob".into()),
                (
                    "target.password_file",
                    f.path().display().to_string().into(),
                ),
                ("transform.drop_tags", vec!["_tenant_id".to_string()].into()),
                (
                    "transform.rename_measurements",
                    vec![r"^cpu\.(.*)$=c_$1".to_string()].into(),
                ),
            ],
            env(&[("ITM__STREAM__BATCH_POINTS", "7")]),
        )
        .unwrap();
        assert_eq!(s.target.url.as_deref(), Some("http://other:8086"));
        assert_eq!(s.target.username.as_deref(), Some("bob"));
        assert_eq!(s.target.password.as_ref().unwrap().expose(), "t0ps3cret");
        assert_eq!(s.stream.batch_points, 7);
        assert_eq!(s.stream.chunk_size, 10_000);
        assert!(s.transform.drop_tags.contains("_tenant_id"));
        assert_eq!(s.transform.measurement("cpu.idle"), "c_idle");
        let defaults = load_with_env(None, vec![], env(&[])).unwrap();
        assert!(defaults.target.url.is_none());
        assert!(defaults.transform.is_identity());
        let err = load_with_env(
            None,
            vec![(
                "transform.rename_measurements",
                vec!["nope".to_string()].into(),
            )],
            env(&[]),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("transform.rename_measurements"), "{err}");
        let err = load_with_env(None, vec![("target.url", "ftp://x".into())], env(&[]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("target.url"), "{err}");
    }
}
