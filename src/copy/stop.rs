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

/// `stop`, and also abort when `cause` completes (a server found lost): chunks in
/// flight are then abandoned, as after a second signal. Forwards every level `stop`
/// reaches.
pub fn abort_when(
    mut stop: StopSignal,
    cause: impl std::future::Future<Output = ()> + Send + 'static,
) -> StopSignal {
    let (tx, rx) = watch::channel(*stop.borrow());
    tokio::spawn(async move {
        tokio::pin!(cause);
        let mut signals = true;
        loop {
            tokio::select! {
                () = &mut cause => {
                    let _ = tx.send(StopLevel::Abort);
                    return;
                }
                changed = stop.changed(), if signals => match changed {
                    Ok(()) => {
                        let level = *stop.borrow();
                        let _ = tx.send(level);
                    }
                    // No signal can come any more: only the cause is left.
                    Err(_) => signals = false,
                },
                // Nobody listens any more.
                () = tx.closed() => return,
            }
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The merged signal follows the signals' levels, and aborts when the cause
    /// completes even though no signal came.
    #[tokio::test]
    async fn aborts_on_cause_and_forwards_signals() {
        let (tx, rx) = never();
        let (fire, fired) = tokio::sync::oneshot::channel::<()>();
        let mut merged = abort_when(rx, async move {
            let _ = fired.await;
        });
        tx.send(StopLevel::Drain).unwrap();
        merged.changed().await.unwrap();
        assert_eq!(*merged.borrow(), StopLevel::Drain);
        fire.send(()).unwrap();
        merged.changed().await.unwrap();
        assert_eq!(*merged.borrow(), StopLevel::Abort);
    }
}
