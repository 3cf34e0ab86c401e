//! Drop-in compatibility with monasca-persister's `migrate-to-db-per-tenant.py`: its
//! flags with their old meanings, and the `[influxdb]` section of a Monasca
//! `persister.conf`, turned into settings layers.
//!
//! Precedence, later wins: built-in defaults, `persister.conf` (`--persister-config` /
//! `--config-file`), the TOML file (`--config`), `ITM__*` environment, flags (the old
//! `--migrate-*` flags are flags like any other; one of them and the new flag for the
//! same setting together are an error, except that `--time-unit` wins over
//! `--migrate-time-unit` for the chunk window).
//!
//! What the old tool does, read from its source (monasca-persister 9.0.0):
//! - for offsets `S` (start, default 0) and `E` (end, default 520) in unit `u` (`h`,
//!   `d`, `w`; default `w`) it copies `now() - E*u < time <= now() - S*u`, one unit at a
//!   time. We copy the same range widened to whole aligned units: `from =` the start of
//!   the unit holding `now - E*u`, and, when `S > 0`, `to =` the end of the unit holding
//!   `now - S*u` (no upper bound when `S = 0`, so points stamped slightly in the future
//!   are copied too).
//! - `--migrate-retention-policy p:N` gives project `p` a default retention policy named
//!   `N<u>` (e.g. `2w`, `14d`: the name is the number and the unit as given, never
//!   normalised), duration `N` units, replication 1, and copies only its last `N` units.
//!   Here that is `retention.tenants = ["p=N<u>"]` with `retention.policy_names =
//!   "as-written"`, which keeps the name exactly.
//! - `default_retention_hours = H > 0` in `[influxdb]` gives every other project a
//!   default policy named `Hh`; here `retention.default = "Hh"`.
//! - `--migrate-skip-regex` is a comma-separated list (oslo `ListOpt`) of Python
//!   regexes applied with `re.match`, i.e. anchored at the start of the measurement
//!   name; each becomes `^(?:R)` here.
//! - target databases are `<database_name>_<tenant>`: our default template.
//!
//! `persister.conf` is read with the rules of oslo.config's own INI parser (`=` or
//! `:`, whole-line `#`/`;` comments, indented continuation lines, one pair of matching
//! quotes stripped, `$$` and `\$` for a literal `$`). A general INI crate would get
//! several of these wrong (backslash escapes, inline comments), which matters for
//! passwords, so the parser is written out here.

use crate::config::{BaseLayer, Override};
use crate::core::secret::Secret;
use crate::core::window::{format_ns, TimeUnit};
use clap::{Args, ValueEnum};
use std::path::{Path, PathBuf};

/// The old tool's flags. Given any of them, the old tool's defaults apply to the rest.
#[derive(Debug, Args, Default, Clone)]
#[command(next_help_heading = "Compatibility with migrate-to-db-per-tenant.py")]
pub struct LegacyOpts {
    /// Monasca persister.conf whose [influxdb] section (database_name, ip_address,
    /// port, user, password, ssl, verify_ssl, default_retention_hours) sets the source;
    /// repeatable, later files win. Default none; sits below --config and everything
    /// else.
    #[arg(
        long = "persister-config",
        visible_alias = "config-file",
        value_name = "FILE"
    )]
    pub persister_config: Vec<PathBuf>,
    /// Old tool: unit of the offsets and retention policies, h, d or w; also the chunk
    /// window unless --time-unit is given. Default w; overrides `window.time_unit`.
    #[arg(long, value_name = "UNIT")]
    pub migrate_time_unit: Option<LegacyUnit>,
    /// Old tool: copy nothing newer than this many units before now. Default 0 (up to
    /// the newest point); overrides `window.to`.
    #[arg(long, value_name = "N")]
    pub migrate_start_time_offset: Option<u32>,
    /// Old tool: copy nothing older than this many units before now. Default 520;
    /// overrides `window.from`.
    #[arg(long, value_name = "N")]
    pub migrate_end_time_offset: Option<u32>,
    /// Old tool: PROJECT:N,... gives each project a default retention policy named
    /// N<unit> of N units and copies only that much of its history. Default none;
    /// overrides `retention.tenants`.
    #[arg(long, value_name = "PROJECT:N,...")]
    pub migrate_retention_policy: Option<String>,
    /// Old tool: comma-separated regexes; measurements whose names they match at the
    /// start are left out. Default none; overrides `measurements.skip`.
    #[arg(long, value_name = "REGEX,...")]
    pub migrate_skip_regex: Option<String>,
}

