//! Layering: built-in defaults, a base layer (persister.conf), the TOML file, `ITM__*`
//! environment variables and command-line flags, later wins; and where each value
//! came from, for error messages.

use super::raw::Raw;
use super::settings::Settings;
use super::validate;
use super::ConfigError;
use std::path::Path;

/// Environment prefix: `ITM__SOURCE__URL` sets `source.url`.
pub const ENV_PREFIX: &str = "ITM";

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
    validate::settings(raw, &|key| origins.describe(key))
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
    /// Where the value of dotted `key` came from, e.g. `in /etc/x.toml`.
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::fixtures::{env, file};

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
        assert_eq!(s.run.concurrency, Some(3));
    }

    /// `run.concurrency` is "auto" (`None`, left to the server) unless a layer sets it:
    /// a number in the file, then the environment, then the flag wins; "auto" in a
    /// later layer gives it back to the server; 0 is refused naming the key.
    #[test]
    fn concurrency_auto_unless_set() {
        let none = load_with_env(None, vec![], env(&[])).unwrap();
        assert_eq!(none.run.concurrency, None);
        assert_eq!(none.run.concurrency_or_fallback(), 2);
        let f = file("[run]\nconcurrency = 7\n");
        let from_file = load_with_env(Some(f.path()), vec![], env(&[])).unwrap();
        assert_eq!(from_file.run.concurrency, Some(7));
        let from_env = load_with_env(
            Some(f.path()),
            vec![],
            env(&[("ITM__RUN__CONCURRENCY", "5")]),
        )
        .unwrap();
        assert_eq!(from_env.run.concurrency, Some(5));
        let from_flag = load_with_env(
            Some(f.path()),
            vec![("run.concurrency", 3.into())],
            env(&[("ITM__RUN__CONCURRENCY", "5")]),
        )
        .unwrap();
        assert_eq!(from_flag.run.concurrency, Some(3));
        let auto = load_with_env(
            Some(f.path()),
            vec![],
            env(&[("ITM__RUN__CONCURRENCY", "auto")]),
        )
        .unwrap();
        assert_eq!(auto.run.concurrency, None);
        let zero = file("[run]\nconcurrency = 0\n");
        let err = load_with_env(Some(zero.path()), vec![], env(&[]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("run.concurrency"), "{err}");
        assert!(err.contains("at least 1"), "{err}");
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
}
