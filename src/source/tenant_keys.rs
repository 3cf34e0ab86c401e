//! Tenants per tenant tag: most measurements carry the tenant in `tenants.tag`, some
//! in their own (`tenants.tag_for`, e.g. monasca-persister's `alarm_state_history` in
//! `tenant_id`). One `SHOW TAG VALUES` per key finds the tenants of the measurements
//! of that key; a measurement none of whose points has its key is counted and listed.

use crate::config::TenantSettings;
use crate::influx::answer::StatementResult;
use crate::influx::client::Client;
use crate::influx::error::FailureClass;
use crate::influx::statement::{self as influxql, Rp};
use crate::plan::catalog::UntaggedMeasurement;
use crate::source::answers::{self, Tenants};
use crate::source::error::DiscoverError;
use crate::source::estimate::points_of;
use std::collections::{BTreeMap, BTreeSet};

/// What the tenant tags found.
#[derive(Debug, Default)]
pub struct Found {
    /// Tenants (selected with their measurements, and excluded).
    pub tenants: Tenants,
    /// Measurements whose key is not the default one: measurement -> key.
    pub keys: BTreeMap<String, String>,
    /// Measurements without a point carrying their key.
    pub untagged: Vec<UntaggedMeasurement>,
}

/// The measurements of `kept` by tenant tag key, the default key first in the map
/// only by its name (callers treat [`TenantSettings::tag`] specially).
pub fn by_key<'a>(
    kept: impl IntoIterator<Item = &'a String>,
    tenants: &'a TenantSettings,
) -> BTreeMap<&'a str, Vec<String>> {
    let mut out: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for m in kept {
        out.entry(tenants.tag_of(m)).or_default().push(m.clone());
    }
    out
}

/// Finds the tenants of every kept measurement by its key, and the measurements
/// without one (with their point counts).
pub async fn find(
    client: &Client,
    source: &Rp<'_>,
    kept: &BTreeSet<String>,
    tenants: &TenantSettings,
) -> Result<Found, DiscoverError> {
    let mut found = Found::default();
    for (key, ms) in by_key(kept, tenants) {
        // The default key is asked of the whole database: the usual case stays one
        // statement however many measurements there are.
        let q = if key == tenants.tag {
            influxql::show_tenants(source.db, key)
        } else {
            influxql::show_tenants_in(source.db, &ms, key)
        };
        let r = client.query(None, &q).await?;
        let ms: BTreeSet<String> = ms.into_iter().collect();
        let part = answers::tenants(&r, &ms, |id| tenants.selects(id)).map_err(|e| {
            DiscoverError::Shape {
                query: q,
                reason: e.to_string(),
            }
        })?;
        merge(&mut found.tenants, part);
        let tagged = tagged_measurements(&r);
        for m in &ms {
            if key != tenants.tag {
                found.keys.insert(m.clone(), key.to_string());
            }
            if !tagged.contains(m.as_str()) {
                let points = count(client, source, m).await?;
                found.untagged.push(UntaggedMeasurement {
                    measurement: m.clone(),
                    tag: key.to_string(),
                    points,
                });
            }
        }
    }
    Ok(found)
}

/// Measurements of a `SHOW TAG VALUES` answer with at least one value.
fn tagged_measurements(r: &StatementResult) -> BTreeSet<&str> {
    r.series
        .iter()
        .filter(|s| !s.values.is_empty())
        .map(|s| s.name.as_str())
        .collect()
}

/// Adds the tenants one key found to those of the others.
fn merge(into: &mut Tenants, part: Tenants) {
    for (id, ms) in part.selected {
        let all = into.selected.entry(id).or_default();
        all.extend(ms);
        all.sort();
        all.dedup();
    }
    into.excluded.extend(part.excluded);
    into.excluded.sort();
    into.excluded.dedup();
}

/// Points of an untagged measurement; `None` when the server's limits refuse the count.
async fn count(
    client: &Client,
    source: &Rp<'_>,
    measurement: &str,
) -> Result<Option<u64>, DiscoverError> {
    let q = influxql::count_points(source, measurement);
    match client.query(Some(source.db), &q).await {
        Ok(r) => Ok(Some(points_of(&r))),
        Err(e) if e.class() == FailureClass::TooBig => {
            tracing::warn!(measurement, error = %e, "cannot count the points of a measurement without tenant tag");
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> TenantSettings {
        TenantSettings {
            tag: "_tenant_id".into(),
            tag_for: BTreeMap::from([("alarm_state_history".into(), "tenant_id".into())]),
            target_template: "{database}_{tenant}".into(),
            include: vec![],
            exclude: vec![],
            grant_privileges: true,
        }
    }

    /// Measurements are grouped by their own key, the others under the default.
    #[test]
    fn groups_measurements_by_key() {
        let kept: Vec<String> = ["cpu", "alarm_state_history", "mem"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let s = settings();
        let got = by_key(&kept, &s);
        assert_eq!(got["_tenant_id"], vec!["cpu", "mem"]);
        assert_eq!(got["tenant_id"], vec!["alarm_state_history"]);
        assert_eq!(got.len(), 2);
    }

    /// A tenant found by two keys has the measurements of both, once each; excluded
    /// tenants are listed once.
    #[test]
    fn merges_tenants_of_several_keys() {
        let mut a = Tenants::default();
        a.selected.insert("t1".into(), vec!["cpu".into()]);
        a.excluded = vec!["x".into()];
        let mut b = Tenants::default();
        b.selected
            .insert("t1".into(), vec!["alarm_state_history".into()]);
        b.selected
            .insert("t2".into(), vec!["alarm_state_history".into()]);
        b.excluded = vec!["x".into()];
        merge(&mut a, b);
        assert_eq!(a.selected["t1"], vec!["alarm_state_history", "cpu"]);
        assert_eq!(a.selected["t2"], vec!["alarm_state_history"]);
        assert_eq!(a.excluded, vec!["x"]);
    }
}
