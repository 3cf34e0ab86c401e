//! Which recorded chunks `verify` checks. Pure.

use crate::config::Settings;
use crate::ledger::{self, Record, RecordKind};
use std::collections::HashSet;

/// The copied records to check: `Copied` lines of this source, copied server-side (a
/// streamed or exported copy lives elsewhere: out of scope), of tenants the
/// include/exclude rules keep, each chunk once, without those already verified unless
/// `all`. Returns them and how many `Copied` lines were out of scope. Pure.
pub fn select<'r>(records: &'r [Record], settings: &Settings, all: bool) -> (Vec<&'r Record>, u64) {
    let verified = ledger::verified_keys(records);
    let t = &settings.tenants;
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    let mut out_of_scope = 0;
    for r in records.iter().filter(|r| r.kind == RecordKind::Copied) {
        let tenant = &r.scope.tenant;
        let kept = t.selects(tenant);
        if r.scope.source != settings.source.url
            || r.scope.source_db != settings.source.database
            || !r.scope.target_url.is_empty()
            || !kept
        {
            out_of_scope += 1;
            continue;
        }
        let key = r.chunk_key();
        if (!all && verified.contains(&key)) || !seen.insert(key) {
            continue;
        }
        out.push(r);
    }
    (out, out_of_scope)
}
