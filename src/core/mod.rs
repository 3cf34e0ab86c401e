//! The pure core: values and arithmetic every other layer builds on. Nothing here
//! does I/O or knows about InfluxDB's wire format.

pub mod clock;
pub(crate) mod field;
pub(crate) mod interval;
pub(crate) mod rewrite;
pub(crate) mod secret;
pub(crate) mod text;
pub mod window;
