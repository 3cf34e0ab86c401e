//! The wall clock, read in one place: "now" in nanoseconds (what windows, the
//! closed/open cutoff and retention horizons compare against) and as RFC 3339 text
//! (what the ledger and the reports stamp).

use std::time::{SystemTime, UNIX_EPOCH};

/// The current time in nanoseconds since the epoch.
pub fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// The current time as RFC 3339 UTC text, whole seconds.
pub fn rfc3339_now() -> String {
    rfc3339(SystemTime::now())
}

/// A time as RFC 3339 UTC text, whole seconds.
pub fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_seconds(t).to_string()
}

/// Unix seconds of a time.
pub fn unix_secs(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}
