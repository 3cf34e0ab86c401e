//! Readers of the answers discovery gets: one per statement, from a
//! [`StatementResult`] to plain values, without a server. Columns are found by name,
//! never by position, and extra columns are ignored, because later 1.x servers add and
//! reorder them. Their tests use answers shaped exactly as InfluxDB 1.6.7 returns
//! them, and as 1.8 to 1.12 do according to their source and changelog.

use crate::core::field::{FieldType, FieldTypes};
use crate::core::interval::{Interval, IntervalSet};
use crate::influx::answer::{Series, StatementResult};
use crate::plan::catalog::{Privilege, RetentionPolicy};
use regex::Regex;
use std::collections::{BTreeMap, BTreeSet};

/// Why an answer cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AnswerError {
    /// A series lacks a column the statement always returns.
    #[error("no {column} column in series {series:?}")]
    MissingColumn {
        /// The series' name.
        series: String,
        /// The column looked for.
        column: &'static str,
    },
}

fn str_col<'a>(s: &'a Series, row: &'a [serde_json::Value], col: &str) -> Option<&'a str> {
    row.get(s.column(col)?)?.as_str()
}

/// The text in column `col` of every row of every series: the names that
/// `SHOW DATABASES` and `SHOW MEASUREMENTS` list. A series without that column but
/// with only one is read from that one.
fn column_text(r: &StatementResult, col: &str) -> Vec<String> {
    r.series
        .iter()
        .flat_map(|s| {
            let i = s.column(col).or((s.columns.len() == 1).then_some(0));
            s.values
                .iter()
                .filter_map(move |row| row.get(i?)?.as_str().map(str::to_string))
        })
        .collect()
}

/// Database names from `SHOW DATABASES`.
pub fn databases(r: &StatementResult) -> Vec<String> {
    column_text(r, "name")
}

/// Policies from `SHOW RETENTION POLICIES ON "db"`. A duration that does not parse
/// reads as 0 (infinite), a missing default flag as not the default.
pub fn retention_policies(r: &StatementResult) -> Vec<RetentionPolicy> {
    let mut out = Vec::new();
    for s in &r.series {
        for row in &s.values {
            let duration = str_col(s, row, "duration").unwrap_or("0s");
            let shard = str_col(s, row, "shardGroupDuration").unwrap_or("0s");
            out.push(RetentionPolicy {
                shard_group_ns: parse_go_duration(shard).unwrap_or(0),
                name: str_col(s, row, "name").unwrap_or_default().to_string(),
                duration_ns: parse_go_duration(duration).unwrap_or(0),
                default: s
                    .column("default")
                    .and_then(|i| row.get(i))
                    .and_then(|v| v.as_bool())
                    .unwrap_or(false),
            });
        }
    }
    out
}

/// Non-admin users from `SHOW USERS` (columns `user`, `admin`).
pub fn non_admin_users(r: &StatementResult) -> Vec<String> {
    let mut out = Vec::new();
    for s in &r.series {
        for row in &s.values {
            let admin = s
                .column("admin")
                .and_then(|i| row.get(i))
                .and_then(|v| v.as_bool())
                .unwrap_or(false);
            if let (Some(user), false) = (str_col(s, row, "user"), admin) {
                out.push(user.to_string());
            }
        }
    }
    out
}

/// The privilege `SHOW GRANTS FOR "user"` lists on database `db` (columns `database`,
/// `privilege`); `None` when it lists none (or `NO PRIVILEGES`).
pub fn privilege_on(r: &StatementResult, db: &str) -> Option<Privilege> {
    r.series.iter().find_map(|s| {
        s.values.iter().find_map(|row| {
            (str_col(s, row, "database") == Some(db))
                .then(|| str_col(s, row, "privilege").and_then(Privilege::from_shown))
                .flatten()
        })
    })
}

