//! Flags as setting overrides: the values given on the command line, keyed by the
//! setting they override, in the form the settings loader layers over file and
//! environment.

use crate::config::Override;
use std::path::PathBuf;

/// A set of flags that override settings.
pub trait SettingFlags {
    /// Adds an override for every flag of the set that was given.
    fn add_to(&self, out: &mut Overrides);
}

/// The overrides collected from the flags that were given; flags left out add nothing,
/// so the file, the environment or the default decides.
#[derive(Debug, Default)]
pub struct Overrides(Vec<Override>);

impl Overrides {
    /// `key` = the text, when given.
    pub fn text(&mut self, key: &'static str, value: &Option<String>) {
        if let Some(v) = value {
            self.0.push((key, v.clone().into()));
        }
    }

    /// `key` = the path, when given.
    pub fn path(&mut self, key: &'static str, value: &Option<PathBuf>) {
        let text = value.as_ref().map(|p| p.display().to_string());
        self.text(key, &text);
    }

    /// `key` = the list, when the flag was given at least once.
    pub fn list(&mut self, key: &'static str, values: &[String]) {
        if !values.is_empty() {
            self.0.push((key, values.to_vec().into()));
        }
    }

    /// `key` = true, when the switch was given (a switch cannot turn a setting off).
    pub fn switch(&mut self, key: &'static str, on: bool) {
        if on {
            self.0.push((key, true.into()));
        }
    }

    /// `key` = false, when the switch was given (a `--no-...` flag).
    pub fn switch_off(&mut self, key: &'static str, off: bool) {
        if off {
            self.0.push((key, false.into()));
        }
    }

    /// `key` = the number, when given.
    pub fn number(&mut self, key: &'static str, value: Option<u64>) {
        if let Some(n) = value {
            self.0.push((key, n.into()));
        }
    }

    /// Adds the overrides of a set of flags.
    pub fn add(&mut self, flags: &impl SettingFlags) -> &mut Self {
        flags.add_to(self);
        self
    }

    /// The overrides, in the order the flag sets were added.
    pub fn into_vec(self) -> Vec<Override> {
        self.0
    }
}
