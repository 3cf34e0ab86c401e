//! InfluxDB 1.x at the wire: statement text and quoting, line protocol, the HTTP
//! client with its error classes and TLS trust, and chunked answers.

pub mod answer;
pub(crate) mod certificate;
pub mod chunked;
pub mod client;
pub mod error;
pub mod lineproto;
pub mod multi;
pub mod refusal;
pub mod statement;
pub(crate) mod trust;
