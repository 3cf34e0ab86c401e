//! Keeping the average write rate under a limit.

use std::sync::Mutex;
use std::time::Duration;

/// Paces chunk starts so the average write rate stays under a limit. Server-side
/// copies cannot be slowed down mid-query, so the debt of each finished chunk delays
/// the next start instead.
#[derive(Debug)]
pub struct Pacer {
    limit: Option<u64>,
    next: Mutex<tokio::time::Instant>,
}

impl Pacer {
    /// A pacer for `limit` points per second (`None`: never waits).
    pub fn new(limit: Option<u64>) -> Self {
        Pacer {
            limit,
            next: Mutex::new(tokio::time::Instant::now()),
        }
    }

    /// Waits until the next chunk may start.
    pub async fn wait(&self) {
        if self.limit.is_none() {
            return;
        }
        let at = *self.next.lock().unwrap_or_else(|p| p.into_inner());
        tokio::time::sleep_until(at).await;
    }

    /// Books `points` written: later starts move back by `points / limit` seconds.
    pub fn written(&self, points: u64) {
        if let Some(limit) = self.limit {
            let mut next = self.next.lock().unwrap_or_else(|p| p.into_inner());
            let now = tokio::time::Instant::now();
            *next = (*next).max(now) + Duration::from_secs_f64(points as f64 / limit.max(1) as f64);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::time::Instant;

    /// Points written push the next start back by points / limit seconds; without a
    /// limit nothing ever waits.
    #[tokio::test(start_paused = true)]
    async fn written_points_delay_the_next_start() {
        let p = Pacer::new(Some(1000));
        let t0 = Instant::now();
        p.wait().await;
        assert_eq!(t0.elapsed(), Duration::ZERO);
        p.written(500);
        p.wait().await;
        assert_eq!(t0.elapsed(), Duration::from_millis(500));

        let free = Pacer::new(None);
        free.written(1_000_000);
        let t1 = Instant::now();
        free.wait().await;
        assert_eq!(t1.elapsed(), Duration::ZERO);
    }
}
