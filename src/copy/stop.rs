//! Turning SIGTERM/SIGINT into the copier's stop levels.
//!
//! The first signal drains (no new chunk starts), a second one, or the grace period
//! running out, aborts (chunks in flight are abandoned unrecorded).

use std::time::Duration;
use tokio::sync::watch;

/// A stop signal driven by SIGTERM and SIGINT. `grace` bounds how long in-flight
/// chunks may take after the first signal.
pub fn on_signals(grace: Duration) -> StopSignal {
    let (tx, rx) = watch::channel(StopLevel::Run);
    tokio::spawn(async move {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot listen for SIGTERM");
                    return;
                }
            };
        let first = tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = tokio::signal::ctrl_c() => "SIGINT",
        };
        tracing::warn!(
            signal = first,
            grace = %humantime::format_duration(grace),
            "stopping: no new chunks; chunks in flight may finish within the grace period (signal again to stop at once)"
        );
        let _ = tx.send(StopLevel::Drain);
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
            _ = tokio::time::sleep(grace) => {}
        }
        let _ = tx.send(StopLevel::Abort);
    });
    rx
}

/// A stop signal that never fires, for runs driven by tests or embedding code.
pub fn never() -> (watch::Sender<StopLevel>, StopSignal) {
    watch::channel(StopLevel::Run)
}

/// Where a run stands with respect to stopping.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum StopLevel {
    /// Keep going.
    Run,
    /// Start no new chunk; let those in flight finish.
    Drain,
    /// Abandon chunks in flight (unrecorded) and return now.
    Abort,
}

/// The receiving end of the stop signal; the caller owns the sender, so tests can
/// stop a run without sending a real signal.
pub type StopSignal = watch::Receiver<StopLevel>;
