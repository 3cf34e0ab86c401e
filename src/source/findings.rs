//! Schema checks `plan` reports before anything is copied. Pure: a [`Catalog`] in,
//! findings out, each saying what a run will do about it.

use crate::plan::catalog::Catalog;
use serde::Serialize;
use std::collections::BTreeSet;

/// Something about the source a user should know before copying.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "check", rename_all = "snake_case")]
pub enum Finding {
    /// A field has different types in different shards (`SHOW FIELD KEYS` lists it
    /// once per type).
    FieldTypeConflict {
        /// Measurement.
        measurement: String,
        /// Field key.
        field: String,
        /// The types, sorted.
        types: Vec<String>,
    },
    /// A name is both a tag key and a field key of a measurement.
    TagFieldClash {
        /// Measurement.
        measurement: String,
        /// The shared name.
        name: String,
    },
    /// The skip rules leave a measurement out.
    MeasurementSkipped {
        /// Measurement.
        measurement: String,
    },
    /// A tenant was found but the include/exclude rules leave it out.
    TenantExcluded {
        /// Tenant id.
        tenant: String,
    },
    /// A measurement that is not skipped has no point of any migrated tenant (only
    /// excluded tenants): nothing of it is copied.
    NoMigratedTenant {
        /// Measurement.
        measurement: String,
    },
    /// No point of a measurement carries its tenant tag: nothing of it is copied.
    NoTenantTag {
        /// Measurement.
        measurement: String,
        /// The tag looked for.
        tag: String,
        /// Its points (largest field count), when the server counted them.
        points: Option<u64>,
    },
}

impl Finding {
    /// One line saying what was found and what a run does about it.
    pub fn describe(&self) -> String {
        match self {
            Finding::FieldTypeConflict {
                measurement,
                field,
                types,
            } => format!(
                "field {field:?} of {measurement:?} has types {} in different shards: the measurement is copied in queries of its own; a chunk whose window reads shards of both types writes every value as float (InfluxDB casts integers up), a chunk reading one type keeps it, so the target can hold the same conflict",
                types.join(" and ")
            ),
            Finding::TagFieldClash { measurement, name } => format!(
                "{name:?} is both a tag and a field of {measurement:?}: SELECT * without GROUP BY returns the tag as \"{name}_1\"; the copy uses GROUP BY *, which keeps the tag a tag and the field a field (checked on 1.6.7, docs/INFLUXDB-NOTES.md g), and the measurement is never batched with one that has {name:?} as the other kind. Queries on the target that name {name:?} must say ::tag or ::field"
            ),
            Finding::MeasurementSkipped { measurement } => {
                format!("measurement {measurement:?} matches measurements.skip: not copied")
            }
            Finding::TenantExcluded { tenant } => {
                format!("tenant {tenant:?} is excluded by tenants.include/exclude: not copied")
            }
            Finding::NoMigratedTenant { measurement } => format!(
                "measurement {measurement:?} has no point of a migrated tenant (only excluded tenants): nothing of it is copied"
            ),
            Finding::NoTenantTag {
                measurement,
                tag,
                points,
            } => format!(
                "measurement {measurement:?} has no point with tenant tag {tag:?} ({}): nothing of it is copied; if its tenant is in another tag, give --tenant-tag-for {measurement}=KEY",
                points_text(*points)
            ),
        }
    }

    /// Whether a run may lose or change data because of it (the others are choices
    /// the user made).
    pub fn is_warning(&self) -> bool {
        matches!(
            self,
            Finding::FieldTypeConflict { .. }
                | Finding::NoMigratedTenant { .. }
                | Finding::NoTenantTag { .. }
        )
    }
}

/// A point count as text, `points not counted` when there is none.
pub fn points_text(points: Option<u64>) -> String {
    match points {
        Some(n) => format!("{n} points"),
        None => "points not counted: the server's limits refused".to_string(),
    }
}

/// Every finding about the catalog, conflicts and clashes first.
pub fn check(catalog: &Catalog) -> Vec<Finding> {
    let mut out = Vec::new();
    for (m, fields) in &catalog.fields {
        for (f, types) in fields {
            if types.len() > 1 {
                out.push(Finding::FieldTypeConflict {
                    measurement: m.clone(),
                    field: f.clone(),
                    types: types.iter().map(|t| t.0.clone()).collect(),
                });
            }
        }
        if let Some(tags) = catalog.tag_keys.get(m) {
            for name in fields.keys().filter(|f| tags.contains(*f)) {
                out.push(Finding::TagFieldClash {
                    measurement: m.clone(),
                    name: name.clone(),
                });
            }
        }
    }
    let skipped: BTreeSet<&String> = catalog.skipped_measurements.iter().collect();
    let migrated: BTreeSet<&String> = catalog
        .tenants
        .iter()
        .flat_map(|t| t.measurements.keys())
        .collect();
    let untagged: BTreeSet<&String> = catalog.untagged.iter().map(|u| &u.measurement).collect();
    out.extend(catalog.untagged.iter().map(|u| Finding::NoTenantTag {
        measurement: u.measurement.clone(),
        tag: u.tag.clone(),
        points: u.points,
    }));
    for m in catalog.fields.keys() {
        if !skipped.contains(m) && !migrated.contains(m) && !untagged.contains(m) {
            out.push(Finding::NoMigratedTenant {
                measurement: m.clone(),
            });
        }
    }
    out.extend(
        catalog
            .skipped_measurements
            .iter()
            .map(|m| Finding::MeasurementSkipped {
                measurement: m.clone(),
            }),
    );
    out.extend(
        catalog
            .excluded_tenants
            .iter()
            .map(|t| Finding::TenantExcluded { tenant: t.clone() }),
    );
    out
}

