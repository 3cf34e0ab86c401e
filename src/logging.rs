//! Logging to stderr (journald under systemd) and, optionally, a daily-rolling file.

use crate::config::{LogFormat, LogSettings};
use std::io::IsTerminal;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{fmt, EnvFilter, Layer};

/// Keeps the file writer flushing; hold it until the process ends.
pub struct LogGuard {
    _file: Option<tracing_appender::non_blocking::WorkerGuard>,
}

/// Name of the log files in `log.dir`; a `.YYYY-MM-DD` suffix is added per day.
pub const FILE_PREFIX: &str = "influx-tenant-migrate.log";

/// The log directory cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("cannot write log files in {}: {reason}", dir.display())]
pub struct LogDirError {
    /// The directory (`log.dir`).
    pub dir: std::path::PathBuf,
    /// Why.
    pub reason: String,
}

/// Installs the global subscriber. `RUST_LOG` wins over `settings.level`.
pub fn init(settings: &LogSettings) -> Result<LogGuard, LogDirError> {
    let filter =
        || EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&settings.level));
    let stderr = match settings.format {
        LogFormat::Text => fmt::layer()
            .with_writer(std::io::stderr)
            .with_ansi(std::io::stderr().is_terminal())
            .with_target(false)
            .boxed(),
        LogFormat::Json => fmt::layer().json().with_writer(std::io::stderr).boxed(),
    };
    let (file, guard) = match &settings.dir {
        Some(dir) => {
            // The builder reports an unusable directory; `rolling::daily` would panic.
            let appender = tracing_appender::rolling::RollingFileAppender::builder()
                .rotation(tracing_appender::rolling::Rotation::DAILY)
                .filename_prefix(FILE_PREFIX)
                .build(dir)
                .map_err(|e| LogDirError {
                    dir: dir.clone(),
                    reason: e.to_string(),
                })?;
            let (w, g) = tracing_appender::non_blocking(appender);
            let layer = match settings.format {
                LogFormat::Text => fmt::layer().with_writer(w).with_ansi(false).boxed(),
                LogFormat::Json => fmt::layer().json().with_writer(w).boxed(),
            };
            (Some(layer.with_filter(filter())), Some(g))
        }
        None => (None, None),
    };
    let _ = tracing_subscriber::registry()
        .with(stderr.with_filter(filter()))
        .with(file)
        .try_init();
    Ok(LogGuard { _file: guard })
}
