//! The settings as deserialized, before validation, with the built-in defaults.

use super::settings::{LogFormat, PolicyNames};
use serde::Deserialize;

/// The whole settings file (and environment, and flags), as deserialized.
#[derive(Debug, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub(super) struct Raw {
    pub(super) source: RawSource,
    pub(super) tenants: RawTenants,
    pub(super) measurements: RawMeasurements,
    pub(super) window: RawWindow,
    pub(super) retention: RawRetention,
    pub(super) run: RawRun,
    pub(super) log: RawLog,
    pub(super) target: RawTarget,
    pub(super) stream: RawStream,
    pub(super) transform: RawTransform,
}

/// `[source]` as written.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(super) struct RawSource {
    pub(super) url: String,
    pub(super) database: String,
    pub(super) retention_policy: String,
    pub(super) username: String,
    pub(super) password: String,
    pub(super) password_file: String,
    pub(super) ca_file: String,
    pub(super) insecure_skip_verify: bool,
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

/// `[tenants]` as written.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(super) struct RawTenants {
    pub(super) tag: String,
    pub(super) tag_for: Vec<String>,
    pub(super) target_template: String,
    pub(super) include: Vec<String>,
    pub(super) exclude: Vec<String>,
    pub(super) grant_privileges: bool,
}

impl Default for RawTenants {
    fn default() -> Self {
        RawTenants {
            tag: "_tenant_id".into(),
            tag_for: vec![],
            target_template: "{database}_{tenant}".into(),
            include: vec![],
            exclude: vec![],
            grant_privileges: true,
        }
    }
}

/// `[measurements]` as written.
#[derive(Debug, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub(super) struct RawMeasurements {
    pub(super) skip: Vec<String>,
}

/// `[window]` as written.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(super) struct RawWindow {
    pub(super) time_unit: String,
    pub(super) from: String,
    pub(super) to: String,
    pub(super) settle: String,
    #[serde(rename = "final")]
    pub(super) final_run: bool,
}

impl Default for RawWindow {
    fn default() -> Self {
        RawWindow {
            time_unit: "week".into(),
            from: String::new(),
            to: String::new(),
            settle: "15m".into(),
            final_run: false,
        }
    }
}

/// `[retention]` as written.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(super) struct RawRetention {
    pub(super) default: String,
    pub(super) tenants: Vec<String>,
    pub(super) policy_names: PolicyNames,
    pub(super) shard_duration: String,
}

impl Default for RawRetention {
    fn default() -> Self {
        RawRetention {
            default: String::new(),
            tenants: vec![],
            policy_names: PolicyNames::Canonical,
            shard_duration: String::new(),
        }
    }
}

/// `[run]` as written.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(super) struct RawRun {
    /// `"auto"` or a number: kept as text so the layers can say either.
    pub(super) concurrency: String,
    pub(super) ledger: String,
    pub(super) max_measurements_per_query: usize,
    pub(super) query_timeout: String,
    pub(super) retries: u32,
    pub(super) retry_backoff: String,
    pub(super) retry_deadline: String,
    pub(super) max_points_per_second: u64,
    pub(super) failure_report: String,
    pub(super) progress_interval: String,
    pub(super) stop_grace: String,
    pub(super) liveness_timeout: String,
    pub(super) verify: bool,
    pub(super) late_horizon: String,
    pub(super) report: String,
    pub(super) metrics_file: String,
}

impl Default for RawRun {
    fn default() -> Self {
        RawRun {
            concurrency: "auto".into(),
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
            liveness_timeout: "90s".into(),
            verify: true,
            late_horizon: "2d".into(),
            report: String::new(),
            metrics_file: String::new(),
        }
    }
}

/// `[log]` as written.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(super) struct RawLog {
    pub(super) format: LogFormat,
    pub(super) dir: String,
    pub(super) level: String,
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

/// `[target]` as written.
#[derive(Debug, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub(super) struct RawTarget {
    pub(super) url: String,
    pub(super) username: String,
    pub(super) password: String,
    pub(super) password_file: String,
    pub(super) ca_file: String,
    pub(super) insecure_skip_verify: bool,
    pub(super) org: String,
    pub(super) token: String,
    pub(super) token_file: String,
}

/// `[stream]` as written.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(super) struct RawStream {
    pub(super) chunk_size: usize,
    pub(super) batch_points: usize,
}

impl Default for RawStream {
    fn default() -> Self {
        RawStream {
            chunk_size: 10_000,
            batch_points: 5_000,
        }
    }
}

/// `[transform]` as written.
#[derive(Debug, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub(super) struct RawTransform {
    pub(super) drop_tags: Vec<String>,
    pub(super) rename_measurements: Vec<String>,
}

#[cfg(test)]
mod tests {
    use crate::config::fixtures::env;
    use crate::config::load_with_env;
    use crate::core::window::TimeUnit;
    use std::path::PathBuf;
    use std::time::Duration;

    /// With nothing set, the documented defaults apply.
    #[test]
    fn defaults() {
        let s = load_with_env(None, vec![], env(&[])).unwrap();
        assert_eq!(s.source.url, "http://127.0.0.1:8086");
        assert_eq!(s.source.database, "monasca");
        assert_eq!(s.tenants.tag, "_tenant_id");
        assert_eq!(s.tenants.tag_of("alarm_state_history"), "tenant_id");
        assert_eq!(s.tenants.tag_of("cpu.idle_perc"), "_tenant_id");
        assert_eq!(s.tenants.target_template, "{database}_{tenant}");
        assert_eq!(s.window.unit, TimeUnit::Week);
        assert_eq!(s.window.settle, Duration::from_secs(900));
        assert_eq!(s.run.concurrency, None);
        assert!(s.run.verify);
        assert_eq!(s.run.report, None);
        assert_eq!(s.run.metrics_file, None);
        assert_eq!(
            s.run.failure_report,
            PathBuf::from("influx-tenant-migrate.ledger.failures.json")
        );
    }
}