/// Parses Go's `time.Duration` text as InfluxDB prints it (`336h0m0s`, `0s`).
pub fn parse_go_duration(s: &str) -> Option<i64> {
    let mut total: i64 = 0;
    let mut num = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() || c == '.' {
            num.push(c);
            continue;
        }
        let unit = match c {
            'h' => 3_600_000_000_000.0,
            'm' if chars.peek() == Some(&'s') => {
                chars.next();
                1_000_000.0
            }
            'm' => 60_000_000_000.0,
            's' => 1_000_000_000.0,
            'u' | 'µ' if chars.peek() == Some(&'s') => {
                chars.next();
                1_000.0
            }
            'n' if chars.peek() == Some(&'s') => {
                chars.next();
                1.0
            }
            _ => return None,
        };
        let v: f64 = num.parse().ok()?;
        total = total.checked_add((v * unit) as i64)?;
        num.clear();
    }
    num.is_empty().then_some(total)
}

/// The measurements of `SHOW MEASUREMENTS ON "db"`, split by the skip rules.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Measurements {
    /// Measurements no skip rule matches.
    pub kept: BTreeSet<String>,
    /// Measurements some skip rule matches, in the server's order.
    pub skipped: Vec<String>,
}

/// Reads `SHOW MEASUREMENTS ON "db"`, leaving out those any of `skip` matches.
pub fn measurements(r: &StatementResult, skip: &[Regex]) -> Measurements {
    let mut out = Measurements::default();
    for name in column_text(r, "name") {
        if skip.iter().any(|re| re.is_match(&name)) {
            out.skipped.push(name);
        } else {
            out.kept.insert(name);
        }
    }
    out
}

/// The tenants of `SHOW TAG VALUES ON "db" WITH KEY = "tag"`, split by the tenant
/// selection.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tenants {
    /// Selected tenants with their measurements, in the server's order.
    pub selected: BTreeMap<String, Vec<String>>,
    /// Tenants found but not selected, sorted.
    pub excluded: Vec<String>,
}

/// Reads `SHOW TAG VALUES ON "db" WITH KEY = "tag"` (one series per measurement, a
/// row per tenant id) into measurements per tenant, counting only the measurements in
/// `kept` and splitting the tenants by `selects`.
pub fn tenants(
    r: &StatementResult,
    kept: &BTreeSet<String>,
    selects: impl Fn(&str) -> bool,
) -> Result<Tenants, AnswerError> {
    let mut by_tenant: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for s in r.series.iter().filter(|s| kept.contains(&s.name)) {
        let vi = s
            .column("value")
            .ok_or_else(|| AnswerError::MissingColumn {
                series: s.name.clone(),
                column: "value",
            })?;
        for row in &s.values {
            if let Some(t) = row.get(vi).and_then(|v| v.as_str()) {
                by_tenant
                    .entry(t.to_string())
                    .or_default()
                    .push(s.name.clone());
            }
        }
    }
    let mut out = Tenants::default();
    for (id, ms) in by_tenant {
        if selects(&id) {
            out.selected.insert(id, ms);
        } else {
            out.excluded.push(id);
        }
    }
    Ok(out)
}

/// Reads `SHOW FIELD KEYS ON "db"` into field types per measurement; series without
/// the `fieldKey` and `fieldType` columns are left out.
pub fn field_types(r: &StatementResult) -> FieldTypes {
    let mut out = FieldTypes::new();
    for s in &r.series {
        let (Some(k), Some(t)) = (s.column("fieldKey"), s.column("fieldType")) else {
            continue;
        };
        let m = out.entry(s.name.clone()).or_default();
        for row in &s.values {
            if let (Some(k), Some(t)) = (
                row.get(k).and_then(|v| v.as_str()),
                row.get(t).and_then(|v| v.as_str()),
            ) {
                m.entry(k.to_string())
                    .or_default()
                    .insert(FieldType(t.to_string()));
            }
        }
    }
    out
}

/// Reads `SHOW TAG KEYS ON "db"` into tag keys per measurement.
pub fn tag_keys(r: &StatementResult) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for s in &r.series {
        let keys = out.entry(s.name.clone()).or_default();
        let Some(i) = s.column("tagKey").or((s.columns.len() == 1).then_some(0)) else {
            continue;
        };
        keys.extend(
            s.values
                .iter()
                .filter_map(|row| row.get(i)?.as_str().map(str::to_string)),
        );
    }
    out
}

