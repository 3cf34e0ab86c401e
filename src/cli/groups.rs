//! The flag groups, one per concern and help heading. Each flag overrides one setting
//! of the config file and the `ITM__*` environment; the `///` of each says its default
//! and the setting it overrides. The commands flatten only the groups they read
//! (`cli::command`).

use crate::cli::overrides::{Overrides, SettingFlags};
use crate::config::legacy::LegacyOpts;
use clap::Args;
use std::path::PathBuf;

/// Where the source is and how to log in.
#[derive(Debug, Args, Default, Clone)]
#[command(next_help_heading = "Source")]
pub struct SourceArgs {
    /// Source InfluxDB URL. Default `http://127.0.0.1:8086`; overrides `source.url`.
    #[arg(long, value_name = "URL")]
    pub source_url: Option<String>,
    /// Database to split. Default `monasca`; overrides `source.database`.
    #[arg(long, value_name = "NAME")]
    pub database: Option<String>,
    /// Retention policy to read. Default: the database's default; overrides
    /// `source.retention_policy`.
    #[arg(long, value_name = "NAME")]
    pub source_retention_policy: Option<String>,
    /// User name. Default none; overrides `source.username`.
    #[arg(long)]
    pub username: Option<String>,
    /// Password. Default none; overrides `source.password`. Visible in the process
    /// list: prefer --password-file or ITM__SOURCE__PASSWORD.
    #[arg(long)]
    pub password: Option<String>,
    /// File holding the password (trailing newline ignored). Default none; overrides
    /// `source.password_file`, and wins over a password.
    #[arg(long, value_name = "FILE")]
    pub password_file: Option<PathBuf>,
    /// PEM CA certificate to trust for https, or the server's own self-signed
    /// certificate (its host name must be in the certificate's subjectAltName, or its
    /// CN when that certificate has no subjectAltName).
    /// Default: the built-in roots; overrides `source.ca_file`.
    #[arg(long, value_name = "FILE")]
    pub ca_file: Option<PathBuf>,
    /// Skip TLS certificate verification. Default off; overrides
    /// `source.insecure_skip_verify`.
    #[arg(long)]
    pub insecure_skip_verify: bool,
}

impl SettingFlags for SourceArgs {
    fn add_to(&self, o: &mut Overrides) {
        o.text("source.url", &self.source_url);
        o.text("source.database", &self.database);
        o.text("source.retention_policy", &self.source_retention_policy);
        o.text("source.username", &self.username);
        o.text("source.password", &self.password);
        o.path("source.password_file", &self.password_file);
        o.path("source.ca_file", &self.ca_file);
        o.switch("source.insecure_skip_verify", self.insecure_skip_verify);
    }
}

/// How tenants and measurements are found in the source points (what `import`, which
/// reads files, does not need).
#[derive(Debug, Args, Default, Clone)]
#[command(next_help_heading = "Tenants")]
pub struct DiscoveryArgs {
    /// Tag key holding the tenant id. Default `_tenant_id`; overrides `tenants.tag`.
    #[arg(long, value_name = "KEY")]
    pub tenant_tag: Option<String>,
    /// Tag key holding the tenant id in one measurement, as MEASUREMENT=KEY
    /// (repeatable). Default `alarm_state_history=tenant_id` (monasca-persister's alarm
    /// history), kept unless named; overrides `tenants.tag_for`.
    #[arg(long, value_name = "MEASUREMENT=KEY")]
    pub tenant_tag_for: Vec<String>,
    /// Leave out measurements matching this regex (repeatable). Default none;
    /// overrides `measurements.skip`.
    #[arg(long, value_name = "REGEX")]
    pub skip_regex: Vec<String>,
}

impl SettingFlags for DiscoveryArgs {
    fn add_to(&self, o: &mut Overrides) {
        o.text("tenants.tag", &self.tenant_tag);
        o.list("tenants.tag_for", &self.tenant_tag_for);
        o.list("measurements.skip", &self.skip_regex);
    }
}

