//! Test support for `influx-tenant-migrate`.
//!
//! Everything here is synchronous: tests are plain `#[test]` functions that
//! start a private, throwaway `influxd` ([`InfluxServer`]), fill it with
//! Monasca-shaped data ([`seed()`]), run the tool's binary with
//! `std::process::Command`, and compare databases exactly ([`dump()`]).
//!
//! ```no_run
//! use std::time::Duration;
//! use testkit::{dump, seed, DatasetSpec, InfluxServer};
//!
//! let server = InfluxServer::start().unwrap();
//! let spec = DatasetSpec::monasca(&["t1", "t2"], 2, Duration::from_secs(3600), 1_700_000_000_000_000_000);
//! let written = seed(&server, "monasca", &spec).unwrap();
//! assert_eq!(written, spec.point_count());
//! let d = dump(&server, "monasca", Some(("_tenant_id", "t1"))).unwrap();
//! assert_eq!(d.point_count() as u64, spec.tenant_point_count("t1"));
//! ```
#![warn(missing_docs)]

pub mod compare;
pub mod line;
pub mod quote;
pub mod seed;
pub mod server;
pub mod server2;

pub use compare::{
    assert_same, dump, dump_filtered, Dump, DumpFilter, DumpPoint, MeasurementDump, SeriesKey,
};
pub use line::{FieldValue, Point};
pub use quote::{quote_ident, quote_string};
pub use seed::{lines, seed, try_lines, DatasetSpec, Lines, MetricSpec, TenantSpec, ValueKind};
pub use server::{InfluxQl, InfluxServer, RetentionPolicyInfo, ServerOptions, INDEX_ENV};
pub use server2::{find_influxd2, BucketInfo, DbrpInfo, Influx2Server, INFLUXD2_ENV};