/// Reads `SHOW SHARDS` into the merged time ranges of database `db`'s shard groups in
/// policy `rp`; other databases and policies are left out.
pub fn shard_ranges(r: &StatementResult, db: &str, rp: &str) -> Vec<Interval> {
    let mut set = IntervalSet::new();
    for i in shard_intervals(r, db, rp) {
        set.insert(i);
    }
    set.parts().to_vec()
}

/// Reads `SHOW SHARDS` into the time range of each shard of database `db` in policy
/// `rp`, unmerged, in the server's order.
pub fn shard_intervals(r: &StatementResult, db: &str, rp: &str) -> Vec<Interval> {
    let mut out = Vec::new();
    for s in r.series.iter().filter(|s| s.name == db) {
        for row in &s.values {
            if str_col(s, row, "retention_policy") != Some(rp) {
                continue;
            }
            // 1.x prints shard times as RFC 3339 text whatever the epoch asked for;
            // numbers are read too in case a server answers in the asked epoch.
            let time = |c: &str| -> Option<i64> {
                let v = row.get(s.column(c)?)?;
                if let Some(n) = v.as_i64() {
                    return Some(n);
                }
                crate::core::window::parse_time_ns(v.as_str()?).ok()
            };
            if let (Some(a), Some(b)) = (time("start_time"), time("end_time")) {
                out.push(Interval::new(a, b));
            }
        }
    }
    out
}

/// Reads the answer of a first- (or last-) point query (`SELECT * ... ORDER BY time
/// LIMIT 1` over several measurements, asked with `epoch=ns`) into the time of the
/// point per measurement; measurements without points have no series.
pub fn point_times(r: &StatementResult) -> BTreeMap<String, i64> {
    r.series
        .iter()
        .filter_map(|s| {
            let i = s.column("time")?;
            Some((s.name.clone(), s.values.first()?.get(i)?.as_i64()?))
        })
        .collect()
}

