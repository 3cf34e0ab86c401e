//! InfluxDB 1.x at the wire: statement text and quoting, line protocol, the HTTP
//! client with its error classes, chunked answers and their re-assembly into
//! complete ones.

pub mod answer;
pub mod chunked;
pub mod client;
pub mod complete;
pub mod error;
pub mod lineproto;
pub mod statement;
