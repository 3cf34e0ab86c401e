//! influx-tenant-migrate: split a multi-tenant InfluxDB 1.x database into one
//! database per tenant, server-side, in aligned time chunks recorded in a ledger, so
//! that any number of reruns is safe and picks up only what is new.
//!
//! # Layout
//!
//! Folders by layer, bottom to top; a module names only its own layer or lower ones
//! (`tests/architecture.rs` checks it; `docs/ARCHITECTURE.md` draws it).
//!
//! - [`core`]: pure values: intervals, aligned windows and time text, the clock, field
//!   types, secrets, rewrites, text tables.
//! - [`influx`]: InfluxDB at the wire: statement text and quoting, line protocol, the
//!   HTTP client and its error classes, TLS trust (a CA file or a pinned self-signed
//!   server certificate) and TLS refusals in words, answers, chunked answers, complete
//!   (every answer asked chunked and re-assembled; one still marked partial is an error),
//!   endpoint (a server's address and login, and the HTTP client built from them),
//!   liveness (the watchdog that finds a server gone silent while requests wait).
//! - [`config`]: settings from defaults, persister.conf, TOML, `ITM__*` and flags,
//!   validated once.
//! - [`ledger`]: the success-marker file (records, coverage, parsing, appending), the
//!   run lock, atomic files; read in one streaming pass (`ledger/line.rs`: a flat
//!   borrowed line; `ledger/intern.rs`: scopes and measurement lists numbered;
//!   `ledger/fold.rs`: coverage or per-tenant progress without keeping records).
//! - [`plan`]: the catalog's values, target naming, batching, the pure planner and
//!   chunk sizing from sampled rates (`plan/sizing.rs`), the pure half of the
//!   late-point check (`plan/late.rs`).
//! - [`source`]: discovery of the source (pure parsers and the statements that feed
//!   them; tenants per tenant tag key), schema findings, estimates, point-rate samples
//!   (`source/density.rs`), the server's limits (`source/limits.rs`) and the late-point
//!   counts (`source/late.rs`).
//! - [`copy`]: the executor (retries, splits, ledger records) and its transfers:
//!   server-side `SELECT INTO`, streaming to another server, export/import files.
//! - [`verify`]: counts and sums per chunk, source against target; the checks of
//!   chunks copied about the same time share requests (`verify/batch.rs`).
//! - [`report`]: run summary, plan and status views, the run report, metrics, the
//!   failure report, JSON streamed to stdout (`json`).
//! - [`commands`]: one file per subcommand over one shared pipeline.
//! - [`cli`]: the command line, flags per command.
//! - [`logging`]: tracing to stderr and an optional daily-rolling file.
//!
//! `main.rs` parses, loads settings, starts logging and the runtime, dispatches to
//! [`commands`] and maps the result to an exit code.

#![warn(missing_docs)]

pub mod cli;
pub mod commands;
pub mod config;
pub mod copy;
pub mod core;
pub(crate) mod influx;
pub(crate) mod ledger;
pub mod logging;
pub mod plan;
pub(crate) mod report;
pub(crate) mod source;
pub(crate) mod verify;