/// Which tenants are migrated, and into which databases.
#[derive(Debug, Args, Default, Clone)]
#[command(next_help_heading = "Tenants")]
pub struct TenantArgs {
    /// Target database name; `{database}` and `{tenant}` are replaced. Default
    /// `{database}_{tenant}`; overrides `tenants.target_template`.
    #[arg(long, value_name = "TEMPLATE")]
    pub target_template: Option<String>,
    /// Migrate only tenants matching this regex (repeatable). Default all; overrides
    /// `tenants.include`.
    #[arg(long, value_name = "REGEX")]
    pub tenant_include: Vec<String>,
    /// Leave out tenants matching this regex (repeatable). Default none; overrides
    /// `tenants.exclude`.
    #[arg(long, value_name = "REGEX")]
    pub tenant_exclude: Vec<String>,
}

impl SettingFlags for TenantArgs {
    fn add_to(&self, o: &mut Overrides) {
        o.text("tenants.target_template", &self.target_template);
        o.list("tenants.include", &self.tenant_include);
        o.list("tenants.exclude", &self.tenant_exclude);
    }
}

/// The chunk windows and the time range.
#[derive(Debug, Args, Default, Clone)]
#[command(next_help_heading = "Window")]
pub struct WindowArgs {
    /// Chunk window: week (Monday 00:00 UTC), day or hour. Default week; overrides
    /// `window.time_unit`.
    #[arg(long, value_name = "UNIT")]
    pub time_unit: Option<String>,
    /// Copy nothing before this time: a date (2024-01-01, meaning 00:00 UTC) or RFC 3339
    /// with Z or an offset (2024-01-01T02:00:00+02:00). Default: the oldest data;
    /// overrides `window.from`.
    #[arg(long, value_name = "TIME")]
    pub from: Option<String>,
    /// Copy nothing at or after this time: a date (2024-01-01, meaning 00:00 UTC) or RFC
    /// 3339 with Z or an offset (2024-01-01T02:00:00+02:00). Default: the newest data;
    /// overrides `window.to`.
    #[arg(long, value_name = "TIME")]
    pub to: Option<String>,
    /// Chunks ending later than now minus this are open: copied on every run, never
    /// recorded. Default 15m; overrides `window.settle`.
    #[arg(long, value_name = "DURATION")]
    pub settle: Option<String>,
    /// Recorded windows that closed within this much time are counted again on the
    /// source by every run and copied again when they gained points (late writes of a
    /// persister catching up). Default 2d; 0 turns it off; overrides
    /// `run.late_horizon`.
    #[arg(long, value_name = "DURATION")]
    pub late_horizon: Option<String>,
}

impl SettingFlags for WindowArgs {
    fn add_to(&self, o: &mut Overrides) {
        o.text("window.time_unit", &self.time_unit);
        o.text("window.from", &self.from);
        o.text("window.to", &self.to);
        o.text("window.settle", &self.settle);
        o.text("run.late_horizon", &self.late_horizon);
    }
}

/// The retention policies of the target databases.
#[derive(Debug, Args, Default, Clone)]
#[command(next_help_heading = "Retention")]
pub struct RetentionArgs {
    /// Retention for one tenant as TENANT=DURATION (repeatable): its database gets a
    /// default policy of that duration and only newer history is copied. Default none;
    /// overrides `retention.tenants`.
    #[arg(long, value_name = "TENANT=DURATION")]
    pub retention: Vec<String>,
    /// Retention for tenants without their own. Default none (keep forever); overrides
    /// `retention.default`.
    #[arg(long, value_name = "DURATION")]
    pub default_retention: Option<String>,
    /// How created retention policies are named: canonical (14d is named 2w) or
    /// as-written (14d is named 14d, like migrate-to-db-per-tenant.py). Default
    /// canonical (as-written with the old tool's flags); overrides
    /// `retention.policy_names`.
    #[arg(long, value_name = "NAMING")]
    pub retention_policy_names: Option<String>,
    /// Shard group duration of the policies the tool creates (at least 1h, at most the
    /// policy's duration). Default InfluxDB's guidance for the policy's duration (up to
    /// 1d: 6h, up to 7d: 1d, up to 13w: 7d, longer: 30d, infinite: 52w); overrides
    /// `retention.shard_duration`. Existing policies are never altered.
    #[arg(long, value_name = "DURATION")]
    pub shard_duration: Option<String>,
}