/// The old tool's time units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LegacyUnit {
    /// Hours.
    H,
    /// Days.
    D,
    /// Weeks.
    W,
}

impl LegacyUnit {
    /// Our window unit of the same size.
    pub fn unit(self) -> TimeUnit {
        match self {
            LegacyUnit::H => TimeUnit::Hour,
            LegacyUnit::D => TimeUnit::Day,
            LegacyUnit::W => TimeUnit::Week,
        }
    }
    /// The letter the old tool puts in policy names.
    pub fn letter(self) -> char {
        match self {
            LegacyUnit::H => 'h',
            LegacyUnit::D => 'd',
            LegacyUnit::W => 'w',
        }
    }
}

/// The old tool's default end offset (520 weeks, about ten years).
pub const DEFAULT_END_OFFSET: u32 = 520;

/// Why the old flags or a persister.conf cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum LegacyError {
    /// The file could not be read.
    #[error("cannot read persister config {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A line is not valid oslo.config INI.
    #[error("persister config {}, line {line}: {reason}", path.display())]
    Syntax {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// A value in `[influxdb]` is not valid.
    #[error("persister config {}: invalid [influxdb] {key}: {reason}", path.display())]
    Value {
        /// The file.
        path: PathBuf,
        /// The key in `[influxdb]`.
        key: String,
        /// What is wrong (never the value of a secret).
        reason: String,
    },
    /// An old flag has a bad value.
    #[error("invalid {flag}: {reason}")]
    Flag {
        /// The flag, e.g. `--migrate-retention-policy`.
        flag: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// An old flag and a new one set the same setting.
    #[error("{old} and {new} both set `{key}`: give only one of them")]
    Conflict {
        /// The old tool's flag.
        old: &'static str,
        /// Our flag.
        new: &'static str,
        /// The setting.
        key: &'static str,
    },
}

/// The settings layers the old flags and persister.conf make.
#[derive(Debug, Default)]
pub struct Layers {
    /// Below the TOML file: persister.conf values and the old tool's defaults.
    pub base: BaseLayer,
    /// Flag level: the old flags that were given.
    pub flags: Vec<Override>,
}

/// The `[influxdb]` options the old tool reads, as one persister.conf (or several, merged)
/// sets them; `None` = not set.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PersisterInflux {
    /// `database_name` (oslo default `mon`).
    pub database_name: Option<String>,
    /// `ip_address` (no default).
    pub ip_address: Option<String>,
    /// `port` (default 8086).
    pub port: Option<u16>,
    /// `user`.
    pub user: Option<String>,
    /// `password`.
    pub password: Option<Secret>,
    /// `ssl` (default false).
    pub ssl: Option<bool>,
    /// `verify_ssl` (default false).
    pub verify_ssl: Option<bool>,
    /// `default_retention_hours` (default 0 = none).
    pub default_retention_hours: Option<i64>,
}

/// The persister's own default database name (oslo.config default of `database_name`).
pub const PERSISTER_DEFAULT_DATABASE: &str = "mon";

/// How the origin of a value read from persister.conf begins (error messages, and how
/// `plan` tells a `default_retention_hours` policy from a `--default-retention` one).
pub const PERSISTER_ORIGIN: &str = "in persister config";

impl LegacyOpts {
    /// Whether any old flag (or a persister.conf) was given.
    pub fn used(&self) -> bool {
        !self.persister_config.is_empty()
            || self.migrate_time_unit.is_some()
            || self.migrate_start_time_offset.is_some()
            || self.migrate_end_time_offset.is_some()
            || self.migrate_retention_policy.is_some()
            || self.migrate_skip_regex.is_some()
    }
}

