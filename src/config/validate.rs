//! From the settings as written to typed settings, one function per section.
//!
//! Durations, times, regexes and the password files are parsed here, once, so the rest
//! of the tool only sees typed values. Every error names the key and where its value
//! came from.

use super::raw::{
    Raw, RawLog, RawRetention, RawRun, RawSource, RawStream, RawTarget, RawTenants, RawTransform,
    RawWindow,
};
use super::settings::{
    LogSettings, PolicyNames, RetentionSettings, RunSettings, Settings, SourceSettings,
    StreamSettings, TargetSettings, TenantSettings, WindowSettings, BUILTIN_TAG_FOR,
};
use super::ConfigError;
use crate::core::rewrite::Rewrite;
use crate::core::secret::Secret;
use crate::core::window::{parse_time_ns, TimeUnit, UnknownTimeUnit, TIME_FORMS};
use regex::Regex;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// The shortest retention InfluxDB accepts.
const MIN_RETENTION: Duration = Duration::from_secs(3600);

/// Validates every section; `origin` says where the value of a dotted key came from.
pub(super) fn settings(raw: Raw, origin: &dyn Fn(&str) -> String) -> Result<Settings, ConfigError> {
    let c = Check { origin };
    Ok(Settings {
        source: source(raw.source, &c)?,
        tenants: tenants(raw.tenants, &c)?,
        skip_measurements: c.regexes("measurements.skip", &raw.measurements.skip)?,
        window: window(raw.window, &c)?,
        retention: retention(raw.retention, &c)?,
        run: run(raw.run, &c)?,
        log: log(raw.log, &c)?,
        target: target(raw.target, &c)?,
        stream: stream(raw.stream, &c)?,
        transform: transform(raw.transform, &c)?,
    })
}

/// Makes errors that name a key and where its value came from, and reads the kinds of
/// values several sections share.
struct Check<'a> {
    origin: &'a dyn Fn(&str) -> String,
}

impl Check<'_> {
    /// The error for dotted `key`.
    fn invalid(&self, key: &str, reason: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            key: key.to_string(),
            origin: (self.origin)(key),
            reason: reason.into(),
        }
    }

    /// A humantime duration (`15m`, `2w`).
    fn duration(&self, key: &str, s: &str) -> Result<Duration, ConfigError> {
        humantime::parse_duration(s.trim()).map_err(|e| {
            self.invalid(
                key,
                format!("{s:?} is not a duration ({e}); write e.g. 15m, 2h, 2w"),
            )
        })
    }

    /// One regex.
    fn regex(&self, key: &str, r: &str) -> Result<Regex, ConfigError> {
        Regex::new(r).map_err(|e| self.invalid(key, format!("bad regex {r:?}: {e}")))
    }

    /// A list of regexes.
    fn regexes(&self, key: &str, list: &[String]) -> Result<Vec<Regex>, ConfigError> {
        list.iter().map(|r| self.regex(key, r)).collect()
    }

    /// A time bound as a user types it; empty means none.
    fn time(&self, key: &str, text: String) -> Result<Option<i64>, ConfigError> {
        opt(text)
            .map(|v| {
                parse_time_ns(&v)
                    .map_err(|e| self.invalid(key, format!("{v:?}: {e}; write {TIME_FORMS}")))
            })
            .transpose()
    }

    /// A server URL, already trimmed.
    fn http_url(&self, key: &str, url: &str) -> Result<(), ConfigError> {
        if url.starts_with("http://") || url.starts_with("https://") {
            Ok(())
        } else {
            Err(self.invalid(key, format!("{url:?} must start with http:// or https://")))
        }
    }

    /// The password from `password_file` (key `file_key`) when set, else `password`.
    fn password(
        &self,
        file_key: &str,
        password: String,
        password_file: String,
    ) -> Result<Option<Secret>, ConfigError> {
        let Some(path) = opt(password_file) else {
            return Ok((!password.is_empty()).then(|| Secret::new(password)));
        };
        let text = std::fs::read_to_string(&path)
            .map_err(|e| self.invalid(file_key, format!("cannot read {path}: {e}")))?;
        Ok(Some(Secret::new(text.trim_end_matches(['\n', '\r']))))
    }

    /// A CA file that must exist when set.
    fn ca_file(&self, key: &str, s: String) -> Result<Option<PathBuf>, ConfigError> {
        let ca_file = opt(s).map(PathBuf::from);
        if let Some(ca) = &ca_file {
            if !ca.is_file() {
                return Err(self.invalid(key, format!("{} is not a readable file", ca.display())));
            }
        }
        Ok(ca_file)
    }

    /// A count that must be at least one.
    fn at_least_one(&self, key: &str, n: usize) -> Result<usize, ConfigError> {
        if n == 0 {
            return Err(self.invalid(key, "must be at least 1"));
        }
        Ok(n)
    }
}