/// Per measurement, `[first point, last point + 1ns)` from the times of the first
/// and the last points; a measurement missing from either has no extent.
pub fn extents(
    first: &BTreeMap<String, i64>,
    last: &BTreeMap<String, i64>,
) -> BTreeMap<String, Interval> {
    first
        .iter()
        .filter_map(|(m, &f)| {
            let l = last.get(m)?;
            Some((m.clone(), Interval::new(f, l.saturating_add(1))))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::window::parse_time_ns;

    fn answer(json: &str) -> StatementResult {
        serde_json::from_str(json).unwrap()
    }

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    /// SHOW DATABASES lists every database name, in the server's order.
    #[test]
    fn databases_are_listed() {
        let r = answer(
            r#"{"statement_id":0,"series":[{"name":"databases","columns":["name"],"values":[["_internal"],["monasca"],["other"]]}]}"#,
        );
        assert_eq!(databases(&r), names(&["_internal", "monasca", "other"]));
        assert!(databases(&answer(r#"{"statement_id":0}"#)).is_empty());
    }

    /// SHOW RETENTION POLICIES (a series without a name) gives each policy's name,
    /// duration in nanoseconds (0s = infinite) and default flag.
    #[test]
    fn retention_policies_are_read() {
        let r = answer(
            r#"{"statement_id":0,"series":[{"columns":["name","duration","shardGroupDuration","replicaN","default"],"values":[["autogen","0s","168h0m0s",1,true],["two_weeks","336h0m0s","24h0m0s",1,false]]}]}"#,
        );
        assert_eq!(
            retention_policies(&r),
            vec![
                RetentionPolicy {
                    name: "autogen".into(),
                    duration_ns: 0,
                    default: true,
                    shard_group_ns: 168 * 3_600_000_000_000,
                },
                RetentionPolicy {
                    name: "two_weeks".into(),
                    duration_ns: 336 * 3_600_000_000_000,
                    default: false,
                    shard_group_ns: 24 * 3_600_000_000_000,
                },
            ]
        );
    }

    /// Admins are left out of the users; a user's privilege is the one listed on the
    /// database asked for, and none when that is `NO PRIVILEGES` or not listed.
    #[test]
    fn users_and_grants_are_read() {
        let users = answer(
            r#"{"statement_id":0,"series":[{"columns":["user","admin"],"values":[["admin",true],["mon_api",false],["nobody",false]]}]}"#,
        );
        assert_eq!(non_admin_users(&users), vec!["mon_api", "nobody"]);
        let grants = answer(
            r#"{"statement_id":0,"series":[{"columns":["database","privilege"],"values":[["other","WRITE"],["monasca","ALL PRIVILEGES"],["x","NO PRIVILEGES"]]}]}"#,
        );
        assert_eq!(privilege_on(&grants, "monasca"), Some(Privilege::All));
        assert_eq!(privilege_on(&grants, "other"), Some(Privilege::Write));
        assert_eq!(privilege_on(&grants, "x"), None);
        assert_eq!(privilege_on(&grants, "absent"), None);
        assert_eq!(
            privilege_on(&answer(r#"{"statement_id":0}"#), "monasca"),
            None
        );
    }

    /// Go duration text from SHOW RETENTION POLICIES parses to nanoseconds.
    #[test]
    fn go_durations() {
        assert_eq!(parse_go_duration("0s"), Some(0));
        assert_eq!(parse_go_duration("336h0m0s"), Some(336 * 3_600_000_000_000));
        assert_eq!(parse_go_duration("1h30m0s"), Some(5_400_000_000_000));
        assert_eq!(parse_go_duration("500ms"), Some(500_000_000));
        assert_eq!(parse_go_duration("x"), None);
    }

    /// SHOW MEASUREMENTS names matching a skip rule are skipped, the rest kept.
    #[test]
    fn measurements_split_by_skip_rules() {
        let r = answer(
            r#"{"statement_id":0,"series":[{"name":"measurements","columns":["name"],"values":[["cpu.idle_perc"],["log.other"],["mem.free_mb"]]}]}"#,
        );
        let got = measurements(&r, &[Regex::new("^log\\.").unwrap()]);
        assert_eq!(
            got.kept,
            BTreeSet::from(["cpu.idle_perc".to_string(), "mem.free_mb".to_string()])
        );
        assert_eq!(got.skipped, names(&["log.other"]));
    }

    const TAG_VALUES: &str = r#"{"statement_id":0,"series":[{"name":"cpu.idle_perc","columns":["key","value"],"values":[["_tenant_id","t1"],["_tenant_id","t2"]]},{"name":"log.other","columns":["key","value"],"values":[["_tenant_id","t3"]]},{"name":"mem.free_mb","columns":["key","value"],"values":[["_tenant_id","t2"]]}]}"#;

    /// SHOW TAG VALUES groups measurements per tenant, counting only kept
    /// measurements (so a tenant only in skipped ones is not found at all).
    #[test]
    fn tenants_grouped_over_kept_measurements() {
        let kept = BTreeSet::from(["cpu.idle_perc".to_string(), "mem.free_mb".to_string()]);
        let got = tenants(&answer(TAG_VALUES), &kept, |_| true).unwrap();
        assert_eq!(
            got.selected,
            BTreeMap::from([
                ("t1".to_string(), names(&["cpu.idle_perc"])),
                ("t2".to_string(), names(&["cpu.idle_perc", "mem.free_mb"])),
            ])
        );
        assert!(got.excluded.is_empty());
    }

    /// Tenants the selection rejects are listed as excluded, not selected.
    #[test]
    fn tenants_split_by_selection() {
        let kept = BTreeSet::from([
            "cpu.idle_perc".to_string(),
            "log.other".to_string(),
            "mem.free_mb".to_string(),
        ]);
        let got = tenants(&answer(TAG_VALUES), &kept, |id| id != "t2").unwrap();
        assert_eq!(got.selected.keys().collect::<Vec<_>>(), vec!["t1", "t3"]);
        assert_eq!(got.excluded, names(&["t2"]));
    }

    /// A kept measurement's series without a value column is an error naming it.
    #[test]
    fn tenants_without_value_column_fail() {
        let r = answer(
            r#"{"statement_id":0,"series":[{"name":"cpu","columns":["key"],"values":[["_tenant_id"]]}]}"#,
        );
        let kept = BTreeSet::from(["cpu".to_string()]);
        assert_eq!(
            tenants(&r, &kept, |_| true),
            Err(AnswerError::MissingColumn {
                series: "cpu".into(),
                column: "value",
            })
        );
        assert!(tenants(&answer(r#"{"statement_id":0}"#), &kept, |_| true)
            .unwrap()
            .selected
            .is_empty());
    }

    /// SHOW FIELD KEYS gives each measurement's fields with their types.
    #[test]
    fn field_types_are_read() {
        let r = answer(
            r#"{"statement_id":0,"series":[{"name":"cpu.idle_perc","columns":["fieldKey","fieldType"],"values":[["value","float"],["value_meta","string"]]},{"name":"mem.free_mb","columns":["fieldKey","fieldType"],"values":[["value","integer"]]}]}"#,
        );
        let got = field_types(&r);
        let ty =
            |m: &str, f: &str| -> Vec<String> { got[m][f].iter().map(|t| t.0.clone()).collect() };
        assert_eq!(got.len(), 2);
        assert_eq!(ty("cpu.idle_perc", "value"), names(&["float"]));
        assert_eq!(ty("cpu.idle_perc", "value_meta"), names(&["string"]));
        assert_eq!(ty("mem.free_mb", "value"), names(&["integer"]));
    }

    /// A field listed twice with different types (shards disagree) keeps both types.
    #[test]
    fn field_type_conflicts_are_kept() {
        let r = answer(
            r#"{"statement_id":0,"series":[{"name":"cpu","columns":["fieldKey","fieldType"],"values":[["value","float"],["value","integer"]]}]}"#,
        );
        assert_eq!(field_types(&r)["cpu"]["value"].len(), 2);
    }

    /// SHOW TAG KEYS gives each measurement's tag keys.
    #[test]
    fn tag_keys_are_read() {
        let r = answer(
            r#"{"statement_id":0,"series":[{"name":"cpu.idle_perc","columns":["tagKey"],"values":[["_tenant_id"],["hostname"]]},{"name":"mem.free_mb","columns":["tagKey"],"values":[["_tenant_id"]]}]}"#,
        );
        let got = tag_keys(&r);
        assert_eq!(
            got["cpu.idle_perc"],
            BTreeSet::from(["_tenant_id".to_string(), "hostname".to_string()])
        );
        assert_eq!(
            got["mem.free_mb"],
            BTreeSet::from(["_tenant_id".to_string()])
        );
    }

    /// SHOW SHARDS rows of other databases and policies are ignored; touching groups merge.
    #[test]
    fn shard_ranges_filter_and_merge() {
        let r: StatementResult = serde_json::from_str(
            r#"{"statement_id":0,"series":[
              {"name":"monasca","columns":["id","database","retention_policy","shard_group","start_time","end_time","expiry_time","owners"],
               "values":[[1,"monasca","autogen",1,"2024-01-01T00:00:00Z","2024-01-08T00:00:00Z","2024-01-08T00:00:00Z",""],
                         [2,"monasca","autogen",2,"2024-01-08T00:00:00Z","2024-01-15T00:00:00Z","2024-01-15T00:00:00Z",""],
                         [3,"monasca","other",3,"2023-01-08T00:00:00Z","2023-01-15T00:00:00Z","2023-01-15T00:00:00Z",""]]},
              {"name":"_internal","columns":["id","database","retention_policy","shard_group","start_time","end_time","expiry_time","owners"],
               "values":[[4,"_internal","monitor",4,"2020-01-01T00:00:00Z","2020-01-02T00:00:00Z","2020-01-02T00:00:00Z",""]]}]}"#,
        )
        .unwrap();
        let got = shard_ranges(&r, "monasca", "autogen");
        let a = parse_time_ns("2024-01-01T00:00:00Z").unwrap();
        let b = parse_time_ns("2024-01-15T00:00:00Z").unwrap();
        assert_eq!(got, vec![Interval::new(a, b)]);
    }

    /// Shard groups with a gap between them stay two ranges; a database without
    /// shards has none.
    #[test]
    fn shard_ranges_keep_gaps() {
        let r = answer(
            r#"{"statement_id":0,"series":[{"name":"monasca","columns":["id","database","retention_policy","shard_group","start_time","end_time","expiry_time","owners"],"values":[[1,"monasca","autogen",1,"2024-01-01T00:00:00Z","2024-01-08T00:00:00Z","2024-01-08T00:00:00Z",""],[5,"monasca","autogen",5,"2024-02-05T00:00:00Z","2024-02-12T00:00:00Z","2024-02-12T00:00:00Z",""]]}]}"#,
        );
        let t = |s: &str| parse_time_ns(s).unwrap();
        assert_eq!(
            shard_ranges(&r, "monasca", "autogen"),
            vec![
                Interval::new(t("2024-01-01T00:00:00Z"), t("2024-01-08T00:00:00Z")),
                Interval::new(t("2024-02-05T00:00:00Z"), t("2024-02-12T00:00:00Z")),
            ]
        );
        assert!(shard_ranges(&r, "other", "autogen").is_empty());
    }

    /// A first- or last-point answer gives the point's time per measurement that has
    /// points; measurements without points have no series and no time.
    #[test]
    fn point_times_per_measurement() {
        let r = answer(
            r#"{"statement_id":0,"series":[{"name":"cpu.idle_perc","columns":["time","_tenant_id","hostname","value","value_meta"],"values":[[1704153600000000000,"t2","h2",2,null]]},{"name":"mem.free_mb","columns":["time","_tenant_id","hostname","value","value_meta"],"values":[[1704067200000000000,"t2",null,10,null]]}]}"#,
        );
        assert_eq!(
            point_times(&r),
            BTreeMap::from([
                ("cpu.idle_perc".to_string(), 1_704_153_600_000_000_000),
                ("mem.free_mb".to_string(), 1_704_067_200_000_000_000),
            ])
        );
        assert!(point_times(&answer(r#"{"statement_id":0}"#)).is_empty());
    }

    /// Extents run from the first point to just after the last; a measurement with
    /// only one of the two times has none.
    #[test]
    fn extents_from_first_and_last() {
        let first = BTreeMap::from([("a".to_string(), 10), ("b".to_string(), 5)]);
        let last = BTreeMap::from([("a".to_string(), 20), ("c".to_string(), 7)]);
        assert_eq!(
            extents(&first, &last),
            BTreeMap::from([("a".to_string(), Interval::new(10, 21))])
        );
        let max = BTreeMap::from([("a".to_string(), i64::MAX)]);
        assert_eq!(extents(&max, &max)["a"], Interval::new(i64::MAX, i64::MAX));
    }

    // Answers of later 1.x servers, written from their source (coordinator/
    // statement_executor.go of the 1.8, 1.10, 1.11 and 1.12 branches) and changelog.

    /// 1.10+ prints an empty `expiry_time` for shards of infinite policies
    /// (influxdb#21794); only start and end times are read, so nothing changes.
    #[test]
    fn shards_with_empty_expiry_1_10() {
        let r = answer(
            r#"{"statement_id":0,"series":[{"name":"monasca","columns":["id","database","retention_policy","shard_group","start_time","end_time","expiry_time","owners"],"values":[[3,"monasca","autogen",2,"2021-06-28T00:00:00Z","2021-07-05T00:00:00Z","",""],[4,"monasca","autogen",3,"2021-07-05T00:00:00Z","2021-07-12T00:00:00Z","",""]]}]}"#,
        );
        let t = |s: &str| parse_time_ns(s).unwrap();
        assert_eq!(
            shard_ranges(&r, "monasca", "autogen"),
            vec![Interval::new(
                t("2021-06-28T00:00:00Z"),
                t("2021-07-12T00:00:00Z")
            )]
        );
    }

    /// SHOW SHARDS columns in another order, with one more column, read the same; a
    /// row whose times are empty or missing is left out rather than misread.
    #[test]
    fn shards_by_column_name() {
        let r = answer(
            r#"{"statement_id":0,"series":[{"name":"monasca","columns":["owners","end_time","expiry_time","start_time","retention_policy","database","id","shard_group","size"],"values":[["","2024-01-08T00:00:00Z","","2024-01-01T00:00:00Z","autogen","monasca",1,1,123],["","","","","autogen","monasca",2,2,0]]}]}"#,
        );
        let t = |s: &str| parse_time_ns(s).unwrap();
        assert_eq!(
            shard_ranges(&r, "monasca", "autogen"),
            vec![Interval::new(
                t("2024-01-01T00:00:00Z"),
                t("2024-01-08T00:00:00Z")
            )]
        );
    }

    /// 1.12 adds `futureWriteLimit` and `pastWriteLimit` before `default` in SHOW
    /// RETENTION POLICIES: the default flag is still found.
    #[test]
    fn retention_policies_with_write_limits_1_12() {
        let r = answer(
            r#"{"statement_id":0,"series":[{"columns":["name","duration","shardGroupDuration","replicaN","futureWriteLimit","pastWriteLimit","default"],"values":[["autogen","0s","168h0m0s",1,"0s","0s",false],["two_weeks","336h0m0s","24h0m0s",1,"1h0m0s","0s",true]]}]}"#,
        );
        let got = retention_policies(&r);
        assert_eq!(got.len(), 2);
        assert!(!got[0].default);
        assert_eq!(got[1].name, "two_weeks");
        assert_eq!(got[1].duration_ns, 336 * 3_600_000_000_000);
        assert!(got[1].default);
    }

    /// SHOW MEASUREMENTS with the 1.8+ database and policy columns, and SHOW
    /// DATABASES, are read by the `name` column wherever it stands.
    #[test]
    fn names_by_column_name() {
        let r = answer(
            r#"{"statement_id":0,"series":[{"name":"measurements","columns":["database","retention policy","name"],"values":[["monasca","autogen","cpu.idle_perc"],["monasca","autogen","mem.free_mb"]]}]}"#,
        );
        assert_eq!(
            measurements(&r, &[]).kept,
            BTreeSet::from(["cpu.idle_perc".to_string(), "mem.free_mb".to_string()])
        );
        let r = answer(
            r#"{"statement_id":0,"series":[{"name":"databases","columns":["id","name"],"values":[[1,"_internal"],[2,"monasca"]]}]}"#,
        );
        assert_eq!(databases(&r), names(&["_internal", "monasca"]));
    }

    /// SHOW TAG KEYS, FIELD KEYS and TAG VALUES with extra or reordered columns read
    /// by name.
    #[test]
    fn keys_and_values_by_column_name() {
        let r = answer(
            r#"{"statement_id":0,"series":[{"name":"cpu","columns":["count","tagKey"],"values":[[3,"_tenant_id"],[1,"hostname"]]}]}"#,
        );
        assert_eq!(
            tag_keys(&r)["cpu"],
            BTreeSet::from(["_tenant_id".to_string(), "hostname".to_string()])
        );
        let r = answer(
            r#"{"statement_id":0,"series":[{"name":"cpu","columns":["fieldType","fieldKey"],"values":[["float","value"]]}]}"#,
        );
        assert_eq!(field_types(&r)["cpu"]["value"].len(), 1);
        let r = answer(
            r#"{"statement_id":0,"series":[{"name":"cpu","columns":["value","key"],"values":[["t1","_tenant_id"]]}]}"#,
        );
        let kept = BTreeSet::from(["cpu".to_string()]);
        let got = tenants(&r, &kept, |_| true).unwrap();
        assert_eq!(got.selected.keys().collect::<Vec<_>>(), vec!["t1"]);
    }

    /// A first-point answer whose `time` is not the first column reads the same.
    #[test]
    fn point_times_by_column_name() {
        let r = answer(
            r#"{"statement_id":0,"series":[{"name":"cpu","columns":["_tenant_id","time","value"],"values":[["t1",1704067200000000000,1.5]]}]}"#,
        );
        assert_eq!(point_times(&r)["cpu"], 1_704_067_200_000_000_000);
    }
}
