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

/// Installs the global subscriber. `RUST_LOG` wins over `settings.level`.
pub fn init(settings: &LogSettings) -> LogGuard {
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
            let appender = tracing_appender::rolling::daily(dir, "influx-tenant-migrate.log");
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
    LogGuard { _file: guard }
}
