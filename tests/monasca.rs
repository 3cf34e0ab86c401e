//! A Monasca cutover against data written by monasca-persister's own InfluxDB
//! repositories (`common::persister`, the venv `scripts/old-tool-venv` builds): metrics
//! and alarm history of several tenants, including ids with quotes, spaces, backslashes,
//! commas and unicode.

mod common;

use common::persister::{self, Messages, PersisterOptions};
use common::*;
use testkit::{dump, InfluxServer};

/// Tenant ids as Keystone or operators make them, plus the characters line protocol and
/// InfluxQL must escape.
const ODD_TENANTS: &[&str] = &[
    "8f3c2a9e41b04d6f9d1e5a7b3c2d1e0f",
    "it's \"quoted\"",
    "with space, comma=eq",
    "back\\slash",
    "ünïcødé-租户",
];

/// Milliseconds since the epoch, `hours_ago` hours before now, on a whole minute.
fn ms_ago(hours_ago: i64) -> i64 {
    let now_ms = now_ns() / 1_000_000;
    (now_ms - hours_ago * 3_600_000) / 60_000 * 60_000
}

/// The harness writes through the persister's own repositories: every tenant's metrics
/// carry `_tenant_id` and `_region` tags, and its alarm history a `tenant_id` tag and a
/// `tenant_id` string field, with every point of the batch present (a backslash in a
/// tenant id doubled, as the persister's escaping leaves it).
#[test]
fn persister_harness_writes_monasca_shaped_points() {
    let server = InfluxServer::start().unwrap();
    server.create_database("monasca").unwrap();
    let messages = Messages::monasca(ODD_TENANTS, ms_ago(48), 600_000, 8);
    persister::write(&server, &messages, &PersisterOptions::default());
    let all = dump(&server, "monasca", None).unwrap();
    let history = all.measurement("alarm_state_history").unwrap();
    assert_eq!(history.field_types["tenant_id"], "string");
    for t in ODD_TENANTS {
        let stored = persister::stored_tenant(t);
        let metrics = dump(&server, "monasca", Some(("_tenant_id", &stored))).unwrap();
        assert_eq!(
            metrics.measurement("cpu.idle_perc").unwrap().points.len(),
            16
        );
        let p = &metrics.measurement("mem.free_mb").unwrap().points[0];
        assert_eq!(p.series.tags["_region"], "RegionOne");
        assert_eq!(p.series.tags["hostname"], "node-1");
        assert!(p.fields["value_meta"].as_str().unwrap().contains("sample"));
        // The tag as stored, the field as sent: string fields unescape backslashes.
        let points: Vec<_> = history
            .points
            .iter()
            .filter(|p| p.series.tags["tenant_id"] == stored)
            .collect();
        assert_eq!(points.len(), 2, "{all:?}");
        assert!(points.iter().all(|p| p.fields["tenant_id"] == *t));
    }
}