/// Turns the old flags and persister.conf files into settings layers, with `now_ns`
/// for the offsets. Reads the persister.conf files; nothing else.
pub fn layers(opts: &LegacyOpts, now_ns: i64) -> Result<Layers, LegacyError> {
    let mut out = Layers::default();
    if !opts.used() {
        return Ok(out);
    }
    let mut conf = PersisterInflux::default();
    for path in &opts.persister_config {
        let text = std::fs::read_to_string(path).map_err(|source| LegacyError::Read {
            path: path.clone(),
            source,
        })?;
        conf.merge(parse_persister_conf(&text, path)?);
    }
    let names: Vec<String> = opts
        .persister_config
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    out.base.origin = match names.len() {
        0 => "(migrate-to-db-per-tenant.py default)".to_string(),
        _ => format!("{PERSISTER_ORIGIN} {} [influxdb]", names.join(", ")),
    };
    let base = &mut out.base.values;
    if !opts.persister_config.is_empty() {
        base.extend(conf.overrides());
    }
    base.push(("retention.policy_names", "as-written".into()));

    let unit = opts.migrate_time_unit.unwrap_or(LegacyUnit::W);
    let flags = &mut out.flags;
    if let Some(u) = opts.migrate_time_unit {
        flags.push(("window.time_unit", u.unit().as_str().into()));
    }
    let given = opts.migrate_start_time_offset.is_some() || opts.migrate_end_time_offset.is_some();
    let start = opts.migrate_start_time_offset.unwrap_or(0);
    let end = opts.migrate_end_time_offset.unwrap_or(DEFAULT_END_OFFSET);
    let (from, to) =
        bounds(unit.unit(), start, end, now_ns).map_err(|reason| LegacyError::Flag {
            flag: "--migrate-end-time-offset",
            reason,
        })?;
    // The old defaults are defaults: the TOML file may still set its own bounds.
    let layer = if given { &mut *flags } else { &mut *base };
    if let Some(f) = from {
        layer.push(("window.from", format_ns(f).into()));
    }
    if let Some(t) = to {
        layer.push(("window.to", format_ns(t).into()));
    }
    if let Some(rp) = &opts.migrate_retention_policy {
        let entries = retention_entries(rp, unit).map_err(|reason| LegacyError::Flag {
            flag: "--migrate-retention-policy",
            reason,
        })?;
        flags.push(("retention.tenants", entries.into()));
    }
    if let Some(skip) = &opts.migrate_skip_regex {
        let res = skip_regexes(skip).map_err(|reason| LegacyError::Flag {
            flag: "--migrate-skip-regex",
            reason,
        })?;
        flags.push(("measurements.skip", res.into()));
    }
    Ok(out)
}

/// Which old flag sets a setting, and the new flag for it, for conflict errors.
const FLAG_KEYS: &[(&str, &str, &str)] = &[
    ("window.from", "--migrate-start/end-time-offset", "--from"),
    ("window.to", "--migrate-start/end-time-offset", "--to"),
    (
        "retention.tenants",
        "--migrate-retention-policy",
        "--retention",
    ),
    ("measurements.skip", "--migrate-skip-regex", "--skip-regex"),
];

/// Adds the old flags' overrides to ours; an old and a new flag for the same setting
/// are an error naming both. Except the chunk window: `--time-unit` wins over
/// `--migrate-time-unit`, which still gives the unit of the offsets and retention
/// policies (so `--migrate-time-unit w --time-unit hour` keeps weekly retention but
/// copies hour by hour).
pub fn merge_flags(
    mut ours: Vec<Override>,
    old: Vec<Override>,
) -> Result<Vec<Override>, LegacyError> {
    let has = |ours: &[Override], k: &str| ours.iter().any(|(o, _)| *o == k);
    let old: Vec<Override> = old
        .into_iter()
        .filter(|(k, _)| !(*k == "window.time_unit" && has(&ours, k)))
        .collect();
    for (k, _) in &old {
        if has(&ours, k) {
            let (key, old, new) = FLAG_KEYS
                .iter()
                .find(|(key, _, _)| key == k)
                .copied()
                .unwrap_or((k, "an old flag", "a new flag"));
            return Err(LegacyError::Conflict { old, new, key });
        }
    }
    ours.extend(old);
    Ok(ours)
}

