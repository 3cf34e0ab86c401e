//! Which measurements one `SELECT INTO` may copy together.

use crate::core::field::{FieldType, FieldTypes};
use std::collections::{BTreeMap, BTreeSet};

/// Fields and tags of one measurement, for batching.
struct Schema<'a> {
    fields: Option<&'a BTreeMap<String, BTreeSet<FieldType>>>,
    tags: Option<&'a BTreeSet<String>>,
}

#[derive(Default)]
struct Group<'a> {
    /// Tenant tag key of its measurements (`None`: the default one).
    key: Option<&'a str>,
    measurements: Vec<String>,
    fields: BTreeMap<String, FieldType>,
    tags: BTreeSet<String>,
    sealed: bool,
}

impl Group<'_> {
    /// A measurement fits when every field name it shares with the batch has the same
    /// single type (InfluxDB issue 9887: a multi-source SELECT INTO writes an integer
    /// field as float when another source has a float of that name) and no name is a
    /// tag on one side and a field on the other (`SELECT *` would read the tag as a
    /// field).
    fn fits(&self, s: &Schema<'_>, max: usize) -> bool {
        if self.sealed || self.measurements.len() >= max {
            return false;
        }
        let fields = s.fields.into_iter().flatten();
        for (name, types) in fields {
            let mut it = types.iter();
            let (Some(ty), None) = (it.next(), it.next()) else {
                return false;
            };
            if self.fields.get(name).is_some_and(|t| t != ty) || self.tags.contains(name) {
                return false;
            }
        }
        let tags = s.tags.into_iter().flatten();
        for t in tags {
            if self.fields.contains_key(t) {
                return false;
            }
        }
        true
    }

    fn add(&mut self, m: &str, s: &Schema<'_>) {
        self.measurements.push(m.to_string());
        for (name, types) in s.fields.into_iter().flatten() {
            if types.len() == 1 {
                self.fields.insert(
                    name.clone(),
                    types.iter().next().cloned().expect("one type"),
                );
            } else {
                // A field with conflicting types is copied alone.
                self.sealed = true;
            }
        }
        self.tags.extend(s.tags.into_iter().flatten().cloned());
    }
}

/// Groups measurements into type-safe batches of at most `max`; measurements whose
/// tenant is in different tags (`tenant_keys`: measurement -> key, absent for the
/// default key) never share a batch, as one statement filters by one tag.
pub fn batches(
    measurements: &[String],
    fields: &FieldTypes,
    tag_keys: &BTreeMap<String, BTreeSet<String>>,
    tenant_keys: &BTreeMap<String, String>,
    max: usize,
) -> Vec<Vec<String>> {
    let mut out: Vec<Group> = Vec::new();
    for m in measurements {
        let s = Schema {
            fields: fields.get(m),
            tags: tag_keys.get(m),
        };
        let key = tenant_keys.get(m).map(String::as_str);
        match out.iter_mut().find(|b| b.key == key && b.fits(&s, max)) {
            Some(b) => b.add(m, &s),
            None => {
                let mut b = Group {
                    key,
                    ..Group::default()
                };
                b.add(m, &s);
                out.push(b);
            }
        }
    }
    // Every chunk of the batch holds its list: no spare capacity at thousands of chunks.
    out.into_iter()
        .map(|b| {
            let mut ms = b.measurements;
            ms.shrink_to_fit();
            ms
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Measurements whose shared field names disagree on type go in separate queries;
    /// a measurement with a field of two types is copied alone; so is one whose field
    /// name is another's tag.
    #[test]
    fn batching_respects_types() {
        let mut fields = FieldTypes::new();
        let mut tag_keys: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        let ty = |t: &str| BTreeSet::from([FieldType(t.into())]);
        let mut set = |m: &str, f: &str, t: BTreeSet<FieldType>| {
            fields.entry(m.into()).or_default().insert(f.into(), t);
        };
        set("a", "value", ty("float"));
        set("b", "value", ty("integer"));
        set("c", "value", ty("float"));
        set(
            "d",
            "value",
            [FieldType("float".into()), FieldType("integer".into())].into(),
        );
        set("e", "value", ty("float"));
        set("f", "host", ty("string"));
        tag_keys.insert("e".into(), BTreeSet::from(["host".to_string()]));
        let ms: Vec<String> = ["a", "b", "c", "d", "e", "f"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let none = BTreeMap::new();
        let got = batches(&ms, &fields, &tag_keys, &none, 100);
        assert_eq!(got, vec![vec!["a", "c", "e"], vec!["b", "f"], vec!["d"]]);
        assert_eq!(batches(&ms, &fields, &tag_keys, &none, 1).len(), 6);
    }

    /// Measurements that would batch by their schemas are split when their tenant is
    /// in different tags; those sharing a non-default key batch together.
    #[test]
    fn batching_respects_tenant_keys() {
        let fields = FieldTypes::new();
        let tag_keys = BTreeMap::new();
        let keys = BTreeMap::from([
            ("alarms".to_string(), "tenant_id".to_string()),
            ("events".to_string(), "tenant_id".to_string()),
        ]);
        let ms: Vec<String> = ["a", "alarms", "b", "events"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let got = batches(&ms, &fields, &tag_keys, &keys, 100);
        assert_eq!(got, vec![vec!["a", "b"], vec!["alarms", "events"]]);
        let got = batches(&ms, &fields, &tag_keys, &BTreeMap::new(), 100);
        assert_eq!(got, vec![vec!["a", "alarms", "b", "events"]]);
    }
}
