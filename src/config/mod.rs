//! Settings: defaults, then the TOML file, then `ITM__SECTION__KEY` environment
//! variables, then command-line flags (later wins), validated once into [`Settings`].
//!
//! Durations, times, regexes and the password file are parsed here, at load, so the
//! rest of the tool only sees typed values. Every error names the key and where its
//! value came from.
//!
//! `raw` holds the settings as written, `load` layers them, `validate` turns them into
//! the typed sections of `settings`; `legacy` reads the Monasca drop-in's options.

pub mod legacy;
mod load;
mod raw;
mod settings;
mod validate;

pub use load::{load, load_layers, load_with_env, BaseLayer, Override, ENV_PREFIX};
pub use settings::{
    LogFormat, LogSettings, PolicyNames, RetentionSettings, RunSettings, Settings, SourceSettings,
    StreamSettings, TargetSettings, TenantSettings, WindowSettings, BUILTIN_TAG_FOR,
    FALLBACK_CONCURRENCY,
};

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

#[cfg(test)]
mod fixtures {
    /// An environment holding only `pairs`, in place of the process's.
    pub(super) fn env(pairs: &[(&str, &str)]) -> Option<config::Map<String, String>> {
        Some(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    /// A TOML file holding `text`, removed when dropped.
    pub(super) fn file(text: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
        std::io::Write::write_all(&mut f, text.as_bytes()).unwrap();
        f
    }
}