/// The findings as text lines for `plan`.
pub fn render(findings: &[Finding]) -> String {
    let mut s = String::new();
    if findings.is_empty() {
        s.push_str("schema checks: nothing to report\n");
        return s;
    }
    s.push_str("schema checks:\n");
    for f in findings {
        s.push_str(if f.is_warning() {
            "  warning: "
        } else {
            "  note: "
        });
        s.push_str(&f.describe());
        s.push('\n');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::field::FieldType;
    use crate::core::interval::Interval;
    use crate::plan::catalog::TenantData;
    use std::collections::BTreeMap;

    fn catalog() -> Catalog {
        let mut c = Catalog::default();
        let mut field = |m: &str, f: &str, ts: &[&str]| {
            c.fields.entry(m.into()).or_default().insert(
                f.into(),
                ts.iter().map(|t| FieldType(t.to_string())).collect(),
            );
        };
        field("cpu", "value", &["float"]);
        field("mixed", "value", &["float", "integer"]);
        field("clash", "host", &["string"]);
        field("clash", "value", &["float"]);
        field("log.x", "msg", &["string"]);
        field("orphan", "value", &["float"]);
        c.tag_keys.insert(
            "clash".into(),
            BTreeSet::from(["host".to_string(), "_tenant_id".to_string()]),
        );
        c.tag_keys
            .insert("cpu".into(), BTreeSet::from(["value_meta".to_string()]));
        c.skipped_measurements = vec!["log.x".into()];
        c.excluded_tenants = vec!["ops".into()];
        field("alarm_state_history", "tenant_id", &["string"]);
        c.untagged = vec![crate::plan::catalog::UntaggedMeasurement {
            measurement: "alarm_state_history".into(),
            tag: "tenant_id".into(),
            points: Some(7),
        }];
        c.tenants = vec![TenantData {
            id: "t1".into(),
            measurements: ["cpu", "mixed", "clash"]
                .iter()
                .map(|m| (m.to_string(), Interval::new(0, 1)))
                .collect::<BTreeMap<_, _>>(),
        }];
        c
    }

    /// Each kind of finding is reported once, for the right measurement or tenant, and
    /// nothing is reported about a clean measurement.
    #[test]
    fn finds_each_kind() {
        let got = check(&catalog());
        assert_eq!(
            got,
            vec![
                Finding::TagFieldClash {
                    measurement: "clash".into(),
                    name: "host".into()
                },
                Finding::FieldTypeConflict {
                    measurement: "mixed".into(),
                    field: "value".into(),
                    types: vec!["float".into(), "integer".into()]
                },
                Finding::NoTenantTag {
                    measurement: "alarm_state_history".into(),
                    tag: "tenant_id".into(),
                    points: Some(7)
                },
                Finding::NoMigratedTenant {
                    measurement: "orphan".into()
                },
                Finding::MeasurementSkipped {
                    measurement: "log.x".into()
                },
                Finding::TenantExcluded {
                    tenant: "ops".into()
                },
            ]
        );
        assert!(check(&Catalog::default()).is_empty());
    }

    /// The text says what happens: the clash is copied exactly with GROUP BY *, the
    /// conflict may turn integers into floats; JSON names the kind of check.
    #[test]
    fn descriptions_and_json() {
        let got = check(&catalog());
        let text = render(&got);
        assert!(text.contains("GROUP BY *"), "{text}");
        assert!(text.contains("\"host_1\""), "{text}");
        assert!(
            text.contains("warning: field \"value\" of \"mixed\" has types float and integer"),
            "{text}"
        );
        let j = serde_json::to_value(&got[1]).unwrap();
        assert_eq!(j["check"], "field_type_conflict");
        assert_eq!(j["types"][1], "integer");
        assert!(
            text.contains("warning: measurement \"alarm_state_history\" has no point with tenant tag \"tenant_id\" (7 points)"),
            "{text}"
        );
        assert_eq!(render(&[]), "schema checks: nothing to report\n");
    }
}
