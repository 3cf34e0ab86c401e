//! InfluxDB 1.x at the wire: statement text and quoting, line protocol, the HTTP
//! client with its error classes and TLS trust, chunked answers and their re-assembly
//! into complete ones, and the watchdog that notices a server gone silent
//! ([`liveness`]).

pub mod answer;
pub(crate) mod certificate;
pub mod chunked;
pub mod client;
pub mod complete;
pub mod endpoint;
pub mod error;
pub mod lineproto;
pub(crate) mod lines;
pub mod liveness;
pub mod multi;
pub mod refusal;
pub mod statement;
pub(crate) mod trust;
pub mod v2;
