//! Points written the way a running Monasca writes them: through monasca-persister's own
//! InfluxDB repositories (`tests/persister/write.py` in the venv `scripts/old-tool-venv`
//! builds), from messages shaped as Kafka carries them.

use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use testkit::InfluxServer;

/// One metric message (`metrics` topic), as `parse_measurement_message` reads it.
#[derive(Clone, Debug)]
pub struct Metric {
    /// `meta.tenantId`: the persister's `_tenant_id` tag (and database with db_per_tenant).
    pub tenant: String,
    /// `meta.region`: the `_region` tag.
    pub region: String,
    /// The measurement, e.g. `cpu.idle_perc`.
    pub name: String,
    /// Dimensions: the other tags.
    pub dimensions: BTreeMap<String, String>,
    /// Milliseconds since the epoch (the persister writes with precision `ms`).
    pub timestamp_ms: i64,
    /// The `value` field.
    pub value: f64,
    /// The `value_meta` field (a JSON object; empty gives `"{}"`).
    pub value_meta: Value,
}

/// One alarm state transition (`alarm-state-transitions` topic), as
/// `parse_alarm_state_hist_message` reads it.
#[derive(Clone, Debug)]
pub struct AlarmTransition {
    /// `tenantId`: the `tenant_id` tag and field of `alarm_state_history`.
    pub tenant: String,
    /// `alarmId`.
    pub alarm_id: String,
    /// `metrics`: the alarm's metric definitions.
    pub metrics: Value,
    /// `oldState`.
    pub old_state: String,
    /// `newState`.
    pub new_state: String,
    /// `stateChangeReason`.
    pub reason: String,
    /// `subAlarms` (camelCase; the persister rewrites the keys to snake_case).
    pub sub_alarms: Value,
    /// Milliseconds since the epoch.
    pub timestamp_ms: i64,
}

/// What one persister flush writes.
#[derive(Clone, Debug, Default)]
pub struct Messages {
    /// Metric messages.
    pub metrics: Vec<Metric>,
    /// Alarm state transitions.
    pub alarms: Vec<AlarmTransition>,
}

/// The `[influxdb]` settings of persister.conf the harness sets.
#[derive(Clone, Debug)]
pub struct PersisterOptions {
    /// `database_name` (the prefix of the tenant databases with `db_per_tenant`).
    pub database: String,
    /// `db_per_tenant`.
    pub db_per_tenant: bool,
    /// `default_retention_hours`: the `{hours}h` default policy of databases the
    /// persister creates (0: none, the server's `autogen`).
    pub default_retention_hours: u32,
    /// `user` and `password`; `None` takes the server's admin credentials, if any.
    pub auth: Option<(String, String)>,
}

impl Default for PersisterOptions {
    fn default() -> Self {
        PersisterOptions {
            database: "monasca".into(),
            db_per_tenant: false,
            default_retention_hours: 0,
            auth: None,
        }
    }
}

impl Metric {
    /// A metric of `tenant` with Monasca's usual dimensions (`hostname`, `service`).
    pub fn new(tenant: &str, name: &str, hostname: &str, timestamp_ms: i64, value: f64) -> Self {
        let dimensions = [("hostname", hostname), ("service", "monitoring")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Metric {
            tenant: tenant.into(),
            region: "RegionOne".into(),
            name: name.into(),
            dimensions,
            timestamp_ms,
            value,
            value_meta: json!({}),
        }
    }

    fn message(&self) -> Value {
        json!({
            "metric": {
                "name": self.name,
                "dimensions": self.dimensions,
                "timestamp": self.timestamp_ms,
                "value": self.value,
                "value_meta": self.value_meta,
            },
            "meta": {"tenantId": self.tenant, "region": self.region},
            "creation_time": self.timestamp_ms / 1000,
        })
    }
}

impl AlarmTransition {
    /// A transition of alarm `alarm_id` of `tenant` from `old_state` to `new_state`.
    pub fn new(
        tenant: &str,
        alarm_id: &str,
        old_state: &str,
        new_state: &str,
        timestamp_ms: i64,
    ) -> Self {
        let metric = json!({"name": "cpu.idle_perc", "dimensions": {"hostname": "node-1"}});
        AlarmTransition {
            tenant: tenant.into(),
            alarm_id: alarm_id.into(),
            metrics: json!([metric]),
            old_state: old_state.into(),
            new_state: new_state.into(),
            reason: format!("Thresholds were exceeded for the sub-alarms: avg(cpu.idle_perc) < 10.0 ({new_state})"),
            sub_alarms: json!([{
                "subAlarmExpression": {"function": "AVG", "metricDefinition": metric,
                                       "operator": "LT", "threshold": 10.0, "period": 60},
                "subAlarmState": new_state,
                "currentValues": [5.5],
            }]),
            timestamp_ms,
        }
    }

