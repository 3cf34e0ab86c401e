//! Splitting a chunk that failed into smaller ones.

use crate::core::interval::Interval;
use crate::influx::error::{ClientError, FailureClass};
use crate::plan::Chunk;

/// The pieces to copy instead of a chunk that failed with `e`, if splitting can help:
/// not after a permanent failure, not when the server cannot work at all (out of open
/// files or disk), and not when it is unreachable (smaller queries help a server that
/// is struggling, not one that is gone).
pub fn split_after(chunk: &Chunk, e: &ClientError) -> Option<Vec<Chunk>> {
    let unreachable = matches!(e, ClientError::Unreachable { .. });
    let hopeless = matches!(e.class(), FailureClass::Permanent | FailureClass::Server);
    if hopeless || unreachable {
        return None;
    }
    split_chunk(chunk, e)
}

/// The pieces a failed chunk is split into: by measurements when the series limit was
/// hit (a shorter window has as many series), else by time into the next smaller unit
/// that actually divides the window, else by measurements.
pub fn split_chunk(chunk: &Chunk, e: &ClientError) -> Option<Vec<Chunk>> {
    if series_limit(e) {
        return by_measurements(chunk);
    }
    if let Some(halves) = halve_joined(chunk) {
        return Some(halves);
    }
    let mut unit = chunk.unit.smaller();
    while let Some(u) = unit {
        if u.nanos() < chunk.window.len() {
            return Some(
                u.windows(chunk.window)
                    .map(|w: Interval| Chunk {
                        window: w,
                        unit: u,
                        ..chunk.clone()
                    })
                    .collect(),
            );
        }
        unit = u.smaller();
    }
    by_measurements(chunk)
}

/// A chunk that joins several windows of its unit (sized from a sparse sample) in two
/// halves cut at a window boundary, each keeping the unit; `None` for one window.
fn halve_joined(chunk: &Chunk) -> Option<Vec<Chunk>> {
    let w = chunk.window;
    let mid = chunk.unit.align_down(w.start + w.len() / 2);
    (mid > w.start && mid < w.end).then(|| {
        [Interval::new(w.start, mid), Interval::new(mid, w.end)]
            .into_iter()
            .map(|window| Chunk {
                window,
                ..chunk.clone()
            })
            .collect()
    })
}

fn series_limit(e: &ClientError) -> bool {
    e.to_string().contains("max-select-series")
}

/// The chunk's measurements in two halves, same window; `None` for one measurement.
fn by_measurements(chunk: &Chunk) -> Option<Vec<Chunk>> {
    (chunk.measurements.len() > 1).then(|| {
        let mid = chunk.measurements.len() / 2;
        [&chunk.measurements[..mid], &chunk.measurements[mid..]]
            .into_iter()
            .map(|ms| Chunk {
                measurements: ms.into(),
                ..chunk.clone()
            })
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::window::{TimeUnit, DAY, HOUR, WEEK};

    fn chunk(unit: TimeUnit, w: Interval, ms: &[&str]) -> Chunk {
        Chunk {
            tenant: "t".into(),
            target: "db_t".into(),
            target_rp: "autogen".into(),
            measurements: ms.iter().map(|s| s.to_string()).collect(),
            window: w,
            unit,
            closed: true,
            retention_ns: None,
        }
    }

    /// A chunk joining sixteen weeks is halved at a week boundary, keeping its unit;
    /// a chunk of one week is still cut into days.
    #[test]
    fn joined_weeks_halve_first() {
        let mon = 1_704_067_200_000_000_000; // a Monday
        let c = chunk(
            TimeUnit::Week,
            Interval::new(mon, mon + 16 * WEEK),
            &["cpu"],
        );
        let e = ClientError::Statement {
            message: "max-select-point limit exceeded".into(),
        };
        let got = split_chunk(&c, &e).unwrap();
        let ws: Vec<_> = got.iter().map(|c| (c.window, c.unit)).collect();
        assert_eq!(
            ws,
            vec![
                (Interval::new(mon, mon + 8 * WEEK), TimeUnit::Week),
                (
                    Interval::new(mon + 8 * WEEK, mon + 16 * WEEK),
                    TimeUnit::Week
                )
            ]
        );
        let one = chunk(TimeUnit::Week, Interval::new(mon, mon + WEEK), &["cpu"]);
        assert_eq!(split_chunk(&one, &e).unwrap().len(), 7);
    }

    fn stmt(m: &str) -> ClientError {
        ClientError::Statement { message: m.into() }
    }

    /// A week splits into seven days, a day into 24 hours, keeping the measurements.
    #[test]
    fn split_by_time() {
        let w = Interval::new(4 * DAY, 4 * DAY + WEEK);
        let parts = split_chunk(&chunk(TimeUnit::Week, w, &["a", "b"]), &stmt("timeout")).unwrap();
        assert_eq!(parts.len(), 7);
        assert!(parts
            .iter()
            .all(|p| p.unit == TimeUnit::Day && p.measurements.len() == 2));
        assert_eq!(parts[0].window.start, w.start);
        assert_eq!(parts[6].window.end, w.end);
        let d = split_chunk(&parts[0], &stmt("timeout")).unwrap();
        assert_eq!(d.len(), 24);
    }

    /// A clipped (short) window skips units it already fits in.
    #[test]
    fn split_skips_units_that_do_not_divide() {
        let w = Interval::new(4 * DAY, 4 * DAY + 2 * HOUR);
        let parts = split_chunk(&chunk(TimeUnit::Week, w, &["a"]), &stmt("timeout")).unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].unit, TimeUnit::Hour);
    }

    /// The series limit splits the measurements, not the time; one measurement at the
    /// smallest unit cannot be split.
    #[test]
    fn split_by_measurements() {
        let w = Interval::new(0, WEEK);
        let parts = split_chunk(
            &chunk(TimeUnit::Week, w, &["a", "b", "c"]),
            &stmt("max-select-series limit exceeded"),
        )
        .unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].window, w);
        assert!(split_chunk(
            &chunk(TimeUnit::Week, w, &["a"]),
            &stmt("max-select-series limit exceeded")
        )
        .is_none());
        let tiny = chunk(TimeUnit::Minute, Interval::new(0, 60_000_000_000), &["a"]);
        assert!(split_chunk(&tiny, &stmt("timeout")).is_none());
    }

    /// A chunk is split after a too-big or transient failure, never after a permanent
    /// one, when the server cannot be reached at all, or when it is out of open files.
    #[test]
    fn split_after_depends_on_the_failure() {
        let c = chunk(
            TimeUnit::Week,
            Interval::new(4 * DAY, 4 * DAY + WEEK),
            &["a", "b"],
        );
        let http = |status| ClientError::Http {
            url: "u".into(),
            status,
            message: String::new(),
        };
        assert_eq!(
            split_after(&c, &stmt("query-timeout limit exceeded")).map(|p| p.len()),
            Some(7)
        );
        assert_eq!(split_after(&c, &http(503)).map(|p| p.len()), Some(7));
        assert!(split_after(&c, &stmt("database not found: x")).is_none());
        assert!(split_after(&c, &http(403)).is_none());
        let gone = ClientError::Unreachable {
            url: "u".into(),
            reason: "refused".into(),
        };
        assert!(split_after(&c, &gone).is_none());
        assert!(split_after(&c, &stmt("open /x: too many open files")).is_none());
    }
}
