//! Integration tests of seeding, dumping and line-protocol escaping against a real `influxd`.

use serde_json::json;
use std::time::Duration;
use testkit::line::escape_measurement;
use testkit::{
    assert_same, dump, dump_filtered, quote_ident, quote_string, seed, DatasetSpec, DumpFilter,
    InfluxServer, Point, TenantSpec,
};

const NOW: i64 = 1_700_000_000_000_000_000;
const DAY: i64 = 86_400_000_000_000;

fn small_spec() -> DatasetSpec {
    let mut spec = DatasetSpec::monasca(
        &["alpha", "beta", "gamma"],
        2,
        Duration::from_secs(3600),
        NOW,
    );
    // beta starts 5 days late, gamma stops after 3 days.
    spec.tenants[1] = TenantSpec::new("beta").window(Some(spec.start_ns + 5 * DAY), None);
    spec.tenants[2] = TenantSpec::new("gamma").window(None, Some(spec.start_ns + 3 * DAY));
    spec
}

fn count_all(server: &InfluxServer, db: &str) -> i64 {
    let v = server
        .query(Some(db), "SELECT count(value) FROM /.*/")
        .unwrap();
    v["results"][0]["series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["values"][0][1].as_i64().unwrap())
        .sum()
}

/// seed() writes exactly spec.point_count() points, per tenant as the spec says, with the integer metric as integer.
#[test]
fn seeding_writes_expected_count() {
    let server = InfluxServer::start().unwrap();
    let spec = small_spec();
    let written = seed(&server, "monasca", &spec).unwrap();
    assert_eq!(written, spec.point_count());
    assert!(written > 5000, "more than one batch: {written}");
    assert_eq!(count_all(&server, "monasca") as u64, written);
    for t in ["alpha", "beta", "gamma"] {
        let d = dump(&server, "monasca", Some(("_tenant_id", t))).unwrap();
        assert_eq!(
            d.point_count() as u64,
            spec.tenant_point_count(t),
            "tenant {t}"
        );
        assert_eq!(d.measurements().len(), 5);
    }
    let d = dump(&server, "monasca", None).unwrap();
    assert_eq!(
        d.measurement("http_status").unwrap().field_types["value"],
        "integer"
    );
    assert_eq!(
        d.measurement("cpu.idle_perc").unwrap().field_types["value"],
        "float"
    );
    assert_eq!(
        d.measurement("cpu.idle_perc").unwrap().field_types["value_meta"],
        "string"
    );
    let tags = &d.measurement("disk.space_used_perc").unwrap().points[0]
        .series
        .tags;
    for k in ["_tenant_id", "_region", "hostname", "service", "device"] {
        assert!(tags.contains_key(k), "{tags:?}");
    }
    // Seeding again is idempotent: same series and timestamps.
    seed(&server, "monasca", &spec).unwrap();
    assert_eq!(count_all(&server, "monasca") as u64, written);
}

/// A dump equals itself and a fresh dump, and differs (with a readable diff) after one point is deleted.
#[test]
fn dump_equals_itself_and_differs_after_delete() {
    let server = InfluxServer::start().unwrap();
    let spec = DatasetSpec::monasca(&["t1", "t2"], 1, Duration::from_secs(4 * 3600), NOW);
    seed(&server, "monasca", &spec).unwrap();
    let a = dump(&server, "monasca", None).unwrap();
    let b = dump(&server, "monasca", None).unwrap();
    assert_eq!(a, a.clone());
    assert_same(&a, &b);
    assert!(a.diff(&b).is_empty());

    let victim = a.measurement("mem.free_mb").unwrap().points[7].clone();
    let q = format!(
        "DELETE FROM {} WHERE {} = {} AND {} = {} AND time = {}",
        quote_ident("mem.free_mb"),
        quote_ident("_tenant_id"),
        quote_string(&victim.series.tags["_tenant_id"]),
        quote_ident("hostname"),
        quote_string(&victim.series.tags["hostname"]),
        victim.time_ns
    );
    server.query(Some("monasca"), &q).unwrap();
    let c = dump(&server, "monasca", None).unwrap();
    assert_ne!(a, c);
    assert_eq!(c.point_count() + 1, a.point_count());
    let diff = a.diff(&c);
    assert_eq!(diff.len(), 2, "{diff:#?}");
    assert!(
        diff[1].contains(&format!("@ {} only in left", victim.time_ns)),
        "{diff:#?}"
    );
}

/// A per-measurement SELECT INTO ... GROUP BY * copy of one tenant dumps equal to the
/// source filtered on that tenant; a multi-source copy turns the integer field into float
/// (InfluxDB issue 9887) and the dump comparison catches it.
#[test]
fn dump_proves_exact_copy_and_catches_type_change() {
    let server = InfluxServer::start().unwrap();
    let spec = DatasetSpec::monasca(&["t1", "t2"], 1, Duration::from_secs(3600), NOW);
    seed(&server, "monasca", &spec).unwrap();
    let source = dump(&server, "monasca", Some(("_tenant_id", "t1"))).unwrap();
    server.create_database("exact").unwrap();
    server.create_database("batched").unwrap();
    let measurements = source.measurements();
    for m in &measurements {
        let q = format!(
            "SELECT * INTO \"exact\".\"autogen\".:MEASUREMENT FROM \"monasca\".\"autogen\".{} WHERE \"_tenant_id\" = 't1' GROUP BY *",
            quote_ident(m)
        );
        server.query(None, &q).unwrap();
    }
    assert_same(&source, &dump(&server, "exact", None).unwrap());

    let from: Vec<String> = measurements
        .iter()
        .map(|m| format!("\"monasca\".\"autogen\".{}", quote_ident(m)))
        .collect();
    let q = format!(
        "SELECT * INTO \"batched\".\"autogen\".:MEASUREMENT FROM {} WHERE \"_tenant_id\" = 't1' GROUP BY *",
        from.join(",")
    );
    server.query(None, &q).unwrap();
    let batched = dump(&server, "batched", None).unwrap();
    assert_eq!(batched.point_count(), source.point_count());
    let diff = source.diff(&batched);
    assert_eq!(diff.len(), 2, "{diff:#?}");
    assert!(
        diff[1].contains("\"http_status\": field types differ"),
        "{diff:#?}"
    );
    assert!(
        diff[1].contains("\"integer\"") && diff[1].contains("\"float\""),
        "{diff:#?}"
    );
}

/// Hostile measurement names, tag keys, tag values and string fields (quotes, backslashes,
/// spaces, commas, `=`, unicode, a newline in a string) round-trip exactly through a real
/// server; names 1.6 cannot store faithfully are refused by the encoder instead.
#[test]
fn hostile_names_round_trip() {
    let server = InfluxServer::start().unwrap();
    let db = "we\"ird db, ü";
    server.create_database(db).unwrap();
    let names = [
        "plain",
        "with space",
        "com,ma",
        "eq=ual",
        "dq\"uote",
        "sq'uote",
        "back\\slash",
        "two\\\\backslashes",
        "日本語 ünï",
        " leading space",
        "mixed \"a\",b=c 'd' \\e",
    ];
    let tag_values = [
        "plain",
        "with space",
        "com,ma",
        "eq=ual",
        "dq\"uote",
        "sq'uote",
        "back\\slash",
        "slash before comma\\,x",
        "slash before space\\ x",
        "slash before eq\\=x",
        "日本語",
        "=leading",
        ",leading",
    ];
    let string_values = [
        "",
        "\"quoted\"",
        "back\\slash\\",
        "multi\nline",
        "{\"k\": \"v\\\\w\"}",
        "ü'",
    ];
    let mut points = Vec::new();
    for (i, m) in names.iter().enumerate() {
        for (j, tv) in tag_values.iter().enumerate() {
            let p = Point::new(*m)
                .tag("tag key, =\"x\"\\y", *tv)
                .tag("_tenant_id", *tv)
                .field("value", (i * 100 + j) as f64)
                .field("n", (i * 100 + j) as i64)
                .field("value_meta", string_values[(i + j) % string_values.len()])
                .field("ok", j % 2 == 0)
                .time(NOW + (i * 100 + j) as i64);
            points.push(p);
        }
    }
    let body: Vec<String> = points.iter().map(|p| p.to_line().unwrap()).collect();
    server.write_lines(db, &body.join("\n")).unwrap();

    let mut expected_measurements: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    expected_measurements.sort();
    assert_eq!(server.measurements(db).unwrap(), expected_measurements);

    let d = dump(&server, db, None).unwrap();
    assert_eq!(d.point_count(), points.len());
    for p in &points {
        let m = d
            .measurement(&p.measurement)
            .unwrap_or_else(|| panic!("{:?} missing", p.measurement));
        let tv = &p.tags[0].1;
        let got = m
            .points
            .iter()
            .find(|q| q.time_ns == p.time_ns)
            .unwrap_or_else(|| panic!("{} @ {} missing", p.measurement, p.time_ns));
        assert_eq!(got.series.tags["tag key, =\"x\"\\y"], *tv);
        assert_eq!(got.series.tags["_tenant_id"], *tv);
        let testkit::FieldValue::Str(s) = &p.fields[2].1 else {
            unreachable!()
        };
        assert_eq!(got.fields["value_meta"], json!(s));
        assert_eq!(m.field_types["n"], "integer");
        assert_eq!(m.field_types["value"], "float");
        assert_eq!(m.field_types["ok"], "boolean");
    }
    // A WHERE on each hostile tag value finds exactly its points.
    for tv in tag_values {
        let d = dump(&server, db, Some(("_tenant_id", tv))).unwrap();
        assert_eq!(d.point_count(), names.len(), "tag value {tv:?}");
        let f = DumpFilter {
            tag: Some(("tag key, =\"x\"\\y".into(), tv.into())),
            retention_policy: Some("autogen".into()),
            ..DumpFilter::default()
        };
        assert_eq!(
            dump_filtered(&server, db, &f).unwrap().point_count(),
            names.len()
        );
    }
    // Names InfluxDB 1.6 would mangle are refused up front.
    for bad in [
        "a\\,b",
        "a\\ b",
        "a\\=b",
        "a\\\"b",
        "ends\\",
        "#comment",
        "new\nline",
    ] {
        assert!(escape_measurement(bad).is_err(), "{bad:?}");
    }
    assert!(Point::new("m")
        .tag("t", "ends\\")
        .field("v", 1.0)
        .to_line()
        .is_err());
}

/// dump_filtered() restricts by time range, and a missing database is an error.
#[test]
fn dump_filters_by_time_and_requires_database() {
    let server = InfluxServer::start().unwrap();
    let spec = DatasetSpec::monasca(&["t1"], 1, Duration::from_secs(3600), NOW);
    seed(&server, "monasca", &spec).unwrap();
    let all = dump(&server, "monasca", None).unwrap();
    let cut = spec.start_ns + 2 * DAY;
    let f = DumpFilter {
        start_ns: Some(cut),
        ..DumpFilter::default()
    };
    let late = dump_filtered(&server, "monasca", &f).unwrap();
    let expected = all
        .measurements
        .values()
        .flat_map(|m| &m.points)
        .filter(|p| p.time_ns >= cut)
        .count();
    assert_eq!(late.point_count(), expected);
    assert!(late.point_count() < all.point_count());
    assert!(dump(&server, "missing", None).is_err());
}
