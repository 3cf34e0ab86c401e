//! Which recorded chunks `verify` checks. Pure.

use crate::config::TenantSettings;
use crate::ledger::{self, Record, RecordKind};
use std::collections::HashSet;

/// What `verify` looks at: copies from this source database into one target server
/// (the source itself for server-side copies, or `target.url`), of the tenants the
/// rules keep.
#[derive(Debug, Clone, Copy)]
pub struct Selection<'a> {
    /// Source server URL, as the ledger names it.
    pub source_url: &'a str,
    /// Source database.
    pub source_db: &'a str,
    /// Target server URL as the ledger names it: empty for the source server.
    pub target_url: &'a str,
    /// Tenant include/exclude rules.
    pub tenants: &'a TenantSettings,
    /// Check every recorded chunk again, not only those not yet verified.
    pub all: bool,
}

/// The copied records to check: `Copied` lines in the selection, each chunk once,
/// without those already verified unless `all`. Returns them and how many `Copied`
/// lines were out of scope.
pub fn select<'r>(records: &'r [Record], sel: &Selection<'_>) -> (Vec<&'r Record>, u64) {
    let verified = ledger::verified_keys(records);
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    let mut out_of_scope = 0;
    for r in records.iter().filter(|r| r.kind == RecordKind::Copied) {
        if r.scope.source != sel.source_url
            || r.scope.source_db != sel.source_db
            || r.scope.target_url != sel.target_url
            || !sel.tenants.selects(&r.scope.tenant)
        {
            out_of_scope += 1;
            continue;
        }
        let key = r.chunk_key();
        if (!sel.all && verified.contains(&key)) || !seen.insert(key) {
            continue;
        }
        out.push(r);
    }
    (out, out_of_scope)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::window::TimeUnit;
    use crate::ledger::SourceRef;

    fn record(kind: RecordKind, url: &str, target_url: &str, tenant: &str, start: i64) -> Record {
        let source = SourceRef {
            url,
            db: "monasca",
            rp: "autogen",
        };
        Record {
            kind,
            scope: source.scope(target_url, &format!("monasca_{tenant}"), "autogen", tenant),
            measurements: vec!["cpu".into()],
            start,
            end: start + 10,
            unit: TimeUnit::Week,
            split: false,
            points: 1,
            at: String::new(),
        }
    }

    /// Copies of other sources, streamed copies and excluded tenants are out of scope;
    /// a chunk recorded twice is checked once; verified chunks only with `all`.
    #[test]
    fn selects_unverified_server_side_copies_once() {
        let s = crate::config::load_with_env(
            None,
            vec![("tenants.exclude", vec!["^x$".to_string()].into())],
            Some(Default::default()),
        )
        .unwrap();
        let src = "http://src";
        let records = vec![
            record(RecordKind::Copied, src, "", "a", 0),
            record(RecordKind::Copied, src, "", "a", 0),
            record(RecordKind::Copied, src, "", "a", 10),
            record(RecordKind::Verified, src, "", "a", 10),
            record(RecordKind::Copied, "http://other", "", "a", 20),
            record(RecordKind::Copied, src, "http://target", "a", 30),
            record(RecordKind::Copied, src, "", "x", 40),
        ];
        let mut sel = Selection {
            source_url: src,
            source_db: "monasca",
            target_url: "",
            tenants: &s.tenants,
            all: false,
        };
        let (chosen, out) = select(&records, &sel);
        assert_eq!(chosen.iter().map(|r| r.start).collect::<Vec<_>>(), [0]);
        assert_eq!(out, 3);
        sel.all = true;
        let (chosen, _) = select(&records, &sel);
        assert_eq!(chosen.iter().map(|r| r.start).collect::<Vec<_>>(), [0, 10]);
    }
}
