//! Progress while a run goes on: a bar on a terminal, a log line every few seconds
//! otherwise (journald), both with an ETA from the chunks done so far.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Counters shared between the copier and the reporter.
#[derive(Debug)]
pub struct Progress {
    total: AtomicU64,
    done: AtomicU64,
    failed: AtomicU64,
    points: AtomicU64,
    started: Instant,
}

/// A consistent-enough view of the counters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Snapshot {
    /// Chunks planned.
    pub total: u64,
    /// Chunks finished (copied or failed).
    pub done: u64,
    /// Chunks that failed.
    pub failed: u64,
    /// Points written.
    pub points: u64,
    /// Time since the copy started.
    pub elapsed: Duration,
}

impl Snapshot {
    /// Points per second so far.
    pub fn rate(&self) -> f64 {
        self.points as f64 / self.elapsed.as_secs_f64().max(1e-3)
    }

    /// Time left, extrapolated from the chunks done so far.
    pub fn eta(&self) -> Option<Duration> {
        (self.done > 0 && self.total >= self.done).then(|| {
            self.elapsed
                .mul_f64((self.total - self.done) as f64 / self.done as f64)
        })
    }
}

impl Progress {
    /// Counters for a run of `total` chunks.
    pub fn new(total: u64) -> Arc<Self> {
        Arc::new(Progress {
            total: AtomicU64::new(total),
            done: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            points: AtomicU64::new(0),
            started: Instant::now(),
        })
    }

    /// One planned chunk finished.
    pub fn chunk_done(&self, failed: bool) {
        self.done.fetch_add(1, Ordering::Relaxed);
        if failed {
            self.failed.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Points the server confirmed.
    pub fn add_points(&self, n: u64) {
        self.points.fetch_add(n, Ordering::Relaxed);
    }

    /// The counters now.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            total: self.total.load(Ordering::Relaxed),
            done: self.done.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            points: self.points.load(Ordering::Relaxed),
            elapsed: self.started.elapsed(),
        }
    }

    /// Reports progress until the returned guard is dropped: a bar when stderr is a
    /// terminal, else a log line every `interval`.
    pub fn spawn_reporter(self: &Arc<Self>, interval: Duration) -> ReporterGuard {
        let me = Arc::clone(self);
        let terminal = std::io::stderr().is_terminal();
        let handle = tokio::spawn(async move {
            if terminal {
                let bar = indicatif::ProgressBar::new(me.snapshot().total);
                bar.set_style(
                    indicatif::ProgressStyle::with_template(
                        "{elapsed_precise} [{bar:30}] {pos}/{len} chunks  {msg}  eta {eta}",
                    )
                    .expect("static template")
                    .progress_chars("=> "),
                );
                loop {
                    let s = me.snapshot();
                    bar.set_length(s.total);
                    bar.set_position(s.done);
                    bar.set_message(format!(
                        "{} points, {:.0}/s, {} failed",
                        s.points,
                        s.rate(),
                        s.failed
                    ));
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            } else {
                let mut tick = tokio::time::interval(interval.max(Duration::from_millis(100)));
                tick.tick().await;
                loop {
                    tick.tick().await;
                    let s = me.snapshot();
                    tracing::info!(
                        chunks_done = s.done,
                        chunks_total = s.total,
                        failed = s.failed,
                        points = s.points,
                        points_per_sec = s.rate() as u64,
                        eta = %s.eta().map(|d| humantime::format_duration(Duration::from_secs(d.as_secs())).to_string()).unwrap_or_else(|| "unknown".into()),
                        "progress"
                    );
                }
            }
        });
        ReporterGuard(handle)
    }
}

/// Stops the progress reporter when dropped.
#[derive(Debug)]
pub struct ReporterGuard(tokio::task::JoinHandle<()>);

impl Drop for ReporterGuard {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The ETA extrapolates elapsed time by the share of chunks left.
    #[test]
    fn eta_extrapolates() {
        let s = Snapshot {
            total: 10,
            done: 5,
            failed: 0,
            points: 100,
            elapsed: Duration::from_secs(20),
        };
        assert_eq!(s.eta(), Some(Duration::from_secs(20)));
        assert_eq!(s.rate(), 5.0);
        let none = Snapshot { done: 0, ..s };
        assert_eq!(none.eta(), None);
    }
}
