//! Aligned time windows: weeks on Monday 00:00 UTC, days and hours on UTC boundaries.
//!
//! Windows are absolute so that two runs, or two queries of one run, always agree on
//! where a chunk starts and ends; `now()` never enters the arithmetic.

use crate::core::interval::Interval;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Nanoseconds in a second.
pub const SECOND: i64 = 1_000_000_000;
/// Nanoseconds in a minute.
pub const MINUTE: i64 = 60 * SECOND;
/// Nanoseconds in an hour.
pub const HOUR: i64 = 60 * MINUTE;
/// Nanoseconds in a day.
pub const DAY: i64 = 24 * HOUR;
/// Nanoseconds in a week.
pub const WEEK: i64 = 7 * DAY;
/// 1970-01-05T00:00:00Z, the first Monday after the epoch. InfluxDB 1.x shard groups of
/// one week start on Mondays (Go truncates from year 1, a Monday), and so do our weeks.
const MONDAY: i64 = 4 * DAY;

/// The size of a chunk's window. `week`, `day` and `hour` are user choices; the smaller
/// ones exist so that a chunk that keeps failing can be split below an hour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TimeUnit {
    /// One minute.
    Minute,
    /// Ten minutes.
    #[serde(rename = "10m")]
    TenMinutes,
    /// One hour.
    Hour,
    /// One UTC day.
    Day,
    /// One week starting Monday 00:00 UTC.
    Week,
}

impl TimeUnit {
    /// Length of the window in nanoseconds.
    pub fn nanos(self) -> i64 {
        match self {
            TimeUnit::Minute => MINUTE,
            TimeUnit::TenMinutes => 10 * MINUTE,
            TimeUnit::Hour => HOUR,
            TimeUnit::Day => DAY,
            TimeUnit::Week => WEEK,
        }
    }

    /// The next smaller unit a failed chunk is split into, if any.
    pub fn smaller(self) -> Option<TimeUnit> {
        match self {
            TimeUnit::Week => Some(TimeUnit::Day),
            TimeUnit::Day => Some(TimeUnit::Hour),
            TimeUnit::Hour => Some(TimeUnit::TenMinutes),
            TimeUnit::TenMinutes => Some(TimeUnit::Minute),
            TimeUnit::Minute => None,
        }
    }

    /// Start of the window containing `t`.
    pub fn align_down(self, t: i64) -> i64 {
        let origin = if self == TimeUnit::Week { MONDAY } else { 0 };
        t - (t - origin).rem_euclid(self.nanos())
    }

    /// The aligned windows that intersect `range`, each clipped to `range`.
    pub fn windows(self, range: Interval) -> impl Iterator<Item = Interval> {
        let step = self.nanos();
        let mut start = self.align_down(range.start);
        std::iter::from_fn(move || {
            if start >= range.end {
                return None;
            }
            let end = start.saturating_add(step);
            let w = Interval::new(start.max(range.start), end.min(range.end));
            start = end;
            Some(w)
        })
    }

    /// The name used in settings and output.
    pub fn as_str(self) -> &'static str {
        match self {
            TimeUnit::Minute => "minute",
            TimeUnit::TenMinutes => "10m",
            TimeUnit::Hour => "hour",
            TimeUnit::Day => "day",
            TimeUnit::Week => "week",
        }
    }
}

impl fmt::Display for TimeUnit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Error for a time unit name that is not one of the known ones.
#[derive(Debug, thiserror::Error)]
#[error("unknown time unit {0:?}: expected week, day or hour (or w, d, h)")]
pub struct UnknownTimeUnit(pub String);

impl FromStr for TimeUnit {
    type Err = UnknownTimeUnit;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "week" | "weeks" | "w" => Ok(TimeUnit::Week),
            "day" | "days" | "d" => Ok(TimeUnit::Day),
            "hour" | "hours" | "h" => Ok(TimeUnit::Hour),
            "10m" => Ok(TimeUnit::TenMinutes),
            "minute" | "m" => Ok(TimeUnit::Minute),
            _ => Err(UnknownTimeUnit(s.to_string())),
        }
    }
}