    fn message(&self) -> Value {
        json!({"alarm-transitioned": {
            "tenantId": self.tenant,
            "alarmId": self.alarm_id,
            "alarmDefinitionId": format!("def-{}", self.alarm_id),
            "alarmName": "cpu idle low",
            "alarmDescription": "",
            "metrics": self.metrics,
            "oldState": self.old_state,
            "newState": self.new_state,
            "actionsEnabled": true,
            "stateChangeReason": self.reason,
            "severity": "HIGH",
            "link": null,
            "lifecycleState": null,
            "subAlarms": self.sub_alarms,
            "timestamp": self.timestamp_ms,
        }})
    }
}

impl Messages {
    /// A Monasca-shaped batch for every tenant in `tenants`: `count` points each of
    /// `cpu.idle_perc` on two hosts and of `mem.free_mb` (the last with a `value_meta`),
    /// every `step_ms` from `start_ms`, and an alarm transition every fourth step.
    pub fn monasca(tenants: &[&str], start_ms: i64, step_ms: i64, count: usize) -> Self {
        let mut m = Messages::default();
        for (ti, tenant) in tenants.iter().enumerate() {
            for i in 0..count {
                let t = start_ms + i as i64 * step_ms;
                let v = (ti * 1000 + i) as f64 + 0.25;
                m.metrics
                    .push(Metric::new(tenant, "cpu.idle_perc", "node-1", t, v));
                m.metrics
                    .push(Metric::new(tenant, "cpu.idle_perc", "node 2", t, 100.0 - v));
                let mut mem = Metric::new(tenant, "mem.free_mb", "node-1", t, v * 3.0);
                mem.value_meta = json!({"detail": format!("sample \"{i}\"")});
                m.metrics.push(mem);
                if i % 4 == 0 {
                    let (old, new) = if i % 8 == 0 {
                        ("OK", "ALARM")
                    } else {
                        ("ALARM", "OK")
                    };
                    let id = format!("alarm-{ti}");
                    m.alarms
                        .push(AlarmTransition::new(tenant, &id, old, new, t));
                }
            }
        }
        m
    }

    /// Number of messages.
    pub fn len(&self) -> usize {
        self.metrics.len() + self.alarms.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn to_json(&self) -> Value {
        let metrics = self.metrics.iter().map(Metric::message);
        Value::Array(
            metrics
                .chain(self.alarms.iter().map(AlarmTransition::message))
                .collect(),
        )
    }
}

/// The tenant id as InfluxDB stores the persister's tag: the persister escapes a
/// backslash as `\\` in line protocol, which InfluxDB 1.x keeps verbatim (it unescapes
/// only `\,`, `\ ` and `\=` in tags), so a backslash arrives doubled.
pub fn stored_tenant(tenant: &str) -> String {
    tenant.replace('\\', "\\\\")
}

/// The venv's python: `$OLD_TOOL_VENV/bin/python`, default `target/old-tool-venv`.
pub fn python() -> PathBuf {
    let venv = std::env::var_os("OLD_TOOL_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/old-tool-venv"));
    let python = venv.join("bin/python");
    assert!(
        python.exists(),
        "no monasca-persister venv at {}: build it with `scripts/old-tool-venv` \
         (needs python3-venv and PyPI; OLD_TOOL_VENV=<dir> puts it elsewhere, and the tests \
         read the same variable)",
        venv.display()
    );
    python
}

/// Runs `tests/persister/<name>` with the venv's python against `server` as `user`,
/// with `args` after `--url`, `--user`, `--password`, and `input` on stdin; its stdout,
/// parsed. Panics with the script's stderr if it fails.
fn run_script(
    name: &str,
    url: &str,
    (user, password): (&str, &str),
    args: &[&str],
    input: &Value,
) -> Value {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/persister")
        .join(name);
    let mut child = Command::new(python())
        .arg(&script)
        .args(["--url", url, "--user", user, "--password", password])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("run {}: {e}", script.display()));
    let input = serde_json::to_vec(input).unwrap();
    child.stdin.take().unwrap().write_all(&input).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{} failed ({}):\n{}",
        script.display(),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{name} prints JSON: {e}"))
}

