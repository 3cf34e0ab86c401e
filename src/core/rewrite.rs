//! Optional changes made on the way to the target: tags dropped (for example the
//! now-redundant tenant tag) and measurements renamed by regex. Applied to points when
//! they are streamed (line-protocol encoding) and, server-side, by rewriting the
//! `SELECT INTO` statements.
//!
//! The ledger does not record transforms: coverage says which source points reached
//! which target database, whatever they were renamed to.

use std::borrow::Cow;
use std::collections::BTreeSet;

/// Tags to drop and measurement renames.
#[derive(Debug, Clone, Default)]
pub struct Rewrite {
    /// Tag keys left out of every point.
    pub drop_tags: BTreeSet<String>,
    /// `(regex, replacement)` measurement renames; the first rule that matches applies
    /// with [`regex::Regex::replace`] (its first match; `$1` for groups).
    pub renames: Vec<(regex::Regex, String)>,
}

impl Rewrite {
    /// The target name of a measurement.
    pub fn measurement<'a>(&self, name: &'a str) -> Cow<'a, str> {
        for (re, rep) in &self.renames {
            if re.is_match(name) {
                return re.replace(name, rep.as_str());
            }
        }
        Cow::Borrowed(name)
    }

    /// Whether nothing is changed at all.
    pub fn is_identity(&self) -> bool {
        self.drop_tags.is_empty() && self.renames.is_empty()
    }
}