/// The old tool's range `now - end*u < t <= now - start*u`, widened to whole aligned
/// units: `(from, to)`, each `None` when unbounded.
pub fn bounds(
    unit: TimeUnit,
    start: u32,
    end: u32,
    now_ns: i64,
) -> Result<(Option<i64>, Option<i64>), String> {
    if end <= start {
        return Err(format!(
            "the end offset ({end}) must be larger than the start offset ({start}), or \
             nothing is copied"
        ));
    }
    let back = |n: u32| now_ns.checked_sub(i64::from(n).checked_mul(unit.nanos())?);
    // Before the epoch there is nothing to bound (and RFC 3339 times start there).
    let from = back(end).filter(|t| *t > 0).map(|t| unit.align_down(t));
    let to = match start {
        0 => None,
        s => Some(
            back(s)
                .ok_or_else(|| format!("the start offset ({s}) reaches before the epoch"))
                .map(|t| unit.align_down(t).saturating_add(unit.nanos()))?,
        ),
    };
    Ok((from, to))
}

/// Splits a value the way oslo.config's `ListOpt` does: on commas, items trimmed, a
/// trailing comma ignored.
pub fn split_list(s: &str) -> Vec<String> {
    let s = s.trim().trim_end_matches(',');
    if s.is_empty() {
        return vec![];
    }
    s.split(',').map(|i| i.trim().to_string()).collect()
}

/// `--migrate-skip-regex`: each item anchored at the start, like Python's `re.match`.
pub fn skip_regexes(s: &str) -> Result<Vec<String>, String> {
    split_list(s)
        .into_iter()
        .map(|r| {
            if r.is_empty() {
                // In the old tool an empty item matches (and skips) every measurement.
                return Err(format!(
                    "{s:?} has an empty item, which would skip everything"
                ));
            }
            let anchored = format!("^(?:{r})");
            regex::Regex::new(&anchored).map_err(|e| format!("bad regex {r:?}: {e}"))?;
            Ok(anchored)
        })
        .collect()
}

/// `--migrate-retention-policy`: oslo `DictOpt` pairs `PROJECT:N` (split at the first
/// `:`, trimmed, no empty or repeated project), `N` a positive whole number of units;
/// each becomes `PROJECT=N<unit>`.
pub fn retention_entries(s: &str, unit: LegacyUnit) -> Result<Vec<String>, String> {
    let mut out: Vec<String> = Vec::new();
    let mut seen: Vec<String> = Vec::new();
    for pair in split_list(s) {
        let (k, v) = pair
            .split_once(':')
            .ok_or_else(|| format!("{pair:?} is not PROJECT:N"))?;
        let (k, v) = (k.trim(), v.trim());
        if k.is_empty() {
            return Err(format!("{pair:?} has an empty project id"));
        }
        if seen.iter().any(|s| s == k) {
            return Err(format!("project {k:?} is given twice"));
        }
        let n: u32 = match v.parse() {
            Ok(n) if n > 0 && v.bytes().all(|b| b.is_ascii_digit()) => n,
            _ => {
                return Err(format!(
                    "retention of project {k:?} must be a positive whole number of {}, not {v:?}",
                    unit.unit()
                ))
            }
        };
        seen.push(k.to_string());
        out.push(format!("{k}={n}{}", unit.letter()));
    }
    Ok(out)
}

impl PersisterInflux {
    /// Overlays `later` (a later file) on `self`, key by key.
    pub fn merge(&mut self, later: PersisterInflux) {
        macro_rules! take {
            ($($f:ident),*) => { $( if later.$f.is_some() { self.$f = later.$f; } )* };
        }
        take!(
            database_name,
            ip_address,
            port,
            user,
            password,
            ssl,
            verify_ssl,
            default_retention_hours
        );
    }