impl SettingFlags for RetentionArgs {
    fn add_to(&self, o: &mut Overrides) {
        o.list("retention.tenants", &self.retention);
        o.text("retention.default", &self.default_retention);
        o.text("retention.policy_names", &self.retention_policy_names);
        o.text("retention.shard_duration", &self.shard_duration);
    }
}

/// Users' privileges on the tenant databases.
#[derive(Debug, Args, Default, Clone)]
#[command(next_help_heading = "Tenants")]
pub struct GrantArgs {
    /// Do not grant the source's non-admin users their privilege (READ, WRITE, ALL)
    /// on the tenant databases. Default: grant them (needs admin rights); overrides
    /// `tenants.grant_privileges` (with false).
    #[arg(long)]
    pub no_grants: bool,
}

impl SettingFlags for GrantArgs {
    fn add_to(&self, o: &mut Overrides) {
        o.switch_off("tenants.grant_privileges", self.no_grants);
    }
}

/// The ledger and the failure report beside it.
#[derive(Debug, Args, Default, Clone)]
#[command(next_help_heading = "Run")]
pub struct LedgerArgs {
    /// The ledger (success-marker) file. Default `influx-tenant-migrate.ledger` in the
    /// working directory; overrides `run.ledger`.
    #[arg(long, value_name = "PATH")]
    pub ledger: Option<PathBuf>,
    /// Failure report (JSON) a run writes and `status` reads: the chunks that still
    /// failed. Default `<ledger>.failures.json`; overrides `run.failure_report`.
    #[arg(long, value_name = "PATH")]
    pub failure_report: Option<PathBuf>,
}

impl SettingFlags for LedgerArgs {
    fn add_to(&self, o: &mut Overrides) {
        o.path("run.ledger", &self.ledger);
        o.path("run.failure_report", &self.failure_report);
    }
}

/// How queries are sent: how many at once and for how long.
#[derive(Debug, Args, Default, Clone)]
#[command(next_help_heading = "Run")]
pub struct QueryArgs {
    /// Queries in flight at once. Default "auto": a quarter of the source server's
    /// GOMAXPROCS (`SHOW DIAGNOSTICS`, admin), at least 2; 2 when it will not say.
    /// This flag overrides `run.concurrency` and `ITM__RUN__CONCURRENCY`.
    #[arg(long, value_name = "N")]
    pub concurrency: Option<usize>,
    /// Time limit of one query. Default 30m; overrides `run.query_timeout`.
    #[arg(long, value_name = "DURATION")]
    pub query_timeout: Option<String>,
    /// Stop the command (exit 2) when a server sends nothing while requests wait on it
    /// and `/ping` on new connections gets no answer for about this long (influxd out
    /// of open files, or stopped); 0 = wait for each request's query timeout. Default
    /// 90s; overrides `run.liveness_timeout`.
    #[arg(long, value_name = "DURATION")]
    pub liveness_timeout: Option<String>,
}

impl SettingFlags for QueryArgs {
    fn add_to(&self, o: &mut Overrides) {
        o.number("run.concurrency", self.concurrency.map(|n| n as u64));
        o.text("run.query_timeout", &self.query_timeout);
        o.text("run.liveness_timeout", &self.liveness_timeout);
    }
}

/// How many measurements discovery and the planner put in one query.
#[derive(Debug, Args, Default, Clone)]
#[command(next_help_heading = "Run")]
pub struct BatchArgs {
    /// Most measurements one query copies. Default 200; overrides
    /// `run.max_measurements_per_query`.
    #[arg(long, value_name = "N")]
    pub max_measurements_per_query: Option<usize>,
}

impl SettingFlags for BatchArgs {
    fn add_to(&self, o: &mut Overrides) {
        let n = self.max_measurements_per_query.map(|n| n as u64);
        o.number("run.max_measurements_per_query", n);
    }
}

/// How chunks are copied: retries and pace.
#[derive(Debug, Args, Default, Clone)]
#[command(next_help_heading = "Run")]
pub struct CopyArgs {
    /// Retries of a transient failure before a chunk is split or reported. Default 8
    /// (about two minutes of backoff); overrides `run.retries`.
    #[arg(long, value_name = "N")]
    pub retries: Option<u32>,
    /// Most time one chunk spends retrying. Default 5m; overrides `run.retry_deadline`.
    #[arg(long, value_name = "DURATION")]
    pub retry_deadline: Option<String>,
    /// Keep the average write rate under N points per second (protects a busy
    /// production server). Default 0 = no limit; overrides `run.max_points_per_second`.
    #[arg(long, value_name = "N")]
    pub max_points_per_second: Option<u64>,
}

