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
//! - [`progress`]: progress bar or periodic log line, with ETA.
//! - [`shutdown`]: SIGTERM/SIGINT into drain-then-abort stop levels.
//! - [`migration`]: the commands' shared path (discover, plan, run).
//! - [`report`]: run summary, plan and status rendering.
//! - [`logging`]: tracing to stderr and an optional daily-rolling file.
//! - [`legacy`]: the old Monasca tool's flags and persister.conf, as settings layers.

#![warn(missing_docs)]

pub mod catalog;
pub mod cli;
pub mod client;
pub mod config;
pub mod copy;
pub mod influxql;
pub mod interval;
pub mod ledger;
pub mod legacy;
pub mod lock;
pub mod logging;
pub mod migration;
pub mod plan;
pub mod progress;
pub mod report;
pub mod shutdown;
pub mod window;