    /// The settings these options mean, for the layer below the TOML file.
    pub fn overrides(&self) -> Vec<Override> {
        let mut o: Vec<Override> = Vec::new();
        let db = self
            .database_name
            .clone()
            .unwrap_or_else(|| PERSISTER_DEFAULT_DATABASE.to_string());
        o.push(("source.database", db.into()));
        let ssl = self.ssl.unwrap_or(false);
        if let Some(host) = &self.ip_address {
            let host = if host.contains(':') && !host.starts_with('[') {
                format!("[{host}]")
            } else {
                host.clone()
            };
            let scheme = if ssl { "https" } else { "http" };
            let url = format!("{scheme}://{host}:{}", self.port.unwrap_or(8086));
            o.push(("source.url", url.into()));
        }
        if ssl {
            // As in the persister (verify_ssl defaults to false there).
            o.push((
                "source.insecure_skip_verify",
                (!self.verify_ssl.unwrap_or(false)).into(),
            ));
        }
        if let Some(u) = &self.user {
            o.push(("source.username", u.clone().into()));
        }
        if let Some(p) = &self.password {
            o.push(("source.password", p.expose().to_string().into()));
        }
        if let Some(h) = self.default_retention_hours.filter(|h| *h > 0) {
            o.push(("retention.default", format!("{h}h").into()));
        }
        o
    }
}

/// Reads the `[influxdb]` options the old tool uses from persister.conf text. Other
/// sections and keys (the persister has many) are ignored.
pub fn parse_persister_conf(text: &str, path: &Path) -> Result<PersisterInflux, LegacyError> {
    let entries = parse_ini(text).map_err(|(line, reason)| LegacyError::Syntax {
        path: path.to_path_buf(),
        line,
        reason,
    })?;
    let mut out = PersisterInflux::default();
    for e in entries.into_iter().filter(|e| e.section == "influxdb") {
        let secret = e.key == "password";
        let bad = |reason: String| LegacyError::Value {
            path: path.to_path_buf(),
            key: format!("{} (line {})", e.key, e.line),
            reason,
        };
        let value = substitute(&e.value).map_err(|r| {
            bad(if secret {
                "uses $-substitution, which is not supported here (write $$ for a $)".into()
            } else {
                r
            })
        })?;
        let shown = |v: &str| {
            if secret {
                "***".to_string()
            } else {
                format!("{v:?}")
            }
        };
        let v = value.trim();
        match e.key.as_str() {
            "database_name" => {
                if v.is_empty() {
                    return Err(bad("must not be empty".into()));
                }
                out.database_name = Some(value.clone());
            }
            "ip_address" => {
                if v.is_empty() || v.contains(['/', ' ', '@', '?', '#']) {
                    return Err(bad(format!(
                        "{} is not an IP address or host name",
                        shown(v)
                    )));
                }
                out.ip_address = Some(v.to_string());
            }
            "port" if v.is_empty() => out.port = None,
            "port" => {
                out.port = Some(
                    v.parse()
                        .map_err(|_| bad(format!("{} is not a port number (0-65535)", shown(v))))?,
                )
            }
            "user" => out.user = (!value.is_empty()).then(|| value.clone()),
            "password" => out.password = (!value.is_empty()).then(|| Secret::new(value.clone())),
            "ssl" => out.ssl = Some(oslo_bool(v).ok_or_else(|| bad(not_bool(v)))?),
            "verify_ssl" => out.verify_ssl = Some(oslo_bool(v).ok_or_else(|| bad(not_bool(v)))?),
            "default_retention_hours" if v.is_empty() => out.default_retention_hours = None,
            "default_retention_hours" => {
                out.default_retention_hours = Some(
                    v.parse()
                        .map_err(|_| bad(format!("{} is not a whole number of hours", shown(v))))?,
                )
            }
            _ => {}
        }
    }
    Ok(out)
}

fn not_bool(v: &str) -> String {
    format!("{v:?} is not a boolean (true/false, yes/no, on/off, 1/0)")
}

/// oslo.config's boolean words, case-insensitive.
fn oslo_bool(v: &str) -> Option<bool> {
    match v.to_ascii_lowercase().as_str() {
        "true" | "1" | "on" | "yes" => Some(true),
        "false" | "0" | "off" | "no" => Some(false),
        _ => None,
    }
}

