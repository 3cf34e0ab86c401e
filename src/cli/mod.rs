//! The command line. Every flag overrides the same setting from the file and the
//! environment; the `///` of each says its default and the setting it overrides.

use crate::config::legacy::{self, LegacyOpts};
use crate::config::{self, Override, Settings};
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// Split a multi-tenant InfluxDB 1.x database into one database per tenant,
/// server-side, in aligned time chunks recorded in a ledger so reruns are safe.
#[derive(Debug, Parser)]
#[command(name = "influx-tenant-migrate", version, about, long_about = None)]
pub struct Cli {
    /// What to do; `run` when omitted.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Settings shared by all commands.
    #[command(flatten)]
    pub opts: Opts,
}

/// The commands.
#[derive(Debug, Subcommand, Clone)]
pub enum Command {
    /// Migrate: copy every planned chunk and record closed ones in the ledger.
    Run {
        /// Also print the summary as JSON on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Dry run: show the chunks a run would copy, the databases and retention policies
    /// it would create, and what the ledger already covers. Writes nothing.
    Plan {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// Also count the points to copy per tenant and time one sample read to
        /// estimate the duration (reads only; takes a count query per chunk).
        #[arg(long)]
        estimate: bool,
    },
    /// Per tenant: chunks done, verified and failed (ledger and failure report, no
    /// server needed); with --plan also open and pending (plans now, on the server).
    Status {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// Contact the server and plan, to show open and pending chunks.
        #[arg(long)]
        plan: bool,
    },
    /// Check recorded chunks: count() of every field and sum() of every numeric field,
    /// source (the tenant's points) against target, per measurement. Chunks that agree
    /// are recorded as verified; exits 1 on any difference.
    Verify {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
        /// Check every recorded chunk again, not only those not yet verified.
        #[arg(long)]
        all: bool,
        /// Also check the open chunks a run would copy now (never recorded; they may
        /// differ because points are still arriving).
        #[arg(long)]
        open: bool,
    },
    /// Write each planned chunk to a gzip line-protocol file,
    /// DIR/<tenant>/<start>-<end>-<hash>.lp.gz, recording closed ones in the ledger.
    Export {
        /// Directory to write into (created if missing).
        #[arg(long, value_name = "DIR")]
        dir: std::path::PathBuf,
    },
    /// Load exported files into per-tenant databases on --target-url, recording
    /// each closed file in the ledger so reruns skip it.
    Import {
        /// Directory written by `export`.
        #[arg(long, value_name = "DIR")]
        dir: std::path::PathBuf,
    },
}

/// Settings flags. Each overrides its key in the config file and `ITM__*` environment.
#[derive(Debug, Args, Default)]
pub struct Opts {
    /// TOML settings file. Default: none (built-in defaults and environment only).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Source InfluxDB URL. Default `http://127.0.0.1:8086`; overrides `source.url`.
    #[arg(long, global = true, value_name = "URL")]
    pub source_url: Option<String>,
    /// Database to split. Default `monasca`; overrides `source.database`.
    #[arg(long, global = true, value_name = "NAME")]
    pub database: Option<String>,
    /// Retention policy to read. Default: the database's default; overrides
    /// `source.retention_policy`.
    #[arg(long, global = true, value_name = "NAME")]
    pub source_retention_policy: Option<String>,
    /// User name. Default none; overrides `source.username`.
    #[arg(long, global = true)]
    pub username: Option<String>,
    /// Password. Default none; overrides `source.password`. Visible in the process
    /// list: prefer --password-file or ITM__SOURCE__PASSWORD.
    #[arg(long, global = true)]
    pub password: Option<String>,
    /// File holding the password (trailing newline ignored). Default none; overrides
    /// `source.password_file`, and wins over a password.
    #[arg(long, global = true, value_name = "FILE")]
    pub password_file: Option<PathBuf>,
    /// PEM CA certificate to trust for https. Default: the built-in roots; overrides
    /// `source.ca_file`.
    #[arg(long, global = true, value_name = "FILE")]
    pub ca_file: Option<PathBuf>,
    /// Skip TLS certificate verification. Default off; overrides
    /// `source.insecure_skip_verify`.
    #[arg(long, global = true)]
    pub insecure_skip_verify: bool,