impl SettingFlags for CopyArgs {
    fn add_to(&self, o: &mut Overrides) {
        o.number("run.retries", self.retries.map(u64::from));
        o.text("run.retry_deadline", &self.retry_deadline);
        o.number("run.max_points_per_second", self.max_points_per_second);
    }
}

/// The files a copy leaves for monitoring.
#[derive(Debug, Args, Default, Clone)]
#[command(next_help_heading = "Run")]
pub struct ReportArgs {
    /// Write a JSON report after every run. Default none; overrides `run.report`.
    #[arg(long, value_name = "PATH")]
    pub report: Option<PathBuf>,
    /// Write Prometheus text-format metrics after every run, atomically (for
    /// node_exporter's textfile collector). Default none; overrides `run.metrics_file`.
    #[arg(long, value_name = "PATH")]
    pub metrics_file: Option<PathBuf>,
}

impl SettingFlags for ReportArgs {
    fn add_to(&self, o: &mut Overrides) {
        o.path("run.report", &self.report);
        o.path("run.metrics_file", &self.metrics_file);
    }
}

/// Another server to copy to, and how to log in there.
#[derive(Debug, Args, Default, Clone)]
#[command(next_help_heading = "Target")]
pub struct TargetArgs {
    /// Copy to another InfluxDB server: read chunks with chunked queries and write
    /// line protocol there. Default none (same server, SELECT INTO); overrides
    /// `target.url`.
    #[arg(long, value_name = "URL")]
    pub target_url: Option<String>,
    /// User name on the target server. Default none; overrides `target.username`.
    #[arg(long, value_name = "NAME")]
    pub target_username: Option<String>,
    /// Password on the target server. Default none; overrides `target.password`.
    /// Visible in the process list: prefer --target-password-file.
    #[arg(long)]
    pub target_password: Option<String>,
    /// File holding the target password. Default none; overrides
    /// `target.password_file`, and wins over a password.
    #[arg(long, value_name = "FILE")]
    pub target_password_file: Option<PathBuf>,
    /// PEM CA certificate to trust for an https target, or the target's own
    /// self-signed certificate. Default: the built-in roots; overrides
    /// `target.ca_file`.
    #[arg(long, value_name = "FILE")]
    pub target_ca_file: Option<PathBuf>,
    /// Skip TLS certificate verification on the target. Default off; overrides
    /// `target.insecure_skip_verify`.
    #[arg(long)]
    pub target_insecure_skip_verify: bool,
    /// Organization of an InfluxDB 2.x target, where the tenant buckets go. Default
    /// none (needed once the target answers as 2.x); overrides `target.org`.
    #[arg(long, value_name = "NAME")]
    pub target_org: Option<String>,
    /// File holding the API token of an InfluxDB 2.x target (trailing newline
    /// ignored). Default none; overrides `target.token_file`, and wins over
    /// `target.token` / ITM__TARGET__TOKEN. The token itself has no flag: the process
    /// list would show it.
    #[arg(long, value_name = "FILE")]
    pub target_token_file: Option<PathBuf>,
}

impl SettingFlags for TargetArgs {
    fn add_to(&self, o: &mut Overrides) {
        o.text("target.url", &self.target_url);
        o.text("target.username", &self.target_username);
        o.text("target.password", &self.target_password);
        o.path("target.password_file", &self.target_password_file);
        o.path("target.ca_file", &self.target_ca_file);
        o.switch(
            "target.insecure_skip_verify",
            self.target_insecure_skip_verify,
        );
        o.text("target.org", &self.target_org);
        o.path("target.token_file", &self.target_token_file);
    }
}

/// What the copies look like: tags left out, measurements renamed.
#[derive(Debug, Args, Default, Clone)]
#[command(next_help_heading = "Target")]
pub struct TransformArgs {
    /// Leave this tag out of the copies (repeatable), e.g. `_tenant_id`. Default none;
    /// overrides `transform.drop_tags`.
    #[arg(long, value_name = "KEY")]
    pub drop_tag: Vec<String>,
    /// Rename measurements matching REGEX to REPLACEMENT (`$1` for groups;
    /// repeatable, first match wins). Default none; overrides
    /// `transform.rename_measurements`.
    #[arg(long, value_name = "REGEX=REPLACEMENT")]
    pub rename_measurement: Vec<String>,
}