/// oslo.config's `$` handling: `\$` and `$$` are a literal `$`; `$name` and `${name}`
/// refer to other options, which is refused here; any other `$` stays.
fn substitute(v: &str) -> Result<String, String> {
    let v = v.replace("\\$", "$$");
    let mut out = String::with_capacity(v.len());
    let mut chars = v.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '$' {
            out.push(c);
            continue;
        }
        match chars.peek() {
            Some('$') => {
                chars.next();
                out.push('$');
            }
            Some(n) if *n == '{' || *n == '_' || n.is_ascii_alphabetic() => {
                return Err(
                    "uses $-substitution of another option, which is not supported \
                            here (write $$ for a $)"
                        .into(),
                )
            }
            _ => out.push('$'),
        }
    }
    Ok(out)
}

/// One `key = value` of an INI file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IniEntry {
    /// Section name, as written.
    pub section: String,
    /// Key, trimmed.
    pub key: String,
    /// Value: trimmed, one pair of matching quotes removed, continuation lines
    /// joined with `\n`.
    pub value: String,
    /// 1-based line of the key.
    pub line: usize,
}

/// Parses INI text by oslo.config's rules (`oslo_config/iniparser.py`); errors are
/// `(line, reason)`.
pub fn parse_ini(text: &str) -> Result<Vec<IniEntry>, (usize, String)> {
    let mut out: Vec<IniEntry> = Vec::new();
    let mut section: Option<String> = None;
    // The assignment being read: (key, lines, line number).
    let mut pending: Option<(String, Vec<String>, usize)> = None;
    let flush = |pending: &mut Option<(String, Vec<String>, usize)>,
                 section: &Option<String>,
                 out: &mut Vec<IniEntry>|
     -> Result<(), (usize, String)> {
        if let Some((key, lines, line)) = pending.take() {
            let Some(s) = section else {
                return Err((line, format!("{key:?} is outside any [section]")));
            };
            out.push(IniEntry {
                section: s.clone(),
                key,
                value: lines.join("\n"),
                line,
            });
        }
        Ok(())
    };
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        let line = raw.trim_end();
        if line.is_empty() {
            flush(&mut pending, &section, &mut out)?;
            continue;
        }
        if line.starts_with([' ', '\t']) {
            match &mut pending {
                Some((_, lines, _)) => lines.push(line.trim_start().to_string()),
                None => return Err((n, "indented line continues no assignment".into())),
            }
            continue;
        }
        flush(&mut pending, &section, &mut out)?;
        if line.starts_with('[') {
            if !line.ends_with(']') {
                return Err((n, "section header does not end with ]".into()));
            }
            if line.len() <= 2 {
                return Err((n, "empty section name".into()));
            }
            section = Some(line[1..line.len() - 1].to_string());
        } else if line.starts_with(['#', ';']) {
            continue;
        } else {
            let cut = match (line.find(':'), line.find('=')) {
                (None, None) => return Err((n, "expected key = value".into())),
                (Some(c), Some(e)) => c.min(e),
                (Some(c), None) => c,
                (None, Some(e)) => e,
            };
            let key = line[..cut].trim().to_string();
            if key.is_empty() {
                return Err((n, "empty key".into()));
            }
            let mut value = line[cut + 1..].trim();
            if let (Some(first), Some(last)) = (value.chars().next(), value.chars().last()) {
                if first == last && (first == '"' || first == '\'') {
                    value = if value.len() >= 2 {
                        &value[1..value.len() - 1]
                    } else {
                        ""
                    };
                }
            }
            pending = Some((key, vec![value.to_string()], n));
        }
    }
    flush(&mut pending, &section, &mut out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::window::{parse_time_ns, DAY, HOUR, WEEK};

    const CONF: &str = "\
[DEFAULT]
debug = false

[influxdb]
# the metrics database
database_name = monasca
ip_address = 192.0.2.10
port: 8087
user = mon_persister
password = \"p$$ss w=rd#1\"
ssl = True
verify_ssl = no
db_per_tenant = false

[kafka_metrics]
port = not-ours
";

    fn parse(text: &str) -> Result<PersisterInflux, LegacyError> {
        parse_persister_conf(text, Path::new("/etc/monasca/persister.conf"))
    }

    /// The [influxdb] keys the old tool reads are taken with oslo's rules (`:` or `=`,
    /// quotes stripped, `$$` unescaped, booleans as words); other sections are ignored.
    #[test]
    fn persister_conf_influxdb_section() {
        let c = parse(CONF).unwrap();
        assert_eq!(c.database_name.as_deref(), Some("monasca"));
        assert_eq!(c.ip_address.as_deref(), Some("192.0.2.10"));
        assert_eq!(c.port, Some(8087));
        assert_eq!(c.user.as_deref(), Some("mon_persister"));
        assert_eq!(c.password.as_ref().unwrap().expose(), "p$ss w=rd#1");
        assert_eq!(c.ssl, Some(true));
        assert_eq!(c.verify_ssl, Some(false));
        let o = c.overrides();
        let get = |k: &str| {
            o.iter()
                .find(|(key, _)| *key == k)
                .map(|(_, v)| v.to_string())
        };
        assert_eq!(
            get("source.url").as_deref(),
            Some("https://192.0.2.10:8087")
        );
        assert_eq!(get("source.database").as_deref(), Some("monasca"));
        assert_eq!(get("source.insecure_skip_verify").as_deref(), Some("true"));
        assert_eq!(get("retention.default"), None);
    }

    /// Without database_name the persister's own default `mon` applies; without
    /// ip_address the file leaves source.url alone; IPv6 hosts get brackets.
    #[test]
    fn persister_conf_defaults() {
        let c = parse("[influxdb]\nuser = u\n").unwrap();
        let o = c.overrides();
        assert!(o
            .iter()
            .any(|(k, v)| *k == "source.database" && v.to_string() == "mon"));
        assert!(!o.iter().any(|(k, _)| *k == "source.url"));
        let c = parse("[influxdb]\nip_address = fd00::1\ndefault_retention_hours = 168\n").unwrap();
        let o = c.overrides();
        let get = |k: &str| {
            o.iter()
                .find(|(key, _)| *key == k)
                .map(|(_, v)| v.to_string())
        };
        assert_eq!(get("source.url").as_deref(), Some("http://[fd00::1]:8086"));
        assert_eq!(get("retention.default").as_deref(), Some("168h"));
    }

    /// A broken value names the key, its line and the file; a secret's value is never
    /// shown.
    #[test]
    fn persister_conf_errors_name_key() {
        let e = parse("[influxdb]\nport = eighty\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("port (line 2)"), "{e}");
        assert!(e.contains("/etc/monasca/persister.conf"), "{e}");
        assert!(e.contains("eighty"), "{e}");
        let e = parse("[influxdb]\nssl = maybe\n").unwrap_err().to_string();
        assert!(e.contains("ssl") && e.contains("maybe"), "{e}");
        let e = parse("[influxdb]\npassword = ${secret_sauce}\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("password") && !e.contains("secret_sauce"), "{e}");
        let e = parse("[influxdb]\nno separator here\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 2"), "{e}");
        let e = parse("port = 1\n").unwrap_err().to_string();
        assert!(e.contains("line 1") && e.contains("section"), "{e}");
    }

    /// oslo's INI rules: continuation lines, comments only at line start, the first
    /// of `:` and `=` splits, a later file overrides an earlier one key by key.
    #[test]
    fn ini_rules() {
        let e = parse_ini("[s]\na = one\n  two\n# c\nb: x=y\nc = v # not a comment\n").unwrap();
        let v: Vec<_> = e
            .iter()
            .map(|e| (e.key.as_str(), e.value.as_str()))
            .collect();
        assert_eq!(
            v,
            vec![("a", "one\ntwo"), ("b", "x=y"), ("c", "v # not a comment")]
        );
        let mut a = parse("[influxdb]\nuser = a\nport = 1\n").unwrap();
        a.merge(parse("[influxdb]\nport = 2\n").unwrap());
        assert_eq!((a.user.as_deref(), a.port), (Some("a"), Some(2)));
        assert_eq!(substitute(r"a\$b$$c$1").unwrap(), "a$b$c$1");
    }

    /// The old range `now - E*u < t <= now - S*u` becomes whole aligned units that
    /// contain it.
    #[test]
    fn offsets_to_bounds() {
        let now = parse_time_ns("2024-03-13T10:30:00Z").unwrap(); // a Wednesday
        let (from, to) = bounds(TimeUnit::Week, 0, 2, now).unwrap();
        assert_eq!(format_ns(from.unwrap()), "2024-02-26T00:00:00Z");
        assert_eq!(to, None);
        let (from, to) = bounds(TimeUnit::Day, 1, 3, now).unwrap();
        assert_eq!(
            from.unwrap(),
            parse_time_ns("2024-03-10T00:00:00Z").unwrap()
        );
        assert_eq!(to.unwrap(), parse_time_ns("2024-03-13T00:00:00Z").unwrap());
        assert!(from.unwrap() <= now - 3 * DAY && to.unwrap() > now - DAY);
        let (from, to) = bounds(TimeUnit::Hour, 2, 5, now).unwrap();
        assert_eq!(from.unwrap(), now - 5 * HOUR - 30 * 60 * 1_000_000_000);
        assert_eq!(to.unwrap(), now - 2 * HOUR + 30 * 60 * 1_000_000_000);
        assert!(bounds(TimeUnit::Week, 3, 3, now).is_err());
        // Before the epoch: no lower bound.
        assert_eq!(bounds(TimeUnit::Week, 0, 100_000, now).unwrap().0, None);
        assert!(from.unwrap() % HOUR == 0 && now - 520 * WEEK > 0);
    }

    /// Retention pairs and skip lists are split like oslo's DictOpt and ListOpt, and
    /// named like the old tool names policies.
    #[test]
    fn retention_and_skip_flags() {
        assert_eq!(
            retention_entries("p1:2, p2 : 14,", LegacyUnit::D).unwrap(),
            vec!["p1=2d", "p2=14d"]
        );
        assert_eq!(
            retention_entries("a:b:3", LegacyUnit::W).unwrap_err(),
            "retention of project \"a\" must be a positive whole number of week, not \"b:3\""
        );
        assert!(retention_entries("p:0", LegacyUnit::W).is_err());
        assert!(retention_entries("p:2,p:3", LegacyUnit::W).is_err());
        assert!(retention_entries("p", LegacyUnit::W).is_err());
        assert_eq!(
            skip_regexes(r"^log\..+, cpu").unwrap(),
            vec![r"^(?:^log\..+)", "^(?:cpu)"]
        );
        assert!(skip_regexes("a,,b").is_err());
        assert!(skip_regexes("(").is_err());
    }

    /// The old flags land at flag level, the old defaults and persister.conf below the
    /// TOML file; an old and a new flag for one setting are refused.
    #[test]
    fn layers_and_conflicts() {
        let now = parse_time_ns("2024-03-13T10:30:00Z").unwrap();
        let opts = LegacyOpts {
            migrate_skip_regex: Some("^log".into()),
            ..LegacyOpts::default()
        };
        let l = layers(&opts, now).unwrap();
        let keys = |v: &[Override]| v.iter().map(|(k, _)| *k).collect::<Vec<_>>();
        assert_eq!(keys(&l.flags), vec!["measurements.skip"]);
        assert_eq!(
            keys(&l.base.values),
            vec!["retention.policy_names", "window.from"]
        );
        assert!(layers(&LegacyOpts::default(), now)
            .unwrap()
            .base
            .values
            .is_empty());
        let opts = LegacyOpts {
            migrate_time_unit: Some(LegacyUnit::D),
            migrate_end_time_offset: Some(7),
            ..LegacyOpts::default()
        };
        let l = layers(&opts, now).unwrap();
        assert_eq!(keys(&l.flags), vec!["window.time_unit", "window.from"]);
        let e = merge_flags(
            vec![("window.from", "2024-01-01T00:00:00Z".into())],
            l.flags.clone(),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("--migrate-start/end-time-offset") && e.contains("--from"),
            "{e}"
        );
        // --time-unit wins over --migrate-time-unit for the chunk window.
        let m = merge_flags(vec![("window.time_unit", "hour".into())], l.flags).unwrap();
        let units: Vec<String> = m
            .iter()
            .filter(|(k, _)| *k == "window.time_unit")
            .map(|(_, v)| v.to_string())
            .collect();
        assert_eq!(units, vec!["hour"]);
    }
}