    /// Tag key holding the tenant id. Default `_tenant_id`; overrides `tenants.tag`.
    #[arg(long, global = true, value_name = "KEY")]
    pub tenant_tag: Option<String>,
    /// Target database name; `{database}` and `{tenant}` are replaced. Default
    /// `{database}_{tenant}`; overrides `tenants.target_template`.
    #[arg(long, global = true, value_name = "TEMPLATE")]
    pub target_template: Option<String>,
    /// Migrate only tenants matching this regex (repeatable). Default all; overrides
    /// `tenants.include`.
    #[arg(long, global = true, value_name = "REGEX")]
    pub tenant_include: Vec<String>,
    /// Leave out tenants matching this regex (repeatable). Default none; overrides
    /// `tenants.exclude`.
    #[arg(long, global = true, value_name = "REGEX")]
    pub tenant_exclude: Vec<String>,
    /// Leave out measurements matching this regex (repeatable). Default none;
    /// overrides `measurements.skip`.
    #[arg(long, global = true, value_name = "REGEX")]
    pub skip_regex: Vec<String>,

    /// Chunk window: week (Monday 00:00 UTC), day or hour. Default week; overrides
    /// `window.time_unit`.
    #[arg(long, global = true, value_name = "UNIT")]
    pub time_unit: Option<String>,
    /// Copy nothing before this time: a date (2024-01-01, meaning 00:00 UTC) or RFC 3339
    /// with Z or an offset (2024-01-01T02:00:00+02:00). Default: the oldest data;
    /// overrides `window.from`.
    #[arg(long, global = true, value_name = "TIME")]
    pub from: Option<String>,
    /// Copy nothing at or after this time: a date (2024-01-01, meaning 00:00 UTC) or RFC
    /// 3339 with Z or an offset (2024-01-01T02:00:00+02:00). Default: the newest data;
    /// overrides `window.to`.
    #[arg(long, global = true, value_name = "TIME")]
    pub to: Option<String>,
    /// Chunks ending later than now minus this are open: copied on every run, never
    /// recorded. Default 15m; overrides `window.settle`.
    #[arg(long, global = true, value_name = "DURATION")]
    pub settle: Option<String>,

    /// Retention for one tenant as TENANT=DURATION (repeatable): its database gets a
    /// default policy of that duration and only newer history is copied. Default none;
    /// overrides `retention.tenants`.
    #[arg(long, global = true, value_name = "TENANT=DURATION")]
    pub retention: Vec<String>,
    /// Retention for tenants without their own. Default none (keep forever); overrides
    /// `retention.default`.
    #[arg(long, global = true, value_name = "DURATION")]
    pub default_retention: Option<String>,
    /// How created retention policies are named: canonical (14d is named 2w) or
    /// as-written (14d is named 14d, like migrate-to-db-per-tenant.py). Default
    /// canonical (as-written with the old tool's flags); overrides
    /// `retention.policy_names`.
    #[arg(long, global = true, value_name = "NAMING")]
    pub retention_policy_names: Option<String>,

    /// Queries in flight at once. Default 2; overrides `run.concurrency`.
    #[arg(long, global = true, value_name = "N")]
    pub concurrency: Option<usize>,
    /// The ledger (success-marker) file. Default `influx-tenant-migrate.ledger` in the
    /// working directory; overrides `run.ledger`.
    #[arg(long, global = true, value_name = "PATH")]
    pub ledger: Option<PathBuf>,
    /// Most measurements one query copies. Default 200; overrides
    /// `run.max_measurements_per_query`.
    #[arg(long, global = true, value_name = "N")]
    pub max_measurements_per_query: Option<usize>,
    /// Time limit of one query. Default 30m; overrides `run.query_timeout`.
    #[arg(long, global = true, value_name = "DURATION")]
    pub query_timeout: Option<String>,
    /// Retries of a transient failure before a chunk is split or reported. Default 8
    /// (about two minutes of backoff); overrides `run.retries`.
    #[arg(long, global = true, value_name = "N")]
    pub retries: Option<u32>,
    /// Most time one chunk spends retrying. Default 5m; overrides `run.retry_deadline`.
    #[arg(long, global = true, value_name = "DURATION")]
    pub retry_deadline: Option<String>,
    /// Keep the average write rate under N points per second (protects a busy
    /// production server). Default 0 = no limit; overrides `run.max_points_per_second`.
    #[arg(long, global = true, value_name = "N")]
    pub max_points_per_second: Option<u64>,
    /// Failure report (JSON) a run writes and `status` reads: the chunks that still
    /// failed. Default `<ledger>.failures.json`; overrides `run.failure_report`.
    #[arg(long, global = true, value_name = "PATH")]
    pub failure_report: Option<PathBuf>,