impl SettingFlags for TransformArgs {
    fn add_to(&self, o: &mut Overrides) {
        o.list("transform.drop_tags", &self.drop_tag);
        o.list("transform.rename_measurements", &self.rename_measurement);
    }
}

/// How points are read from the source with chunked queries.
#[derive(Debug, Args, Default, Clone)]
#[command(next_help_heading = "Stream")]
pub struct ReadArgs {
    /// Rows per JSON chunk when reading from the source. Default 10000; overrides
    /// `stream.chunk_size`.
    #[arg(long, value_name = "N")]
    pub read_chunk_size: Option<usize>,
}

impl SettingFlags for ReadArgs {
    fn add_to(&self, o: &mut Overrides) {
        o.number("stream.chunk_size", self.read_chunk_size.map(|n| n as u64));
    }
}

/// How points are written: to a target server or an export file.
#[derive(Debug, Args, Default, Clone)]
#[command(next_help_heading = "Stream")]
pub struct WriteArgs {
    /// Points per write request. Default 5000; overrides `stream.batch_points`.
    #[arg(long, value_name = "N")]
    pub write_batch_points: Option<usize>,
}

impl SettingFlags for WriteArgs {
    fn add_to(&self, o: &mut Overrides) {
        let n = self.write_batch_points.map(|n| n as u64);
        o.number("stream.batch_points", n);
    }
}

/// Logging; every command takes these, before or after its name.
#[derive(Debug, Args, Default, Clone)]
#[command(next_help_heading = "Logging")]
pub struct LogArgs {
    /// Log format, text or json. Default text; overrides `log.format`.
    #[arg(long, global = true, value_name = "FORMAT")]
    pub log_format: Option<String>,
    /// Also log to a daily-rolling file in this directory. Default none; overrides
    /// `log.dir`.
    #[arg(long, global = true, value_name = "DIR")]
    pub log_file: Option<PathBuf>,
    /// Log level filter (RUST_LOG wins). Default info; overrides `log.level`.
    #[arg(long, global = true, value_name = "LEVEL")]
    pub log_level: Option<String>,
}

impl SettingFlags for LogArgs {
    fn add_to(&self, o: &mut Overrides) {
        o.text("log.format", &self.log_format);
        o.path("log.dir", &self.log_file);
        o.text("log.level", &self.log_level);
    }
}

/// What discovery and the planner read: the flags of every command that plans
/// (`run`, `plan`, `export`; `status --plan`, `verify --open`). The target server's
/// flags are apart because `export` plans for files.
#[derive(Debug, Args, Default, Clone)]
pub struct PlanningArgs {
    /// The source.
    #[command(flatten)]
    pub source: SourceArgs,
    /// Tenant tag and measurements left out.
    #[command(flatten)]
    pub discovery: DiscoveryArgs,
    /// Tenant selection and target names.
    #[command(flatten)]
    pub tenants: TenantArgs,
    /// Chunk windows and time range.
    #[command(flatten)]
    pub window: WindowArgs,
    /// Target retention.
    #[command(flatten)]
    pub retention: RetentionArgs,
    /// Users' privileges on the targets.
    #[command(flatten)]
    pub grants: GrantArgs,
    /// The ledger and the failure report.
    #[command(flatten)]
    pub ledger: LedgerArgs,
    /// Concurrency and query time limit.
    #[command(flatten)]
    pub queries: QueryArgs,
    /// Measurements per query.
    #[command(flatten)]
    pub batch: BatchArgs,
    /// The old Monasca tool's flags (settings layers of their own, not overrides).
    #[command(flatten)]
    pub legacy: LegacyOpts,
}

impl SettingFlags for PlanningArgs {
    fn add_to(&self, o: &mut Overrides) {
        o.add(&self.source)
            .add(&self.discovery)
            .add(&self.tenants)
            .add(&self.window)
            .add(&self.retention)
            .add(&self.grants)
            .add(&self.ledger)
            .add(&self.queries)
            .add(&self.batch);
    }
}