/// The server's admin credentials, or none.
fn admin(server: &InfluxServer) -> (String, String) {
    server
        .credentials()
        .map_or((String::new(), String::new()), |(u, p)| {
            (u.to_string(), p.to_string())
        })
}

/// Writes `messages` to `server` with monasca-persister's repositories configured by
/// `opts`; panics with the script's stderr if it fails.
pub fn write(server: &InfluxServer, messages: &Messages, opts: &PersisterOptions) {
    let (user, password) = opts.auth.clone().unwrap_or_else(|| admin(server));
    write_at(&server.url(), (&user, &password), messages, opts)
}

/// [`write`] to any server's 1.x API at `url` (an InfluxDB 2.x server's compatibility
/// endpoint too) as `user`.
pub fn write_at(
    url: &str,
    (user, password): (&str, &str),
    messages: &Messages,
    opts: &PersisterOptions,
) {
    let hours = opts.default_retention_hours.to_string();
    let args = [
        "--database",
        &opts.database,
        "--db-per-tenant",
        if opts.db_per_tenant { "true" } else { "false" },
        "--default-retention-hours",
        &hours,
    ];
    let written = run_script(
        "write.py",
        url,
        (user, password),
        &args,
        &messages.to_json(),
    );
    assert_eq!(written["metrics"], messages.metrics.len(), "{written}");
    assert_eq!(
        written["alarm_state_history"],
        messages.alarms.len(),
        "{written}"
    );
}

/// What monasca-api's own repository (`tests/persister/read_api.py`, PyPI monasca-api)
/// returns for one tenant: timestamps of a metric's measurements and of the alarm
/// history.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct ApiRead {
    /// `measurement_list` (merged series), timestamps as the API prints them.
    pub measurements: Vec<String>,
    /// `alarm_history`, timestamps as the API prints them.
    pub alarms: Vec<String>,
}

/// Reads, per tenant, `metric` with `dimensions` in `region` and the history of
/// `alarm_ids` the way monasca-api does, configured like api.conf's `[influxdb]`
/// (`database`, `db_per_tenant`, the server's admin credentials); panics with the
/// script's stderr if it fails.
pub fn api_read(
    server: &InfluxServer,
    database: &str,
    db_per_tenant: bool,
    tenants: &[&str],
    metric: (&str, &BTreeMap<String, String>),
    alarm_ids: &[String],
) -> BTreeMap<String, ApiRead> {
    let (user, password) = admin(server);
    api_read_at(
        &server.url(),
        (&user, &password),
        database,
        db_per_tenant,
        tenants,
        metric,
        alarm_ids,
    )
}

/// [`api_read`] from any server's 1.x API at `url` (an InfluxDB 2.x server's
/// compatibility endpoint too) as `user`.
pub fn api_read_at(
    url: &str,
    (user, password): (&str, &str),
    database: &str,
    db_per_tenant: bool,
    tenants: &[&str],
    metric: (&str, &BTreeMap<String, String>),
    alarm_ids: &[String],
) -> BTreeMap<String, ApiRead> {
    let request = json!({
        "tenants": tenants,
        "region": "RegionOne",
        "metric": metric.0,
        "dimensions": metric.1,
        "alarm_ids": alarm_ids,
    });
    let args = [
        "--database",
        database,
        "--db-per-tenant",
        if db_per_tenant { "true" } else { "false" },
    ];
    let read = run_script("read_api.py", url, (user, password), &args, &request);
    serde_json::from_value(read).expect("read_api.py's answer")
}