    /// Verify each closed chunk right after copying it (run only). Default off;
    /// overrides `run.verify`.
    #[arg(long, global = true)]
    pub verify: bool,
    /// Write a JSON report after every run. Default none; overrides `run.report`.
    #[arg(long, global = true, value_name = "PATH")]
    pub report: Option<PathBuf>,
    /// Write Prometheus text-format metrics after every run, atomically (for
    /// node_exporter's textfile collector). Default none; overrides `run.metrics_file`.
    #[arg(long, global = true, value_name = "PATH")]
    pub metrics_file: Option<PathBuf>,

    /// Copy to another InfluxDB server: read chunks with chunked queries and write
    /// line protocol there. Default none (same server, SELECT INTO); overrides
    /// `target.url`.
    #[arg(long, global = true, value_name = "URL")]
    pub target_url: Option<String>,
    /// User name on the target server. Default none; overrides `target.username`.
    #[arg(long, global = true, value_name = "NAME")]
    pub target_username: Option<String>,
    /// Password on the target server. Default none; overrides `target.password`.
    /// Visible in the process list: prefer --target-password-file.
    #[arg(long, global = true)]
    pub target_password: Option<String>,
    /// File holding the target password. Default none; overrides
    /// `target.password_file`, and wins over a password.
    #[arg(long, global = true, value_name = "FILE")]
    pub target_password_file: Option<PathBuf>,
    /// PEM CA certificate to trust for an https target. Default: the built-in roots;
    /// overrides `target.ca_file`.
    #[arg(long, global = true, value_name = "FILE")]
    pub target_ca_file: Option<PathBuf>,
    /// Skip TLS certificate verification on the target. Default off; overrides
    /// `target.insecure_skip_verify`.
    #[arg(long, global = true)]
    pub target_insecure_skip_verify: bool,
    /// Rows per JSON chunk when reading from the source. Default 10000; overrides
    /// `stream.chunk_size`.
    #[arg(long, global = true, value_name = "N")]
    pub read_chunk_size: Option<usize>,
    /// Points per write request. Default 5000; overrides `stream.batch_points`.
    #[arg(long, global = true, value_name = "N")]
    pub write_batch_points: Option<usize>,
    /// Leave this tag out of the copies (repeatable), e.g. `_tenant_id`. Default none;
    /// overrides `transform.drop_tags`.
    #[arg(long, global = true, value_name = "KEY")]
    pub drop_tag: Vec<String>,
    /// Rename measurements matching REGEX to REPLACEMENT (`$1` for groups;
    /// repeatable, first match wins). Default none; overrides
    /// `transform.rename_measurements`.
    #[arg(long, global = true, value_name = "REGEX=REPLACEMENT")]
    pub rename_measurement: Vec<String>,

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