/// Formats nanoseconds since the epoch as RFC 3339 UTC, for humans and reports.
pub fn format_ns(t: i64) -> String {
    if t == i64::MIN || t == i64::MAX {
        return if t == i64::MIN { "-inf" } else { "+inf" }.to_string();
    }
    if t >= 0 {
        let st = std::time::UNIX_EPOCH + std::time::Duration::from_nanos(t as u64);
        if t % SECOND == 0 {
            humantime::format_rfc3339_seconds(st).to_string()
        } else {
            humantime::format_rfc3339_nanos(st).to_string()
        }
    } else {
        format!("{t}ns")
    }
}

/// The forms [`parse_time_ns`] accepts, for error messages.
pub const TIME_FORMS: &str = "a date (2024-01-01, meaning 00:00 UTC) or RFC 3339 with Z or \
     an offset (2024-01-01T00:00:00Z, 2024-01-01T02:00:00+02:00; fractional seconds allowed)";

/// Why a time typed by a user is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimeTextError {
    /// Neither a date nor an RFC 3339 time.
    #[error("not a date or RFC 3339 time ({0})")]
    Format(String),
    /// The zone looks like an offset but is not `+HH:MM` or `-HH:MM` within a day.
    #[error("bad UTC offset {0:?}: write +HH:MM or -HH:MM")]
    Offset(String),
    /// Earlier than 1970-01-01T00:00:00Z.
    #[error("times before 1970 are not supported")]
    BeforeEpoch,
    /// Later than nanoseconds since the epoch fit in an i64 (in 2262).
    #[error("time too far in the future")]
    TooLate,
}

/// Parses a time as a user types it into nanoseconds since the epoch: a date
/// (`2024-01-01`, meaning 00:00 UTC that day) or RFC 3339 ending in `Z` or in an
/// offset (`2024-01-01T02:00:00+02:00`, `...-05:30`), with or without fractional
/// seconds. A time without a zone (`2024-01-01T00:00:00`) is UTC, as it always was.
pub fn parse_time_ns(text: &str) -> Result<i64, TimeTextError> {
    let s = text.trim();
    if s.len() == "2024-01-01".len() {
        return utc_ns(&format!("{s}T00:00:00"));
    }
    let (local, offset) = split_zone(s)?;
    utc_ns(local)?
        .checked_sub(offset)
        .filter(|t| *t >= 0)
        .ok_or(TimeTextError::BeforeEpoch)
}

/// Splits an RFC 3339 time into its local part and its UTC offset in nanoseconds
/// (east of UTC positive). Text without a zone is UTC.
fn split_zone(s: &str) -> Result<(&str, i64), TimeTextError> {
    if let Some(local) = s.strip_suffix(['Z', 'z']) {
        return Ok((local, 0));
    }
    // An offset is the last six bytes, after at least `YYYY-MM-DDTHH:MM:SS`: the
    // date's own dashes never count.
    let at = s.len().saturating_sub(6);
    match s.get(at..) {
        Some(zone) if at >= 19 && zone.starts_with(['+', '-']) => Ok((&s[..at], offset_ns(zone)?)),
        _ => Ok((s, 0)),
    }
}

/// `+HH:MM` or `-HH:MM` in nanoseconds.
fn offset_ns(zone: &str) -> Result<i64, TimeTextError> {
    let bad = || TimeTextError::Offset(zone.to_string());
    let (sign, rest) = zone.split_at(1);
    let (h, m) = rest.split_once(':').ok_or_else(bad)?;
    let two_digits = |d: &str, max: i64| -> Option<i64> {
        let ok = d.len() == 2 && d.bytes().all(|b| b.is_ascii_digit());
        ok.then(|| d.parse().ok()).flatten().filter(|v| *v <= max)
    };
    let ns =
        two_digits(h, 23).ok_or_else(bad)? * HOUR + two_digits(m, 59).ok_or_else(bad)? * MINUTE;
    Ok(if sign == "-" { -ns } else { ns })
}

