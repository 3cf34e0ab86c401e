//! Field types, as `SHOW FIELD KEYS` names them, per measurement: the one map that
//! discovery fills and batching, line-protocol encoding and verification read.

use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// An InfluxDB field type as `SHOW FIELD KEYS` names it (`float`, `integer`,
/// `string`, `boolean`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct FieldType(pub String);

/// Field types per measurement and field key; a field listed with two types has a
/// conflict (different shards hold it with different types).
pub type FieldTypes = BTreeMap<String, BTreeMap<String, BTreeSet<FieldType>>>;
