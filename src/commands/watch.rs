//! The liveness watchdog ([`crate::influx::liveness`]) around the commands that only
//! read: `plan`, `status --plan` and `verify` wait on a silent server no longer than
//! `run` does.

use crate::influx::liveness::{Liveness, Watchdog};
use std::future::Future;
use std::time::Duration;

/// Runs `work` unless a server it talks to stops answering for about
/// `liveness_timeout` (`run.liveness_timeout`; zero: never stopped): then the command
/// ends with the watchdog's one line (exit 2) instead of waiting out each request's
/// query timeout.
pub(crate) async fn watched<T>(
    liveness_timeout: Duration,
    work: impl Future<Output = anyhow::Result<T>>,
) -> anyhow::Result<T> {
    let watchdog = Watchdog::spawn(Liveness::new(liveness_timeout));
    watchdog.guard(work).await?
}
