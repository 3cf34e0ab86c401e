//! InfluxDB 1.x at the wire: statement text and quoting, line protocol, the HTTP
//! client with its error classes, and chunked answers.

pub mod answer;
pub mod chunked;
pub mod client;
pub mod error;
pub mod lineproto;
pub mod multi;
pub mod statement;