/// A value with surrounding blanks removed; `None` when nothing is left.
fn opt(s: String) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_string())
}

/// `[source]`: an http(s) URL without credentials, a database, the password.
fn source(s: RawSource, c: &Check) -> Result<SourceSettings, ConfigError> {
    let url = s.url.trim().trim_end_matches('/').to_string();
    c.http_url("source.url", &url)?;
    // The URL is printed in logs and errors; a password inside it would be too. The
    // value itself is not repeated here for the same reason.
    let authority = url.split_once("://").map_or("", |(_, rest)| {
        rest.split(['/', '?', '#']).next().unwrap_or_default()
    });
    if authority.contains('@') {
        return Err(c.invalid(
            "source.url",
            "must not contain credentials (user:password@host): set source.username and \
             source.password_file or ITM__SOURCE__PASSWORD instead",
        ));
    }
    if s.database.trim().is_empty() {
        return Err(c.invalid("source.database", "must not be empty"));
    }
    Ok(SourceSettings {
        url,
        database: s.database,
        retention_policy: opt(s.retention_policy),
        username: opt(s.username),
        password: c.password("source.password_file", s.password, s.password_file)?,
        ca_file: c.ca_file("source.ca_file", s.ca_file)?,
        insecure_skip_verify: s.insecure_skip_verify,
    })
}

