//! influx-tenant-migrate: split a multi-tenant InfluxDB 1.x database into one
//! database per tenant, server-side, in aligned time chunks recorded in a ledger, so
//! that any number of reruns is safe and picks up only what is new.
//!
//! # Layout
//!
//! - [`config`]: settings from defaults, TOML file, `ITM__*` environment and flags.
//! - [`cli`]: the command line (clap), mapped onto settings overrides.
//! - [`window`]: aligned week/day/hour windows and time formatting. Pure.
//! - [`interval`]: half-open intervals and interval sets. Pure.
//! - [`influxql`]: quoting and the text of every statement issued. Pure.
//! - [`client`]: HTTP to InfluxDB and the classification of its errors.
//! - [`catalog`]: discovery of tenants, measurements, fields, shards and targets.
//! - [`plan`]: the planner, `(Catalog, Settings, Coverage, now) -> Plan`. Pure.
//! - [`ledger`]: the success-marker file: parsing and coverage (pure), appending.
//! - [`lock`]: one run at a time per ledger.
//! - [`copy`]: the executor: concurrency, retries, splitting, ledger records.
//! - [`failures`]: the report of chunks that still failed, read back by reruns.
//! - [`progress`]: progress bar or periodic log line, with ETA.
//! - [`shutdown`]: SIGTERM/SIGINT into drain-then-abort stop levels.
//! - [`migration`]: the commands' shared path (discover, plan, run).
//! - [`report`]: run summary, plan and status rendering.
//! - [`logging`]: tracing to stderr and an optional daily-rolling file.
//! - [`verify`]: per-chunk counts and sums, source against target. Pure core.
//! - [`verification`]: the `verify` command and `run --verify`.
//! - [`schema`]: schema checks `plan` reports. Pure.
//! - [`estimate`]: `plan --estimate`: points per tenant and a rough duration.
//! - [`status`]: per-tenant done/verified/failed/open/pending for `status`.
//! - [`failures`]: the failure report file of the last run.
//! - [`run_report`]: per-tenant run figures, the JSON run report, output files.
//! - [`metrics`]: Prometheus text-format metrics for node_exporter.
//! - [`atomic`]: atomic file replacement.
//! - [`lineproto`]: line protocol encoding and point boundaries, as 1.6.7 parses it. Pure.
//! - [`chunked`]: reading a chunked `/query` response object by object.
//! - [`stream`]: cross-server copy (chunked read, `/write`), a bounded pipeline.
//! - [`archive`]: `export` to and `import` from gzip line-protocol files.
//! - [`transform`]: dropped tags and renamed measurements, streamed and server-side.
//! - [`legacy`]: the old Monasca tool's flags and persister.conf, as settings layers.

#![warn(missing_docs)]

pub mod archive;
pub mod atomic;
pub mod catalog;
pub mod chunked;
pub mod cli;
pub mod client;
pub mod config;
pub mod copy;
pub mod estimate;
pub mod failures;
pub mod influxql;
pub mod interval;
pub mod ledger;
pub mod legacy;
pub mod lineproto;
pub mod lock;
pub mod logging;
pub mod metrics;
pub mod migration;
pub mod plan;
pub mod progress;
pub mod report;
pub mod run_report;
pub mod schema;
pub mod shutdown;
pub mod status;
pub mod stream;
pub mod transform;
pub mod verification;
pub mod verify;
pub mod window;
