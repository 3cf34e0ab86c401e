//! The command line: flags per command. Every flag overrides the same setting from the
//! file and the environment; the `///` of each says its default and the setting it
//! overrides. A command takes only the flags it reads (`command`), `--config` and the
//! logging flags go anywhere, and without a command the line is `run`'s, which keeps
//! migrate-to-db-per-tenant.py's command line working with only the program renamed.

pub mod command;
pub mod groups;
pub mod overrides;
pub mod rollback;
#[cfg(test)]
mod tests;

pub use command::{Command, ExportArgs, ImportArgs, PlanArgs, RunArgs, StatusArgs, VerifyArgs};

use crate::config::legacy::{self, LegacyOpts};
use crate::config::{self, Override, Settings};
use clap::error::ErrorKind;
use clap::parser::ValueSource;
use clap::{ArgMatches, CommandFactory, FromArgMatches, Parser};
use groups::LogArgs;
use overrides::Overrides;
use std::path::PathBuf;

/// The parsed command line, the line without a command turned into `run`.
#[derive(Debug, Clone)]
pub struct Cli {
    /// What to do (`run` when no command was given).
    pub command: Command,
    /// TOML settings file (`--config`).
    pub config: Option<PathBuf>,
    /// Logging flags.
    pub log: LogArgs,
}

/// Split a multi-tenant InfluxDB 1.x database into one database per tenant,
/// server-side, in aligned time chunks recorded in a ledger so reruns are safe.
#[derive(Debug, Parser)]
#[command(name = "influx-tenant-migrate", version, about, long_about = None)]
struct Definition {
    /// TOML settings file. Default: none (built-in defaults and environment only).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// What to do; `run` when omitted.
    #[command(subcommand)]
    command: Option<Command>,
    /// `run`'s flags, for the line without a command. Before a command they are
    /// refused: flags go after the command that reads them.
    #[command(flatten)]
    run: RunArgs,
    /// Logging, anywhere on the line.
    #[command(flatten)]
    log: LogArgs,
}

impl CommandFactory for Cli {
    fn command() -> clap::Command {
        Definition::command()
    }

    fn command_for_update() -> clap::Command {
        Definition::command_for_update()
    }
}

impl FromArgMatches for Cli {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        let d = Definition::from_arg_matches(matches)?;
        let command = match d.command {
            None => Command::Run(d.run),
            Some(c) => match flag_before_command(matches) {
                Some(flag) => return Err(misplaced(&flag, matches)),
                None => c,
            },
        };
        Ok(Cli {
            command,
            config: d.config,
            log: d.log,
        })
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(matches)?;
        Ok(())
    }
}

impl Parser for Cli {}

/// The first of `run`'s flags given before a command, if any (only the flags every
/// command takes may come first).
fn flag_before_command(matches: &ArgMatches) -> Option<String> {
    Definition::command()
        .get_arguments()
        .filter(|a| !a.is_global_set())
        .find(|a| matches.value_source(a.get_id().as_str()) == Some(ValueSource::CommandLine))
        .map(|a| a.get_long().unwrap_or(a.get_id().as_str()).to_string())
}

/// The error for `flag` given before the command, worded like clap's own for a flag
/// the command does not take.
fn misplaced(flag: &str, matches: &ArgMatches) -> clap::Error {
    let name = matches.subcommand_name().unwrap_or_default();
    clap::Error::raw(
        ErrorKind::UnknownArgument,
        format!(
            "unexpected argument '--{flag}' found before '{name}': a command's flags go \
             after it ('{name} --{flag}'), and only if it reads them"
        ),
    )
}

impl Cli {
    /// The setting overrides of the flags that were given (ours; the old tool's make
    /// layers of their own, see [`Cli::load`]).
    pub fn overrides(&self) -> Vec<Override> {
        let mut o = Overrides::default();
        o.add(&self.command).add(&self.log);
        o.into_vec()
    }

    /// Whether the source password was given on the command line, where every local
    /// user can read it.
    pub fn password_given(&self) -> bool {
        self.command.source().is_some_and(|s| s.password.is_some())
    }

    /// Loads the settings these flags select: defaults, persister.conf (old tool),
    /// `--config`, `ITM__*` environment, flags (ours and the old tool's).
    pub fn load(&self, now_ns: i64) -> Result<Settings, LoadError> {
        self.load_with_env(now_ns, None)
    }

    /// [`Cli::load`] with an explicit environment (tests pass their own map); `None`
    /// reads the process environment.
    pub fn load_with_env(
        &self,
        now_ns: i64,
        env: Option<::config::Map<String, String>>,
    ) -> Result<Settings, LoadError> {
        let none = LegacyOpts::default();
        let old = self.command.legacy().unwrap_or(&none);
        let layers = legacy::layers(old, now_ns)?;
        let overrides = legacy::merge_flags(self.overrides(), layers.flags)?;
        Ok(config::load_layers(
            layers.base,
            self.config.as_deref(),
            overrides,
            env,
        )?)
    }
}

/// Why settings could not be loaded from the command line.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The old tool's flags or persister.conf.
    #[error(transparent)]
    Legacy(#[from] legacy::LegacyError),
    /// Our settings.
    #[error(transparent)]
    Config(#[from] config::ConfigError),
}
