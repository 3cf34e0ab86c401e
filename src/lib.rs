//! influx-tenant-migrate: split a multi-tenant InfluxDB 1.x database into one
//! database per tenant, server-side, in aligned time chunks recorded in a ledger, so
//! that any number of reruns is safe and picks up only what is new.

#![warn(missing_docs)]

pub mod cli;
pub mod commands;
pub mod config;
pub mod copy;
pub mod core;
pub mod influx;
pub mod ledger;
pub mod logging;
pub mod plan;
pub mod report;
pub mod source;
pub mod verify;
