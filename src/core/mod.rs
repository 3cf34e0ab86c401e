//! The pure core: values and arithmetic every other layer builds on. Nothing here
//! does I/O or knows about InfluxDB's wire format.

pub mod clock;
pub mod field;
pub mod interval;
pub mod rewrite;
pub mod secret;
pub mod text;
pub mod window;
