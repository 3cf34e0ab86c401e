//! The way back, pure: which databases a rollback reads (the tenant databases of the
//! shared one, by the ledger and by the naming rule, never another), and from when.
//!
//! A rollback copies what the persister wrote into the tenant databases after the
//! switch back into the shared database. The tenant databases are the forward run's
//! targets (the ledger knows them) and the ones the persister created afterwards for
//! new tenants, which only the naming rule finds: `{database}_{tenant}`
//! (`tenants.target_template`), the tenant percent-encoded as
//! [`target_database`] does, or as the persister writes it (unencoded).

use crate::plan::target::target_database;
use std::collections::BTreeMap;

/// What the ledger says of one forward target: the tenant whose points went there
/// and the end of the last window recorded for it (ns).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForwardTarget {
    /// Tenant id.
    pub tenant: String,
    /// First nanosecond after the latest recorded window, any measurement.
    pub recorded_until: i64,
}

/// One tenant database a rollback reads.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RollbackSource {
    /// The tenant database.
    pub database: String,
    /// Tenant ids whose target this name is (usually one; two when the name reads
    /// both as the persister's unencoded name and as a percent-encoded one).
    pub tenants: Vec<String>,
    /// Only points at or after this (ns) are copied back; `None`: all of them.
    pub since: Option<i64>,
    /// The forward run never wrote it: the persister created it after the switch.
    pub new: bool,
}

/// The tenant ids whose target database `name` is under `template` and the shared
/// database `shared`: the part `{tenant}` stands for, as it is and percent-decoded,
/// each kept only when naming it again gives `name`.
pub fn tenants_named(template: &str, shared: &str, name: &str) -> Vec<String> {
    let Some((head, tail)) = template.split_once("{tenant}") else {
        return Vec::new();
    };
    let head = target_database(head, shared, "");
    let tail = target_database(tail, shared, "");
    let Some(part) = name
        .strip_prefix(head.as_str())
        .and_then(|r| r.strip_suffix(tail.as_str()))
    else {
        return Vec::new();
    };
    if part.is_empty() || name == shared {
        return Vec::new();
    }
    let mut out = Vec::new();
    for t in [Some(part.to_string()), percent_decoded(part)]
        .into_iter()
        .flatten()
    {
        if target_database(template, shared, &t) == name && !out.contains(&t) {
            out.push(t);
        }
    }
    out
}

/// `s` with every `%XX` decoded, when that is valid UTF-8 and changes anything.
fn percent_decoded(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = b
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match (b[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(v)) => {
                out.push(v);
                i += 3;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    let decoded = String::from_utf8(out).ok()?;
    (decoded != s).then_some(decoded)
}

/// The databases a rollback reads, sorted by name: of `databases` (what the server
/// lists), those the ledger's forward runs wrote to (`forward`, by target database)
/// and those the naming rule makes a tenant database of `shared`. `since` (`--since`)
/// applies to all; without it a database the forward run wrote starts at the end of
/// its records less `settle_ns` (points the queue delivered late land there, and
/// copying a point twice changes nothing), and a new one is read whole.
pub fn sources(
    template: &str,
    shared: &str,
    databases: &[String],
    forward: &BTreeMap<String, ForwardTarget>,
    since: Option<i64>,
    settle_ns: i64,
) -> Vec<RollbackSource> {
    let mut out = Vec::new();
    for db in databases {
        if db == shared {
            continue;
        }
        let known = forward.get(db);
        let mut tenants = tenants_named(template, shared, db);
        if let Some(f) = known {
            if !tenants.contains(&f.tenant) {
                tenants.insert(0, f.tenant.clone());
            }
        }
        if tenants.is_empty() {
            continue;
        }
        let default = known.map(|f| f.recorded_until.saturating_sub(settle_ns));
        out.push(RollbackSource {
            database: db.clone(),
            tenants,
            since: since.or(default),
            new: known.is_none(),
        });
    }
    out.sort_by(|a, b| a.database.cmp(&b.database));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: &str = "{database}_{tenant}";

    /// The naming rule reads a tenant back from a tenant database name: plain, the
    /// tool's percent-encoding, and nothing for names outside the rule.
    #[test]
    fn tenants_read_back_from_names() {
        assert_eq!(tenants_named(T, "monasca", "monasca_abc"), vec!["abc"]);
        assert_eq!(
            tenants_named(T, "monasca", "monasca_a%2Fb"),
            vec!["a%2Fb", "a/b"]
        );
        assert_eq!(
            tenants_named(T, "monasca", "monasca_x%5Cy"),
            vec!["x%5Cy", "x\\y"]
        );
        assert_eq!(
            tenants_named(T, "monasca", "monasca_it's x"),
            vec!["it's x"]
        );
        assert!(tenants_named(T, "monasca", "monasca").is_empty());
        assert!(tenants_named(T, "monasca", "monasca_").is_empty());
        assert!(tenants_named(T, "monasca", "other_abc").is_empty());
        assert!(tenants_named(T, "monasca", "_internal").is_empty());
        assert!(tenants_named("{database}", "monasca", "monasca_abc").is_empty());
        assert_eq!(
            tenants_named("t-{tenant}-{database}", "mon", "t-ü-mon"),
            vec!["ü"]
        );
    }

    /// Known targets start at their records' end less the settle margin, new ones are
    /// read whole, `--since` overrides both, and other databases are not sources.
    #[test]
    fn sources_and_their_start() {
        let dbs: Vec<String> = ["monasca", "monasca_a", "monasca_new", "backup", "_internal"]
            .map(String::from)
            .to_vec();
        let mut fwd = BTreeMap::new();
        fwd.insert(
            "monasca_a".to_string(),
            ForwardTarget {
                tenant: "a".into(),
                recorded_until: 1_000,
            },
        );
        let s = sources(T, "monasca", &dbs, &fwd, None, 100);
        assert_eq!(
            s,
            vec![
                RollbackSource {
                    database: "monasca_a".into(),
                    tenants: vec!["a".into()],
                    since: Some(900),
                    new: false
                },
                RollbackSource {
                    database: "monasca_new".into(),
                    tenants: vec!["new".into()],
                    since: None,
                    new: true
                },
            ]
        );
        let s = sources(T, "monasca", &dbs, &fwd, Some(5), 100);
        assert!(s.iter().all(|r| r.since == Some(5)));
    }
}
