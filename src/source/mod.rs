//! The source server: discovery into a catalog (statements in `discover`, their
//! answers read in `answers`; tenants per tenant tag key in `tenant_keys`), schema
//! findings, estimates, the late-point check, whether the source still receives
//! writes (`writes`, for a final run).

pub mod answers;
pub mod buckets;
pub mod density;
pub mod discover;
pub mod error;
pub mod estimate;
pub mod findings;
pub mod late;
pub mod limits;
pub mod tenant_keys;
pub mod writes;