/// `[tenants]`: a tag, a template that separates tenants, include/exclude regexes.
fn tenants(t: RawTenants, c: &Check) -> Result<TenantSettings, ConfigError> {
    if t.tag.is_empty() {
        return Err(c.invalid("tenants.tag", "must not be empty"));
    }
    if !t.target_template.contains("{tenant}") {
        return Err(c.invalid(
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
        return Err(c.invalid(
            "tenants.target_template",
            format!(
                "{:?}: only {{database}} and {{tenant}} can be used",
                t.target_template
            ),
        ));
    }
    Ok(TenantSettings {
        tag_for: tag_for(&t.tag_for, c)?,
        tag: t.tag,
        target_template: t.target_template,
        include: c.regexes("tenants.include", &t.include)?,
        exclude: c.regexes("tenants.exclude", &t.exclude)?,
        grant_privileges: t.grant_privileges,
    })
}

/// `tenants.tag_for`: MEASUREMENT=KEY entries over the built-in ones
/// ([`BUILTIN_TAG_FOR`]), which stay unless an entry names their measurement.
fn tag_for(entries: &[String], c: &Check) -> Result<BTreeMap<String, String>, ConfigError> {
    let mut out: BTreeMap<String, String> = BUILTIN_TAG_FOR
        .iter()
        .map(|(m, k)| (m.to_string(), k.to_string()))
        .collect();
    for entry in entries {
        // Tag keys rarely contain '=', measurement names may: split at the last one.
        match entry.rsplit_once('=') {
            Some((m, k)) if !m.is_empty() && !k.is_empty() => {
                out.insert(m.to_string(), k.to_string());
            }
            _ => {
                return Err(c.invalid(
                    "tenants.tag_for",
                    format!("{entry:?} is not MEASUREMENT=KEY"),
                ))
            }
        }
    }
    Ok(out)
}

/// `[window]`: week, day or hour windows, `from` before `to`, the settle time.
fn window(w: RawWindow, c: &Check) -> Result<WindowSettings, ConfigError> {
    let unit: TimeUnit = w
        .time_unit
        .parse()
        .map_err(|e: UnknownTimeUnit| c.invalid("window.time_unit", e.to_string()))?;
    if !matches!(unit, TimeUnit::Week | TimeUnit::Day | TimeUnit::Hour) {
        return Err(c.invalid("window.time_unit", format!("{unit}: use week, day or hour")));
    }
    let from = c.time("window.from", w.from)?;
    let to = c.time("window.to", w.to)?;
    if let (Some(f), Some(t)) = (from, to) {
        if f >= t {
            return Err(c.invalid("window.to", "must be later than window.from"));
        }
    }
    Ok(WindowSettings {
        unit,
        from,
        to,
        settle: c.duration("window.settle", &w.settle)?,
        final_run: w.final_run,
    })
}

/// `[retention]`: durations of at least 1h, per tenant and by default.
fn retention(r: RawRetention, c: &Check) -> Result<RetentionSettings, ConfigError> {
    let as_written = r.policy_names == PolicyNames::AsWritten;
    let default_text = opt(r.default);
    let mut retention = RetentionSettings {
        default: default_text
            .as_deref()
            .map(|d| c.duration("retention.default", d))
            .transpose()?,
        default_name: match &default_text {
            Some(d) => policy_name(c, as_written, "retention.default", d)?,
            None => None,
        },
        default_from_persister: default_text.is_some()
            && (c.origin)("retention.default").starts_with(super::legacy::PERSISTER_ORIGIN),
        shard_duration: opt(r.shard_duration)
            .map(|d| c.duration("retention.shard_duration", &d))
            .transpose()?,
        ..RetentionSettings::default()
    };
    if retention.shard_duration.is_some_and(|d| d < MIN_RETENTION) {
        return Err(c.invalid("retention.shard_duration", "InfluxDB needs at least 1h"));
    }
    for entry in &r.tenants {
        // Durations never contain '=', tenant ids may: split at the last one.
        let (tenant, dur) = entry.rsplit_once('=').ok_or_else(|| {
            c.invalid(
                "retention.tenants",
                format!("{entry:?} is not TENANT=DURATION"),
            )
        })?;
        let d = c.duration("retention.tenants", dur)?;
        if d < MIN_RETENTION {
            return Err(c.invalid(
                "retention.tenants",
                format!("{entry:?}: InfluxDB needs at least 1h"),
            ));
        }
        retention.tenants.insert(tenant.to_string(), d);
        if let Some(name) = policy_name(c, as_written, "retention.tenants", dur)? {
            retention.names.insert(tenant.to_string(), name);
        }
    }
    if retention.default.is_some_and(|d| d < MIN_RETENTION) {
        return Err(c.invalid("retention.default", "InfluxDB needs at least 1h"));
    }
    Ok(retention)
}

/// The policy name of a duration written as `written`, when names are kept as
/// written (`None` when they are canonical).
fn policy_name(
    c: &Check,
    as_written: bool,
    key: &str,
    written: &str,
) -> Result<Option<String>, ConfigError> {
    if !as_written {
        return Ok(None);
    }
    let name = written.trim();
    if name
        .chars()
        .any(|ch| matches!(ch, '/' | '\\') || ch.is_control())
    {
        return Err(c.invalid(
            key,
            format!("{name:?} cannot name a retention policy (policy_names = \"as-written\")"),
        ));
    }
    Ok(Some(name.to_string()))
}

/// `run.concurrency`: `"auto"` (`None`: derived from the server) or a count of at
/// least 1.
fn concurrency(text: &str, c: &Check) -> Result<Option<usize>, ConfigError> {
    let t = text.trim();
    if t.eq_ignore_ascii_case("auto") {
        return Ok(None);
    }
    match t.parse::<usize>() {
        Ok(n) => c.at_least_one("run.concurrency", n).map(Some),
        Err(_) => Err(c.invalid(
            "run.concurrency",
            format!("{t:?} is neither \"auto\" nor a whole number"),
        )),
    }
}

/// `[run]`: positive counts, durations, and the output files beside the ledger.
fn run(r: RawRun, c: &Check) -> Result<RunSettings, ConfigError> {
    let concurrency = concurrency(&r.concurrency, c)?;
    let max_measurements_per_query = c.at_least_one(
        "run.max_measurements_per_query",
        r.max_measurements_per_query,
    )?;
    if r.ledger.trim().is_empty() {
        return Err(c.invalid("run.ledger", "must not be empty"));
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
    Ok(RunSettings {
        concurrency,
        ledger,
        max_measurements_per_query,
        query_timeout: c.duration("run.query_timeout", &r.query_timeout)?,
        retries: r.retries,
        retry_backoff: c.duration("run.retry_backoff", &r.retry_backoff)?,
        retry_deadline: c.duration("run.retry_deadline", &r.retry_deadline)?,
        max_points_per_second: (r.max_points_per_second > 0).then_some(r.max_points_per_second),
        failure_report,
        progress_interval: c.duration("run.progress_interval", &r.progress_interval)?,
        stop_grace: c.duration("run.stop_grace", &r.stop_grace)?,
        liveness_timeout: c.duration("run.liveness_timeout", &r.liveness_timeout)?,
        verify: r.verify,
        late_horizon: c.duration("run.late_horizon", &r.late_horizon)?,
        report: opt(r.report).map(PathBuf::from),
        metrics_file: opt(r.metrics_file).map(PathBuf::from),
    })
}

/// `[log]`: the log directory must not be a file.
fn log(l: RawLog, c: &Check) -> Result<LogSettings, ConfigError> {
    let dir = opt(l.dir).map(PathBuf::from);
    if let Some(d) = &dir {
        // oslo.log's --log-file takes a file; ours takes a directory.
        if d.is_file() {
            return Err(c.invalid(
                "log.dir",
                format!(
                    "{} is a file: --log-file / log.dir take a directory, in which a daily \
                     file influx-tenant-migrate.log.YYYY-MM-DD is written",
                    d.display()
                ),
            ));
        }
    }
    Ok(LogSettings {
        format: l.format,
        dir,
        level: l.level,
    })
}

/// `[target]`: the server of a cross-server copy, if any.
fn target(t: RawTarget, c: &Check) -> Result<TargetSettings, ConfigError> {
    let url = opt(t.url).map(|u| u.trim_end_matches('/').to_string());
    if let Some(u) = &url {
        c.http_url("target.url", u)?;
    }
    Ok(TargetSettings {
        url,
        username: opt(t.username),
        password: c.password("target.password_file", t.password, t.password_file)?,
        ca_file: c.ca_file("target.ca_file", t.ca_file)?,
        insecure_skip_verify: t.insecure_skip_verify,
        org: opt(t.org),
        // A token file reads like a password file: trailing newline dropped, wins.
        token: c.password("target.token_file", t.token, t.token_file)?,
    })
}

/// `[stream]`: positive read and write sizes.
fn stream(s: RawStream, c: &Check) -> Result<StreamSettings, ConfigError> {
    Ok(StreamSettings {
        chunk_size: c.at_least_one("stream.chunk_size", s.chunk_size)?,
        batch_points: c.at_least_one("stream.batch_points", s.batch_points)?,
    })
}

/// `[transform]`: tags to drop and REGEX=REPLACEMENT measurement renames.
fn transform(t: RawTransform, c: &Check) -> Result<Rewrite, ConfigError> {
    let mut rewrite = Rewrite::default();
    for tag in t.drop_tags {
        if tag.is_empty() {
            return Err(c.invalid("transform.drop_tags", "a tag key must not be empty"));
        }
        rewrite.drop_tags.insert(tag);
    }
    for rule in &t.rename_measurements {
        // A replacement may contain '=' and a regex rarely needs one (write \x3D):
        // split at the first.
        let (re, rep) = rule.split_once('=').ok_or_else(|| {
            c.invalid(
                "transform.rename_measurements",
                format!("{rule:?} is not REGEX=REPLACEMENT"),
            )
        })?;
        let re = c.regex("transform.rename_measurements", re)?;
        if rep.is_empty() {
            return Err(c.invalid(
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
    use crate::config::fixtures::{env, file};
    use crate::config::load_with_env;
    use std::path::PathBuf;
    use std::time::Duration;

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
                ("ITM__RUN__VERIFY", "false"),
            ]),
        )
        .unwrap();
        assert_eq!(s.run.failure_report, PathBuf::from("/tmp/f.json"));
        assert_eq!(s.run.report, Some(PathBuf::from("/tmp/r.json")));
        assert_eq!(s.run.metrics_file, Some(PathBuf::from("/tmp/m.prom")));
        assert!(!s.run.verify, "ITM__RUN__VERIFY=false opts out");
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

    /// `window.from` and `window.to` take a date or RFC 3339 with `Z` or an offset; a
    /// bad one names the key, where it came from and the accepted forms.
    #[test]
    fn window_times() {
        const MON_2024: i64 = 1_704_067_200 * 1_000_000_000;
        const WEEK: i64 = 7 * 86_400 * 1_000_000_000;
        let s = load_with_env(
            None,
            vec![
                ("window.from", "2024-01-01".into()),
                ("window.to", "2024-01-07T19:00:00.0-05:00".into()),
            ],
            env(&[]),
        )
        .unwrap();
        assert_eq!(s.window.from, Some(MON_2024));
        assert_eq!(s.window.to, Some(MON_2024 + WEEK));
        let s = load_with_env(
            None,
            vec![],
            env(&[("ITM__WINDOW__FROM", "2024-01-01T02:00:00+02:00")]),
        )
        .unwrap();
        assert_eq!(s.window.from, Some(MON_2024));

        let err = load_with_env(None, vec![], env(&[("ITM__WINDOW__TO", "next tuesday")]))
            .unwrap_err()
            .to_string();
        for part in [
            "window.to",
            "ITM__WINDOW__TO",
            "next tuesday",
            "2024-01-01",
            "2024-01-01T00:00:00Z",
            "2024-01-01T02:00:00+02:00",
        ] {
            assert!(err.contains(part), "{part}: {err}");
        }
        let f = file("[window]\nfrom = \"2024-01-01T00:00:00+25:00\"\n");
        let err = load_with_env(Some(f.path()), vec![], env(&[]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("window.from"), "{err}");
        assert!(err.contains(&f.path().display().to_string()), "{err}");
        assert!(err.contains("+HH:MM"), "{err}");
        let err = load_with_env(
            None,
            vec![
                ("window.from", "2024-01-01T01:00:00+01:00".into()),
                ("window.to", "2024-01-01".into()),
            ],
            env(&[]),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("must be later than window.from"), "{err}");
    }
}
