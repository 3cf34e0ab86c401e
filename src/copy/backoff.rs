//! How long to wait before retrying a chunk.

use std::time::Duration;

/// Longest wait before a retry, before jitter.
const CAP: Duration = Duration::from_secs(30);

/// Exponential backoff with jitter derived from the chunk and attempt, so that
/// concurrent chunks retrying after one server restart do not all return at once.
/// `attempt` is the attempt that just failed (1 for the first); `salt` names the chunk.
pub fn backoff(base: Duration, attempt: u32, salt: &str) -> Duration {
    let exp = base.saturating_mul(1u32 << attempt.clamp(1, 10).saturating_sub(1));
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in salt.bytes().chain(attempt.to_le_bytes()) {
        h = (h ^ u64::from(b)).wrapping_mul(0x1000_0000_01b3);
    }
    let jitter = 0.5 + (h % 1000) as f64 / 1000.0; // 0.5x .. 1.5x
    exp.min(CAP).mul_f64(jitter)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Backoff grows per attempt, stays within jitter bounds and under the cap.
    #[test]
    fn backoff_grows_with_jitter() {
        let b = Duration::from_secs(1);
        let d1 = backoff(b, 1, "q");
        let d3 = backoff(b, 3, "q");
        assert!(
            d1 >= Duration::from_millis(500) && d1 <= Duration::from_millis(1500),
            "{d1:?}"
        );
        assert!(
            d3 >= Duration::from_secs(2) && d3 <= Duration::from_secs(6),
            "{d3:?}"
        );
        assert!(backoff(b, 30, "q") <= Duration::from_secs(45));
    }

    /// Chunks retrying at the same attempt wait different times, and the same chunk
    /// always waits the same.
    #[test]
    fn jitter_differs_per_chunk_and_repeats() {
        let b = Duration::from_secs(1);
        assert_ne!(backoff(b, 2, "tenant-a0"), backoff(b, 2, "tenant-b0"));
        assert_eq!(backoff(b, 2, "tenant-a0"), backoff(b, 2, "tenant-a0"));
    }
}