/// `YYYY-MM-DDTHH:MM:SS[.fraction]` read as UTC, in nanoseconds.
fn utc_ns(local: &str) -> Result<i64, TimeTextError> {
    // humantime reads only UTC and would take a leftover zone for part of the
    // fraction, so only a fraction may follow the seconds.
    let tail = local.get(19..).unwrap_or_default();
    let fraction = |f: &str| !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit());
    if !(tail.is_empty() || tail.strip_prefix('.').is_some_and(fraction)) {
        return Err(TimeTextError::Format(format!(
            "unexpected {tail:?} after the seconds"
        )));
    }
    let st = humantime::parse_rfc3339_weak(&format!("{local}Z"))
        .map_err(|e| TimeTextError::Format(e.to_string()))?;
    let d = st
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(|_| TimeTextError::BeforeEpoch)?;
    i64::try_from(d.as_nanos()).map_err(|_| TimeTextError::TooLate)
}

/// Formats a duration the way InfluxQL writes duration literals, using the largest unit
/// that divides it exactly (`2w`, `36h`, `90m`). Also the name given to retention
/// policies the tool creates, so that equal durations get equal names.
pub fn influx_duration(d: std::time::Duration) -> String {
    let ns = d.as_nanos();
    for (unit, size) in [
        ("w", WEEK as u128),
        ("d", DAY as u128),
        ("h", HOUR as u128),
        ("m", MINUTE as u128),
        ("s", SECOND as u128),
    ] {
        if ns >= size && ns.is_multiple_of(size) {
            return format!("{}{unit}", ns / size);
        }
    }
    format!("{}ms", d.as_millis().max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    // 2024-01-01 is a Monday.
    const MON_2024: i64 = 1_704_067_200 * SECOND;

    /// Week windows start on Monday 00:00 UTC, including before the epoch's first Monday.
    #[test]
    fn weeks_align_to_monday() {
        assert_eq!(TimeUnit::Week.align_down(MON_2024), MON_2024);
        assert_eq!(TimeUnit::Week.align_down(MON_2024 + 3 * DAY + 5), MON_2024);
        assert_eq!(TimeUnit::Week.align_down(MON_2024 - 1), MON_2024 - WEEK);
        assert_eq!(TimeUnit::Week.align_down(0), MONDAY - WEEK);
        assert_eq!(
            format_ns(TimeUnit::Week.align_down(MON_2024 + 6 * DAY)),
            "2024-01-01T00:00:00Z"
        );
    }

    /// Day and hour windows align to UTC boundaries.
    #[test]
    fn days_and_hours_align_to_utc() {
        let t = MON_2024 + 2 * DAY + 5 * HOUR + 7 * MINUTE;
        assert_eq!(TimeUnit::Day.align_down(t), MON_2024 + 2 * DAY);
        assert_eq!(TimeUnit::Hour.align_down(t), MON_2024 + 2 * DAY + 5 * HOUR);
    }

    /// Windows over a range are aligned, contiguous and clipped to the range's ends.
    #[test]
    fn windows_cover_range_exactly() {
        let range = Interval::new(MON_2024 + HOUR, MON_2024 + 2 * WEEK + DAY);
        let w: Vec<_> = TimeUnit::Week.windows(range).collect();
        assert_eq!(
            w,
            vec![
                Interval::new(MON_2024 + HOUR, MON_2024 + WEEK),
                Interval::new(MON_2024 + WEEK, MON_2024 + 2 * WEEK),
                Interval::new(MON_2024 + 2 * WEEK, MON_2024 + 2 * WEEK + DAY),
            ]
        );
        assert_eq!(TimeUnit::Day.windows(range).count(), 15);
    }

    /// Each unit splits into a smaller one down to a minute, which does not split.
    #[test]
    fn split_chain_ends_at_minute() {
        let mut u = TimeUnit::Week;
        let mut chain = vec![u];
        while let Some(s) = u.smaller() {
            assert_eq!(u.nanos() % s.nanos(), 0, "{u} is not a multiple of {s}");
            chain.push(s);
            u = s;
        }
        assert_eq!(chain.len(), 5);
    }

    /// Names, short forms and unknown names parse as documented.
    #[test]
    fn parse_units() {
        assert_eq!("week".parse::<TimeUnit>().unwrap(), TimeUnit::Week);
        assert_eq!("D".parse::<TimeUnit>().unwrap(), TimeUnit::Day);
        assert_eq!("h".parse::<TimeUnit>().unwrap(), TimeUnit::Hour);
        assert!("fortnight"
            .parse::<TimeUnit>()
            .unwrap_err()
            .to_string()
            .contains("fortnight"));
    }

    /// Durations get InfluxQL names using the largest exact unit.
    #[test]
    fn influx_duration_names() {
        use std::time::Duration;
        assert_eq!(influx_duration(Duration::from_secs(14 * 86400)), "2w");
        assert_eq!(influx_duration(Duration::from_secs(3 * 86400)), "3d");
        assert_eq!(influx_duration(Duration::from_secs(36 * 3600)), "36h");
        assert_eq!(influx_duration(Duration::from_secs(90 * 60)), "90m");
    }

    /// RFC 3339 UTC (as servers print it) parses to nanoseconds and formats back.
    #[test]
    fn rfc3339_round_trip() {
        let t = parse_time_ns("2024-01-01T00:00:00Z").unwrap();
        assert_eq!(t, MON_2024);
        assert_eq!(format_ns(t), "2024-01-01T00:00:00Z");
        assert!(parse_time_ns("yesterday").is_err());
    }

    /// A date means 00:00 UTC that day; `Z`, `+HH:MM` and `-HH:MM` forms, with or
    /// without fractional seconds, all land on the same UTC instant.
    #[test]
    fn user_times_with_dates_and_offsets() {
        for text in [
            "2024-01-01",
            " 2024-01-01 ",
            "2024-01-01T00:00:00Z",
            "2024-01-01T00:00:00z",
            "2024-01-01T00:00:00",
            "2024-01-01T02:00:00+02:00",
            "2023-12-31T18:30:00-05:30",
            "2024-01-01T00:00:00+00:00",
            "2024-01-01T00:00:00-00:00",
            "2024-01-01T02:00:00.000+02:00",
        ] {
            assert_eq!(parse_time_ns(text), Ok(MON_2024), "{text}");
        }
        assert_eq!(
            parse_time_ns("2024-01-01T02:00:00.25+02:00"),
            Ok(MON_2024 + SECOND / 4)
        );
        assert_eq!(
            parse_time_ns("2023-12-31T18:30:00.5-05:30"),
            Ok(MON_2024 + SECOND / 2)
        );
        assert_eq!(
            parse_time_ns("2024-01-01T00:00:00.123456789Z"),
            Ok(MON_2024 + 123_456_789)
        );
    }

    /// Malformed dates, zones and offsets, and times outside 1970..2262, are refused
    /// with the reason.
    #[test]
    fn user_times_refused() {
        for text in [
            "yesterday",
            "",
            "2024-13-01",
            "2024-02-30",
            "2024-1-1",
            "2024-01-01T00:00",
            "2024-01-01T00:00:00+02",
            "2024-01-01T00:00:00.+02:00",
            "2024-01-01T00:00:00 UTC",
            "2024-01-01T00:00:00Z+02:00",
            "2024-01-01T00:00:00.5Zjunk",
        ] {
            assert!(
                matches!(parse_time_ns(text), Err(TimeTextError::Format(_))),
                "{text}: {:?}",
                parse_time_ns(text)
            );
        }
        for text in [
            "2024-01-01T00:00:00+24:00",
            "2024-01-01T00:00:00-02:60",
            "2024-01-01T00:00:00+0a:00",
            "2024-01-01T00:00:00+02-00",
        ] {
            assert_eq!(
                parse_time_ns(text),
                Err(TimeTextError::Offset(text[19..].to_string())),
                "{text}"
            );
        }
        assert_eq!(
            parse_time_ns("1970-01-01T01:00:00+02:00"),
            Err(TimeTextError::BeforeEpoch)
        );
        assert!(parse_time_ns("1969-12-31").is_err());
        assert_eq!(parse_time_ns("2300-01-01"), Err(TimeTextError::TooLate));
    }
}