    /// The old Monasca tool's flags.
    #[command(flatten)]
    pub legacy: LegacyOpts,
}

impl Opts {
    /// The flags that were given, as setting overrides.
    pub fn overrides(&self) -> Vec<Override> {
        let mut o: Vec<Override> = Vec::new();
        let mut s = |k: &'static str, v: &Option<String>| {
            if let Some(v) = v {
                o.push((k, v.clone().into()));
            }
        };
        s("source.url", &self.source_url);
        s("source.database", &self.database);
        s("source.retention_policy", &self.source_retention_policy);
        s("source.username", &self.username);
        s("source.password", &self.password);
        s("tenants.tag", &self.tenant_tag);
        s("tenants.target_template", &self.target_template);
        s("window.time_unit", &self.time_unit);
        s("window.from", &self.from);
        s("window.to", &self.to);
        s("window.settle", &self.settle);
        s("retention.default", &self.default_retention);
        s("retention.policy_names", &self.retention_policy_names);
        s("run.query_timeout", &self.query_timeout);
        s("run.retry_deadline", &self.retry_deadline);
        s("log.format", &self.log_format);
        s("log.level", &self.log_level);
        s("target.url", &self.target_url);
        s("target.username", &self.target_username);
        s("target.password", &self.target_password);
        let path = |p: &Option<PathBuf>| p.as_ref().map(|p| p.display().to_string());
        s("source.password_file", &path(&self.password_file));
        s("source.ca_file", &path(&self.ca_file));
        s("run.ledger", &path(&self.ledger));
        s("log.dir", &path(&self.log_file));
        s("run.failure_report", &path(&self.failure_report));
        s("run.report", &path(&self.report));
        s("run.metrics_file", &path(&self.metrics_file));
        s("target.password_file", &path(&self.target_password_file));
        s("target.ca_file", &path(&self.target_ca_file));
        let mut lists = |k: &'static str, v: &Vec<String>| {
            if !v.is_empty() {
                o.push((k, v.clone().into()));
            }
        };
        lists("tenants.include", &self.tenant_include);
        lists("tenants.exclude", &self.tenant_exclude);
        lists("measurements.skip", &self.skip_regex);
        lists("retention.tenants", &self.retention);
        lists("transform.drop_tags", &self.drop_tag);
        lists("transform.rename_measurements", &self.rename_measurement);
        if self.verify {
            o.push(("run.verify", true.into()));
        }
        if self.insecure_skip_verify {
            o.push(("source.insecure_skip_verify", true.into()));
        }
        if let Some(n) = self.concurrency {
            o.push(("run.concurrency", (n as u64).into()));
        }
        if let Some(n) = self.max_measurements_per_query {
            o.push(("run.max_measurements_per_query", (n as u64).into()));
        }
        if let Some(n) = self.max_points_per_second {
            o.push(("run.max_points_per_second", n.into()));
        }
        if let Some(n) = self.retries {
            o.push(("run.retries", u64::from(n).into()));
        }
        if self.target_insecure_skip_verify {
            o.push(("target.insecure_skip_verify", true.into()));
        }
        if let Some(n) = self.read_chunk_size {
            o.push(("stream.chunk_size", (n as u64).into()));
        }
        if let Some(n) = self.write_batch_points {
            o.push(("stream.batch_points", (n as u64).into()));
        }
        o
    }

    /// Loads the settings these flags select: defaults, persister.conf (old tool),
    /// `--config`, `ITM__*` environment, flags (ours and the old tool's).
    pub fn load(&self, now_ns: i64) -> Result<Settings, LoadError> {
        let layers = legacy::layers(&self.legacy, now_ns)?;
        let overrides = legacy::merge_flags(self.overrides(), layers.flags)?;
        Ok(config::load_layers(
            layers.base,
            self.config.as_deref(),
            overrides,
            None,
        )?)
    }
}

/// Why settings could not be loaded from the command line.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The old tool's flags or persister.conf.
    #[error(transparent)]
    Legacy(#[from] legacy::LegacyError),
    /// Our settings.
    #[error(transparent)]
    Config(#[from] config::ConfigError),
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    /// The clap definition is internally consistent.
    #[test]
    fn cli_definition_is_valid() {
        Cli::command().debug_assert();
    }

    /// Flags become overrides that win over file and environment.
    #[test]
    fn flags_override_settings() {
        let cli = Cli::parse_from([
            "itm",
            "plan",
            "--database",
            "db1",
            "--retention",
            "a=2w",
            "--retention",
            "b=1d",
            "--concurrency",
            "5",
            "--time-unit",
            "day",
        ]);
        assert!(matches!(
            cli.command,
            Some(Command::Plan {
                json: false,
                estimate: false
            })
        ));
        let s = crate::config::load_with_env(None, cli.opts.overrides(), Some(Default::default()))
            .unwrap();
        assert_eq!(s.source.database, "db1");
        assert_eq!(s.run.concurrency, 5);
        assert_eq!(s.retention.tenants.len(), 2);
        assert_eq!(s.window.unit, crate::core::window::TimeUnit::Day);

        let cli = Cli::parse_from([
            "itm",
            "run",
            "--verify",
            "--report",
            "r.json",
            "--metrics-file",
            "m.prom",
        ]);
        let s = crate::config::load_with_env(None, cli.opts.overrides(), Some(Default::default()))
            .unwrap();
        assert!(s.run.verify);
        assert_eq!(s.run.report, Some(PathBuf::from("r.json")));
        assert_eq!(s.run.metrics_file, Some(PathBuf::from("m.prom")));
    }
}
