//! Whether the source still receives writes, for a final run (`run --final`): its
//! exit 0 promises that every point up to now is in its tenant database, verified, so
//! it must not start while a persister still writes to the source.
//!
//! Two signs, each catching what the other misses:
//! - `SHOW STATS` shard counters (`writePointsOk` of the source database's shards),
//!   sampled twice [`SAMPLE_GAP`] apart: any point written in between, whatever its
//!   timestamp (a persister catching up on a backlog writes old ones). Needs admin
//!   rights; counters are per process, so a restart in between reads as "no writes"
//!   (a shard that appears with points counts as written to).
//! - the newest point's age against `window.settle`: a persister that flushes a batch
//!   only every few tens of seconds can be quiet during the sample, but its newest
//!   points are recent. Once the settle time has passed without a new point, late
//!   points from the message queue are no longer expected (the settle time's meaning).

use crate::core::window::format_ns;
use crate::influx::answer::StatementResult;
use crate::influx::client::Client;
use std::collections::BTreeMap;
use std::time::Duration;

/// Time between the two `SHOW STATS` samples: longer than a persister's usual write
/// interval under load (its batches are flushed every second or so), short enough to
/// wait for once.
pub const SAMPLE_GAP: Duration = Duration::from_secs(5);

/// Why a final run may not start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StillWritten {
    /// The shard counters rose between the samples.
    #[error("final run refused: the source database {db:?} received {points} points in {secs} s (SHOW STATS, writePointsOk): switch every persister to the tenant databases (db_per_tenant = true), wait for the writes to stop, then run --final again")]
    Writes {
        /// Source database.
        db: String,
        /// Points written between the samples.
        points: u64,
        /// Seconds between the samples.
        secs: u64,
    },
    /// The newest point is younger than the settle time.
    #[error("final run refused: the newest point in {db:?} is at {newest}, less than window.settle ({settle}) ago, so late points may still come: stop the persisters' writes to {db:?} and run --final again after {ready}")]
    Recent {
        /// Source database.
        db: String,
        /// The newest point, RFC 3339.
        newest: String,
        /// `window.settle` as written by humantime.
        settle: String,
        /// When the newest point will be old enough, RFC 3339.
        ready: String,
    },
}

/// Points written per shard of `db`, as `SHOW STATS FOR 'shard'` reports them. Pure.
pub fn shard_writes(r: &StatementResult, db: &str) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for s in r.series.iter().filter(|s| s.name == "shard") {
        if s.tags.get("database").map(String::as_str) != Some(db) {
            continue;
        }
        let (Some(id), Some(col)) = (s.tags.get("id"), s.column("writePointsOk")) else {
            continue;
        };
        let n = s
            .values
            .first()
            .and_then(|row| row.get(col))
            .and_then(|v| v.as_u64())
            .unwrap_or(0);
        out.insert(id.clone(), n);
    }
    out
}

/// Points written between two samples of [`shard_writes`]: what each shard gained
/// (a shard new in `after` gained all of its points; one dropped by retention none).
/// Pure.
pub fn written_between(before: &BTreeMap<String, u64>, after: &BTreeMap<String, u64>) -> u64 {
    after
        .iter()
        .map(|(id, n)| n.saturating_sub(before.get(id).copied().unwrap_or(0)))
        .sum()
}

/// The newest-point sign: `Err` when `newest_ns` (exclusive end of the newest point)
/// is within `settle` of `now_ns`. Pure.
pub fn check_newest(
    db: &str,
    newest_ns: Option<i64>,
    settle: Duration,
    now_ns: i64,
) -> Result<(), StillWritten> {
    let Some(newest) = newest_ns else {
        return Ok(());
    };
    let settle_ns = i64::try_from(settle.as_nanos()).unwrap_or(i64::MAX);
    let ready = newest.saturating_add(settle_ns);
    if ready <= now_ns {
        return Ok(());
    }
    let second = crate::core::window::SECOND;
    Err(StillWritten::Recent {
        db: db.to_string(),
        newest: format_ns(newest - newest.rem_euclid(second)),
        settle: humantime::format_duration(settle).to_string(),
        ready: format_ns(ready - ready.rem_euclid(second) + second),
    })
}

/// Samples the shard counters of `db` twice, [`SAMPLE_GAP`] apart. `Ok(None)` when the
/// statistics cannot be read (no admin rights): the caller relies on the newest point
/// alone and says so.
pub async fn check_writes(client: &Client, db: &str) -> Result<Option<()>, StillWritten> {
    let sample = || async {
        match client.query(None, "SHOW STATS FOR 'shard'").await {
            Ok(r) => Some(shard_writes(&r, db)),
            Err(e) => {
                tracing::warn!(error = %e, "cannot read SHOW STATS (needs admin rights): the final run relies on the newest point's age alone");
                None
            }
        }
    };
    let Some(before) = sample().await else {
        return Ok(None);
    };
    tokio::time::sleep(SAMPLE_GAP).await;
    let Some(after) = sample().await else {
        return Ok(None);
    };
    match written_between(&before, &after) {
        0 => Ok(Some(())),
        points => Err(StillWritten::Writes {
            db: db.to_string(),
            points,
            secs: SAMPLE_GAP.as_secs(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(json: &str) -> StatementResult {
        serde_json::from_str(json).unwrap()
    }

    /// The counters of the source database's shards are read by shard id, other
    /// databases' ignored; what shards gained (new shards wholly, dropped ones not at
    /// all) is what was written in between.
    #[test]
    fn shard_counters_read_and_compared() {
        // As influxd 1.6.7 answers SHOW STATS FOR 'shard' (trimmed).
        let r = stats(
            r#"{"statement_id":0,"series":[
            {"name":"shard","tags":{"database":"monasca","id":"1","retentionPolicy":"autogen"},"columns":["diskBytes","writePointsOk","writeReq"],"values":[[72,2,1]]},
            {"name":"shard","tags":{"database":"monasca_a","id":"2","retentionPolicy":"autogen"},"columns":["diskBytes","writePointsOk","writeReq"],"values":[[72,900,1]]},
            {"name":"shard","tags":{"database":"monasca","id":"3","retentionPolicy":"autogen"},"columns":["writePointsOk"],"values":[[5]]}]}"#,
        );
        let before = shard_writes(&r, "monasca");
        assert_eq!(before, BTreeMap::from([("1".into(), 2), ("3".into(), 5)]));
        let after = BTreeMap::from([("1".into(), 2), ("4".into(), 7)]);
        assert_eq!(written_between(&before, &before), 0);
        assert_eq!(written_between(&before, &after), 7);
    }

    /// A newest point within the settle time refuses, naming when it will not; an
    /// older one, or none, passes.
    #[test]
    fn newest_point_within_settle_refuses() {
        let s = crate::core::window::SECOND;
        let settle = Duration::from_secs(900);
        let now = 1_700_000_000 * s;
        assert_eq!(check_newest("monasca", None, settle, now), Ok(()));
        assert_eq!(
            check_newest("monasca", Some(now - 900 * s), settle, now),
            Ok(())
        );
        let err = check_newest("monasca", Some(now - 60 * s + 1), settle, now).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("2023-11-14T22:12:20Z"), "{text}");
        assert!(text.contains("after 2023-11-14T22:27:21Z"), "{text}");
        assert!(text.contains("window.settle (15m)"), "{text}");
    }
}
